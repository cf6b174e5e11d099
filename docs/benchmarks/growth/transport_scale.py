"""The chains' transport map: a translation alone, or a translation and a scaling of the spread.

:data:`scam.core.spline.SHIFT_SCALE` (a module constant, set here before any fit, so every fit runs in this
process): ``True`` (the default) maps each link's source by :func:`scam.core.couplings.transport_map` (shift and
scaling along the principal axes), ``False`` by the translation alone (the default before).

Measured, for each setting:

1. A Gaussian that spreads without growth (standard deviation ``1 + t`` at days 0-3, 400 cells a day, centre
   ``(3, 0, ...)``) in 2, 10 and 30 dimensions, data seeds 2 and 3: the default fit (``sigma=0``, 400 steps, fit
   seed 0). Whether the check took the map (``shift_drift="auto"``), the std of the growth read-out over the cells
   of days 0-2 (truth 0), its correlation with the distance from the centre, and the std of day 0 pushed to day 1
   over day 0's (truth 2).
2. :func:`scam.datasets.branching` (seeds 0-2): the default fit with the true masses and with ``masses="counts"``
   (as ``scam benchmark suite``'s growth rows): the correlation of ``obs['scam_growth']`` with the true growth.

Usage (from the repository root; one thread, about 8 minutes)::

    OMP_NUM_THREADS=1 python docs/benchmarks/growth/transport_scale.py

Writes ``docs/benchmarks/growth/transport_scale.txt``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

import scam
import scam.core.spline as spline
from scam import settings

TIMES = (0.0, 1.0, 2.0, 3.0)


def spreading(n_dims: int, seed: int) -> tuple[ad.AnnData, list[np.ndarray]]:
    """400 cells a day, standard deviation 1 + t, centre (3, 0, ...); no growth."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(n_dims)
    centre[0] = 3.0
    snapshots = [centre + (1 + t) * rng.standard_normal((400, n_dims)) for t in TIMES]
    adata = ad.AnnData(obs=pd.DataFrame({"t": np.repeat(TIMES, 400)}, index=[f"c{i}" for i in range(1600)]))
    adata.obsm["X_rep"] = np.vstack(snapshots)
    return adata, snapshots


def spreading_row(n_dims: int, seed: int) -> str:
    """One table row: the default fit on :func:`spreading`."""
    adata, snapshots = spreading(n_dims, seed)
    model = scam.tl.fit(adata, "t", use_rep="X_rep", sigma=0, n_iters=400, progress_bar=False, random_state=0)
    t = adata.obs["t"].to_numpy()
    early = t < TIMES[-1]
    centre = np.r_[3.0, np.zeros(n_dims - 1)]
    radius = np.linalg.norm(adata.obsm["X_rep"][early] - centre, axis=1) / (1 + t[early])
    growth = adata.obs["scam_growth"].to_numpy()[early]
    pushed = model.simulate(snapshots[0], 0.0, 1.0, stochastic=False)
    taken = adata.uns["scam"]["params"]["spline_shift_drift"]
    return (
        f"| {n_dims} | {seed} | {taken} | {growth.std():.3f} | {np.corrcoef(growth, radius)[0, 1]:+.3f} "
        f"| {pushed.std(0).mean() / snapshots[0].std(0).mean():.3f} |"
    )


def branching_rows(seed: int) -> list[float]:
    """Growth correlation with the true masses and with masses="counts" (the suite's growth rows, one seed)."""
    out = []
    data = scam.datasets.branching(random_state=seed)
    true_m = np.asarray(data.uns["ground_truth"]["masses"], dtype=np.float64)
    counted = scam.datasets.branching(n_cells=[int(round(400 * m)) for m in true_m], random_state=seed)
    for adata, masses in ((data, list(true_m)), (counted, "counts")):
        scam.tl.fit(adata, "day", use_rep="X_latent", masses=masses, random_state=seed, progress_bar=False)
        g = adata.obs["scam_growth"].to_numpy()
        out.append(float(np.corrcoef(g, adata.obs["growth"].to_numpy())[0, 1]))
    return out


def main() -> None:
    """Both settings, one after the other, in this process."""
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    lines = []
    for scale in (False, True):
        spline.SHIFT_SCALE = scale
        lines += [
            f"## SHIFT_SCALE = {scale}",
            "",
            "| dims | data seed | map taken | growth std (truth 0) | corr with distance | pushed std ratio (truth 2) |",
            "|---|---|---|---|---|---|",
        ]
        lines += [spreading_row(d, seed) for d in (2, 10, 30) for seed in (2, 3)]
        rows = {seed: branching_rows(seed) for seed in (0, 1, 2)}
        lines += ["", "| branching seed | corr, true masses | corr, counts |", "|---|---|---|"]
        lines += [f"| {seed} | {r[0]:.3f} | {r[1]:.3f} |" for seed, r in rows.items()]
        mean = np.mean(list(rows.values()), axis=0)
        lines += [f"| mean | {mean[0]:.3f} | {mean[1]:.3f} |", ""]
        print("\n".join(lines[-12:]), flush=True)
    lines.append(f"Total {(time.perf_counter() - start) / 60:.1f} min, one torch thread.")
    out = Path(__file__).with_suffix(".txt")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
