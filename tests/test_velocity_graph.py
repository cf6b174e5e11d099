"""scam.tl.velocity_graph: scvelo's velocity graph from scam's velocity (and scvelo's own tools on it, if installed)."""

from __future__ import annotations

import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest
from _helpers import TINY_FIT, Snapshot
from scipy import sparse

import scam
from scam import _keys

matplotlib.use("Agg")

N = 240


def line_of_cells(seed: int = 0) -> ad.AnnData:
    """Cells along x in [0, 10] (a little spread in y), three time points, a curved 'UMAP' of them.

    Fitted with a tiny model, then given the velocity field (1, 0) everywhere (the graph reads only
    ``obsm['scam_velocity']`` and the fit's record).
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, N))
    y = rng.normal(0.0, 0.2, N)
    X = np.c_[x, y]
    obs = pd.DataFrame({"time": np.repeat([0.0, 1.0, 2.0], N // 3)}, index=[f"c{i}" for i in range(N)])
    adata = ad.AnnData(np.c_[X, rng.normal(size=(N, 2))], obs=obs)
    adata.var_names = ["g0", "g1", "g2", "g3"]
    adata.obsm["X_pca"] = X
    adata.obsm["X_umap"] = np.c_[x, y + 0.05 * x**2]
    scam.tl.fit(adata, "time", **TINY_FIT)
    adata.obsm["scam_velocity"] = np.tile([1.0, 0.0], (N, 1)).astype(np.float32)
    return adata


@pytest.fixture(scope="module")
def line() -> ad.AnnData:
    return line_of_cells()


def _pairs(g: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coo = g.tocoo()
    return coo.row, coo.col, coo.data


def test_graph_points_along_the_velocity(line):
    """Velocity +x: positive cosines toward the neighbours on the right, negative toward those on the left."""
    adata = line.copy()
    scam.tl.velocity_graph(adata, n_neighbors=10)
    g, g_neg = adata.uns["scam_velocity_graph"], adata.uns["scam_velocity_graph_neg"]
    assert sparse.issparse(g) and g.format == "csr" and g.dtype == np.float32 and g.shape == (N, N)
    assert sparse.issparse(g_neg) and g_neg.format == "csr" and g_neg.shape == (N, N)
    X = adata.obsm["X_pca"]
    for graph, sign in ((g, 1.0), (g_neg, -1.0)):
        rows, cols, vals = _pairs(graph)
        assert np.all(np.sign(vals) == sign) and np.all(np.abs(vals) <= 1.0)
        assert np.all(np.sign(X[cols, 0] - X[rows, 0]) == sign)  # right of i ⇔ positive
        d = X[cols] - X[rows]
        np.testing.assert_allclose(vals, d[:, 0] / np.linalg.norm(d, axis=1), rtol=1e-5)  # cos∠(d, (1, 0))
        assert not np.any(rows == cols)
    # every cell has 10 neighbours; interior cells have some on each side
    assert g.nnz + g_neg.nnz == 10 * N
    inner = np.flatnonzero((X[:, 0] > 1.0) & (X[:, 0] < 9.0))
    assert np.all(np.diff(g.indptr)[inner] > 0) and np.all(np.diff(g_neg.indptr)[inner] > 0)
    # the leftmost cell has only right neighbours, the rightmost only left ones
    assert np.diff(g_neg.indptr)[0] == 0 and np.diff(g.indptr)[-1] == 0


def test_graph_uses_the_users_neighbours_and_leaves_them(line):
    import scanpy as sc

    adata = line.copy()
    sc.pp.neighbors(adata, use_rep="X_pca", n_neighbors=6)
    before = adata.obsp["distances"].copy(), adata.obsp["connectivities"].copy(), dict(adata.uns["neighbors"])
    scam.tl.velocity_graph(adata)
    union = (adata.uns["scam_velocity_graph"] != 0) + (adata.uns["scam_velocity_graph_neg"] != 0)
    assert (union != (adata.obsp["distances"] != 0)).nnz == 0  # exactly the user's kNN pairs
    assert (adata.obsp["distances"] != before[0]).nnz == 0 and (adata.obsp["connectivities"] != before[1]).nnz == 0
    params = adata.uns["scam_velocity_params"]
    assert params["neighbors"] == "obsp['distances']" and params["n_neighbors"] == 5
    # n_neighbors= builds its own kNN in use_rep instead
    scam.tl.velocity_graph(adata, n_neighbors=3)
    union = (adata.uns["scam_velocity_graph"] != 0) + (adata.uns["scam_velocity_graph_neg"] != 0)
    assert np.all(np.diff(union.indptr) == 3) and adata.uns["scam_velocity_params"]["neighbors"] == "knn"


def test_layout_keys_and_projections(line, tmp_path):
    adata = line.copy()
    scam.tl.velocity_graph(adata)
    params = adata.uns[_keys.velocity_params()]
    assert _keys.velocity_graph() == "scam_velocity_graph" and _keys.velocity_graph_neg() == "scam_velocity_graph_neg"
    assert _keys.velocity_params() == "scam_velocity_params"
    assert _keys.recorded(adata, "scam_velocity_params", _keys.VELOCITY_GRAPH) == {
        ("uns", "scam_velocity_params"),
        ("uns", "scam_velocity_graph"),
        ("uns", "scam_velocity_graph_neg"),
    }
    assert params["mode_neighbors"] == "distances" and params["n_recurse_neighbors"] == 1
    assert params["use_rep"] == "X_pca" and params["n_dims"] == 2 and params["n_neighbors"] == 30
    # every embedding got scam's projection, listed for scvelo
    assert sorted(params["embeddings"]) == ["pca", "umap"]
    np.testing.assert_allclose(adata.obsm["scam_velocity_pca"], adata.obsm["scam_velocity"])
    umap_v = adata.obsm["scam_velocity_umap"]
    x = adata.obsm["X_pca"][:, 0]
    inner = (x > 1.0) & (x < 9.0)  # the local linear fits at the ends see one side only
    np.testing.assert_allclose(umap_v[inner], np.c_[np.ones(N), 0.1 * x][inner], atol=0.05)  # d(x, y + 0.05 x²)/dt
    # a projection made later is listed too
    adata.obsm["X_tsne"] = adata.obsm["X_umap"] * 2
    scam.tl.velocity_embedding(adata, basis="tsne")
    assert "tsne" in list(adata.uns["scam_velocity_params"]["embeddings"])
    # the h5ad round trip keeps all of it
    adata.write_h5ad(tmp_path / "g.h5ad")
    back = ad.read_h5ad(tmp_path / "g.h5ad")
    assert (back.uns["scam_velocity_graph"] != adata.uns["scam_velocity_graph"]).nnz == 0
    scam.tl.velocity_graph(back, basis="umap")  # a rerun over its own results, after the file
    assert list(back.uns["scam_velocity_params"]["embeddings"]) == ["umap"]


def test_zero_velocity_has_no_entries(line, tmp_path):
    adata = line.copy()
    adata.obsm["scam_velocity"][:10] = 0.0
    scam.tl.velocity_graph(adata, basis=[])
    for g in (adata.uns["scam_velocity_graph"], adata.uns["scam_velocity_graph_neg"]):
        assert np.all(np.diff(g.indptr)[:10] == 0)
    assert list(adata.uns["scam_velocity_params"]["embeddings"]) == []
    adata.write_h5ad(tmp_path / "empty.h5ad")  # an empty list of embeddings comes back as an empty array
    back = ad.read_h5ad(tmp_path / "empty.h5ad")
    scam.tl.velocity_embedding(back, basis="umap")
    assert list(back.uns["scam_velocity_params"]["embeddings"]) == ["umap"]


def _no_fit(adata):
    del adata.uns["scam"]


def _foreign_graph(adata):
    adata.uns["scam_velocity_graph"] = sparse.csr_matrix((N, N))


BAD = {
    "no-fit": (
        _no_fit,
        {},
        r"adata\.uns\['scam'\] from scam\.tl\.fit is missing; run `scam\.tl\.fit\(adata, \.\.\.\)`",
    ),
    "wrong-key": (None, {"key": "other"}, r"adata\.uns\['other'\] from scam\.tl\.fit is missing"),
    "not-a-key": (None, {"key": 3}, r"`key`"),
    "no-velocity": (lambda a: a.obsm.pop("scam_velocity"), {}, r"adata\.obsm\['scam_velocity'\] is missing"),
    "bad-velocity": (
        lambda a: a.obsm.__setitem__("scam_velocity", np.full((N, 2), np.nan)),
        {},
        r"is not the velocity scam\.tl\.fit wrote",
    ),
    "n-neighbors": (None, {"n_neighbors": 0}, r"`n_neighbors` must be a positive integer"),
    "basis": (None, {"basis": "tsne"}, r"Basis 'tsne' not found"),
    "basis-type": (None, {"basis": 3}, r"`basis` must be an embedding name"),
    "foreign-graph": (_foreign_graph, {}, r"adata\.uns\['scam_velocity_graph'\], which scam\.tl\.velocity_graph did"),
    "empty-user-graph": (
        lambda a: a.obsp.__setitem__("distances", sparse.eye(N, format="csr")),
        {},
        r"adata\.obsp\['distances'\] has no neighbours besides the cells themselves",
    ),
}


@pytest.mark.parametrize(("prepare", "kwargs", "match"), list(BAD.values()), ids=list(BAD))
def test_bad_inputs_raise_and_leave_adata_unchanged(line, prepare, kwargs, match):
    adata = line.copy()
    if prepare is not None:
        prepare(adata)
    snap = Snapshot.of(adata)
    with pytest.raises((ValueError, TypeError), match=match):
        scam.tl.velocity_graph(adata, **kwargs)
    snap.assert_unchanged(adata)


def test_not_anndata():
    with pytest.raises(TypeError, match="Expected an AnnData"):
        scam.tl.velocity_graph(np.zeros((3, 2)))


# ---------------------------------------------------------------------------------------------- scvelo itself
def test_scvelo_runs_on_the_graph(line):
    """scvelo's stream plot draws scam's projection as it is; its transition matrix moves cells along +x."""
    scv = pytest.importorskip("scvelo")
    import matplotlib.pyplot as plt

    adata = line.copy()
    scam.tl.velocity_graph(adata)
    mine = adata.obsm["scam_velocity_umap"].copy()
    ax = scv.pl.velocity_embedding_stream(adata, vkey="scam_velocity", basis="umap", show=False)
    assert ax is not None
    plt.close("all")
    np.testing.assert_array_equal(adata.obsm["scam_velocity_umap"], mine)  # not recomputed, not overwritten

    T = scv.utils.get_transition_matrix(adata, vkey="scam_velocity", self_transitions=False)
    X = adata.obsm["X_pca"]
    step = np.asarray(T @ X) - X
    inner = (X[:, 0] > 1.0) & (X[:, 0] < 9.0)
    assert np.all(step[inner, 0] > 0)


def test_scvelo_projection_agrees_with_scams(line):
    """scv.tl.velocity_embedding projects through the graph (it needs the gene layer): the directions are scam's."""
    scv = pytest.importorskip("scvelo")

    adata = line.copy()
    scam.tl.velocity_graph(adata)
    mine = adata.obsm["scam_velocity_umap"].copy()
    adata.varm["PCs"] = np.eye(4)[:, :2]
    adata.layers["scam_velocity"] = adata.obsm["scam_velocity"] @ adata.varm["PCs"].T  # as gene_velocity writes it
    scv.tl.velocity_embedding(adata, basis="umap", vkey="scam_velocity")
    theirs = adata.obsm["scam_velocity_umap"]
    cos = (mine * theirs).sum(1) / (np.linalg.norm(mine, axis=1) * np.linalg.norm(theirs, axis=1))
    assert np.median(cos) > 0.99 and np.mean(cos > 0.9) > 0.9


