"""Unusual inputs that must just work, and bad ones that must fail clearly (found by an input audit).

Complements ``test_bad_inputs.py``: each test here failed before the fix it guards.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from _helpers import QUICK_FIT, Snapshot, small_path

import scam

LABELS = {0.0: "D2", 1.0: "D10", 2.0: "D11"}


def make_named() -> ad.AnnData:
    """180 cells at times 'D2' < 'D10' < 'D11' (an ordered categorical: not alphabetical), 2 dims, a cell type.

    The labels are ordered by their numbers, which are their values: 2, 10, 11.
    """
    adata = small_path()
    adata.obs["time"] = pd.Categorical(adata.obs["time"].map(LABELS), categories=list(LABELS.values()), ordered=True)
    adata.obs["ct"] = np.where(adata.obsm["X_pca"][:, 1] > 0, "up", "down")
    return adata


@pytest.fixture(scope="module")
def named() -> tuple[scam.ActionModel, ad.AnnData]:
    adata = make_named()
    model = scam.tl.fit(adata, **QUICK_FIT)
    return model, adata


# --------------------------------------------------------------------------------------------
# ordered categorical times: read-outs use the fitted time axis, also on subsets
# --------------------------------------------------------------------------------------------


def test_readouts_on_a_subset_use_the_fitted_times(named):
    """A subset drops unused categories, so 'D11' is the 2nd category there; the model's time for it is still 11."""
    model, adata = named
    assert list(adata.uns["scam"]["time"]["labels"]) == ["D2", "D10", "D11"]  # category order, not alphabetical
    sub = adata[adata.obs["time"] != "D10"].copy()
    assert list(sub.obs["time"].cat.categories) == ["D2", "D11"]
    scam.tl.fate(sub, model, source="D2", target="D11", groupby="ct")
    assert sub.uns["scam_fate"]["params"]["target"] == 11.0
    scam.tl.fate(sub, model, source=2, target=11, groupby="ct")  # the fitted values name the times too
    scam.tl.trajectories(sub, model, n_cells=5, n_steps=4)
    np.testing.assert_allclose(sub.uns["scam"]["trajectories"]["times"][[0, -1]], [2.0, 11.0])


def test_readouts_refuse_a_time_label_the_model_never_saw(named):
    model, adata = named
    other = adata.copy()
    # a label without a number: the column's times are positions among its categories, which the model never saw
    other.obs["time"] = other.obs["time"].cat.rename_categories({"D10": "Dx"})
    snap = Snapshot.of(other)
    with pytest.raises(ValueError, match=r"Time points \['Dx'\].*not among those the model was fitted on.*refit"):
        scam.tl.fate(other, model, source="D2", target="D11", groupby="ct")
    snap.assert_unchanged(other)


# --------------------------------------------------------------------------------------------
# scam.tl.trajectories
# --------------------------------------------------------------------------------------------


def test_trajectories_take_time_labels_and_random_seed(named, tmp_path):
    model, adata = named
    kwargs = {"n_cells": 5, "n_steps": 4, "copy": True}
    out = scam.tl.trajectories(adata, model, t_start="D10", t_end="D11", random_state=None, **kwargs)
    traj = out.uns["scam"]["trajectories"]
    np.testing.assert_allclose(traj["times"][[0, -1]], [10.0, 11.0])
    assert (out.obs["time"].iloc[traj["start_index"]] == "D10").all()
    assert isinstance(traj["params"]["random_state"], int)  # the drawn seed is recorded
    out.write_h5ad(tmp_path / "traj.h5ad")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t_start": "D3"}, r"`t_start='D3'` is not an observed time point.*labels \['D2', 'D10', 'D11'\]"),
        ({"t_end": [1.0]}, r"`t_end` must be a time \(a number or a label"),
        ({"random_state": np.random.default_rng(0)}, r"`random_state` must be a non-negative integer or None"),
        ({"stochastic": "yes"}, r"`stochastic` must be True, False or None"),
    ],
    ids=["unknown-label", "list", "generator", "stochastic-str"],
)
def test_trajectories_bad_times(named, kwargs, match):
    model, adata = named
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.trajectories(adata, model, n_cells=5, n_steps=2, **kwargs)
    snap.assert_unchanged(adata)


