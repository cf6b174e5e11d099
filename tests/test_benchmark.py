"""Baselines with known answers, the LOT loop's no-leak rule, and its table."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from _helpers import LOT_FIT, QUICK_FIT, Snapshot

import scam
from scam.benchmark import BASELINES, available_methods, run_lot, summarize
from scam.core import wasserstein
from scam.lot.baselines import entropic_ot_midpoint, ot_midpoint, unbalanced_ot_midpoint


def test_ot_midpoint_of_two_point_masses():
    pred, w = ot_midpoint(np.array([[0.0, 0.0]]), np.array([[2.0, 4.0]]), 0.0, 2.0, 0.5)
    np.testing.assert_allclose(pred, [[0.5, 1.0]])
    np.testing.assert_allclose(w, [1.0])


def test_ot_midpoint_of_a_shifted_cloud_is_the_half_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    shift = np.array([1.0, -2.0, 0.5])
    pred, w = ot_midpoint(x, rng.permutation(x) + shift, 1.0, 3.0, 2.0)
    assert wasserstein(pred, x + shift / 2, x_weights=w) == pytest.approx(0.0, abs=1e-7)
    # with a small ε, pairs drawn from the entropic plan are (nearly all) the OT pairs; on 50 cells (Sinkhorn in
    # the log domain runs all its 10,000 iterations at this ε: 42 s on 200 cells, 4 s on 50)
    small, truth = x[:50], x[:50] + shift / 2

    def on_truth(pred):
        return (np.linalg.norm(pred[:, None] - truth[None], axis=-1).min(1) < 1e-6).mean()

    pred_e, w_e = entropic_ot_midpoint(small, small + shift, 1.0, 3.0, 2.0, epsilon=0.002)
    assert w_e is None and len(pred_e) == 50 and on_truth(pred_e) > 0.95
    truth = x + shift / 2
    # the unbalanced plan is blurrier: check the weighted mean moves half-way
    pred_u, w_u = unbalanced_ot_midpoint(x, x + shift, 1.0, 3.0, 2.0, m_prev=1.0, m_next=2.0, reg_m=10.0)
    assert w_u.sum() == pytest.approx(1.0) and len(pred_u) == 200
    np.testing.assert_allclose(w_u @ pred_u, truth.mean(0), atol=0.1)


def test_previous_next_and_time_checks():
    a, b = np.zeros((3, 2)), np.ones((4, 2))
    np.testing.assert_array_equal(BASELINES["previous"](a, b, 0, 2, 1)[0], a)
    np.testing.assert_array_equal(BASELINES["next"](a, b, 0, 2, 1)[0], b)
    with pytest.raises(ValueError, match="strictly between"):
        ot_midpoint(a, b, 0, 2, 3)


def _course(n=120, seed=0):
    return scam.datasets.gaussian_path(n_cells=n, times=(0.0, 1.0, 2.0, 3.0), n_dims=2, random_state=seed)


def test_lot_never_sees_the_held_out_cells():
    """Replacing the held-out snapshot with garbage changes the scores, never the predictions."""
    clean = _course()
    dirty = clean.copy()
    held = dirty.obs["time"].to_numpy() == 1.0
    dirty.obsm["X_pca"][held] = 1e3 + np.random.default_rng(1).normal(size=(held.sum(), 2))
    methods = ["scam", "scam_uam", "ot_midpoint", "entropic_ot", "previous"]
    out = {}
    for name, adata in (("clean", clean), ("dirty", dirty)):
        from scam._time import get_time
        from scam._validation import get_rep

        time = get_time(adata, "time")

        def fit_scam(keep, variant, seed, adata=adata):
            sub = adata[keep].copy()
            sub.obs = sub.obs[["time"]]
            return scam.tl.fit(sub, "time", random_state=seed, **{**QUICK_FIT, **variant})

        out[name] = run_lot(
            get_rep(adata, "X_pca", None),
            time.codes,
            time.values,
            time.labels,
            fit_scam,
            held_out=[1],
            methods=methods,
            metrics=("w1",),
            progress_bar=False,
            return_predictions=True,
        )
    for key, (pred, weights) in out["clean"][1].items():
        np.testing.assert_array_equal(pred, out["dirty"][1][key][0])
        assert (weights is None) == (out["dirty"][1][key][1] is None)
    assert (out["dirty"][0]["value"] > 100).all() and (out["clean"][0]["value"] < 10).all()


def test_lot_with_a_growth_prior_never_sees_the_held_out_cells_prior():
    """``growth_penalty`` and ``masses="growth_prior"``: each fold's fit gets its kept cells' prior only.

    Changing the prior of the held-out cells changes the masses of the whole course after it, never the prediction.
    """
    clean = _course()
    clean.obs["growth_prior"] = 0.2 + 0.1 * clean.obsm["X_pca"][:, 0]
    dirty = clean.copy()
    held = dirty.obs["time"].to_numpy() == 1.0
    dirty.obs.loc[held, "growth_prior"] = 3.0
    out = {}
    for name, adata in (("clean", clean), ("dirty", dirty)):
        obs = adata.obs.copy()
        scam.tl.leave_one_timepoint_out(
            adata,
            held_out=[1.0],
            methods=["scam"],
            metrics=["w1"],
            masses="growth_prior",
            fit_kwargs={**LOT_FIT, "growth_penalty": 1.0},
            progress_bar=False,
        )
        out[name] = adata.uns["scam_lot"]
        pd.testing.assert_frame_equal(adata.obs, obs)  # the prior is read, not changed
    np.testing.assert_array_equal(
        out["clean"]["predictions"]["scam"]["1"]["X"], out["dirty"]["predictions"]["scam"]["1"]["X"]
    )
    np.testing.assert_array_equal(
        out["clean"]["predictions"]["scam"]["1"]["weights"], out["dirty"]["predictions"]["scam"]["1"]["weights"]
    )
    values = {k: dict(zip(v["results"]["metric"], v["results"]["value"], strict=True)) for k, v in out.items()}
    assert values["clean"]["w1"] == values["dirty"]["w1"]
    # the dirty prior matters: the masses of the whole course, which a fold's fit must not take, differ by e^2.8
    from scam._time import get_time, masses_from_growth

    time = get_time(clean, "time")
    full = {k: masses_from_growth(a.obs["growth_prior"].to_numpy(), time) for k, a in (("c", clean), ("d", dirty))}
    assert full["d"][2] / full["c"][2] > 10


def _interrupt_training_at(monkeypatch, step: int) -> None:
    """Ctrl-C at the ``step``-th training step of the session (the trainer keeps its best model and returns)."""
    import scam.core.train as core_train

    real, count = core_train._step_loss, [0]

    def step_loss(*args, **kwargs):
        count[0] += 1
        if count[0] == step:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(core_train, "_step_loss", step_loss)


def test_ctrl_c_stops_a_leave_one_timepoint_out_sweep(monkeypatch):
    """A fold cut short by Ctrl-C is not scored as a finished one: the sweep stops and adata is left unchanged."""
    adata = _course()
    snap = Snapshot.of(adata)
    _interrupt_training_at(monkeypatch, 5)
    with pytest.warns(UserWarning, match="training interrupted"), pytest.raises(KeyboardInterrupt):
        scam.tl.leave_one_timepoint_out(adata, methods=["scam", "ot_midpoint"], fit_kwargs=LOT_FIT, progress_bar=False)
    snap.assert_unchanged(adata)


def test_ctrl_c_stops_a_per_condition_fit(monkeypatch):
    adata = ad.concat([_course(seed=0), _course(seed=1)], index_unique="-")
    adata.obs["geno"] = ["wt"] * (adata.n_obs // 2) + ["ko"] * (adata.n_obs // 2)
    snap = Snapshot.of(adata)
    _interrupt_training_at(monkeypatch, 5)
    with pytest.warns(UserWarning, match="training interrupted"), pytest.raises(KeyboardInterrupt, match="'ko'"):
        scam.tl.fit(adata, condition_key="geno", **QUICK_FIT)
    snap.assert_unchanged(adata)


def test_leave_one_timepoint_out_takes_fit_arguments_of_its_own_only_as_its_own():
    adata = _course()
    snap = Snapshot.of(adata)
    for key in ("time_key", "masses", "growth_prior_key"):
        with pytest.raises(ValueError, match=rf"`fit_kwargs` may not set \['{key}'\]: pass `{key}=` to "):
            scam.tl.leave_one_timepoint_out(adata, fit_kwargs={key: "x"}, progress_bar=False)
    with pytest.raises(ValueError, match=r"no growth prior column 'growth_prior'; run `scam\.pp\.growth_prior"):
        scam.tl.leave_one_timepoint_out(adata, fit_kwargs={"growth_penalty": 1.0}, progress_bar=False)
    snap.assert_unchanged(adata)


def test_leave_one_timepoint_out_table_and_uns(tmp_path):
    adata = _course()
    adata.obs["stage"] = adata.obs["time"].map({0.0: "a", 1.0: "b", 2.0: "c", 3.0: "d"}).astype("category")
    adata.obs["stage"] = adata.obs["stage"].cat.as_ordered()
    df = scam.tl.leave_one_timepoint_out(
        adata,
        "stage",
        methods=["scam", "ot_midpoint", "previous", "next"],
        n_seeds=2,
        fit_kwargs=LOT_FIT,
        progress_bar=False,
        masses=[1.0, 1.5, 2.0, 3.0],
    )
    assert set(df.columns) == {"method", "held_out", "seed", "metric", "value", "fit_seconds"}
    # the default fit learns growth, so with masses it is also scored on the held-out mass
    assert set(df["held_out"]) == {"b", "c"} and set(df["metric"]) == {"w1", "w2", "mmd", "mass_error"}
    assert set(df[df["method"] != "scam"]["metric"]) == {"w1", "w2", "mmd"}
    assert len(df) == 3 * 2 * 2 * 3 + 2 * 2 * 4
    table = summarize(df)
    assert table.loc["ot_midpoint", "mean"] < table.loc["previous", "mean"]
    assert table.loc["ot_midpoint", "std"] == 0.0  # deterministic
    assert list(table.columns[:2]) == ["mean", "std"]
    adata.write_h5ad(tmp_path / "lot.h5ad")
    back = ad.read_h5ad(tmp_path / "lot.h5ad")
    assert list(back.uns["scam_lot"]["results"]["method"]) == list(df["method"])


@pytest.mark.parametrize("method", ["scam_uam", "scam_growth"])
def test_mass_error_uses_true_masses(method):
    # tied (λ s) and free growth head alike get particle weights and a mass error
    adata = _course()
    df = scam.tl.leave_one_timepoint_out(
        adata,
        "time",
        held_out=2.0,
        methods=[method],
        fit_kwargs=LOT_FIT,
        metrics=("w1",),
        masses=[1.0, 1.5, 2.0, 3.0],
        progress_bar=False,
    )
    assert set(df["metric"]) == {"w1", "mass_error"} and set(df["held_out"]) == {"2"}
    weights = adata.uns["scam_lot"]["predictions"][method]["2"]["weights"]
    assert weights.std() > 0  # not uniform: the growth reached the prediction


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"held_out": 0.0}, "not an interior time point"),
        ({"held_out": 3.0}, "not an interior time point"),
        ({"methods": ["magic"]}, "Unknown methods"),
        ({"fit_kwargs": {"random_state": 3}}, "may not set 'random_state'"),
        ({"n_seeds": 0}, "n_seeds"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_lot_bad_input(kwargs, match):
    adata = _course(n=40)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.leave_one_timepoint_out(adata, "time", progress_bar=False, **{"fit_kwargs": LOT_FIT, **kwargs})
    snap.assert_unchanged(adata)


def test_lot_needs_an_interior_time():
    adata = scam.datasets.gaussian_path(n_cells=40, times=(0.0, 1.0), n_dims=2)
    with pytest.raises(ValueError, match="at least three time points"):
        scam.tl.leave_one_timepoint_out(adata, "time", progress_bar=False)


def test_every_method_is_listed():
    names = available_methods()
    for name in ("scam", "scam_am", "scam_eam", "scam_uam", "scam_ueam", "scam_spline", "ot_midpoint", "otcfm"):
        assert name in names


def test_lot_in_worker_processes_matches_one_process_and_stores_predictions():
    adata = _course(n=60)
    kwargs = {
        "held_out": 1.0,
        "methods": ["scam", "ot_midpoint"],
        "n_seeds": 2,
        "fit_kwargs": LOT_FIT,
        "metrics": ("w1",),
    }
    one = scam.tl.leave_one_timepoint_out(adata, "time", progress_bar=False, **kwargs)
    preds = adata.uns["scam_lot"]["predictions"]
    two = scam.tl.leave_one_timepoint_out(adata, "time", n_jobs=2, progress_bar=False, **kwargs)
    np.testing.assert_allclose(two["value"], one["value"], rtol=1e-4)
    assert list(two["method"]) == list(one["method"]) and list(two["seed"]) == list(one["seed"])
    # the deterministic baseline is scored once and its row repeated per seed
    ot_rows = one[one["method"] == "ot_midpoint"]
    assert len(ot_rows) == 2 and ot_rows["value"].nunique() == 1
    # first seed's prediction per method and held-out label, pushed from the previous time's cells
    assert set(preds) == {"scam", "ot_midpoint"} and set(preds["scam"]) == {"1"}
    n_prev = int((adata.obs["time"] == 0.0).sum())
    assert preds["scam"]["1"]["X"].shape == (n_prev, 2)
    np.testing.assert_allclose(preds["scam"]["1"]["weights"].sum(), 1.0, rtol=1e-5)
    target = adata.obsm["X_pca"][adata.obs["time"].to_numpy() == 1.0]
    w1 = wasserstein(preds["ot_midpoint"]["1"]["X"], target, x_weights=preds["ot_midpoint"]["1"]["weights"])
    assert w1 == pytest.approx(ot_rows["value"].iloc[0], rel=1e-4)


def test_published_rows_are_sorted_and_carry_their_caveats():
    """Quoted rows join the table in W1 order; second-hand and off-protocol numbers say so."""
    import pandas as pd

    from scam.benchmark import PUBLISHED_EB_W1
    from scam.benchmark.report import markdown_table

    df = pd.DataFrame(
        [
            {"method": "scam", "held_out": h, "seed": 0, "metric": "w1", "value": v, "fit_seconds": 1.0}
            for h, v in [(1, 0.65), (2, 0.67)]
        ]
    )
    text = markdown_table(df, published=PUBLISHED_EB_W1)
    names = [line.split("|")[1].strip() for line in text.splitlines()[2:]]
    assert names[:3] == ["WLF-OT (published)", "OTP-FM W2 (published)", "scam"]  # 0.641 < 0.643 < 0.66
    wlf = next(line for line in text.splitlines() if line.startswith("| WLF-OT"))
    assert "second-hand" in wlf
    assert "2,000-cell subsamples" in next(line for line in text.splitlines() if line.startswith("| OTP-FM"))


def _lot_table_and_predictions(adata, **kwargs):
    df = scam.tl.leave_one_timepoint_out(
        adata,
        "time",
        methods=["scam", "scam_uam", "ot_midpoint"],
        n_seeds=2,
        metrics=("w1", "mmd"),
        fit_kwargs=LOT_FIT,
        progress_bar=False,
        **kwargs,
    )
    preds = adata.uns["scam_lot"]["predictions"]
    return df.drop(columns="fit_seconds"), {(m, h): p["X"] for m, by_time in preds.items() for h, p in by_time.items()}


def test_lot_on_a_dask_cluster_is_identical_to_one_process():
    """The same jobs on a Dask LocalCluster of two worker processes give the same table, to the last bit."""
    distributed = pytest.importorskip("distributed")
    adata = _course(n=60)
    one, one_preds = _lot_table_and_predictions(adata)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as tasks:
            on_client, client_preds = _lot_table_and_predictions(adata, client=client)
        by_address, _ = _lot_table_and_predictions(adata, client=cluster.scheduler_address)
        workers = set(cluster.scheduler_info["workers"])
    pd.testing.assert_frame_equal(on_client, one)
    pd.testing.assert_frame_equal(by_address, one)
    assert client_preds.keys() == one_preds.keys()
    for key, x in one_preds.items():
        np.testing.assert_array_equal(client_preds[key], x)
    # the jobs ran in the worker processes, not in this one
    ran_on = {t["worker"] for t in tasks.data}
    assert ran_on and ran_on <= workers, (ran_on, workers)


def test_lot_client_must_be_a_client_or_an_address():
    pytest.importorskip("distributed")
    adata = _course(n=40)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match="distributed.Client or a scheduler address"):
        scam.tl.leave_one_timepoint_out(adata, "time", client=2, fit_kwargs=LOT_FIT, progress_bar=False)
    snap.assert_unchanged(adata)


def test_true_sample_ratio_is_what_a_fresh_sample_of_the_held_out_cells_scores():
    """Far from the interpolation a true sample wins by far; where the interpolation is right it loses to it.

    Held-out cells from N(5 e1, I) between two snapshots of N(0, I): exact OT predicts N(0, I), a half
    of the held-out cells is far closer to the other half (ratio << 1). All three snapshots N(0, I) in
    50 dimensions: the OT interpolation averages matched pairs, which shrinks it, and W1 between
    finite samples rewards that, so a true sample scores worse than exact OT (ratio > 1).
    """
    from scam.benchmark.suite import true_sample_ratios

    rng = np.random.default_rng(0)
    n, codes, values = 300, np.repeat([0, 1, 2], 300), np.array([0.0, 1.0, 2.0])

    def snapshots(d, shift):
        mid = rng.normal(size=(n, d)) + shift * (np.arange(d) == 0)
        return np.concatenate([rng.normal(size=(n, d)), mid, rng.normal(size=(n, d))])

    assert true_sample_ratios(snapshots(2, 5.0), codes, values)[1] < 0.1
    assert true_sample_ratios(snapshots(50, 0.0), codes, values)[1] > 1.0
    X = snapshots(3, 0.0)
    assert true_sample_ratios(X, codes, values) == true_sample_ratios(X, codes, values)  # deterministic


def test_suite_with_every_data_set_missing_names_the_files(tmp_path, caplog):
    """Only the 100-PC EB sets can be missing; with nothing left the error was pandas' 'No objects to concatenate'."""
    from scam.benchmark.suite import run_suite

    with pytest.raises(ValueError, match=r"data sets \['eb100_50'\].*eb_pcs100_subset.*--eb100-dir"):
        run_suite(["eb100_50"], eb100_dir=tmp_path)
    assert "skipping eb100_50" in caplog.text


