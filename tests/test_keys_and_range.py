"""Nothing lost, nothing silent: the keys scam may write, stale results after a refit, the time range, model inputs."""

from __future__ import annotations

import logging
import warnings

import anndata as ad
import numpy as np
import pytest
import torch
from _helpers import TINY_FIT, Snapshot, small_path
from scipy import sparse

import scam
import scam.model
from scam import ActionModel
from scam.core.network import ActionNet

GENES = ["dim1", "dim2"]  # small_path's genes: X is X_pca, so the loadings are the identity


def _data() -> ad.AnnData:
    adata = small_path()
    adata.varm["PCs"] = np.eye(2)
    adata.obs["side"] = np.where(adata.obsm["X_pca"][:, 1] > 0, "up", "down")
    return adata


@pytest.fixture(scope="module")
def fitted() -> tuple[ActionModel, ad.AnnData]:
    """A tiny model on times 0, 1, 2 and the adata it was fitted on (copy it before writing)."""
    adata = _data()
    model = scam.tl.fit(adata, **TINY_FIT)
    return model, adata


def _readouts(adata: ad.AnnData, model: ActionModel, key: str = "scam") -> None:
    """Every read-out that writes, with ``key_added=key``."""
    args = {"source": 0.0, "target": 2.0, "groupby": "side", "n_steps": 2, "key_added": key}
    scam.tl.fate(adata, model, **args)
    scam.tl.transition_matrix(adata, model, **args)
    scam.tl.gene_velocity(adata, model, key_added=key)
    scam.tl.gene_trends(adata, model, GENES, n_cells=5, n_points=3, key_added=key)
    scam.tl.velocity_graph(adata, key=key, basis=[])


# --------------------------------------------------------------------------------------------
# keys: key_added never overwrites what scam did not write
# --------------------------------------------------------------------------------------------


def _time_as(name):
    def make(adata):
        adata.obs[name] = adata.obs["time"]
        return name

    return make


def _user_column(adata):
    adata.obs["x_growth"] = 1.0  # the user's own column
    return "time"


def _scanpy_pca(adata):
    adata.uns["pca"] = {"params": {"zero_center": True}, "variance": np.ones(2)}
    return "time"


FIT_COLLISIONS = {
    # the time column is the `_growth` key of the prefix
    "time-column": (_time_as("x_growth"), {"key_added": "x"}, r"adata\.obs\['x_growth'\], which it reads"),
    "user-column": (_user_column, {"key_added": "x"}, r"adata\.obs\['x_growth'\], which scam\.tl\.fit did not write"),
    "scanpy-pca": (_scanpy_pca, {"key_added": "pca"}, r"adata\.uns\['pca'\], which scam\.tl\.fit did not write"),
    "use_rep": (lambda a: "time", {"key_added": "X", "use_rep": "X_velocity"}, r"adata\.obsm\['X_velocity'\]"),
}


@pytest.mark.parametrize(("prepare", "kwargs", "match"), list(FIT_COLLISIONS.values()), ids=list(FIT_COLLISIONS))
def test_fit_refuses_a_key_added_that_overwrites_the_users_keys(prepare, kwargs, match):
    adata = small_path()
    time_key = prepare(adata)
    if kwargs.get("use_rep") == "X_velocity":
        adata.obsm["X_velocity"] = adata.obsm["X_pca"].copy()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match + r".*choose another `key_added` \(e\.g\. key_added='\w+'\)"):
        scam.tl.fit(adata, time_key, **{**TINY_FIT, "n_iters": 1000}, **kwargs)  # refused before training
    snap.assert_unchanged(adata)


def test_the_suggested_key_added_works():
    adata = small_path()
    _scanpy_pca(adata)
    with pytest.raises(ValueError, match=r"key_added='pca_2'"):
        scam.tl.fit(adata, key_added="pca", **TINY_FIT)
    scam.tl.fit(adata, key_added="pca_2", **TINY_FIT)
    assert adata.uns["pca"]["params"] == {"zero_center": True}


def test_a_refit_overwrites_its_own_keys_and_survives_h5ad(tmp_path):
    adata = small_path()
    scam.tl.fit(adata, **TINY_FIT)
    scam.tl.fit(adata, **TINY_FIT, random_state=1)  # same key_added: its own keys
    assert adata.uns["scam"]["params"]["random_state"] == 1
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    scam.tl.fit(back, **TINY_FIT)  # the record of what scam wrote survives the file


