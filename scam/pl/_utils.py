"""Helpers shared by scam's plotting functions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _io
from ..tl._utils import basis_name

logger = logging.getLogger("scam")

#: Extensions that a string ``save`` may end with to choose the format (scanpy's list).
SAVE_EXTENSIONS = (".svg", ".pdf", ".png")


def check_dimensions(dimensions, n_cols: int, what: str) -> tuple[int, int]:
    """Two distinct column indices (0-based, as scanpy's ``dimensions``) into an array with ``n_cols`` columns."""
    if isinstance(dimensions, np.ndarray):
        dimensions = dimensions.tolist()
    if (
        isinstance(dimensions, (str, bytes))
        or not isinstance(dimensions, Sequence)
        or len(dimensions) != 2
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dimensions)
    ):
        raise ValueError(f"`dimensions` must be two column indices (0-based), e.g. (0, 1); got {dimensions!r}.")
    i, j = (int(d) for d in dimensions)
    if i == j or min(i, j) < 0 or max(i, j) >= n_cols:
        raise ValueError(
            f"`dimensions={dimensions!r}` must be two different columns in 0..{n_cols - 1} of {what}, "
            f"which has {n_cols} columns."
        )
    return i, j


def check_ax(ax):
    """A given ``ax``, checked to be one matplotlib Axes; else a ``ValueError`` that says how to pass one."""
    from matplotlib.axes import Axes

    if isinstance(ax, Axes):
        return ax
    if isinstance(ax, np.ndarray | list | tuple):
        hint = "pass one of them, e.g. `ax=axs[0]` after `fig, axs = plt.subplots(1, 2)`"
    elif hasattr(ax, "add_subplot"):
        hint = "pass an Axes of it, e.g. `ax=fig.add_subplot()`"
    else:
        hint = "pass one (`fig, ax = plt.subplots()`), or `ax=None` for a new figure"
    raise ValueError(f"`ax` must be one matplotlib Axes, got {type(ax).__name__}; {hint}.")


