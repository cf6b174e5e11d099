"""scam.tl.fit against closed-form ground truth, plus reproducibility and persistence."""

import anndata as ad
import numpy as np
import pytest
from _helpers import LARGE_NET

import scam
from scam.core import wasserstein
from scam.core.interpolants import OTInterpolant
from scam.datasets import gaussian_path, gaussian_path_velocity

TIMES = (0.0, 1.0, 2.0, 3.0)


def _gaussian():
    return gaussian_path(n_cells=1000, times=TIMES, n_dims=2, std_start=1.0, std_end=0.5, random_state=0)


@pytest.fixture(scope="module")
def am_fit():
    adata = _gaussian()
    model = scam.tl.fit(adata, "time", n_iters=1500, interpolant=OTInterpolant(batch_size=1000), **LARGE_NET)
    return adata, model


@pytest.fixture(scope="module")
def eam_fit():
    adata = _gaussian()
    model = scam.tl.fit(adata, "time", sigma=1.0, n_iters=1500, interpolant=OTInterpolant(batch_size=1000), **LARGE_NET)
    return adata, model


def _linear_fit(model, gt, t, n=2000, seed=1):
    """Regress the learned velocity on (1, x − μ_t) over samples of q_t: intercept and slope."""
    frac = (t - TIMES[0]) / (TIMES[-1] - TIMES[0])
    mu = gt["mu_start"] + (gt["mu_end"] - gt["mu_start"]) * frac
    s = gt["std_start"] + (gt["std_end"] - gt["std_start"]) * frac
    x = mu + s * np.random.default_rng(seed).normal(size=(n, len(mu)))
    v = model.velocity(x, t)
    coef = np.linalg.lstsq(np.c_[np.ones(n), x - mu], v, rcond=None)[0]
    return coef[0], np.diag(coef[1:]), s, x, v


@pytest.mark.parametrize("t", [0.5, 1.5, 2.5])
def test_velocity_matches_gaussian_closed_form(am_fit, t):
    adata, model = am_fit
    gt = adata.uns["ground_truth"]
    mu_dot = (gt["mu_end"] - gt["mu_start"]) / (TIMES[-1] - TIMES[0])
    s_dot = (gt["std_end"] - gt["std_start"]) / (TIMES[-1] - TIMES[0])
    intercept, slope, s_t, x, v = _linear_fit(model, gt, t)
    np.testing.assert_allclose(intercept, mu_dot, atol=0.08)
    # ṡ/s_t is between −0.18 and −0.29 here: a wrong sign or a missing term is off by ≥ 0.18. Finite samples
    # bias the slope of the empirical OT path towards 0 near the last snapshot (regression dilution), by ~0.05.
    np.testing.assert_allclose(slope, s_dot / s_t, atol=0.08)
    truth = gaussian_path_velocity(x, t, **gt)
    assert np.linalg.norm(v - truth) / np.linalg.norm(truth) < 0.15


@pytest.mark.parametrize("t", [0.5, 1.5, 2.5])
def test_entropic_drift_matches_gaussian_closed_form(eam_fit, t):
    adata, model = eam_fit
    gt = adata.uns["ground_truth"]
    s_dot = (gt["std_end"] - gt["std_start"]) / (TIMES[-1] - TIMES[0])
    sigma = model.diffusion  # σ in the data's units
    assert sigma == pytest.approx(1.0 * model.scale / np.sqrt(TIMES[-1] - TIMES[0]))
    _, slope, s_t, x, v = _linear_fit(model, gt, t)
    expected = s_dot / s_t - sigma**2 / (2 * s_t**2)  # the σ² term is 0.18–0.43 here
    np.testing.assert_allclose(slope, expected, atol=0.07)
    truth = gaussian_path_velocity(x, t, **gt, sigma=sigma)
    assert np.linalg.norm(v - truth) / np.linalg.norm(truth) < 0.15


def test_simulation_reproduces_later_snapshots(am_fit):
    adata, model = am_fit
    X, t = adata.obsm["X_pca"], adata.obs["time"].to_numpy()
    for k in (1, 3):
        pushed = model.simulate(X[t == 0], 0.0, TIMES[k])
        w_model = wasserstein(pushed, X[t == TIMES[k]])
        w_static = wasserstein(X[t == 0], X[t == TIMES[k]])
        assert w_model < 0.15 * w_static, (k, w_model, w_static)
    # backward from the last snapshot lands on the first
    pulled = model.simulate(X[t == 3], 3.0, 0.0)
    assert wasserstein(pulled, X[t == 0]) < 0.15 * wasserstein(X[t == 3], X[t == 0])


