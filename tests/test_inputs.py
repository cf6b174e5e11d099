"""Time parsing and input checks (issue 12, "Nothing lost, nothing silent").

Each test failed before the fix it guards: times split or squeezed, labels fitted in text order,
masses read by position, a constant representation fitted, or a raw library error where scam now
names the fix. Errors leave ``adata`` unchanged.
"""

from __future__ import annotations

import logging
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import LOT_FIT, TINY_FIT, Snapshot, small_path

import scam
from scam._time import get_masses, get_time
from scam._validation import MAX_SEED, check_seed
from scam.cli import main


def with_times(mapping: dict, *, ordered: bool | None = None, adata: ad.AnnData | None = None) -> ad.AnnData:
    """``small_path()`` (times 0, 1, 2) with its times mapped by ``mapping``; a categorical when ``ordered`` is set."""
    adata = small_path() if adata is None else adata
    new = adata.obs["time"].map(mapping)
    if ordered is not None:
        new = new.astype("category")
        new = new.cat.as_ordered() if ordered else new
    adata.obs["time"] = new
    return adata


def assert_fit_raises(adata: ad.AnnData, match: str, **kwargs) -> None:
    """``scam.tl.fit`` raises a ValueError matching ``match`` and leaves ``adata`` unchanged."""
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=match):
        scam.tl.fit(adata, **{**TINY_FIT, **kwargs})
    snap.assert_unchanged(adata)


def fitted_time(adata: ad.AnnData, **kwargs) -> tuple[list[str], list[float]]:
    """Labels and values of the time points a quick fit recorded in ``uns['scam']['time']``."""
    scam.tl.fit(adata, **{**TINY_FIT, **kwargs})
    info = adata.uns["scam"]["time"]
    return [str(label) for label in info["labels"]], np.asarray(info["values"], dtype=np.float64).tolist()


# --------------------------------------------------------------------------------------------
# times: numbers keep their values, float rounding does not split a time point
# --------------------------------------------------------------------------------------------


def test_times_equal_up_to_float32_rounding_are_one_time_point():
    adata = small_path()
    t = adata.obs["time"].to_numpy().copy()
    at_one = np.flatnonzero(t == 1.0)
    t[at_one] = 0.1
    t[at_one[::2]] = float(np.float32(0.1))  # a float32 copy of 0.1: 0.10000000149011612
    adata.obs["time"] = t
    with pytest.warns(
        UserWarning, match=r"differ only by float rounding.*0\.1 and 0\.10000000149011612 as 0\.1.*round"
    ):
        labels, values = fitted_time(adata)
    assert values == [0.0, 0.1, 2.0]
    assert labels == ["0", "0.1", "2"]
    assert adata.uns["scam"]["time"]["values"].shape == (3,)


def test_a_float32_time_column_accepts_its_times_by_value_everywhere():
    """``0.1`` names the float32 time 0.10000000149 in every read-out, as in ``masses`` (float32 rounding)."""
    adata = small_path()
    adata.obs["time"] = adata.obs["time"].map({0.0: 0.0, 1.0: 0.1, 2.0: 0.3}).astype(np.float32)
    adata.obs["group"] = pd.Categorical(np.where(adata.obsm["X_pca"][:, 0] > 0, "a", "b"))
    model = scam.tl.fit(adata, masses={0: 1.0, 0.1: 1.2, 0.3: 1.5}, **TINY_FIT)
    by_value = scam.tl.transition_matrix(adata, model, source=0.1, target=0.3, groupby="group", n_steps=2)
    by_label = scam.tl.transition_matrix(adata, model, source="0.1", target="0.3", groupby="group", n_steps=2)
    pd.testing.assert_frame_equal(by_value, by_label)
    scam.tl.fate(adata, model, source=0.1, target=0.3, groupby="group", n_steps=2)
    df = scam.tl.leave_one_timepoint_out(adata, held_out=0.1, methods=["previous"], progress_bar=False)
    assert list(df["held_out"].unique()) == ["0.1"]


