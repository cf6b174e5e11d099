"""The support check of scam.tl.trajectories: do simulated paths stay among the observed cells?"""

from __future__ import annotations

import warnings

import anndata as ad
import matplotlib
import numpy as np
import pytest
from _helpers import MEDIUM_NET, TINY_FIT, ConstantNet

import scam
from scam import ActionModel
from scam.datasets import gaussian_path

matplotlib.use("Agg")

SUPPORT_WARNING = (
    r"of the simulated points at the observed times \(each counted by the mass it carries\) lie more than 3 times"
    r".*the paths leave the observed"
)


def constant_model(velocity) -> ActionModel:
    """A model moving every cell at ``velocity`` per unit time, on the time range [0, 2] of ``moving_gaussian``."""
    meta = {"time_key": "time", "use_rep": "X_pca", "time_values": [0.0, 1.0, 2.0]}
    net = ConstantNet([2.0 * v for v in velocity])  # internal units: time runs over [0, 1] for [0, 2]
    return ActionModel(net, center=np.zeros(2), scale=1.0, t_origin=0.0, t_span=2.0, metadata=meta)


@pytest.fixture(scope="module")
def data() -> ad.AnnData:
    """N((1.5 t, 0), I) at t = 0, 1, 2: the exact dynamics move every cell by (1.5, 0) per unit time."""
    adata = gaussian_path(
        n_cells=400, times=(0.0, 1.0, 2.0), n_dims=2, mu_start=[0.0, 0.0], mu_end=[3.0, 0.0], std_end=1.0
    )
    scam.tl.fit(adata, "time", **TINY_FIT)  # the record the paths are stored in; the models are passed below
    return adata


