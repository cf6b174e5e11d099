"""The spline path itself (no network) at the held-out times of ``outside.py``'s data: its ratio to exact OT.

For each held-out day of one of ``outside.py``'s data sets (``branching30`` by default), the straight chains
(γ = 0, which ``curvature="auto"`` chooses there) through the other days are placed at the held-out day and scored
by weighted exact W1 against the held-out cells, over the exact-OT interpolation's W1; three chain seeds, with and
without growth. Compare with the default fit's push in ``results.txt``.

Run from the repository root: ``python docs/benchmarks/outside/path.py [data]`` (``branching30`` by default; any
data set of ``outside.py``; one thread, about a minute). Held out: every interior day.
"""

import warnings

import numpy as np
import torch
from outside import load

from scam.core.metrics import wasserstein
from scam.core.spline import SplineInterpolant
from scam.lot.baselines import ot_midpoint

if __name__ == "__main__":
    import sys

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    adata, key, rep = load(sys.argv[1] if len(sys.argv) > 1 else "branching30")
    X, t = np.asarray(adata.obsm[rep], dtype=np.float32), adata.obs[key].to_numpy(float)
    times = np.unique(t)
    print("| held out | growth | path ratio to exact OT (mean ± std over 3 chain seeds) |")
    print("|---|---|---|")
    for k in range(1, len(times) - 1):
        keep = [j for j in range(len(times)) if j != k]
        target = X[t == times[k]].astype(np.float64)
        mid, _ = ot_midpoint(X[t == times[k - 1]], X[t == times[k + 1]], times[k - 1], times[k + 1], times[k])
        w_ot = wasserstein(mid, target, random_state=0)
        for growth in (True, False):
            ratios = []
            for seed in range(3):
                path = SplineInterpolant(curvature=0.0, growth=growth).fit(
                    [torch.as_tensor(X[t == times[j]]) for j in keep],
                    times[keep],
                    generator=torch.Generator().manual_seed(seed),
                )
                i = k - 1
                a = float((path.times[i + 1] - times[k]) / (path.times[i + 1] - path.times[i]))
                y0, y1 = path.x[path.knots_idx[:, i]].double(), path.x[path.knots_idx[:, i + 1]].double()
                weights = None
                if growth:
                    logw = path.knots_logw.double().numpy()
                    lw = a * logw[:, i] + (1 - a) * logw[:, i + 1]
                    weights = np.exp(lw - lw.max())
                w1 = wasserstein((a * y0 + (1 - a) * y1).numpy(), target, x_weights=weights, random_state=0)
                ratios.append(w1 / w_ot)
            print(f"| {times[k]:g} | {growth} | {np.mean(ratios):.3f} ± {np.std(ratios):.3f} |", flush=True)
