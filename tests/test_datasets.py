"""Tests for scam.datasets: the packaged Embryoid Body data and the synthetic Gaussian path."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scam.datasets import embryoid_body, gaussian_path, gaussian_path_velocity

SHARED_EB = Path(__file__).resolve().parents[2] / "shared" / "data" / "eb"
EB_COUNTS = [2381, 4163, 3278, 3665, 3332]
EB_DAYS = ["Day 00-03", "Day 06-09", "Day 12-15", "Day 18-21", "Day 24-27"]


# --------------------------------------------------------------------------------------------
# Embryoid Body
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eb() -> ad.AnnData:
    return embryoid_body()


def test_eb_packaged_file_small():
    resource = files("scam.datasets") / "data" / "eb_pca5.npz"
    assert resource.is_file()
    with resource.open("rb") as fh:
        size = len(fh.read())
    assert size < 1_000_000


def test_eb_shape_and_names(eb):
    assert eb.shape == (16819, 5)
    assert list(eb.var_names) == ["PC1", "PC2", "PC3", "PC4", "PC5"]
    assert eb.obs_names[0] == "cell_0"
    assert eb.obs_names[-1] == "cell_16818"
    assert eb.obs_names.is_unique
    assert eb.X.dtype == np.float32
    assert eb.obsm["X_pca"].dtype == np.float64
    assert eb.obsm["X_pca"].shape == (16819, 5)
    np.testing.assert_allclose(eb.X, eb.obsm["X_pca"], rtol=1e-6, atol=1e-6)


def test_eb_counts_per_time(eb):
    assert eb.obs["time"].dtype == np.float64
    time = eb.obs["time"].to_numpy()
    assert set(np.unique(time)) == {0.0, 1.0, 2.0, 3.0, 4.0}
    counts = [int((time == k).sum()) for k in range(5)]
    assert counts == EB_COUNTS
    assert np.all(np.diff(time) >= 0)  # rows sorted by time


def test_eb_day_categorical(eb):
    day = eb.obs["day"]
    assert isinstance(day.dtype, pd.CategoricalDtype)
    assert day.cat.ordered
    assert list(day.cat.categories) == EB_DAYS
    np.testing.assert_array_equal(day.cat.codes.to_numpy(), eb.obs["time"].to_numpy().astype(int))
    assert day.min() == "Day 00-03"
    assert day.max() == "Day 24-27"


def test_eb_standardised(eb):
    X = eb.obsm["X_pca"]
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(X.std(axis=0, ddof=0), 1.0, atol=1e-10)


def test_eb_uns_metadata(eb):
    meta = eb.uns["dataset"]
    assert meta["name"] == "embryoid_body"
    assert "Moon" in meta["citation"] and "1482" in meta["citation"]
    assert "TrajectoryNet" in meta["preprocessing_citation"]
    assert "7f6b11559045828b2ad98cae749bdb029d8d578f" in meta["source"]
    assert all(isinstance(v, str) for v in meta.values())


@pytest.mark.skipif(not (SHARED_EB / "eb_pca5_standardized.npy").is_file(), reason="shared EB data not available")
def test_eb_exactly_equals_shared_source(eb):
    X = np.load(SHARED_EB / "eb_pca5_standardized.npy")
    labels = np.load(SHARED_EB / "eb_sample_labels.npy")
    assert np.array_equal(eb.obsm["X_pca"], X)
    assert eb.obsm["X_pca"].tobytes() == X.tobytes()
    np.testing.assert_array_equal(eb.obs["time"].to_numpy(), labels.astype(np.float64))


def test_eb_h5ad_roundtrip(eb, tmp_path):
    path = tmp_path / "eb.h5ad"
    eb.write_h5ad(path)
    back = ad.read_h5ad(path)
    assert np.array_equal(back.obsm["X_pca"], eb.obsm["X_pca"])
    assert back.obs["day"].cat.ordered
    assert list(back.obs["day"].cat.categories) == EB_DAYS


def test_eb_returns_fresh_copies():
    a = embryoid_body()
    a.obsm["X_pca"][0, 0] = 1e9
    b = embryoid_body()
    assert b.obsm["X_pca"][0, 0] != 1e9


# --------------------------------------------------------------------------------------------
# Gaussian path
# --------------------------------------------------------------------------------------------


def _moments(t, times, mu_start, mu_end, std_start, std_end):
    """Independent reference implementation of the linear path."""
    a = (t - times[0]) / (times[-1] - times[0])
    mu = np.asarray(mu_start, float) + a * (np.asarray(mu_end, float) - np.asarray(mu_start, float))
    return mu, std_start + a * (std_end - std_start)


def test_gaussian_path_defaults():
    adata = gaussian_path()
    assert adata.shape == (1500, 2)
    assert adata.obs["time"].dtype == np.float64
    assert list(np.unique(adata.obs["time"])) == [0.0, 1.0, 2.0]
    assert np.array_equal(adata.X, adata.obsm["X_pca"])
    assert adata.obsm["X_pca"].dtype == np.float64
    gt = adata.uns["ground_truth"]
    np.testing.assert_array_equal(gt["times"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(gt["mu_start"], [0.0, 0.0])
    np.testing.assert_array_equal(gt["mu_end"], [2.0, 0.0])
    assert gt["std_start"] == 1.0 and gt["std_end"] == 0.5
    assert "masses" not in gt


def test_gaussian_path_unequal_counts_and_masses():
    adata = gaussian_path(n_cells=[10, 20, 30, 40], times=[0.0, 0.5, 2.0, 3.0], n_dims=3, masses=[1.0, 1.5, 2.0, 4.0])
    assert adata.shape == (100, 3)
    time = adata.obs["time"].to_numpy()
    assert [int((time == t).sum()) for t in (0.0, 0.5, 2.0, 3.0)] == [10, 20, 30, 40]
    np.testing.assert_array_equal(adata.uns["ground_truth"]["masses"], [1.0, 1.5, 2.0, 4.0])
    assert adata.obs_names.is_unique


def test_gaussian_path_moments():
    n, d = 20000, 3
    times = np.array([0.0, 0.7, 1.5, 3.0])
    mu_start, mu_end = np.array([1.0, -1.0, 0.5]), np.array([-2.0, 3.0, 0.0])
    std_start, std_end = 0.4, 1.6
    adata = gaussian_path(
        n_cells=n, times=times, n_dims=d, mu_start=mu_start, mu_end=mu_end, std_start=std_start, std_end=std_end
    )
    X, time = adata.obsm["X_pca"], adata.obs["time"].to_numpy()
    for t in times:
        mu_t, s_t = _moments(t, times, mu_start, mu_end, std_start, std_end)
        Xt = X[time == t]
        assert Xt.shape == (n, d)
        # 5 standard errors: mean SE = s/sqrt(n), std SE ~ s/sqrt(2n)
        np.testing.assert_allclose(Xt.mean(axis=0), mu_t, atol=5 * s_t / np.sqrt(n))
        np.testing.assert_allclose(Xt.std(axis=0, ddof=1), s_t, atol=5 * s_t / np.sqrt(2 * n))
        # isotropic: off-diagonal covariance near zero
        C = np.cov(Xt, rowvar=False)
        off = C[~np.eye(d, dtype=bool)]
        assert np.all(np.abs(off) < 5 * s_t**2 / np.sqrt(n))


def test_gaussian_path_scalar_means():
    adata = gaussian_path(n_dims=4, mu_start=1.0, mu_end=-1.0)
    gt = adata.uns["ground_truth"]
    np.testing.assert_array_equal(gt["mu_start"], np.ones(4))
    np.testing.assert_array_equal(gt["mu_end"], -np.ones(4))


def test_gaussian_path_seeds_reproducible():
    a = gaussian_path(n_cells=[50, 60, 70], random_state=3)
    b = gaussian_path(n_cells=[50, 60, 70], random_state=3)
    c = gaussian_path(n_cells=[50, 60, 70], random_state=4)
    assert np.array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    g1 = gaussian_path(random_state=np.random.default_rng(11))
    g2 = gaussian_path(random_state=np.random.default_rng(11))
    assert np.array_equal(g1.X, g2.X)


def test_gaussian_path_h5ad_roundtrip(tmp_path):
    adata = gaussian_path(n_cells=[20, 30, 40], masses=[1.0, 2.0, 3.0])
    path = tmp_path / "g.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    gt = back.uns["ground_truth"]
    for key, value in adata.uns["ground_truth"].items():
        np.testing.assert_array_equal(gt[key], value)
    x, t = back.obsm["X_pca"], back.obs["time"].to_numpy()
    v_back = gaussian_path_velocity(x, t, **gt)
    v_orig = gaussian_path_velocity(adata.obsm["X_pca"], adata.obs["time"].to_numpy(), **adata.uns["ground_truth"])
    np.testing.assert_allclose(v_back, v_orig)


# --------------------------------------------------------------------------------------------
# Closed-form velocity
# --------------------------------------------------------------------------------------------

GT = {
    "times": np.array([0.0, 1.0, 2.5]),
    "mu_start": np.array([0.5, -1.0]),
    "mu_end": np.array([2.0, 1.0]),
    "std_start": 1.2,
    "std_end": 0.4,
}


@pytest.mark.parametrize("sigma", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("t", [0.0, 0.4, 1.7, 2.5])
def test_velocity_at_mean_is_mean_velocity(t, sigma):
    mu_t, _ = _moments(t, GT["times"], GT["mu_start"], GT["mu_end"], GT["std_start"], GT["std_end"])
    mu_dot = (GT["mu_end"] - GT["mu_start"]) / (GT["times"][-1] - GT["times"][0])
    v = gaussian_path_velocity(mu_t, t, sigma=sigma, **GT)
    np.testing.assert_allclose(v, mu_dot, atol=1e-12)


@pytest.mark.parametrize("t", [0.1, 1.0, 2.2])
def test_velocity_matches_quantile_map_derivative(t):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)) * 2.0

    def qmap(u):
        mu_t, s_t = _moments(t, GT["times"], GT["mu_start"], GT["mu_end"], GT["std_start"], GT["std_end"])
        mu_u, s_u = _moments(u, GT["times"], GT["mu_start"], GT["mu_end"], GT["std_start"], GT["std_end"])
        return mu_u + (s_u / s_t) * (x - mu_t)

    h = 1e-5
    fd = (qmap(t + h) - qmap(t - h)) / (2 * h)
    v = gaussian_path_velocity(x, t, **GT)
    np.testing.assert_allclose(v, fd, rtol=1e-7, atol=1e-7)
    # per-row times give the same answer
    v_rows = gaussian_path_velocity(x, np.full(len(x), t), **GT)
    np.testing.assert_allclose(v_rows, v)


def test_velocity_sigma_term():
    x = np.array([[1.0, 2.0], [-3.0, 0.5]])
    t = 1.3
    mu_t, s_t = _moments(t, GT["times"], GT["mu_start"], GT["mu_end"], GT["std_start"], GT["std_end"])
    sigma = 0.7
    diff = gaussian_path_velocity(x, t, sigma=sigma, **GT) - gaussian_path_velocity(x, t, **GT)
    np.testing.assert_allclose(diff, -(sigma**2) / (2 * s_t**2) * (x - mu_t))


@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_velocity_transports_marginals(sigma):
    """Euler(-Maruyama) simulation of dx = v dt + sigma dW from q_{t0} lands on q_{tK}."""
    gt = {
        "times": np.array([0.0, 1.0]),
        "mu_start": np.array([0.0, 0.0]),
        "mu_end": np.array([2.0, -1.0]),
        "std_start": 1.0,
        "std_end": 0.5,
    }
    rng = np.random.default_rng(1)
    n, steps = 20000, 400
    x = rng.normal(size=(n, 2))
    dt = 1.0 / steps
    for i in range(steps):
        t = i * dt
        x = x + gaussian_path_velocity(x, t, sigma=sigma, **gt) * dt
        if sigma > 0:
            x = x + sigma * np.sqrt(dt) * rng.normal(size=x.shape)
    np.testing.assert_allclose(x.mean(axis=0), gt["mu_end"], atol=0.03)
    np.testing.assert_allclose(x.std(axis=0), gt["std_end"], atol=0.02)


def test_velocity_shapes_and_ignored_masses():
    v1 = gaussian_path_velocity(np.zeros(2), 0.5, masses=[1.0, 2.0, 3.0], **GT)
    assert v1.shape == (2,)
    v2 = gaussian_path_velocity(np.zeros((5, 2)), 0.5, **GT)
    assert v2.shape == (5, 2)
    np.testing.assert_allclose(v2, np.broadcast_to(v1, (5, 2)))


# --------------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"times": (0.0,)},
        {"times": ()},
        {"times": (0.0, 0.0, 1.0)},
        {"times": (1.0, 0.0)},
        {"times": (0.0, np.nan)},
        {"std_start": 0.0},
        {"std_end": -1.0},
        {"std_start": np.inf},
        {"n_cells": 0},
        {"n_cells": -5},
        {"n_cells": [10, 0, 10]},
        {"n_cells": [10, 10]},
        {"n_cells": [10.5, 10, 10]},
        {"n_cells": True},
        {"n_dims": 0},
        {"n_dims": 2.5},
        {"mu_start": [0.0, 0.0, 0.0]},
        {"mu_end": [1.0]},
        {"masses": [1.0, 2.0]},
        {"masses": [1.0, 0.0, 2.0]},
        {"masses": [1.0, -1.0, 2.0]},
    ],
)
def test_gaussian_path_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        gaussian_path(**kwargs)


@pytest.mark.parametrize(
    ("x", "t", "extra"),
    [
        (np.zeros((3, 2)), 0.5, {"sigma": -1.0}),
        (np.zeros((3, 2)), np.zeros(4), {}),
        (np.zeros(2), np.zeros(2), {}),
        (np.zeros((3, 3)), 0.5, {}),  # mu has 2 dims
        (np.zeros((3, 2)), 100.0, {}),  # extrapolated std <= 0
        (np.zeros((3, 2)), 0.5, {"std_end": 0.0}),
        (np.zeros((3, 2)), 0.5, {"times": [1.0, 0.0]}),
        (np.zeros((3, 2)), 0.5, {"times": [0.0]}),
    ],
)
def test_velocity_bad_arguments(x, t, extra):
    kw = {**GT, **extra}
    with pytest.raises(ValueError):
        gaussian_path_velocity(x, t, **kw)
