"""How often real cells fail scam's support check: the false-alarm rate of its 3-spacing threshold.

Run from the repository root: ``python docs/benchmarks/support/threshold.py`` (no training; a few
seconds). At each time point, the observed cells are split at random into a reference half and a
query half (5 splits); the query cells are passed to :func:`scam.tl._trajectories.support` as
if they were simulated points and the reference half as the observed cells. A real cell should not
be flagged, so the fraction of query cells above the threshold is the check's false-alarm rate
(with half the cells as reference, the spacing is coarser than with all of them, but the ratio
divides the distance by the spacing of the same reference set). Printed as a markdown table with
the quantiles of the real cells' ratios.
"""

import numpy as np

import scam
from scam._time import TimeInfo, get_time
from scam.benchmark.suite import load
from scam.tl._trajectories import SUPPORT_RATIO, support


def rates(X, time, n_splits=5):
    """Per time point: (fraction of query cells above the threshold, 50/95/99 % quantiles of their ratios)."""
    out = []
    for k in range(time.n_times):
        cells = X[time.codes == k]
        fr, qs = [], []
        for s in range(n_splits):
            idx = np.random.default_rng(s).permutation(len(cells))
            ref, query = cells[idx[: len(idx) // 2]], cells[idx[len(idx) // 2 :]]
            one = TimeInfo(key="t", labels=["t"], values=np.array([1.0]), codes=np.zeros(len(ref), dtype=int))
            paths = np.stack([query, query], axis=1)  # constant paths from t = 0 to the observed time 1
            r = support(paths, np.array([0.0, 1.0]), ref, one, t_start=0.0)["ratio"][:, 0]
            fr.append(np.mean(r > SUPPORT_RATIO))
            qs.append(np.quantile(r, [0.5, 0.95, 0.99]))
        out.append((time.labels[k], float(np.mean(fr)), np.mean(qs, axis=0)))
    return out


data = {"branching (tutorial 02, X_latent, 2-D)": (scam.datasets.branching(random_state=0), "day", "X_latent")}
for name in ("eb5", "eb100_50", "uneven"):
    data[name] = load(name, eb100_dir="../shared/data/eb")
print(f"| data | time | real cells flagged (> {SUPPORT_RATIO:g} spacings) | ratio median / 95 % / 99 % |")
print("|---|---|---|---|")
for name, (adata, key, rep) in data.items():
    for label, frac, q in rates(np.asarray(adata.obsm[rep], dtype=np.float64), get_time(adata, key)):
        print(f"| {name} | {label} | {100 * frac:.1f} % | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} |")
