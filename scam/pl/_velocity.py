"""``scam.pl.velocity``: scam's velocities in an embedding, as streamlines or arrows."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from .. import _keys
from .._validation import check_nonnegative, check_positive, check_positive_int
from ..tl import velocity_embedding
from ..tl._utils import basis_name, embedding_coords, fingerprint, fit_uns, resolve_basis
from ._utils import check_ax, check_dimensions, default_color, draw_background, finish, new_axes

KINDS = ("stream", "grid", "arrows")


def grid_velocity(
    E: np.ndarray, V: np.ndarray, *, n_grid: int = 40, smooth: float = 1.0, min_mass: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Velocities averaged on a regular grid with a Gaussian kernel.

    The grid spans the cells (plus a margin of one grid step) with ``n_grid`` points per axis; the
    kernel's bandwidth is ``smooth`` grid steps. Grid points whose kernel mass (the sum of the
    cells' kernel values, about the number of cells within one bandwidth) is below ``min_mass``
    are set to NaN (no cells nearby).

    Returns
    -------
    ``x`` ``(n_grid,)``, ``y`` ``(n_grid,)``, ``U`` and ``V`` ``(n_grid, n_grid)`` indexed
    ``[y, x]`` as :meth:`matplotlib.axes.Axes.streamplot` expects.
    """
    lo, hi = E.min(0), E.max(0)
    step = (hi - lo) / max(n_grid - 1, 1)
    step = np.where(step > 0, step, 1.0)
    x = np.linspace(lo[0] - step[0], hi[0] + step[0], n_grid)
    y = np.linspace(lo[1] - step[1], hi[1] + step[1], n_grid)
    h = smooth * np.array([x[1] - x[0], y[1] - y[0]])
    # the 2-D Gaussian kernel factorises: K[gy, gx, i] = Ky[gy, i] Kx[gx, i]
    Kx = np.exp(-0.5 * ((x[:, None] - E[None, :, 0]) / h[0]) ** 2)
    Ky = np.exp(-0.5 * ((y[:, None] - E[None, :, 1]) / h[1]) ** 2)
    mass = Ky @ Kx.T
    U = (Ky * V[:, 0]) @ Kx.T
    W = (Ky * V[:, 1]) @ Kx.T
    empty = mass < min_mass
    with np.errstate(invalid="ignore", divide="ignore"):
        U, W = U / mass, W / mass
    U[empty], W[empty] = np.nan, np.nan
    return x, y, U, W


