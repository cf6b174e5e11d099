"""``scam.tl.fit(condition_key=...)``: one model per condition, on two simulated conditions that differ in growth."""

from __future__ import annotations

import warnings

import anndata as ad
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _helpers import MEDIUM_NET, SMALL_FIT, TINY_FIT, Snapshot

import scam
from scam.benchmark import summarize
from scam.tl._fit import _condition_seed
from scam.trainer import FitConfig

matplotlib.use("Agg")

#: Fits on the 2-D latent state of the branching simulation.
LATENT = {"use_rep": "X_latent", "time_key": "day"}


def two_conditions(n_cells: int = 100) -> tuple[ad.AnnData, dict]:
    """Branching twice: 'control' (branch B dies, −0.6/day) and 'treated' (branch B's death × 0.3: it holds steady).

    Returns the concatenation with ``obs['condition']`` and the true masses per condition.
    """
    sims = {
        "control": scam.datasets.branching(n_cells=n_cells, n_genes=60, random_state=0),
        "treated": scam.datasets.branching(n_cells=n_cells, n_genes=60, random_state=1, branch_b_death=0.3),
    }
    masses = {c: list(a.uns["ground_truth"]["masses"]) for c, a in sims.items()}
    adata = ad.concat(sims, label="condition", index_unique="-")
    adata.obs["condition"] = adata.obs["condition"].astype("category")
    return adata, masses


@pytest.fixture(scope="module")
def sim():
    return two_conditions()


@pytest.fixture(scope="module")
def tiny():
    return two_conditions(n_cells=20)[0]


@pytest.fixture(scope="module")
def fitted(sim):
    adata, masses = sim
    adata = adata.copy()
    models = scam.tl.fit(
        adata, condition_key="condition", masses=masses, n_iters=300, random_state=0, **LATENT, **MEDIUM_NET
    )
    return adata, models


def test_each_condition_learns_its_own_growth(fitted):
    adata, models = fitted
    assert set(models) == {"control", "treated"} and all(isinstance(m, scam.ActionModel) for m in models.values())
    obs = adata.obs
    b_growth = {}
    for c in ("control", "treated"):
        o = obs[obs["condition"] == c]
        # measured 0.85 (control) and 0.87 (treated) with 300 steps
        assert np.corrcoef(o["scam_growth"], o["growth"])[0, 1] > 0.6, c
        b_growth[c] = o.loc[o["branch"] == "B", "scam_growth"].mean()
    # the treatment spares branch B: true mean growth there −0.34 (control) and +0.11 (treated); learned
    # +0.12 and +0.33 (the free head is biased upwards on a dying branch, the difference keeps its sign)
    assert b_growth["treated"] - b_growth["control"] > 0.05
    assert np.all(np.isfinite(adata.obsm["scam_velocity"])) and np.all(np.isfinite(obs["scam_potential"]))


def test_records_per_condition(fitted, sim, tmp_path):
    adata, _ = fitted
    uns = adata.uns["scam"]
    params = uns["params"]
    assert params["condition_key"] == "condition" and list(params["conditions"]) == ["control", "treated"]
    assert params["random_state"] == 0 and "history" not in uns
    seeds = set()
    for c, true in sim[1].items():
        rec = uns["conditions"][c]
        assert {"params", "history", "time", "masses", "learned_masses", "training"} <= set(rec)
        np.testing.assert_allclose(rec["masses"], true)
        assert "spline_curvature" in rec["params"] and "sigma" in rec["params"]
        seeds.add(rec["params"]["random_state"])
    assert len(seeds) == 2
    adata.write_h5ad(tmp_path / "conditions.h5ad")
    back = ad.read_h5ad(tmp_path / "conditions.h5ad")
    np.testing.assert_array_equal(
        back.uns["scam"]["conditions"]["treated"]["masses"], uns["conditions"]["treated"]["masses"]
    )


