"""The spline path's bend, each chain's own or averaged over its neighbours (:data:`~scam.core.spline.BEND_NEIGHBOURS`).

Leave-one-timepoint-out W1 of the path itself (no network is trained): for each interior time of a data set, the
spline interpolant is fitted on the other snapshots (seed 0) and every chain is placed at the held-out time with
each bend ``γ`` of :data:`~scam.core.spline.CURVATURE_GRID` and with ``curvature="auto"``. The exact W1 of 3,000 of
these points to the held-out cells is divided by that of the exact-OT interpolation between the held-out time's
neighbours (:func:`scam.lot.baselines.ot_midpoint`), and the ratios are averaged over the held-out times.

Data: the suite's ``eb5``, ``eb100_20``, ``eb100_50``, ``eb100_100`` (these need ``../shared/data/eb``) and
``uneven``; :func:`scam.datasets.branching` (10 PCs); and three simulations generated here (numpy seed 0):

* ``arc_hours``: 400 cells at each of hours 0, 6, 24, 72, 168 in 15 dimensions, the mean on an arc in its first two
  dimensions, run through at a pace ``log(1 + t/6)`` (fast early, slow late), the spread growing from 0.5 to 1;
* ``gauss_hours``: a Gaussian whose mean and spread change linearly in time, 5 dimensions, at the same hours (straight
  lines are exact: any bend is noise);
* ``gauss_uneven``: the same in 10 dimensions at days 0, 0.3, 1, 2.5, 7.

Usage (from the repository root; one thread, about ten minutes)::

    OMP_NUM_THREADS=1 python docs/benchmarks/spline/bend_smoothing.py > docs/benchmarks/spline/bend_smoothing.txt
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from scam.benchmark.suite import load
from scam.core import spline
from scam.core.metrics import wasserstein
from scam.core.spline import CURVATURE_GRID, SplineInterpolant
from scam.lot.baselines import ot_midpoint

N_EVAL = 3000  # path points compared with the held-out cells
HOURS = np.array([0.0, 6.0, 24.0, 72.0, 168.0])


def _gaussian(times: np.ndarray, dims: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X, T = [], []
    span = times[-1] - times[0]
    for t in times:
        s = (t - times[0]) / span
        mean = np.r_[3.0 * s, -2.0 * s, np.zeros(dims - 2)]
        X.append(mean + (0.6 + 0.6 * s) * rng.normal(size=(400, dims)))
        T.append(np.full(400, t))
    return np.vstack(X), np.concatenate(T)


def _data():
    for name in ("eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"):
        loaded = load(name)
        if loaded is None:
            print(f"# {name}: files missing, skipped", flush=True)
            continue
        adata, time_key, rep = loaded
        yield name, adata.obsm[rep], adata.obs[time_key].to_numpy(float)
    import scanpy as sc

    import scam

    adata = scam.datasets.branching(random_state=0)
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=10, random_state=0)
    yield "branching", adata.obsm["X_pca"], adata.obs["day"].to_numpy(float)
    rng = np.random.default_rng(0)
    X, T = [], []
    for t in HOURS:
        s = np.log1p(t / 6) / np.log1p(28)
        mean = np.r_[6 * s, 4 * np.sin(np.pi * s), np.zeros(13)]
        X.append(mean + (0.5 + 0.5 * s) * rng.normal(size=(400, 15)))
        T.append(np.full(400, t))
    yield "arc_hours", np.vstack(X), np.concatenate(T)
    yield "gauss_hours", *_gaussian(HOURS, 5, rng)
    yield "gauss_uneven", *_gaussian(np.array([0.0, 0.3, 1.0, 2.5, 7.0]), 10, rng)


def _ratios(X: np.ndarray, t: np.ndarray) -> tuple[dict, list]:
    """Mean ratio to exact OT per γ (and 'auto'), and the γ that 'auto' chose per held-out time."""
    X = X.astype(np.float32)
    times = np.unique(t)
    ratios, chosen = {}, []
    for k in range(1, len(times) - 1):
        keep = [j for j in range(len(times)) if j != k]
        marginals = [torch.as_tensor(X[t == times[j]]) for j in keep]
        target = X[t == times[k]].astype(np.float64)
        mid, _ = ot_midpoint(X[t == times[k - 1]], X[t == times[k + 1]], times[k - 1], times[k + 1], times[k])
        ot = wasserstein(mid, target, random_state=0)
        generator = torch.Generator().manual_seed(0)
        itp = SplineInterpolant(curvature="auto").fit(marginals, times[keep], generator=generator)
        chosen.append(itp.curvature_)
        tt = itp.times
        i = int(torch.searchsorted(tt, torch.tensor(float(times[k]), dtype=tt.dtype), right=True)) - 1
        h = float(tt[i + 1] - tt[i])
        a = float((tt[i + 1] - times[k]) / h)
        y = itp.x[itp.knots_idx].double()
        m = spline._smoothed_bends(y, itp._natural_spline(y, tt.double()))  # γ = 1, the setting's own average
        linear = a * y[:, i] + (1 - a) * y[:, i + 1]
        bend = ((a**3 - a) * m[:, i] + ((1 - a) ** 3 - (1 - a)) * m[:, i + 1]) * h**2 / 6
        cap = spline._bend_cap(y, m[:, i : i + 1], m[:, i + 1 : i + 2], tt[i : i + 2].double())[:, 0]
        pick = np.random.default_rng(0).choice(len(y), min(N_EVAL, len(y)), replace=False)
        for g in (*CURVATURE_GRID, "auto"):
            gamma = itp.curvature_ if g == "auto" else g
            pred = spline._bent(linear, bend, cap, gamma).numpy()[pick]
            ratios.setdefault(g, []).append(wasserstein(pred, target, random_state=0) / ot)
    return {g: float(np.mean(v)) for g, v in ratios.items()}, chosen


def main() -> None:
    """One table per setting of the average: without it (each chain's own bend), and the default."""
    torch.set_num_threads(1)
    settings = {"own bend (BEND_NEIGHBOURS = None)": None, "averaged (default)": spline.BEND_NEIGHBOURS}
    start = time.perf_counter()
    rows = {}
    for name, X, t in _data():
        for label, neighbours in settings.items():
            spline.BEND_NEIGHBOURS = neighbours
            ratios, chosen = _ratios(X, t)
            rows.setdefault(label, []).append(
                f"| {name} | "
                + " | ".join(f"{ratios[g]:.3f}" for g in CURVATURE_GRID)
                + f" | {ratios['auto']:.3f} ({', '.join(f'{c:g}' for c in chosen)}) |"
            )
            print(label, rows[label][-1], flush=True)
    for label, lines in rows.items():
        print(f"\n{label}: mean ratio of the path's W1 to exact OT's over the held-out times\n")
        print("| data | " + " | ".join(f"γ = {g}" for g in CURVATURE_GRID) + " | auto (chosen γ per fold) |")
        print("|---|" + "---|" * (len(CURVATURE_GRID) + 1))
        print("\n".join(lines))
    print(f"\n{time.perf_counter() - start:.0f} s; {sys.argv[0]}")


if __name__ == "__main__":
    main()
