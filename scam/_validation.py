"""Checks of user input. Each raises a ``ValueError`` that names the fix; none modifies ``adata``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

logger = logging.getLogger("scam")

#: Fewer cells than this at one time point cannot describe a distribution.
MIN_CELLS_PER_TIME = 10


@dataclass
class TimeInfo:
    """Observed time points of a time course."""

    key: str
    labels: list[str]  # one per time point, in order
    values: np.ndarray  # numeric value per time point (user units), increasing
    codes: np.ndarray  # per cell: index into labels
    ordinal: bool = False  # an ordered categorical of labels: values are positions among the categories

    @property
    def n_times(self) -> int:
        """Number of observed time points."""
        return len(self.labels)

    def counts(self) -> np.ndarray:
        """Cells per time point."""
        return np.bincount(self.codes, minlength=self.n_times)


def check_adata(adata) -> None:
    """``adata`` must be an AnnData."""
    if not isinstance(adata, AnnData):
        raise TypeError(
            f"Expected an AnnData object, got {type(adata).__name__}. Wrap your data in one "
            "(`anndata.AnnData(X, obs=...)`) or read it with `anndata.read_h5ad(path)`."
        )


def get_time(adata: AnnData, time_key: str, *, min_cells: int = MIN_CELLS_PER_TIME) -> TimeInfo:
    """Read and check the time column ``adata.obs[time_key]``.

    Numeric columns are used as values (days stay days); ordered categoricals use their order
    (0, 1, …); a categorical whose categories are numbers uses those numbers.
    """
    if not isinstance(time_key, str) or time_key not in adata.obs.columns:
        cols = ", ".join(map(repr, adata.obs.columns)) or "none"
        raise ValueError(f"`time_key={time_key!r}` is not a column of adata.obs. Available columns: {cols}.")
    col = adata.obs[time_key]
    fix_hint = (
        f"Make it numeric (e.g. `adata.obs[{time_key!r}] = adata.obs[{time_key!r}].astype(float)`) or an ordered "
        f"categorical (`adata.obs[{time_key!r}] = adata.obs[{time_key!r}].astype(pd.CategoricalDtype([...], "
        "ordered=True))` with the labels in time order)."
    )
    if isinstance(col.dtype, pd.CategoricalDtype):
        if col.isna().any():
            raise ValueError(f"adata.obs[{time_key!r}] has {int(col.isna().sum())} missing values; drop or fill them.")
        cats = col.cat.categories
        present = np.unique(col.cat.codes.to_numpy())
        if col.cat.ordered:
            values_all = np.arange(len(cats), dtype=np.float64)
        elif pd.api.types.is_numeric_dtype(cats.dtype) and not pd.api.types.is_bool_dtype(cats.dtype):
            values_all = cats.to_numpy(dtype=np.float64)
        else:
            raise ValueError(
                f"adata.obs[{time_key!r}] is an unordered categorical of labels, so time order is unknown. " + fix_hint
            )
        order = present[np.argsort(values_all[present])]
        labels = [str(cats[i]) for i in order]
        values = values_all[order]
        remap = np.full(len(cats), -1)
        remap[order] = np.arange(len(order))
        codes = remap[col.cat.codes.to_numpy()]
    elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        raw = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isfinite(raw)):
            bad = int((~np.isfinite(raw)).sum())
            raise ValueError(
                f"adata.obs[{time_key!r}] has {bad} NaN or infinite values; drop those cells or fill them."
            )
        values, codes = np.unique(raw, return_inverse=True)
        labels = [f"{v:g}" for v in values]
    else:
        raise ValueError(f"adata.obs[{time_key!r}] has dtype {col.dtype}, which has no time order. " + fix_hint)
    ordinal = isinstance(col.dtype, pd.CategoricalDtype) and bool(col.cat.ordered)
    info = TimeInfo(
        key=time_key,
        labels=labels,
        values=np.asarray(values, dtype=np.float64),
        codes=codes.astype(int),
        ordinal=ordinal,
    )
    if info.n_times < 2:
        raise ValueError(f"adata.obs[{time_key!r}] has {info.n_times} time point(s); scam needs at least two.")
    counts = info.counts()
    few = [(lab, int(c)) for lab, c in zip(info.labels, counts, strict=True) if c < min_cells]
    if few:
        desc = ", ".join(f"{lab!r}: {c}" for lab, c in few)
        raise ValueError(
            f"Time points with fewer than {min_cells} cells in adata.obs[{time_key!r}] ({desc}). "
            "Remove those cells or merge them with a neighbouring time point."
        )
    return info


def align_time(time: TimeInfo, fit_labels, fit_values) -> TimeInfo:
    """``time`` with the values a model was fitted on, for an ordered categorical of labels.

    The values of such a column are positions among its categories, which change when a subset
    drops categories (``adata[mask]`` removes unused ones); the model's time axis is the one of
    its fit, so each label gets the value it had there. Numeric times are returned unchanged.
    """
    if not time.ordinal or fit_labels is None or fit_values is None:
        return time
    lookup = {str(label): float(value) for label, value in zip(fit_labels, fit_values, strict=True)}
    unknown = [label for label in time.labels if label not in lookup]
    if unknown:
        raise ValueError(
            f"Time points {unknown} of adata.obs[{time.key!r}] are not among those the model was fitted on "
            f"({list(lookup)}), so their time is unknown; drop those cells or refit on them."
        )
    return TimeInfo(
        key=time.key,
        labels=time.labels,
        values=np.array([lookup[label] for label in time.labels]),
        codes=time.codes,
        ordinal=True,
    )


def get_rep(adata: AnnData, use_rep: str, n_dims: int | None) -> np.ndarray:
    """The first ``n_dims`` columns of ``adata.obsm[use_rep]`` as float64, checked."""
    if not isinstance(use_rep, str):
        raise ValueError(f"`use_rep` must be the name of an adata.obsm key, got {use_rep!r}.")
    if use_rep not in adata.obsm:
        keys = ", ".join(map(repr, adata.obsm.keys())) or "none"
        hint = " Run `sc.pp.pca(adata)` first." if use_rep == "X_pca" else ""
        raise ValueError(f"`use_rep={use_rep!r}` is not in adata.obsm (available: {keys}).{hint}")
    rep = adata.obsm[use_rep]
    if isinstance(rep, pd.DataFrame):
        rep = rep.to_numpy()
    if sparse.issparse(rep):
        rep = rep.toarray()
    rep = np.asarray(rep)
    if rep.ndim != 2 or not np.issubdtype(rep.dtype, np.number):
        raise ValueError(
            f"adata.obsm[{use_rep!r}] must be a numeric (n_cells, n_dims) array, got {rep.dtype} {rep.shape}."
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
        raise ValueError(f"adata.obsm[{use_rep!r}] has NaN or infinite values in {rows} cells; remove or impute them.")
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


def check_seed(random_state) -> int:
    """A non-negative integer seed; ``None`` draws one from the operating system."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError(f"`random_state` must be a non-negative integer or None, got {random_state!r}.")
    return int(random_state)