def test_a_condition_is_fitted_as_if_alone():
    """No leakage: a condition's results are those of a fit of its cells alone with the condition's seed."""
    adata, _ = two_conditions(n_cells=40)
    both = adata.copy()
    scam.tl.fit(both, condition_key="condition", masses="counts", random_state=3, **LATENT, **SMALL_FIT)
    treated = adata[adata.obs["condition"] == "treated"].copy()
    seed = _condition_seed(FitConfig(random_state=3), 1)
    scam.tl.fit(treated, masses="counts", random_state=seed, **LATENT, **SMALL_FIT)
    rows = (both.obs["condition"] == "treated").to_numpy()
    np.testing.assert_array_equal(both.obsm["scam_velocity"][rows], treated.obsm["scam_velocity"])
    np.testing.assert_array_equal(both.obs["scam_growth"].to_numpy()[rows], treated.obs["scam_growth"].to_numpy())
    np.testing.assert_array_equal(both.uns["scam"]["conditions"]["treated"]["masses"], treated.uns["scam"]["masses"])


def test_deterministic_and_refit_without_conditions():
    adata, _ = two_conditions(n_cells=40)
    outs = []
    for _ in range(2):
        a = adata.copy()
        scam.tl.fit(
            a, condition_key="condition", masses=[1.0, 1.2, 1.5, 2.0, 2.5], random_state=7, **LATENT, **SMALL_FIT
        )
        outs.append(a)
    np.testing.assert_array_equal(outs[0].obsm["scam_velocity"], outs[1].obsm["scam_velocity"])
    np.testing.assert_array_equal(outs[0].obs["scam_weight"], outs[1].obs["scam_weight"])
    for c in ("control", "treated"):  # numeric masses apply to every condition
        np.testing.assert_allclose(outs[0].uns["scam"]["conditions"][c]["masses"], [1.0, 1.2, 1.5, 2.0, 2.5])
    a = outs[0]
    a.obsm["X_umap"] = a.obsm["X_latent"].copy()
    scam.tl.velocity_embedding(a, basis="umap")  # reads the per-cell velocity of every condition
    assert np.all(np.isfinite(a.obsm["scam_velocity_umap"]))
    model = scam.tl.fit(a, random_state=7, **LATENT, **SMALL_FIT)
    assert isinstance(model, scam.ActionModel)
    assert "conditions" not in a.uns["scam"] and "condition_key" not in a.uns["scam"]["params"]
    assert "history" in a.uns["scam"] and "scam_velocity_umap" not in a.obsm  # the refit removed it


def _drop_day(adata: ad.AnnData, condition: str, keep_days) -> ad.AnnData:
    keep = (adata.obs["condition"] != condition).to_numpy() | adata.obs["day"].isin(keep_days).to_numpy()
    return adata[keep].copy()


def _with_nan(adata: ad.AnnData) -> ad.AnnData:
    adata.obs["condition"] = adata.obs["condition"].astype(object)
    adata.obs.iloc[3, adata.obs.columns.get_loc("condition")] = np.nan
    return adata


def _thin(adata: ad.AnnData) -> ad.AnnData:
    rows = (adata.obs["condition"] == "treated").to_numpy() & (adata.obs["day"] == 2.0).to_numpy()
    drop = np.flatnonzero(rows)[5:]
    return adata[np.setdiff1d(np.arange(adata.n_obs), drop)].copy()


def _slash_twins(adata: ad.AnnData) -> ad.AnnData:
    """'ko/1' and 'ko_1': both stored as 'ko_1' (h5ad nests keys at '/'), once silently one over the other."""
    adata.obs["condition"] = adata.obs["condition"].cat.rename_categories({"control": "ko/1", "treated": "ko_1"})
    return adata


def _slash_times(adata: ad.AnnData) -> ad.AnnData:
    """Ordered stage labels of which two interior ones are stored under one prediction key."""
    names = ["d0", "d/1", "d_1", "d3", "d4"]
    adata.obs["day"] = pd.Categorical([names[int(d)] for d in adata.obs["day"]], categories=names, ordered=True)
    return adata


def _float_condition(adata: ad.AnnData) -> ad.AnnData:
    adata.obs["condition"] = (adata.obs["condition"] == "treated").astype(float)
    return adata


