"""Tests for scam.datasets.branching: the simulated branching time course with known growth, fates and masses."""

from __future__ import annotations

import time

import anndata as ad
import numpy as np
import pytest

import scam
from scam.datasets import branching, branching_rates


@pytest.fixture(scope="module")
def sim() -> ad.AnnData:
    return branching(n_cells=300, random_state=0)


def test_layout(sim, tmp_path):
    assert sim.shape == (1500, 300)
    assert sim.X.dtype == np.float32
    assert np.all(sim.X >= 0) and np.all(sim.X == np.round(sim.X))  # raw counts
    assert sim.obsm["X_latent"].shape == (1500, 2)
    assert sorted(sim.obs["day"].unique()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert list(sim.obs["fate"].cat.categories) == ["A", "B"]
    assert list(sim.obs["branch"].cat.categories) == ["root", "A", "B"]
    np.testing.assert_allclose(sim.obs["growth"], sim.obs["birth"] - sim.obs["death"])
    gt = sim.uns["ground_truth"]
    assert gt["masses"].shape == (5,) and gt["masses"][0] == 1.0
    assert set(gt["proliferation_genes"]) == set(sim.var_names[sim.var["proliferation"]])
    assert set(gt["apoptosis_genes"]) == set(sim.var_names[sim.var["apoptosis"]])
    sim.write_h5ad(tmp_path / "b.h5ad")
    back = ad.read_h5ad(tmp_path / "b.h5ad")
    np.testing.assert_allclose(back.uns["ground_truth"]["masses"], gt["masses"])


def test_seeded_and_fast():
    start = time.perf_counter()
    a = branching(random_state=3)
    assert time.perf_counter() - start < 2.0 * 3  # < 2 s on a free core; slack for a busy CI machine
    b = branching(random_state=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.obsm["X_latent"], b.obsm["X_latent"])
    c = branching(random_state=4)
    assert not np.array_equal(a.obsm["X_latent"], c.obsm["X_latent"])


def test_rates_match_the_stated_model(sim):
    birth, death = branching_rates(sim.obsm["X_latent"])
    np.testing.assert_allclose(sim.obs["birth"], birth)
    # branch A grows, branch B shrinks, the root in between
    g = sim.obs.groupby("branch", observed=True)["growth"].mean()
    assert g["A"] > 0.6 and g["B"] < -0.3 and 0.2 < g["root"] < 0.45


def test_masses_follow_the_mean_growth(sim):
    """d log m / dt = mean growth of the (normalised) population: trapezoid over the snapshots."""
    gt = sim.uns["ground_truth"]
    mean_g = sim.obs.groupby("day")["growth"].mean().to_numpy()
    log_ratio = np.diff(np.log(gt["masses"]))
    trapezoid = 0.5 * (mean_g[1:] + mean_g[:-1]) * np.diff(gt["times"])
    np.testing.assert_allclose(log_ratio, trapezoid, atol=0.08)
    assert gt["masses"][-1] > 3.0  # growth is visible in the masses


def test_snapshots_are_drawn_by_mass(sim):
    """Branch A grows, so it takes over the late snapshots."""
    late = sim.obs[sim.obs["day"] == 4.0]
    assert (late["branch"] == "A").mean() > 0.85


def test_fates(sim):
    obs = sim.obs
    # the fate label is a draw from the fate probability
    for _, grp in obs.groupby("day"):
        assert abs((grp["fate"] == "A").mean() - grp["fate_probability_A"].mean()) < 0.08
    # at the last time the fate is the current branch
    last = obs[obs["day"] == 4.0]
    assert np.all((last["fate"] == "A") == (sim.obsm["X_latent"][obs["day"] == 4.0, 1] > 0))
    # fates are predictable from the state: the best possible call is right most of the time
    assert sim.uns["ground_truth"]["bayes_fate_accuracy"] > 0.9


def test_marker_genes_follow_the_rates(sim):
    X = sim.X / sim.X.sum(1, keepdims=True) * 1e4
    L = np.log1p(X)
    prolif = L[:, sim.var["proliferation"].to_numpy()].mean(1)
    apopt = L[:, sim.var["apoptosis"].to_numpy()].mean(1)
    assert np.corrcoef(prolif, sim.obs["birth"])[0, 1] > 0.7
    assert np.corrcoef(apopt, sim.obs["death"])[0, 1] > 0.7


def test_mouse_names():
    a = branching(n_cells=50, organism="mouse", random_state=0)
    for g in a.uns["ground_truth"]["proliferation_genes"]:
        assert g[0].isupper() and g[1:] == g[1:].lower() or any(ch.isdigit() for ch in g)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"times": (0.0,)}, "at least 2"),
        ({"times": (-1.0, 1.0)}, ">= 0"),
        ({"n_cells": 0}, ">= 1"),
        ({"n_genes": 20}, "at least"),
        ({"n_proliferation_genes": 500}, "lower"),
        ({"organism": "fly"}, "human"),
        ({"n_fate_samples": 0}, ">= 1"),
    ],
)
def test_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        branching(**kwargs)


def test_exported():
    assert scam.datasets.branching is branching


def test_branch_b_death_scales_only_branch_b():
    # the default is the factor 1 (bit-identical output); a lower factor spares branch B
    latent = np.array([[-2.0, 0.0], [5.0, 4.0], [5.0, -4.0]])  # root, branch A, branch B
    b1, d1 = branching_rates(latent)
    b2, d2 = branching_rates(latent, branch_b_death=0.5)
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_allclose(d2[:2], d1[:2], rtol=1e-3)
    np.testing.assert_allclose(d2[2], 0.5 * d1[2], rtol=1e-3)
    a = branching(n_cells=40, n_genes=60, random_state=0, branch_b_death=0.3)
    grow = a.obs["growth"][a.obs["branch"] == "B"].mean()
    assert grow > 0.0  # 0.3 birth - 0.27 death at the tip, against -0.6 by default
    with pytest.raises(ValueError, match="branch_b_death"):
        branching(n_cells=10, branch_b_death=-1.0)