def test_trajectories_on_a_view_leave_the_parent_unchanged(named):
    model, adata = named
    adata = adata.copy()
    snap = Snapshot.of(adata)
    view = adata[adata.obs["time"] != "D2"]
    scam.tl.trajectories(view, model, n_cells=5, n_steps=2, t_start="D10")
    assert "trajectories" in view.uns["scam"]
    assert "trajectories" not in adata.uns["scam"]
    snap.assert_unchanged(adata)


# --------------------------------------------------------------------------------------------
# scam.tl.fit
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key_added": "run/1"}, r"`key_added` must be a non-empty string without '/'.*use e\.g\. 'run_1'"),
        # h5ad reads '.' as the group itself: the fit's entries landed in uns and replaced the user's own
        ({"key_added": "."}, r"`key_added` must be .*and not '\.', got '\.'.*use e\.g\. 'scam'"),
        ({"key_added": "a\x00b"}, r"without '/' or NUL characters.*use e\.g\. 'ab'"),
        (
            {"lam": 0.1, "masses": {"D2": 1.0, "D10": 2.0, "D11": 3.0, "D12": 4.0}},
            r"`masses` has entries for times that are not observed: \['D12'\]; give one mass per observed time",
        ),
    ],
    ids=["key_added-slash", "key_added-dot", "key_added-nul", "masses-unknown-time"],
)
def test_fit_bad_keys(kwargs, match):
    adata = make_named()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.fit(adata, **{**QUICK_FIT, "n_iters": 2, **kwargs})
    snap.assert_unchanged(adata)


def test_readouts_refuse_key_added_with_slash(named):
    model, adata = named
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"`key_added` must be a non-empty string without '/'"):
        scam.tl.fate(adata, model, source="D2", target="D11", groupby="ct", key_added="a/b")
    snap.assert_unchanged(adata)


# --------------------------------------------------------------------------------------------
# read-outs: classes, genes, plots
# --------------------------------------------------------------------------------------------


def test_integer_clusters_keep_numeric_order(named):
    model, adata = named
    adata = adata.copy()
    adata.obs["cluster"] = np.arange(adata.n_obs) % 12
    scam.tl.fate(adata, model, source="D2", target="D11", groupby="cluster")
    assert list(adata.uns["scam_fate"]["classes"]) == [str(i) for i in range(12)]  # 2 before 10


def _with_genes(adata: ad.AnnData) -> ad.AnnData:
    """adata.X = exact PCA reconstruction of obsm['X_pca'] from 4 genes, with varm['PCs']."""
    pcs = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 2)))[0]
    out = ad.AnnData(
        (adata.obsm["X_pca"] @ pcs.T + 5.0).astype(np.float32),
        obs=adata.obs.copy(),
        var=pd.DataFrame(index=["g1", "g2", "g3", "g4"]),
        obsm={"X_pca": adata.obsm["X_pca"]},
    )
    out.varm["PCs"] = pcs
    return out


def test_gene_trends_take_var_names_slice(named):
    model, adata = named
    adata = _with_genes(adata)
    scam.tl.gene_trends(adata, model, adata.var_names[:2], n_cells=10, n_points=3)
    assert list(adata.uns["scam_gene_trends"]["genes"]) == ["g1", "g2"]
    scam.tl.gene_trends(adata, model, pd.Series(["g3"]), n_cells=10, n_points=3)
    assert list(adata.uns["scam_gene_trends"]["genes"]) == ["g3"]


def test_pl_fate_basis_without_prefix(named):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, adata = named
    adata = adata.copy()
    scam.tl.fate(adata, model, source="D2", target="D11", groupby="ct")
    ax = scam.pl.fate(adata, basis="pca", show=False)  # obsm["X_pca"], as in scam.pl.velocity
    assert ax.get_xlabel() == "X_pca1"
    plt.close("all")


