"""``scam.pl.fate`` and ``scam.pl.transitions``: fate probabilities and class-to-class flows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._validation import class_order
from ._utils import chosen_conditions, condition_mask, finish, new_axes, panel_grid


def _check_fmt(annotate) -> str | None:
    if annotate is None or annotate is False:
        return None
    if not isinstance(annotate, str):
        raise ValueError(f"`annotate` must be a format string such as '{{:.2f}}' or None, got {annotate!r}.")
    try:
        annotate.format(0.5)
    except (ValueError, IndexError, KeyError) as e:
        raise ValueError(f"`annotate={annotate!r}` is not a format string for one number, e.g. '{{:.2f}}'.") from e
    return annotate


def heatmap(
    ax, matrix: np.ndarray, rows, cols, *, annotate: str | None, cmap, vmax, cbar_label: str, xlabel: str, ylabel: str
):
    """Draw ``matrix`` as an annotated heatmap with a colourbar; returns the image."""
    import matplotlib.pyplot as plt

    im = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(cols)), [str(c) for c in cols], rotation=45 if len(cols) > 3 else 0, ha="right")
    ax.set_yticks(np.arange(len(rows)), [str(r) for r in rows])
    if len(cols) <= 3:
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("center")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if annotate is not None:
        cm = plt.get_cmap(cmap)
        for (i, j), value in np.ndenumerate(matrix):
            if not np.isfinite(value):
                continue
            r, g, b, _ = cm(im.norm(value))
            color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            ax.text(j, i, annotate.format(value), ha="center", va="center", color=color, fontsize=9)
    ax.figure.colorbar(im, ax=ax, label=cbar_label)
    return im


def _fate_results(adata, key: str) -> tuple[np.ndarray, list[str], dict]:
    if not isinstance(adata, AnnData):
        raise TypeError(f"Expected an AnnData, got {type(adata).__name__}.")
    name = _keys.fate(key)
    if name not in adata.obsm or name not in adata.uns or "classes" not in adata.uns[name]:
        raise ValueError(f"No fate probabilities in adata.obsm[{name!r}]; run `scam.tl.fate(adata, model, ...)` first.")
    probs = np.asarray(adata.obsm[name], dtype=np.float64)
    classes = [str(c) for c in np.asarray(adata.uns[name]["classes"])]
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"adata.obsm[{name!r}] does not match adata.uns[{name!r}]['classes']; rerun `scam.tl.fate`.")
    return probs, classes, dict(adata.uns[name].get("params", {}))


def fate(
    adata: AnnData,
    *,
    groupby: str | None = None,
    basis: str | None = None,
    fate_class: str | None = None,
    key: str = _keys.DEFAULT_KEY,
    conditions: str | Sequence[str] | None = None,
    annotate: str | None = "{:.2f}",
    cmap: str = "viridis",
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Fate probabilities of :func:`scam.tl.fate`: mean per group (heatmap) or per cell (scatter).

    Without ``basis``: a heatmap of the mean fate probability of the source cells of each
    ``groupby`` group (rows) for each fate class (columns), values annotated. With ``basis``: the
    cells on ``obsm[basis]`` (first two columns), the source cells coloured by their probability
    of ``fate_class`` and the others in grey.

    Fates computed per condition (:func:`scam.tl.fate` with the ``dict`` of models of
    ``scam.tl.fit(..., condition_key=...)``) give one heatmap per condition, as scanpy draws
    several keys: its source cells, and the classes its cells reach. The scatter shows every
    condition's source cells on one embedding.

    Parameters
    ----------
    adata
        AnnData with the results of :func:`scam.tl.fate`.
    groupby
        Column of ``adata.obs`` grouping the source cells into rows (heatmap); default: the
        ``groupby`` of the fate computation when the source cells have labels in it, else one row.
    basis
        Embedding to draw the cells on, ``obsm[basis]`` or ``obsm[f"X_{basis}"]`` (``"umap"`` or
        ``"X_umap"``); switches to the scatter.
    fate_class
        Class whose probability colours the cells (scatter); default: the first class.
    key
        ``key_added`` of :func:`scam.tl.fate`.
    conditions
        With fates per condition: the condition(s) whose heatmap to draw; ``None``: all.
    annotate
        Format of the values written in the heatmap cells; ``None`` for none.
    cmap
        Colour map.
    ax
        Axes to draw on (a new figure otherwise).
    show
        Show the figure (default: when no ``ax`` is given and not returning it).
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/fate.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/fate_eb.png``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes (a list of them for several conditions) when
    ``show=False``, else ``None``.
    """
    probs, classes, params = _fate_results(adata, key)
    annotate = _check_fmt(annotate)
    src = np.flatnonzero(np.isfinite(probs).all(1))
    if basis is not None:
        if isinstance(basis, str) and basis not in adata.obsm and f"X_{basis}" in adata.obsm:
            basis = f"X_{basis}"  # "umap" names obsm["X_umap"], as in the other plots
        if not isinstance(basis, str) or basis not in adata.obsm:
            keys = ", ".join(map(repr, adata.obsm.keys())) or "none"
            raise ValueError(f"`basis={basis!r}` is not in adata.obsm (available: {keys}); run e.g. `sc.tl.umap`.")
        coords = np.asarray(adata.obsm[basis])
        if coords.ndim != 2 or coords.shape[1] < 2:
            raise ValueError(f"adata.obsm[{basis!r}] needs at least two columns to draw, got shape {coords.shape}.")
        fate_class = classes[0] if fate_class is None else str(fate_class)
        if fate_class not in classes:
            raise ValueError(f"`fate_class={fate_class!r}` is not a fate class; choose one of {classes}.")
        fig, ax, ax_given = new_axes(ax, (5.5, 4.5))
        rest = np.setdiff1d(np.arange(adata.n_obs), src)
        ax.scatter(coords[rest, 0], coords[rest, 1], s=4, color="0.85", label="other cells", rasterized=True)
        sc = ax.scatter(
            coords[src, 0],
            coords[src, 1],
            c=probs[src, classes.index(fate_class)],
            cmap=cmap,
            vmin=0.0,
            vmax=1.0,
            s=8,
            rasterized=True,
        )
        fig.colorbar(sc, ax=ax, label=f"P(fate = {fate_class})")
        ax.set_xlabel(f"{basis}1")
        ax.set_ylabel(f"{basis}2")
        ax.set_title(f"Fate {fate_class} of cells at {params.get('source_label', '')}".rstrip())
        return finish(fig, ax, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="fate")

    if groupby is None:
        default = params.get("groupby")
        if default in adata.obs and not adata.obs[default].iloc[src].isna().any():
            groupby = default
    if groupby is not None:
        if not isinstance(groupby, str) or groupby not in adata.obs.columns:
            raise ValueError(f"`groupby={groupby!r}` is not a column of adata.obs.")
        if adata.obs[groupby].iloc[src].isna().any():
            raise ValueError(f"adata.obs[{groupby!r}] has missing labels among the source cells; fill them.")
    condition_key = params.get("condition_key")
    if condition_key is None:  # one heatmap
        if conditions is not None:
            raise ValueError(
                f"`conditions={conditions!r}`: the fates in adata.obsm are of one model, not per condition."
            )
        panels = [(None, src, classes, params)]
    else:  # one heatmap per condition: its source cells and the classes it reaches
        names = [str(c) for c in np.atleast_1d(params["conditions"])]
        per = adata.uns[_keys.fate(key)]["conditions"]
        panels = []
        for name in chosen_conditions(names, conditions, "the fates"):
            entry = per[_keys.condition(name)]
            own = [str(c) for c in np.asarray(entry["classes"])]
            rows = src[condition_mask(adata, str(condition_key), name)[src]]
            panels.append((name, rows, own, dict(entry.get("params", {}))))
    tables = []
    for name, rows_src, own, p in panels:
        cols = [classes.index(c) for c in own]
        if groupby is None:
            rows, matrix = ["all"], probs[np.ix_(rows_src, cols)].mean(0, keepdims=True)
        else:
            labels = adata.obs[groupby].iloc[rows_src]
            order = class_order(labels)
            labels = labels.astype(str).to_numpy()
            rows = [r for r in order if r in set(labels)]
            matrix = np.stack([probs[np.ix_(rows_src[labels == r], cols)].mean(0) for r in rows])
        tables.append((name, rows, own, matrix, p))
    n_cols, n_rows = max(len(t[2]) for t in tables), max(len(t[1]) for t in tables)
    size = (1.1 * n_cols + 2.5, 0.5 * n_rows + 1.8)
    fig, axes, ax_given = panel_grid(len(tables), ax, size, what=f"{len(tables)} conditions")
    for a, (name, rows, own, matrix, p) in zip(axes, tables, strict=True):
        heatmap(
            a,
            matrix,
            rows,
            own,
            annotate=annotate,
            cmap=cmap,
            vmax=1.0,
            cbar_label="mean fate probability",
            xlabel=f"fate at {p.get('target_label', 'target')}",
            ylabel=f"{groupby or 'cells'} at {p.get('source_label', 'source')}",
        )
        a.set_title("Fate probabilities" if name is None else f"{name}: fate probabilities")
    result = axes[0] if len(axes) == 1 else axes
    return finish(fig, result, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="fate")


