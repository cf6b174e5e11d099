"""Where the held-out W1 comes from: the population's mean, its spread, and the rest.

Run from the repository root: ``python docs/benchmarks/eb_variants/mean_shift.py [workers]`` (default 2; one
default fit per data set and held-out time, 1,000 steps, seed 0, one torch thread per worker; the 100-PC EB
subset is read from ``../shared/data/eb``). For scam's forward push and the exact-OT interpolation it prints
the W1 to the held-out cells, the distance between the predicted and the held-out mean (a lower bound of W1),
the ratio of total variances, and the W1 once the prediction is moved to the held-out mean
(``W1 | mean``) and also given its covariance (``W1 | mean, cov``), and, the other way round, the W1 of the
previous snapshot moved onto the prediction's mean and covariance (``previous, its moments``: an affine
transport with the same first two moments, to see what the prediction's shape is worth).
It also prints how far the held-out mean lies from smooth curves through the training snapshots' means: the
straight line between the neighbours (the OT interpolation's mean) and a natural cubic spline through every
training snapshot.
"""

import sys

import numpy as np
from _fold import fit_fold, run_folds


def _moments(p, w):
    w = np.full(len(p), 1.0 / len(p)) if w is None else w / w.sum()
    mu = w @ p
    return mu, ((p - mu) * w[:, None]).T @ (p - mu)


def _sqrtm(c):
    e, v = np.linalg.eigh(c)
    return (v * np.sqrt(np.maximum(e, 1e-12))) @ v.T


def _recolour(p, mu, cov, mu_to, cov_to):
    """``p`` (mean ``mu``, covariance ``cov``) moved affinely onto mean ``mu_to`` and covariance ``cov_to``."""
    return (p - mu) @ (_sqrtm(cov_to) @ np.linalg.inv(_sqrtm(cov))).T + mu_to


def fold(job):
    """Fit with one snapshot held out; W1 and its parts for scam and exact OT, and the means' curves."""
    from scipy.interpolate import CubicSpline

    from scam.core.metrics import wasserstein
    from scam.lot.baselines import ot_midpoint

    f = fit_fold(*job)
    k, v, target = job[1], f.values, f.target
    pred_ot, w_ot = ot_midpoint(f.x_prev, f.x_next, f.t_prev, f.t_next, f.t)
    mt, ct = _moments(target, None)
    rows = {}
    for label, p, w in (("scam", f.pushed, f.weights), ("exact OT", np.asarray(pred_ot, float), w_ot)):
        mu, cov = _moments(p, w)
        rows[label] = (
            wasserstein(p, target, x_weights=w),
            float(np.linalg.norm(mu - mt)),
            float(np.trace(cov) / np.trace(ct)),
            wasserstein(p - mu + mt, target, x_weights=w),
            wasserstein(_recolour(p, mu, cov, mt, ct), target, x_weights=w),
            wasserstein(_recolour(f.x_prev, *_moments(f.x_prev, None), mu, cov), target),
        )
    means = np.stack([f.X[f.codes == j].mean(0) for j in range(len(v))])
    kept = [j for j in range(len(v)) if j != k]
    line = means[k - 1] + (v[k] - v[k - 1]) / (v[k + 1] - v[k - 1]) * (means[k + 1] - means[k - 1])
    spline = CubicSpline(v[kept], means[kept], bc_type="natural")(v[k])
    curves = (float(np.linalg.norm(line - mt)), float(np.linalg.norm(spline - mt)))
    return job[0], f.label, rows, curves


if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    results = run_folds(fold, workers)
    print(
        "| data | held out | method | W1 | mean distance | variance ratio | W1 \\| mean | W1 \\| mean, cov "
        "| previous, its moments |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, label, rows, _ in results:
        for method, r in rows.items():
            cells = " | ".join(f"{v:.3f}" for v in r)
            print(f"| {name} | {label} | {method} | {cells} |")
    print("\n| data | held out | distance of the held-out mean from: the neighbours' line | a cubic spline |")
    print("|---|---|---|---|")
    for name, label, _, (line, spline) in results:
        print(f"| {name} | {label} | {line:.3f} | {spline:.3f} |")