@pytest.mark.parametrize("n_dims", [3, 30])
def test_nearest_neighbours_equal_a_kd_trees_in_any_dimension(n_dims, monkeypatch):
    """Above ``KDTREE_MAX_DIMS`` the neighbours come from blocks of float32 distances re-ranked in float64 (a k-d tree
    took 129 s for 50,000 cells in 30 PCs): the same neighbours and distances as the tree, in several blocks, with
    a duplicated cell among them."""
    from scipy.spatial import cKDTree

    import scam.tl._utils as utils

    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, n_dims)) * rng.uniform(0.1, 10, n_dims) + 100.0  # far from the origin, uneven scales
    X[5] = X[6]  # a duplicated cell
    Q = np.r_[X[:50], rng.normal(size=(30, n_dims)) + 100.0]
    dist, idx = utils.nearest(X, Q, 12)
    ref_dist, ref_idx = cKDTree(X).query(Q, k=12)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12, atol=1e-9)
    distinct = np.abs(np.diff(ref_dist, axis=1)).min(1) > 1e-9  # rows without ties: the same indices in order
    np.testing.assert_array_equal(idx[distinct], ref_idx[distinct])
    assert sorted(idx[5, :2]) == [5, 6] and sorted(idx[6, :2]) == [5, 6]
    if n_dims > utils.KDTREE_MAX_DIMS:
        assert idx[5, 0] == idx[6, 0] == 5  # ties: the lower index first
    monkeypatch.setattr(utils, "KNN_BLOCK", 700 * 7)  # 7 queries per block
    np.testing.assert_array_equal(utils.nearest(X, Q, 12)[1], idx)


