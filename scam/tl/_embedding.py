"""``scam.tl.velocity_embedding``: project scam's velocities (and points) into a 2-D embedding."""

from __future__ import annotations

import logging

import numpy as np
from anndata import AnnData

from .. import _keys
from .._validation import check_adata, check_positive_int, get_rep, writable
from ._utils import SelfNeighbors, basis_name, embedding_coords, fingerprint, fit_uns, is_exact, resolve_basis

logger = logging.getLogger("scam")

#: Singular values below this fraction of the largest one are ignored in the local fits (noise directions).
RCOND = 1e-3
#: Cells per batch of local least-squares fits (bounds memory).
_CHUNK = 4096


def local_jacobians(
    X: np.ndarray, E: np.ndarray, *, n_neighbors: int = 30, neighbors: SelfNeighbors | None = None
) -> np.ndarray:
    """Per-cell Jacobian ``J_i`` (``(n, m, d)``) of the embedding with respect to the representation.

    For each cell, the embedding coordinates of its ``n_neighbors`` nearest cells (itself
    included, neighbours found in ``X``) are regressed on their representation coordinates by least
    squares with an intercept; the slope is ``J_i``. Directions in which the neighbourhood spreads by
    less than ``RCOND`` times its largest spread are left out (minimum-norm solution). ``neighbors``: the
    search of ``X`` to take them from (shared with other uses of the same cells).
    """
    n, d = X.shape
    idx = (SelfNeighbors(X) if neighbors is None else neighbors)(n_neighbors)
    J = np.empty((n, E.shape[1], d))
    for lo in range(0, n, _CHUNK):
        nb = idx[lo : lo + _CHUNK]
        A = X[nb] - X[nb].mean(1, keepdims=True)  # (c, k, d)
        B = E[nb] - E[nb].mean(1, keepdims=True)  # (c, k, m)
        J[lo : lo + _CHUNK] = np.swapaxes(np.linalg.pinv(A, rcond=RCOND) @ B, 1, 2)
    return J


def project_velocity(
    X: np.ndarray, E: np.ndarray, V: np.ndarray, *, n_neighbors: int = 30, neighbors: SelfNeighbors | None = None
) -> np.ndarray:
    """Velocities ``V`` (in ``X`` coordinates) in the embedding ``E``: exact for leading columns, else ``J_i v_i``."""
    if is_exact(X, E):
        return V[:, : E.shape[1]].copy()
    return np.einsum("nmd,nd->nm", local_jacobians(X, E, n_neighbors=n_neighbors, neighbors=neighbors), V)


def velocity_embedding(
    adata: AnnData,
    *,
    basis: str = "umap",
    key: str = _keys.DEFAULT_KEY,
    n_neighbors: int = 30,
    copy: bool = False,
) -> AnnData | None:
    """Project the velocities of :func:`scam.tl.fit` into an embedding (like ``scvelo.tl.velocity_embedding``).

    scam's velocities live in ``use_rep`` coordinates (``obsm['scam_velocity']``). When the
    embedding is ``use_rep`` itself or its leading columns (e.g. ``basis="pca"`` for a fit on
    ``X_pca``), the projection is exact: the velocity's leading columns. For any other embedding
    (UMAP, PHATE, …) a local linear map is used: for each cell, the embedding coordinates of its
    ``n_neighbors`` nearest cells (neighbours in the modelled ``use_rep`` coordinates) are fitted by
    least squares on their ``use_rep`` coordinates, and the slope ``J_i`` (the local Jacobian of the
    embedding) maps the velocity: ``v_emb_i = J_i v_i``. This is exact when the embedding is a
    linear function of the representation, and a first-order approximation otherwise.

    scvelo's plots (``scv.pl.velocity_embedding_stream(adata, vkey="scam_velocity", basis=...)``)
    draw this projection as it is once :func:`scam.tl.velocity_graph` has run: the basis is listed
    in ``uns['scam_velocity_params']['embeddings']``, which tells scvelo not to recompute it.
    ``scv.tl.velocity_embedding`` computes its own from the graph instead (the expected unit
    displacement to the neighbours under the graph's transition probabilities, rescaled for
    arrows, so without units) and overwrites ``obsm[f"scam_velocity_{basis}"]``: the directions
    agree with scam's, the lengths do not (scam's are embedding units per unit time).

    Parameters
    ----------
    adata
        AnnData fitted with :func:`scam.tl.fit` (with ``key_added=key``).
    basis
        Embedding: ``obsm[f"X_{basis}"]`` or ``obsm[basis]``.
    key
        ``key_added`` of the fit.
    n_neighbors
        Neighbours of each cell in the local linear fits (at least ``n_dims + 1`` for a
        well-posed fit; fewer gives the minimum-norm solution).
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing ``obsm[f"{key}_velocity_{basis}"]`` (``(n_cells,
    n_components)``, scvelo/cellrank naming, e.g. ``obsm['scam_velocity_umap']``) and
    ``uns[key]['velocity_embedding'][basis]`` (method, ``n_neighbors`` and a hash of the embedding); after
    :func:`scam.tl.velocity_graph`, also lists the basis in ``uns['scam_velocity_params']['embeddings']``.
    """
    check_adata(adata)
    fit_uns(adata, key)
    n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    projection = project(adata, key, basis, n_neighbors)
    adata = writable(adata, copy)
    write_projection(adata, key, projection, n_neighbors)
    return adata if copy else None


