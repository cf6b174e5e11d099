"""Unusual inputs that must just work, and bad ones that must fail clearly (found by an input audit).

Complements ``test_bad_inputs.py``: each test here failed before the fix it guards.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scam


class Snapshot:
    """Deep copy of what a call may not change (obs, obsm, uns at any depth, X, layers, view status)."""

    def __init__(self, adata: ad.AnnData):
        self.adata = adata.copy()
        self.is_view = adata.is_view

    @classmethod
    def of(cls, adata: ad.AnnData) -> Snapshot:
        return cls(adata)

    def assert_unchanged(self, adata: ad.AnnData) -> None:
        before = self.adata
        pd.testing.assert_frame_equal(adata.obs, before.obs)
        assert sorted(adata.obsm) == sorted(before.obsm)
        for k in before.obsm:
            np.testing.assert_array_equal(np.asarray(adata.obsm[k]), np.asarray(before.obsm[k]))
        _assert_same(dict(adata.uns), dict(before.uns))
        np.testing.assert_array_equal(np.asarray(adata.X), np.asarray(before.X))
        assert sorted(adata.layers) == sorted(before.layers)
        assert adata.is_view == self.is_view


def _assert_same(a, b, where="uns") -> None:
    if isinstance(b, dict):
        assert isinstance(a, dict) and sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in b:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(b, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)


FAST = {"n_iters": 30, "hidden": (16,), "batch_size": 64, "progress_bar": False}
LABELS = {0.0: "D2", 1.0: "D10", 2.0: "D11"}


def make_named() -> ad.AnnData:
    """180 cells at times 'D2' < 'D10' < 'D11' (an ordered categorical: not alphabetical), 2 dims, a cell type."""
    adata = scam.datasets.gaussian_path(n_cells=60, times=(0, 1, 2), n_dims=2)
    adata.obs["time"] = pd.Categorical(adata.obs["time"].map(LABELS), categories=list(LABELS.values()), ordered=True)
    adata.obs["ct"] = np.where(adata.obsm["X_pca"][:, 1] > 0, "up", "down")
    return adata


@pytest.fixture(scope="module")
def named() -> tuple[scam.ActionModel, ad.AnnData]:
    adata = make_named()
    model = scam.tl.fit(adata, **FAST)
    return model, adata


# --------------------------------------------------------------------------------------------
# ordered categorical times: read-outs use the fitted time axis, also on subsets
# --------------------------------------------------------------------------------------------


def test_readouts_on_a_subset_use_the_fitted_times(named):
    """A subset drops unused categories, so 'D11' is the 2nd category there; the model's time for it is still 2."""
    model, adata = named
    assert list(adata.uns["scam"]["time"]["labels"]) == ["D2", "D10", "D11"]  # category order, not alphabetical
    sub = adata[adata.obs["time"] != "D10"].copy()
    assert list(sub.obs["time"].cat.categories) == ["D2", "D11"]
    scam.tl.fate(sub, model, source="D2", target="D11", groupby="ct")
    assert sub.uns["scam_fate"]["params"]["target"] == 2.0
    scam.tl.fate(sub, model, source=0, target=2, groupby="ct")  # the fitted values name the times too
    scam.tl.trajectories(sub, model, n_cells=5, n_steps=4)
    np.testing.assert_allclose(sub.uns["scam"]["trajectories"]["times"][[0, -1]], [0.0, 2.0])


def test_readouts_refuse_a_time_label_the_model_never_saw(named):
    model, adata = named
    other = adata.copy()
    other.obs["time"] = other.obs["time"].cat.rename_categories({"D10": "D9"})
    snap = Snapshot.of(other)
    with pytest.raises(ValueError, match=r"Time points \['D9'\].*not among those the model was fitted on.*refit"):
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
    np.testing.assert_allclose(traj["times"][[0, -1]], [1.0, 2.0])
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
