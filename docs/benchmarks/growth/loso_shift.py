"""Can a leave-one-snapshot-out check choose ``shift_drift`` by itself? Issue 11; measured: not reliably.

``SplineInterpolant(shift_drift=True)`` lifts the growth correlation on evenly spaced ``scam.datasets.branching``
and costs held-out W1 on the suite's unevenly spaced simulation (``attribution.md``). ``fit`` chooses the bend and σ
by leaving each interior training snapshot out in turn; this script asks whether the same check separates the
two cases for the shift. For each interior snapshot ``j``: the growth chains (the default path's
``_growth_chains``, bend 0.5, no noise) through the other snapshots, with and without the shift, evaluated at
``t_j`` (the spline's position, log-weights interpolated linearly), and their W1 to the left-out cells, weighted by
the chains' weights and unweighted (mean of chain seeds 0 and 1). Data: branching seeds 0 and 1 (``X_latent``,
true masses); the uneven simulation seeds 0 and 1 (10 PCs, no masses), all days and the LOT fold without day 3.

Run from the repository root (one thread each, about 3 minutes each)::

    python docs/benchmarks/growth/loso_shift.py branching > docs/benchmarks/growth/loso_shift_branching.txt
    python docs/benchmarks/growth/loso_shift.py uneven > docs/benchmarks/growth/loso_shift_uneven.txt
"""

import sys
import warnings

import numpy as np
import torch

from scam import datasets
from scam.benchmark.suite import load
from scam.core.metrics import wasserstein
from scam.core.spline import SplineInterpolant

torch.set_num_threads(1)
warnings.filterwarnings("ignore")  # POT's unbalanced Sinkhorn inside transport_shift warns on some links


def chains_at(X, codes, values, masses, j, shift, seed):
    """Positions and normalised weights at the left-out time ``values[j]`` of chains through the other times."""
    ks = [k for k in range(len(values)) if k != j]
    marg = [torch.as_tensor(X[codes == k], dtype=torch.float32) for k in ks]
    interp = SplineInterpolant(growth=True, shift_drift=shift, curvature=0.5, sigma=0.0)
    interp.fit(marg, values[ks], None if masses is None else masses[ks], generator=torch.Generator().manual_seed(seed))
    idx = interp.knots_idx
    y = interp.x[idx].double()
    times = interp.times.double()
    m = interp.second_derivatives.double()
    i = j - 1
    h = float(times[i + 1] - times[i])
    a = float((times[i + 1] - values[j]) / h)
    b = 1 - a
    pos = a * y[:, i] + b * y[:, i + 1] + ((a**3 - a) * m[:, i] + (b**3 - b) * m[:, i + 1]) * h**2 / 6
    lw = interp.knots_logw.double()
    logw = a * lw[:, i] + b * lw[:, i + 1]
    w = torch.softmax(logw, 0).numpy()
    return pos.numpy(), w


def run(name, X, codes, values, masses, seeds=(0, 1)):
    """Print one line per interior left-out snapshot (W1 without and with the shift), then the check's sums."""
    totals = {False: 0.0, True: 0.0}
    for j in range(1, len(values) - 1):
        row = []
        for shift in (False, True):
            ws, wu = [], []
            for seed in seeds:
                pos, w = chains_at(X, codes, values, masses, j, shift, seed)
                tgt = X[codes == j]
                ws.append(wasserstein(pos, tgt, x_weights=w, max_points=2000))
                wu.append(wasserstein(pos, tgt, max_points=2000))
            totals[shift] += np.mean(ws)
            row.append(f"shift={shift}: weighted {np.mean(ws):.4f} unweighted {np.mean(wu):.4f}")
        print(name, "left out", values[j], " | ".join(row), flush=True)
    change = totals[True] / totals[False] - 1
    print(f"{name}: weighted sum off {totals[False]:.4f}, on {totals[True]:.4f} ({100 * change:+.1f} %)", flush=True)


if __name__ == "__main__" and sys.argv[1] == "branching":
    for rs in (0, 1):
        ad = datasets.branching(random_state=rs)
        m = np.asarray(ad.uns["ground_truth"]["masses"], float)
        t = ad.obs["day"].to_numpy(float)
        values = np.unique(t)
        codes = np.searchsorted(values, t)
        run(f"branching{rs}", ad.obsm["X_latent"].astype(np.float64), codes, values, m)
elif __name__ == "__main__":
    for rs in (0, 1):
        ad, key, rep = load("uneven", random_state=rs)
        t = ad.obs[key].to_numpy(float)
        values = np.unique(t)
        codes = np.searchsorted(values, t)
        X = ad.obsm[rep].astype(np.float64)
        # LOT fold: day 3 held out entirely, then LOSO inside the remaining
        run(f"uneven{rs} all", X, codes, values, None)
        keep = codes != 3
        v2 = values[[0, 1, 2, 4]]
        c2 = np.searchsorted(v2, t[keep])
        run(f"uneven{rs} fold(-3)", X[keep], c2, v2, None)