def test_trajectories_refuse_a_start_between_observed_times_whatever_the_time_origin():
    """A start 0.1 day after day 0 is not an observed time, in days or in Unix seconds (tolerance relative to the
    times' float32 rounding, not to their size, which once let 1.7e9 + 8640 s pass as 1.7e9)."""
    for scale, origin in ((1.0, 0.0), (86400.0, 1.7e9)):
        adata = small_path()
        adata.obs["time"] = adata.obs["time"] * scale + origin
        model = scam.tl.fit(adata, **TINY_FIT)
        snap = Snapshot.of(adata)
        with pytest.raises(ValueError, match="is not an observed time"):
            scam.tl.trajectories(adata, model, t_start=origin + 0.1 * scale, n_cells=4, n_steps=2)
        snap.assert_unchanged(adata)
        with warnings.catch_warnings():  # the tiny fit's paths leave the cells (scam.tl.trajectories warns)
            warnings.simplefilter("ignore", UserWarning)
            scam.tl.trajectories(adata, model, t_start=origin + scale, n_cells=4, n_steps=2)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: with_times({0.0: 0, 1.0: 1, 2.0: 7}, ordered=True, adata=a),
        lambda a: with_times({0.0: 0, 1.0: 1, 2.0: 7}, ordered=False, adata=a),
        lambda a: with_times({0.0: "0", 1.0: "1", 2.0: "7"}, ordered=True, adata=a),
        lambda a: with_times({0.0: "0", 1.0: "1", 2.0: "7"}, adata=a),
    ],
    ids=["ordered-categorical-of-ints", "categorical-of-ints", "ordered-categorical-of-strings", "numeric-strings"],
)
def test_numbers_in_a_categorical_or_as_strings_keep_their_values(make):
    labels, values = fitted_time(make(small_path()))
    assert values == [0.0, 1.0, 7.0]  # not the positions 0, 1, 2
    assert labels == ["0", "1", "7"]


def test_an_ordered_categorical_against_its_numbers_uses_the_numbers_and_warns():
    adata = small_path()
    adata.obs["time"] = pd.Categorical(adata.obs["time"].map({0.0: 0, 1.0: 1, 2.0: 7}), [7, 0, 1], ordered=True)
    with pytest.warns(UserWarning, match=r"category order.*\(7, 0, 1\) is not the order of their values.*0 < 1 < 7"):
        _, values = fitted_time(adata)
    assert values == [0.0, 1.0, 7.0]


# --------------------------------------------------------------------------------------------
# times: labels with numbers are ordered by the number; other labels need an order
# --------------------------------------------------------------------------------------------

DAYS = {0.0: "day1", 1.0: "day2", 2.0: "day10"}


def test_as_ordered_day_labels_are_fitted_in_day_order_with_a_warning():
    adata = with_times(DAYS, ordered=True)  # as_ordered(): categories sorted as text, day1 < day10 < day2
    assert list(adata.obs["time"].cat.categories) == ["day1", "day10", "day2"]
    with pytest.warns(UserWarning, match=r"\(day1, day10, day2\) is not the order of the numbers.*day1 < day2 < day10"):
        labels, values = fitted_time(adata)
    assert labels == ["day1", "day2", "day10"]
    assert values == [1.0, 2.0, 10.0]
    with pytest.warns(UserWarning, match="day1 < day2 < day10"):
        time = get_time(adata, "time")
    np.testing.assert_array_equal(np.array(time.labels)[time.codes], adata.obs["time"].astype(str))  # cells keep theirs