def test_sde_simulation_reproduces_snapshots(eam_fit):
    adata, model = eam_fit
    X, t = adata.obsm["X_pca"], adata.obs["time"].to_numpy()
    pushed = model.simulate(X[t == 0], 0.0, 3.0)  # σ > 0: the SDE by default
    assert wasserstein(pushed, X[t == 3]) < 0.15 * wasserstein(X[t == 0], X[t == 3])
    ode = model.simulate(X[t == 0], 0.0, 3.0, stochastic=False)  # the drift alone over-contracts
    assert wasserstein(ode, X[t == 3]) > wasserstein(pushed, X[t == 3])


def test_pure_growth_is_recovered():
    """Fixed shape, masses exp(c t): growth ≈ c everywhere, velocity ≈ 0, weights ≈ exp(c Δt)."""
    c, times = 0.5, (0.0, 1.0, 2.0)
    adata = gaussian_path(n_cells=800, times=times, n_dims=2, mu_start=0.0, mu_end=0.0, std_start=1.0, std_end=1.0)
    masses = {t: float(np.exp(c * t)) for t in times}
    model = scam.tl.fit(adata, "time", lam=1.0, masses=masses, n_iters=1500, **LARGE_NET)
    growth = adata.obs["scam_growth"].to_numpy()
    assert growth.mean() == pytest.approx(c, rel=0.1)
    assert np.abs(growth - c).mean() < 0.1
    assert np.linalg.norm(adata.obsm["scam_velocity"], axis=1).mean() < 0.1
    weight = adata.obs["scam_weight"].to_numpy()
    last = adata.obs["time"].to_numpy() == times[-1]
    assert np.isnan(weight[last]).all()
    assert np.nanmean(weight) == pytest.approx(np.exp(c), rel=0.05)
    X0 = adata.obsm["X_pca"][adata.obs["time"].to_numpy() == 0]
    _, w = model.simulate(X0, 0.0, 2.0, return_weights=True)
    assert w.mean() == pytest.approx(np.exp(2 * c), rel=0.05)
    np.testing.assert_allclose(adata.uns["scam"]["masses"], [1.0, np.exp(c), np.exp(2 * c)], rtol=1e-6)
    # without growth the masses are ignored (with a warning) and the growth is zero
    with pytest.warns(UserWarning, match="lam > 0"):
        scam.tl.fit(adata, "time", growth="none", masses=masses, n_iters=5, key_added="nogrowth", **LARGE_NET)
    assert np.all(adata.obs["nogrowth_growth"] == 0)


def test_outputs_units_and_consistency(am_fit):
    adata, model = am_fit
    X, t = adata.obsm["X_pca"], adata.obs["time"].to_numpy()
    np.testing.assert_allclose(adata.obsm["scam_velocity"], model.velocity(X, t), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adata.obs["scam_potential"], model.potential(X, t), rtol=1e-5, atol=1e-6)
    # the velocity is the gradient of the potential (finite differences in user units)
    h = 1e-2
    x = X[:5]
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        fd = (model.potential(x + e, 1.0) - model.potential(x - e, 1.0)) / (2 * h)
        np.testing.assert_allclose(fd, model.velocity(x, 1.0)[:, j], rtol=0.02, atol=0.01)
    uns = adata.uns["scam"]
    assert uns["params"]["n_iters"] == 1500 and uns["params"]["time_key"] == "time"
    assert list(uns["time"]["values"]) == list(TIMES)
    assert len(uns["history"]["loss"]) > 0 and np.all(np.isfinite(uns["history"]["val_w1"]))


def test_rescaled_data_give_rescaled_velocities():
    """Units: doubling coordinates doubles velocities; days ×7 divides them by 7 (same seed)."""
    base = gaussian_path(n_cells=200, times=(0.0, 1.0, 2.0), n_dims=2, random_state=3)
    other = base.copy()
    other.obsm["X_pca"] = 2 * base.obsm["X_pca"]
    other.obs["time"] = 7 * base.obs["time"]
    m1 = scam.tl.fit(base, "time", n_iters=30, **LARGE_NET)
    m2 = scam.tl.fit(other, "time", n_iters=30, **LARGE_NET)
    np.testing.assert_allclose(other.obsm["scam_velocity"], base.obsm["scam_velocity"] * 2 / 7, rtol=1e-3, atol=1e-5)
    x = base.obsm["X_pca"][:10]
    np.testing.assert_allclose(m2.simulate(2 * x, 0, 7), 2 * m1.simulate(x, 0, 1), rtol=1e-3, atol=1e-4)


def test_same_seed_same_result_other_seed_differs():
    a, b, c = (gaussian_path(n_cells=100, times=(0.0, 1.0, 2.0), n_dims=2) for _ in range(3))
    scam.tl.fit(a, "time", n_iters=40, random_state=1, **LARGE_NET)
    scam.tl.fit(b, "time", n_iters=40, random_state=1, **LARGE_NET)
    scam.tl.fit(c, "time", n_iters=40, random_state=2, **LARGE_NET)
    np.testing.assert_array_equal(a.obsm["scam_velocity"], b.obsm["scam_velocity"])
    np.testing.assert_array_equal(a.obs["scam_potential"], b.obs["scam_potential"])
    assert not np.array_equal(a.obsm["scam_velocity"], c.obsm["scam_velocity"])
    assert a.uns["scam"]["params"]["random_state"] == 1