@pytest.mark.parametrize(
    ("make", "kwargs", "match"),
    [
        (lambda a: a, {"condition_key": "genotype"}, "not a column of adata.obs"),
        (lambda a: a, {"condition_key": "day"}, "is the time column"),
        (_with_nan, {}, "missing values; fill them"),
        (lambda a: _drop_day(a, "treated", [0.0]), {}, "Condition 'treated'.*1 time point.*drop that condition"),
        (_thin, {}, "Condition 'treated'.*fewer than 10 cells"),
        (_float_condition, {}, "make it categorical"),
        (lambda a: a, {"masses": {"control": "counts"}}, "missing: \\['treated'\\]"),
        (lambda a: a, {"masses": {"control": [1.0, 2.0], "treated": "counts"}}, "Condition 'control'.*2 values"),
        (_slash_twins, {}, r"\['ko/1', 'ko_1'\] would overwrite each other's results.*'ko_1'.*Rename one"),
    ],
    ids=["missing", "time", "nan", "one_time", "few_cells", "float", "masses_missing", "masses_length", "slash"],
)
def test_bad_conditions(tiny, make, kwargs, match):
    adata = make(tiny.copy())
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.fit(adata, **{"condition_key": "condition", **LATENT, **TINY_FIT, **kwargs})
    snap.assert_unchanged(adata)


def test_a_time_mapping_applies_to_every_condition_also_when_conditions_are_integers():
    """Conditions 0 and 1 and times 0-4: ``{0: 1, 1: 1.5, 2: 2, ...}`` is one mass per time (numbers alone), not a
    mapping of conditions with 'unknown' conditions 2-4; a mapping of each condition's masses still is one."""
    from scam.tl._conditions import _masses_per_condition

    by_time = {0: 1.0, 1: 1.5, 2: 2.0, 3: 3.0, 4: 4.0}
    assert _masses_per_condition(by_time, ["0", "1"]) == {"0": by_time, "1": by_time}
    per_condition = {0: [1.0, 2.0], 1: "counts"}
    assert _masses_per_condition(per_condition, ["0", "1"]) == {"0": [1.0, 2.0], "1": "counts"}


def test_conditions_as_strings_in_sorted_order(tiny):
    adata = tiny.copy()
    adata.obs["condition"] = pd.Series(adata.obs["condition"].astype(str).to_numpy()[::-1], index=adata.obs_names)
    models = scam.tl.fit(adata, condition_key="condition", **LATENT, **TINY_FIT)
    assert list(models) == ["control", "treated"] == list(adata.uns["scam"]["params"]["conditions"])


# --- leave-one-timepoint-out per condition ------------------------------------------------------

#: A quick LOT: a few steps of a small net, σ and the spline's bend fixed (no leave-one-snapshot-out search).
LOT_QUICK = {"n_iters": 10, "hidden": (8,), "batch_size": 64, "sigma": 0.0, "curvature": 0.5}
LOT_ARGS = {
    "methods": ["scam", "ot_midpoint"],
    "metrics": ("w1",),
    "fit_kwargs": LOT_QUICK,
    "use_rep": "X_latent",
    "progress_bar": False,
}


@pytest.fixture(scope="module")
def lot(sim):
    adata = sim[0][::2].copy()  # 50 cells a condition and day
    df = scam.tl.leave_one_timepoint_out(adata, "day", condition_key="condition", masses=sim[1], **LOT_ARGS)
    return adata, df


