"""``scam.pl.gene_trends``: expression along simulated paths, per fate class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from .. import _keys
from ._utils import category_colors, check_ax, finish


def gene_trends(
    adata: AnnData,
    *,
    genes: str | Sequence[str] | None = None,
    classes: str | Sequence[str] | None = None,
    key: str = _keys.DEFAULT_KEY,
    ncols: int = 3,
    spread: bool = True,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Gene trends of :func:`scam.tl.gene_trends`: mean expression over paths per fate class, ± one std.

    One panel per gene; one line per fate class with a band of ± one standard deviation over
    the paths (growth-weighted), the number of paths in the legend. Each class has the colour scanpy
    gives it on an embedding coloured by the ``groupby`` of :func:`scam.tl.gene_trends`
    (``adata.uns[f"{groupby}_colors"]``, or scanpy's default palette when that is missing).

    Parameters
    ----------
    adata
        AnnData with ``uns[f"{key}_gene_trends"]``.
    genes
        Genes to draw (default: all that were computed).
    classes
        Fate classes to draw (default: all that some path reached).
    key
        ``key_added`` of :func:`scam.tl.gene_trends`.
    ncols
        Panels per row.
    spread
        Draw the ± std band.
    ax
        Axes to draw on (one gene only).
    show
        Show the figure (default: when no ``ax`` is given and not returning it).
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/gene_trends.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/gene_trends_eb.png``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes (one gene) or the array of Axes when
    ``show=False``, else ``None``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(adata, AnnData):
        raise TypeError(f"Expected an AnnData, got {type(adata).__name__}.")
    name = _keys.gene_trends(key)
    if name not in adata.uns or "mean" not in adata.uns[name]:
        raise ValueError(
            f"No gene trends in adata.uns[{name!r}]; run `scam.tl.gene_trends(adata, model, genes)` first."
        )
    res = adata.uns[name]
    all_genes = [str(g) for g in np.asarray(res["genes"])]
    all_classes = [str(c) for c in np.asarray(res["classes"])]
    mean, std = np.asarray(res["mean"], dtype=np.float64), np.asarray(res["std"], dtype=np.float64)
    times, n_paths = np.asarray(res["times"], dtype=np.float64), np.asarray(res["n_paths"])
    if genes is None:
        genes = all_genes
    genes = [genes] if isinstance(genes, str) else [str(g) for g in genes]
    missing = [g for g in genes if g not in all_genes]
    if missing or not genes:
        raise ValueError(
            f"Genes {missing} have no computed trend (computed: {all_genes}); pass them to `scam.tl.gene_trends`."
        )
    if classes is None:
        classes = [c for c, n in zip(all_classes, n_paths, strict=True) if n > 0]
    classes = [classes] if isinstance(classes, str) else [str(c) for c in classes]
    unknown = [c for c in classes if c not in all_classes]
    if unknown or not classes:
        raise ValueError(f"`classes` {unknown} are not fate classes of the trends; choose among {all_classes}.")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"`ncols` must be a positive integer, got {ncols!r}.")

    if ax is not None:
        check_ax(ax)
        if len(genes) != 1:
            raise ValueError(f"`ax` draws one gene, but {len(genes)} were asked for; pass one gene or no `ax`.")
        fig, axes, ax_given = ax.figure, np.array([ax]), True
    else:
        ncols = min(ncols, len(genes))
        nrows = int(np.ceil(len(genes) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.0 * nrows), squeeze=False)
        for extra in axes.ravel()[len(genes) :]:
            extra.set_visible(False)
        axes, ax_given = axes.ravel()[: len(genes)], False
    # scanpy's colours of the groups (uns[f"{groupby}_colors"]), by class, whichever classes are drawn
    groupby = res.get("params", {}).get("groupby")
    colors = dict(zip(all_classes, category_colors(adata, groupby, all_classes), strict=True))
    for a, gene in zip(axes, genes, strict=True):
        g = all_genes.index(gene)
        for cls in classes:
            c = all_classes.index(cls)
            color = colors[cls]
            a.plot(times, mean[c, :, g], color=color, label=f"{cls} (n={int(n_paths[c])})")
            if spread:
                a.fill_between(
                    times, mean[c, :, g] - std[c, :, g], mean[c, :, g] + std[c, :, g], color=color, alpha=0.2
                )
        a.set_title(gene)
        a.set_xlabel(str(res.get("params", {}).get("time_key", "time")))
        a.set_ylabel("expression")
    axes[0].legend(frameon=False, fontsize=8, title="fate")
    return finish(
        fig,
        axes[0] if len(axes) == 1 else axes,
        show=show,
        return_fig=return_fig,
        ax_given=ax_given,
        save=save,
        writekey="gene_trends",
    )