def new_axes(ax, figsize=(5.5, 4.5)):
    """``(fig, ax, ax_given)``: the given Axes and its figure, or a new figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax, False
    return check_ax(ax).figure, ax, True


def draw_background(adata: AnnData, obsm_key: str, color, dimensions, ax, **kwargs) -> None:
    """Draw the observed cells with ``sc.pl.embedding`` (scanpy's palettes and axis labels)."""
    import matplotlib.pyplot as plt
    import scanpy as sc

    plt.sca(ax)  # scanpy adds its colourbar with pyplot, to the current figure: make it ax's
    # scanpy finds obsm["X_umap"] from "umap" and labels the axes "UMAP1", "UMAP2" (PC1, PC2 for pca)
    basis = basis_name(obsm_key) if obsm_key.startswith("X_") else obsm_key
    kwargs.setdefault("alpha", 0.35)
    kwargs.setdefault("frameon", True)
    # never scanpy's own `save`: it would write the figure before scam draws on it (see `finish`)
    kwargs.pop("save", None)
    if kwargs.get("mask_obs") is not None and isinstance(color, str) and color in adata.obs:
        column = adata.obs[color]
        if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            # scanpy masks cells by setting their colour value to NaN, which an integer column cannot hold: draw
            # from a float copy of that one column (and the embedding), not of the whole AnnData
            adata = AnnData(obs=column.astype(np.float64).to_frame(), obsm={obsm_key: adata.obsm[obsm_key]})
    sc.pl.embedding(adata, basis=basis, color=color, dimensions=tuple(dimensions), ax=ax, show=False, **kwargs)


def default_color(adata: AnnData, color, params: dict):
    """``color`` or, when ``None``, the time key of the fit (``None`` if that column is gone)."""
    if color is not None:
        return color
    time_key = params.get("time_key")
    return time_key if time_key in adata.obs else None


def save_path(writekey: str, save: bool | str) -> tuple[Path, str]:
    """Where scanpy's ``save`` puts a figure: ``(path, format)``.

    ``save=True``: ``{sc.settings.figdir}/{writekey}{sc.settings.plot_suffix}.{sc.settings.file_format_figs}``.
    A string is appended to ``writekey``; when it ends with ``.svg``, ``.pdf`` or ``.png`` that extension
    is the format and leaves the name (``save="_eb.png"`` -> ``figures/velocity_eb.png``).
    """
    import scanpy as sc

    if isinstance(save, bool) or not isinstance(save, str):
        if save is not True:
            raise ValueError(f"`save` must be True, False, None or a file-name suffix such as '_eb.png'; got {save!r}.")
        suffix, ext = "", None
    else:
        suffix, ext = save, None
        for try_ext in SAVE_EXTENSIONS:
            if save.endswith(try_ext):
                suffix, ext = save[: -len(try_ext)], try_ext[1:]
                break
    ext = ext or str(sc.settings.file_format_figs)
    return Path(sc.settings.figdir) / f"{writekey}{suffix}{sc.settings.plot_suffix}.{ext}", ext


def savefig(fig, writekey: str, save: bool | str) -> Path:
    """Save the whole ``fig`` (everything drawn on it) where scanpy's ``save`` would; returns the path.

    The folder (``sc.settings.figdir``) is created when missing; the file is written beside its target and
    then swapped in (:mod:`scam._io`), at ``rcParams["savefig.dpi"]``, with a tight bounding box.
    """
    path, ext = save_path(writekey, save)
    path = _io.expand(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger.warning("saving figure to file %s", path)  # at warning level, as scanpy does: the user asked for it
    with _io.replacing(path) as (tmp,):
        fig.savefig(tmp, format=ext, bbox_inches="tight")
    return path


def finish(
    fig,
    ax,
    *,
    show: bool | None,
    return_fig: bool,
    ax_given: bool,
    save: bool | str | None = None,
    writekey: str = "scam",
):
    """Save, then return as scanpy does: the Figure with ``return_fig``; else show (default: unless ``ax`` was given).

    ``save`` (scanpy's semantics, see :func:`save_path`) writes the whole figure once everything is drawn,
    also with ``return_fig``; a figure scam made is closed after saving unless it is returned or shown.
    """
    import matplotlib.pyplot as plt

    if save is not None and save is not False:
        savefig(fig, writekey, save)
    if return_fig:
        return fig
    if show is None:
        show = not ax_given
    if show:
        plt.show()
        return None
    if save is not None and save is not False and not ax_given:
        plt.close(fig)  # as scanpy: a saved figure is not left open (the returned Axes stay usable)
    return ax


def category_colors(adata: AnnData, key: str | None, classes: Sequence[str]) -> list:
    """The colour of each class as scanpy draws the categories of ``adata.obs[key]``.

    ``adata.uns[f"{key}_colors"]`` by category when it has a colour for each; otherwise scanpy's default
    for that many categories (matplotlib's colour cycle when it is long enough, else
    ``scanpy.pl.palettes.default_20``/``28``/``102``). A class that is not a category (or without ``key``)
    takes the colour cycle by its position among ``classes``. A colour never depends on which classes are
    drawn, so a group looks the same here as on the embedding.
    """
    import matplotlib.pyplot as plt

    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    fallback = [cycle[i % len(cycle)] for i in range(len(classes))]
    if key is None or key not in adata.obs.columns:
        return fallback
    col = adata.obs[key]
    if isinstance(col.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in col.cat.categories]
    else:  # scanpy turns strings (and bools) into a categorical with sorted categories before plotting
        categories = [str(c) for c in pd.Categorical(col.astype(str)).categories]
    colors = adata.uns.get(f"{key}_colors")
    if colors is None or len(colors) < len(categories):
        colors = _default_palette(len(categories))
    by_category = dict(zip(categories, list(colors)[: len(categories)], strict=True))
    return [by_category.get(str(c), fallback[i]) for i, c in enumerate(classes)]


def _default_palette(length: int) -> list:
    """The default colours of scanpy for ``length`` categories (``_set_default_colors_for_categorical_obs``)."""
    import matplotlib.pyplot as plt
    from scanpy.plotting import palettes

    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", [])
    if len(cycle) >= length:
        return list(cycle[:length])
    for palette in (palettes.default_20, palettes.default_28, palettes.default_102):
        if length <= len(palette):
            return list(palette[:length])
    return ["grey"] * length


def time_labels(uns: dict) -> tuple[np.ndarray, list[str]] | None:
    """Values and labels of the observed times when they are named (ordered categorical), else ``None``."""
    info = uns.get("time")
    if not isinstance(info, dict) or "labels" not in info or "values" not in info:
        return None
    values = np.asarray(info["values"], dtype=np.float64)
    labels = [str(label) for label in np.asarray(info["labels"])]
    if labels == [f"{v:g}" for v in values]:
        return None
    return values, labels


def chosen_conditions(names: Sequence[str], conditions, where: str) -> list[str]:
    """The conditions to draw: all of ``names`` (``conditions=None``) or those given (a name or a list), checked."""
    if conditions is None:
        return list(names)
    chosen = [conditions] if isinstance(conditions, str) else [str(c) for c in conditions]
    unknown = [c for c in chosen if c not in names]
    if unknown or not chosen:
        raise ValueError(f"`conditions={conditions!r}`: {where} has the conditions {list(names)}; choose among them.")
    return chosen


def panel_grid(n: int, ax, panel_size: tuple[float, float], *, what: str, ncols: int = 4):
    """``(fig, axes, ax_given)``: ``n`` panels, ``ncols`` a row as in scanpy (spare axes hidden), or the given ``ax``.

    A given ``ax`` holds one panel only: with more, the error names ``what`` they are (``"3 conditions"``).
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        check_ax(ax)
        if n > 1:
            raise ValueError(f"{what} need one panel each: pass `ax=None`, or choose one with `conditions=`.")
        return ax.figure, [ax], True
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    size = (panel_size[0] * ncols, panel_size[1] * nrows)
    # room between panels for what scam and scanpy draw beside each (legends, colourbars, a twin axis)
    fig, grid = plt.subplots(nrows, ncols, figsize=size, squeeze=False, gridspec_kw={"wspace": 0.6, "hspace": 0.45})
    axes = list(grid.ravel())
    for spare in axes[n:]:
        spare.set_visible(False)
    return fig, axes[:n], False


def condition_mask(adata: AnnData, condition_key: str, name: str) -> np.ndarray:
    """Which cells of ``adata`` are of condition ``name`` (raises when the column is gone)."""
    if condition_key not in adata.obs.columns:
        raise ValueError(
            f"adata.obs[{condition_key!r}], the conditions of these results, is gone; restore it to draw them."
        )
    return (adata.obs[condition_key].astype(str) == name).to_numpy()