def project(
    adata: AnnData, key: str, basis: str, n_neighbors: int, neighbors: SelfNeighbors | None = None
) -> tuple[str, np.ndarray, bool]:
    """Check and compute the projection of :func:`velocity_embedding`: ``(obsm_key, V_emb, exact)``; writes nothing.

    ``neighbors``: the search of the fitted representation's cells to take the local fits' neighbours from.
    """
    uns = fit_uns(adata, key)
    obsm_key = resolve_basis(adata, basis)
    vkey = _keys.velocity(key)
    if vkey not in adata.obsm:
        raise ValueError(f"adata.obsm[{vkey!r}] is missing; run `scam.tl.fit(adata, ..., key_added={key!r})` first.")
    params = uns["params"]
    use_rep, n_dims = params["use_rep"], int(params["n_dims"])
    X = get_rep(adata, use_rep, n_dims)
    E = embedding_coords(adata, obsm_key)
    V = np.asarray(adata.obsm[vkey], dtype=np.float64)[:, :n_dims]
    out_key = _keys.velocity_embedding(key, basis_name(obsm_key))
    # written under the fit's record (so that a refit removes it): only over scam's own result
    _keys.check_free(
        adata,
        _keys.FIT,
        key,
        extra={"obsm": [out_key]},
        inputs={"obsm": [obsm_key, use_rep]},
        arg="key",
        fix="rename or delete it, or fit with another `key_added` and pass that as `key`",
    )
    exact = is_exact(get_rep(adata, use_rep, None), E)
    logger.info("projecting velocities into %r (%s)", obsm_key, "exact" if exact else "local linear maps")
    if exact:
        V_emb = np.zeros(E.shape)
        m = min(n_dims, E.shape[1])
        V_emb[:, :m] = V[:, :m]  # columns beyond n_dims are not modelled: 0, as in obsm['scam_velocity']
    else:
        V_emb = project_velocity(X, E, V, n_neighbors=n_neighbors, neighbors=neighbors)
    return obsm_key, V_emb, exact


def write_projection(adata: AnnData, key: str, projection: tuple[str, np.ndarray, bool], n_neighbors: int) -> None:
    """Write a projection of :func:`project` into ``adata`` (writable), with its records.

    The basis joins the list of embeddings in scvelo's ``uns[f"{vkey}_params"]`` when
    :func:`scam.tl.velocity_graph` wrote that entry, so that scvelo's plots take scam's projection
    as it is instead of recomputing (and overwriting) it.
    """
    obsm_key, V_emb, exact = projection
    name = basis_name(obsm_key)
    out_key = _keys.velocity_embedding(key, name)
    adata.obsm[out_key] = V_emb.astype(np.float32)
    _keys.add_to_record(adata, _keys.uns(key), "obsm", out_key)
    record = adata.uns[_keys.uns(key)].setdefault(_keys.VELOCITY_EMBEDDING, {})
    record[name] = {
        "obsm_key": obsm_key,
        "method": "exact" if exact else "local_linear",
        "n_neighbors": n_neighbors,
        "embedding_hash": fingerprint(embedding_coords(adata, obsm_key)),  # what scam.pl.velocity checks before reuse
    }
    params_key = _keys.velocity_params(key)
    if _keys.recorded(adata, params_key, _keys.VELOCITY_GRAPH) is not None:
        listed = [str(b) for b in adata.uns[params_key].get(_keys.EMBEDDINGS, [])]
        adata.uns[params_key][_keys.EMBEDDINGS] = [*listed, name] if name not in listed else listed
    logger.info("added %r (adata.obsm)", out_key)