def test_lot_per_condition_is_each_condition_alone(lot, sim):
    adata, df = lot
    assert list(df.columns) == ["condition", "method", "held_out", "seed", "metric", "value", "fit_seconds"]
    # 3 held-out days, each: scam's W1 and mass error (masses are given), ot_midpoint's W1
    assert df["condition"].tolist() == ["control"] * 9 + ["treated"] * 9
    uns = adata.uns["scam_lot"]
    assert uns["params"]["condition_key"] == "condition" and list(uns["params"]["conditions"]) == ["control", "treated"]
    for c in ("control", "treated"):
        alone = adata[adata.obs["condition"] == c].copy()
        ref = scam.tl.leave_one_timepoint_out(alone, "day", masses=sim[1][c], **LOT_ARGS)
        mine = df[df["condition"] == c].drop(columns=["condition", "fit_seconds"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, ref.drop(columns="fit_seconds"))  # same seeds: the same numbers
        assert sorted(mine["held_out"].unique()) == ["1", "2", "3"]
        stored = uns["conditions"][c]
        assert list(stored["params"]["held_out"]) == ["1", "2", "3"]
        theirs = alone.uns["scam_lot"]["predictions"]["scam"]["2"]["X"]
        np.testing.assert_array_equal(stored["predictions"]["scam"]["2"]["X"], theirs)


def test_lot_per_condition_summary_plots_and_h5ad(lot, tmp_path):
    adata, df = lot
    table = summarize(df)
    assert table.index.names == ["condition", "method"] and len(table) == 4
    w1 = df.query("condition == 'treated' and method == 'scam' and metric == 'w1'")["value"].mean()
    assert table.loc[("treated", "scam"), "mean"] == pytest.approx(w1)
    fig = scam.pl.benchmark(adata, return_fig=True)
    titles = [a.get_title() for a in fig.axes]
    assert titles == ["control: leave-one-timepoint-out", "treated: leave-one-timepoint-out"]
    fig = scam.pl.interpolation(adata, method="ot_midpoint", return_fig=True)  # a row of held-out days per condition
    assert len(fig.axes) == 6 and fig.axes[3].get_title().startswith("treated: held out 1: W1 = ")
    treated_day1 = (adata.obs["condition"] == "treated").to_numpy() & (adata.obs["day"] == 1.0).to_numpy()
    np.testing.assert_allclose(fig.axes[3].collections[0].get_offsets(), adata.obsm["X_latent"][treated_day1])
    ax = scam.pl.interpolation(adata, conditions="control", held_out="2", show=False)
    assert ax.get_title().startswith("control: held out 2")
    with pytest.raises(ValueError, match="conditions \\['control', 'treated'\\]; choose among them"):
        scam.pl.interpolation(adata, conditions="mutant", show=False)
    plt.close("all")
    adata.write_h5ad(tmp_path / "lot.h5ad")
    back = ad.read_h5ad(tmp_path / "lot.h5ad")
    assert list(back.uns["scam_lot"]["results"]["condition"]) == df["condition"].tolist()
    ax = scam.pl.interpolation(back, conditions="treated", held_out="3", show=False)
    assert ax.get_title().startswith("treated: held out 3")
    plt.close("all")


def test_lot_skips_a_condition_with_too_few_time_points(tiny):
    adata = _drop_day(tiny, "treated", [0.0, 4.0])
    kwargs = {**LOT_ARGS, "methods": ["ot_midpoint"]}
    with pytest.warns(UserWarning, match="skips the condition\\(s\\) 'treated' \\(2 time points\\)"):
        df = scam.tl.leave_one_timepoint_out(adata, "day", condition_key="condition", **kwargs)
    assert set(df["condition"]) == {"control"}
    assert list(adata.uns["scam_lot"]["params"]["skipped"]) == ["treated"]
    adata = _drop_day(adata, "control", [0.0, 1.0])
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match="No condition of adata.obs\\['condition'\\] has three time points"):
        scam.tl.leave_one_timepoint_out(adata, "day", condition_key="condition", **kwargs)
    snap.assert_unchanged(adata)


@pytest.mark.parametrize(
    ("make", "kwargs", "match"),
    [
        (lambda a: a, {"condition_key": "genotype"}, "not a column of adata.obs"),
        (lambda a: a, {"condition_key": "day"}, "is the time column"),
        (_with_nan, {}, "missing values; fill them"),
        (_float_condition, {}, "make it categorical"),
        (_thin, {}, "Condition 'treated'.*fewer than 10 cells"),
        (lambda a: a, {"masses": {"control": "counts"}}, "missing: \\['treated'\\]"),
        (lambda a: _drop_day(a, "treated", [0.0, 1.0, 2.0, 4.0]), {"held_out": 3.0}, "Condition 'treated'.*held_out"),
        (_slash_twins, {}, r"\['ko/1', 'ko_1'\] would overwrite each other's results"),
        (_slash_times, {"condition_key": None}, r"time points \['d/1', 'd_1'\] would overwrite"),
    ],
    ids=["missing", "time", "nan", "float", "few_cells", "masses_missing", "held_out", "slash", "slash_times"],
)
def test_lot_bad_conditions(tiny, make, kwargs, match):
    adata = make(tiny.copy())
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.leave_one_timepoint_out(adata, "day", **{"condition_key": "condition", **LOT_ARGS, **kwargs})
    snap.assert_unchanged(adata)