def test_growth_prior_on_a_small_gene_panel():
    """30 genes: scanpy's 25 expression bins leave bins without control genes; scam falls back to fewer bins."""
    rng = np.random.default_rng(0)
    adata = ad.AnnData(rng.poisson(3, size=(150, 30)).astype(np.float32))
    adata.var_names = [f"g{i}" for i in range(30)]
    scam.pp.growth_prior(adata, proliferation_genes=["g1", "g2", "g3"], apoptosis_genes=["g4", "g5", "g6"])
    rates = adata.obs["growth_prior"].to_numpy()
    assert np.isfinite(rates).all() and rates.std() > 0


# --------------------------------------------------------------------------------------------
# leave_one_timepoint_out
# --------------------------------------------------------------------------------------------


def test_lot_takes_one_method_and_metric_as_a_string():
    adata = make_named()
    df = scam.tl.leave_one_timepoint_out(adata, methods="previous", metrics="w1", progress_bar=False)
    assert set(df["method"]) == {"previous"}
    assert set(df["metric"]) == {"w1"}
    assert list(df["held_out"]) == ["D10"]


def test_lot_time_labels_with_a_slash_survive_h5ad(tmp_path):
    # dates as labels ("13/05"): h5ad would nest a '/' key, so predictions are keyed "13_05"
    adata = small_path()
    order = ["12/05", "13/05", "14/05"]
    dates = adata.obs["time"].map(dict(zip((0.0, 1.0, 2.0), order, strict=True)))
    adata.obs["date"] = pd.Categorical(dates, order, ordered=True)
    scam.tl.leave_one_timepoint_out(adata, "date", methods="ot_midpoint", metrics="w1", progress_bar=False)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    assert list(back.uns["scam_lot"]["predictions"]["ot_midpoint"]) == ["13_05"]
    for data in (adata, back):
        ax = scam.pl.interpolation(data, method="ot_midpoint", held_out="13/05", show=False)
        assert ax.get_title().startswith("held out 13/05")
    with pytest.raises(ValueError, match=r"choose one of \['13/05'\]"):
        scam.pl.interpolation(back, method="ot_midpoint", held_out="13_06", show=False)


# --------------------------------------------------------------------------------------------
# ActionModel
# --------------------------------------------------------------------------------------------


def _damage_json(path):
    (path / "params.json").write_text("{not json")


def _damage_weights(path):
    (path / "model.pt").write_bytes(b"garbage")


def _drop_net(path):
    import json

    params = json.loads((path / "params.json").read_text())
    del params["net"]
    (path / "params.json").write_text(json.dumps(params))


def _other_weights(path):
    import torch

    torch.save({"mlp.0.weight": torch.zeros(3, 3)}, path / "model.pt")


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (_damage_json, r"params\.json is not valid JSON.*save the model again"),
        (_damage_weights, r"model\.pt cannot be read.*save the model again"),
        (_drop_net, r"params\.json lacks \['net'\].*save the model again"),
        (_other_weights, r"do not fit the network described in .*params\.json.*save the model again"),
    ],
    ids=["json", "weights", "missing-key", "mismatch"],
)
def test_model_load_damaged_folder(named, tmp_path, damage, match):
    model, _ = named
    path = model.save(tmp_path / "model")
    damage(path)
    with pytest.raises(ValueError, match=match):
        scam.ActionModel.load(path)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, X: m.simulate(X, "D2", "D10"), r"`t_start` must be a finite number.*model\.observed_times"),
        (
            lambda m, X: m.simulate(X, 0.0, 1.0, n_steps=2.5),
            r"`n_steps` must be 'auto' or a positive integer, got 2\.5",
        ),
        (
            lambda m, X: m.simulate(X, 0.0, 1.0, random_state=np.random.default_rng(0)),
            r"`random_state` must be a non-negative integer or None",
        ),
        (lambda m, X: m.simulate(X[:0], 0.0, 1.0), r"Expected at least one cell, got shape \(0, 2\)"),
        (lambda m, X: m.velocity(X, "D2"), r"`t` must be a number or one time per cell.*model\.observed_times"),
        (lambda m, X: m.velocity(X[:0], 0.0), r"Expected at least one cell"),
    ],
    ids=["simulate-label", "n_steps-float", "generator", "simulate-empty", "velocity-label", "velocity-empty"],
)
def test_model_bad_calls(named, call, match):
    model, adata = named
    with pytest.raises(ValueError, match=match):
        call(model, adata.obsm["X_pca"][:5])


