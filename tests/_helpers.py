"""Helpers shared by the tests: quick fit settings, small data, and the "adata is left unchanged" check.

Test modules import them with ``from _helpers import ...``: ``tests/conftest.py`` puts this folder on
``sys.path`` (pytest runs with ``--import-mode=importlib``, which does not).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import torch
from scipy import sparse
from torch import nn

import scam

# --------------------------------------------------------------------------------------------
# quick fit settings: keyword arguments of scam.tl.fit
# --------------------------------------------------------------------------------------------

#: No progress bar.
QUIET = {"progress_bar": False}
#: Two steps of the smallest net: a call that should raise finishes at once when it does not.
TINY_FIT = {"n_iters": 2, "hidden": (8,), **QUIET}
#: Twenty steps of the smallest net: a model that runs end to end, its accuracy not judged.
SMALL_FIT = {**TINY_FIT, "n_iters": 20}
#: 30 steps of a 16-unit net on batches of 64, as ``fit_kwargs`` of the LOT benchmark (which has its own bar).
LOT_FIT = {"n_iters": 30, "hidden": (16,), "batch_size": 64}
#: The same quick fit for ``scam.tl.fit``.
QUICK_FIT = {**LOT_FIT, **QUIET}
#: Nets for fits whose results are judged; each test sets its own ``n_iters``.
MEDIUM_NET = {"hidden": (32, 32), "batch_size": 128, **QUIET}
LARGE_NET = {"hidden": (64, 64), "batch_size": 256, **QUIET}


# --------------------------------------------------------------------------------------------
# small data
# --------------------------------------------------------------------------------------------


def small_path() -> ad.AnnData:
    """180 cells, obs['time'] in {0, 1, 2} (float), obsm['X_pca'] with 2 columns (a fresh object each call)."""
    return scam.datasets.gaussian_path(n_cells=60, times=(0.0, 1.0, 2.0), n_dims=2)


# --------------------------------------------------------------------------------------------
# the user's adata is left unchanged
# --------------------------------------------------------------------------------------------


def _materialise(x: Any) -> Any:
    """An in-memory copy of a matrix that later changes to ``x`` cannot reach (sparse stays sparse)."""
    if x is None or isinstance(x, pd.DataFrame):
        return None if x is None else x.copy()
    if hasattr(x, "to_memory"):  # a backed sparse dataset
        x = x.to_memory()
    elif not isinstance(x, np.ndarray) and not sparse.issparse(x) and hasattr(x, "shape"):
        x = x[()]  # a backed h5py dataset
    return x.copy() if sparse.issparse(x) else np.array(x, copy=True)


def _kind(x: Any) -> str:
    """Of a materialised matrix: None, DataFrame, dense or the sparse format."""
    if x is None:
        return "None"
    if isinstance(x, pd.DataFrame):
        return "DataFrame"
    return f"sparse {x.format}" if sparse.issparse(x) else "dense"


def _assert_matrix(new: Any, old: Any, where: str) -> None:
    """Same kind (None, DataFrame, dense, sparse format), dtype, shape and values (NaN equal to NaN)."""
    new = _materialise(new)
    assert _kind(new) == _kind(old), f"{where}: {_kind(new)}, was {_kind(old)}"
    if isinstance(old, pd.DataFrame):
        pd.testing.assert_frame_equal(new, old, obj=where)
    elif old is not None:
        if sparse.issparse(old):
            new, old = new.toarray(), old.toarray()
        np.testing.assert_array_equal(new, old, err_msg=where, strict=True)


def _assert_matrices(new: Mapping, old: dict, where: str) -> None:
    assert sorted(new.keys()) == sorted(old), f"{where}: keys {sorted(new.keys())}, were {sorted(old)}"
    for k, v in old.items():
        _assert_matrix(new[k], v, f"{where}[{k!r}]")


def _tree(x: Any) -> Any:
    """A deep copy of ``uns`` (also of a view's, whose values anndata wraps)."""
    if isinstance(x, Mapping):
        return {k: _tree(v) for k, v in x.items()}
    if isinstance(x, pd.DataFrame):
        return x.copy()
    if isinstance(x, np.ndarray):
        return np.array(x, copy=True)
    if sparse.issparse(x):
        return x.copy()
    return copy.deepcopy(x)


def _assert_tree(new: Any, old: Any, where: str) -> None:
    if isinstance(old, Mapping):
        assert isinstance(new, Mapping), f"{where}: {type(new).__name__}, was a mapping"
        assert sorted(new.keys()) == sorted(old), f"{where}: keys {sorted(new.keys())}, were {sorted(old)}"
        for k in old:
            _assert_tree(new[k], old[k], f"{where}[{k!r}]")
    elif isinstance(old, (list, tuple)):
        assert isinstance(new, type(old)) and len(new) == len(old), f"{where}: {new!r}, was {old!r}"
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            _assert_tree(a, b, f"{where}[{i}]")
    elif isinstance(old, pd.DataFrame) or sparse.issparse(old):
        _assert_matrix(new, old, where)
    else:
        np.testing.assert_array_equal(np.asarray(new), np.asarray(old), err_msg=where, strict=True)


class Snapshot:
    """What a call may not change in the user's ``adata``, copied deep enough that changes cannot reach it.

    ``Snapshot.of(adata)`` before the call, ``snap.assert_unchanged(adata)`` after it: X (dense or sparse
    format, dtype, values; also backed), raw, obs and var (names, columns, dtypes, values), obsm, varm, obsp,
    varp and layers (keys and values), uns at any depth, the shape, and whether ``adata`` is a view or backed.
    """

    ALIGNED = ("obsm", "varm", "obsp", "varp", "layers")

    def __init__(self, adata: ad.AnnData):
        self.is_view, self.isbacked, self.shape = adata.is_view, adata.isbacked, adata.shape
        self.obs, self.var = adata.obs.copy(), adata.var.copy()
        self.X = _materialise(adata.X)
        self.aligned = {name: {k: _materialise(v) for k, v in getattr(adata, name).items()} for name in self.ALIGNED}
        self.uns = _tree(adata.uns)
        self.raw = None if adata.raw is None else (_materialise(adata.raw.X), adata.raw.var.copy())

    @classmethod
    def of(cls, adata: ad.AnnData) -> Snapshot:
        """Snapshot ``adata`` before a call."""
        return cls(adata)

    def assert_unchanged(self, adata: ad.AnnData) -> None:
        """Raise AssertionError, naming the place, if anything in ``adata`` differs from the snapshot."""
        assert adata.is_view == self.is_view, f"is_view: {adata.is_view}, was {self.is_view}"
        assert adata.isbacked == self.isbacked, f"isbacked: {adata.isbacked}, was {self.isbacked}"
        assert adata.shape == self.shape, f"shape: {adata.shape}, was {self.shape}"
        pd.testing.assert_frame_equal(adata.obs, self.obs, obj="obs")
        pd.testing.assert_frame_equal(adata.var, self.var, obj="var")
        _assert_matrix(adata.X, self.X, "X")
        for name, before in self.aligned.items():
            _assert_matrices(getattr(adata, name), before, name)
        _assert_tree(adata.uns, self.uns, "uns")
        assert (adata.raw is None) == (self.raw is None), (
            f"raw: {adata.raw}, was {'None' if self.raw is None else 'set'}"
        )
        if self.raw is not None:
            _assert_matrix(adata.raw.X, self.raw[0], "raw.X")
            pd.testing.assert_frame_equal(adata.raw.var, self.raw[1], obj="raw.var")


class ConstantNet(nn.Module):
    """``s = c · x``: the constant velocity ``c`` (in the model's internal units when wrapped in a model)."""

    def __init__(self, c):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c, dtype=torch.float32))
        self.n_dims = len(c)

    def forward(self, x, t):
        return x @ self.c
