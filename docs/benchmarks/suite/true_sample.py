"""What a perfect model would score on the suite, and why W1 in many dimensions rewards shrinkage.

Run from the repository root: ``python docs/benchmarks/suite/true_sample.py`` (numpy and POT only,
no training; about a minute). Prints two markdown tables:

1. the true-sample ratio of every suite data set per held-out time
   (:func:`scam.benchmark.suite.true_sample_ratios`): a random half of the held-out cells scored
   against the other half, over the exact-OT interpolation subsampled to the same size, scored
   against the same half; 5 splits;
2. for held-out time 2 of EB (5 PCs) and of the 50-PC subset: W1 of the exact-OT interpolation,
   and of a true half of the held-out cells, after shrinking each toward its mean by a factor α.
"""

import numpy as np

from scam._time import get_time
from scam.benchmark.suite import DATASETS, load, true_sample_ratios
from scam.core.metrics import wasserstein
from scam.lot.baselines import ot_midpoint

EB100 = "../shared/data/eb"
print("| data | cells | true-sample ratio per held-out time | mean |\n|---|---|---|---|")
for name in DATASETS:
    adata, time_key, rep = load(name, eb100_dir=EB100)
    time = get_time(adata, time_key)
    r = true_sample_ratios(adata.obsm[rep], time.codes, time.values)
    per = ", ".join(f"{time.labels[k]}: {v:.3f}" for k, v in r.items())
    print(f"| {name} | {adata.n_obs} | {per} | {np.mean(list(r.values())):.3f} |")

alphas = (0.6, 0.8, 0.9, 1.0, 1.1)
print("\n| data | prediction | variance (target's) | " + " | ".join(f"α = {a}" for a in alphas) + " |")
print("|---|---|---|" + "---|" * len(alphas))
for name in ("eb5", "eb100_50"):
    adata, time_key, rep = load(name, eb100_dir=EB100)
    time = get_time(adata, time_key)
    X, c, v, k = adata.obsm[rep].astype(np.float64), time.codes, time.values, 2
    pred, w = ot_midpoint(X[c == k - 1], X[c == k + 1], v[k - 1], v[k + 1], v[k])
    target = X[c == k]
    idx = np.random.default_rng(0).permutation(len(target))
    half_a, half_b = target[idx[: len(idx) // 2]], target[idx[len(idx) // 2 :]]
    m_pred, m_a = np.average(pred, axis=0, weights=w), half_a.mean(0)
    var_pred = float(np.sum(np.average((pred - m_pred) ** 2, axis=0, weights=w)))
    row = [wasserstein(m_pred + a * (pred - m_pred), target, x_weights=w) for a in alphas]
    print(
        f"| {name} | exact-OT interpolation vs all held-out cells | {var_pred:.1f} ({target.var(0).sum():.1f}) | "
        + " | ".join(f"{x:.3f}" for x in row)
        + " |"
    )
    row = [wasserstein(m_a + a * (half_a - m_a), half_b) for a in alphas]
    print(
        f"| {name} | half A vs half B of the held-out cells | {half_a.var(0).sum():.1f} ({half_b.var(0).sum():.1f}) | "
        + " | ".join(f"{x:.3f}" for x in row)
        + " |"
    )