# --- numerically hard but valid data (a fourth review pass) -----------------------------------------


def _drifting(n: int = 300, *, points=(), outliers: float = 0.0) -> ad.AnnData:
    """A 5-D Gaussian drifting 2 per unit time along x0 at times 0-3; ``points``: times whose cells are all one state;
    ``outliers``: three cells of time 1 moved by +outliers and two of time 2 by −outliers in every coordinate."""
    rng = np.random.default_rng(0)
    blocks = [rng.normal(size=(n, 5)) + 2 * t * np.eye(5)[0] for t in range(4)]
    for k in points:
        blocks[k] = np.tile(2 * k * np.eye(5)[0], (n, 1))
    blocks[1][:3] += outliers
    blocks[2][:2] -= outliers
    adata = ad.AnnData(obs=pd.DataFrame({"time": np.repeat(np.arange(4.0), n)}, index=[f"c{i}" for i in range(4 * n)]))
    adata.obsm["X_pca"] = np.concatenate(blocks).astype(np.float32)
    return adata


def test_relative_costs_of_coinciding_points_are_zero_not_nan():
    import torch

    from scam.core.couplings import relative_cost, relative_costs

    x = np.ones((4, 3))
    np.testing.assert_array_equal(relative_cost(x, x), np.zeros((4, 4)))
    batch = torch.ones(2, 4, 3, dtype=torch.float64)
    batch[1] = torch.randn(4, 3, dtype=torch.float64)  # a normal problem beside it keeps its own scaling
    out = relative_costs(batch, batch.clone())
    np.testing.assert_array_equal(out[0].numpy(), np.zeros((4, 4)))
    assert out[1].mean().item() == pytest.approx(1.0)


def test_two_consecutive_snapshots_of_one_state_each_fit_by_default():
    """A clonal or sorted population collapsed to one state at two times in a row: after the transport shift the
    chains' minibatches coincide, their mean cost was 0 and the plans NaN ('Unbalanced OT failed')."""
    adata = _drifting(60, points=(1, 2))
    scam.tl.fit(adata, "time", n_iters=30, progress_bar=False)
    assert np.isfinite(adata.obsm["scam_velocity"]).all()
    assert np.isfinite(adata.obs["scam_growth"]).all()
    assert np.isfinite(adata.uns["scam"]["learned_masses"]).all()


