"""``scam.tl.velocity_graph``: scam's velocity on the kNN graph, in scvelo's layout (the scvelo and CellRank bridge)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from anndata import AnnData
from scipy import sparse

from .. import _keys
from .._validation import check_adata, check_positive_int, get_rep, writable
from ._embedding import project, write_projection
from ._utils import SelfNeighbors, basis_name, fit_uns, resolve_basis

logger = logging.getLogger("scam")

#: Neighbours per cell of the kNN graph built when ``adata.obsp`` has none (scvelo's default).
DEFAULT_NEIGHBORS = 30
#: Cell-neighbour pairs per batch of the cosine computation (bounds memory).
_CHUNK = 1 << 20


def _obsp_graph(adata: AnnData) -> str | None:
    """The ``obsp`` key of the user's kNN graph: scanpy's ``distances`` (or ``connectivities``), ``None`` if absent."""
    nb = adata.uns.get("neighbors")
    named = nb.get("distances_key") if isinstance(nb, Mapping) else None
    for key in (named, "distances", "connectivities"):
        if isinstance(key, str) and key in adata.obsp:
            return key
    return None


def neighbor_pairs(
    adata: AnnData, X: np.ndarray, n_neighbors: int | None, neighbors: SelfNeighbors | None = None
) -> tuple[np.ndarray, np.ndarray, str, int]:
    """Directed neighbour pairs ``(i, j)``, ``i != j`` (rows, columns), where they came from, neighbours per cell.

    With ``n_neighbors=None`` the stored entries of the user's graph (:func:`_obsp_graph`) when
    there is one, else the :data:`DEFAULT_NEIGHBORS` nearest cells in ``X``; with a number, that
    many nearest cells in ``X`` (the user's graph is neither read nor changed). ``neighbors``: the
    search of ``X`` to take them from (shared with the projections' local fits).
    """
    n = X.shape[0]
    key = _obsp_graph(adata) if n_neighbors is None else None
    if key is not None:
        graph = sparse.coo_matrix(adata.obsp[key])
        keep = graph.row != graph.col
        rows, cols = graph.row[keep].astype(np.int64), graph.col[keep].astype(np.int64)
        if len(rows) == 0:
            raise ValueError(
                f"adata.obsp[{key!r}] has no neighbours besides the cells themselves; rerun `sc.pp.neighbors(adata)`, "
                "or pass `n_neighbors=` to build a kNN graph in the fitted representation."
            )
        counts = np.bincount(rows, minlength=n)
        order = np.lexsort((cols, rows))
        return rows[order], cols[order], f"obsp[{key!r}]", int(np.median(counts))
    if n < 2:
        raise ValueError(f"A velocity graph needs at least 2 cells, got {n}.")
    k = min(DEFAULT_NEIGHBORS if n_neighbors is None else n_neighbors, n - 1)
    idx = (SelfNeighbors(X) if neighbors is None else neighbors)(k + 1)
    # drop each cell itself (the first hit, or wherever a duplicate cell pushed it), else the farthest hit
    is_self = idx == np.arange(n)[:, None]
    drop = np.where(is_self.any(1), is_self.argmax(1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), drop] = False
    cols = idx[keep].reshape(n, k)
    return np.repeat(np.arange(n), k), cols.ravel().astype(np.int64), "knn", k


def velocity_cosines(X: np.ndarray, V: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``cos∠(x_j − x_i, v_i)`` of every pair ``(i, j) = (rows, cols)``; 0 where either vector is 0."""
    out = np.zeros(len(rows), dtype=np.float64)
    v_norm = np.linalg.norm(V, axis=1)
    step = max(1, _CHUNK // max(1, X.shape[1]))
    for lo in range(0, len(rows), step):
        r, c = rows[lo : lo + step], cols[lo : lo + step]
        dX = X[c] - X[r]
        den = np.linalg.norm(dX, axis=1) * v_norm[r]
        num = np.einsum("ij,ij->i", dX, V[r])
        out[lo : lo + len(r)] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return np.clip(out, -1.0, 1.0)


def split_graph(vals: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[sparse.csr_matrix, ...]:
    """The pair of sparse graphs of scvelo: the positive cosines and the negative ones (``n × n``, float32)."""
    out = []
    for part in (np.clip(vals, 0.0, 1.0), np.clip(vals, -1.0, 0.0)):
        g = sparse.csr_matrix((part.astype(np.float32), (rows, cols)), shape=(n, n))
        g.eliminate_zeros()
        g.sort_indices()
        out.append(g)
    return tuple(out)


def _bases(adata: AnnData, basis: str | Sequence[str] | None, use_rep: str) -> list[str]:
    """``obsm`` keys of the embeddings to project into: the given ones, or every numeric ``X_*`` but ``use_rep``."""
    if basis is None:
        found = []
        for key in adata.obsm:
            if not str(key).startswith("X_"):
                continue
            try:
                get_rep(adata, key, None)
            except ValueError as e:
                logger.info("not projecting into adata.obsm[%r]: %s", key, e)
                continue
            found.append(str(key))
        return found
    names = [basis] if isinstance(basis, str) else list(basis) if isinstance(basis, Sequence) else None
    if names is None or not all(isinstance(b, str) for b in names):
        raise ValueError(f"`basis` must be an embedding name such as 'umap', a list of them, or None, got {basis!r}.")
    keys = [resolve_basis(adata, b) for b in names]
    return list(dict.fromkeys(keys))


def velocity_graph(
    adata: AnnData,
    *,
    key: str = _keys.DEFAULT_KEY,
    n_neighbors: int | None = None,
    basis: str | Sequence[str] | None = None,
    n_neighbors_embedding: int = 30,
    copy: bool = False,
) -> AnnData | None:
    r"""The velocity graph of scvelo from scam's velocity, so that scvelo's tools run on it as they are.

    For every cell ``i`` and each of its neighbours ``j``, the cosine between the cell's velocity
    ``v_i`` (``obsm['scam_velocity']``) and the displacement ``x_j − x_i``, both in the
    coordinates scam was fitted in (the first ``n_dims`` columns of ``use_rep``, as recorded in
    ``uns[key]['params']``):

    .. math::
        \pi_{ij} = \cos\angle(x_j - x_i, v_i),

    stored as scvelo's ``velocity_graph`` stores it: the positive and the negative values in two
    sparse ``n_obs × n_obs`` matrices. Unlike scvelo, which correlates gene-expression changes (each
    centred over the genes), scam takes the plain cosine: in a latent space of a few coordinates
    centring over them would mix directions (a step along +x would correlate with one along −y).
    A cell whose velocity is 0 has no entries, as in scvelo. scvelo's ``obs['velocity_self_transition']``
    is not written: scvelo's transition matrix computes the self-transitions from the graph itself.

    The neighbours are those of ``adata.obsp['distances']`` (``sc.pp.neighbors``; the stored
    entries, in whatever representation the graph was built) when it exists and ``n_neighbors`` is
    ``None``; otherwise the ``n_neighbors`` (default 30) nearest cells in the fitted
    representation. The user's graph is never changed.

    scvelo's plots take the projection of the velocity into an embedding from
    ``obsm['scam_velocity_<basis>']`` unless ``uns['scam_velocity_params']['embeddings']`` lacks the
    basis, in which case ``scv.tl.velocity_embedding`` recomputes it from the graph (and needs
    ``adata.layers['scam_velocity']``, which only :func:`scam.tl.gene_velocity` writes). So this
    call also projects scam's velocity into the embeddings (:func:`scam.tl.velocity_embedding`,
    exact in ``use_rep``'s own columns, local linear maps elsewhere) and lists them there; then::

        scam.tl.velocity_graph(adata)
        scv.pl.velocity_embedding_stream(adata, vkey="scam_velocity", basis="umap")

    draws scam's velocity. For an embedding computed later, run :func:`scam.tl.velocity_embedding`
    (or this function) again. Tools that use the graph itself (``scv.tl.velocity_embedding``,
    ``scv.utils.get_transition_matrix``, ``scv.tl.terminal_states``, ``scv.tl.velocity_pseudotime``)
    run with ``vkey="scam_velocity"``; CellRank takes scvelo's transition matrix as a ``PrecomputedKernel``.
    CellRank's ``VelocityKernel`` computes its own transitions from the velocity and needs no graph:
    ``VelocityKernel(adata, attr="obsm", xkey=use_rep, vkey="scam_velocity")``, then
    ``compute_transition_matrix(similarity="cosine")`` (after ``sc.pp.neighbors``; docs/cellrank.md).

    Parameters
    ----------
    adata
        AnnData fitted with :func:`scam.tl.fit` (with ``key_added=key``).
    key
        ``key_added`` of the fit; the graph's ``vkey`` in scvelo is ``f"{key}_velocity"``.
    n_neighbors
        Neighbours per cell of a kNN graph in the fitted representation; ``None``: the user's
        ``obsp['distances']`` when present, else 30.
    basis
        Embeddings to project the velocity into and list for scvelo (names such as ``"umap"`` or
        ``obsm`` keys); ``None``: every numeric ``obsm['X_*']``; ``[]``: none.
    n_neighbors_embedding
        ``n_neighbors`` of those projections (:func:`scam.tl.velocity_embedding`).
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing (with ``key="scam"``)

    ``adata.uns['scam_velocity_graph']``, ``adata.uns['scam_velocity_graph_neg']``
        Sparse CSR float32 ``(n_obs, n_obs)``: the cosines in ``(0, 1]`` and in ``[−1, 0)`` (scvelo's layout).
    ``adata.uns['scam_velocity_params']``
        scvelo's ``mode_neighbors``, ``n_recurse_neighbors`` (1: direct neighbours only) and
        ``embeddings`` (the projected bases), and scam's ``use_rep``, ``n_dims``, ``neighbors``
        (``"obsp['distances']"`` or ``"knn"``) and ``n_neighbors`` (per cell; the median for the user's graph).
    ``adata.obsm['scam_velocity_<basis>']``
        The projections, as :func:`scam.tl.velocity_embedding` writes them.
    """
    check_adata(adata)
    uns = fit_uns(adata, key)
    if n_neighbors is not None:
        n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    n_neighbors_embedding = check_positive_int("n_neighbors_embedding", n_neighbors_embedding)
    vkey = _keys.velocity(key)
    if vkey not in adata.obsm:
        raise ValueError(f"adata.obsm[{vkey!r}] is missing; run `scam.tl.fit(adata, ..., key_added={key!r})` first.")
    params = uns["params"]
    use_rep, n_dims = str(params["use_rep"]), int(params["n_dims"])
    X = get_rep(adata, use_rep, n_dims)
    V = np.asarray(adata.obsm[vkey], dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != adata.n_obs or V.shape[1] < n_dims or not np.all(np.isfinite(V)):
        raise ValueError(
            f"adata.obsm[{vkey!r}] is not the velocity scam.tl.fit wrote (a finite (n_obs, >= {n_dims}) array); "
            f"refit with `scam.tl.fit(adata, ..., key_added={key!r})`."
        )
    V = V[:, :n_dims]
    _keys.check_free(
        adata,
        _keys.VELOCITY_GRAPH,
        key,
        arg="key",
        fix=f"rename or delete them, or fit with another `key_added` and pass it as `key` (scvelo's vkey is {vkey!r})",
    )
    # one search of the cells' neighbours for the graph and every embedding's local fits (made only if needed)
    bases = _bases(adata, basis, use_rep)
    own_graph = n_neighbors is None and _obsp_graph(adata) is not None  # the user's: no search for the graph
    graph_k = 1 if own_graph else (DEFAULT_NEIGHBORS if n_neighbors is None else n_neighbors) + 1
    neighbors = SelfNeighbors(X, at_least=max(n_neighbors_embedding if bases else 1, graph_k))
    projections = [project(adata, key, b, n_neighbors_embedding, neighbors) for b in bases]
    rows, cols, source, k = neighbor_pairs(adata, X, n_neighbors, neighbors)
    logger.info("computing the velocity graph of %d cells on %s (%d neighbours per cell)", adata.n_obs, source, k)
    vals = velocity_cosines(X, V, rows, cols)
    graph, graph_neg = split_graph(vals, rows, cols, adata.n_obs)

    adata = writable(adata, copy)
    adata.uns[_keys.velocity_graph(key)] = graph
    adata.uns[_keys.velocity_graph_neg(key)] = graph_neg
    adata.uns[_keys.velocity_params(key)] = {
        "mode_neighbors": "distances",
        "n_recurse_neighbors": 1,
        _keys.EMBEDDINGS: [],
        "use_rep": use_rep,
        "n_dims": n_dims,
        "neighbors": source,
        "n_neighbors": k,
        _keys.WRITTEN: _keys.record(_keys.VELOCITY_GRAPH, key),
    }
    for projection in projections:
        write_projection(adata, key, projection, n_neighbors_embedding)
    names = [basis_name(p[0]) for p in projections]
    logger.info(
        "added %r, %r and %r (adata.uns)%s",
        _keys.velocity_graph(key),
        _keys.velocity_graph_neg(key),
        _keys.velocity_params(key),
        f"; projected into {', '.join(names)}" if names else "",
    )
    return adata if copy else None
