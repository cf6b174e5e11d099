"""Bad inputs raise a clear error naming the fix, and leave the user's ``adata`` unchanged.

Project rule: every bad input a user can plausibly give gets a test here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import SMALL_FIT, TINY_FIT, Snapshot, small_path
from scipy import sparse

import scam
from scam import ActionModel


def _change_one_time(adata: ad.AnnData) -> None:
    adata.obs.loc[adata.obs_names[0], "time"] = 5.0


def test_snapshot_detects_changes():
    """The helper itself must notice every kind of change it claims to check."""
    changes = [
        lambda a: a.obs.__setitem__("new", 1.0),
        _change_one_time,
        lambda a: a.obsm.__setitem__("X_new", np.zeros((a.n_obs, 1))),
        lambda a: a.obsm["X_pca"].__setitem__((0, 0), 99.0),
        lambda a: a.uns.__setitem__("new", {}),
        lambda a: a.X.__setitem__((0, 0), 99.0),
        lambda a: a.layers.__setitem__("counts", np.ones(a.shape)),
        lambda a: a.uns["ground_truth"].__setitem__("new", 1.0),
        lambda a: a.uns["ground_truth"]["mu_end"].__setitem__(0, 99.0),
        lambda a: a.uns["ground_truth"].__setitem__("std_end", 0.25),
        lambda a: a.var.__setitem__("gene_ids", "x"),
        lambda a: setattr(a, "var_names", ["a", "b"]),
        lambda a: setattr(a, "obs_names", [f"cell{i}" for i in range(a.n_obs)]),
        lambda a: setattr(a, "obs", a.obs.astype({"time": np.float32})),
        lambda a: setattr(a, "X", a.X.astype(np.float32)),
        lambda a: setattr(a, "X", sparse.csr_matrix(a.X)),
        lambda a: a.varm.__setitem__("PCs", np.eye(2)),
        lambda a: a.obsp.__setitem__("distances", sparse.eye(a.n_obs, format="csr")),
        lambda a: setattr(a, "raw", a.copy()),
    ]
    for change in changes:
        adata = small_path()
        snap = Snapshot.of(adata)
        change(adata)
        with pytest.raises(AssertionError):
            snap.assert_unchanged(adata)
    view = small_path()[:10]
    snap = Snapshot.of(view)
    snap.assert_unchanged(view)
    with pytest.raises(AssertionError):
        snap.assert_unchanged(view.copy())  # the same values, no longer a view


# --------------------------------------------------------------------------------------------
# scam.tl.fit: bad adata
# --------------------------------------------------------------------------------------------


def _subset(mask_fn: Callable[[ad.AnnData], np.ndarray]) -> Callable[[ad.AnnData], ad.AnnData]:
    def make(adata: ad.AnnData) -> ad.AnnData:
        return adata[mask_fn(adata)].copy()

    return make


def _set_obs(fn: Callable[[pd.Series], pd.Series]) -> Callable[[ad.AnnData], ad.AnnData]:
    def make(adata: ad.AnnData) -> ad.AnnData:
        adata.obs["time"] = fn(adata.obs["time"])
        return adata

    return make


def _nonfinite_rep(value: float) -> Callable[[ad.AnnData], ad.AnnData]:
    def make(adata: ad.AnnData) -> ad.AnnData:
        adata.obsm["X_pca"][3, 1] = value
        return adata

    return make


def _drop_pca(adata: ad.AnnData) -> ad.AnnData:
    del adata.obsm["X_pca"]
    return adata


def _masked_rep(adata: ad.AnnData) -> ad.AnnData:
    X = np.ma.masked_array(adata.obsm["X_pca"].copy(), mask=np.zeros(adata.obsm["X_pca"].shape, dtype=bool))
    X[[3, 5], 0] = np.ma.masked
    X.data[[3, 5], 0] = 1e6  # what a masked entry may hold
    adata.obsm["X_pca"] = X
    return adata


def _nullable_frame_rep(missing: bool):
    """``X_pca`` as a DataFrame of nullable ``Float64`` columns (``convert_dtypes()``, parquet), with one NA or none."""

    def make(adata: ad.AnnData) -> ad.AnnData:
        frame = pd.DataFrame(adata.obsm["X_pca"], index=adata.obs_names).convert_dtypes()
        frame.columns = [f"PC{i + 1}" for i in range(frame.shape[1])]
        if missing:
            frame.iloc[4, 0] = pd.NA
        adata.obsm["X_pca"] = frame
        return adata

    return make


def _few_cells(adata: ad.AnnData) -> np.ndarray:
    keep = adata.obs["time"].to_numpy() < 2
    keep[np.flatnonzero(adata.obs["time"].to_numpy() == 2)[:5]] = True
    return keep


def _nan_time(t: pd.Series) -> pd.Series:
    t = t.copy()
    t.iloc[7] = np.nan
    return t


BAD_ADATA = {
    "missing-time-key": (lambda a: a, {"time_key": "day"}, r"`time_key='day'` is not a column.*Available.*'time'"),
    "one-time-point": (_subset(lambda a: a.obs["time"].to_numpy() == 0), {}, r"1 time point.*at least two"),
    "few-cells": (_subset(_few_cells), {}, r"fewer than 10 cells.*'2': 5.*Remove those cells or merge"),
    "missing-X_pca": (_drop_pca, {}, r"`use_rep='X_pca'` is not in adata\.obsm.*Run `sc\.pp\.pca\(adata\)`"),
    "missing-custom-rep": (lambda a: a, {"use_rep": "X_umap"}, r"`use_rep='X_umap'` is not in.*available: 'X_pca'"),
    "use_rep-X": (lambda a: a, {"use_rep": "X"}, r"`use_rep='X'` is not in.*not adata\.X.*obsm\['X_genes'\]"),
    "complex-rep": (
        lambda a: (a.obsm.__setitem__("X_pca", a.obsm["X_pca"].astype(complex)), a)[1],
        {},
        r"adata\.obsm\['X_pca'\] must be a real-valued \(n_cells, n_dims\) array, got complex128",
    ),
    "nan-rep": (_nonfinite_rep(np.nan), {}, r"NaN or infinite values in 1 cells.*remove or impute"),
    "inf-rep": (_nonfinite_rep(np.inf), {}, r"NaN or infinite values in 1 cells.*remove or impute"),
    # the mask was dropped: its placeholder values were fitted as coordinates
    "masked-rep": (_masked_rep, {}, r"NaN or infinite values in 2 cells \(missing or masked ones count as NaN\)"),
    "nullable-frame-rep-with-NA": (_nullable_frame_rep(missing=True), {}, r"NaN or infinite values in 1 cells"),
    "nan-time": (_set_obs(_nan_time), {}, r"1 NaN or infinite values; drop those cells or fill"),
    "string-time": (  # labels without numbers (labels like 'day 1' are ordered by their number)
        _set_obs(lambda t: t.map(lambda v: f"day {'abc'[int(v)]}").astype(object)),
        {},
        r"no time order.*Make it numeric.*or an ordered categorical",
    ),
    "unordered-categorical": (
        _set_obs(lambda t: t.map(lambda v: f"day {'abc'[int(v)]}").astype("category")),
        {},
        r"unordered categorical.*Make it numeric.*or an ordered categorical",
    ),
    "bool-time": (_set_obs(lambda t: t > 0.5), {}, r"dtype bool.*Make it numeric.*or an ordered categorical"),
    "datetime-time": (
        _set_obs(lambda t: pd.Timestamp("2024-01-01") + pd.to_timedelta(t, unit="D")),
        {},
        r"holds dates.*to days since the first.*pd\.to_datetime.*\(t - t\.min\(\)\)\.dt\.total_seconds\(\) / 86400",
    ),
    "timedelta-time": (
        _set_obs(lambda t: pd.to_timedelta(t, unit="h")),
        {},
        r"holds durations.*pd\.to_timedelta\(adata\.obs\['time'\]\.astype\(object\)\)\.dt\.total_seconds\(\) / 86400",
    ),
    # as categories, dates and durations once fell through to the ordered labels' positions (0, 1, 2, ...)
    "datetime-categorical-time": (
        _set_obs(lambda t: (pd.Timestamp("2024-01-01") + pd.to_timedelta(t, unit="D")).astype("category")),
        {},
        r"holds dates \(dtype category\)",
    ),
    "timedelta-ordered-categorical-time": (
        _set_obs(lambda t: pd.to_timedelta(t, unit="h").astype(pd.CategoricalDtype(ordered=True))),
        {},
        r"holds durations \(dtype category\)",
    ),
}


@pytest.mark.parametrize("kind", ["datetime", "datetime-categorical", "timedelta", "timedelta-categorical"])
def test_dates_or_durations_convert_as_the_error_says(kind):
    """The conversion the error names gives the spacing of the dates (days 0, 1, 2, 3, 10), not positions 0-4."""
    import re

    from scam._time import get_time

    days = np.repeat([0.0, 1.0, 2.0, 3.0, 10.0], 10)
    span = pd.to_timedelta(days, unit="D")
    col = pd.Series(span if kind.startswith("timedelta") else pd.Timestamp("2024-01-01") + span)
    if kind.endswith("categorical"):
        col = col.astype(pd.CategoricalDtype(ordered=True))
    adata = ad.AnnData(obs=pd.DataFrame({"t": col.array}, index=[f"c{i}" for i in range(len(days))]))
    assert isinstance(adata.obs["t"].dtype, pd.CategoricalDtype) == kind.endswith("categorical")
    with pytest.raises(ValueError, match="holds") as info:
        get_time(adata, "t")
    namespace = {"pd": pd, "adata": adata}
    for code in re.findall(r"`([^`]*= [^`]*)`", str(info.value))[:2]:  # the date fix has two statements
        exec(code, namespace)
    np.testing.assert_allclose(get_time(adata, "t").values, [0.0, 1.0, 2.0, 3.0, 10.0])


@pytest.mark.parametrize(("make_bad", "kwargs", "match"), list(BAD_ADATA.values()), ids=list(BAD_ADATA))
def test_fit_bad_adata(make_bad, kwargs, match):
    adata = make_bad(small_path())
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.fit(adata, **{**TINY_FIT, **kwargs})
    snap.assert_unchanged(adata)


# --------------------------------------------------------------------------------------------
# scam.tl.fit: bad arguments
# --------------------------------------------------------------------------------------------

BAD_ARGS = {
    "negative-sigma": ({"sigma": -0.1}, r"`sigma` must be 'auto' or a finite number >= 0"),
    "nan-sigma": ({"sigma": math.nan}, r"`sigma` must be 'auto' or a finite number >= 0"),
    "inf-sigma": ({"sigma": math.inf}, r"`sigma` must be 'auto' or a finite number >= 0"),
    "string-sigma": ({"sigma": "high"}, r"`sigma` must be 'auto' or a finite number >= 0"),
    "negative-lam": ({"lam": -1.0}, r"`lam` must be a finite non-negative number"),
    "zero-lr": ({"lr": 0.0}, r"`lr` must be a finite positive number"),
    "n_dims-too-large": ({"n_dims": 5}, r"`n_dims=5` is larger than.*2 columns; lower `n_dims` or compute more"),
    "n_dims-zero": ({"n_dims": 0}, r"`n_dims` must be a positive integer or None"),
    "n_dims-float": ({"n_dims": 1.5}, r"`n_dims` must be a positive integer or None"),
    "device-nonsense": ({"device": "nonsense"}, r"Unknown device 'nonsense'; use 'auto', 'cpu' or 'cuda'"),
    "masses-zero": ({"lam": 1.0, "masses": [1.0, 0.0, 1.0]}, r"`masses` must be positive and finite"),
    "masses-negative": ({"lam": 1.0, "masses": {0: 1.0, 1: -2.0, 2: 1.0}}, r"`masses` must be positive and finite"),
    "masses-nan": ({"lam": 1.0, "masses": [1.0, np.nan, 1.0]}, r"`masses` must be positive and finite"),
    "masses-span": (  # 2^500: a loss of NaN at the first step before
        {"masses": [1.0, 2.0, 2.0**500]},
        r"`masses` span a factor of 3\.27e\+150.*single-precision.*masses=None to learn relative growth only",
    ),
    "masses-missing-time": (
        {"lam": 1.0, "masses": {0: 1.0, 1: 2.0}},
        r"`masses` has no entry for time '2'; give one mass per observed time",
    ),
    "masses-wrong-length": (
        {"lam": 1.0, "masses": [1.0, 2.0]},
        r"`masses` has 2 values but there are 3 time points.*give one mass per time point",
    ),
    "masses-na-given-twice": (  # a raw "boolean value of NA is ambiguous" before
        {"lam": 1.0, "masses": {0: 1.0, "0": pd.NA, 1: 2.0, 2: 3.0}},
        r"`masses` gives time '0' two masses \(1\.0 and <NA>",
    ),
    "masses-set": ({"lam": 1.0, "masses": {1.0, 2.0, 3.0}}, r"`masses=.*` is not understood; use None, 'counts'"),
    "masses-strings": ({"lam": 1.0, "masses": ["a", "b", "c"]}, r"`masses=.*` is not understood; use None, 'counts'"),
    "masses-foo": ({"lam": 1.0, "masses": "foo"}, r"`masses='foo'` is not understood; use None, 'counts'"),
    "interpolant": ({"interpolant": "linear"}, r"Unknown interpolant 'linear'; choose one of"),
    "n_iters-zero": ({"n_iters": 0}, r"`n_iters` must be 'auto' or a positive integer"),
    "n_iters-float": ({"n_iters": 10.0}, r"`n_iters` must be 'auto' or a positive integer"),
    "n_iters-negative": ({"n_iters": -5}, r"`n_iters` must be 'auto' or a positive integer"),
    "n_iters-word": ({"n_iters": "many"}, r"`n_iters` must be 'auto' or a positive integer"),
    "n_iters-bool": ({"n_iters": True}, r"`n_iters` must be 'auto' or a positive integer"),
    "batch_size-negative": ({"batch_size": -1}, r"`batch_size` must be 'auto' or a positive integer"),
    "batch_size-word": ({"batch_size": "large"}, r"`batch_size` must be 'auto' or a positive integer"),
    "hidden-zero": ({"hidden": (8, 0)}, r"`hidden` must be a sequence of positive integers"),
    "quadratic": ({"quadratic": "cubic"}, r"`quadratic` must be 'auto', 'full', 'diag' or 'none'"),
    "quadratic-bool": ({"quadratic": True}, r"`quadratic` must be 'auto', 'full', 'diag' or 'none'"),
    "key_added-empty": ({"key_added": ""}, r"`key_added` must be a non-empty string"),
    "key_added-none": ({"key_added": None}, r"`key_added` must be a non-empty string"),
    "use_rep-not-str": ({"use_rep": 0}, r"`use_rep` must be the name of an adata\.obsm key"),
}


@pytest.mark.parametrize(("kwargs", "match"), list(BAD_ARGS.values()), ids=list(BAD_ARGS))
def test_fit_bad_args(kwargs, match):
    adata = small_path()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.fit(adata, **{**TINY_FIT, **kwargs})
    snap.assert_unchanged(adata)


def test_fit_hidden_int():
    adata = small_path()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"`hidden` must be a sequence of positive integers"):
        scam.tl.fit(adata, **{**TINY_FIT, "hidden": 8})
    snap.assert_unchanged(adata)


@pytest.mark.parametrize("random_state", [None, -1], ids=["none", "negative"])
def test_fit_bad_random_state(random_state):
    adata = small_path()
    snap = Snapshot.of(adata)
    try:
        scam.tl.fit(adata, **{**TINY_FIT, "random_state": random_state})
    except ValueError as e:  # a clear error is fine too
        assert "`random_state`" in str(e)
        snap.assert_unchanged(adata)


def test_fit_negative_lr_says_positive():
    adata = small_path()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"`lr` must be (a )?(finite )?positive"):
        scam.tl.fit(adata, **{**TINY_FIT, "lr": -1.0})
    snap.assert_unchanged(adata)


def test_fit_bad_args_on_view_keeps_view():
    adata = small_path()
    snap = Snapshot.of(adata)
    view = adata[adata.obs["time"] < 2]
    view_snap = Snapshot.of(view)
    with pytest.raises(ValueError, match=r"`sigma` must be 'auto' or a finite number >= 0"):
        scam.tl.fit(view, **{**TINY_FIT, "sigma": -1.0})
    view_snap.assert_unchanged(view)  # still a view
    snap.assert_unchanged(adata)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_fit_cuda_unavailable():
    adata = small_path()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"CUDA is not available; use device='cpu' or 'auto'"):
        scam.tl.fit(adata, device="cuda", **TINY_FIT)
    snap.assert_unchanged(adata)


@pytest.mark.parametrize("obj", [pd.DataFrame({"time": [0, 1]}), np.zeros((10, 2)), None], ids=["df", "array", "none"])
def test_fit_not_anndata(obj):
    with pytest.raises(TypeError, match=r"Expected an AnnData object, got \w+.*anndata\.AnnData"):
        scam.tl.fit(obj, **TINY_FIT)


def test_masses_from_value_counts_skip_unused_categories():
    """The documented ``masses=adata.obs[time_key].value_counts()`` lists an unused category with count 0: it names no
    time point and was refused as 'entries for times that are not observed'."""
    from scam._time import get_time, resolve_masses

    adata = small_path()
    adata.obs["time"] = pd.Categorical(adata.obs["time"], categories=[0.0, 1.0, 2.0, 5.0])
    time = get_time(adata, "time")
    counts = adata.obs["time"].value_counts()
    assert counts[5.0] == 0
    np.testing.assert_allclose(resolve_masses(counts, time, None), time.counts() / time.counts()[0])
    with pytest.raises(ValueError, match=r"entries for times that are not observed: \[5\.0\]"):
        resolve_masses({**counts.to_dict(), 5.0: 3}, time, None)  # a mass for a time with no cells is still an error


def test_fit_masses_ignored_without_growth_warns():
    """Not an error, but a user-visible hint: masses only matter with a growth."""
    adata = small_path()
    with pytest.warns(UserWarning, match=r"`masses` are ignored without a growth.*set `lam > 0`"):
        scam.tl.fit(adata, masses=[1.0, 2.0, 3.0], growth="none", **TINY_FIT)


# --------------------------------------------------------------------------------------------
# views and backed AnnData
# --------------------------------------------------------------------------------------------


def test_fit_on_view_makes_it_actual():
    """The user is told (a warning, not a log record that nobody hears), at the line of their own call."""
    adata = small_path()
    snap = Snapshot.of(adata)
    view = adata[adata.obs["time"] < 2]
    assert view.is_view
    with pytest.warns(UserWarning, match=r"adata is a view; making it an actual AnnData") as record:
        model = scam.tl.fit(view, **SMALL_FIT)
    assert [Path(w.filename).name for w in record if "is a view" in str(w.message)] == [Path(__file__).name]
    assert isinstance(model, ActionModel)
    assert not view.is_view
    assert view.obsm["scam_velocity"].shape == (120, 2)
    assert "scam_potential" in view.obs
    assert "scam" in view.uns
    snap.assert_unchanged(adata)


def test_fit_on_copy_of_view_leaves_view_and_parent(caplog):
    adata = small_path()
    snap = Snapshot.of(adata)
    view = adata[adata.obs["time"] < 2]
    out = view.copy()
    scam.tl.fit(out, **SMALL_FIT)
    assert "scam_velocity" in out.obsm
    assert view.is_view
    assert "scam_velocity" not in view.obsm
    snap.assert_unchanged(adata)


@pytest.fixture
def backed(tmp_path) -> ad.AnnData:
    path = tmp_path / "small.h5ad"
    small_path().write_h5ad(path)
    adata = ad.read_h5ad(path, backed="r")
    yield adata
    adata.file.close()


def test_fit_on_backed(backed):
    assert backed.isbacked
    scam.tl.fit(backed, **SMALL_FIT)
    assert backed.obsm["scam_velocity"].shape == (180, 2)
    assert np.isfinite(backed.obs["scam_potential"]).all()
    assert "scam" in backed.uns


def test_fit_copy_argument_raises_before_touching_backed(backed):
    snap = Snapshot.of(backed)
    with pytest.raises(TypeError, match="copy"):
        scam.tl.fit(backed, copy=True, **TINY_FIT)
    snap.assert_unchanged(backed)


# --------------------------------------------------------------------------------------------
# scam.tl.trajectories and ActionModel
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted() -> tuple[ActionModel, ad.AnnData]:
    """A tiny model with sigma > 0 (for the backward-SDE case) and the adata it was fitted on."""
    adata = small_path()
    model = scam.tl.fit(adata, sigma=0.1, **SMALL_FIT)
    return model, adata


def test_trajectories_before_fit(fitted):
    model, _ = fitted
    adata = small_path()
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"run `scam\.tl\.fit\(adata, \.\.\.\)` first"):
        scam.tl.trajectories(adata, model, n_cells=5, n_steps=2)
    snap.assert_unchanged(adata)


BAD_TRAJ = {
    "t_start-unobserved": (
        {"t_start": 0.5},
        r"`t_start=0\.5` is not an observed time; choose one of \[0\.0, 1\.0, 2\.0\]",
    ),
    "t_start-nan": ({"t_start": math.nan}, r"`t_start=nan` is not an observed time"),
    "t_end-inf": ({"t_end": math.inf}, r"`t_end` must be a finite number"),
    "n_cells-zero": ({"n_cells": 0}, r"`n_cells` must be a positive integer"),
    "n_steps-zero": ({"n_steps": 0}, r"`n_steps` must be a positive integer"),
    "key_added-other": ({"key_added": "other"}, r"adata\.uns\['other'\].*missing; run `scam\.tl\.fit"),
    "key_added-empty": ({"key_added": ""}, r"`key_added` must be a non-empty string"),
}


@pytest.mark.parametrize(("kwargs", "match"), list(BAD_TRAJ.values()), ids=list(BAD_TRAJ))
def test_trajectories_bad_args(fitted, kwargs, match):
    model, adata = fitted
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.trajectories(adata, model, **{"n_cells": 5, "n_steps": 2, **kwargs})
    snap.assert_unchanged(adata)


def test_trajectories_backward_stochastic(fitted):
    model, adata = fitted
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"simulate backward with `stochastic=False`"):
        scam.tl.trajectories(adata, model, t_start=2.0, t_end=0.0, stochastic=True, n_cells=5, n_steps=2)
    snap.assert_unchanged(adata)


@pytest.mark.parametrize("model", [None, "model", {"sigma": 0}], ids=["none", "str", "dict"])
def test_trajectories_not_a_model(fitted, model):
    _, adata = fitted
    snap = Snapshot.of(adata)
    with pytest.raises(TypeError, match=r"`model` must be the ActionModel returned by scam\.tl\.fit"):
        scam.tl.trajectories(adata, model)
    snap.assert_unchanged(adata)


def test_trajectories_not_anndata(fitted):
    model, adata = fitted
    with pytest.raises(TypeError, match=r"Expected an AnnData object"):
        scam.tl.trajectories(adata.obs, model)


X_OK = np.zeros((4, 2))
X_NAN = np.array([[0.0, 0.0], [np.nan, 1.0]])
X_INF = np.array([[0.0, np.inf]])

BAD_MODEL_X = {
    "too-few-columns": (np.zeros((4, 1)), r"Expected an array of shape \(n_cells, >= 2\), got shape \(4, 1\)"),
    "3d": (np.zeros((4, 2, 1)), r"Expected an array of shape \(n_cells, >= 2\)"),
    "nan": (X_NAN, r"coordinates contain NaN or infinite values"),
    "inf": (X_INF, r"coordinates contain NaN or infinite values"),
    "complex": (X_OK.astype(complex), r"real-valued array \(n_cells, >= 2\), got complex numbers"),
    "masked": (np.ma.masked_array(X_OK, mask=[[0, 1], [0, 0], [0, 0], [0, 0]]), r"missing or masked ones count as NaN"),
    "frame-with-NA": (pd.DataFrame(X_OK).convert_dtypes().mask(X_OK.astype(bool) | np.eye(4, 2, dtype=bool)), "NaN"),
}


def test_nullable_float_frames_are_read_as_numbers(fitted):
    """A DataFrame of nullable ``Float64`` columns (``convert_dtypes()``, parquet) is the same cells as floats, in a
    fit (it was refused as 'object') and in the model."""
    model, _ = fitted
    X = np.random.default_rng(0).normal(size=(5, 2))
    frame = pd.DataFrame(X).convert_dtypes()
    assert str(frame.dtypes.iloc[0]) == "Float64"
    np.testing.assert_array_equal(model.velocity(frame, 0.5), model.velocity(X, 0.5))
    plain, nullable = small_path(), small_path()
    nullable.obsm["X_pca"] = pd.DataFrame(nullable.obsm["X_pca"], index=nullable.obs_names).convert_dtypes()
    kwargs = {"time_key": "time", **TINY_FIT}
    scam.tl.fit(plain, **kwargs)
    scam.tl.fit(nullable, **kwargs)
    np.testing.assert_array_equal(plain.obsm["scam_velocity"], nullable.obsm["scam_velocity"])


@pytest.mark.parametrize("method", ["velocity", "potential", "growth"])
@pytest.mark.parametrize(("X", "match"), list(BAD_MODEL_X.values()), ids=list(BAD_MODEL_X))
def test_model_readouts_bad_x(fitted, method, X, match):
    model, _ = fitted
    with pytest.raises(ValueError, match=match):
        getattr(model, method)(X, 0.0)


@pytest.mark.parametrize(
    ("t", "match"),
    [
        (np.zeros(3), r"`t` must be a number or one time per cell \(4\), got shape \(3,\)"),
        (np.zeros((4, 1)), r"`t` must be a number or one time per cell \(4\)"),
        (np.array([0.0, np.nan, 1.0, 1.0]), r"`t` contains NaN or infinite values"),
        (np.inf, r"`t` contains NaN or infinite values"),
    ],
    ids=["short", "2d", "nan", "inf"],
)
def test_model_velocity_bad_t(fitted, t, match):
    model, _ = fitted
    with pytest.raises(ValueError, match=match):
        model.velocity(X_OK, t)


@pytest.mark.parametrize(("X", "match"), list(BAD_MODEL_X.values()), ids=list(BAD_MODEL_X))
def test_model_simulate_bad_x(fitted, X, match):
    model, _ = fitted
    with pytest.raises(ValueError, match=match):
        model.simulate(X, 0.0, 1.0, n_steps=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t_start": math.nan}, r"`t_start` must be a finite number"),
        ({"t_end": math.inf}, r"`t_end` must be a finite number"),
        ({"n_steps": 0}, r"`n_steps` must be 'auto' or a positive integer, got 0"),
        ({"n_steps": "fast"}, r"`n_steps` must be 'auto' or a positive integer, got 'fast'"),
        ({"method": "rk45"}, r"Unknown ODE method 'rk45'; use 'auto', 'euler' or 'rk4'"),
    ],
    ids=["t_start-nan", "t_end-inf", "n_steps-zero", "n_steps-word", "method"],
)
def test_model_simulate_bad_args(fitted, kwargs, match):
    model, _ = fitted
    args = {"t_start": 0.0, "t_end": 1.0, "n_steps": 2, "stochastic": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        model.simulate(X_OK, **args)


def test_model_simulate_backward_stochastic(fitted):
    model, _ = fitted
    assert model.sigma > 0
    with pytest.raises(ValueError, match=r"simulate backward with `stochastic=False`"):
        model.simulate(X_OK, 2.0, 0.0, n_steps=2, stochastic=True)
    # the fix works
    assert model.simulate(X_OK, 2.0, 0.0, n_steps=2, stochastic=False).shape == (4, 2)


def test_model_load_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"is not a scam model folder \(needs params\.json and model\.pt\)"):
        ActionModel.load(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"is not a scam model folder"):
        ActionModel.load(tmp_path / "does-not-exist")


def test_model_save_existing(fitted, tmp_path):
    model, _ = fitted
    path = model.save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with pytest.raises(FileExistsError, match=r"already holds a model; pass overwrite=True"):
        model.save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    model.save(path, overwrite=True)  # the fix works


def test_model_save_refuses_weights_that_are_no_numbers(fitted, tmp_path):
    """Such a model was written without complaint and then refused by ``load`` as 'files from different models'."""
    import copy

    model = copy.deepcopy(fitted[0])
    with torch.no_grad():
        next(model.net.parameters())[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"weights hold non-finite values .*mlp\.0\.weight.*Refit"):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_model_save_foreign_folder(fitted, tmp_path):
    model, _ = fitted
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"is not a scam model folder; choose another path"):
        model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_model_to_bad_device(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match=r"Unknown device 'nonsense'"):
        model.to("nonsense")
