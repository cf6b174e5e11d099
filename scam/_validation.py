"""Checks of user input. Each raises a ``ValueError`` that names the fix; none modifies ``adata``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from anndata import AnnData, ImplicitModificationWarning
from scipy import sparse


def check_adata(adata) -> None:
    """``adata`` must be an AnnData."""
    if not isinstance(adata, AnnData):
        raise TypeError(
            f"Expected an AnnData object, got {type(adata).__name__}. Wrap your data in one "
            "(`anndata.AnnData(X, obs=...)`) or read it with `anndata.read_h5ad(path)`."
        )


def dense_numbers(values):
    """Cells as numpy can read them: a masked array's masked entries and a DataFrame's missing values as NaN.

    Nullable pandas columns (``Float64``, ``Int64``: what ``convert_dtypes()`` or a parquet file gives) become
    floats instead of objects; a mask is no longer dropped, which fitted its placeholder values as coordinates.
    Anything else is returned as it is.
    """
    if isinstance(values, pd.DataFrame):
        numeric = all(pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d) for d in values.dtypes)
        return values.to_numpy(dtype=np.float64, na_value=np.nan) if numeric else values.to_numpy()
    if np.ma.isMaskedArray(values) and np.issubdtype(values.dtype, np.number) and not np.iscomplexobj(values):
        return np.ma.asarray(values, dtype=np.float64).filled(np.nan)
    return values


def get_rep(adata: AnnData, use_rep: str, n_dims: int | None) -> np.ndarray:
    """The first ``n_dims`` columns of ``adata.obsm[use_rep]`` as float64, checked."""
    if not isinstance(use_rep, str):
        raise ValueError(f"`use_rep` must be the name of an adata.obsm key, got {use_rep!r}.")
    if use_rep not in adata.obsm:
        keys = ", ".join(map(repr, adata.obsm.keys())) or "none"
        hint = {
            "X_pca": " Run `sc.pp.pca(adata)` first.",
            # scanpy's `use_rep="X"` means adata.X; scam fits a few coordinates per cell, not thousands of genes
            "X": " scam reads cell coordinates from adata.obsm, not adata.X: use `sc.pp.pca(adata)` and "
            "use_rep='X_pca', or store a few columns yourself, e.g. "
            "`adata.obsm['X_genes'] = adata[:, genes].X.toarray()`, and pass use_rep='X_genes'.",
        }.get(use_rep, "")
        raise ValueError(f"`use_rep={use_rep!r}` is not in adata.obsm (available: {keys}).{hint}")
    rep = dense_numbers(adata.obsm[use_rep])
    if sparse.issparse(rep):
        rep = rep.toarray()
    rep = np.asarray(rep)
    if rep.ndim != 2 or not np.issubdtype(rep.dtype, np.number) or np.issubdtype(rep.dtype, np.complexfloating):
        raise ValueError(
            f"adata.obsm[{use_rep!r}] must be a real-valued (n_cells, n_dims) array, got {rep.dtype} {rep.shape}."
        )
    if n_dims is not None:
        if not isinstance(n_dims, (int, np.integer)) or isinstance(n_dims, bool) or n_dims < 1:
            raise ValueError(f"`n_dims` must be a positive integer or None, got {n_dims!r}.")
        if n_dims > rep.shape[1]:
            raise ValueError(
                f"`n_dims={n_dims}` is larger than adata.obsm[{use_rep!r}], which has {rep.shape[1]} "
                "columns; lower `n_dims` or compute more components."
            )
        rep = rep[:, :n_dims]
    rep = rep.astype(np.float64)
    if not np.all(np.isfinite(rep)):
        rows = int((~np.isfinite(rep)).any(1).sum())
        raise ValueError(
            f"adata.obsm[{use_rep!r}] has NaN or infinite values in {rows} cells (missing or masked ones count as "
            "NaN); remove or impute them."
        )
    if len(rep) > 1 and not np.any(rep.max(0) > rep.min(0)):
        cols = "" if n_dims is None else f" (its first {n_dims} columns)"
        raise ValueError(
            f"adata.obsm[{use_rep!r}]{cols} is the same for all {len(rep)} cells (zero variance), so there are no "
            f"dynamics to learn; recompute it (e.g. `sc.pp.pca(adata)` on the expression) or pass `use_rep=` a "
            "representation that varies between cells."
        )
    return rep


def _check_number(name: str, value, *, positive: bool) -> float:
    word = "positive" if positive else "non-negative"
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a {word} number, got {value!r}.") from None
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"`{name}` must be a finite {word} number, got {value!r}.")
    return value


def check_nonnegative(name: str, value) -> float:
    """A finite, non-negative float."""
    return _check_number(name, value, positive=False)


def check_positive(name: str, value) -> float:
    """A finite, positive float."""
    return _check_number(name, value, positive=True)


def check_hidden(hidden) -> list[int]:
    """Hidden-layer widths: a non-empty sequence of positive integers."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"`hidden` must be a sequence of positive integers, e.g. (256, 256, 256), got {hidden!r}.")
    widths = list(hidden)
    if not widths or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in widths):
        raise ValueError(f"`hidden` must be a sequence of positive integers, e.g. (256, 256, 256), got {hidden!r}.")
    return [int(h) for h in widths]