def test_a_baseline_registered_as_docs_contributing_says_runs_once_per_fold(monkeypatch):
    """docs/contributing.md's ``mean_shift``, registered in BASELINES without ``random_state``: runs once per fold."""
    from scam.lot import baselines
    from scam.lot.engine import deterministic, run_lot

    calls = []

    def mean_shift(x_prev, x_next, t_prev, t_next, t):
        calls.append(t)
        tau = baselines._tau(t_prev, t_next, t)
        return x_prev + tau * (x_next.mean(0) - x_prev.mean(0)), None

    monkeypatch.setitem(baselines.BASELINES, "mean_shift", mean_shift)
    assert deterministic("mean_shift") and deterministic("ot_midpoint") and not deterministic("entropic_ot")
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], 50)
    X = rng.normal(size=(150, 2)) + 3.0 * codes[:, None]  # the population moves by (3, 3) per time point
    df = run_lot(
        X,
        codes,
        [0.0, 1.0, 2.0],
        ["0", "1", "2"],
        None,
        held_out=[1],
        methods=["mean_shift"],
        n_seeds=2,
        metrics=("w1",),
        progress_bar=False,
    )
    assert calls == [1.0] and list(df["seed"]) == [0, 1] and df["value"].nunique() == 1
    shifted = X[codes == 0] + (X[codes == 2].mean(0) - X[codes == 0].mean(0)) / 2
    assert df["value"].iloc[0] == pytest.approx(scam.core.wasserstein(shifted, X[codes == 1]))