@pytest.mark.parametrize("ordered", [None, False], ids=["strings", "unordered-categorical"])
def test_day_labels_without_an_order_are_ordered_by_their_number_and_logged(ordered, caplog):
    adata = with_times(DAYS, ordered=ordered)
    with caplog.at_level(logging.INFO, logger="scam"):
        labels, values = fitted_time(adata)
    assert labels == ["day1", "day2", "day10"]
    assert values == [1.0, 2.0, 10.0]
    assert any("day1 (1) < day2 (2) < day10 (10)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("mapping", "labels", "values"),
    [
        ({0.0: "E12.5", 1.0: "E13.5", 2.0: "E15.5"}, ["E12.5", "E13.5", "E15.5"], [12.5, 13.5, 15.5]),
        ({0.0: "D3.5", 1.0: "D 4", 2.0: "d_10"}, ["D3.5", "D 4", "d_10"], [3.5, 4.0, 10.0]),
        # a minus on some labels only is a sign (days before a treatment); on every label, a separator
        ({0.0: "D-1", 1.0: "D0", 2.0: "D3"}, ["D-1", "D0", "D3"], [-1.0, 0.0, 3.0]),
        ({0.0: "day -2", 1.0: "day -1", 2.0: "day 3"}, ["day -2", "day -1", "day 3"], [-2.0, -1.0, 3.0]),
        ({0.0: "day-1", 1.0: "day-2", 2.0: "day-10"}, ["day-1", "day-2", "day-10"], [1.0, 2.0, 10.0]),
    ],
    ids=["E12.5", "D3.5-mixed-spelling", "D-1-sign", "day -2-sign", "day-1-separator"],
)
def test_labels_with_decimal_numbers_keep_their_spacing(mapping, labels, values):
    time = get_time(with_times(mapping), "time")
    assert time.labels == labels
    assert time.values.tolist() == values
    assert not time.ordinal


def test_an_ordered_categorical_with_negative_day_labels_keeps_its_order(recwarn):
    """'day -1' < 'day 0' < 'day 3', declared in that order: no reordering, no warning."""
    order = ["day -1", "day 0", "day 3"]
    adata = small_path()
    adata.obs["time"] = pd.Categorical(adata.obs["time"].map(dict(enumerate(order))), order, ordered=True)
    time = get_time(adata, "time")
    assert time.labels == order and time.values.tolist() == [-1.0, 0.0, 3.0] and not time.ordinal
    assert not [w for w in recwarn if "category order" in str(w.message)]


def test_ordered_plain_labels_keep_the_category_order_and_subsets_map_back():
    """Labels without one number each: positions in the category order, as the fit saw them, also on subsets."""
    adata = small_path()
    order = ["early", "mid", "late"]
    adata.obs["time"] = pd.Categorical(adata.obs["time"].map(dict(enumerate(order))), order, ordered=True)
    model = scam.tl.fit(adata, **TINY_FIT)
    assert list(adata.uns["scam"]["time"]["labels"]) == order
    assert adata.uns["scam"]["time"]["values"].tolist() == [0.0, 1.0, 2.0]
    sub = adata[adata.obs["time"] != "mid"].copy()  # drops the category: 'late' is the 2nd there
    out = scam.tl.trajectories(sub, model, t_start="early", t_end="late", n_cells=4, n_steps=2, copy=True)
    np.testing.assert_allclose(out.uns["scam"]["trajectories"]["times"][[0, -1]], [0.0, 2.0])


def test_labels_with_different_text_keep_the_category_order():
    """E12.5 and P0 are not comparable by their numbers: the declared order wins, as positions."""
    order = ["E12.5", "E18.5", "P0"]
    adata = small_path()
    adata.obs["time"] = pd.Categorical(adata.obs["time"].map(dict(enumerate(order))), order, ordered=True)
    time = get_time(adata, "time")
    assert time.labels == order and time.values.tolist() == [0.0, 1.0, 2.0] and time.ordinal
    adata.obs["time"] = adata.obs["time"].cat.as_unordered()
    assert_fit_raises(adata, r"no time order.*ordered categorical.*in time order")