def test_fit_does_not_overwrite_another_tools_results(fitted):
    model, adata = fitted
    adata = adata.copy()
    scam.tl.fate(adata, model, source=0.0, target=2.0, groupby="side", n_steps=2)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"adata\.uns\['scam_fate'\], which scam\.tl\.fit did not write"):
        scam.tl.fit(adata, key_added="scam_fate", **TINY_FIT)
    snap.assert_unchanged(adata)


def _own(slot, key):
    def make(adata):
        if slot == "uns":
            adata.uns[key] = {"mine": np.arange(3)}
        elif slot == "obsm":
            adata.obsm[key] = np.zeros((adata.n_obs, 2))
        else:
            adata.layers[key] = np.zeros(adata.shape)

    return make


READOUT_COLLISIONS = {
    "fate": (
        _own("obsm", "mine_fate"),
        lambda a, m: scam.tl.fate(a, m, source=0.0, target=2.0, groupby="side", key_added="mine"),
        r"`key_added='mine'` would overwrite adata\.obsm\['mine_fate'\], which scam\.tl\.fate did not write",
    ),
    "transition_matrix": (
        _own("uns", "mine_transitions"),
        lambda a, m: scam.tl.transition_matrix(a, m, source=0.0, target=2.0, groupby="side", key_added="mine"),
        r"adata\.uns\['mine_transitions'\], which scam\.tl\.transition_matrix did not write",
    ),
    "gene_velocity": (
        _own("layers", "scam_velocity"),
        lambda a, m: scam.tl.gene_velocity(a, m),
        r"adata\.layers\['scam_velocity'\], which scam\.tl\.gene_velocity did not write",
    ),
    "gene_velocity_subset": (
        _own("obsm", "scam_gene_velocity"),
        lambda a, m: scam.tl.gene_velocity(a, m, genes=["dim1"]),
        r"adata\.obsm\['scam_gene_velocity'\], which scam\.tl\.gene_velocity did not write",
    ),
    "velocity_graph": (
        _own("uns", "scam_velocity_params"),
        lambda a, m: scam.tl.velocity_graph(a),
        r"`key='scam'` would overwrite adata\.uns\['scam_velocity_params'\], which scam\.tl\.velocity_graph did "
        r"not write.*scvelo's vkey is 'scam_velocity'",
    ),
    "velocity_graph_embedding": (
        _own("obsm", "scam_velocity_pca"),
        lambda a, m: scam.tl.velocity_graph(a, basis="pca"),
        r"adata\.obsm\['scam_velocity_pca'\], which scam\.tl\.fit did not write",
    ),
    "gene_trends": (
        _own("uns", "scam_gene_trends"),
        lambda a, m: scam.tl.gene_trends(a, m, GENES, n_cells=5),
        r"adata\.uns\['scam_gene_trends'\], which scam\.tl\.gene_trends did not write",
    ),
    "velocity_embedding": (
        _own("obsm", "scam_velocity_pca"),
        lambda a, m: scam.tl.velocity_embedding(a, basis="pca"),
        r"`key='scam'` would overwrite adata\.obsm\['scam_velocity_pca'\], which scam\.tl\.fit did not write.*"
        r"rename or delete it, or fit with another `key_added` and pass that as `key`",
    ),
    "leave_one_timepoint_out": (
        lambda a: None,  # the fit's own uns['scam']
        lambda a, m: scam.tl.leave_one_timepoint_out(a, key_added="scam", methods="previous", progress_bar=False),
        r"`key_added='scam'` would overwrite adata\.uns\['scam'\], which scam\.tl\.leave_one_timepoint_out did "
        r"not write",
    ),
    "leave_one_timepoint_out_pca": (
        _scanpy_pca,
        lambda a, m: scam.tl.leave_one_timepoint_out(a, key_added="pca", methods="previous", progress_bar=False),
        r"adata\.uns\['pca'\], which scam\.tl\.leave_one_timepoint_out did not write",
    ),
    "trajectories": (
        _scanpy_pca,
        lambda a, m: scam.tl.trajectories(a, m, key_added="pca"),
        r"adata\.uns\['pca'\] was not written by scam\.tl\.fit.*`key_added` of your fit",
    ),
}