def test_extreme_weights_warn_and_name_the_cells():
    from scam._time import TimeInfo
    from scam.tl._fit import _warn_extreme_weights

    time = TimeInfo(key="t", labels=["0", "1"], values=np.array([0.0, 1.0]), codes=np.repeat([0, 1], 50))
    X = np.random.default_rng(0).normal(size=(100, 3))
    X[7] += 100.0
    weight = np.r_[np.full(50, 1.1), np.full(50, np.nan)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_extreme_weights(weight, time, X, pd.Index([f"c{i}" for i in range(100)]), [1.0, 1.1], "")
    weight[7] = 5e6
    with pytest.warns(UserWarning, match=r"1 cell\(s\) carry .* up to 5e\+06; cells 'c7'.*outliers.*refit"):
        _warn_extreme_weights(weight, time, X, pd.Index([f"c{i}" for i in range(100)]), [1.0, 1e5], "")


def test_a_few_outlier_cells_far_away_warn_instead_of_silently_giving_absurd_masses(monkeypatch):
    """0.4 % of the cells 100 standard deviations away, in a course of constant mass.

    The chains through them die (log-weight far below the rest), and without the floor on dead chains'
    log-weights (``LOGW_FLOOR``) the spline bent that collapse into growth elsewhere: weights 1e7-1e8 and
    learned masses up to 1e11. With the floor the masses are right; where weights are still extreme, the fit
    says so and names the cells (here forced by removing the floor).
    """
    from scam.core import spline

    adata = _drifting(outliers=100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        scam.tl.fit(adata, "time", progress_bar=False)
    np.testing.assert_allclose(adata.uns["scam"]["learned_masses"], 1.0, atol=0.03)
    assert np.nanmax(adata.obs["scam_weight"]) < 1.5
    monkeypatch.setattr(spline, "LOGW_FLOOR", None)
    adata = _drifting(outliers=100.0)
    with pytest.warns(
        UserWarning, match=r"5 cell\(s\) carry an expected mass multiplier.*'c300', 'c301', 'c302'"
    ) as rec:
        scam.tl.fit(adata, "time", progress_bar=False)
    # fit's own weight computation leaves the far-cells warning of `simulate` to the warning above
    assert not [w for w in rec if "simulated cells ended" in str(w.message)]
    monkeypatch.undo()
    clean = _drifting()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        scam.tl.fit(clean, "time", progress_bar=False)
    assert np.nanmax(clean.obs["scam_weight"]) < 3


def test_simulate_warns_when_cells_end_far_from_the_data_and_overflow_advice_fits_the_growth_kind():
    from scam._simulate import _check_finite

    adata = small_path()
    model = scam.tl.fit(adata, **QUICK_FIT)
    X = adata.obsm["X_pca"][:10]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.simulate(X, 0, 1)
    with pytest.warns(UserWarning, match=r"10 of 10 simulated cells ended more than 10 times"):
        model.simulate(X * 1000, 0, 1)
    assert model.growth_net is not None  # the default free head: `lam` is 0, so the advice must not name it
    with pytest.raises(ValueError, match=r"3 of the 4 paths ended far.*growth_penalty.*growth='none'") as info:
        _check_finite(model, np.zeros((4, 2)), np.array([1.0, np.inf, 1.0, 1.0]), 0.0, 1.0, far=3)
    assert "`lam`" not in str(info.value)


def test_the_automatic_choices_record_their_scores(tmp_path):
    """``params['selection_scores']``: each candidate's leave-one-snapshot-out W1, the chosen one the best (or the
    anchor kept within its margin); through h5ad and the saved model."""
    adata = scam.datasets.branching(n_cells=60, random_state=0)
    model = scam.tl.fit(adata, "day", use_rep="X_latent", n_iters=20, hidden=(8,), progress_bar=False)
    params = adata.uns["scam"]["params"]
    scores = params["selection_scores"]
    assert set(scores) >= {"curvature", "sigma"}
    assert f"{params['spline_curvature']:g}" in scores["curvature"]
    assert f"{params['sigma']:g}" in scores["sigma"]
    assert all(np.isfinite(v) and v > 0 for choice in scores.values() for v in choice.values())
    adata.write_h5ad(tmp_path / "a.h5ad")
    assert ad.read_h5ad(tmp_path / "a.h5ad").uns["scam"]["params"]["selection_scores"] == scores
    model.save(tmp_path / "m")
    assert scam.ActionModel.load(tmp_path / "m").metadata["selection_scores"] == scores


# --------------------------------------------------------------------------------------------
# the write phase of a refit is all or nothing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_refit_interrupted_while_writing_leaves_the_earlier_fit_as_it_was(monkeypatch, error):
    from _helpers import SMALL_FIT

    import scam.tl._fit as fit_module

    adata = small_path()
    adata.obs["mine"] = 1.0
    scam.tl.fit(adata, **SMALL_FIT)
    scam.tl.velocity_graph(adata, basis=[])  # a read-out that the refit removes as out of date
    adata.obs["after"] = 2.0  # a user column after scam's: its place must come back too
    snap = Snapshot.of(adata)
    real = fit_module._remove_stale

    def interrupted(adata, key_added):  # the earlier results are gone, the new ones not yet written
        real(adata, key_added)
        raise error()

    monkeypatch.setattr(fit_module, "_remove_stale", interrupted)
    with pytest.raises(error):
        scam.tl.fit(adata, **{**SMALL_FIT, "random_state": 1})
    snap.assert_unchanged(adata)
    monkeypatch.undo()
    scam.tl.fit(adata, **{**SMALL_FIT, "random_state": 1})  # and a refit then works
    assert "scam_velocity_graph" not in adata.uns and list(adata.obs.columns[:2]) == ["time", "mine"]
