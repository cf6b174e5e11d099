"""What the learned growth weights do to the held-out prediction: W1 with them, without them, and sharpened.

Run from the repository root: ``python docs/benchmarks/eb_variants/weights.py [workers]`` (default 2; one
default fit per data set and held-out time, 1,000 steps, seed 0, one torch thread per worker; the 100-PC EB
subset is read from ``../shared/data/eb``). The forward push of the previous snapshot carries one weight per
cell (the growth the free head integrates along the flow). For each fold it prints the W1 of the push to the
held-out cells with the weights raised to the power ``α`` (0: unweighted, 1: the model's prediction, 2 and 4:
the same growth, sharpened), the distance of the weighted mean from the held-out mean for ``α`` = 0 and 1,
the spread of the weights (standard deviation of ``n · w``) and the exact-OT interpolation's W1 for scale.
"""

import sys

import numpy as np
from _fold import fit_fold, run_folds

ALPHAS = (0.0, 1.0, 2.0, 4.0)


def fold(job):
    """Fit with one snapshot held out; W1 of the push under each power of its weights."""
    from scam.core.metrics import wasserstein
    from scam.lot.baselines import ot_midpoint

    f = fit_fold(*job)
    log_w = np.log(f.weights)
    mt = f.target.mean(0)
    w1, mean_dist = {}, {}
    for alpha in ALPHAS:
        w = np.exp(alpha * (log_w - log_w.max()))
        w /= w.sum()
        w1[alpha] = wasserstein(f.pushed, f.target, x_weights=w)
        mean_dist[alpha] = float(np.linalg.norm(w @ f.pushed - mt))
    pred_ot, w_ot = ot_midpoint(f.x_prev, f.x_next, f.t_prev, f.t_next, f.t)
    ot = wasserstein(np.asarray(pred_ot, float), f.target, x_weights=w_ot)
    spread = float(np.std(f.weights * len(f.weights)))
    return job[0], f.label, w1, mean_dist, spread, ot


if __name__ == "__main__":
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    results = run_folds(fold, workers)
    head = " | ".join(f"W1, α = {a:g}" for a in ALPHAS)
    print(f"| data | held out | {head} | mean distance, α = 0 / 1 | weight spread | exact-OT W1 |")
    print("|---|---|" + "---|" * len(ALPHAS) + "---|---|---|")
    for name, label, w1, md, spread, ot in results:
        cells = " | ".join(f"{w1[a]:.3f}" for a in ALPHAS)
        print(f"| {name} | {label} | {cells} | {md[0.0]:.3f} / {md[1.0]:.3f} | {spread:.3f} | {ot:.3f} |")
    print("\nMean over the held-out times, as a ratio to exact OT:")
    for name in dict.fromkeys(r[0] for r in results):
        rows = [r for r in results if r[0] == name]
        ratio = {a: np.mean([r[2][a] / r[5] for r in rows]) for a in ALPHAS}
        print(f"- {name}: " + ", ".join(f"α = {a:g}: {ratio[a]:.3f}" for a in ALPHAS))
