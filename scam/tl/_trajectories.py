"""``scam.tl.trajectories``: simulate paths of cells for plotting and analysis."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import numpy as np
from anndata import AnnData

from .. import _keys
from .._time import TimeInfo, same_time, span
from .._validation import check_key_added, check_positive_int, check_seed, writable
from ..model import ActionModel
from ._conditions import _condition_models, _where
from ._utils import (
    cells_at,
    check_stochastic,
    check_time_range,
    draw_cells,
    fit_uns,
    model_inputs,
    model_rep,
    model_time,
    nearest,
    path_positions,
    time_value,
)

logger = logging.getLogger("scam")

#: A simulated point is off the observed cells when its nearest one is farther than this many typical spacings.
SUPPORT_RATIO = 3.0
#: Observed cells around a simulated point whose spacings set the typical spacing there ...
SUPPORT_NEIGHBORS = 10
#: ... as this quantile of their distances to their own nearest other cells (the upper quartile: few false alarms
#: in the sparse tails of a population, where the spacing grows faster than among the nearest cells).
SUPPORT_QUANTILE = 0.75
#: Warn when more than this fraction of the simulated points at the observed times is off the observed cells.
SUPPORT_FRACTION = 0.1


def support(
    paths: np.ndarray,
    times: np.ndarray,
    X: np.ndarray,
    time: TimeInfo,
    t_start: float,
    weights: np.ndarray | None = None,
) -> dict:
    """How far simulated points lie from the observed cells, at each observed time the paths reach after the start.

    At each such time ``t_k``, every path's position (interpolated on its time grid) is compared
    with the cells observed at ``t_k``: its distance to the nearest one, divided by the typical
    spacing of the observed cells there (the upper quartile, over its :data:`SUPPORT_NEIGHBORS`
    nearest observed cells, of each one's distance to its own nearest other cell; at least a tenth
    of the median spacing at ``t_k``). A ratio of about 1 or less is what a cell of the observed
    population would get, in dense and sparse regions alike; a large one means that the path has
    left the observed cells there. Times with fewer than 2 cells (or no spacing) are left out.

    With ``weights`` ``(n_paths, T)`` (each path's growth weight on the time grid), the fraction off
    the data counts each path by the mass it carries at that time: a dying cell's path that drifts
    away with almost no weight left is not a population leaving the data.

    Returns ``times`` and ``labels`` (in the order the paths reach them), ``spacing`` (the median
    spacing at each time) ``(m,)``, ``ratio`` ``(n_paths, m)``, ``off_fraction`` ``(m,)`` (the
    fraction of ratios above :data:`SUPPORT_RATIO`, weighted by mass) and ``threshold``.
    """
    lo, hi = min(times[0], times[-1]), max(times[0], times[-1])
    picked, spacing, ratio, mass = [], [], [], []
    order = range(time.n_times) if times[-1] >= times[0] else range(time.n_times - 1, -1, -1)  # along the paths
    for k in order:
        value = time.values[k]
        inside = (lo <= value <= hi) or same_time(value, lo) or same_time(value, hi)
        if not inside or same_time(value, t_start):
            continue
        cells = X[cells_at(time, k)]
        if len(cells) < 2:
            continue
        gaps = nearest(cells, cells, 2)[0][:, 1]
        if not np.any(gaps > 0):
            continue
        typical = float(np.median(gaps[gaps > 0]))
        n_near = min(SUPPORT_NEIGHBORS, len(cells))
        dist, idx = nearest(cells, path_positions(paths, times, float(value)), n_near)
        local = np.maximum(np.quantile(gaps[idx], SUPPORT_QUANTILE, axis=1), 0.1 * typical)
        picked.append(k)
        spacing.append(typical)
        ratio.append(dist[:, 0] / local)
        w = np.ones(len(paths)) if weights is None else path_positions(weights[..., None], times, float(value))[:, 0]
        mass.append(w / w.sum() if np.isfinite(w).all() and w.sum() > 0 else np.full(len(paths), 1.0 / len(paths)))
    ratio = np.stack(ratio, axis=1) if ratio else np.zeros((paths.shape[0], 0))
    mass = np.stack(mass, axis=1) if mass else np.zeros((paths.shape[0], 0))
    return {
        "times": np.asarray(time.values[picked], dtype=np.float64),
        "labels": np.asarray([time.labels[k] for k in picked], dtype=str),
        "spacing": np.asarray(spacing, dtype=np.float64),
        "ratio": ratio.astype(np.float32),
        "off_fraction": ((ratio > SUPPORT_RATIO) * mass).sum(0) if ratio.size else np.zeros(ratio.shape[1]),
        "threshold": SUPPORT_RATIO,
    }


def _report_support(result: dict, key_added: str, condition: str | None = None) -> None:
    """Log the support of the paths; warn when many simulated points left the observed cells.

    ``condition``: the condition whose paths these are (named in the messages), ``None`` without conditions.
    """
    ratio = result["ratio"]
    of = "" if condition is None else f"condition {condition!r}: "
    stored = f"adata.uns[{key_added!r}]['trajectories']"
    if condition is not None:
        stored += f"['conditions'][{_keys.condition(condition)!r}]"
    if ratio.size == 0:
        logger.info("%sno observed time after the start within the paths: their support is not checked", of)
        return
    off = float(np.mean(result["off_fraction"]))  # the share of the mass off the data, each time alike
    logger.info(
        "%ssupport: at the observed times, the simulated points lie a median %.2f typical cell spacings from the "
        "nearest observed cell; %.0f %% of the mass lies more than %g spacings away",
        of,
        float(np.median(ratio)),
        100 * off,
        SUPPORT_RATIO,
    )
    if off > SUPPORT_FRACTION:
        worst = int(np.argmax(result["off_fraction"]))
        warnings.warn(
            f"{of}{100 * off:.0f} % of the simulated points at the observed times (each counted by the mass it "
            f"carries) lie more than {SUPPORT_RATIO:g} times "
            "the typical distance between neighbouring observed cells from every observed cell (the most at time "
            f"{result['labels'][worst]}: {100 * result['off_fraction'][worst]:.0f} %): the paths leave the observed "
            "cells, where the dynamics are extrapolated, not learned. Check the fit (`scam.pl.history`; more "
            "`n_iters`, another `sigma` or growth setting), simulate over a shorter interval, and see where the "
            f"paths leave with `scam.pl.trajectories(adata, show_support=True)`; "
            f"{stored}['support']['ratio'] holds each point's distance ratio.",
            UserWarning,
            stacklevel=3,
        )


def trajectories(
    adata: AnnData,
    model: ActionModel | Mapping[str, ActionModel],
    *,
    condition_key: str | None = None,
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

    The paths are checked against the data: at each observed time they reach after the start,
    each simulated point's distance to the nearest cell observed at that time is divided by the
    typical spacing of the observed cells there (the upper quartile, over its 10 nearest observed
    cells, of each one's distance to its own nearest other cell, so that sparse regions are not
    penalised). A ratio of about 1 or less is what a cell of the observed population would get;
    when more than 10 % of the points lie beyond 3 spacings a ``UserWarning`` says that the paths
    leave the observed cells (where the dynamics are extrapolated, not learned). The ratios are
    stored with the paths (``support``) and drawn by ``scam.pl.trajectories(...,
    show_support=True)``; the share off the data counts each path by the mass it carries (its
    growth weight) at that time.

    Parameters
    ----------
    adata
        The AnnData the model was fitted on (``uns[key_added]`` from :func:`scam.tl.fit`).
    model
        The fitted :class:`~scam.ActionModel`, or the ``dict`` of models that
        ``scam.tl.fit(..., condition_key=...)`` returns: then each condition's paths start from
        its own cells (``n_cells`` of them) and follow its own model, with the same arguments and
        ``random_state`` as a call on that condition's cells alone.
    condition_key
        With a ``dict`` of models: the column of ``adata.obs`` with each cell's condition (the
        keys of ``model``); default: the one the models were fitted with. Every condition in
        ``adata`` needs a model.
    n_cells
        Number of start cells (all of them if fewer are observed); per condition with a ``dict``.
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
    ``(n_cells, n_steps + 1)`` (``exp ∫ g dt``, ``g`` the model's growth rate: the free head, or
    ``λ s``; 1 without growth), ``params`` and ``support``: ``times`` and ``labels`` of the observed
    times checked, the cells' median ``spacing`` there, each path's distance ``ratio``
    ``(n_cells, n_times)``, the ``off_fraction`` of ratios above ``threshold`` (3) per time.

    With a ``dict`` of models, ``uns[key_added]['trajectories']`` holds ``params``
    (``condition_key``, ``conditions``: the names in order) and ``conditions``: per condition
    (``/`` in a name stored as ``_``) the entries above, its ``start_index`` being rows of the
    whole ``adata``. :func:`scam.pl.trajectories` draws one panel per condition.
    """
    key_added = check_key_added(key_added)
    n_cells = check_positive_int("n_cells", n_cells)
    n_steps = check_positive_int("n_steps", n_steps)
    fit_uns(adata, key_added)  # the paths are stored in the fit's record
    random_state = check_seed(random_state)
    stochastic = check_stochastic(stochastic)
    args = {
        "n_cells": n_cells,
        "n_steps": n_steps,
        "t_start": t_start,
        "t_end": t_end,
        "stochastic": stochastic,
        "time_key": time_key,
        "use_rep": use_rep,
        "random_state": random_state,
    }
    per_condition = _condition_models(adata, model, condition_key)
    if per_condition is None:
        result = _paths(adata, model, **args)
        _report_support(result["support"], key_added)
    else:  # every condition's paths, from its own cells with its own model (all checked before any is stored)
        condition_key, groups = per_condition
        results = {}
        for name, rows, m in groups:
            try:
                results[name] = _paths(adata[rows], m, **args)
            except ValueError as err:
                raise ValueError(f"{_where(condition_key, name)}{err}") from None
            results[name]["start_index"] = rows[results[name]["start_index"]].astype(np.int64)  # rows of adata
        for name, res in results.items():
            _report_support(res["support"], key_added, name)
        result = {
            "params": {"condition_key": condition_key, "conditions": list(results)},
            "conditions": {_keys.condition(name): res for name, res in results.items()},
        }
    adata = writable(adata, copy)
    adata.uns[_keys.uns(key_added)][_keys.TRAJECTORIES] = result
    logger.info("added '%s' (adata.uns[%r])", _keys.TRAJECTORIES, key_added)
    return adata if copy else None


def _paths(
    adata: AnnData,
    model: ActionModel,
    *,
    n_cells: int,
    n_steps: int,
    t_start,
    t_end,
    stochastic: bool | None,
    time_key: str | None,
    use_rep: str | None,
    random_state: int,
) -> dict:
    """The paths of :func:`trajectories` of one model from ``adata``'s cells, checked (nothing is written)."""
    time_key, use_rep = model_inputs(adata, model, time_key, use_rep)
    time = model_time(adata, model, time_key, min_cells=0)
    t_start = time_value(time, t_start, "t_start", default=0)
    t_end = time_value(time, t_end, "t_end", default=-1)
    if not np.isfinite(t_start) or not same_time(time.values, t_start, span(time.values)).any():
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
    paths = np.ascontiguousarray(np.asarray(paths).transpose(1, 0, 2))
    times = np.linspace(t_start, t_end, n_steps + 1)
    checked = support(paths, times, X, time, t_start, weights=np.asarray(weights).T)
    return {
        "paths": paths,
        "times": times,
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
        "support": checked,
    }