#: Largest seed: numpy's legacy seeding (``np.random.seed``, used by scanpy) takes 0 … 2**32 − 1.
MAX_SEED = 2**32 - 1


def check_seed(random_state) -> int:
    """A non-negative integer seed up to :data:`MAX_SEED`; ``None`` draws one from the operating system."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError(f"`random_state` must be a non-negative integer or None, got {random_state!r}.")
    if random_state > MAX_SEED:
        raise ValueError(
            f"`random_state={random_state}` is too large: seeds go from 0 to 2**32 - 1 ({MAX_SEED}); use a seed in "
            f"that range, e.g. `random_state={int(random_state) % 2**32}` (`random_state % 2**32`)."
        )
    return int(random_state)


def check_positive_int(name: str, value) -> int:
    """A positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def check_auto_or_positive_int(name: str, value) -> int | str:
    """``"auto"`` or a positive integer; else a ``ValueError`` naming both."""
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be 'auto' or a positive integer, got {value!r}.")
    return int(value)


def check_key(name: str, value) -> str:
    """A non-empty string key."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{name}` must be a non-empty string, got {value!r}.")
    return value


def check_key_added(value, name: str = "key_added") -> str:
    """A key scam writes under: no ``/``, not ``"."``, no NUL characters (h5ad would not round-trip it).

    h5ad files read ``/`` as a nested group and ``"."`` as the group itself: its entries would land in ``uns``
    and replace the user's.
    """
    value = check_key(name, value)
    if "/" in value or value == "." or "\x00" in value:
        fix = value.replace("/", "_").replace("\x00", "") if value != "." else "scam"
        raise ValueError(
            f"`{name}` must be a non-empty string without '/' or NUL characters, and not '.', got {value!r}: h5ad "
            f"files read '/' as a nested group and '.' as the group itself, so `adata.write_h5ad` would not "
            f"round-trip; use e.g. {fix or 'scam'!r}."
        )
    return value


def class_order(col: pd.Series) -> list[str]:
    """Labels of a class column (as strings) in display order.

    A categorical's category order; numbers in numeric order (cluster 2 before cluster 10); other
    labels sorted as text.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [str(c) for c in col.cat.categories]
    values = col.dropna().unique()
    if pd.api.types.is_numeric_dtype(col.dtype):
        return [str(v) for v in sorted(values)]
    return sorted({str(v) for v in values})


def get_growth_prior(adata: AnnData, key: str) -> np.ndarray:
    """The per-cell prior growth rate ``adata.obs[key]`` (from :func:`scam.pp.growth_prior`), checked."""
    if not isinstance(key, str) or key not in adata.obs.columns:
        raise ValueError(
            f"adata.obs has no growth prior column {key!r}; run `scam.pp.growth_prior(adata)` first "
            "(or pass `growth_prior_key=` naming your column of growth rates per unit time)."
        )
    col = adata.obs[key]
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise ValueError(f"adata.obs[{key!r}] must hold numeric growth rates, got dtype {col.dtype}.")
    rates = col.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(rates)):
        raise ValueError(f"adata.obs[{key!r}] has {int((~np.isfinite(rates)).sum())} NaN or infinite values.")
    return rates


def writable(adata: AnnData, copy: bool) -> AnnData:
    """The AnnData to write results into: a copy with ``copy``, else ``adata`` itself.

    A view (``adata[mask]``) is made an actual AnnData in place first, with a warning (anndata's
    :class:`~anndata.ImplicitModificationWarning`, a ``UserWarning``, pointing at the caller of the
    public function): writing into a view would otherwise reach the parent's nested ``uns`` dicts.
    The parent is not modified. Every function of scam that writes into ``adata`` goes through
    here, called from the public function itself.
    """
    if copy:
        return adata.copy()
    if adata.is_view:
        warnings.warn(
            "adata is a view; making it an actual AnnData (the parent object is not modified). Pass "
            "`adata[mask].copy()` to keep the view as it is.",
            ImplicitModificationWarning,
            stacklevel=3,
        )
        adata._init_as_actual(adata.copy())
    return adata