def test_ordered_stage_labels_keep_their_positions_in_a_condition_that_lacks_one(tiny):
    """Ordered labels without numbers take their position among the column's categories, in every condition.

    An AnnData subset drops unused categories, so a condition without 'mid' once read 'late' as 1, not 2: its
    velocities and growth came out in another unit of time than the other condition's, in the same columns.
    """
    adata = _drop_day(tiny, "treated", [0.0, 2.0, 3.0, 4.0])
    names = ["early", "mid", "late", "later", "end"]
    adata.obs["stage"] = pd.Categorical([names[int(d)] for d in adata.obs["day"]], categories=names, ordered=True)
    by_stage, by_day = adata.copy(), adata.copy()
    stage = {**LATENT, "time_key": "stage"}
    models = scam.tl.fit(by_stage, condition_key="condition", random_state=0, **stage, **SMALL_FIT)
    scam.tl.fit(by_day, condition_key="condition", random_state=0, **LATENT, **SMALL_FIT)
    assert models["treated"].observed_times == [0.0, 2.0, 3.0, 4.0]
    fitted_time = by_stage.uns["scam"]["conditions"]["treated"]["time"]
    assert dict(zip(fitted_time["labels"], fitted_time["values"], strict=True)) == {
        "early": 0,
        "late": 2,
        "later": 3,
        "end": 4,
    }
    np.testing.assert_array_equal(by_stage.obsm["scam_velocity"], by_day.obsm["scam_velocity"])
    np.testing.assert_array_equal(by_stage.obs["scam_growth"], by_day.obs["scam_growth"])
    # leave-one-timepoint-out reads each condition's times the same way: the same scores as on the days
    kwargs = {**LOT_ARGS, "methods": ["ot_midpoint"], "condition_key": "condition"}
    by_label = scam.tl.leave_one_timepoint_out(adata, "stage", **kwargs)
    by_value = scam.tl.leave_one_timepoint_out(adata, "day", **kwargs)
    treated = by_label[by_label["condition"] == "treated"]
    assert list(treated["held_out"]) == ["late", "later"]
    np.testing.assert_allclose(treated["value"], by_value[by_value["condition"] == "treated"]["value"], rtol=1e-6)


# --- read-outs and plots per condition ----------------------------------------------------------

#: A quick fit: few steps of a small net, σ and the spline's bend fixed.
QUICK = {**SMALL_FIT, "sigma": 0.0, "curvature": 0.5}
#: The support warning of scam.tl.trajectories (the paths of a tiny fit leave the observed cells).
OFF_DATA = "of the simulated points at the observed times"


@pytest.fixture(scope="module")
def readouts(tiny):
    """Tiny models per condition, with paths, fates and transitions of each condition's cells."""
    adata = tiny.copy()
    models = scam.tl.fit(adata, condition_key="condition", **LATENT, **QUICK)
    with warnings.catch_warnings():  # a tiny fit: the paths may leave the cells
        warnings.filterwarnings("ignore", f".*{OFF_DATA}", UserWarning)
        scam.tl.trajectories(adata, models, n_cells=5, n_steps=4)
    scam.tl.fate(adata, models, source=0.0, target=4.0, groupby="branch")
    tables = scam.tl.transition_matrix(adata, models, source=2.0, target=4.0, groupby="branch")
    return adata, models, tables


def _alone(adata: ad.AnnData, condition: str) -> ad.AnnData:
    return adata[(adata.obs["condition"] == condition).to_numpy()].copy()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_models_record_their_condition(readouts):
    _, models, _ = readouts
    for c, m in models.items():
        assert (m.metadata["condition_key"], m.metadata["condition"]) == ("condition", c)