def test_graph_and_every_embedding_share_one_neighbour_search(line, monkeypatch):
    """Without the user's graph, the kNN graph and the local fits of two embeddings search the cells once."""
    from scam.tl import _utils

    adata = line.copy()
    adata.obsm["X_tsne"] = adata.obsm["X_umap"] * 2 + 1
    alone = adata.copy()
    for basis in ("umap", "tsne"):
        scam.tl.velocity_embedding(alone, basis=basis)
    real, calls = _utils.nearest, []

    def counted(reference, queries, k):
        calls.append(k)
        return real(reference, queries, k)

    monkeypatch.setattr(_utils, "nearest", counted)
    scam.tl.velocity_graph(adata, basis=["umap", "tsne"])
    assert calls == [31]  # 30 neighbours and the cell itself; the local fits take their 30 from the same search
    for basis in ("umap", "tsne"):  # the same projections as velocity_embedding's own searches
        np.testing.assert_allclose(adata.obsm[f"scam_velocity_{basis}"], alone.obsm[f"scam_velocity_{basis}"])
    calls.clear()
    scam.tl.velocity_graph(adata, basis=["umap"], n_neighbors=5, n_neighbors_embedding=12)
    assert calls == [12]  # once, for the larger of the two
    calls.clear()
    scam.tl.velocity_graph(adata, basis=[], n_neighbors=5)
    assert calls == [6]  # no embedding: the graph's own
    calls.clear()
    adata.obsp["distances"] = sparse.csr_matrix(np.eye(N)[::-1] + np.eye(N, k=1))
    scam.tl.velocity_graph(adata, basis=[])
    assert calls == []  # the user's graph: no search at all
    scam.tl.velocity_graph(adata, basis=["umap"], n_neighbors_embedding=12)
    assert calls == [12]  # the local fits' own, not the 31 of a graph that is not built
