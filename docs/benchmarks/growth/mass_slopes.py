"""How the chains' log-weights run between knots: the floor on dead chains, the natural spline, the monotone filter.

Settings of :data:`scam.core.spline.LOGW_FLOOR` and :data:`~scam.core.spline.MASS_SLOPES` (module constants, set
here before any fit, so every job runs in this process):

* ``default``: (``log 1e-3``, ``"spline"``), the default fit;
* ``no_floor``: (``None``, ``"spline"``), the default before the floor;
* ``monotone``: (``None``, ``"monotone_spline"``), Hyman's filter on the natural spline's slopes.

Measured:

1. A heavy-tailed course that neither grows nor dies: Student-t cells (2 degrees of freedom, 300 per day, 10
   dimensions) drifting over days 0-4 (numpy seed 1). Each interior day left out in turn: the LOT ratio of the default
   fit to the exact-OT interpolation (fit seed 0), and the path alone at the left-out day (no training): the largest
   chain weight over the mean and the weights' effective sample size over their number.
2. With ``--suite``: ``scam benchmark suite --quick``'s table (one seed) and growth rows, in this process.

Usage (from the repository root; one thread)::

    OMP_NUM_THREADS=1 python docs/benchmarks/growth/mass_slopes.py default [--suite]

Writes ``docs/benchmarks/growth/mass_slopes_<setting>.txt``.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch

import scam
import scam.core.spline as spline
from scam import settings

SETTINGS = {
    "default": (math.log(1e-3), "spline"),
    "no_floor": (None, "spline"),
    "monotone": (None, "monotone_spline"),
}
TIMES = (0.0, 1.0, 2.0, 3.0, 4.0)


def heavy_tailed() -> ad.AnnData:
    """300 Student-t cells (df 2) per day in 10 dimensions, drifting by (1, 0.5) per day; no growth."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.standard_t(2.0, (300, 10)) * 0.7 + np.r_[t, 0.5 * t, np.zeros(8)] for t in TIMES])
    adata = ad.AnnData(obs=pd.DataFrame({"day": np.repeat(TIMES, 300)}, index=[f"c{i}" for i in range(len(X))]))
    adata.obsm["X_pca"] = X.astype(np.float32)
    return adata


def path_weights(adata: ad.AnnData, j: int) -> tuple[float, float]:
    """The path alone through the days but ``j``: the largest weight over the mean and the effective size, at day j."""
    X = adata.obsm["X_pca"].astype(np.float64)
    X = (X - X.mean(0)) / X.std()
    day = adata.obs["day"].to_numpy()
    keep = [t for k, t in enumerate(TIMES) if k != j]
    marg = [torch.as_tensor(X[day == t], dtype=torch.float32) for t in keep]
    interp = scam.core.SplineInterpolant(growth=True, batch_size=256)
    interp.fit(marg, list(keep), None, generator=torch.Generator().manual_seed(0))
    path = interp.sample(40_000, generator=torch.Generator().manual_seed(1))
    w = path.w.numpy()[np.abs(path.t.numpy() - TIMES[j]) < 0.1]
    return float(w.max() / w.mean()), float(w.mean() ** 2 / np.mean(w**2))


def main() -> None:
    """Run one setting and write its lines."""
    name = sys.argv[1]
    spline.LOGW_FLOOR, spline.MASS_SLOPES = SETTINGS[name]
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    lines = [f"setting {name}: LOGW_FLOOR, MASS_SLOPES = {SETTINGS[name]}", ""]
    adata = heavy_tailed()
    start = time.perf_counter()
    df = scam.tl.leave_one_timepoint_out(
        adata, time_key="day", methods=("scam", "ot_midpoint"), metrics="w1", progress_bar=False
    )
    w1 = df.pivot_table(index="held_out", columns="method", values="value")
    lines.append(f"heavy-tailed course, LOT (fit seed 0; {time.perf_counter() - start:.0f} s):")
    for held, row in w1.iterrows():
        k = TIMES.index(float(held))
        largest, ess = path_weights(adata, k)
        lines.append(
            f"  day {held}: scam {row['scam']:.3f}, exact OT {row['ot_midpoint']:.3f}, ratio "
            f"{row['scam'] / row['ot_midpoint']:.3f}; path alone at day {held}: largest weight {largest:.1f} x the "
            f"mean, effective size {ess:.3f}"
        )
    ratio = (w1["scam"] / w1["ot_midpoint"]).mean()
    lines.append(f"  mean ratio {ratio:.3f}")
    if "--suite" in sys.argv:
        from scam.benchmark.suite import growth_rows, markdown, ratios, run_suite

        start = time.perf_counter()
        table = ratios(run_suite())
        lines += ["", f"scam benchmark suite --quick, in this process ({time.perf_counter() - start:.0f} s):", ""]
        lines.append(markdown(table, growth_rows()))
    text = "\n".join(lines) + "\n"
    print(text)
    (Path(__file__).parent / f"mass_slopes_{name}.txt").write_text(text)


if __name__ == "__main__":
    main()