def test_whole_number_times_are_never_merged_and_noise_next_to_zero_is():
    """Days written as YYYYMMDD are three time points (float32 rounding of their size once merged two), and float
    noise next to 0 (``0.1 + 0.2 - 0.3``) is day 0: the rounding is relative to the time axis' span as well."""
    adata = with_times({0.0: 20240101, 1.0: 20240102, 2.0: 20240104})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no merge warning
        time = get_time(adata, "time")
    assert time.values.tolist() == [20240101.0, 20240102.0, 20240104.0]
    assert time.labels == ["20240101", "20240102", "20240104"]
    adata = small_path()
    t = adata.obs["time"].to_numpy().copy()
    t[np.flatnonzero(t == 0.0)[::2]] = 0.1 + 0.2 - 0.3  # 5.55e-17
    adata.obs["time"] = t
    with pytest.warns(UserWarning, match="differ only by float rounding"):
        time = get_time(adata, "time")
    assert time.values.tolist() == [0.0, 1.0, 2.0] and time.counts().tolist() == [60, 60, 60]


def test_numeric_time_labels_keep_every_digit_that_tells_them_apart():
    """``:g`` wrote 1234567 and 1234568 both as '1.23457e+06'; labels are short only where that is exact."""
    assert get_time(with_times({0.0: 1234567, 1.0: 1234568, 2.0: 1234570}), "time").labels == [
        "1234567",
        "1234568",
        "1234570",
    ]
    assert get_time(with_times({0.0: 0.1234567, 1.0: 0.1234569, 2.0: 1}), "time").labels == [
        "0.1234567",
        "0.1234569",
        "1",
    ]
    assert get_time(with_times({0.0: 0.0, 1.0: 0.5, 2.0: 7.0}), "time").labels == ["0", "0.5", "7"]


def test_labels_with_a_minus_on_every_number_warn_or_follow_the_declared_order():
    """'D-3', 'D-2', 'D-1': a minus on every label is read as a separator (as in 'day-1', 'day-2'), which reverses
    time if the days are negative, so it warns; an ordered categorical in the negative order makes them negative."""
    order = ["D-3", "D-2", "D-1"]
    adata = with_times(dict(enumerate(order)))
    with pytest.warns(UserWarning, match=r"'-' before its number.*separator.*ordered categorical"):
        time = get_time(adata, "time")
    assert time.labels == ["D-1", "D-2", "D-3"] and time.values.tolist() == [1.0, 2.0, 3.0]
    adata.obs["time"] = pd.Categorical(adata.obs["time"], order, ordered=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        time = get_time(adata, "time")
    assert time.labels == order and time.values.tolist() == [-3.0, -2.0, -1.0]


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({0.0: "day1", 1.0: "day01", 2.0: "day2"}, r"same number \('day0?1' and 'day0?1'\)"),
        ({0.0: "2024-01-01", 1.0: "2024-01-03", 2.0: "2024-01-08"}, r"holds dates \(dtype object\).*pd\.to_datetime"),
        ({0.0: 1 + 0j, 1.0: 2 + 0j, 2.0: 3 + 0j}, r"dtype complex128, which has no time order"),
    ],
)
def test_unreadable_time_labels_name_what_is_wrong(mapping, match):
    assert_fit_raises(with_times(mapping), match)


def test_a_continuous_time_column_is_refused_briefly_and_named():
    """A pseudotime, one value per cell: the error lists a few values, not all of them, and says what it looks like."""
    adata = small_path()
    adata.obs["time"] = np.linspace(0.0, 1.0, adata.n_obs)
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=r"and \d+ more\).*looks continuous.*pd\.cut") as err:
        scam.tl.fit(adata, **TINY_FIT)
    assert len(str(err.value)) < 1200
    snap.assert_unchanged(adata)


# --------------------------------------------------------------------------------------------
# masses: a Series by its index, keys matched as times are
# --------------------------------------------------------------------------------------------


