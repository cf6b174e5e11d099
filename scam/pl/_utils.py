"""Helpers shared by scam's plotting functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from ..tl._utils import basis_name


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


def new_axes(ax, figsize=(5.5, 4.5)):
    """``(fig, ax, ax_given)``: the given Axes and its figure, or a new figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax, False
    return ax.figure, ax, True


def draw_background(adata: AnnData, obsm_key: str, color, dimensions, ax, **kwargs) -> None:
    """Draw the observed cells with ``sc.pl.embedding`` (scanpy's palettes and axis labels)."""
    import matplotlib.pyplot as plt
    import scanpy as sc

    plt.sca(ax)  # scanpy adds its colourbar with pyplot, to the current figure: make it ax's
    # scanpy finds obsm["X_umap"] from "umap" and labels the axes "UMAP1", "UMAP2" (PC1, PC2 for pca)
    basis = basis_name(obsm_key) if obsm_key.startswith("X_") else obsm_key
    kwargs.setdefault("alpha", 0.35)
    kwargs.setdefault("frameon", True)
    sc.pl.embedding(adata, basis=basis, color=color, dimensions=tuple(dimensions), ax=ax, show=False, **kwargs)


def default_color(adata: AnnData, color, params: dict):
    """``color`` or, when ``None``, the time key of the fit (``None`` if that column is gone)."""
    if color is not None:
        return color
    time_key = params.get("time_key")
    return time_key if time_key in adata.obs else None


def finish(fig, ax, *, show: bool | None, return_fig: bool, ax_given: bool):
    """Return as scanpy does: the Figure with ``return_fig``; else show (default: unless ``ax`` was given)."""
    import matplotlib.pyplot as plt

    if return_fig:
        return fig
    if show is None:
        show = not ax_given
    if show:
        plt.show()
        return None
    return ax


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
