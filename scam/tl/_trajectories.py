"""``scam.tl.trajectories``: simulate paths of cells for plotting and analysis."""

from __future__ import annotations

import logging

import numpy as np
from anndata import AnnData

from .. import _keys
from .._validation import check_key_added, check_positive_int, check_seed, writable
from ..model import ActionModel
from ._utils import (
    cells_at,
    check_stochastic,
    check_time_range,
    draw_cells,
    fit_uns,
    model_inputs,
    model_rep,
    model_time,
    time_value,
)

logger = logging.getLogger("scam")


def trajectories(
    adata: AnnData,
    model: ActionModel,
    *,
    n_cells: int = 200,
    n_steps: int = 100,
    t_start: float | None = None,
    t_end: float | None = None,
    stochastic: bool | None = None,
    time_key: str | None = None,
    use_rep: str | None = None,
    random_state: int | None = 0,
    key_added: str = _keys.DEFAULT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Simulate paths from cells observed at ``t_start`` to ``t_end``.

    Start cells are drawn at random (without replacement) among the cells observed at
    ``t_start``.

    Parameters
    ----------
    adata
        The AnnData the model was fitted on (``uns[key_added]`` from :func:`scam.tl.fit`).
    model
        The fitted :class:`~scam.ActionModel`.
    n_cells
        Number of start cells (all of them if fewer are observed).
    n_steps
        Integration steps (the path has ``n_steps + 1`` points).
    t_start, t_end
        Start and end time in the time units of the fit, or labels of observed time points
        (``"day 2"``); default: the first and last observed time. ``t_end < t_start`` simulates
        backward (ODE only). Both must lie in the time range the model was fitted on
        (:attr:`~scam.ActionModel.time_range`, give or take 5 % of its span).
    stochastic
        Simulate the SDE; ``None``: when the model has σ > 0 and the simulation runs forward.
    time_key, use_rep
        Time column and representation; default: those the model was fitted on.
    random_state
        Seed of the start-cell choice and the noise (``None``: drawn, and recorded in ``params``).
    key_added
        Results go to ``adata.uns[key_added]['trajectories']``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing ``uns[key_added]['trajectories']`` with ``paths``
    ``(n_cells, n_steps + 1, n_dims)`` in ``use_rep`` coordinates, ``times`` ``(n_steps + 1,)``,
    ``start_cells`` (obs names), ``start_index`` (row numbers), ``weights``
    ``(n_cells, n_steps + 1)`` (``exp ∫ λ s dt``, 1 when ``lam == 0``) and ``params``.
    """
    time_key, use_rep = model_inputs(adata, model, time_key, use_rep)
    key_added = check_key_added(key_added)
    n_cells = check_positive_int("n_cells", n_cells)
    n_steps = check_positive_int("n_steps", n_steps)
    fit_uns(adata, key_added)  # the paths are stored in the fit's record
    random_state = check_seed(random_state)
    stochastic = check_stochastic(stochastic)
    time = model_time(adata, model, time_key, min_cells=0)
    t_start = time_value(time, t_start, "t_start", default=0)
    t_end = time_value(time, t_end, "t_end", default=-1)
    if not np.isfinite(t_start) or not np.isclose(time.values, t_start).any():
        raise ValueError(f"`t_start={t_start:g}` is not an observed time; choose one of {time.values.tolist()}.")
    if not np.isfinite(t_end):
        raise ValueError(f"`t_end` must be a finite number, got {t_end!r}.")
    check_time_range(model, time, {"`t_start`": t_start, "`t_end`": t_end})
    X = model_rep(adata, model, use_rep)
    start = draw_cells(cells_at(time, int(np.argmin(np.abs(time.values - t_start)))), n_cells, random_state)
    paths, weights = model.simulate(
        X[start],
        t_start,
        t_end,
        n_steps=n_steps,
        stochastic=stochastic,
        return_weights=True,
        return_path=True,
        random_state=random_state,
    )
    is_stochastic = model.default_stochastic(t_start, t_end) if stochastic is None else bool(stochastic)
    result = {
        "paths": np.ascontiguousarray(paths.transpose(1, 0, 2)),
        "times": np.linspace(t_start, t_end, n_steps + 1),
        "start_cells": np.asarray(adata.obs_names[start], dtype=str),
        "start_index": start.astype(np.int64),
        "weights": np.ascontiguousarray(weights.T),
        "params": {
            "n_cells": len(start),
            "n_steps": n_steps,
            "t_start": t_start,
            "t_end": t_end,
            "stochastic": is_stochastic,
            "random_state": int(random_state),
            "time_key": time_key,
            "use_rep": use_rep,
        },
    }
    adata = writable(adata, copy)
    adata.uns[_keys.uns(key_added)][_keys.TRAJECTORIES] = result
    logger.info("added '%s' (adata.uns[%r])", _keys.TRAJECTORIES, key_added)
    return adata if copy else None
