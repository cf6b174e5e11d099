"""CellRank on scam's velocity: the recipe of docs/cellrank.md, run and checked against a simulation's truth.

Needs the ``cellrank`` extra, in an environment of its own (``pip install -e ".[cellrank,test]"``; docs/cellrank.md
says why it stays out of the test and doc environments). Skipped without cellrank, unless
``SCAM_REQUIRE_CELLRANK=1`` (as in CI's cellrank step), which makes a missing or unusable cellrank a failure.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scanpy as sc
from _helpers import MEDIUM_NET

import scam
from scam.datasets import gaussian_path

if os.environ.get("SCAM_REQUIRE_CELLRANK") == "1":
    import cellrank
else:
    cellrank = pytest.importorskip("cellrank", reason='needs the cellrank extra: pip install -e ".[cellrank,test]"')
    from packaging.version import Version

    if Version(cellrank.__version__) <= Version("2.0.7") and Version(np.__version__) >= Version("2.3"):
        pytest.skip(
            "cellrank <= 2.0.7 calls np.testing.assert_array_equal(x=, y=), removed in numpy 2.3 "
            "(scverse/cellrank#1272); the cellrank extra pins numpy<2.3",
            allow_module_level=True,
        )

from cellrank.estimators import GPCCA  # noqa: E402  (once cellrank is known to be there)
from cellrank.kernels import ConnectivityKernel, PrecomputedKernel, VelocityKernel  # noqa: E402

# cellrank 2.0.7 passes x=, y= to np.testing.assert_array_equal: deprecated in numpy 2.2, gone in 2.3
pytestmark = pytest.mark.filterwarnings("ignore:Use of keyword argument `[xy]`:DeprecationWarning")


def _step_cosines(T, X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per cell, the cosine between the expected step of one Markov step, ``T @ X - X``, and the velocity."""
    step = np.asarray(T @ X) - X
    return (step * v).sum(1) / (np.linalg.norm(step, axis=1) * np.linalg.norm(v, axis=1) + 1e-12)


def test_velocity_kernel_moves_cells_along_scam_velocity():
    """A Gaussian moving along +x in 2-D: with ``similarity="cosine"`` the chain steps along the velocity.

    CellRank's default similarity, Pearson correlation, centres each vector over its coordinates: in 2-D it keeps
    only the sign of ``dx - dy``, so the steps turn by 45° (measured: median step angle -48°, against -5° with the
    cosine). This is why docs/cellrank.md passes ``similarity="cosine"``.
    """
    adata = gaussian_path(n_cells=150, times=(0.0, 1.0, 2.0), n_dims=2, mu_end=[3.0, 0.0], std_end=1.0)
    scam.tl.fit(adata, "time", n_iters=200, **MEDIUM_NET)
    v, X = adata.obsm["scam_velocity"], adata.obsm["X_pca"]
    assert np.mean(v[:, 0] > 0) > 0.95  # the fit moves cells right (truth: dx/dt = 1.5, dy/dt = 0)
    sc.pp.neighbors(adata, use_rep="X_pca", n_neighbors=15, random_state=0)

    angles = {}
    for similarity in ("cosine", "correlation"):
        vk = VelocityKernel(adata, attr="obsm", xkey="X_pca", vkey="scam_velocity")
        vk.compute_transition_matrix(similarity=similarity)
        T = vk.transition_matrix
        np.testing.assert_allclose(np.asarray(T.sum(1)).ravel(), 1.0, atol=1e-6)
        step = np.asarray(T @ X) - X
        angles[similarity] = np.degrees(np.arctan2(step[:, 1], step[:, 0]))
        if similarity == "cosine":
            cos = _step_cosines(T, X, v)
            assert np.mean(cos > 0) > 0.95 and np.median(cos) > 0.9
    assert abs(np.median(angles["cosine"])) < 10
    assert -60 < np.median(angles["correlation"]) < -30  # the 45° turn of the default