def _transition_table(res: dict) -> tuple[pd.DataFrame, dict]:
    """One stored transition matrix as a DataFrame, and its params."""
    params = dict(res.get("params", {}))
    group = params.get("groupby", "")
    table = pd.DataFrame(
        np.asarray(res["matrix"], dtype=np.float64),
        index=pd.Index(
            [str(c) for c in np.asarray(res["source_classes"])],
            name=f"{group} at {params.get('source_label', 'source')}",
        ),
        columns=pd.Index(
            [str(c) for c in np.asarray(res["target_classes"])],
            name=f"{group} at {params.get('target_label', 'target')}",
        ),
    )
    return table, params


def _transition_results(adata, key: str, conditions) -> list[tuple[str | None, pd.DataFrame]]:
    """``(condition, matrix)`` to draw: one without conditions, else one per chosen condition."""
    if isinstance(adata, pd.DataFrame):
        tables = [(None, adata)]
    elif isinstance(adata, Mapping) and adata and all(isinstance(t, pd.DataFrame) for t in adata.values()):
        tables = [(str(c), t) for c, t in adata.items()]  # the dict of scam.tl.transition_matrix per condition
    elif not isinstance(adata, AnnData):
        raise TypeError(
            "Expected an AnnData or the DataFrame (or dict of DataFrames) of scam.tl.transition_matrix, got "
            f"{type(adata).__name__}."
        )
    else:
        name = _keys.transitions(key)
        res = adata.uns.get(name)
        if not isinstance(res, Mapping) or ("matrix" not in res and "conditions" not in res):
            raise ValueError(
                f"No transition matrix in adata.uns[{name!r}]; run `scam.tl.transition_matrix(adata, model, ...)` "
                "first."
            )
        if "conditions" in res:
            names = [str(c) for c in np.atleast_1d(res["params"]["conditions"])]
            tables = [(c, _transition_table(res["conditions"][_keys.condition(c)])[0]) for c in names]
        else:
            tables = [(None, _transition_table(res)[0])]
    if tables[0][0] is None:
        if conditions is not None:
            raise ValueError(f"`conditions={conditions!r}`: the transition matrix is of one model, not per condition.")
        return tables
    chosen = chosen_conditions([c for c, _ in tables], conditions, "the transition matrices")
    return [(c, t) for c, t in tables if c in chosen]


