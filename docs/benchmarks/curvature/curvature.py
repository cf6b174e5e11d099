"""How much should the spline path bend? Leave-one-timepoint-out W1 of the path itself.

For each held-out interior time ``t_k`` of a time course, the spline interpolant
(:class:`scam.core.SplineInterpolant`) is fitted on the other snapshots and evaluated at ``t_k``;
the exact W1 between these path points and the held-out cells is reported for each curvature
``γ`` of ``CURVATURE_GRID`` and for ``curvature="auto"``, beside the exact-OT midpoint. No
network is trained: this isolates the path, which is what scam's fit then learns to follow.

Data: the bundled EB data (5 PCs, 16,819 cells) and the 100-PC EB subset of the shared data
(1,750 cells, 350 per time), in its first 5, 20 and 100 PCs.

Usage (from the repository root)::

    python docs/benchmarks/curvature/curvature.py --shared ../shared/data/eb

writes ``docs/benchmarks/curvature/results.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import scam
from scam.core.interpolants import CURVATURE_GRID, SplineInterpolant
from scam.core.metrics import wasserstein
from scam.lot.baselines import ot_midpoint

N_EVAL = 3000  # path points compared with the held-out cells


def _data(shared: Path):
    a = scam.datasets.embryoid_body()
    yield "EB, 5 PCs, 16,819 cells", a.obsm["X_pca"][:, :5].astype(np.float32), a.obs["time"].to_numpy(float)
    d = np.load(shared / "eb_pcs100_subset_test.npz")
    for n in (5, 20, 100):
        yield f"EB subset, {n} PCs, 1,750 cells", d["X"][:, :n].astype(np.float32), d["ts"].astype(float)


def _path_at(itp: SplineInterpolant, t: float) -> np.ndarray:
    """Every chain's spline evaluated at ``t`` (with the interpolant's own curvature)."""
    T = itp.times
    i = int(torch.searchsorted(T, torch.tensor(t, dtype=T.dtype), right=True)) - 1
    h = float(T[i + 1] - T[i])
    a = float((T[i + 1] - t) / h)
    b = 1.0 - a
    y0, y1 = itp.x[itp.knots_idx[:, i]].double(), itp.x[itp.knots_idx[:, i + 1]].double()
    m0, m1 = itp.second_derivatives[:, i].double(), itp.second_derivatives[:, i + 1].double()
    return (a * y0 + b * y1 + ((a**3 - a) * m0 + (b**3 - b) * m1) * h**2 / 6).numpy()


def main() -> None:
    """Score every curvature on every data set and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data/eb"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.md")
    args = parser.parse_args()
    settings = [*CURVATURE_GRID, "auto"]
    lines = [
        "| data | " + " | ".join(f"γ = {g}" for g in settings) + " | OT midpoint |",
        "|---|" + "---|" * (len(settings) + 1),
    ]
    start = time.perf_counter()
    for name, X, t in _data(args.shared):
        times = np.unique(t)
        scores = {g: [] for g in settings}
        scores["ot"], chosen = [], []
        for k in range(1, len(times) - 1):
            keep = [j for j in range(len(times)) if j != k]
            marg = [torch.as_tensor(X[t == times[j]]) for j in keep]
            target = X[t == times[k]].astype(np.float64)
            for g in settings:
                itp = SplineInterpolant(curvature=g).fit(marg, times[keep], generator=torch.Generator().manual_seed(0))
                pred = _path_at(itp, float(times[k]))
                pred = pred[np.random.default_rng(0).choice(len(pred), min(N_EVAL, len(pred)), replace=False)]
                scores[g].append(wasserstein(pred, target, random_state=0))
                if g == "auto":
                    chosen.append(itp.curvature_)
            mid, _ = ot_midpoint(X[t == times[k - 1]], X[t == times[k + 1]], times[k - 1], times[k + 1], times[k])
            scores["ot"].append(wasserstein(mid, target, random_state=0))
        row = [f"{np.mean(scores[g]):.3f}" for g in settings]
        row[-1] += f" (γ = {', '.join(f'{c:g}' for c in chosen)})"
        lines.append(f"| {name} | " + " | ".join(row) + f" | {np.mean(scores['ot']):.3f} |")
        print(lines[-1], flush=True)
    text = (
        "Mean W1 over the held-out times 1, 2, 3 of the spline path itself (no training), "
        f"by curvature γ; lower is better. {time.perf_counter() - start:.0f} s.\n\n" + "\n".join(lines) + "\n"
    )
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
