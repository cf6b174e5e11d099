"""The LOT push: 100 Euler steps (before) against ``n_steps="auto"`` (RK4, steps by step doubling), one thread.

For each interior held-out time of EB (5 PCs) and of the suite's unevenly spaced simulation, one default fit
on the other times (seed 0), then the cells of the previous time pushed to the held-out one three ways: 100
Euler steps, ``"auto"`` and 256 RK4 steps (the converged reference). Printed: the steps ``"auto"`` took, the
seconds of each push, the largest end-point and log-weight deviation from the reference (standardised
coordinates, as the tolerance), and the W1 to the held-out cells. Only the push is timed; the fit is the same.

Run from the repository root, nothing else busy: ``python docs/benchmarks/speed/integration.py`` (output in
``integration.txt``; about 5 minutes).
"""

import time

import numpy as np
import torch

import scam
from scam._time import TimeInfo
from scam.benchmark.suite import load
from scam.core.metrics import wasserstein
from scam.lot.engine import ScamFitter

torch.set_num_threads(1)
scam.settings.n_threads = 1
PUSHES = {"euler 100": {"n_steps": 100, "method": "euler"}, "auto": {}, "rk4 256": {"n_steps": 256, "method": "rk4"}}


def folds(name):
    """(held-out index, fitted model, cells before, their time, held-out cells, held-out time) per interior time."""
    adata, time_key, rep = load(name)
    X = np.asarray(adata.obsm[rep], dtype=np.float64)
    values, codes = np.unique(adata.obs[time_key].to_numpy(dtype=float), return_inverse=True)
    info = TimeInfo(key=time_key, labels=[f"{v:g}" for v in values], values=values, codes=codes)
    fitter = ScamFitter(X, info, None, rep, {})
    for k in range(1, len(values) - 1):
        model = fitter(codes != k, {}, 0)
        yield k, model, X[codes == k - 1], values[k - 1], X[codes == k], values[k]


if __name__ == "__main__":
    print(
        f"{'data':8} {'held':>4} {'auto steps':>10} | seconds: euler 100, auto, rk4 256 | max deviation from rk4 256 "
        "(x, log w): euler 100, auto | W1: euler 100, auto, rk4 256"
    )
    for name in ("eb5", "uneven"):
        for k, model, x_prev, t_prev, target, t in folds(name):
            out = {}
            for label, kwargs in PUSHES.items():
                start = time.perf_counter()
                pred, w = model.simulate(x_prev, t_prev, t, return_weights=True, stochastic=False, **kwargs)
                out[label] = (time.perf_counter() - start, pred, np.log(w))
            z = model.units.scale  # deviations in standardised coordinates, as the tolerance
            ref = out["rk4 256"]
            dev = {
                label: (np.abs(o[1] - ref[1]).max() / z, np.abs(o[2] - ref[2]).max())
                for label, o in out.items()
                if label != "rk4 256"
            }
            w1 = {label: wasserstein(o[1], target, x_weights=np.exp(o[2] - o[2].max())) for label, o in out.items()}
            steps = scam._simulate.choose_steps(model, model._x(x_prev), model.units.tau(t_prev), model.units.tau(t))
            print(
                f"{name:8} {k:>4} {steps:>10} | {out['euler 100'][0]:6.2f} {out['auto'][0]:6.2f} "
                f"{out['rk4 256'][0]:6.2f} | {dev['euler 100'][0]:.1e} {dev['euler 100'][1]:.1e}, "
                f"{dev['auto'][0]:.1e} {dev['auto'][1]:.1e} | {w1['euler 100']:.4f} {w1['auto']:.4f} "
                f"{w1['rk4 256']:.4f}",
                flush=True,
            )
