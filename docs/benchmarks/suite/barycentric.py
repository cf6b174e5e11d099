"""Entropic barycentric interpolation against exact OT: a held-out W1 that rewards shrinkage (issue 11).

The suite compares scam with the exact-OT (McCann) interpolation between the neighbours of each held-out time. Here,
without any network, that interpolation is compared with the *entropic barycentric* one: each cell ``x_i`` of the
previous snapshot moves to ``(1 − τ) x_i + τ E_P[y | x_i]``, the conditional mean of its partners under an entropic
plan ``P`` (log-domain Sinkhorn on the squared cost divided by its mean, regularisation ``ε``). That map is the
entropic estimator of the OT map (Pooladian & Niles-Weed 2021); it averages over partners, so its cloud is less
spread. Columns per data set (mean over the interior held-out times; all times in ``barycentric.txt``): the W1 ratio
to exact OT for each ``ε``, the total variance of the prediction over that of the held-out cells (exact OT, then
each ``ε``), and the ratio a perfect model would score (``scam.benchmark.suite.true_sample_ratios``).

Run from the repository root (one thread)::

    OMP_NUM_THREADS=1 python docs/benchmarks/suite/barycentric.py > docs/benchmarks/suite/barycentric.txt
"""

import math
import sys

import numpy as np
import ot
import torch

from scam.benchmark.suite import load, true_sample_ratios
from scam.core.metrics import wasserstein
from scam.lot.baselines import ot_midpoint

torch.set_num_threads(1)
EPSILONS = (0.003, 0.01, 0.03, 0.1)
DATA = ("eb100_20", "eb100_50", "eb100_100", "uneven", "eb5")
EB100_DIR = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/eb"
#: Neighbouring snapshots larger than this are subsampled (seeded) for exact OT and every ε alike: the bundled
#: EB snapshots (2,381-4,163 cells) would take a small-ε Sinkhorn many minutes.
MAX_CELLS = 1500


def spread(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Total variance of a (weighted) cloud."""
    w = np.full(len(x), 1 / len(x)) if w is None else np.asarray(w, dtype=np.float64) / np.sum(w)
    mean = w @ x
    return float(w @ ((x - mean) ** 2).sum(1))


def sinkhorn(cost: np.ndarray, eps: float, potentials=None, tol: float = 1e-4, max_iter: int = 5000):
    """Balanced entropic plan between uniform weights, log-domain Sinkhorn in torch (float64).

    ``potentials``: ``(f, g)`` of an earlier solve to start from (POT's log-domain iteration, in SciPy's
    ``logsumexp``, takes minutes on EB's ~3,500-cell snapshots). Stops when the column marginal is within
    ``tol`` (L1) of uniform. Returns the plan (numpy) and the potentials.
    """
    c = torch.from_numpy(cost)
    n, m = c.shape
    log_a, log_b = -math.log(n), -math.log(m)
    f, g = (torch.zeros(n, dtype=c.dtype), torch.zeros(m, dtype=c.dtype)) if potentials is None else potentials
    for i in range(max_iter):
        g = eps * log_b - eps * torch.logsumexp((f[:, None] - c) / eps, 0)
        f = eps * log_a - eps * torch.logsumexp((g[None, :] - c) / eps, 1)
        if i % 10 == 9:
            log_plan = (f[:, None] + g[None, :] - c) / eps
            if (log_plan.exp().sum(0) - 1 / m).abs().sum() < tol:
                break
    else:
        print(f"warning: Sinkhorn at ε = {eps} stopped after {max_iter} iterations", file=sys.stderr)
    return ((f[:, None] + g[None, :] - c) / eps).exp().numpy(), (f, g)


def main() -> None:
    """Print the table: one row per held-out time, then each data set's mean."""
    header = " | ".join(f"ε = {e}" for e in EPSILONS)
    columns = f"W1 ratio to exact OT: {header} | variance ratio: exact OT | {header}"
    print(f"| data | held out | true-sample ratio | {columns} |")
    print("|---|---|---|" + "---|" * len(EPSILONS) + "---|" + "---|" * len(EPSILONS))
    for name in DATA:
        loaded = load(name, eb100_dir=EB100_DIR)
        if loaded is None:
            print(f"| {name} | files missing |")
            continue
        adata, key, rep = loaded
        X = np.asarray(adata.obsm[rep], dtype=np.float64)
        t = adata.obs[key].to_numpy(dtype=np.float64)
        values = np.sort(np.unique(t))
        codes = np.searchsorted(values, t)
        floor = true_sample_ratios(X, codes, values)
        rows = []
        for k in range(1, len(values) - 1):
            xp, xn, target = X[codes == k - 1], X[codes == k + 1], X[codes == k]
            rng = np.random.default_rng(k)
            xp, xn = (c[rng.choice(len(c), MAX_CELLS, replace=False)] if len(c) > MAX_CELLS else c for c in (xp, xn))
            tau = (values[k] - values[k - 1]) / (values[k + 1] - values[k - 1])
            pred, w = ot_midpoint(xp, xn, values[k - 1], values[k + 1], values[k])
            base = wasserstein(pred, target, x_weights=w)
            cost = ot.dist(xp, xn)
            by_eps, potentials = {}, None
            # From the largest ε down, each solve warm-started from the last one's potentials.
            for eps in sorted(EPSILONS, reverse=True):
                plan, potentials = sinkhorn(cost / cost.mean(), eps, potentials)
                moved = (1 - tau) * xp + tau * (plan @ xn) / plan.sum(1, keepdims=True)
                by_eps[eps] = (wasserstein(moved, target) / base, spread(moved) / spread(target))
            ratios = [by_eps[eps][0] for eps in EPSILONS]
            variances = [spread(pred, w) / spread(target)] + [by_eps[eps][1] for eps in EPSILONS]
            rows.append((ratios, variances))
            print(
                f"| {name} | {values[k]:g} | {floor[k]:.3f} | "
                + " | ".join(f"{r:.3f}" for r in ratios)
                + " | "
                + " | ".join(f"{v:.2f}" for v in variances)
                + " |",
                flush=True,
            )
        ratios = np.mean([r for r, _ in rows], 0)
        variances = np.mean([v for _, v in rows], 0)
        print(
            f"| **{name}** | mean | {np.mean(list(floor.values())):.3f} | "
            + " | ".join(f"{r:.3f}" for r in ratios)
            + " | "
            + " | ".join(f"{v:.2f}" for v in variances)
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