@pytest.mark.parametrize(("prepare", "call", "match"), list(READOUT_COLLISIONS.values()), ids=list(READOUT_COLLISIONS))
def test_readouts_refuse_a_key_added_that_overwrites_the_users_keys(fitted, prepare, call, match):
    model, adata = fitted
    adata = adata.copy()
    prepare(adata)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        call(adata, model)
    snap.assert_unchanged(adata)


def test_readouts_rerun_over_their_own_results(fitted):
    model, adata = fitted
    adata = adata.copy()
    _readouts(adata, model)
    _readouts(adata, model)
    scam.tl.velocity_embedding(adata, basis="pca")
    scam.tl.velocity_embedding(adata, basis="pca")
    for _ in range(2):
        scam.tl.leave_one_timepoint_out(adata, methods="previous", progress_bar=False)
    assert "scam" in adata.uns and "scam_lot" in adata.uns  # the fit's results are still there


@pytest.mark.parametrize(
    ("prepare", "key", "match"),
    [
        (lambda a: None, "day", r"adata\.obs\['day'\], which scam\.pp\.growth_prior did not write"),
        (lambda a: a.obs.__setitem__("growth_prior", 0.1), "growth_prior", r"adata\.obs\['growth_prior'\]"),
        (_scanpy_pca, "pca", r"adata\.uns\['pca'\], which scam\.pp\.growth_prior did not write"),
    ],
    ids=["time-column", "user-column", "scanpy-pca"],
)
def test_growth_prior_refuses_a_key_added_that_overwrites_the_users_keys(prepare, key, match):
    adata = scam.datasets.branching(n_cells=40, random_state=0)
    prepare(adata)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match + r".*choose another `key_added`"):
        scam.pp.growth_prior(adata, key_added=key)
    snap.assert_unchanged(adata)


def test_growth_prior_reruns_over_its_own_results(tmp_path):
    adata = scam.datasets.branching(n_cells=40, random_state=0)
    scam.pp.growth_prior(adata)
    first = adata.obs["growth_prior"].copy()
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    scam.pp.growth_prior(back)  # the record survives the file
    np.testing.assert_allclose(back.obs["growth_prior"], first)


# --------------------------------------------------------------------------------------------
# a refit removes the results derived from the earlier fit
# --------------------------------------------------------------------------------------------

DERIVED = [
    ("obsm", "scam_velocity_pca"),
    ("obsm", "scam_fate"),
    ("uns", "scam_fate"),
    ("uns", "scam_transitions"),
    ("layers", "scam_velocity"),
    ("uns", "scam_gene_velocity"),
    ("uns", "scam_gene_trends"),
    ("uns", "scam_velocity_graph"),
    ("uns", "scam_velocity_graph_neg"),
    ("uns", "scam_velocity_params"),
]


def _has(adata, slot, key):
    return key in getattr(adata, slot)


def test_a_refit_removes_the_results_of_the_earlier_fit(fitted, caplog):
    model, adata = fitted
    adata = adata.copy()
    scam.tl.velocity_embedding(adata, basis="pca")
    scam.tl.trajectories(adata, model, n_cells=5, n_steps=2)
    _readouts(adata, model)
    other = adata.copy()
    scam.tl.fit(other, key_added="other", **TINY_FIT)  # another key_added: nothing of "scam" is touched
    assert all(_has(other, slot, key) for slot, key in DERIVED)
    assert "trajectories" in other.uns["scam"]
    with caplog.at_level(logging.INFO, logger="scam"):
        scam.tl.fit(adata, random_state=1, **TINY_FIT)
    assert not [(slot, key) for slot, key in DERIVED if _has(adata, slot, key)]
    assert "trajectories" not in adata.uns["scam"]
    removed = " ".join(r.getMessage() for r in caplog.records if "removed" in r.getMessage())
    for slot, key in DERIVED:
        assert f"{slot}[{key!r}]" in removed, removed
    assert "uns['scam']['trajectories']" in removed


def test_velocity_plot_after_a_refit_shows_the_new_velocities(fitted):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, adata = fitted
    adata = adata.copy()
    scam.tl.velocity_embedding(adata, basis="pca")
    old = adata.obsm["scam_velocity_pca"].copy()
    scam.tl.fit(adata, random_state=1, **TINY_FIT)
    assert "scam_velocity_pca" not in adata.obsm  # the stale projection is gone
    scam.pl.velocity(adata, basis="pca", show=False)
    plt.close("all")
    np.testing.assert_allclose(adata.obsm["scam_velocity_pca"], adata.obsm["scam_velocity"][:, :2])
    assert not np.allclose(adata.obsm["scam_velocity_pca"], old)


