"""Biological read-outs against ground truth: fates, transitions, gene velocity, gene trends, and their plots."""

from __future__ import annotations

import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import LARGE_NET, QUIET, Snapshot
from scipy import sparse
from torch import nn

import scam
from scam import ActionModel

matplotlib.use("Agg")

A, B, EPS = 1.0, 3.0, 1e-3  # velocity (A, B · sign(y)): cells drift right and leave y = 0 to either branch
N_GENES = 7


class BranchNet(nn.Module):
    """Known action ``s = A x + B sqrt(y² + ε²)`` (in the coordinates of a model with unit scaling)."""

    def __init__(self, a: float = A, b: float = B, eps: float = EPS):
        super().__init__()
        self.n_dims = 2
        self.a = nn.Parameter(torch.tensor(float(a)))
        self.b, self.eps = b, eps

    def forward(self, x, t):
        return self.a * x[:, 0] + self.b * torch.sqrt(x[:, 1] ** 2 + self.eps**2)


def known_model(net=None, *, sigma=0.0, lam=0.0, use_rep="X_pca") -> ActionModel:
    net = BranchNet() if net is None else net
    meta = {"time_key": "time", "use_rep": use_rep, "time_values": [0.0, 1.0]}
    return ActionModel(
        net, center=np.zeros(net.n_dims), scale=1.0, t_origin=0.0, t_span=1.0, sigma=sigma, lam=lam, metadata=meta
    )


def _source_cells(rng, n1=240, n2=160):
    """Two progenitor groups: P1 mostly above y = 0, P2 mostly below, |y| ≥ 0.3 nowhere needed."""
    p1 = np.c_[rng.normal(-0.5, 0.3, n1), rng.normal(0.4, 0.5, n1)]
    p2 = np.c_[rng.normal(0.5, 0.3, n2), rng.normal(-0.3, 0.5, n2)]
    return np.r_[p1, p2], np.array(["P1"] * n1 + ["P2"] * n2)


def _flow(X):
    """The exact flow of BranchNet over one time unit (ε → 0)."""
    return np.c_[X[:, 0] + A, X[:, 1] + B * np.sign(X[:, 1])]


def two_branches(seed=0, *, genes=False) -> ad.AnnData:
    """Cells at t=0 (P1, P2) and t=1 (branch A above, B below), with the true fate of every source cell.

    With ``genes``: X = μ + X_pca @ PCs.T exactly, 7 genes of which two are outside the PCA.
    """
    rng = np.random.default_rng(seed)
    X0, groups = _source_cells(rng)
    X1 = _flow(_source_cells(rng)[0])
    latent = np.r_[X0, X1]
    obs = pd.DataFrame(
        {
            "time": np.r_[np.zeros(len(X0)), np.ones(len(X1))],
            "cell_type": pd.Categorical(
                np.r_[groups, np.where(X1[:, 1] > 0, "A", "B")], categories=["P1", "P2", "A", "B"]
            ),
            "true_fate": np.r_[np.where(X0[:, 1] > 0, "A", "B"), np.where(X1[:, 1] > 0, "A", "B")],
        },
        index=[f"c{i}" for i in range(len(latent))],
    )
    adata = ad.AnnData(np.zeros((len(latent), N_GENES)), obs=obs)
    adata.var_names = [f"g{j}" for j in range(N_GENES)]
    adata.obsm["X_pca"] = latent
    if genes:
        pcs = np.zeros((N_GENES, 2))
        pcs[:5] = np.linalg.qr(rng.normal(size=(5, 2)))[0]  # g5, g6: not highly variable, zero loadings
        mu = rng.normal(3.0, 1.0, N_GENES)
        adata.X = mu + latent @ pcs.T
        adata.varm["PCs"] = pcs
        adata.var["highly_variable"] = np.arange(N_GENES) < 5
        adata.uns["truth"] = {"mu": mu}
    return adata


# ---------------------------------------------------------------------------------------------- fate
def test_fate_recovers_true_branches(tmp_path):
    adata = two_branches()
    scam.tl.fate(adata, known_model(), source=0.0, target=1.0, groupby="cell_type")
    probs = adata.obsm["scam_fate"]
    classes = list(adata.uns["scam_fate"]["classes"])
    assert classes == ["A", "B"]  # the classes present at the target, in category order
    src = adata.obs["time"].to_numpy() == 0
    assert np.isnan(probs[~src]).all()
    np.testing.assert_allclose(probs[src].sum(1), 1.0, atol=1e-6)
    predicted = np.asarray(classes)[probs[src].argmax(1)]
    accuracy = (predicted == adata.obs["true_fate"].to_numpy()[src]).mean()
    assert accuracy >= 0.99, accuracy
    params = adata.uns["scam_fate"]["params"]
    assert params["groupby"] == "cell_type" and params["stochastic"] is False and params["n_samples"] == 1
    adata.write_h5ad(tmp_path / "fate.h5ad")  # h5ad-serialisable
    back = ad.read_h5ad(tmp_path / "fate.h5ad")
    np.testing.assert_array_equal(back.obsm["scam_fate"], probs)


