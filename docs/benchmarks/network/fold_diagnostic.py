"""One leave-one-timepoint-out fold, looked at closely, for each kind of the action's quadratic term.

Run from the repository root: ``python docs/benchmarks/network/fold_diagnostic.py eb100_50 2``
(data set of the suite, held-out time index; 1,000 steps, seed 0, one torch thread). For each of
``quadratic="none"``, ``"diag"`` and ``"full"`` it prints the W1 of the cells of the previous
snapshot pushed to the held-out time (against the held-out cells) and to the next snapshot
(against the next snapshot's cells, which the path ends on), with the exact-OT interpolation's W1
and the total variance of each set of points.
"""

import sys

import numpy as np
import torch

from scam._time import get_time
from scam.benchmark.suite import load
from scam.core.metrics import wasserstein
from scam.lot.baselines import ot_midpoint
from scam.lot.engine import ScamFitter

torch.set_num_threads(1)
name, k = (sys.argv[1], int(sys.argv[2])) if len(sys.argv) > 2 else ("eb100_50", 2)
adata, time_key, rep = load(name, eb100_dir="../shared/data/eb")
time = get_time(adata, time_key)
X, c, v = adata.obsm[rep].astype(np.float64), time.codes, time.values
x_prev, x_next, target = X[c == k - 1], X[c == k + 1], X[c == k]
pred_ot, w_ot = ot_midpoint(x_prev, x_next, v[k - 1], v[k + 1], v[k])
print(f"{name}, held out {time.labels[k]}: exact OT W1 {wasserstein(pred_ot, target, x_weights=w_ot):.3f}")
print(f"total variance: held-out cells {target.var(0).sum():.1f}, next snapshot {x_next.var(0).sum():.1f}")
print("| quadratic | W1 at the held-out time | W1 pushed to the next snapshot | variance at the held-out time |")
print("|---|---|---|---|")
for quadratic in ("none", "diag", "full"):
    fitter = ScamFitter(X.astype(np.float32), time, None, rep, {"n_iters": 1000, "quadratic": quadratic})
    model = fitter(c != k, {}, 0)
    start = x_prev.astype(np.float32)
    at_k = model.simulate(start, v[k - 1], v[k], n_steps=100, random_state=0).astype(np.float64)
    at_next = model.simulate(start, v[k - 1], v[k + 1], n_steps=100, random_state=0).astype(np.float64)
    print(
        f"| {quadratic} | {wasserstein(at_k, target):.3f} | {wasserstein(at_next, x_next):.3f} "
        f"| {at_k.var(0).sum():.1f} |"
    )