def test_a_refit_after_h5ad_still_removes_stale_results(fitted, tmp_path):
    model, adata = fitted
    adata = adata.copy()
    scam.tl.velocity_embedding(adata, basis="pca")
    _readouts(adata, model)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    scam.tl.fit(back, **TINY_FIT)
    assert not [(slot, key) for slot, key in DERIVED if _has(back, slot, key)]


# --------------------------------------------------------------------------------------------
# the fitted time range
# --------------------------------------------------------------------------------------------

RANGE_WARNING = r"outside the time range the model was fitted on, \[0, 2\].*Simulate within \[0, 2\].*refit"


def _range_warnings(record) -> list:
    return [w for w in record if issubclass(w.category, UserWarning) and "fitted on" in str(w.message)]


def test_simulate_far_outside_the_fitted_range_warns_once(fitted, monkeypatch):
    model, adata = fitted
    monkeypatch.setattr(scam._simulate, "CHUNK_SIZE", 16)  # several chunks: still one warning
    X = adata.obsm["X_pca"][:50]
    with pytest.warns(UserWarning, match=r"\(`t_end=1000`\): the dynamics there are extrapolated") as record:
        model.simulate(X, 0.0, 1000.0, n_steps=5)
    assert len(_range_warnings(record)) == 1
    with pytest.warns(UserWarning, match=RANGE_WARNING):
        model.simulate(X, -1.0, 1.0, n_steps=2, stochastic=False)


