"""Multi-time couplings by momentum: the spline path alone (no network) at each held-out EB day.

``SplineInterpolant(momentum=m)`` matches each cell of a chain to where its incoming motion would carry it (``m`` times
the velocity of the link before), a cheap step toward multi-marginal couplings (issue 13). For each held-out day of
a suite data set (``eb5`` by default): OT-chained trajectories (4,000, seed 0, no growth) through the other days,
placed at the held-out day with the bend ``γ`` of 0, 0.5 or 1, W1 to the held-out cells and its ratio to the
exact-OT interpolation's.

Run from the repository root, alone (one torch thread; about 3 minutes)::

    python docs/benchmarks/eb_variants/momentum.py eb5 0,0.5,1 > docs/benchmarks/eb_variants/momentum.txt
"""

import sys
import time
import warnings

import numpy as np
import torch

from scam.benchmark.suite import load
from scam.core.metrics import wasserstein
from scam.core.spline import SplineInterpolant
from scam.lot.baselines import ot_midpoint

warnings.simplefilter("ignore")
torch.set_num_threads(1)
name = sys.argv[1]
moms = [float(m) for m in sys.argv[2].split(",")]
gammas = [0.0, 0.5, 1.0]
adata, key, rep = load(name)
X, t = np.asarray(adata.obsm[rep], dtype=np.float32), adata.obs[key].to_numpy(float)
times = np.unique(t)
N = 4000
for k in range(1, len(times) - 1):
    keep = [j for j in range(len(times)) if j != k]
    target = X[t == times[k]].astype(np.float64)
    mid, _ = ot_midpoint(X[t == times[k - 1]], X[t == times[k + 1]], times[k - 1], times[k + 1], times[k])
    w_ot = wasserstein(mid, target, random_state=0)
    row = [f"held out {k}: OT {w_ot:.4f}"]
    for mom in moms:
        t0 = time.perf_counter()
        path = SplineInterpolant(curvature=0.0, growth=False, momentum=mom, pool_size=N).fit(
            [torch.as_tensor(X[t == times[j]]) for j in keep], times[keep], generator=torch.Generator().manual_seed(0)
        )
        y = path.x[path.knots_idx].double()
        kt = torch.as_tensor(times[keep], dtype=torch.float64)
        m = SplineInterpolant._natural_spline(y, kt)
        i = k - 1
        h = float(kt[i + 1] - kt[i])
        a = float((kt[i + 1] - times[k]) / h)
        b = 1 - a
        linear = a * y[:, i] + b * y[:, i + 1]
        bend = ((a**3 - a) * m[:, i] + (b**3 - b) * m[:, i + 1]) * h**2 / 6
        for g in gammas:
            w1 = wasserstein((linear + g * bend).numpy(), target, random_state=0)
            row.append(f"m{mom} g{g}: {w1:.4f} ({w1 / w_ot:.3f})")
    print("  ".join(row), flush=True)
