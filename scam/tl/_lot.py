"""``scam.tl.leave_one_timepoint_out``: the field's benchmark on any time course."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._simulate import check_steps
from .._time import from_growth_prior, get_time, resolve_masses
from .._validation import check_adata, check_key_added, check_positive_int, get_growth_prior, get_rep
from ..lot import ScamFitter, run_lot
from ..lot.engine import check_client
from ..trainer import FIT_ARGS, FitConfig
from ._conditions import _condition_rows, _masses_per_condition, _where
from ._utils import time_index

logger = logging.getLogger("scam")


def _held_out_indices(held_out, time) -> list[int]:
    interior = list(range(1, time.n_times - 1))
    if not interior:
        raise ValueError("Leave-one-timepoint-out needs at least three time points (an interior one to hold out).")
    if held_out is None:
        _keys.check_distinct([time.labels[k] for k in interior], "The held-out time points")
        return interior
    items = [held_out] if isinstance(held_out, (str, int, float, np.number)) else list(held_out)
    out = []
    for item in items:
        try:
            k = time_index(time, item, "held_out")
        except ValueError:
            k = None
        if k not in interior:
            raise ValueError(
                f"`held_out={item!r}` is not an interior time point; choose from "
                f"{[time.labels[k] for k in interior]} (the first and last cannot be held out)."
            )
        out.append(k)
    _keys.check_distinct([time.labels[k] for k in out], "The held-out time points")
    return out


def _weights(w, n: int) -> np.ndarray:
    w = np.full(n, 1.0) if w is None else np.asarray(w, dtype=np.float64)
    return (w / w.sum()).astype(np.float32)


def leave_one_timepoint_out(
    adata: AnnData,
    time_key: str = "time",
    *,
    condition_key: str | None = None,
    held_out: None | str | float | Sequence = None,
    methods: str | Sequence[str] = ("scam", "ot_midpoint", "previous", "next"),
    n_seeds: int = 1,
    metrics: str | Sequence[str] = ("w1", "w2", "mmd"),
    fit_kwargs: Mapping | None = None,
    peer_kwargs: Mapping | None = None,
    use_rep: str = "X_pca",
    n_dims: int | None = None,
    masses: None | str | Mapping | Sequence[float] = None,
    growth_prior_key: str = _keys.GROWTH_PRIOR,
    n_steps: int | str = "auto",
    n_jobs: int = 1,
    client=None,
    progress_bar: bool = True,
    key_added: str = "scam_lot",
) -> pd.DataFrame:
    """Hold out each interior time point in turn, predict it from the others, and score the prediction.

    For a held-out time ``t_k``, every method sees only the other time points (the held-out cells
    are removed before anything is fitted, sampled, coupled, normalised or validated), and all
    cells observed at ``t_{k−1}`` are pushed to ``t_k`` (see ``n_steps``) and
    compared with all cells observed at ``t_k``. This is the protocol of TrajectoryNet, TorchCFM
    and the Action Matching note §6. Ctrl-C stops the whole sweep with ``KeyboardInterrupt`` and
    leaves ``adata`` unchanged: a fit cut short is never scored as a finished one.

    Parameters
    ----------
    adata
        Time course with ``obs[time_key]`` and ``obsm[use_rep]``.
    time_key
        Column with the time points (numeric, or ordered categorical: its order is used).
    condition_key
        Column of ``adata.obs`` with each cell's condition, as in :func:`scam.tl.fit`: the protocol
        runs on each condition's cells alone (as :func:`scam.tl.fit` fits one model per
        condition), holding out that condition's interior time points, with the same seeds
        ``0, …, n_seeds − 1``, so each condition's rows are those of a run on its cells alone. A
        condition with fewer than three time points is skipped with a ``UserWarning``.
    held_out
        Time points (labels or values) to hold out; ``None``: every interior one (of each
        condition, with ``condition_key``; given ones must be interior in every condition run).
    methods
        Any of :func:`scam.benchmark.available_methods`: ``"scam"`` (defaults of
        :func:`scam.tl.fit`), the variants ``"scam_am"``, ``"scam_eam"``, ``"scam_uam"``,
        ``"scam_ueam"`` and one per interpolant (``"scam_ot"``, ``"scam_spline"``, …), the
        baselines ``"previous"``, ``"next"``, ``"ot_midpoint"`` (exact-OT McCann interpolation),
        ``"entropic_ot"``, ``"unbalanced_ot"``, and the peer ``"otcfm"`` (needs ``scam-sc[benchmark]``;
        skipped with a warning otherwise).
    n_seeds
        Seeds per held-out time (deterministic baselines are computed once).
    metrics
        ``"w1"`` (exact, Euclidean cost), ``"w2"``, ``"mmd"`` (RBF); weighted by the normalised
        particle weights for models with growth. With ``masses``, models with growth also get
        ``"mass_error"``: the relative error of the predicted total mass at the held-out time.
    fit_kwargs
        Keyword arguments for :func:`scam.tl.fit` (e.g. ``{"n_iters": 500}``); variants override
        the settings that define them.
    peer_kwargs
        Keyword arguments for the OT-CFM peer (:func:`scam.lot.peers.otcfm_predict`), e.g.
        ``{"n_iters": 2000}``; its defaults follow TorchCFM's EB runner.
    use_rep, n_dims
        Coordinates, as in :func:`scam.tl.fit`.
    masses
        True relative masses per time point (as in :func:`scam.tl.fit`); the held-out time's mass
        is used only to score the prediction. With ``condition_key``, the same for every condition
        or a mapping from every condition to its masses (``{"wt": [1, 2, 4], "ko": "counts"}``).
        ``"growth_prior"``: each fold's fit gets the masses its kept cells' prior rates give (the held-out
        cells' prior is used only for the mass that scores the prediction).
    growth_prior_key
        Column of ``adata.obs`` with the prior growth rates (:func:`scam.pp.growth_prior`), for
        ``masses="growth_prior"`` and a ``growth_penalty`` in ``fit_kwargs``; each fold's fit sees the prior of
        its kept cells only.
    n_steps
        Steps of the push: ``"auto"`` (scam: RK4 with as many steps as step doubling finds needed, as
        :meth:`scam.ActionModel.simulate`, or 100 Euler–Maruyama steps when the fit chose σ > 0; the
        OT-CFM peer: its protocol's 100 Euler steps) or a number of Euler steps for every method.
    n_jobs
        Local worker processes running the (method, held-out time, seed) jobs side by side; the CPU
        threads of ``scam.settings.n_threads`` are shared among them (``max(1, n_threads // n_jobs)``
        each). The OT-CFM peer runs single-threaded, so ``n_jobs=2`` on a 2-core machine roughly halves
        a benchmark that includes it.
    client
        A ``distributed.Client``, or the address of a Dask scheduler (``"tcp://HOST:PORT"``): run the
        jobs on that cluster instead of local processes (``n_jobs`` is then ignored). Needs
        ``pip install 'scam-sc[distributed]'``, and scam installed on the workers; see
        :doc:`/distributed`. A job's result depends only on its method, held-out time, seed and torch thread
        count, so with the same threads per job the table is the same wherever the jobs run.
    progress_bar
        Show progress.
    key_added
        The long table is also stored in ``adata.uns[key_added]``.

        Also stores, in ``adata.uns[key_added]``, the long table (``"results"``), the ``"params"``,
        and ``"predictions"``: for each method and held-out label, the first seed's predicted cells
        ``{"X": (n, d), "weights": (n,)}`` (weights sum to 1; uniform without growth), for
        :func:`scam.pl.interpolation`. With ``condition_key``, ``"params"`` also holds
        ``condition_key``, ``conditions`` (those run, in order) and ``skipped`` (if any), and
        ``"conditions"`` holds per condition run (``/`` in a name stored as ``_``) its
        ``params`` (``held_out``) and ``predictions``.

    Returns
    -------
    Long table with columns ``method``, ``held_out``, ``seed``, ``metric``, ``value``,
    ``fit_seconds`` (fit and prediction of one fold); with ``condition_key``, a first column
    ``condition``. :func:`scam.benchmark.summarize` turns it into mean ± std per method (per
    condition and method with ``condition_key``).
    """
    check_adata(adata)
    key_added = check_key_added(key_added)
    _keys.check_free(adata, _keys.LOT, key_added)
    n_seeds = check_positive_int("n_seeds", n_seeds)
    n_steps = check_steps(n_steps)
    n_jobs = check_positive_int("n_jobs", n_jobs)
    client = check_client(client)
    methods = [methods] if isinstance(methods, str) else list(methods)  # one name, not its letters
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    fit_kwargs = dict(fit_kwargs or {})
    for reserved in ("use_rep", "n_dims", "random_state", "copy", "key_added", "progress_bar"):
        if reserved in fit_kwargs:
            raise ValueError(f"`fit_kwargs` may not set {reserved!r}; it is set by the benchmark.")
    own = sorted(set(fit_kwargs) & {"time_key", "condition_key", "masses", "growth_prior_key"})
    if own:
        raise ValueError(
            f"`fit_kwargs` may not set {own}: pass {' and '.join(f'`{k}=`' for k in own)} to "
            "scam.tl.leave_one_timepoint_out itself, which gives each fold's fit its cells."
        )
    unknown = set(fit_kwargs) - set(FIT_ARGS)
    if unknown:
        raise ValueError(f"Unknown `fit_kwargs` {sorted(unknown)}; use arguments of scam.tl.fit.")
    config = FitConfig(**fit_kwargs).checked()
    needs_prior = from_growth_prior(masses) or config.growth_penalty > 0
    prior = get_growth_prior(adata, growth_prior_key) if needs_prior else None
    runs, skipped = _runs(adata, time_key, condition_key, held_out, masses, prior)
    X = get_rep(adata, use_rep, n_dims)

    tables, entries = [], {}
    for name, rows, time, mass, ks in runs:  # each condition alone: its cells, time points and masses
        if name is not None:
            logger.info("condition %r: %d cells, held out %s", name, len(rows), ", ".join(time.labels[k] for k in ks))
        fit_scam = ScamFitter(
            X[rows],
            time,
            mass,
            use_rep,
            fit_kwargs,
            prior_growth=None if prior is None else prior[rows],
            masses_from_prior=from_growth_prior(masses),
        )
        df, predictions = run_lot(
            X[rows],
            time.codes,
            time.values,
            time.labels,
            fit_scam,
            held_out=ks,
            methods=methods,
            n_seeds=n_seeds,
            metrics=metrics,
            masses=mass,
            n_steps=n_steps,
            peer_kwargs=peer_kwargs,
            n_jobs=n_jobs,
            client=client,
            progress_bar=progress_bar,
            return_predictions=True,
        )
        if name is not None:
            df.insert(0, "condition", name)
        tables.append(df)
        entries[name] = {"held_out": [time.labels[k] for k in ks], "predictions": _first_seed(predictions)}
    df = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    params = {
        "time_key": time_key,
        "use_rep": use_rep,
        "methods": list(methods),
        "n_seeds": n_seeds,
        "metrics": list(metrics),
        "n_steps": n_steps,
    }
    uns = {"results": {c: df[c].to_numpy() if df[c].dtype != object else df[c].astype(str).to_numpy() for c in df}}
    if condition_key is None:
        # first seed's prediction of each method at each held-out time, for scam.pl.interpolation
        uns["params"] = {**params, "held_out": entries[None]["held_out"]}
        uns["predictions"] = entries[None]["predictions"]
    else:
        uns["params"] = {**params, "condition_key": condition_key, "conditions": list(entries)}
        uns["conditions"] = {
            _keys.condition(name): {"params": {"held_out": e["held_out"]}, "predictions": e["predictions"]}
            for name, e in entries.items()
        }
        if skipped:
            uns["params"]["skipped"] = skipped
    uns[_keys.WRITTEN] = _keys.record(_keys.LOT, key_added)
    adata.uns[key_added] = uns
    return df


def _first_seed(predictions: dict) -> dict:
    """``{method: {held-out label: {"X", "weights"}}}``: the first seed's predicted cells (h5ad-serialisable)."""
    return {
        method: {
            _keys.prediction(label): {"X": np.asarray(pred, dtype=np.float32), "weights": _weights(w, len(pred))}
            for (m, label, seed), (pred, w) in predictions.items()
            if m == method and seed == 0
        }
        for method in dict.fromkeys(m for m, _, _ in predictions)
    }


def _masses(spec, time, prior: np.ndarray | None) -> np.ndarray | None:
    """The masses that score the predictions (``None``: none given): as given, or from the prior of every cell."""
    return None if spec is None else resolve_masses(spec, time, prior)


def _runs(
    adata: AnnData, time_key: str, condition_key: str | None, held_out, masses, prior: np.ndarray | None
) -> tuple[list, list[str]]:
    """The LOT runs, checked before any starts, and the conditions skipped.

    Each run is ``(condition, rows, TimeInfo, masses, held-out indices)``: without ``condition_key`` one
    run of all cells (condition ``None``); with it, one per condition with at least three time points
    (the others are skipped with a ``UserWarning``).
    """
    if condition_key is None:
        time = get_time(adata, time_key)
        ks = _held_out_indices(held_out, time)
        return [(None, np.arange(adata.n_obs), time, _masses(masses, time, prior), ks)], []
    with warnings.catch_warnings():  # its warnings are given per condition below
        warnings.simplefilter("ignore")
        get_time(adata, time_key, min_cells=0)  # the column itself, the same for every condition
    rows = _condition_rows(adata, condition_key, time_key)
    per_condition = _masses_per_condition(masses, [name for name, _ in rows])
    runs, skipped = [], {}
    for name, idx in rows:
        try:
            n_times = get_time(adata, time_key, min_cells=0, rows=idx).n_times
        except ValueError:  # one time point (the column is fine: checked above)
            n_times = 1
        if n_times < 3:
            skipped[name] = n_times
            continue
        with warnings.catch_warnings():  # given by the call above
            warnings.simplefilter("ignore")
            try:
                time = get_time(adata, time_key, rows=idx)
                ks = _held_out_indices(held_out, time)
                mass = _masses(per_condition[name], time, None if prior is None else prior[idx])
            except ValueError as err:
                raise ValueError(f"{_where(condition_key, name)}{err}") from None
        runs.append((name, idx, time, mass, ks))
    short = ", ".join(f"{name!r} ({n} time point{'s' if n > 1 else ''})" for name, n in skipped.items())
    if not runs:
        raise ValueError(
            f"No condition of adata.obs[{condition_key!r}] has three time points or more ({short}): each condition "
            "is benchmarked alone, holding out one of its interior time points. Run it without `condition_key` to "
            "benchmark all cells as one population."
        )
    if skipped:
        warnings.warn(
            f"Leave-one-timepoint-out skips the condition(s) {short} of adata.obs[{condition_key!r}]: each condition "
            "is benchmarked alone and needs three time points or more (an interior one to hold out).",
            UserWarning,
            stacklevel=3,
        )
    return runs, list(skipped)