def test_fate_by_label_copy_and_key():
    adata = two_branches()
    snap = Snapshot.of(adata)
    out = scam.tl.fate(adata, known_model(), source="0", target="1", groupby="cell_type", key_added="k", copy=True)
    snap.assert_unchanged(adata)
    assert "k_fate" in out.obsm and "k_fate" in out.uns


def test_stochastic_fates_are_soft_reproducible_and_accurate():
    adata = two_branches()
    model = known_model(sigma=0.6)
    kw = {"source": 0.0, "target": 1.0, "groupby": "cell_type", "n_samples": 8}
    scam.tl.fate(adata, model, **kw, random_state=1)
    p1 = adata.obsm["scam_fate"].copy()
    scam.tl.fate(adata, model, **kw, random_state=1)
    np.testing.assert_array_equal(adata.obsm["scam_fate"], p1)
    scam.tl.fate(adata, model, **kw, random_state=2)
    assert not np.array_equal(adata.obsm["scam_fate"], p1)
    src = adata.obs["time"].to_numpy() == 0
    np.testing.assert_allclose(p1[src].sum(1), 1.0, atol=1e-6)
    y0 = adata.obsm["X_pca"][src, 1]
    soft = (p1[src].max(1) < 0.99) & (np.abs(y0) < 0.1)
    assert soft.any()  # noise makes cells near the split undecided ...
    far = np.abs(y0) > 1.0
    assert (p1[src][far].max(1) > 0.99).all()  # ... but not those far from it
    predicted = np.where(p1[src, 0] > 0.5, "A", "B")
    assert (predicted == adata.obs["true_fate"].to_numpy()[src]).mean() >= 0.85
    assert adata.uns["scam_fate"]["params"]["stochastic"] is True


# ---------------------------------------------------------------------------------------------- transitions
def test_transition_matrix_matches_known_split(tmp_path):
    adata = two_branches()
    table = scam.tl.transition_matrix(adata, known_model(), source=0.0, target=1.0, groupby="cell_type")
    src = adata.obs["time"].to_numpy() == 0
    groups = adata.obs["cell_type"].to_numpy()[src].astype(str)
    truth = adata.obs["true_fate"].to_numpy()[src]
    expected = pd.DataFrame(
        [[np.mean((groups == g) & (truth == f)) for f in ("A", "B")] for g in ("P1", "P2")],
        index=["P1", "P2"],
        columns=["A", "B"],
    )
    assert list(table.index) == ["P1", "P2"] and list(table.columns) == ["A", "B"]
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), atol=0.01)
    # rows sum to the source class's share, the whole to 1
    np.testing.assert_allclose(table.sum(1).to_numpy(), [np.mean(groups == "P1"), np.mean(groups == "P2")], atol=1e-9)
    assert table.to_numpy().sum() == pytest.approx(1.0)
    stored = adata.uns["scam_transitions"]
    np.testing.assert_allclose(stored["matrix"], table.to_numpy())
    np.testing.assert_allclose(stored["mass_multiplier"], 1.0)  # no growth
    adata.write_h5ad(tmp_path / "transitions.h5ad")
    np.testing.assert_allclose(ad.read_h5ad(tmp_path / "transitions.h5ad").uns["scam_transitions"]["matrix"], table)


def test_transition_mass_multiplier_matches_closed_form():
    """Growth λ s along x(t) = x0 + A t, |y(t)| = |y0| + B t: log w = λ (A x0 + B |y0| + (A² + B²) / 2)."""
    lam = 0.2
    adata = two_branches()
    scam.tl.transition_matrix(adata, known_model(lam=lam), source=0.0, target=1.0, groupby="cell_type", n_steps=200)
    src = adata.obs["time"].to_numpy() == 0
    X0 = adata.obsm["X_pca"][src]
    w = np.exp(lam * (A * X0[:, 0] + B * np.abs(X0[:, 1]) + (A**2 + B**2) / 2))
    groups = adata.obs["cell_type"].to_numpy()[src].astype(str)
    expected = [w[groups == g].mean() for g in ("P1", "P2")]
    np.testing.assert_allclose(adata.uns["scam_transitions"]["mass_multiplier"], expected, rtol=0.01)


def test_fate_on_a_fitted_model():
    """End to end: fit on the two-branch snapshots, fates agree with the true branches."""
    adata = two_branches()
    model = scam.tl.fit(adata, "time", n_iters=300, **LARGE_NET)
    scam.tl.fate(adata, model, source=0.0, target=1.0, groupby="cell_type")
    src = adata.obs["time"].to_numpy() == 0
    probs = adata.obsm["scam_fate"][src]
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    predicted = np.where(probs[:, 0] > 0.5, "A", "B")
    assert (predicted == adata.obs["true_fate"].to_numpy()[src]).mean() >= 0.85