def _run(adata, model, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scam.tl.trajectories(adata, model, n_cells=400, n_steps=20, **kwargs)
    return adata.uns["scam"]["trajectories"]["support"], [str(w.message) for w in caught]


def test_the_true_dynamics_stay_on_the_data(data):
    adata = data.copy()
    truth = constant_model([1.5, 0.0])
    np.testing.assert_allclose(truth.velocity(adata.obsm["X_pca"][:3], [0.0, 1.0, 2.0]), [[1.5, 0.0]] * 3, atol=1e-6)
    checked, messages = _run(adata, truth)
    np.testing.assert_allclose(checked["times"], [1.0, 2.0])
    assert len(checked["labels"]) == 2
    assert checked["ratio"].shape == (400, 2) and checked["spacing"].shape == (2,)
    # like observed cells: about one spacing away, a rare one in the tails farther
    assert np.median(checked["ratio"]) < 1.2 and np.all(checked["off_fraction"] < 0.04)
    assert checked["threshold"] == 3.0
    assert not [m for m in messages if "leave the observed" in m]


def test_a_good_fit_stays_on_the_data(data):
    adata = data.copy()
    model = scam.tl.fit(adata, "time", n_iters=200, **MEDIUM_NET)
    checked, messages = _run(adata, model)
    assert np.median(checked["ratio"]) < 1.2 and np.all(checked["off_fraction"] < 0.05)
    assert not [m for m in messages if "leave the observed" in m]


def test_a_runaway_velocity_warns_and_has_large_ratios(data, tmp_path):
    """A velocity of 10 per unit time along y leaves the cells (spread 1) at once: the warning fires."""
    adata = data.copy()
    with pytest.warns(UserWarning, match=SUPPORT_WARNING) as record:
        scam.tl.trajectories(adata, constant_model([0.0, 10.0]), n_cells=100, n_steps=20)
    message = str([w for w in record if "leave the observed" in str(w.message)][0].message)
    assert "show_support=True" in message and "['support']['ratio']" in message
    checked = adata.uns["scam"]["trajectories"]["support"]
    assert np.median(checked["ratio"][:, 0]) > 5 and np.median(checked["ratio"][:, 1]) > 10
    np.testing.assert_allclose(checked["off_fraction"], 1.0)
    adata.write_h5ad(tmp_path / "support.h5ad")  # stored with the paths, h5ad-safe
    back = ad.read_h5ad(tmp_path / "support.h5ad")
    np.testing.assert_array_equal(back.uns["scam"]["trajectories"]["support"]["ratio"], checked["ratio"])


def test_a_monkeypatched_simulation_that_drifts_away_warns(data, monkeypatch):
    """The fitted model's own simulation, pushed off the data by a drift growing in time."""
    adata = data.copy()
    model = scam.tl.fit(adata, "time", **TINY_FIT)
    simulate = model.simulate

    def drifting(X, t_start, t_end, **kwargs):
        paths, weights = simulate(X, t_start, t_end, **kwargs)
        steps = np.linspace(0.0, 1.0, paths.shape[0])[:, None, None]
        return paths + 20.0 * steps * np.array([1.0, 1.0], dtype=paths.dtype), weights

    monkeypatch.setattr(model, "simulate", drifting)
    with pytest.warns(UserWarning, match=SUPPORT_WARNING):
        scam.tl.trajectories(adata, model, n_cells=50, n_steps=10)
    assert np.median(adata.uns["scam"]["trajectories"]["support"]["ratio"]) > 10


def test_backward_and_partial_spans(data):
    adata = data.copy()
    truth = constant_model([1.5, 0.0])
    checked, _ = _run(adata, truth, t_start=2.0, t_end=0.0)
    np.testing.assert_allclose(checked["times"], [1.0, 0.0])  # in the order the paths reach them
    assert np.all(checked["off_fraction"] < 0.04)
    checked, _ = _run(adata, truth, t_start=0.0, t_end=0.5)  # no observed time after the start: nothing checked
    assert checked["ratio"].shape == (400, 0) and len(checked["times"]) == 0


def test_plot_marks_the_points_off_the_data(data):
    import matplotlib.pyplot as plt

    adata = data.copy()
    with pytest.warns(UserWarning, match=SUPPORT_WARNING):
        scam.tl.trajectories(adata, constant_model([0.0, 10.0]), n_cells=40, n_steps=10)
    ax = scam.pl.trajectories(adata, basis="pca", show_support=True, show=False)
    marks = [c for c in ax.collections if c.get_gid() == "scam_trajectory_off_support"]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == 40 * 2
    assert "100 % of the points at observed times off the data" in ax.get_title()
    plt.close("all")
    # a non-linear embedding: placed by kNN regression
    adata.obsm["X_umap"] = np.tanh(adata.obsm["X_pca"])
    ax = scam.pl.trajectories(adata, basis="umap", show_support=True, n_trajectories=10, show=False)
    marks = [c for c in ax.collections if c.get_gid() == "scam_trajectory_off_support"]
    assert len(marks[0].get_offsets()) == 10 * 2
    plt.close("all")
    # good paths: no marks; off by default
    _run(adata, constant_model([1.5, 0.0]))
    ax = scam.pl.trajectories(adata, basis="pca", show_support=True, show=False)
    assert not [c for c in ax.collections if c.get_gid() == "scam_trajectory_off_support"]
    assert "0 % of the points" in ax.get_title()
    plt.close("all")
    ax = scam.pl.trajectories(adata, basis="pca", show=False)
    assert "off the data" not in ax.get_title()
    plt.close("all")


def test_plot_of_paths_without_a_support_check_says_to_rerun(data):
    adata = data.copy()
    _run(adata, constant_model([1.5, 0.0]))
    del adata.uns["scam"]["trajectories"]["support"]
    with pytest.raises(ValueError, match=r"has no support check.*rerun `scam\.tl\.trajectories"):
        scam.pl.trajectories(adata, basis="pca", show_support=True, show=False)
    scam.pl.trajectories(adata, basis="pca", show=False)  # without show_support the paths still draw
    import matplotlib.pyplot as plt

    plt.close("all")


def test_paths_that_leave_with_no_mass_left_do_not_count():
    """The share off the data is weighted by each path's mass: dying cells drifting away are not a population."""
    from scam._time import TimeInfo
    from scam.tl._trajectories import support

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    time = TimeInfo(key="t", labels=["0", "1"], values=np.array([0.0, 1.0]), codes=np.repeat([0, 1], 200))
    times = np.linspace(0.0, 1.0, 11)
    near = np.repeat(X[200:300, None, :], 11, axis=1)  # paths that end on observed cells
    far = near + 50.0  # paths that end far from every cell
    paths = np.concatenate([near, far])
    plain = support(paths, times, X, time, 0.0)
    np.testing.assert_allclose(plain["off_fraction"], [0.5])
    weights = np.concatenate([np.ones((100, 11)), np.full((100, 11), 1e-6)])  # the far ones carry no mass
    weighted = support(paths, times, X, time, 0.0, weights=weights)
    assert weighted["off_fraction"][0] < 1e-5
    np.testing.assert_array_equal(weighted["ratio"], plain["ratio"])  # the distances themselves are unweighted