def _uneven() -> ad.AnnData:
    """Times 0, 1, 2 with 20, 40 and 60 cells: ``value_counts()`` lists them in the order 2, 1, 0."""
    adata = small_path()
    t = adata.obs["time"].to_numpy()
    keep = np.r_[np.flatnonzero(t == 0)[:20], np.flatnonzero(t == 1)[:40], np.flatnonzero(t == 2)]
    return adata[keep].copy()


def test_masses_series_is_read_by_its_index():
    adata = _uneven()
    masses = adata.obs["time"].value_counts()
    assert masses.index.tolist() == [2.0, 1.0, 0.0]
    scam.tl.fit(adata, lam=0.1, masses=masses, **TINY_FIT)
    np.testing.assert_allclose(adata.uns["scam"]["masses"], [1.0, 2.0, 3.0])


def test_masses_series_by_labels_of_a_categorical():
    adata = with_times({0.0: "a", 1.0: "b", 2.0: "c"}, ordered=True, adata=_uneven())
    masses = adata.obs["time"].value_counts()
    assert masses.index.tolist() == ["c", "b", "a"]
    np.testing.assert_allclose(get_masses(masses, get_time(adata, "time")), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"no entry for time 'a' \(a pandas Series is read by its index\)"):
        get_masses(masses.iloc[:2], get_time(adata, "time"))


def test_masses_keys_match_times_up_to_float_rounding():
    adata = small_path()
    adata.obs["time"] = adata.obs["time"].replace({1.0: 0.1 + 0.2})  # 0.30000000000000004
    scam.tl.fit(adata, lam=0.1, masses={0: 1.0, 0.3: 2.0, 2: 3.0}, **TINY_FIT)
    np.testing.assert_allclose(adata.uns["scam"]["masses"], [1.0, 2.0, 3.0])
    time = get_time(adata, "time")
    by_float32 = pd.Series([1.0, 2.0, 3.0], index=np.array([0.0, 0.3, 2.0], dtype=np.float32))
    np.testing.assert_allclose(get_masses(by_float32, time), [1.0, 2.0, 3.0])


def test_masses_giving_one_time_two_masses_raise():
    masses = {0: 1.0, 1: 2.0, "1": 5.0, 2: 3.0}
    assert_fit_raises(small_path(), r"gives time '1' two masses \(2\.0 and 5\.0.*give one", lam=0.1, masses=masses)


# --------------------------------------------------------------------------------------------
# representation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_dims", "cols"), [(None, ""), (1, r" \(its first 1 columns\)")], ids=["all", "n_dims"])
def test_constant_representation_raises(n_dims, cols):
    adata = small_path()
    adata.obsm["X_pca"][:, 0] = 3.0
    if n_dims is None:
        adata.obsm["X_pca"][:, 1] = -1.0
    assert_fit_raises(adata, rf"adata\.obsm\['X_pca'\]{cols} is the same for all 180 cells.*sc\.pp\.pca", n_dims=n_dims)


# --------------------------------------------------------------------------------------------
# scam.pp.growth_prior: duplicated gene symbols
# --------------------------------------------------------------------------------------------


def test_growth_prior_duplicated_genes_name_the_fix():
    adata = scam.datasets.branching(n_cells=20, random_state=0, n_genes=60)
    names = adata.var_names.tolist()
    names[1] = names[0]  # a duplicated symbol, as 10x files have
    adata.var_names = names
    snap = Snapshot.of(adata)
    with pytest.raises(ValueError, match=rf"1 duplicated gene symbol\(s\) \('{names[0]}'\).*var_names_make_unique"):
        scam.pp.growth_prior(adata)
    snap.assert_unchanged(adata)
    adata.var_names_make_unique()
    scam.pp.growth_prior(adata)
    assert np.isfinite(adata.obs["growth_prior"]).all()


# --------------------------------------------------------------------------------------------
# leave-one-timepoint-out: nothing to run, growth in fit_kwargs
# --------------------------------------------------------------------------------------------


def _course() -> ad.AnnData:
    return scam.datasets.gaussian_path(n_cells=40, times=(0.0, 1.0, 2.0, 3.0), n_dims=2)


