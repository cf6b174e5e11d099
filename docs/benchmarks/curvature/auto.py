"""``curvature="auto"``: its leave-one-snapshot-out scores against the spline path's W1 at each held-out time.

For each leave-one-timepoint-out fold of the suite's data sets (:mod:`scam.benchmark.suite`), the
spline path through the kept snapshots (no training) is scored at the held-out time by exact W1
for each γ of ``CURVATURE_GRID``, beside the exact-OT midpoint, and the scores that
``curvature="auto"`` minimises are listed with the γ their plain argmin would pick and the γ that
``auto`` picks (upward from γ = 0.5 only, by a 2 % margin).

Usage (from the repository root)::

    python docs/benchmarks/curvature/auto.py --eb100-dir ../shared/data/eb

writes ``docs/benchmarks/curvature/auto.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from scam.benchmark.suite import load
from scam.core.metrics import wasserstein
from scam.core.spline import CURVATURE_ANCHOR, CURVATURE_GRID, CURVATURE_MARGIN, SplineInterpolant
from scam.lot.baselines import ot_midpoint


def _fold(X, t, times, k):
    keep = [j for j in range(len(times)) if j != k]
    marg = [torch.as_tensor(X[t == times[j]]) for j in keep]
    target = X[t == times[k]].astype(np.float64)
    itp = SplineInterpolant(curvature="auto").fit(marg, times[keep], generator=torch.Generator().manual_seed(0))
    cv = itp.curvature_scores_
    full = SplineInterpolant(curvature=1.0).fit(marg, times[keep], generator=torch.Generator().manual_seed(0))
    T = full.times
    i = int(torch.searchsorted(T, torch.tensor(times[k], dtype=T.dtype), right=True)) - 1
    h = float(T[i + 1] - T[i])
    a = float((T[i + 1] - times[k]) / h)
    b = 1 - a
    y0, y1 = full.x[full.knots_idx[:, i]].double(), full.x[full.knots_idx[:, i + 1]].double()
    m = full.second_derivatives.double()
    linear, bend = a * y0 + b * y1, ((a**3 - a) * m[:, i] + (b**3 - b) * m[:, i + 1]) * h**2 / 6
    sel = np.random.default_rng(0).choice(len(linear), min(3000, len(linear)), replace=False)
    w1 = {g: wasserstein((linear + g * bend).numpy()[sel], target, random_state=0) for g in CURVATURE_GRID}
    mid, _ = ot_midpoint(X[t == times[k - 1]], X[t == times[k + 1]], times[k - 1], times[k + 1], times[k])
    return w1, wasserstein(mid, target, random_state=0), cv, itp.curvature_


def main() -> None:
    """Score every fold of every data set and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=["uneven", "eb100_20", "eb100_50", "eb5"])
    parser.add_argument("--eb100-dir", type=Path, default=Path("../shared/data/eb"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "auto.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    SplineInterpolant.score_full_grid = True  # list every γ's score, not only those the choice's walk needs
    grid = " / ".join(f"{g:g}" for g in CURVATURE_GRID)
    lines = [
        '# `curvature="auto"`: leave-one-snapshot-out scores against the path\'s W1 at the held-out time',
        "",
        "Made by `python docs/benchmarks/curvature/auto.py` (see its docstring). `cv`: the score `auto` minimises "
        f"on the kept snapshots; it keeps γ = {CURVATURE_ANCHOR} unless a larger γ's `cv` is more than "
        f"{CURVATURE_MARGIN:.0%} lower. The path's bend is averaged over neighbouring chains "
        "(`scam.core.spline.BEND_NEIGHBOURS`).",
        "",
        f"| data | held out | path W1 at γ = {grid} | exact OT | cv at γ = {grid} | argmin γ | chosen γ |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.names:
        loaded = load(name, eb100_dir=args.eb100_dir)
        if loaded is None:
            continue
        adata, time_key, rep = loaded
        X, t = np.asarray(adata.obsm[rep], dtype=np.float32), adata.obs[time_key].to_numpy(float)
        times = np.unique(t)
        for k in range(1, len(times) - 1):
            w1, ot, cv, chosen = _fold(X, t, times, k)
            argmin = min(cv, key=cv.get)
            lines.append(
                f"| {name} | {times[k]:g} | {' / '.join(f'{v:.3f}' for v in w1.values())} | {ot:.3f} "
                f"| {' / '.join(f'{v:.3f}' for v in cv.values())} | {argmin:g} | {chosen:g} |"
            )
            print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