def velocity(
    adata: AnnData,
    *,
    basis: str = "umap",
    kind: str = "stream",
    color: str | None = None,
    dimensions: tuple[int, int] = (0, 1),
    key: str = _keys.DEFAULT_KEY,
    n_neighbors: int = 30,
    n_grid: int = 40,
    smooth: float = 1.0,
    min_mass: float = 1.0,
    n_arrows: int = 500,
    density: float = 1.0,
    arrow_color: str = "black",
    random_state: int = 0,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
    **kwargs,
):
    """Velocities of :func:`scam.tl.fit` in an embedding, over the observed cells.

    Velocities (``obsm['scam_velocity']``, in ``use_rep`` coordinates) are projected into the
    embedding with :func:`scam.tl.velocity_embedding` (exact for PCA-like bases, local linear maps
    otherwise), which is run here when ``obsm[f"{key}_velocity_{basis}"]`` is missing or was made with other
    settings or from other embedding coordinates (e.g. before ``sc.tl.umap`` was rerun; a refit with the same
    ``key_added`` removes the projections of the earlier fit);
    its result can also be drawn with ``scvelo.pl.velocity_embedding_stream(adata, vkey="scam_velocity",
    basis=basis)``.

    Parameters
    ----------
    adata
        AnnData fitted with :func:`scam.tl.fit`.
    basis
        Embedding: ``obsm[f"X_{basis}"]`` or ``obsm[basis]``.
    kind
        ``"stream"``: streamlines of the grid-averaged velocities (:meth:`~matplotlib.axes.Axes.streamplot`);
        ``"grid"``: one arrow per grid point; ``"arrows"``: one arrow per cell, for ``n_arrows``
        cells drawn at random. Grid averages use a Gaussian kernel of ``smooth`` grid steps, and grid
        points with a kernel mass below ``min_mass`` (about that many cells within one bandwidth) are
        left empty.
    color
        Column of ``obs`` (or gene) colouring the observed cells; default: the time key of the fit.
    dimensions
        Two columns of the embedding (0-based).
    key
        ``key_added`` of the fit.
    n_neighbors
        Neighbours of the local linear maps (see :func:`scam.tl.velocity_embedding`).
    n_grid
        Grid points per axis (``"stream"``, ``"grid"``).
    smooth
        Kernel bandwidth in grid steps.
    min_mass
        Grid points with less kernel mass than this are left empty.
    n_arrows
        Cells with an arrow (``"arrows"``).
    density
        Density of streamlines (``"stream"``).
    arrow_color
        Colour of streamlines and arrows.
    random_state
        Seed of the choice of cells with arrows.
    ax
        Axes to draw on (a new figure otherwise).
    show
        Show the figure; default: unless ``ax`` is given or ``return_fig``.
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/velocity.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/velocity_eb.png``).
    **kwargs
        Passed to :func:`scanpy.pl.embedding` for the observed cells.

    Returns
    -------
    The Figure with ``return_fig``, else the Axes when not shown, else ``None``.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown `kind={kind!r}`; choose one of {list(KINDS)}.")
    uns = fit_uns(adata, key)
    vkey = _keys.velocity(key)
    if vkey not in adata.obsm:
        raise ValueError(f"adata.obsm[{vkey!r}] is missing; run `scam.tl.fit(adata, ..., key_added={key!r})` first.")
    n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    n_grid = check_positive_int("n_grid", n_grid)
    if n_grid < 2:
        raise ValueError(f"`n_grid` must be at least 2, got {n_grid}.")
    smooth = check_positive("smooth", smooth)
    min_mass = check_nonnegative("min_mass", min_mass)
    n_arrows = check_positive_int("n_arrows", n_arrows)
    density = check_positive("density", density)
    if ax is not None:  # before the projection below writes into adata
        check_ax(ax)
    obsm_key = resolve_basis(adata, basis)
    E = embedding_coords(adata, obsm_key)
    i, j = check_dimensions(dimensions, E.shape[1], f"adata.obsm[{obsm_key!r}]")
    color = default_color(adata, color, uns["params"])

    name = basis_name(obsm_key)
    out_key = _keys.velocity_embedding(key, name)
    record = uns.get(_keys.VELOCITY_EMBEDDING, {}).get(name)
    fresh = (
        out_key in adata.obsm
        and isinstance(record, dict)
        and record.get("obsm_key") == obsm_key
        and int(record.get("n_neighbors", -1)) == n_neighbors
        and record.get("embedding_hash") == fingerprint(E)
    )
    if not fresh:  # missing, made with other settings or of other coordinates (a refit removes the earlier ones)
        velocity_embedding(adata, basis=obsm_key, key=key, n_neighbors=n_neighbors)
    V = np.asarray(adata.obsm[out_key], dtype=np.float64)[:, [i, j]]
    xy = E[:, [i, j]]

    fig, ax, ax_given = new_axes(ax)
    draw_background(adata, obsm_key, color, (i, j), ax, **kwargs)
    if kind == "arrows":
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(len(xy), min(n_arrows, len(xy)), replace=False))
        q = ax.quiver(*xy[pick].T, *V[pick].T, color=arrow_color, angles="xy", zorder=3, width=0.003)
        q.set_gid("scam_velocity_arrows")
    else:
        gx, gy, U, W = grid_velocity(xy, V, n_grid=n_grid, smooth=smooth, min_mass=min_mass)
        if kind == "grid":
            X, Y = np.meshgrid(gx, gy)
            ok = np.isfinite(U)
            q = ax.quiver(X[ok], Y[ok], U[ok], W[ok], color=arrow_color, angles="xy", zorder=3, width=0.003)
            q.set_gid("scam_velocity_arrows")
        else:
            stream = ax.streamplot(gx, gy, U, W, density=density, color=arrow_color, linewidth=0.8, zorder=3)
            stream.lines.set_gid("scam_velocity_stream")
    if "title" not in kwargs:
        ax.set_title("scam velocity")
    return finish(fig, ax, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="velocity")
