"""``scam benchmark suite``: the default fit on several time courses, as a ratio to the exact-OT interpolation.

Each data set is scored by leave-one-timepoint-out (:func:`scam.tl.leave_one_timepoint_out`): W1 of
scam's default fit, and of the exact-OT McCann interpolation between the two neighbours of the
held-out time (``ot_midpoint``), in the same run; the ratio of the two per held-out time says
whether scam beats plain optimal transport there (< 1) — a ratio, unlike an absolute W1, compares
across data sets. Growth rows come from :func:`scam.datasets.branching` with known growth.

Data sets:

* ``eb5``: the bundled Embryoid Body data, 5 standardised PCs, times 0..4 equally spaced;
* ``eb100_20``, ``eb100_50``, ``eb100_100``: the 100-PC EB subset (2,750 cells, 5 times; the files
  ``eb_pcs100_subset_{test,val}.npz`` of ``data_scripts/README.md``, from ``--eb100-dir``), first
  20, 50 or 100 PCs (unscaled);
* ``uneven``: :func:`scam.datasets.branching` sampled at days 0, 0.33, 1, 3, 7 with 400 cells per
  time and 130 at the last, 10 PCs of its log-normalised counts.

The **true-sample ratio** (:func:`true_sample_ratios`) is what a perfect model would score: one
random half of the held-out cells, scored against the other half, over the exact-OT interpolation
subsampled to the same size, scored against the same half (mean over 5 splits). A ratio below it
is not reachable by predicting the held-out distribution itself; only a prediction shrunk toward
its mean gets there, because W1 between finite samples in many dimensions rewards shrinkage
(``docs/benchmarks/suite/true_sample.md``).
"""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _keys
from .._time import get_time

logger = logging.getLogger("scam")

DATASETS = ("eb5", "eb100_20", "eb100_50", "eb100_100", "uneven")
#: Times and cells of the unevenly spaced simulation.
UNEVEN_TIMES, UNEVEN_CELLS = (0.0, 0.33, 1.0, 3.0, 7.0), (400, 400, 400, 400, 130)


def load(name: str, *, eb100_dir: str | Path | None = None, random_state: int = 0):
    """The AnnData of a suite data set, its time key and representation (``None`` when its files are missing)."""
    import anndata as ad

    from .. import datasets

    if name == "eb5":
        return datasets.embryoid_body(), "time", "X_pca"
    if name.startswith("eb100_"):
        folder = Path(eb100_dir) if eb100_dir is not None else Path("../shared/data/eb")
        files = [folder / f"eb_pcs100_subset_{part}.npz" for part in ("test", "val")]
        if not all(f.is_file() for f in files):
            return None
        parts = [np.load(f) for f in files]
        X = np.concatenate([p["X"] for p in parts])[:, : int(name.split("_")[1])]
        ts = np.concatenate([p["ts"] for p in parts]).astype(np.float64)
        adata = ad.AnnData(obs=pd.DataFrame({"time": ts}, index=[f"c{i}" for i in range(len(ts))]))
        adata.obsm["X_pca"] = X.astype(np.float32)
        return adata, "time", "X_pca"
    if name == "uneven":
        import scanpy as sc

        adata = datasets.branching(n_cells=list(UNEVEN_CELLS), times=UNEVEN_TIMES, random_state=random_state)
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        sc.pp.pca(adata, n_comps=10, random_state=random_state)
        return adata, "day", "X_pca"
    raise ValueError(f"Unknown data set {name!r}; choose from {DATASETS}.")