@pytest.mark.filterwarnings(f"ignore:.*{OFF_DATA}:UserWarning")
def test_trajectories_start_from_each_conditions_cells(readouts):
    adata, models, _ = readouts
    traj = adata.uns["scam"]["trajectories"]
    assert traj["params"]["condition_key"] == "condition" and list(traj["params"]["conditions"]) == [
        "control",
        "treated",
    ]
    for c in ("control", "treated"):
        mine = traj["conditions"][c]
        rows = mine["start_index"]
        assert len(rows) == 5 and set(adata.obs["condition"].iloc[rows]) == {c}
        assert set(adata.obs["day"].iloc[rows]) == {0.0}
        np.testing.assert_allclose(mine["paths"][:, 0], adata.obsm["X_latent"][rows], rtol=1e-5)
        alone = _alone(adata, c)  # the same paths as a call on the condition's cells alone
        scam.tl.trajectories(alone, models[c], n_cells=5, n_steps=4)
        theirs = alone.uns["scam"]["trajectories"]
        np.testing.assert_array_equal(mine["paths"], theirs["paths"])
        np.testing.assert_array_equal(mine["start_cells"], theirs["start_cells"])


def test_trajectories_plot_one_panel_per_condition(readouts):
    adata, _, _ = readouts
    axes = scam.pl.trajectories(adata, basis="X_latent", show=False)
    assert [a.get_title() for a in axes] == [
        "control: scam trajectories (5 cells)",
        "treated: scam trajectories (5 cells)",
    ]
    for a, c in zip(axes, ("control", "treated"), strict=True):
        starts = [x for x in a.collections if x.get_gid() == "scam_trajectory_starts"][0]
        rows = adata.uns["scam"]["trajectories"]["conditions"][c]["start_index"]
        np.testing.assert_allclose(starts.get_offsets(), adata.obsm["X_latent"][rows], rtol=1e-5)
    ax = scam.pl.trajectories(adata, basis="X_latent", conditions="treated", show=False)
    assert ax.get_title().startswith("treated:")
    _, given = plt.subplots()
    with pytest.raises(ValueError, match="2 conditions need one panel each"):
        scam.pl.trajectories(adata, basis="X_latent", ax=given)
    with pytest.raises(ValueError, match="choose among them"):
        scam.pl.trajectories(adata, basis="X_latent", conditions=["mutant"])


def test_trajectories_plot_per_condition_with_an_integer_time_column(readouts):
    """scanpy greys the other conditions' cells by setting their colour to NaN: an integer column cannot hold it."""
    adata = readouts[0].copy()
    adata.obs["day"] = adata.obs["day"].astype(np.int64)
    snap = adata.obs["day"].copy()
    axes = scam.pl.trajectories(adata, basis="X_latent", show=False)
    assert len(axes) == 2
    pd.testing.assert_series_equal(adata.obs["day"], snap)  # the user's column is left as it was


def test_history_one_panel_per_condition(readouts):
    adata, _, _ = readouts
    fig = scam.pl.history(adata, return_fig=True)
    losses = [a for a in fig.axes if a.get_title()]
    assert [a.get_title() for a in losses] == ["control: scam training", "treated: scam training"]
    for a, c in zip(losses, ("control", "treated"), strict=True):
        np.testing.assert_allclose(a.get_lines()[0].get_ydata(), adata.uns["scam"]["conditions"][c]["history"]["loss"])