def test_spline_curvature_is_recorded(tmp_path):
    # a fixed bend, and the one "auto" (the default) picks, are in the params and the saved model
    a = gaussian_path(n_cells=100, times=(0.0, 1.0, 2.0, 3.0), n_dims=2)
    model = scam.tl.fit(a, "time", n_iters=20, curvature=0.5, **LARGE_NET)
    assert a.uns["scam"]["params"]["spline_curvature"] == 0.5 == model.metadata["spline_curvature"]
    model = scam.tl.fit(a, "time", n_iters=20, **LARGE_NET)
    assert a.uns["scam"]["params"]["curvature"] == "auto"
    assert a.uns["scam"]["params"]["spline_curvature"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    auto = scam.core.SplineInterpolant(curvature="auto")
    model = scam.tl.fit(a, "time", n_iters=20, interpolant=auto, **LARGE_NET)
    assert a.uns["scam"]["params"]["spline_curvature"] == auto.curvature_ in (0.0, 0.25, 0.5, 0.75, 1.0)
    model.save(tmp_path / "m")
    assert scam.ActionModel.load(tmp_path / "m").metadata["spline_curvature"] == auto.curvature_
    scam.tl.fit(a, "time", n_iters=20, interpolant="ot", **LARGE_NET)
    assert "spline_curvature" not in a.uns["scam"]["params"]


def test_spline_shift_drift_choice_is_recorded_only_where_automatic(tmp_path):
    # SplineInterpolant(shift_drift="auto"), the default, records its choice in the params and the saved model;
    # a fixed setting records nothing
    a = gaussian_path(n_cells=100, times=(0.0, 1.0, 2.0, 3.0), n_dims=2)
    auto = scam.core.SplineInterpolant(growth=True, shift_drift="auto")
    model = scam.tl.fit(a, "time", n_iters=20, interpolant=auto, **LARGE_NET)
    assert auto.shift_drift_ in (True, False) and len(auto.shift_scores_) == 2
    assert a.uns["scam"]["params"]["spline_shift_drift"] is auto.shift_drift_
    model.save(tmp_path / "m")
    assert scam.ActionModel.load(tmp_path / "m").metadata["spline_shift_drift"] is auto.shift_drift_
    scam.tl.fit(a, "time", n_iters=20, **LARGE_NET)
    assert a.uns["scam"]["params"]["spline_shift_drift"] in (True, False)  # the default fit: automatic
    fixed = scam.core.SplineInterpolant(growth=True, shift_drift=False)
    scam.tl.fit(a, "time", n_iters=20, interpolant=fixed, **LARGE_NET)
    assert "spline_shift_drift" not in a.uns["scam"]["params"]


def test_sigma_auto_is_chosen_recorded_and_deterministic(tmp_path):
    """sigma="auto" picks σ on the spline path (the same for the same seed), records it; 0 on other paths."""
    rng = np.random.default_rng(0)
    times = (0.0, 1.0, 2.0, 3.0, 4.0)
    X = np.concatenate([rng.normal(size=(300, 2)) * np.sqrt(0.01 + t) for t in times]).astype(np.float32)
    a = ad.AnnData(obs={"time": np.repeat(times, 300)}, obsm={"X_pca": X})
    model = scam.tl.fit(a, "time", sigma="auto", n_iters=20, **LARGE_NET)
    params = a.uns["scam"]["params"]
    assert params["sigma_auto"] is True and params["sigma"] == model.sigma > 0  # diffusion: σ > 0 chosen
    again = scam.tl.fit(a.copy(), "time", sigma="auto", n_iters=20, **LARGE_NET)
    assert again.sigma == model.sigma
    model.save(tmp_path / "m")
    assert scam.ActionModel.load(tmp_path / "m").sigma == model.sigma
    scam.tl.fit(a, "time", sigma="auto", interpolant="ot", n_iters=20, **LARGE_NET)
    assert a.uns["scam"]["params"]["sigma"] == 0.0 and a.uns["scam"]["params"]["sigma_auto"] is True
    scam.tl.fit(a, "time", sigma=0.2, n_iters=20, **LARGE_NET)
    assert a.uns["scam"]["params"]["sigma"] == pytest.approx(0.2) and a.uns["scam"]["params"]["sigma_auto"] is False
    with pytest.raises(ValueError, match="sigma"):
        scam.tl.fit(a, "time", sigma="big", n_iters=2, **LARGE_NET)


def test_save_load_identical(am_fit, tmp_path):
    adata, model = am_fit
    model.save(tmp_path / "m")
    loaded = scam.ActionModel.load(tmp_path / "m", device="cpu")
    X = adata.obsm["X_pca"][:300]
    np.testing.assert_array_equal(loaded.velocity(X, 1.2), model.velocity(X, 1.2))
    np.testing.assert_array_equal(loaded.potential(X, 0.3), model.potential(X, 0.3))
    np.testing.assert_array_equal(loaded.simulate(X, 0, 2), model.simulate(X, 0, 2))
    assert loaded.metadata == model.metadata and repr(loaded) == repr(model)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.pt", "params.json"]


def test_h5ad_round_trip(am_fit, tmp_path):
    adata, model = am_fit
    scam.tl.trajectories(adata, model, n_cells=20, n_steps=10)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(back.obsm["scam_velocity"], adata.obsm["scam_velocity"])
    assert back.uns["scam"]["params"]["sigma"] == 0.0
    np.testing.assert_array_equal(back.uns["scam"]["trajectories"]["paths"], adata.uns["scam"]["trajectories"]["paths"])


def test_trajectories(am_fit):
    adata, model = am_fit
    scam.tl.trajectories(adata, model, n_cells=30, n_steps=25, random_state=4)
    tr = adata.uns["scam"]["trajectories"]
    assert tr["paths"].shape == (30, 26, 2) and tr["weights"].shape == (30, 26) and tr["times"].shape == (26,)
    start = tr["start_index"]
    assert np.all(adata.obs["time"].to_numpy()[start] == 0.0)
    assert list(tr["start_cells"]) == list(adata.obs_names[start])
    np.testing.assert_allclose(tr["paths"][:, 0], adata.obsm["X_pca"][start], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        tr["paths"][:, -1], model.simulate(adata.obsm["X_pca"][start], 0, 3, n_steps=25), rtol=1e-5, atol=1e-5
    )
    assert np.all(tr["weights"] == 1.0)
    copy = scam.tl.trajectories(adata, model, n_cells=5, t_start=3.0, t_end=1.0, copy=True)
    assert copy.uns["scam"]["trajectories"]["paths"].shape == (5, 101, 2)
    assert adata.uns["scam"]["trajectories"]["paths"].shape == (30, 26, 2)


def test_fit_returns_the_model_and_has_no_copy_argument():
    # fit returns the model (as scvi-tools models do); to keep adata unchanged, fit a copy
    adata = gaussian_path(n_cells=60, times=(0.0, 1.0), n_dims=2)
    with pytest.raises(TypeError, match="copy"):
        scam.tl.fit(adata, "time", n_iters=5, copy=True, **LARGE_NET)
    assert "scam_velocity" not in adata.obsm and "scam" not in adata.uns
    out = adata.copy()
    model = scam.tl.fit(out, "time", n_iters=5, **LARGE_NET)
    assert isinstance(model, scam.ActionModel)
    assert "scam_velocity" in out.obsm and "scam_velocity" not in adata.obsm and "scam" not in adata.uns


def test_key_added_and_categorical_time():
    adata = gaussian_path(n_cells=60, times=(0.0, 1.0, 2.0), n_dims=3)
    adata.obs["stage"] = (
        adata.obs["time"]
        .map({0.0: "early", 1.0: "mid", 2.0: "late"})
        .astype(__import__("pandas").CategoricalDtype(["early", "mid", "late"], ordered=True))
    )
    adata.obsm["X_pca"] = np.c_[adata.obsm["X_pca"], np.zeros(adata.n_obs)]
    model = scam.tl.fit(adata, "stage", n_dims=3, n_iters=5, key_added="am", **LARGE_NET)
    assert adata.obsm["am_velocity"].shape == (adata.n_obs, 4)
    assert np.all(adata.obsm["am_velocity"][:, 3] == 0)  # beyond n_dims: not modelled
    assert list(adata.uns["am"]["time"]["labels"]) == ["early", "mid", "late"]
    assert list(adata.uns["am"]["time"]["values"]) == [0.0, 1.0, 2.0]
    assert model.n_dims == 3


@pytest.mark.parametrize("interpolant", ["independent", "sb", "unbalanced", "spline"])
def test_every_interpolant_fits(interpolant):
    adata = gaussian_path(n_cells=80, times=(0.0, 1.0, 2.0), n_dims=2)
    model = scam.tl.fit(
        adata, "time", interpolant=interpolant, sigma=0.3, lam=0.5, masses="counts", n_iters=10, **LARGE_NET
    )
    assert np.all(np.isfinite(adata.obsm["scam_velocity"]))
    assert adata.uns["scam"]["params"]["interpolant"] == interpolant
    assert model.sigma == 0.3 and model.lam == 0.5