def run_suite(
    names: Sequence[str] = DATASETS,
    *,
    n_seeds: int = 1,
    fit_kwargs: Mapping | None = None,
    variants: Mapping[str, Mapping] | None = None,
    eb100_dir: str | Path | None = None,
    n_jobs: int = 1,
    client=None,
) -> pd.DataFrame:
    """LOT of the default fit (and of ``variants``: name → fit keyword arguments) against ``ot_midpoint``.

    Returns the long table of :func:`scam.tl.leave_one_timepoint_out` with a ``data`` column; the
    default fit's rows are named ``"scam"``, each variant's by its name. ``n_jobs`` and ``client`` (a Dask
    client or scheduler address) choose where the jobs run, as there.
    """
    from .. import tl

    rows = []
    for name in names:
        loaded = load(name, eb100_dir=eb100_dir)
        if loaded is None:
            logger.warning("suite: skipping %s (its files are not in %s)", name, eb100_dir or "../shared/data/eb")
            continue
        adata, time_key, use_rep = loaded
        time = get_time(adata, time_key)
        floor = true_sample_ratios(adata.obsm[use_rep], time.codes, time.values)
        rows.append(
            pd.DataFrame(
                {"method": "true_sample", "held_out": [time.labels[k] for k in floor], "seed": 0, "metric": "w1_ratio"}
                | {"value": list(floor.values()), "fit_seconds": 0.0, "data": name}
            )
        )
        runs = {"scam": {}, **dict(variants or {})}
        for label, extra in runs.items():
            start = _time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                df = tl.leave_one_timepoint_out(
                    adata,
                    time_key,
                    methods=["scam", "ot_midpoint"] if label == "scam" else ["scam"],
                    n_seeds=n_seeds,
                    metrics=["w1"],
                    use_rep=use_rep,
                    fit_kwargs={**dict(fit_kwargs or {}), **dict(extra)},
                    n_jobs=n_jobs,
                    client=client,
                    progress_bar=False,
                    key_added="suite_lot",
                )
            df["method"] = df["method"].replace({"scam": label})
            df["data"] = name
            rows.append(df)
            logger.info("suite: %s %s in %.0f s", name, label, _time.perf_counter() - start)
    if not rows:
        raise ValueError(
            f"None of the suite's data sets {list(names)} could be loaded: the 100-PC EB files "
            f"(eb_pcs100_subset_{{test,val}}.npz) are not in {eb100_dir or '../shared/data/eb'}; pass the folder "
            "that holds them (--eb100-dir) or choose other data sets."
        )
    return pd.concat(rows, ignore_index=True)


