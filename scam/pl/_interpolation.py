"""``scam.pl.interpolation``: held-out cells against the cells a method predicted for them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from .. import _keys
from .._time import get_time
from .._validation import check_adata, check_key, check_positive_int, get_rep
from ..tl._utils import embedding_coords, is_exact, knn_map, resolve_basis
from ._utils import check_ax, check_dimensions, chosen_conditions, condition_mask, finish


def _w1(uns: dict, method: str, label: str, condition: str | None = None) -> float | None:
    """Mean W1 of ``method`` at held-out ``label`` (of ``condition``) over seeds, from the results table."""
    res = uns.get("results")
    if not isinstance(res, dict) or not {"method", "held_out", "metric", "value"} <= set(res):
        return None
    sel = (
        (np.asarray(res["method"]).astype(str) == method)
        & (np.asarray(res["held_out"]).astype(str) == label)
        & (np.asarray(res["metric"]).astype(str) == "w1")
    )
    if condition is not None:
        if "condition" not in res:
            return None
        sel &= np.asarray(res["condition"]).astype(str) == condition
    return float(np.mean(np.asarray(res["value"], dtype=float)[sel])) if sel.any() else None


def interpolation(
    adata: AnnData,
    *,
    key: str = "scam_lot",
    method: str = "scam",
    held_out: str | None = None,
    conditions: str | Sequence[str] | None = None,
    basis: str | None = None,
    dimensions: tuple[int, int] = (0, 1),
    n_neighbors: int = 10,
    size: float = 8.0,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Cells observed at a held-out time against the cells a method predicted there.

    Reads the predictions that :func:`scam.tl.leave_one_timepoint_out` stores (first seed; all cells
    of the previous time pushed to the held-out one). Predicted cells are drawn with area
    proportional to their weight (growth); the title gives the method's W1 (mean over seeds).

    Parameters
    ----------
    adata
        The AnnData :func:`scam.tl.leave_one_timepoint_out` ran on (``uns[key]``).
    key
        ``key_added`` of the benchmark.
    method
        Which method's predictions to draw (one of ``uns[key]['predictions']``).
    held_out
        Label of the held-out time (as in the results table); ``None``: every held-out time, one
        panel each (needs ``ax=None`` when there are several).
    conditions
        With a benchmark per condition (``condition_key``): the condition(s) to draw; ``None``:
        all, one row of panels per condition, each condition's observed cells against its
        predictions, titled with its name.
    basis
        ``None``: the benchmark's ``use_rep`` coordinates. An embedding (``obsm[f"X_{basis}"]`` or
        ``obsm[basis]``): observed cells at their embedding coordinates, predicted ones mapped by
        distance-weighted kNN regression from ``use_rep`` (as in :func:`scam.pl.trajectories`);
        exact when the embedding is the leading columns of ``use_rep``.
    dimensions
        Two columns to draw (0-based).
    n_neighbors
        Neighbours of the kNN regression into a non-linear embedding.
    size
        Marker size of a cell of average weight.
    ax
        Axes to draw on (one held-out time); a new figure otherwise.
    show
        Show the figure; default: unless ``ax`` is given or ``return_fig``.
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/interpolation.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/interpolation_eb.png``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes (a list of them for several panels) when not
    shown, else ``None``.
    """
    import matplotlib.pyplot as plt

    check_adata(adata)
    key = check_key("key", key)
    uns = adata.uns.get(key)
    has_runs = isinstance(uns, dict) and (
        isinstance(uns.get("predictions"), dict) or isinstance(uns.get("conditions"), dict)
    )
    if not has_runs or "params" not in uns:
        raise ValueError(
            f"No predictions in adata.uns[{key!r}]; run `scam.tl.leave_one_timepoint_out(adata, ..., "
            f"key_added={key!r})` first."
        )
    params = uns["params"]
    condition_key = params.get("condition_key")
    if condition_key is None:
        if conditions is not None:
            raise ValueError(f"`conditions={conditions!r}`: the benchmark in adata.uns[{key!r}] has no conditions.")
        runs = [(None, np.ones(adata.n_obs, dtype=bool), uns["predictions"], params)]
    else:
        names = [str(c) for c in np.atleast_1d(params["conditions"])]
        chosen = chosen_conditions(names, conditions, f"the benchmark in adata.uns[{key!r}]")
        runs = []
        for name in chosen:
            entry = uns["conditions"][_keys.condition(name)]
            runs.append((name, condition_mask(adata, str(condition_key), name), entry["predictions"], entry["params"]))
    panels = []  # (condition, cells of the condition, its predictions of `method`, held-out label)
    for name, cells, preds, run_params in runs:
        of = "" if name is None else f" for condition {name!r}"
        if method not in preds:
            raise ValueError(
                f"No predictions of method {method!r} in adata.uns[{key!r}]{of}; choose one of {sorted(preds)}."
            )
        # the held-out labels as the user wrote them (prediction keys have '/' replaced, see _keys.prediction)
        known = [str(label) for label in np.atleast_1d(run_params.get("held_out", list(preds[method])))]
        known = [label for label in known if _keys.prediction(label) in preds[method]]
        labels = known if held_out is None else [str(held_out)]
        for label in labels:
            if _keys.prediction(label) not in preds[method]:
                raise ValueError(
                    f"`held_out={held_out!r}` has no predictions for {method!r}{of}; choose one of {known}."
                )
        panels += [(name, cells, preds[method], label) for label in labels]
    if ax is not None and len(panels) > 1:
        what = "held-out times" if condition_key is None else "held-out times of the conditions"
        raise ValueError(
            f"{len(panels)} {what} ({[p[3] for p in panels]}) need one panel each: pass `held_out=`"
            f"{'' if condition_key is None else ' and `conditions=`'} or `ax=None`."
        )
    n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    n_dims = np.asarray(panels[0][2][_keys.prediction(panels[0][3])]["X"]).shape[1]
    X = get_rep(adata, params["use_rep"], n_dims)
    if basis is None:
        E, exact, what = X, True, f"the first {n_dims} columns of adata.obsm[{params['use_rep']!r}]"
        axis_names = [f"{params['use_rep'].removeprefix('X_')}{c + 1}" for c in range(n_dims)]
    else:
        obsm_key = resolve_basis(adata, basis)
        E, what = embedding_coords(adata, obsm_key), f"adata.obsm[{obsm_key!r}]"
        exact = is_exact(X, E)
        axis_names = [f"{obsm_key.removeprefix('X_')}{c + 1}" for c in range(E.shape[1])]
    i, j = check_dimensions(dimensions, E.shape[1], what)
    times = {}  # each condition's time points (its own, as the benchmark read them)
    for name, cells, _, label in panels:
        if name not in times:
            rows = np.flatnonzero(cells) if name is not None else None
            times[name] = get_time(adata, params["time_key"], min_cells=0, rows=rows)
        if label not in times[name].labels:
            of = "" if name is None else f" of condition {name!r}"
            raise ValueError(f"Held-out time {label!r}{of} is not in adata.obs[{params['time_key']!r}] any more.")

    if ax is None:  # one row per condition, one panel per held-out time
        n_rows = len(runs)
        n_cols = max(sum(p[0] == r[0] for p in panels) for r in runs)
        fig, grid = plt.subplots(n_rows, n_cols, figsize=(4.5 * n_cols, 4.2 * n_rows), squeeze=False)
        axes, ax_given = [], False
        for r, (name, *_) in enumerate(runs):
            row = [p for p in panels if p[0] == name]
            axes += list(grid[r, : len(row)])
            for spare in grid[r, len(row) :]:
                spare.set_visible(False)
    else:
        fig, axes, ax_given = check_ax(ax).figure, [ax], True
    for a, (name, cells, preds, label) in zip(axes, panels, strict=True):
        time = times[name]
        at = np.flatnonzero(cells)[time.codes == time.labels.index(label)]
        obs = E[at][:, [i, j]]
        pred = preds[_keys.prediction(label)]
        P = np.asarray(pred["X"], dtype=np.float64)
        w = np.asarray(pred.get("weights", np.ones(len(P))), dtype=np.float64)
        xy = P[:, [i, j]] if exact else knn_map(X[cells], E[cells][:, [i, j]], P, n_neighbors=n_neighbors)
        a.scatter(*obs.T, s=size, c="0.55", alpha=0.5, lw=0, label=f"observed ({len(obs)} cells)")
        pts = a.scatter(*xy.T, s=size * w / w.mean(), c="tab:red", alpha=0.5, lw=0, label=f"predicted: {method}")
        pts.set_gid("scam_predicted")
        a.set_xlabel(axis_names[i])
        a.set_ylabel(axis_names[j])
        w1 = _w1(uns, method, label, name)
        title = f"held out {label}" + ("" if w1 is None else f": W1 = {w1:.3f}")
        a.set_title(title if name is None else f"{name}: {title}")
        a.legend(loc="best", frameon=False, markerscale=2)
    result = axes[0] if len(axes) == 1 else axes
    return finish(fig, result, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="interpolation")
