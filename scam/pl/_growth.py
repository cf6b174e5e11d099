"""``scam.pl.growth``: the growth rate of each cell in an embedding."""

from __future__ import annotations

import warnings

import numpy as np
from anndata import AnnData

from .. import _keys
from .._validation import check_positive
from ..tl._utils import embedding_coords, fit_uns, resolve_basis
from ._utils import check_dimensions, draw_background, finish, new_axes, time_labels


def growth(
    adata: AnnData,
    *,
    basis: str = "umap",
    dimensions: tuple[int, int] = (0, 1),
    key: str = _keys.DEFAULT_KEY,
    cmap: str = "RdBu_r",
    vmax: float | None = None,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
    **kwargs,
):
    """Growth rate of each cell (``obs['scam_growth']``: the free head ``g``, or ``λ s``), diverging colours at 0.

    Red cells grow (divide faster than they die), blue cells shrink; the colour limits are
    symmetric, ``±vmax``.

    Parameters
    ----------
    adata
        AnnData fitted with :func:`scam.tl.fit` (a fit without growth has 0 everywhere: a
        ``UserWarning`` says so).
    basis
        Embedding: ``obsm[f"X_{basis}"]`` or ``obsm[basis]``.
    dimensions
        Two columns of the embedding (0-based).
    key
        ``key_added`` of the fit.
    cmap
        Diverging colour map.
    vmax
        Colour limit; default: the 99th percentile of ``|growth|`` (robust to a few extreme cells).
    ax
        Axes to draw on (a new figure otherwise).
    show
        Show the figure; default: unless ``ax`` is given or ``return_fig``.
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/growth.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/growth_eb.png``).
    **kwargs
        Passed to :func:`scanpy.pl.embedding` (e.g. ``size``, ``sort_order``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes when not shown, else ``None``.
    """
    uns = fit_uns(adata, key)
    gkey = _keys.growth(key)
    if gkey not in adata.obs:
        raise ValueError(f"adata.obs[{gkey!r}] is missing; run `scam.tl.fit(adata, ..., key_added={key!r})` first.")
    obsm_key = resolve_basis(adata, basis)
    E = embedding_coords(adata, obsm_key)
    i, j = check_dimensions(dimensions, E.shape[1], f"adata.obsm[{obsm_key!r}]")
    g = adata.obs[gkey].to_numpy(dtype=np.float64)
    if vmax is None:
        finite = np.abs(g[np.isfinite(g)])
        vmax = float(np.percentile(finite, 99)) if finite.size else 0.0
        if vmax == 0:
            warnings.warn(
                f"adata.obs[{gkey!r}] is 0 everywhere: the fit learned no growth (growth='none', or a balanced "
                "path such as interpolant='ot'); fit with growth='auto' (the default), 'free' or 'tied' to learn it.",
                UserWarning,
                stacklevel=2,
            )
            vmax = 1.0
    else:
        vmax = check_positive("vmax", vmax)
    fig, ax, ax_given = new_axes(ax)
    kwargs.setdefault("alpha", 1.0)
    kwargs.setdefault("title", "scam growth rate")
    draw_background(adata, obsm_key, gkey, (i, j), ax, cmap=cmap, vmin=-vmax, vmax=vmax, **kwargs)
    cells = ax.collections[-1]
    cells.set_gid("scam_growth")
    time_key = uns["params"].get("time_key", "time")
    unit = "per time step" if time_labels(uns) is not None else f"per unit of {time_key}"
    if cells.colorbar is not None:
        cells.colorbar.set_label(f"growth rate ({unit})")
    return finish(fig, ax, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="growth")
