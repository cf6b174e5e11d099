"""Integration accuracy of the leave-one-timepoint-out push on EB: Euler 100 steps, Euler 400 steps, RK4 100 steps.

Run from the repository root: ``python docs/benchmarks/eb_variants/integration.py`` (one default fit per
held-out time, 1,000 steps, seed 0, one torch thread; the same model is pushed three ways).
"""

import numpy as np
import torch

from scam._time import get_time
from scam.benchmark.suite import load
from scam.core.metrics import wasserstein
from scam.lot.engine import ScamFitter

torch.set_num_threads(1)

adata, tk, rep = load("eb5")
T = get_time(adata, tk)
X = adata.obsm[rep].astype(np.float64)
c, v = T.codes, T.values
for k in (1, 2, 3):
    model = ScamFitter(X.astype(np.float32), T, None, rep, {"n_iters": 1000})(c != k, {}, 0)
    xp, tg = X[c == k - 1].astype(np.float32), X[c == k]
    out = []
    for method, n in (("euler", 100), ("euler", 400), ("rk4", 100)):
        p = model.simulate(xp, v[k - 1], v[k], n_steps=n, method=method, random_state=0)
        out.append(f"{method}{n} {wasserstein(p.astype(np.float64), tg):.4f}")
    print(k, " ".join(out), flush=True)