def transitions(
    adata: AnnData | pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    key: str = _keys.DEFAULT_KEY,
    conditions: str | Sequence[str] | None = None,
    normalize: bool = False,
    annotate: str | None = "{:.2f}",
    cmap: str = "viridis",
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Heatmap of the class-to-class transition matrix of :func:`scam.tl.transition_matrix`.

    Parameters
    ----------
    adata
        AnnData with ``uns[f"{key}_transitions"]``, or the DataFrame the tool returned (the
        ``dict`` of DataFrames with a model per condition).
    key
        ``key_added`` of :func:`scam.tl.transition_matrix`.
    conditions
        With matrices per condition (``scam.tl.transition_matrix`` with the ``dict`` of models of
        ``scam.tl.fit(..., condition_key=...)``): the condition(s) to draw, one panel each (as
        scanpy draws several keys); ``None``: all.
    normalize
        Divide each row by its sum: the probability of each target class given the source
        class (moscot's ``forward=True``). Default: the shares of all source cells (rows sum to
        the source class's share).
    annotate
        Format of the values written in the cells; ``None`` for none.
    cmap
        Colour map.
    ax
        Axes to draw on (a new figure otherwise).
    show
        Show the figure (default: when no ``ax`` is given and not returning it).
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/transitions.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/transitions_eb.png``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes (a list of them for several conditions) when
    ``show=False``, else ``None``.
    """
    tables = _transition_results(adata, key, conditions)
    annotate = _check_fmt(annotate)
    n_rows = max(t.shape[0] for _, t in tables)
    n_cols = max(t.shape[1] for _, t in tables)
    size = (1.1 * n_cols + 2.5, 0.5 * n_rows + 1.8)
    fig, axes, ax_given = panel_grid(len(tables), ax, size, what=f"{len(tables)} conditions")
    for a, (name, table) in zip(axes, tables, strict=True):
        matrix = table.to_numpy(dtype=np.float64)
        if normalize:
            sums = matrix.sum(1, keepdims=True)
            matrix = np.divide(matrix, sums, out=np.full_like(matrix, np.nan), where=sums > 0)
        vmax = 1.0 if normalize else max(float(np.nanmax(matrix)) if matrix.size else 1.0, 1e-12)
        heatmap(
            a,
            matrix,
            list(table.index),
            list(table.columns),
            annotate=annotate,
            cmap=cmap,
            vmax=vmax,
            cbar_label="P(target class | source class)" if normalize else "share of source cells",
            xlabel=str(table.columns.name or "target"),
            ylabel=str(table.index.name or "source"),
        )
        a.set_title("Transitions" if name is None else f"{name}: transitions")
    result = axes[0] if len(axes) == 1 else axes
    return finish(fig, result, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="transitions")