@pytest.fixture
def no_torchcfm(monkeypatch):
    import scam.lot.peers

    monkeypatch.setattr(scam.lot.peers, "have_torchcfm", lambda: False)


def test_lot_with_only_otcfm_and_no_torchcfm_names_the_fix(no_torchcfm):
    adata = _course()
    snap = Snapshot.of(adata)
    with (
        pytest.raises(ValueError, match=r"otcfm, the only method asked for, needs torchcfm.*pip install 'scam-sc\["),
        pytest.warns(UserWarning, match=r"skipping otcfm: torchcfm is not installed"),
    ):
        scam.tl.leave_one_timepoint_out(adata, methods="otcfm", progress_bar=False)
    snap.assert_unchanged(adata)


def test_lot_skipping_otcfm_warns_the_user(no_torchcfm):
    """The other methods run; the missing peer is a warning the user sees, not a log line."""
    with pytest.warns(UserWarning, match=r"skipping otcfm: torchcfm is not installed.*'scam-sc\[benchmark\]'"):
        df = scam.tl.leave_one_timepoint_out(_course(), methods=["otcfm", "previous"], progress_bar=False)
    assert set(df["method"]) == {"previous"}


def test_cli_benchmark_with_only_otcfm_and_no_torchcfm_names_the_fix(no_torchcfm, tmp_path, capsys):
    path = tmp_path / "course.h5ad"
    _course().write_h5ad(path)
    args = ["benchmark", "--data", str(path), "--time-key", "time", "--methods", "otcfm", "--quick", "--jobs", "1"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "needs torchcfm" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_run_lot_with_no_methods_names_the_fix():
    from scam.lot import run_lot

    X, codes = np.zeros((4, 2)), np.array([0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"`methods` is empty; give at least one"):
        run_lot(X, codes, [0.0, 1.0, 2.0], ["0", "1", "2"], None, held_out=[1], methods=[], progress_bar=False)


def test_lot_takes_free_growth_in_fit_kwargs():
    adata = _course()
    df = scam.tl.leave_one_timepoint_out(
        adata,
        methods="scam",
        metrics="w1",
        held_out=1.0,
        masses=[1.0, 1.5, 2.0, 3.0],
        fit_kwargs={**LOT_FIT, "n_iters": 5, "growth": "free", "interpolant": "growth"},
        progress_bar=False,
    )
    assert set(df["metric"]) == {"w1", "mass_error"}  # the free head predicts a mass
    assert np.isfinite(df["value"]).all()


# --------------------------------------------------------------------------------------------
# device and seed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["meta", torch.device("meta")], ids=["str", "torch.device"])
def test_meta_device_names_the_fix(device):
    assert_fit_raises(small_path(), r"not a device scam can compute on.*use 'auto', 'cpu' or 'cuda'", device=device)


def test_largest_seed_works_with_numpy_torch_and_scanpy():
    # the trainer seeds a second net with seed + 1; scanpy's legacy np.random.seed stops at 2**32 - 1
    assert check_seed(MAX_SEED) == MAX_SEED
    np.random.default_rng(MAX_SEED + 1)
    torch.Generator().manual_seed(MAX_SEED + 1)
    np.random.RandomState(MAX_SEED)
    scam.tl.fit(small_path(), random_state=MAX_SEED, growth="free", interpolant="growth", **TINY_FIT)


@pytest.mark.parametrize("seed", [2**32, 2**64, 2**70])
def test_too_large_seed_names_the_fix(seed):
    match = rf"`random_state={seed}` is too large.*2\*\*32 - 1.*random_state % 2\*\*32"
    assert_fit_raises(small_path(), match, random_state=seed)
    with pytest.raises(ValueError, match=r"is too large"):
        scam.pp.growth_prior(scam.datasets.branching(n_cells=20, random_state=0, n_genes=60), random_state=seed)