def test_simulate_within_the_range_and_its_margin_is_silent(fitted):
    model, adata = fitted
    X = adata.obsm["X_pca"][:5]
    assert model.time_range == (0.0, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.simulate(X, 0.0, 2.0, n_steps=2)
        model.simulate(X, -0.05, 2.09, n_steps=2)  # within 5 % of the span
        model.simulate(X, 2.0, 0.0, n_steps=2)
    with pytest.warns(UserWarning, match=r"`t_end=2\.2`"):
        model.simulate(X, 0.0, 2.2, n_steps=2)


def _exploding_model() -> ActionModel:
    """A tied-growth model whose action is about 200 everywhere: the weights exp(∫ λ s dt) overflow float32."""
    torch.manual_seed(0)
    net = ActionNet(2, hidden=(8,))
    with torch.no_grad():
        net.mlp[-1].bias.fill_(200.0)
    return ActionModel(net, center=np.zeros(2), scale=1.0, t_origin=0.0, t_span=2.0, lam=1.0)


def test_simulate_raises_when_the_weights_overflow():
    model = _exploding_model()
    X = np.zeros((4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow warning: a clear error instead
        with pytest.raises(ValueError, match=r"growth weights .*overflowed.*from 0 to 2 .*shorter interval.*`lam`"):
            model.simulate(X, 0.0, 2.0, n_steps=4, return_weights=True)
        with pytest.raises(ValueError, match=r"overflowed"):
            model.simulate(X, 0.0, 2.0, n_steps=4, return_weights=True, return_path=True)
    assert np.isfinite(model.simulate(X, 0.0, 2.0, n_steps=4)).all()  # positions alone are fine


def _hours(adata: ad.AnnData) -> ad.AnnData:
    out = adata.copy()
    out.obs["time"] = out.obs["time"] * 24.0
    return out


RANGE_READOUTS = {
    "trajectories-t_end": (
        lambda a, m: scam.tl.trajectories(a, m, t_end=1000.0),
        r"`t_end` \(1000\) lies outside the time range the model was fitted on, \[0, 2\]",
    ),
    "trajectories-hours": (
        lambda a, m: scam.tl.trajectories(_hours(a), m),
        r"`t_end` \(48\) lies outside.*\[0, 2\].*hours instead of days",
    ),
    "fate-hours": (
        lambda a, m: scam.tl.fate(_hours(a), m, source=0.0, target=48.0, groupby="side"),
        r"`target` \(48\) lies outside the time range the model was fitted on, \[0, 2\]",
    ),
    "transition_matrix-hours": (
        lambda a, m: scam.tl.transition_matrix(_hours(a), m, source=24.0, target=48.0, groupby="side"),
        r"`source` \(24\) and `target` \(48\) lie outside",
    ),
    "gene_trends-hours": (
        lambda a, m: scam.tl.gene_trends(_hours(a), m, GENES),
        r"`target` \(48\) lies outside",
    ),
    "gene_velocity-hours": (
        lambda a, m: scam.tl.gene_velocity(_hours(a), m),
        r"the last time of adata\.obs\['time'\] \(48\) lies outside.*convert it to the fit's units",
    ),
}


@pytest.mark.parametrize(("call", "match"), list(RANGE_READOUTS.values()), ids=list(RANGE_READOUTS))
def test_readouts_refuse_times_outside_the_fitted_range(fitted, call, match):
    model, adata = fitted
    snap = Snapshot.of(adata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before simulating: no warning either
        with pytest.raises(ValueError, match=match):
            call(adata, model)
    snap.assert_unchanged(adata)


# --------------------------------------------------------------------------------------------
# model inputs: sparse matrices, and a model that does not fit the adata
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_model_methods_take_sparse_matrices(fitted, fmt):
    model, adata = fitted
    X = adata.obsm["X_pca"][:20]
    S = sparse.csr_matrix(X).asformat(fmt)
    np.testing.assert_array_equal(model.simulate(S, 0.0, 1.0, n_steps=2), model.simulate(X, 0.0, 1.0, n_steps=2))
    for method in ("velocity", "potential", "growth"):
        np.testing.assert_array_equal(getattr(model, method)(S, 0.5), getattr(model, method)(X, 0.5))
    for a, b in zip(model.evaluate(S, 1.0), model.evaluate(X, 1.0), strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_methods_refuse_non_numeric_cells(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match=r"Expected the cells as a numeric array \(n_cells, >= 2\).*np\.asarray"):
        model.velocity([["a", "b"]], 0.0)
    with pytest.raises(ValueError, match=r"Expected the cells as a numeric array"):
        model.simulate({"x": 1}, 0.0, 1.0)


@pytest.fixture
def loaded(fitted, tmp_path) -> ActionModel:
    model, _ = fitted
    return ActionModel.load(model.save(tmp_path / "model"), device="cpu")


def test_a_loaded_model_on_data_with_another_time_column(fitted, loaded):
    _, adata = fitted
    new = adata.copy()
    new.obs = new.obs.rename(columns={"time": "day"})
    snap = Snapshot.of(new)
    fix = r"`time_key='time'` is not a column of adata\.obs.*the model was fitted on that time column.*Pass `time_key=`"
    with pytest.raises(ValueError, match=fix):
        scam.tl.trajectories(new, loaded)
    with pytest.raises(ValueError, match=fix):
        scam.tl.fate(new, loaded, source=0.0, target=2.0, groupby="side")
    snap.assert_unchanged(new)
    scam.tl.trajectories(new, loaded, time_key="day", n_cells=5, n_steps=2)  # the fix works
    assert new.uns["scam"]["trajectories"]["params"]["time_key"] == "day"


def test_a_loaded_model_on_data_with_another_representation(fitted, loaded):
    _, adata = fitted
    new = adata.copy()
    new.obsm["X_other"] = new.obsm.pop("X_pca")
    snap = Snapshot.of(new)
    with pytest.raises(ValueError, match=r"`use_rep='X_pca'` is not in adata\.obsm.*fitted on.*Pass `use_rep=`"):
        scam.tl.trajectories(new, loaded)
    snap.assert_unchanged(new)
    scam.tl.fate(new, loaded, source=0.0, target=2.0, groupby="side", use_rep="X_other", n_steps=2)


def test_a_loaded_model_on_data_with_fewer_dimensions(fitted, loaded):
    _, adata = fitted
    new = adata.copy()
    new.obsm["X_pca"] = new.obsm["X_pca"][:, :1]
    snap = Snapshot.of(new)
    match = r"The model uses 2 coordinates.*adata\.obsm\['X_pca'\] has 1; pass `use_rep=`.*or refit"
    for call in (
        lambda: scam.tl.trajectories(new, loaded),
        lambda: scam.tl.fate(new, loaded, source=0.0, target=2.0, groupby="side"),
        lambda: scam.tl.transition_matrix(new, loaded, source=0.0, target=2.0, groupby="side"),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    snap.assert_unchanged(new)
