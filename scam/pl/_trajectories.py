"""``scam.pl.trajectories``: simulated paths of cells over the observed cells."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from .. import _keys
from .._validation import check_positive, check_positive_int, get_rep
from ..tl._utils import embedding_coords, fit_uns, is_exact, knn_map, path_positions, resolve_basis
from ._utils import (
    check_dimensions,
    chosen_conditions,
    condition_mask,
    default_color,
    draw_background,
    finish,
    panel_grid,
    time_labels,
)

#: Line widths of weighted paths are ``linewidth × weight``, the weight clipped to this range.
WEIGHT_CLIP = (0.2, 5.0)


def trajectories(
    adata: AnnData,
    *,
    basis: str = "umap",
    color: str | None = None,
    n_trajectories: int | None = 100,
    dimensions: tuple[int, int] = (0, 1),
    key: str = _keys.DEFAULT_KEY,
    n_neighbors: int = 10,
    scale_by_weight: bool | None = None,
    linewidth: float = 1.0,
    cmap: str = "plasma",
    show_support: bool = False,
    conditions: str | Sequence[str] | None = None,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
    **kwargs,
):
    """Simulated paths of :func:`scam.tl.trajectories` drawn over the observed cells.

    The observed cells are drawn lightly with :func:`scanpy.pl.embedding`, coloured by ``color``;
    each simulated path is drawn on top as a line whose colour runs along ``cmap`` with the
    simulated time (colourbar), with a dot at its start cell. With growth, each segment's width is
    ``linewidth`` times the particle's mass multiplier (its weight, clipped to ``[0.2, 5]``).

    Paths live in ``use_rep`` coordinates. When the embedding is ``use_rep`` itself or its leading
    columns (``basis="pca"`` after a fit on ``X_pca``), they are drawn exactly. For any other
    embedding (UMAP, PHATE, …) every path point is mapped by distance-weighted k-nearest-neighbour
    regression: the embedding coordinates of its ``n_neighbors`` nearest observed cells (in the
    modelled ``use_rep`` coordinates), averaged with weights ``1 / distance``. A point on a cell
    maps to that cell exactly; points stay within the region the embedding covers.

    Paths of :func:`scam.tl.trajectories` with the ``dict`` of models of
    ``scam.tl.fit(..., condition_key=...)`` are drawn as scanpy draws several keys: one panel per
    condition (four a row), each with that condition's paths over its own cells (the other
    conditions' cells in grey, as scanpy's ``mask_obs`` draws them), mapped into the embedding
    among its own cells, and titled with its name.

    Parameters
    ----------
    adata
        AnnData with ``uns[key]['trajectories']`` from :func:`scam.tl.trajectories`.
    basis
        Embedding to draw in: ``obsm[f"X_{basis}"]`` or ``obsm[basis]``.
    color
        Column of ``obs`` (or gene) colouring the observed cells; default: the time key of the fit.
    n_trajectories
        Draw this many of the stored paths (evenly spread over them); ``None``: all.
    dimensions
        Two columns of the embedding to draw (0-based, as in :func:`scanpy.pl.embedding`).
    key
        ``key_added`` of the fit and of :func:`scam.tl.trajectories`.
    n_neighbors
        Neighbours of the kNN regression into a non-linear embedding.
    scale_by_weight
        Line width proportional to the particle weight; ``None``: when the weights vary (growth).
    linewidth
        Line width of a path of weight 1.
    cmap
        Colour map of the simulated time along the paths.
    show_support
        Mark, on the drawn paths, the points at observed times that lie off the observed cells
        (farther from every cell observed then than 3 times their typical spacing; see
        :func:`scam.tl.trajectories`) with red crosses, and give their share in the title. In a
        non-linear embedding the points are placed by kNN regression, that is among their nearest
        cells: the crosses tell which paths left the data and when, not how far.
    conditions
        With paths per condition: the condition(s) to draw, one panel each; ``None``: all.
    ax
        Axes to draw on (a new figure otherwise); one panel only (choose one condition).
    show
        Show the figure; default: unless ``ax`` is given or ``return_fig``.
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/trajectories.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/trajectories_eb.png``).
    **kwargs
        Passed to :func:`scanpy.pl.embedding` for the observed cells (e.g. ``size``, ``alpha``,
        ``palette``, ``legend_loc``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes (a list of them for several conditions) when not
    shown, else ``None``.
    """
    import matplotlib.pyplot as plt

    uns = fit_uns(adata, key)
    traj = uns.get(_keys.TRAJECTORIES)
    if not isinstance(traj, dict) or ("paths" not in traj and "conditions" not in traj):
        raise ValueError(
            f"No simulated paths in adata.uns[{key!r}]['trajectories']; run `scam.tl.trajectories(adata, model)` first."
        )
    if n_trajectories is not None:
        n_trajectories = check_positive_int("n_trajectories", n_trajectories)
    n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    linewidth = check_positive("linewidth", linewidth)
    cmap = plt.get_cmap(cmap)
    obsm_key = resolve_basis(adata, basis)
    E = embedding_coords(adata, obsm_key)
    i, j = check_dimensions(dimensions, E.shape[1], f"adata.obsm[{obsm_key!r}]")
    if "conditions" in traj:  # one panel per condition: its paths over its cells (the others in grey)
        condition_key = str(traj["params"]["condition_key"])
        names = [str(c) for c in np.atleast_1d(traj["params"]["conditions"])]
        chosen = chosen_conditions(names, conditions, f"adata.uns[{key!r}]['trajectories']")
        if "mask_obs" in kwargs:
            raise ValueError(
                "`mask_obs`: each panel shows its condition's cells; choose conditions with `conditions=`."
            )
        panels = [
            (name, traj["conditions"][_keys.condition(name)], condition_mask(adata, condition_key, name))
            for name in chosen
        ]
    else:
        if conditions is not None:
            raise ValueError(
                f"`conditions={conditions!r}`: the paths in adata.uns[{key!r}]['trajectories'] are of one model; "
                "pass the dict of models of `scam.tl.fit(..., condition_key=...)` to `scam.tl.trajectories` for "
                "paths per condition."
            )
        panels = [(None, traj, None)]
    for _, one, _ in panels:
        n_dims = np.asarray(one["paths"]).shape[2]
        if show_support:
            _support_of(one, key)
        if is_exact(get_rep(adata, one["params"]["use_rep"], None), E) and max(i, j) >= n_dims:
            raise ValueError(
                f"`dimensions={dimensions!r}`: the paths have only {n_dims} modelled dimensions; choose columns "
                f"below {n_dims}."
            )
    color = default_color(adata, color, uns["params"])
    fig, axes, ax_given = panel_grid(len(panels), ax, (5.5, 4.5), what=f"{len(panels)} conditions")
    for a, (name, one, mask) in zip(axes, panels, strict=True):
        drawn = _draw(
            adata,
            one,
            a,
            mask=mask,
            obsm_key=obsm_key,
            E=E,
            dims=(i, j),
            color=color,
            n_trajectories=n_trajectories,
            n_neighbors=n_neighbors,
            scale_by_weight=scale_by_weight,
            linewidth=linewidth,
            cmap=cmap,
            show_support=show_support,
            key=key,
            **kwargs,
        )
        time_key = uns["params"].get("time_key", "time")
        # below the axes: the right margin holds scanpy's legend or colourbar of `color`
        cbar = fig.colorbar(
            drawn["lines"], ax=a, location="bottom", shrink=0.8, pad=0.12, label=f"simulated time ({time_key})"
        )
        named = time_labels(uns if name is None else uns["conditions"][_keys.condition(name)])
        if named is not None:  # ordered categorical times: ticks at the observed times, with their names
            cbar.set_ticks(named[0], labels=named[1], fontsize="x-small")
        if "title" not in kwargs:
            title = f"scam trajectories ({drawn['n_paths']} cells)"
            if name is not None:
                title = f"{name}: {title}"
            if drawn["off_share"] is not None:
                title += f"\n{100 * drawn['off_share']:.0f} % of the points at observed times off the data"
            a.set_title(title)
    result = axes[0] if len(axes) == 1 else axes
    return finish(fig, result, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="trajectories")


def _draw(
    adata: AnnData,
    traj: dict,
    ax,
    *,
    mask: np.ndarray | None,
    obsm_key: str,
    E: np.ndarray,
    dims: tuple[int, int],
    color,
    n_trajectories: int | None,
    n_neighbors: int,
    scale_by_weight: bool | None,
    linewidth: float,
    cmap,
    show_support: bool,
    key: str,
    **kwargs,
) -> dict:
    """Draw one set of paths (of one model) over the cells in ``mask`` (all: ``None``; the others in grey).

    Returns the paths' ``lines``, the number of paths drawn and the share of their points off the data.
    """
    from matplotlib.collections import LineCollection

    i, j = dims
    paths, times = np.asarray(traj["paths"], dtype=np.float64), np.asarray(traj["times"], dtype=np.float64)
    weights = np.asarray(traj["weights"], dtype=np.float64)
    use_rep = traj["params"]["use_rep"]
    n_paths, n_points, n_dims = paths.shape
    pick = np.arange(n_paths)
    if n_trajectories is not None and n_trajectories < n_paths:
        pick = np.unique(np.linspace(0, n_paths - 1, n_trajectories).round().astype(int))
    paths, weights = paths[pick], weights[pick]
    cells = slice(None) if mask is None else mask  # the cells the paths are mapped among: the model's own
    X = get_rep(adata, use_rep, n_dims)[cells]
    E2 = E[cells][:, [i, j]]
    exact = is_exact(get_rep(adata, use_rep, None), E)
    if exact:
        xy = paths[:, :, [i, j]]
    else:
        flat = paths.reshape(-1, n_dims)
        xy = knn_map(X, E2, flat, n_neighbors=n_neighbors).reshape(len(pick), n_points, 2)

    if scale_by_weight is None:
        scale_by_weight = not np.allclose(weights, 1.0)
    if mask is not None:  # the other conditions' cells in grey, not in the legend
        kwargs["mask_obs"] = mask
        kwargs.setdefault("na_in_legend", False)
    draw_background(adata, obsm_key, color, (i, j), ax, **kwargs)

    segments = np.stack([xy[:, :-1], xy[:, 1:]], axis=2).reshape(-1, 2, 2)
    seg_time = np.broadcast_to(0.5 * (times[:-1] + times[1:]), (len(pick), n_points - 1)).ravel()
    lines = LineCollection(segments, cmap=cmap, capstyle="round", zorder=3, label="simulated paths")
    lines.set_array(seg_time)
    lines.set_clim(min(times[0], times[-1]), max(times[0], times[-1]))
    if scale_by_weight:
        seg_w = 0.5 * (weights[:, :-1] + weights[:, 1:])
        lines.set_linewidths(linewidth * np.clip(seg_w, *WEIGHT_CLIP).ravel())
    else:
        lines.set_linewidths(linewidth)
    lines.set_gid("scam_trajectories")
    ax.add_collection(lines)
    off_share = None
    if show_support:
        off_share = _draw_support(ax, traj, _support_of(traj, key), pick, X, E2, (i, j), exact, n_neighbors)
    starts = ax.scatter(xy[:, 0, 0], xy[:, 0, 1], s=10, c="black", zorder=4, label="start cells")
    starts.set_gid("scam_trajectory_starts")
    ax.autoscale_view()
    return {"lines": lines, "n_paths": len(pick), "off_share": off_share}


def _support_of(traj: dict, key: str) -> dict:
    """The support check stored with the paths (raises for paths from an older scam)."""
    checked = traj.get("support")
    if not isinstance(checked, dict) or "ratio" not in checked:
        raise ValueError(
            f"adata.uns[{key!r}]['trajectories'] has no support check (written by an older scam); rerun "
            "`scam.tl.trajectories(adata, model)`, or pass show_support=False."
        )
    return checked


def _draw_support(ax, traj, checked, pick, X, E2, dims, exact: bool, n_neighbors: int) -> float | None:
    """Red crosses where the drawn paths are off the observed cells at observed times; their share (or None)."""
    ratio = np.asarray(checked["ratio"], dtype=np.float64)[pick]
    if ratio.size == 0:
        return None
    paths = np.asarray(traj["paths"], dtype=np.float64)[pick]
    times = np.asarray(traj["times"], dtype=np.float64)
    off = ratio > float(checked["threshold"])
    points = np.concatenate([path_positions(paths, times, float(t))[off[:, c]] for c, t in enumerate(checked["times"])])
    if len(points):
        xy = points[:, list(dims)] if exact else knn_map(X, E2, points, n_neighbors=n_neighbors)
        marks = ax.scatter(
            xy[:, 0], xy[:, 1], marker="x", s=25, c="red", linewidths=1.2, zorder=5, label="off the observed cells"
        )
        marks.set_gid("scam_trajectory_off_support")
    return float(off.mean())
