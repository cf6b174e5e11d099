"""``scam.tl.leave_one_timepoint_out``: the field's benchmark on any time course."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._time import get_masses, get_time
from .._validation import check_adata, check_key_added, check_positive_int, get_rep
from ..lot import ScamFitter, run_lot
from ..lot.engine import check_client
from ..trainer import FIT_ARGS, FitConfig
from ._utils import time_index

logger = logging.getLogger("scam")


def _held_out_indices(held_out, time) -> list[int]:
    interior = list(range(1, time.n_times - 1))
    if not interior:
        raise ValueError("Leave-one-timepoint-out needs at least three time points (an interior one to hold out).")
    if held_out is None:
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
    return out


def _weights(w, n: int) -> np.ndarray:
    w = np.full(n, 1.0) if w is None else np.asarray(w, dtype=np.float64)
    return (w / w.sum()).astype(np.float32)


def leave_one_timepoint_out(
    adata: AnnData,
    time_key: str = "time",
    *,
    held_out: None | str | float | Sequence = None,
    methods: str | Sequence[str] = ("scam", "ot_midpoint", "previous", "next"),
    n_seeds: int = 1,
    metrics: str | Sequence[str] = ("w1", "w2", "mmd"),
    fit_kwargs: Mapping | None = None,
    peer_kwargs: Mapping | None = None,
    use_rep: str = "X_pca",
    n_dims: int | None = None,
    masses: None | str | Mapping | Sequence[float] = None,
    n_steps: int = 100,
    n_jobs: int = 1,
    client=None,
    progress_bar: bool = True,
    key_added: str = "scam_lot",
) -> pd.DataFrame:
    """Hold out each interior time point in turn, predict it from the others, and score the prediction.

    For a held-out time ``t_k``, every method sees only the other time points (the held-out cells
    are removed before anything is fitted, sampled, coupled, normalised or validated), and all
    cells observed at ``t_{k−1}`` are pushed to ``t_k`` (``n_steps`` Euler steps for scam) and
    compared with all cells observed at ``t_k``. This is the protocol of TrajectoryNet, TorchCFM
    and the Action Matching note §6.

    Parameters
    ----------
    adata
        Time course with ``obs[time_key]`` and ``obsm[use_rep]``.
    time_key
        Column with the time points (numeric, or ordered categorical: its order is used).
    held_out
        Time points (labels or values) to hold out; ``None``: every interior one.
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
        is used only to score the prediction.
    n_steps
        Euler steps of the push.
    n_jobs
        Local worker processes running the (method, held-out time, seed) jobs side by side; the CPU
        threads of ``scam.settings.n_threads`` are shared among them (``max(1, n_threads // n_jobs)``
        each). The OT-CFM peer runs single-threaded, so ``n_jobs=2`` on a 2-core machine roughly halves
        a benchmark that includes it.
    client
        A ``distributed.Client``, or the address of a Dask scheduler (``"tcp://HOST:PORT"``): run the
        jobs on that cluster instead of local processes (``n_jobs`` is then ignored). Needs
        ``pip install 'scam[distributed]'``, and scam installed on the workers; see
        :doc:`/distributed`. A job's result depends only on its method, held-out time, seed and torch thread
        count, so with the same threads per job the table is the same wherever the jobs run.
    progress_bar
        Show progress.
    key_added
        The long table is also stored in ``adata.uns[key_added]``.

        Also stores, in ``adata.uns[key_added]``, the long table (``"results"``), the ``"params"``,
        and ``"predictions"``: for each method and held-out label, the first seed's predicted cells
        ``{"X": (n, d), "weights": (n,)}`` (weights sum to 1; uniform without growth), for
        :func:`scam.pl.interpolation`.

    Returns
    -------
    Long table with columns ``method``, ``held_out``, ``seed``, ``metric``, ``value``,
    ``fit_seconds`` (fit and prediction of one fold). :func:`scam.benchmark.summarize` turns it
    into mean ± std per method.
    """
    check_adata(adata)
    key_added = check_key_added(key_added)
    n_seeds = check_positive_int("n_seeds", n_seeds)
    n_steps = check_positive_int("n_steps", n_steps)
    n_jobs = check_positive_int("n_jobs", n_jobs)
    client = check_client(client)
    time = get_time(adata, time_key)
    X = get_rep(adata, use_rep, n_dims)
    ks = _held_out_indices(held_out, time)
    mass = None if masses is None else get_masses(masses, time)
    methods = [methods] if isinstance(methods, str) else list(methods)  # one name, not its letters
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    fit_kwargs = dict(fit_kwargs or {})
    for reserved in ("use_rep", "n_dims", "random_state", "copy", "key_added", "masses", "progress_bar"):
        if reserved in fit_kwargs:
            raise ValueError(f"`fit_kwargs` may not set {reserved!r}; it is set by the benchmark.")
    unknown = set(fit_kwargs) - set(FIT_ARGS)
    if unknown:
        raise ValueError(f"Unknown `fit_kwargs` {sorted(unknown)}; use arguments of scam.tl.fit.")
    FitConfig(**fit_kwargs).checked()

    fit_scam = ScamFitter(X, time, mass, use_rep, fit_kwargs)
    df, predictions = run_lot(
        X,
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
    adata.uns[key_added] = {
        "results": {c: df[c].to_numpy() if df[c].dtype != object else df[c].astype(str).to_numpy() for c in df},
        "params": {
            "time_key": time_key,
            "use_rep": use_rep,
            "methods": list(methods),
            "n_seeds": n_seeds,
            "metrics": list(metrics),
            "n_steps": n_steps,
            "held_out": [time.labels[k] for k in ks],
        },
        # First seed's prediction of each method at each held-out time, for scam.pl.interpolation.
        "predictions": {
            method: {
                _keys.prediction(label): {"X": np.asarray(pred, dtype=np.float32), "weights": _weights(w, len(pred))}
                for (m, label, seed), (pred, w) in predictions.items()
                if m == method and seed == 0
            }
            for method in dict.fromkeys(m for m, _, _ in predictions)
        },
    }
    return df