@pytest.fixture(scope="module")
def branching():
    """scam.datasets.branching (a root that splits into branches A and B, fates known), through scanpy and scam."""
    adata = scam.datasets.branching(n_cells=150, n_genes=100, random_state=0)  # days 0-4, 750 cells
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=10)
    model = scam.tl.fit(adata, "day", n_dims=5, n_iters=300, **MEDIUM_NET)
    sc.pp.neighbors(adata, use_rep="X_pca", n_neighbors=15, random_state=0)
    return adata, model


def _velocity_kernel(adata, model, how: str):
    if how == "obsm":  # docs/cellrank.md: scam's velocity in the fitted representation
        return VelocityKernel(adata, attr="obsm", xkey="X_pca", vkey="scam_velocity").compute_transition_matrix(
            similarity="cosine"
        )
    # CellRank's defaults (attr="layers", the correlation over genes) on the gene velocity, as for RNA velocity
    scam.tl.gene_velocity(adata, model)  # layers["scam_velocity"] = velocity @ PCs.T
    return VelocityKernel(adata, xkey="X", vkey="scam_velocity").compute_transition_matrix()


@pytest.mark.parametrize("how", ["obsm", "genes"])
def test_gpcca_fates_match_the_simulated_fates(branching, how):
    """The recipe end to end: kernel, GPCCA, terminal states A and B, fate probabilities against the true fates."""
    adata, model = branching
    adata = adata.copy()
    vk = _velocity_kernel(adata, model, how)
    cos = _step_cosines(vk.transition_matrix, adata.obsm["X_pca"], adata.obsm["scam_velocity"])
    assert np.mean(cos > 0) > 0.9  # measured 0.94 for both

    ck = ConnectivityKernel(adata).compute_transition_matrix()
    g = GPCCA(0.8 * vk + 0.2 * ck)
    g.fit(n_states=4, cluster_key="branch")
    g.predict_terminal_states()
    terminal = list(g.terminal_states.cat.categories)
    assert sorted({name.split("_")[0] for name in terminal}) == ["A", "B"], terminal
    g.compute_fate_probabilities()
    fp = g.fate_probabilities
    P = np.asarray(fp)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-4)
    p_a = P[:, [name.split("_")[0] == "A" for name in fp.names]].sum(1)

    day = adata.obs["day"].to_numpy()
    truth = adata.obs["fate_probability_A"].to_numpy()  # mass-weighted share of simulated futures ending in A
    day2 = day == 2.0  # just after the split: 88 cells on A, 55 on B, 7 at the root
    accuracy = np.mean((p_a[day2] > 0.5) == (adata.obs["fate"].to_numpy()[day2] == "A"))
    assert accuracy >= 0.85, accuracy  # measured 0.97 (obsm), 0.91 (genes)
    assert np.abs(p_a[day2] - truth[day2]).mean() < 0.15  # measured 0.06, 0.10
    day1 = day == 1.0  # before the split: harder (the truth's median is 0.92, its 10th percentile 0)
    assert np.corrcoef(p_a[day1], truth[day1])[0, 1] > 0.5  # measured 0.75, 0.70
    # a terminal state's own cells go nowhere else
    in_a = np.asarray(g.terminal_states.astype(str).str.split("_").str[0] == "A")
    np.testing.assert_allclose(p_a[in_a], 1.0, atol=1e-6)


def test_velocity_graph_reaches_cellrank_through_scvelo(branching):
    """scam.tl.velocity_graph -> scvelo's transition matrix -> CellRank's PrecomputedKernel, steps along v."""
    import scvelo as scv

    adata, _ = branching
    adata = adata.copy()
    scam.tl.velocity_graph(adata)
    pk = PrecomputedKernel(scv.utils.get_transition_matrix(adata, vkey="scam_velocity"), adata)
    cos = _step_cosines(pk.transition_matrix, adata.obsm["X_pca"], adata.obsm["scam_velocity"])
    assert np.mean(cos > 0) > 0.9  # measured 0.97