def test_fate_and_transitions_per_condition(readouts):
    adata, models, tables = readouts
    fate = adata.obsm["scam_fate"]
    classes = list(adata.uns["scam_fate"]["classes"])
    assert adata.uns["scam_fate"]["params"]["condition_key"] == "condition"
    for c in ("control", "treated"):
        rows = (adata.obs["condition"] == c).to_numpy()
        alone = _alone(adata, c)
        scam.tl.fate(alone, models[c], source=0.0, target=4.0, groupby="branch")
        own = list(alone.uns["scam_fate"]["classes"])
        np.testing.assert_array_equal(fate[rows][:, [classes.index(k) for k in own]], alone.obsm["scam_fate"])
        ref = scam.tl.transition_matrix(alone, models[c], source=2.0, target=4.0, groupby="branch")
        pd.testing.assert_frame_equal(tables[c], ref)
    source = (adata.obs["day"] == 0.0).to_numpy()
    np.testing.assert_allclose(fate[source].sum(1), 1.0, rtol=1e-5)
    assert np.isnan(fate[~source]).all()
    axes = scam.pl.fate(adata, show=False)
    assert [a.get_title() for a in axes] == ["control: fate probabilities", "treated: fate probabilities"]
    axes = scam.pl.transitions(adata, show=False)
    assert [a.get_title() for a in axes] == ["control: transitions", "treated: transitions"]
    ax = scam.pl.transitions(tables, conditions="treated", show=False)  # the dict the tool returned
    np.testing.assert_allclose(ax.images[0].get_array(), tables["treated"].to_numpy())


def test_gene_velocity_per_condition(readouts):
    adata, models, _ = readouts
    adata = adata.copy()
    W = np.random.default_rng(0).normal(size=(2, adata.n_vars))
    decoder = lambda z: z @ W  # noqa: E731  (linear: the gene velocity is exactly v @ W)
    scam.tl.gene_velocity(adata, models, decoder=decoder)
    np.testing.assert_allclose(adata.layers["scam_velocity"], adata.obsm["scam_velocity"] @ W, rtol=1e-4, atol=1e-6)
    assert list(adata.uns["scam_gene_velocity"]["params"]["conditions"]) == ["control", "treated"]
    for c in ("control", "treated"):
        alone = _alone(adata, c)
        scam.tl.gene_velocity(alone, models[c], decoder=decoder)
        rows = (adata.obs["condition"] == c).to_numpy()
        np.testing.assert_allclose(adata.layers["scam_velocity"][rows], alone.layers["scam_velocity"], rtol=1e-6)


def _drop_model(models: dict, name: str) -> dict:
    return {c: m for c, m in models.items() if c != name}


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda a, m: scam.tl.trajectories(a, _drop_model(m, "treated")),
            ValueError,
            "no model for the condition\\(s\\) \\['treated'\\]",
        ),
        (
            lambda a, m: scam.tl.fate(a, _drop_model(m, "control"), source=0.0, target=4.0, groupby="branch"),
            ValueError,
            "no model for the condition\\(s\\) \\['control'\\]",
        ),
        (lambda a, m: scam.tl.gene_velocity(a, m, condition_key="genotype"), ValueError, "not a column of adata.obs"),
        (lambda a, m: scam.tl.trajectories(a, m["control"]), ValueError, "model of condition 'control'.*also holds"),
        (
            lambda a, m: scam.tl.transition_matrix(a, m["treated"], source=0.0, target=4.0, groupby="branch"),
            ValueError,
            "model of condition 'treated'",
        ),
        (lambda a, m: scam.tl.gene_trends(a, m, "gene_0"), TypeError, "pass one condition's model with that"),
        (lambda a, m: scam.tl.trajectories(a, m["control"], condition_key="condition"), ValueError, "dict of models"),
        (
            lambda a, m: scam.tl.trajectories(a, {"control": m["treated"], "treated": m["control"]}),
            ValueError,
            "`model\\['control'\\]` was fitted on condition 'treated'",
        ),
        (
            lambda a, m: scam.tl.fate(a, m, source=0.0, target=4.0, groupby="fates"),
            ValueError,
            "Condition 'control'.*groupby='fates'",
        ),
    ],
    ids=[
        "missing",
        "missing_fate",
        "unknown_key",
        "one_model",
        "one_model_tm",
        "gene_trends",
        "key_one",
        "swapped",
        "groupby",
    ],
)
def test_bad_readouts_per_condition(readouts, call, error, match):
    adata, models, _ = readouts
    adata = adata.copy()
    snap = Snapshot.of(adata)
    with pytest.raises(error, match=match):
        call(adata, models)
    snap.assert_unchanged(adata)
