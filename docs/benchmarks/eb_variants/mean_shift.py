"""Where the held-out W1 comes from: the population's mean, its spread, and the rest.

Run from the repository root: ``python docs/benchmarks/eb_variants/mean_shift.py [workers]`` (default 2; one
default fit per data set and held-out time, 1,000 steps, seed 0, one torch thread per worker; the 100-PC EB
subset is read from ``../shared/data/eb``). For scam's forward push and the exact-OT interpolation it prints
the W1 to the held-out cells, the distance between the predicted and the held-out mean (a lower bound of W1),
the ratio of total variances, and the W1 once the prediction is moved to the held-out mean
(``W1 | mean``) and also given its covariance (``W1 | mean, cov``). It also prints how far the held-out mean
lies from smooth curves through the training snapshots' means: the straight line between the neighbours
(the OT interpolation's mean) and a natural cubic spline through every training snapshot.
"""

import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

FOLDS = [(name, k) for name in ("eb5", "eb100_20", "eb100_50", "uneven") for k in (1, 2, 3)]


def _moments(p, w):
    w = np.full(len(p), 1.0 / len(p)) if w is None else w / w.sum()
    mu = w @ p
    return mu, ((p - mu) * w[:, None]).T @ (p - mu)


def _sqrtm(c):
    e, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.maximum(e, 1e-12))) @ v.T


def fold(job):
    """Fit with one snapshot held out; W1 and its parts for scam and exact OT, and the means' curves."""
    import torch
    from scipy.interpolate import CubicSpline

    from scam._time import get_time
    from scam.benchmark.suite import load
    from scam.core.metrics import wasserstein
    from scam.lot.baselines import ot_midpoint
    from scam.lot.engine import ScamFitter

    torch.set_num_threads(1)
    name, k = job
    adata, tk, rep = load(name, eb100_dir="../shared/data/eb")
    T = get_time(adata, tk)
    X, c, v = adata.obsm[rep].astype(np.float64), T.codes, T.values
    model = ScamFitter(X, T, None, rep, {"n_iters": 1000})(c != k, {}, 0)
    xp, xn, target = X[c == k - 1], X[c == k + 1], X[c == k]
    pf, wf = model.simulate(xp, v[k - 1], v[k], n_steps=100, return_weights=True)
    pred_ot, w_ot = ot_midpoint(xp, xn, v[k - 1], v[k + 1], v[k])
    mt, ct = _moments(target, None)
    rows = {}
    for label, p, w in (("scam", pf, wf / wf.sum()), ("exact OT", np.asarray(pred_ot, float), w_ot)):
        mu, cov = _moments(p, w)
        colour = _sqrtm(ct) @ np.linalg.inv(_sqrtm(cov))
        rows[label] = (
            wasserstein(p, target, x_weights=w),
            float(np.linalg.norm(mu - mt)),
            float(np.trace(cov) / np.trace(ct)),
            wasserstein(p - mu + mt, target, x_weights=w),
            wasserstein((p - mu) @ colour.T + mt, target, x_weights=w),
        )
    means = np.stack([X[c == j].mean(0) for j in range(len(v))])
    kept = [j for j in range(len(v)) if j != k]
    line = means[k - 1] + (v[k] - v[k - 1]) / (v[k + 1] - v[k - 1]) * (means[k + 1] - means[k - 1])
    spline = CubicSpline(v[kept], means[kept], bc_type="natural")(v[k])
    curves = (float(np.linalg.norm(line - mt)), float(np.linalg.norm(spline - mt)))
    return name, T.labels[k], rows, curves


if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(fold, FOLDS))
    print("| data | held out | method | W1 | mean distance | variance ratio | W1 \\| mean | W1 \\| mean, cov |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label, rows, _ in results:
        for method, r in rows.items():
            print(f"| {name} | {label} | {method} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} |")
    print("\n| data | held out | distance of the held-out mean from: the neighbours' line | a cubic spline |")
    print("|---|---|---|---|")
    for name, label, _, (line, spline) in results:
        print(f"| {name} | {label} | {line:.3f} | {spline:.3f} |")