def check_positive_int(name: str, value) -> int:
    """A positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def check_key(name: str, value) -> str:
    """A non-empty string key."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"`{name}` must be a non-empty string, got {value!r}.")
    return value


def check_key_added(value, name: str = "key_added") -> str:
    """A key scam writes under: a non-empty string without ``/`` (which h5ad files read as a nested group)."""
    value = check_key(name, value)
    if "/" in value:
        raise ValueError(
            f"`{name}` must be a non-empty string without '/', got {value!r}: h5ad files read '/' as a nested group, "
            f"so `adata.write_h5ad` would not round-trip; use e.g. {value.replace('/', '_')!r}."
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


def get_masses(masses, time: TimeInfo) -> np.ndarray:
    """Relative masses per time point, normalised so that the first is 1.

    ``None``: equal; ``"counts"``: relative cell counts; a mapping from time label or value to mass;
    or a sequence with one mass per time point.
    """
    if masses is None:
        m = np.ones(time.n_times)
    elif isinstance(masses, str):
        if masses != "counts":
            raise ValueError(f"`masses={masses!r}` is not understood; use None, 'counts', or a mapping time -> mass.")
        m = time.counts().astype(np.float64)
    elif isinstance(masses, Mapping):
        m, used = [], set()
        for label, value in zip(time.labels, time.values, strict=True):
            # a float time value also finds an int key (hash(1.0) == hash(1))
            found = [k for k in (label, value) if k in masses]
            if not found:
                raise ValueError(
                    f"`masses` has no entry for time {label!r}; give one mass per observed time "
                    f"({', '.join(map(repr, time.labels))})."
                )
            m.append(masses[found[0]])
            used.update(found)
        unknown = [k for k in masses if k not in used]
        if unknown:
            raise ValueError(
                f"`masses` has entries for times that are not observed: {unknown}; give one mass per observed time "
                f"({', '.join(map(repr, time.labels))}), by label or value."
            )
        m = np.asarray(m, dtype=np.float64)
    else:
        try:
            m = np.asarray(masses, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ValueError(
                f"`masses={masses!r}` is not understood; use None, 'counts', a mapping time -> mass, or one number "
                "per time point."
            ) from None
        if m.shape != (time.n_times,):
            raise ValueError(
                f"`masses` has {m.size} values but there are {time.n_times} time points; give one mass per time "
                f"point, in time order ({', '.join(map(repr, time.labels))}), or a mapping time -> mass."
            )
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"`masses` must be positive and finite, got {m.tolist()}.")
    return m / m[0]


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


def masses_from_growth(rates: np.ndarray, time: TimeInfo) -> np.ndarray:
    """Relative masses from per-cell growth rates (note §5): ``m_{k+1} / m_k = mean over X_k of exp(g Δt)``.

    ``rates`` are per unit of ``time.values``; the first mass is 1.
    """
    m = np.ones(time.n_times)
    for k in range(time.n_times - 1):
        dt = time.values[k + 1] - time.values[k]
        m[k + 1] = m[k] * float(np.mean(np.exp(rates[time.codes == k] * dt)))
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(
            f"The growth prior gives non-finite masses {m.tolist()}; check its rates (per unit of the time column)."
        )
    return m


def writable(adata: AnnData, copy: bool) -> AnnData:
    """The AnnData to write results into: a copy with ``copy``, else ``adata`` itself.

    A view (``adata[mask]``) is made an actual AnnData in place first, with a logged warning:
    writing into a view would otherwise reach the parent's nested ``uns`` dicts. The parent is
    not modified. Every function of scam that writes into ``adata`` goes through here.
    """
    if copy:
        return adata.copy()
    if adata.is_view:
        logger.warning("adata is a view; making it an actual AnnData (the parent object is not modified)")
        adata._init_as_actual(adata.copy())
    return adata