def true_sample_ratios(
    X: np.ndarray, codes: np.ndarray, values: np.ndarray, *, n_splits: int = 5, random_state: int = 0
) -> dict:
    """Per interior time ``k``: W1(half A, half B) / W1(exact-OT interpolation subsampled to |A|, half B).

    ``X`` the cells, ``codes`` their time index into ``values``. The halves are random splits of the
    cells observed at ``t_k`` (``n_splits`` of them, averaged); the interpolation is
    :func:`scam.lot.baselines.ot_midpoint` between ``t_{k−1}`` and ``t_{k+1}``, subsampled by its
    weights without replacement. A perfect model's prediction is a sample of the held-out
    distribution, like half A, so this is the ratio to exact OT that a perfect model would score.
    """
    from ..core.metrics import wasserstein
    from ..lot.baselines import ot_midpoint

    X = np.asarray(X, dtype=np.float64)
    out = {}
    for k in range(1, len(values) - 1):
        x_prev, x_next, target = X[codes == k - 1], X[codes == k + 1], X[codes == k]
        pred, w = ot_midpoint(x_prev, x_next, float(values[k - 1]), float(values[k + 1]), float(values[k]))
        p = None if w is None else np.asarray(w, dtype=np.float64) / np.sum(w)
        rng = np.random.default_rng(random_state)
        scores = []
        for _ in range(n_splits):
            idx = rng.permutation(len(target))
            half_a, half_b = target[idx[: len(idx) // 2]], target[idx[len(idx) // 2 :]]
            n_pick = min(len(half_a), int(np.count_nonzero(p)) if p is not None else len(pred))
            sub = pred[rng.choice(len(pred), n_pick, replace=False, p=p)]
            scores.append(wasserstein(half_a, half_b, p=1) / wasserstein(sub, half_b, p=1))
        out[k] = float(np.mean(scores))
    return out


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Per data set and method: W1 over the exact-OT interpolation's, per held-out time and their mean."""
    w1 = df[df["metric"] == "w1"].groupby(["data", "method", "held_out"], sort=False)["value"].mean()
    ot = w1.xs("ot_midpoint", level="method")
    floors = df[df["metric"] == "w1_ratio"].groupby(["data", "held_out"], sort=False)["value"].mean()
    out = []
    for (data, method), values in w1.groupby(level=["data", "method"], sort=False):
        if method == "ot_midpoint":
            continue
        per_time = values.droplevel(["data", "method"]) / ot.loc[data]
        out.append(
            {
                "data": data,
                "method": method,
                "w1": float(values.mean()),
                "ot_w1": float(ot.loc[data].mean()),
                "ratio": float(per_time.mean()),
                "worst_ratio": float(per_time.max()),
                "per_time": ", ".join(f"{h}: {r:.3f}" for h, r in per_time.items()),
                "fit_seconds": float(df[(df["data"] == data) & (df["method"] == method)]["fit_seconds"].mean()),
                "true_sample": float(floors.loc[data].mean()) if data in floors.index else np.nan,
                "true_sample_per_time": (
                    ", ".join(f"{h}: {r:.3f}" for h, r in floors.loc[data].items()) if data in floors.index else ""
                ),
            }
        )
    return pd.DataFrame(out)


def growth_rows(*, n_iters: int | None = None, random_state: int = 0) -> pd.DataFrame:
    """The default fit on :func:`scam.datasets.branching` with its true masses, and with ``masses="counts"``.

    ``growth_corr``: Pearson correlation of ``obs['scam_growth']`` with the true growth;
    ``mass_error``: mean relative error of the learned masses against the true masses (with the
    true masses given) or against the relative cell counts (``masses="counts"``, on a simulation
    whose counts follow the mass).
    """
    from .. import datasets, tl

    settings = {} if n_iters is None else {"n_iters": n_iters}
    out = []
    adata = datasets.branching(random_state=random_state)
    true_m = np.asarray(adata.uns["ground_truth"]["masses"], dtype=np.float64)
    counted = datasets.branching(n_cells=[int(round(400 * m)) for m in true_m], random_state=random_state)
    counts = counted.obs["day"].value_counts().sort_index().to_numpy(dtype=np.float64)
    for label, data, masses, reference in (
        ("true masses", adata, list(true_m), true_m),
        ('masses="counts"', counted, "counts", counts / counts[0]),
    ):
        work = data.copy()
        start = _time.perf_counter()
        kwargs = {"masses": masses, "random_state": random_state, "progress_bar": False, **settings}
        tl.fit(work, "day", use_rep="X_latent", **kwargs)
        g = work.obs[_keys.growth()].to_numpy(dtype=np.float64)
        learned = np.asarray(work.uns[_keys.uns()][_keys.learned_masses()])
        out.append(
            {
                "data": f"branching, {label}",
                "growth_corr": float(np.corrcoef(g, work.obs["growth"].to_numpy())[0, 1]) if np.std(g) > 0 else np.nan,
                "mass_error": float(np.mean(np.abs(learned[1:] - reference[1:]) / reference[1:])),
                "fit_seconds": _time.perf_counter() - start,
            }
        )
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame, growth: pd.DataFrame | None = None, *, header: str = "") -> str:
    """The suite's report: the ratio table, then the growth rows."""
    lines = [header, ""] if header else []
    lines += [
        "| data | method | W1 | exact-OT W1 | ratio (mean) | worst ratio | per held-out time | true-sample ratio "
        "| s / fold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        floor = getattr(r, "true_sample", np.nan)
        floor = "" if np.isnan(floor) else f"{floor:.3f} ({r.true_sample_per_time})"
        lines.append(
            f"| {r.data} | {r.method} | {r.w1:.3f} | {r.ot_w1:.3f} | {r.ratio:.3f} | {r.worst_ratio:.3f} "
            f"| {r.per_time} | {floor} | {r.fit_seconds:.1f} |"
        )
    if growth is not None and len(growth):
        lines += ["", "| growth | correlation with true growth | learned-mass error | s |", "|---|---|---|---|"]
        for r in growth.itertuples():
            lines.append(f"| {r.data} | {r.growth_corr:.3f} | {r.mass_error:.3f} | {r.fit_seconds:.1f} |")
    return "\n".join(lines) + "\n"