# ---------------------------------------------------------------------------------------------- gene velocity
def test_gene_velocity_is_velocity_times_loadings():
    adata = two_branches(genes=True)
    model = known_model()
    scam.tl.gene_velocity(adata, model)
    layer = adata.layers["scam_velocity"]
    assert layer.dtype == np.float32 and layer.shape == adata.shape
    V = model.velocity(adata.obsm["X_pca"], adata.obs["time"].to_numpy())
    np.testing.assert_allclose(layer, V @ adata.varm["PCs"].T, rtol=1e-6, atol=1e-6)
    # ground truth: moving X_pca by V moves X = μ + X_pca PCs.T by V PCs.T; genes outside the PCA get 0
    assert np.all(layer[:, ~adata.var["highly_variable"].to_numpy()] == 0)
    assert np.abs(layer[:, :5]).max() > 0.5
    assert adata.uns["scam_gene_velocity"]["params"]["genes_without_loadings"] == 2


def test_gene_velocity_with_scanpy_pca_and_fit(tmp_path):
    """sc.pp.pca on highly variable genes + scam.tl.fit: the layer is obsm['scam_velocity'] @ PCs.T."""
    import scanpy as sc

    adata = two_branches(genes=True)
    del adata.obsm["X_pca"], adata.varm["PCs"]
    rng = np.random.default_rng(3)
    adata.X = adata.X + 0.01 * rng.normal(size=adata.shape)
    sc.pp.pca(adata, n_comps=3, mask_var="highly_variable")
    model = scam.tl.fit(adata, "time", n_iters=20, hidden=(16,), **QUIET)
    scam.tl.gene_velocity(adata, model)
    expected = adata.obsm["scam_velocity"] @ adata.varm["PCs"].T
    np.testing.assert_allclose(adata.layers["scam_velocity"], expected, rtol=1e-5, atol=1e-6)
    assert np.all(adata.layers["scam_velocity"][:, 5:] == 0)
    adata.write_h5ad(tmp_path / "gv.h5ad")


def latent_genes(seed=0, *, n_extra=1, sparse_x=False) -> tuple[ad.AnnData, np.ndarray, np.ndarray]:
    """two_branches with a latent ``X_latent`` (the model's 2 coordinates + ``n_extra`` more) and no PCA.

    The expression is exactly linear in the latent: ``X = b + X_latent @ W`` (``W`` ``(2 + n_extra, 7)``);
    returns the adata, ``W`` and ``b``.
    """
    rng = np.random.default_rng(seed)
    adata = two_branches(seed)
    latent = np.c_[adata.obsm.pop("X_pca"), rng.normal(size=(adata.n_obs, n_extra))]
    W, b = rng.normal(size=(latent.shape[1], N_GENES)), rng.normal(2.0, 1.0, N_GENES)
    adata.obsm["X_latent"] = latent
    X = b + latent @ W
    adata.X = sparse.csr_matrix(X) if sparse_x else X
    return adata, W, b


