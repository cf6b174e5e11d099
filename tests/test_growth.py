"""Growth: scam.pp.growth_prior, prior masses and the free growth head, against the branching simulation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _helpers import QUIET, Snapshot

import scam
from scam import ActionModel
from scam._time import TimeInfo, masses_from_growth

#: Small, fast fits on the 2-D latent state of the branching simulation.
FAST = {"n_iters": 400, "hidden": (32, 32), "batch_size": 256, "use_rep": "X_latent", **QUIET}


@pytest.fixture(scope="module")
def sim():
    adata = scam.datasets.branching(n_cells=150, random_state=0)
    scam.pp.growth_prior(adata)
    return adata


@pytest.fixture(scope="module")
def small():
    return scam.datasets.branching(n_cells=20, random_state=0, n_genes=60)


# --------------------------------------------------------------------------------------------
# scam.pp.growth_prior
# --------------------------------------------------------------------------------------------


def test_growth_prior_follows_the_true_rates(sim):
    # measured 0.93 (birth), 0.81 (death), 0.91 (growth) on 400 cells per time; margin for 150
    assert np.corrcoef(sim.obs["growth_prior_birth"], sim.obs["birth"])[0, 1] > 0.8
    assert np.corrcoef(sim.obs["growth_prior_death"], sim.obs["death"])[0, 1] > 0.65
    assert np.corrcoef(sim.obs["growth_prior"], sim.obs["growth"])[0, 1] > 0.8
    np.testing.assert_allclose(sim.obs["growth_prior"], sim.obs["growth_prior_birth"] - sim.obs["growth_prior_death"])


def test_growth_prior_adds_only_documented_keys(small, tmp_path):
    adata = small.copy()
    before_obs, before_uns, X = list(adata.obs.columns), set(adata.uns), adata.X.copy()
    scam.pp.growth_prior(adata, key_added="gp")
    added = [c for c in adata.obs.columns if c not in before_obs]
    assert added == ["gp_proliferation", "gp_apoptosis", "gp_birth", "gp_death", "gp"]
    assert set(adata.uns) - before_uns == {"gp"}
    np.testing.assert_array_equal(adata.X, X)  # scored on a copy: the counts are untouched
    assert not adata.layers and set(adata.var.columns) == {"proliferation", "apoptosis"}
    used = set(adata.uns["gp"]["proliferation_genes"])
    assert used == set(adata.uns["ground_truth"]["proliferation_genes"])
    adata.write_h5ad(tmp_path / "gp.h5ad")


def test_growth_prior_logistic_model():
    from scam.pp._growth_prior import birth_death

    p = np.array([-10.0, 0.25, 10.0])
    birth, death = birth_death(p, np.array([-10.0, 0.1, 10.0]))
    np.testing.assert_allclose(birth, [0.3, 1.0, 1.7], atol=1e-6)  # min, midpoint, max (moscot defaults)
    np.testing.assert_allclose(death, [0.3, 1.0, 1.7], atol=1e-6)


def test_growth_prior_copy_and_mouse():
    adata = scam.datasets.branching(n_cells=30, organism="mouse", random_state=2)
    out = scam.pp.growth_prior(adata, organism="mouse", copy=True)
    assert "growth_prior" in out.obs and "growth_prior" not in adata.obs


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"organism": "fly"}, "human"),
        ({"organism": "mouse"}, "organism='human'"),  # human symbols: hint at the other organism
        ({"proliferation_genes": ["NOPE1", "NOPE2"]}, "Only 0"),
        ({"proliferation_genes": "MKI67"}, "list of gene names"),
        ({"beta_width": 0}, "beta_width"),
        ({"beta_max": 0.1}, "beta_max >= beta_min"),
        ({"layer": "missing"}, "adata.layers"),
        ({"key_added": ""}, "key_added"),
    ],
)
def test_growth_prior_bad_inputs(small, kwargs, match):
    adata = small.copy()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.pp.growth_prior(adata, **kwargs)
    snap.assert_unchanged(adata)


def test_growth_prior_needs_symbols():
    adata = scam.datasets.gaussian_path(n_cells=20)
    with pytest.raises(ValueError, match="proliferation_genes"):
        scam.pp.growth_prior(adata)
    with pytest.raises(TypeError, match="AnnData"):
        scam.pp.growth_prior(np.zeros((3, 3)))


# --------------------------------------------------------------------------------------------
# masses from the prior
# --------------------------------------------------------------------------------------------


def test_masses_from_growth_closed_form():
    # two rates per time: m_{k+1}/m_k = mean(exp(g Δt)) exactly
    codes = np.array([0, 0, 1, 1, 2, 2])
    time = TimeInfo(key="t", labels=["0", "1", "3"], values=np.array([0.0, 1.0, 3.0]), codes=codes)
    g = np.array([0.0, np.log(3.0), -0.5, -0.5, 9.0, 9.0])
    m = masses_from_growth(g, time)
    np.testing.assert_allclose(m, [1.0, 2.0, 2.0 * np.exp(-1.0)])


def test_fit_masses_from_prior_and_learned_masses(sim, tmp_path):
    adata = sim.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scam.tl.fit(adata, "day", masses="growth_prior", growth="free", interpolant="growth", **FAST)
    uns = adata.uns["scam"]
    from scam._time import get_time

    expected = masses_from_growth(adata.obs["growth_prior"].to_numpy(), get_time(adata, "day"))
    np.testing.assert_allclose(uns["masses"], expected)
    assert uns["params"]["masses"] == "growth_prior" and uns["params"]["growth"] == "free"
    learned = uns["learned_masses"]
    assert learned.shape == (5,) and learned[0] == 1.0
    # learned masses: the chained mean weights of the cells
    w = adata.obs["scam_weight"].to_numpy()
    codes = get_time(adata, "day").codes
    np.testing.assert_allclose(learned[1], np.mean(w[codes == 0]), rtol=1e-5)
    adata.write_h5ad(tmp_path / "fit.h5ad")


def test_no_growth_learned_masses_are_one(sim):
    adata = sim.copy()
    scam.tl.fit(adata, "day", growth="none", **{**FAST, "n_iters": 20})
    np.testing.assert_array_equal(adata.uns["scam"]["learned_masses"], np.ones(5))
    np.testing.assert_array_equal(adata.obs["scam_growth"], 0.0)


# --------------------------------------------------------------------------------------------
# learned growth against the truth
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def free_fit(sim):
    adata = sim.copy()
    model = scam.tl.fit(
        adata, "day", masses=list(adata.uns["ground_truth"]["masses"]), growth="free", interpolant="growth", **FAST
    )
    return model, adata


def test_free_growth_matches_truth(free_fit):
    model, adata = free_fit
    corr = np.corrcoef(adata.obs["scam_growth"], adata.obs["growth"])[0, 1]
    # measured with these settings: 0.884 (this seed), 0.858 and 0.826 (simulation seeds 1, 2)
    assert corr > 0.7
    # the learned masses reproduce the true masses it was given (measured: at most 5.9 % off, seeds 0-2)
    true = adata.uns["ground_truth"]["masses"]
    np.testing.assert_allclose(adata.uns["scam"]["learned_masses"], true, rtol=0.15)
    # branch A grows faster than branch B
    g = adata.obs.groupby("branch", observed=True)["scam_growth"].mean()
    assert g["A"] > g["B"]


def test_prior_penalty_pulls_toward_prior(sim):
    adata = sim.copy()
    m = list(adata.uns["ground_truth"]["masses"])
    scam.tl.fit(adata, "day", masses=m, growth="free", interpolant="growth", growth_penalty=1.0, **FAST)
    corr_prior = np.corrcoef(adata.obs["scam_growth"], adata.obs["growth_prior"])[0, 1]
    corr_true = np.corrcoef(adata.obs["scam_growth"], adata.obs["growth"])[0, 1]
    # measured: 0.882-0.905 with the prior, 0.835-0.898 with the truth (simulation seeds 0-2)
    assert corr_prior > 0.8 and corr_true > 0.75
    assert adata.uns["scam"]["params"]["growth_penalty"] == 1.0


def test_free_growth_model_save_load(free_fit, tmp_path):
    model, adata = free_fit
    assert model.growth_kind == "free" and model.has_growth and "free growth" in repr(model)
    X = adata.obsm["X_latent"][:50]
    path = model.save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == ["model.pt", "params.json"]
    loaded = ActionModel.load(path, device="cpu")
    np.testing.assert_allclose(loaded.growth(X, 1.0), model.growth(X, 1.0), rtol=1e-6)
    _, w0 = model.simulate(X, 1.0, 2.0, return_weights=True)
    _, w1 = loaded.simulate(X, 1.0, 2.0, return_weights=True)
    np.testing.assert_allclose(w0, w1, rtol=1e-5)
    assert not np.allclose(w0, 1.0)  # the head's growth reaches the weights
    # growth read-out = the head, in user units (per day)
    np.testing.assert_allclose(adata.obs["scam_growth"][:50], model.growth(X, adata.obs["day"][:50]), rtol=1e-5)


# --------------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"growth": "bogus"}, "growth"),
        ({"growth": "free", "lam": 0.1}, "lam"),
        ({"growth_penalty": 1.0, "growth": "none"}, "no growth"),
        ({"growth_penalty": -1.0, "lam": 0.1}, "growth_penalty"),
        ({"masses": "growth_prior", "lam": 0.1, "growth_prior_key": "nope"}, "scam.pp.growth_prior"),
        ({"growth": "free", "growth_penalty": 1.0, "growth_prior_key": "day"}, None),  # numeric column is fine
        ({"growth": "free", "growth_penalty": 1.0, "growth_prior_key": "branch"}, "numeric"),
    ],
)
def test_fit_growth_bad_inputs(sim, kwargs, match):
    adata = sim.copy()
    snap = Snapshot.of(adata)
    if match is None:
        scam.tl.fit(adata, "day", **{**FAST, "n_iters": 5}, **kwargs)
        return
    with pytest.raises(ValueError, match=match):
        scam.tl.fit(adata, "day", **{**FAST, "n_iters": 5}, **kwargs)
    snap.assert_unchanged(adata)


def test_free_growth_warns_on_a_uniform_path(sim):
    with pytest.warns(UserWarning, match="uniform in space"):
        scam.tl.fit(sim.copy(), "day", growth="free", interpolant="ot", **{**FAST, "n_iters": 2})


def test_auto_growth_resolves_by_lam_and_path(sim, monkeypatch):
    from scam.core import INTERPOLANTS, PairInterpolant, SplineInterpolant
    from scam.core.interpolants import GrowthInterpolant
    from scam.trainer import FitConfig

    assert FitConfig().checked().growth == "free"  # the default spline carries mass
    assert FitConfig(lam=0.1).checked().growth == "tied"
    assert FitConfig(interpolant="ot").checked().growth == "none"
    assert FitConfig(interpolant=SplineInterpolant(curvature=0.25)).checked().growth == "none"  # an instance: as built
    assert FitConfig(interpolant=SplineInterpolant(growth=True)).checked().growth == "free"

    class Nearest(PairInterpolant):  # docs/contributing.md's example: a balanced path, by name as by instance
        name = "nearest"

    class MyGrowth(GrowthInterpolant):
        name = "my_growth"

    for cls in (Nearest, MyGrowth):
        monkeypatch.setitem(INTERPOLANTS, cls.name, cls)
    assert (
        FitConfig(interpolant="nearest").checked().growth == "none" == FitConfig(interpolant=Nearest()).checked().growth
    )
    assert (
        FitConfig(interpolant="my_growth").checked().growth
        == "free"
        == FitConfig(interpolant=MyGrowth()).checked().growth
    )
    with pytest.raises(ValueError, match="growth='none'.*lam"):
        FitConfig(growth="none", lam=0.1).checked()


def test_tied_growth_without_lam_is_refused_not_fitted_as_no_growth(sim):
    adata = sim.copy()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"growth='tied'.*needs `lam > 0` \(e\.g\. lam=0\.1\).*growth='none'"):
        scam.tl.fit(adata, "day", growth="tied", **FAST)
    snap.assert_unchanged(adata)
    model = scam.tl.fit(adata, "day", growth="tied", lam=0.1, **{**FAST, "n_iters": 2})  # the fix named
    assert model.lam == 0.1 and adata.uns["scam"]["params"]["growth"] == "tied"


def test_benchmark_report_layout():
    from scam.benchmark.growth import METHODS, METRICS, markdown, summarize

    names = list(METHODS)[:2]
    df = pd.DataFrame(
        [
            {"method": m, "seed": s, "metric": k, "value": 0.5 + 0.1 * s, "seconds": 1.0}
            for m in names
            for s in (0, 1)
            for k in METRICS
        ]
    )
    table = summarize(df)
    assert list(table.index) == names and table.loc[names[0], "growth_corr"] == "0.550 ± 0.050"
    text = markdown(df, {"bayes_fate_accuracy": [0.98], "prior_corr": [0.9]})
    assert "| " + names[0] in text and "0.980" in text
