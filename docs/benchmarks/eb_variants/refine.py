"""A refinement loop on EB (issue 13): re-couple the chains along the learned flow, refit, score the held-out day.

Round 0 is scam's default fit without the held-out day. Each later round refits with the same settings and seed,
but every link of the mass-carrying spline chains solves its plan on the cost from the previous round's flow: the
source cells are first pushed by that fit's network over the link (10 Euler steps in internal units), so cells are
paired with the cells their learned motion reaches, not with the nearest ones. The score is the benchmark's: the
previous day's cells pushed to the held-out day, weighted W1. ``nn-dist ratio``: on the first minibatch of each
link, the mean distance from the (pushed) source cells to their nearest target cell, pushed over unpushed.

Run from the repository root, alone (one torch thread; about 3 minutes)::

    python docs/benchmarks/eb_variants/refine.py 2 > docs/benchmarks/eb_variants/refine.txt
"""

import sys
import time
import warnings

import numpy as np
import torch

import scam
import scam.core.couplings as couplings
import scam.core.spline as spline
from scam.core.metrics import wasserstein

warnings.simplefilter("ignore")
torch.set_num_threads(1)
scam.settings.n_threads = 1
N_ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
folds = [int(a) for a in sys.argv[2:]] or [1, 2, 3]
adata = scam.datasets.embryoid_body()
X = adata.obsm["X_pca"].astype(np.float32)
t = adata.obs["time"].to_numpy()
times = np.unique(t)
STATE = {"net": None, "times": None, "link": 0, "ratio": []}
_rc = couplings.relative_costs
_gc = spline.SplineInterpolant._growth_chains


def push(z, t0, t1, n=10):
    """``z`` (internal units) moved by the previous fit's flow from internal time ``t0`` to ``t1``."""
    net = STATE["net"]
    shape = z.shape
    zz = z.reshape(-1, shape[-1]).float()
    dt = (t1 - t0) / n
    for i in range(n):
        q = zz.detach().requires_grad_(True)
        s = net(q, torch.full((len(q),), t0 + i * dt))
        (g,) = torch.autograd.grad(s.sum(), q)
        zz = zz + dt * g
    return zz.detach().double().reshape(shape)


def rc(xa, xb):
    """The link's cost, with the source pushed along the previous fit's flow first (from round 1 on)."""
    if STATE["net"] is None:
        return _rc(xa, xb)
    K = len(STATE["times"]) - 1
    k = STATE["link"] % K
    STATE["link"] += 1
    xp = push(xa, float(STATE["times"][k]), float(STATE["times"][k + 1]))
    if STATE["link"] <= K:
        d0 = torch.cdist(xa[0], xb[0]).min(1).values.mean()
        d1 = torch.cdist(xp[0], xb[0]).min(1).values.mean()
        STATE["ratio"].append(float(d1 / d0))
    return _rc(xp, xb)


def gc(self, target, generator, ks=None, shift=None):
    """The growth chains, with the link counter of :func:`rc` reset."""
    STATE["times"] = self.times.numpy()
    STATE["link"] = 0
    return _gc(self, target, generator, ks=ks, shift=shift)


couplings.relative_costs = rc
spline.SplineInterpolant._growth_chains = gc
for k in folds:
    keep = t != times[k]
    sub = adata[keep].copy()
    STATE["net"] = None
    row = []
    for r in range(N_ROUNDS + 1):
        t0 = time.perf_counter()
        STATE["ratio"] = []
        model = scam.tl.fit(sub.copy(), "time", random_state=0, progress_bar=False)
        pred, w = model.simulate(
            X[t == times[k - 1]], float(times[k - 1]), float(times[k]), return_weights=True, random_state=0
        )
        w1 = wasserstein(
            np.asarray(pred, float),
            X[t == times[k]].astype(float),
            x_weights=np.asarray(w, float) / np.sum(w),
            random_state=0,
        )
        row.append(
            f"round {r}: {w1:.4f} ({time.perf_counter() - t0:.0f}s; "
            f"nn-dist ratio {np.round(STATE['ratio'], 2).tolist()})"
        )
        STATE["net"] = model.net
    print(f"held out {k}: " + " | ".join(row), flush=True)