@pytest.mark.parametrize("sparse_x", [False, True], ids=["dense", "sparse"])
def test_gene_velocity_from_a_latent_without_loadings(sparse_x, tmp_path):
    """Expression = b + latent @ W: the fitted linear map recovers W, so the gene velocity is v @ W."""
    adata, W, _ = latent_genes(sparse_x=sparse_x)
    model = known_model(use_rep="X_latent")
    scam.tl.gene_velocity(adata, model)
    V = model.velocity(adata.obsm["X_latent"], adata.obs["time"].to_numpy())
    expected = V @ W[:2]  # the model moves the first 2 coordinates; the third stays
    layer = adata.layers["scam_velocity"]
    assert layer.dtype == np.float32 and layer.shape == adata.shape
    np.testing.assert_allclose(layer, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    entry = adata.uns["scam_gene_velocity"]
    assert entry["params"]["method"] == "linear_map" and entry["params"]["genes"] == "all"
    np.testing.assert_allclose(entry["r2"], 1.0, atol=1e-6)

    # a subset: only its columns, as a DataFrame in obsm; the full layer of the previous run is replaced
    scam.tl.gene_velocity(adata, model, genes=["g3", "g0"])
    assert "scam_velocity" not in adata.layers
    frame = adata.obsm["scam_gene_velocity"]
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["g3", "g0"]
    assert (frame.index == adata.obs_names).all()
    np.testing.assert_allclose(frame.to_numpy(), expected[:, [3, 0]], rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert list(adata.uns["scam_gene_velocity"]["genes"]) == ["g3", "g0"]
    adata.write_h5ad(tmp_path / "gv.h5ad")
    back = ad.read_h5ad(tmp_path / "gv.h5ad")
    pd.testing.assert_frame_equal(back.obsm["scam_gene_velocity"], frame)
    scam.tl.gene_velocity(adata, model)  # and back: the subset goes
    assert "scam_gene_velocity" not in adata.obsm and "scam_velocity" in adata.layers


def test_gene_velocity_of_a_subset_builds_no_gene_by_cell_array(monkeypatch):
    """With genes=, the linear map reads only those columns of X (never the whole matrix)."""
    adata, W, _ = latent_genes(sparse_x=True)
    model = known_model(use_rep="X_latent")
    import scam.tl._decode as decode

    seen = []
    block = decode._block
    monkeypatch.setattr(decode, "_block", lambda M, cols: seen.append(len(cols)) or block(M, cols))
    scam.tl.gene_velocity(adata, model, genes="g5")
    assert seen == [1] and adata.obsm["scam_gene_velocity"].shape == (adata.n_obs, 1)


def _tanh_decoder(rng, n_in, n_hidden=4):
    """A nonlinear decoder f(z) = c + tanh(z @ A) @ B and its exact JVP."""
    A, B, c = rng.normal(size=(n_in, n_hidden)), rng.normal(size=(n_hidden, N_GENES)), rng.normal(size=N_GENES)

    def decoder(z):
        return c + np.tanh(z @ A) @ B

    def jvp(z, v):
        return ((1.0 - np.tanh(z @ A) ** 2) * (v @ A)) @ B

    return decoder, jvp


def test_gene_velocity_through_a_decoder_is_its_jvp():
    """A known nonlinear decoder of all 3 latent columns (the model moves 2): the gene velocity is J_f(z) v."""
    adata, _, _ = latent_genes(seed=1)
    model = known_model(use_rep="X_latent")
    decoder, jvp = _tanh_decoder(np.random.default_rng(5), n_in=3)
    scam.tl.gene_velocity(adata, model, decoder=decoder)
    Z = adata.obsm["X_latent"]
    V = np.c_[model.velocity(Z, adata.obs["time"].to_numpy()), np.zeros(adata.n_obs)]  # the third column stays
    expected = jvp(Z, V)
    np.testing.assert_allclose(adata.layers["scam_velocity"], expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert adata.uns["scam_gene_velocity"]["params"]["method"] == "decoder"

    # the same through a decoder returning a DataFrame (genes by name) or a torch tensor, on a subset
    frame_decoder = lambda z: pd.DataFrame(decoder(z), columns=adata.var_names)  # noqa: E731
    torch_decoder = lambda z: torch.as_tensor(decoder(z))  # noqa: E731
    for dec in (frame_decoder, torch_decoder):
        out = scam.tl.gene_velocity(adata, model, genes=["g6", "g2"], decoder=dec, copy=True)
        np.testing.assert_allclose(
            out.obsm["scam_gene_velocity"].to_numpy(),
            expected[:, [6, 2]],
            rtol=1e-4,
            atol=1e-5 * np.abs(expected).max(),
        )


def test_gene_trends_from_a_latent_and_a_decoder_match_the_pca_map():
    """On data linear in X_pca, the linear map and a decoder give the trends of the PCA loadings."""
    adata = two_branches(genes=True)
    genes = ["g0", "g3", "g4"]
    kw = {"groupby": "cell_type", "n_cells": 200, "n_points": 5}
    ref = scam.tl.gene_trends(adata, known_model(), genes, **kw, copy=True).uns["scam_gene_trends"]
    assert ref["params"]["method"] == "pca_loadings"
    no_pcs = adata.copy()
    del no_pcs.varm["PCs"]
    lin = scam.tl.gene_trends(no_pcs, known_model(), genes, **kw, copy=True).uns["scam_gene_trends"]
    assert lin["params"]["method"] == "linear_map"
    np.testing.assert_allclose(lin["r2"], 1.0, atol=1e-6)
    pcs, mu = adata.varm["PCs"], adata.uns["truth"]["mu"]
    dec = scam.tl.gene_trends(no_pcs, known_model(), genes, **kw, decoder=lambda z: mu + z @ pcs.T, copy=True).uns[
        "scam_gene_trends"
    ]
    assert dec["params"]["method"] == "decoder"
    for res in (lin, dec):
        np.testing.assert_allclose(res["mean"], ref["mean"], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(res["std"], ref["std"], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(res["n_paths"], ref["n_paths"])


# ---------------------------------------------------------------------------------------------- gene trends
def test_gene_trends_on_linear_toy(tmp_path):
    """Constant velocity per branch: each class's mean expression is its start mean + t · (velocity @ PCs.T)."""
    adata = two_branches(genes=True)
    src = np.flatnonzero(adata.obs["time"].to_numpy() == 0)
    # keep the source cells away from the split so that each one's velocity is constant
    keep = np.ones(adata.n_obs, dtype=bool)
    keep[src[np.abs(adata.obsm["X_pca"][src, 1]) < 0.3]] = False
    adata = adata[keep].copy()
    src = np.flatnonzero(adata.obs["time"].to_numpy() == 0)
    genes = ["g0", "g3", "g6"]
    with pytest.warns(UserWarning, match="no PCA loadings.*g6"):
        scam.tl.gene_trends(adata, known_model(), genes, groupby="cell_type", n_cells=10_000, n_points=11)
    res = adata.uns["scam_gene_trends"]
    assert list(res["classes"]) == ["A", "B"] and list(res["genes"]) == genes
    np.testing.assert_allclose(res["times"], np.linspace(0, 1, 11))
    cols = [adata.var_names.get_loc(g) for g in genes]
    pcs = adata.varm["PCs"][cols]
    y0 = adata.obsm["X_pca"][src, 1]
    for c, (name, sign) in enumerate([("A", 1.0), ("B", -1.0)]):
        start = src[np.sign(y0) == sign]
        assert res["n_paths"][c] == len(start)
        X_start = adata.X[start][:, cols]
        expected = X_start.mean(0) + res["times"][:, None] * (np.array([A, sign * B]) @ pcs.T)
        np.testing.assert_allclose(res["mean"][c], expected, atol=2e-3, err_msg=name)
        np.testing.assert_allclose(res["std"][c], np.broadcast_to(X_start.std(0), expected.shape), atol=2e-3)
    # g6 is outside the PCA: flat at its mean
    np.testing.assert_allclose(res["mean"][:, :, 2], adata.uns["truth"]["mu"][6], atol=1e-4)
    adata.write_h5ad(tmp_path / "trends.h5ad")


def test_gene_trends_without_groupby_and_sparse_x():
    adata = two_branches(genes=True)
    adata.X = sparse.csr_matrix(adata.X)
    scam.tl.gene_trends(adata, known_model(), "g1", n_cells=50, n_points=5, random_state=0)
    res = adata.uns["scam_gene_trends"]
    assert list(res["classes"]) == ["all"] and res["mean"].shape == (1, 5, 1) and res["n_paths"][0] == 50
    first = res["mean"].copy()
    scam.tl.gene_trends(adata, known_model(), "g1", n_cells=50, n_points=5, random_state=1)
    assert not np.array_equal(adata.uns["scam_gene_trends"]["mean"], first)  # other start cells


# ---------------------------------------------------------------------------------------------- bad inputs
def _bad_cases():
    plain = two_branches
    with_genes = lambda: two_branches(genes=True)  # noqa: E731

    def no_pcs():
        adata = two_branches(genes=True)
        del adata.varm["PCs"]
        return adata

    def nan_target_label():
        adata = two_branches()
        adata.obs.loc[adata.obs_names[-1], "cell_type"] = np.nan
        return adata

    def nan_source_label():
        adata = two_branches()
        adata.obs.loc[adata.obs_names[0], "cell_type"] = np.nan
        return adata

    fate_kw = {"source": 0.0, "target": 1.0, "groupby": "cell_type"}
    m = known_model()
    noisy = known_model(sigma=0.5)
    return {
        "fate-backward-sde": (
            plain,
            lambda a: scam.tl.fate(a, noisy, source=1.0, target=0.0, groupby="cell_type", stochastic=True),
            r"Backward fates need the ODE; pass `stochastic=False`",
        ),
        "transitions-nan-source-label": (
            nan_source_label,
            lambda a: scam.tl.transition_matrix(a, m, **fate_kw),
            r"1 missing labels among the cells at the source time '0'; fill them",
        ),
        "fate-unknown-groupby": (
            plain,
            lambda a: scam.tl.fate(a, m, **{**fate_kw, "groupby": "celltype"}),
            r"`groupby='celltype'` is not a column of adata.obs.*available.*'cell_type'",
        ),
        "fate-source-not-a-time": (
            plain,
            lambda a: scam.tl.fate(a, m, **{**fate_kw, "source": 0.5}),
            r"`source=0.5` is not an observed time point; choose one of .*\[0.0, 1.0\]",
        ),
        "fate-target-label": (
            plain,
            lambda a: scam.tl.fate(a, m, **{**fate_kw, "target": "day 1"}),
            r"`target='day 1'` is not an observed time point.*labels \['0', '1'\]",
        ),
        "fate-same-times": (
            plain,
            lambda a: scam.tl.fate(a, m, **{**fate_kw, "target": 0.0}),
            r"same time point.*choose a later `target`",
        ),
        "fate-nan-target-label": (
            nan_target_label,
            lambda a: scam.tl.fate(a, m, **fate_kw),
            r"1 missing labels among the cells at the target time '1'; fill them",
        ),
        "fate-n-samples": (
            plain,
            lambda a: scam.tl.fate(a, m, **fate_kw, n_samples=0),
            r"`n_samples` must be a positive integer",
        ),
        "fate-not-a-model": (plain, lambda a: scam.tl.fate(a, "model", **fate_kw), r"`model` must be the ActionModel"),
        "fate-no-rep": (
            plain,
            lambda a: scam.tl.fate(a, known_model(use_rep="X_umap"), **fate_kw),
            r"`use_rep='X_umap'` is not in adata.obsm",
        ),
        "transitions-unknown-groupby": (
            plain,
            lambda a: scam.tl.transition_matrix(a, m, **{**fate_kw, "groupby": "x"}),
            r"`groupby='x'` is not a column",
        ),
        "transitions-source-not-a-time": (
            plain,
            lambda a: scam.tl.transition_matrix(a, m, **{**fate_kw, "source": 2}),
            r"`source=2` is not an observed time point",
        ),
        "gene-velocity-no-PCs": (
            no_pcs,
            lambda a: scam.tl.gene_velocity(a, m, loadings_key="PCs"),
            r"adata.varm\['PCs'\] \(the PCA loadings\) is missing.*Run `sc.pp.pca\(adata\)`.*loadings_key=None",
        ),
        "gene-velocity-no-rep": (
            with_genes,
            lambda a: scam.tl.gene_velocity(a, known_model(use_rep="X_latent")),
            r"`use_rep='X_latent'` is not in adata.obsm",
        ),
        "gene-velocity-decoder-not-callable": (
            with_genes,
            lambda a: scam.tl.gene_velocity(a, m, decoder="scvi"),
            r"`decoder` must be a function from latent coordinates",
        ),
        "gene-velocity-decoder-and-loadings": (
            with_genes,
            lambda a: scam.tl.gene_velocity(a, m, decoder=lambda z: z, loadings_key="PCs"),
            r"Pass either `decoder` or `loadings_key`",
        ),
        "gene-velocity-decoder-shape": (
            with_genes,
            lambda a: scam.tl.gene_velocity(a, m, decoder=lambda z: z),
            r"The decoder returned shape \(\d+, 2\).*\(n_points, n_vars\)",
        ),
        "gene-velocity-decoder-frame": (
            with_genes,
            lambda a: scam.tl.gene_velocity(a, m, genes=["g1"], decoder=lambda z: pd.DataFrame(z, columns=["a", "b"])),
            r"without the columns \['g1'\]",
        ),
        "gene-velocity-unknown-genes": (
            with_genes,
            lambda a: scam.tl.gene_velocity(a, m, genes=["g1", "Sox2"]),
            r"1 of `genes` are not in adata.var_names: 'Sox2'",
        ),
        "gene-velocity-ridge": (
            no_pcs,
            lambda a: scam.tl.gene_velocity(a, m, ridge=-1.0),
            r"`ridge`",
        ),
        "gene-velocity-linear-layer": (
            no_pcs,
            lambda a: scam.tl.gene_velocity(a, m, layer="counts"),
            r"`layer='counts'` is not in adata.layers",
        ),
        "gene-trends-unknown-genes": (
            with_genes,
            lambda a: scam.tl.gene_trends(a, m, ["g1", "Sox2"]),
            r"1 of `genes` are not in adata.var_names: 'Sox2'",
        ),
        "gene-trends-no-PCs": (
            no_pcs,
            lambda a: scam.tl.gene_trends(a, m, ["g1"], loadings_key="PCs"),
            r"varm\['PCs'\].*is missing",
        ),
        "gene-trends-bad-groupby": (
            with_genes,
            lambda a: scam.tl.gene_trends(a, m, ["g1"], groupby="nope"),
            r"`groupby='nope'` is not a column",
        ),
        "gene-trends-source": (
            with_genes,
            lambda a: scam.tl.gene_trends(a, m, ["g1"], source=3.0),
            r"`source=3.0` is not an observed time point",
        ),
        "gene-trends-empty": (with_genes, lambda a: scam.tl.gene_trends(a, m, []), r"non-empty list of names"),
        "gene-trends-layer": (
            with_genes,
            lambda a: scam.tl.gene_trends(a, m, ["g1"], layer="counts"),
            r"`layer='counts'` is not in adata.layers",
        ),
    }


BAD = _bad_cases()


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_inputs_raise_and_leave_adata_unchanged(case):
    make, call, match = BAD[case]
    adata = make()
    snap = Snapshot.of(adata)
    with pytest.raises((ValueError, TypeError), match=match):
        call(adata)
    snap.assert_unchanged(adata)


# ---------------------------------------------------------------------------------------------- plots
def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_pl_transitions_draws_annotated_heatmap():
    import matplotlib.pyplot as plt

    adata = two_branches()
    table = scam.tl.transition_matrix(adata, known_model(), source=0.0, target=1.0, groupby="cell_type")
    ax = scam.pl.transitions(adata, show=False)
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), table.to_numpy())
    assert _texts(ax) == [f"{v:.2f}" for v in table.to_numpy().ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["P1", "P2"]
    assert image.colorbar is not None and image.colorbar.ax.get_ylabel() == "share of source cells"
    assert ax.get_ylabel() == "cell_type at 0" and ax.get_xlabel() == "cell_type at 1"
    plt.close("all")
    # row-normalised, from the DataFrame, on a given Axes
    fig, given = plt.subplots()
    out = scam.pl.transitions(table, normalize=True, annotate=None, ax=given, show=False)
    assert out is given and len(given.texts) == 0
    np.testing.assert_allclose(given.images[0].get_array().sum(1), 1.0)
    fig = scam.pl.transitions(adata, return_fig=True)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close("all")


def test_pl_fate_heatmap_and_scatter():
    import matplotlib.pyplot as plt

    adata = two_branches()
    scam.tl.fate(adata, known_model(), source=0.0, target=1.0, groupby="cell_type")
    ax = scam.pl.fate(adata, show=False)
    src = adata.obs["time"].to_numpy() == 0
    groups = adata.obs["cell_type"].to_numpy()[src].astype(str)
    probs = adata.obsm["scam_fate"][src]
    expected = np.stack([probs[groups == g].mean(0) for g in ("P1", "P2")])
    np.testing.assert_allclose(ax.images[0].get_array(), expected, rtol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["P1", "P2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
    assert _texts(ax) == [f"{v:.2f}" for v in expected.ravel()]
    assert ax.images[0].colorbar.ax.get_ylabel() == "mean fate probability"
    plt.close("all")
    ax = scam.pl.fate(adata, basis="X_pca", fate_class="B", show=False)
    coloured = ax.collections[1]
    np.testing.assert_allclose(coloured.get_array(), probs[:, 1], rtol=1e-6)
    assert coloured.colorbar.ax.get_ylabel() == "P(fate = B)"
    plt.close("all")


def test_pl_gene_trends_draws_lines_and_bands():
    import matplotlib.pyplot as plt

    adata = two_branches(genes=True)
    scam.tl.gene_trends(adata, known_model(), ["g0", "g1"], groupby="cell_type", n_cells=100, n_points=6)
    axes = scam.pl.gene_trends(adata, show=False)
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["g0", "g1"]
    res = adata.uns["scam_gene_trends"]
    lines = axes[1].get_lines()
    assert len(lines) == 2 and len(axes[1].collections) == 2  # a line and a band per class
    np.testing.assert_allclose(lines[0].get_ydata(), res["mean"][0, :, 1])
    np.testing.assert_allclose(lines[0].get_xdata(), res["times"])
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == [f"A (n={res['n_paths'][0]})", f"B (n={res['n_paths'][1]})"]
    plt.close("all")
    fig, ax = plt.subplots()
    assert scam.pl.gene_trends(adata, genes="g1", classes="B", ax=ax, show=False) is ax
    assert len(ax.get_lines()) == 1
    with pytest.raises(ValueError, match="`ax` draws one gene"):
        scam.pl.gene_trends(adata, ax=ax, show=False)
    plt.close("all")


def test_pl_gene_trends_uses_scanpys_group_colours(tmp_path):
    """A class has its colour of the embedding (uns['cell_type_colors'], by category), whichever classes are drawn."""
    import matplotlib.pyplot as plt
    import scanpy as sc
    from matplotlib.colors import to_hex

    adata = two_branches(genes=True)
    scam.tl.gene_trends(adata, known_model(), ["g0"], groupby="cell_type", n_cells=100, n_points=6)

    def colours(**kwargs):
        ax = scam.pl.gene_trends(adata, show=False, **kwargs)
        drawn = {line.get_label().split(" ")[0]: to_hex(line.get_color()) for line in ax.get_lines()}
        bands = [to_hex(band.get_facecolor()[0], keep_alpha=False) for band in ax.collections]
        assert bands == list(drawn.values())  # each band in its line's colour
        plt.close("all")
        return drawn

    # no colours stored: scanpy's defaults by category (P1, P2, A, B), as sc.pl.embedding would store them
    reference = adata.copy()
    sc.pl.embedding(reference, basis="pca", color="cell_type", show=False)
    plt.close("all")
    by_category = dict(zip(reference.obs["cell_type"].cat.categories, reference.uns["cell_type_colors"], strict=True))
    assert colours() == {"A": to_hex(by_category["A"]), "B": to_hex(by_category["B"])}
    assert colours()["A"] != to_hex("C0")  # A is the third category: not the first colour of the cycle
    # the user's colours
    adata.uns["cell_type_colors"] = ["#111111", "#222222", "#aa0000", "#0000aa"]
    assert colours() == {"A": "#aa0000", "B": "#0000aa"}
    assert colours(classes="B") == {"B": "#0000aa"}  # B keeps its colour when drawn alone
    # too few colours for the categories (scanpy would replace them): the defaults again
    adata.uns["cell_type_colors"] = ["#111111"]
    assert colours() == {"A": to_hex(by_category["A"]), "B": to_hex(by_category["B"])}


@pytest.mark.parametrize(
    ("plot", "match"),
    [
        (lambda a: scam.pl.fate(a), r"run `scam.tl.fate\(adata, model, ...\)` first"),
        (lambda a: scam.pl.transitions(a), r"run `scam.tl.transition_matrix\(adata, model, ...\)` first"),
        (lambda a: scam.pl.gene_trends(a), r"run `scam.tl.gene_trends\(adata, model, genes\)` first"),
    ],
    ids=["fate", "transitions", "gene_trends"],
)
def test_plots_without_results_name_the_missing_step(plot, match):
    adata = two_branches()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        plot(adata)
    snap.assert_unchanged(adata)


def test_plot_bad_arguments():
    import matplotlib.pyplot as plt

    adata = two_branches(genes=True)
    m = known_model()
    scam.tl.fate(adata, m, source=0.0, target=1.0, groupby="cell_type")
    scam.tl.gene_trends(adata, m, ["g0"], n_cells=20, n_points=3)
    with pytest.raises(ValueError, match=r"`fate_class='C'` is not a fate class; choose one of \['A', 'B'\]"):
        scam.pl.fate(adata, basis="X_pca", fate_class="C", show=False)
    with pytest.raises(ValueError, match=r"`basis='X_umap'` is not in adata.obsm.*sc.tl.umap"):
        scam.pl.fate(adata, basis="X_umap", show=False)
    with pytest.raises(ValueError, match=r"Genes \['g3'\] have no computed trend"):
        scam.pl.gene_trends(adata, genes="g3", show=False)
    with pytest.raises(ValueError, match="format string"):
        scam.pl.fate(adata, annotate=3, show=False)
    plt.close("all")


# ---------------------------------------------------------------------------------------------- branching data
@pytest.fixture(scope="module")
def branching_fit():
    """scam.datasets.branching → log-normalise → PCA → unbalanced AM with the true masses (branch B dies)."""
    import scanpy as sc

    adata = scam.datasets.branching(n_cells=300, random_state=0)
    gt = adata.uns["ground_truth"]
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=10)
    masses = dict(zip(gt["times"].tolist(), gt["masses"].tolist(), strict=True))
    model = scam.tl.fit(adata, "day", n_dims=5, lam=5.0, masses=masses, n_iters=800, **LARGE_NET)
    return adata, model


def test_branching_fates_and_transitions_match_truth(branching_fit):
    adata, model = branching_fit
    scam.tl.fate(adata, model, source=2.0, target=4.0, groupby="branch")
    day2 = adata.obs["day"].to_numpy() == 2.0
    classes = list(adata.uns["scam_fate"]["classes"])
    p_a = adata.obsm["scam_fate"][day2, classes.index("A")]
    true_fate = adata.obs["fate"].to_numpy()[day2]
    accuracy = np.mean((p_a > 0.5) == (true_fate == "A"))
    assert accuracy >= 0.85, accuracy  # 0.99 here; the Bayes ceiling is 1.0 at day 2
    assert np.abs(p_a - adata.obs["fate_probability_A"].to_numpy()[day2]).mean() < 0.15

    table = scam.tl.transition_matrix(adata, model, source=2.0, target=4.0, groupby="branch")
    truth = pd.crosstab(adata.obs["branch"][day2], adata.obs["fate"][day2], normalize="all")
    truth = truth.reindex(index=table.index, columns=table.columns, fill_value=0.0)
    np.testing.assert_allclose(table.sum(1).to_numpy(), truth.sum(1).to_numpy(), atol=1e-9)  # class shares
    np.testing.assert_allclose(table.to_numpy(), truth.to_numpy(), atol=0.1)
    # one mass multiplier per source class, finite and positive (its value is the fit's growth estimate)
    assert np.all(np.isfinite(adata.uns["scam_transitions"]["mass_multiplier"]))


def test_branching_gene_trends_follow_marker_genes(branching_fit):
    """Proliferation markers end higher on branch A, apoptosis markers higher on branch B, as observed."""
    adata, model = branching_fit
    gt = adata.uns["ground_truth"]
    pro, apo = list(gt["proliferation_genes"][:3]), list(gt["apoptosis_genes"][:3])
    scam.tl.gene_trends(adata, model, pro + apo, groupby="branch", source=2.0, target=4.0, n_cells=300, n_points=5)
    res = adata.uns["scam_gene_trends"]
    assert list(res["classes"]) == ["A", "B"] and res["n_paths"].sum() == 300
    end = res["mean"][:, -1, :]  # (class, gene) at day 4
    assert np.all(end[0, :3] > end[1, :3]) and np.all(end[0, 3:] < end[1, 3:])
    day4 = adata.obs["day"].to_numpy() == 4.0
    observed = np.stack(
        [np.asarray(adata[day4 & (adata.obs["branch"] == b).to_numpy(), pro + apo].X.mean(0)).ravel() for b in "AB"]
    )
    assert np.corrcoef(end.ravel(), observed.ravel())[0, 1] > 0.8  # 0.87 here (12 B cells observed at day 4)

    scam.tl.gene_velocity(adata, model)
    V = model.velocity(adata.obsm["X_pca"], adata.obs["day"].to_numpy())
    np.testing.assert_allclose(adata.layers["scam_velocity"], V @ adata.varm["PCs"][:, :5].T, rtol=1e-5, atol=1e-5)
