"""Time points and masses: the one place that reads a time column and the masses per time point.

:func:`get_time` turns ``adata.obs[time_key]`` into a :class:`TimeInfo` (the rules are in the
``time_key`` entry of :func:`scam.tl.fit`); :func:`get_masses` and :func:`masses_from_growth` give
one relative mass per time point. Each raises a ``ValueError`` that names the fix.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

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


#: Times closer than this (relative) are the same time point: float32 rounding (2**-23 of the value).
TIME_RTOL = float(np.finfo(np.float32).eps)


#: A number inside a time label ("day10", "D3.5", "E12.5"), with the minus sign or hyphen right before it.
_NUMBER_IN_LABEL = re.compile(r"([-−]?)(\d+(?:\.\d+)?)")


def same_time(a, b, scale: float = 0.0) -> np.ndarray:
    """Whether times ``a`` and ``b`` are equal up to float32 rounding (elementwise).

    The rounding is relative to the larger of ``|a|``, ``|b|`` and ``scale`` (the span of the time axis), so that
    float noise next to 0 (``0.1 + 0.2 - 0.3``) is 0. Two whole numbers are equal only when they are: rounding does
    not make a whole number of another (days 20240101 and 20240102 stay two time points).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    tol = TIME_RTOL * np.maximum(np.maximum(np.abs(a), np.abs(b)), abs(float(scale)))
    whole = (a == np.round(a)) & (b == np.round(b))
    return (a == b) | (~whole & (np.abs(a - b) <= tol))


def span(values) -> float:
    """The span ``max - min`` of finite time values (0 for none): the scale of :func:`same_time` on that axis."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.max() - v.min()) if v.size else 0.0


def number_labels(values, scale: float = 0.0) -> list[str]:
    """Labels of numeric times, with as few significant digits as tell them apart.

    At least 6, as ``:g`` writes them, and as many more as needed for each label to read back as the same time
    (:func:`same_time`): a float32 0.1 is '0.1', and 1234567 is not '1.23457e+06'.
    """
    values = [float(v) for v in values]
    for digits in range(6, 18):
        labels = [f"{v:.{digits}g}" for v in values]
        if len(set(labels)) == len(labels) and all(
            bool(same_time(float(label), v, scale)) for label, v in zip(labels, values, strict=True)
        ):
            return labels
    return [repr(v) for v in values]


#: What :func:`pandas.api.types.infer_dtype` calls dates, times of day and durations (objects or categories).
DATE_KINDS = {"datetime64", "datetime", "date", "time", "timedelta64", "timedelta", "period"}


def _refuse_dates(col: pd.Series, where: str, time_key: str, shown=None) -> None:
    """Dates or durations, also as a categorical's categories or objects, are no times in one unit: say how to convert.

    As categories they once fell through to the ordered labels' positions: days 0, 1, 2, 3, 10 were fitted at 0-4.
    """
    values = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        kind = "dates"
    elif pd.api.types.is_timedelta64_dtype(dtype):
        kind = "durations"
    elif pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(values, skipna=True) in DATE_KINDS:
        kind = "dates or durations"
    else:
        return
    col_ref = f"adata.obs[{time_key!r}]"
    if kind == "durations":
        how = f"`{col_ref} = pd.to_timedelta({col_ref}.astype(object)).dt.total_seconds() / 86400`"
    else:
        how = (
            f"`t = pd.to_datetime({col_ref}.astype(str))` and `{col_ref} = (t - t.min()).dt.total_seconds() / 86400` "
            f"(durations: `pd.to_timedelta({col_ref}.astype(object)).dt.total_seconds() / 86400`)"
        )
    raise ValueError(
        f"{where} holds {kind} (dtype {col.dtype if shown is None else shown}); scam needs numbers in one unit, or "
        "their spacing would be lost. "
        f"Convert them, e.g. to days since the first: {how}."
    )


def get_time(
    adata: AnnData, time_key: str, *, min_cells: int = MIN_CELLS_PER_TIME, rows: np.ndarray | None = None
) -> TimeInfo:
    """Read and check the time column ``adata.obs[time_key]``; the one place where times are parsed.

    The rules (documented for users under ``time_key`` in :func:`scam.tl.fit`):

    * numbers are used as values (days stay days), also inside a categorical, ordered or not, and
      as strings (``"0"``, ``"7"``); values equal up to float32 rounding are one time point (a
      ``UserWarning`` names the merged values);
    * labels with one number each and the same text around it (``day1 … day10``, ``D3.5``,
      ``E12.5``) are ordered by that number, which is their value; the order is logged, and a
      ``UserWarning`` says so when it overrides the category order of an ordered categorical;
    * other labels need an ordered categorical: their values are positions among its categories
      (0, 1, 2, …; ``TimeInfo.ordinal``, see :func:`align_time`).

    ``rows`` (integer positions) reads only those cells, with the column's categories kept, so that the positions
    of ordered labels are those of the whole column (a condition that lacks a time point keeps the others' values).
    """
    if not isinstance(time_key, str) or time_key not in adata.obs.columns:
        cols = ", ".join(map(repr, adata.obs.columns)) or "none"
        raise ValueError(f"`time_key={time_key!r}` is not a column of adata.obs. Available columns: {cols}.")
    col = adata.obs[time_key]
    if rows is not None:  # pandas keeps every category (an AnnData view drops the unused ones, which would
        col = col.iloc[rows]  # renumber an ordered categorical's positions: one condition's time axis squeezed)
    where = f"adata.obs[{time_key!r}]"
    fix_hint = (
        f"Make it numeric (e.g. `adata.obs[{time_key!r}] = adata.obs[{time_key!r}].astype(float)`) or an ordered "
        f"categorical (`adata.obs[{time_key!r}] = adata.obs[{time_key!r}].astype(pd.CategoricalDtype([...], "
        "ordered=True))` with the labels in time order)."
    )
    _refuse_dates(col, where, time_key)
    if (
        pd.api.types.is_bool_dtype(col.dtype)
        or pd.api.types.is_complex_dtype(col.dtype)
        or not (
            isinstance(col.dtype, pd.CategoricalDtype)
            or pd.api.types.is_numeric_dtype(col.dtype)
            or pd.api.types.is_object_dtype(col.dtype)
            or pd.api.types.is_string_dtype(col.dtype)
        )
    ):
        raise ValueError(f"{where} has dtype {col.dtype}, which has no time order. " + fix_hint)
    if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        n_bad, what = int(col.isna().sum()), "missing"
    else:
        n_bad, what = int((~np.isfinite(col.to_numpy(dtype=np.float64, na_value=np.nan))).sum()), "NaN or infinite"
    if n_bad:
        raise ValueError(f"{where} has {n_bad} {what} values; drop those cells or fill them.")
    declared = isinstance(col.dtype, pd.CategoricalDtype) and bool(col.cat.ordered)
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats, cell_codes = col.cat.categories, col.cat.codes.to_numpy()
    else:
        cell_codes, cats = pd.factorize(col, sort=pd.api.types.is_numeric_dtype(col.dtype))
    present = np.unique(cell_codes)
    numbers = _numbers(cats)
    ordinal = False
    if numbers is not None:
        if not np.all(np.isfinite(numbers[present])):
            bad = int((~np.isfinite(numbers[cell_codes])).sum())
            raise ValueError(f"{where} has {bad} NaN or infinite values; drop those cells or fill them.")
        values_all = numbers
        if declared:
            _warn_if_reordered(where, cats, present, values_all, "their values", guessed=False)
    elif (label_numbers := _label_numbers([str(c) for c in cats[present]])) is not None:
        if len(present) > 1 and all(_NUMBER_IN_LABEL.findall(str(c))[0][0] for c in cats[present]):
            label_numbers = _minus_read(label_numbers, present, declared, where, [str(c) for c in cats[present]])
        values_all = np.full(len(cats), np.nan)
        values_all[present] = label_numbers
        order = present[np.argsort(label_numbers, kind="stable")]
        logger.info(
            "%s: time labels ordered by the number in them: %s",
            where,
            " < ".join(f"{cats[i]} ({values_all[i]:g})" for i in order),
        )
        if declared:
            _warn_if_reordered(where, cats, present, values_all, "the numbers in the labels", guessed=True)
    elif declared:
        values_all, ordinal = np.arange(len(cats), dtype=np.float64), True
    else:
        labels = [str(c) for c in cats[present]]
        if _all_dates(labels):
            _refuse_dates(pd.Series(pd.to_datetime(labels, format="ISO8601")), where, time_key, shown=col.dtype)
        kind = "an unordered categorical" if isinstance(col.dtype, pd.CategoricalDtype) else f"dtype {col.dtype}"
        twins = _same_number(labels)
        why = (
            f"labels that carry the same number ({twins}), so their order is ambiguous"
            if twins
            else "labels without one number each in the same place (like 'day3'), so it has no time order"
        )
        raise ValueError(f"{where} has {why} ({kind}). " + fix_hint)
    groups = _merge_close(values_all, present, np.bincount(cell_codes, minlength=len(cats)), where, cats)
    groups.sort(key=lambda g: values_all[g[0]])
    numeric_col = not isinstance(col.dtype, pd.CategoricalDtype) and pd.api.types.is_numeric_dtype(col.dtype)
    firsts = [values_all[g[0]] for g in groups]
    labels = number_labels(firsts, span(firsts)) if numeric_col else [str(cats[g[0]]) for g in groups]
    values = np.array([values_all[g[0]] for g in groups], dtype=np.float64)
    remap = np.full(len(cats), -1)
    for k, group in enumerate(groups):
        remap[group] = k
    info = TimeInfo(key=time_key, labels=labels, values=values, codes=remap[cell_codes].astype(int), ordinal=ordinal)
    if info.n_times < 2:
        raise ValueError(f"{where} has {info.n_times} time point(s); scam needs at least two.")
    counts = info.counts()
    few = [(lab, int(c)) for lab, c in zip(info.labels, counts, strict=True) if c < min_cells]
    if few:
        desc = ", ".join(f"{lab!r}: {c}" for lab, c in few[:_LISTED])
        if len(few) > _LISTED:
            desc += f", … and {len(few) - _LISTED} more"
        hint = "Remove those cells or merge them with a neighbouring time point."
        if info.n_times > _LISTED and len(few) > info.n_times / 2:
            hint = (
                f"The column has {info.n_times} distinct values, most with few cells: it looks continuous (a "
                "pseudotime?), not the sampling times of snapshots. Use the time each sample was collected, or bin "
                f"it (e.g. `adata.obs['time_bin'] = pd.cut(adata.obs[{time_key!r}], 5, labels=False)`)."
            )
        raise ValueError(f"Time points with fewer than {min_cells} cells in {where} ({desc}). {hint}")
    return info


#: How many offending time points an error lists.
_LISTED = 10


def _all_dates(labels: list[str]) -> bool:
    """Whether every label is a calendar date written out ("2024-01-31", "2024/01/31")."""
    if not labels or not all(re.fullmatch(r"\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T].*)?", x) for x in labels):
        return False
    try:
        pd.to_datetime(labels, format="ISO8601")
    except (ValueError, TypeError):
        return False
    return True


def _minus_read(numbers: np.ndarray, present: np.ndarray, declared: bool, where: str, labels: list[str]) -> np.ndarray:
    """The numbers of labels that all have a minus before their number ("D-3", "D-2", "D-1").

    An ordered categorical decides: when its category order is that of the negative numbers (and not of the
    positive ones), they are negative. Otherwise the minus is a separator, as in "day-1", "day-2", and a
    ``UserWarning`` says so (the other reading reverses time).
    """
    by_category = np.argsort(present, kind="stable")
    rising = np.all(np.diff(numbers[by_category]) > 0)
    falling = np.all(np.diff(numbers[by_category]) < 0)
    if declared and falling and not rising:
        return -numbers
    if not declared:
        warnings.warn(
            f"Every label of {where} has a '-' before its number ({', '.join(labels[:4])}): scam reads it as a "
            f"separator, so the times are {', '.join(f'{v:g}' for v in numbers[:4])}. If they are negative times "
            "(days before an event), make the column an ordered categorical with the categories in time order, or "
            "numeric.",
            UserWarning,
            stacklevel=4,
        )
    return numbers


def _same_number(labels: list[str]) -> str:
    """Labels with one number each and the same text around it, where two carry the same number: a pair, or ""."""
    found = [_NUMBER_IN_LABEL.findall(label) for label in labels]
    if any(len(f) != 1 for f in found):
        return ""
    seen: dict[float, str] = {}
    for label, ((_, digits),) in zip(labels, found, strict=True):
        if float(digits) in seen:
            return f"{seen[float(digits)]!r} and {label!r}"
        seen[float(digits)] = label
    return ""


def _numbers(cats: pd.Index) -> np.ndarray | None:
    """The categories as numbers (float64), when they are numbers or numeric strings; else ``None``."""
    if pd.api.types.is_bool_dtype(cats.dtype):
        return None
    if pd.api.types.is_numeric_dtype(cats.dtype):
        return cats.to_numpy(dtype=np.float64)
    if all(isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool) for c in cats):
        return np.array(cats, dtype=np.float64)  # numbers in an object column
    if not all(isinstance(c, str) for c in cats):
        return None
    parsed = pd.to_numeric(pd.Series([c.strip() for c in cats], dtype=object), errors="coerce")
    return None if parsed.isna().any() else parsed.to_numpy(dtype=np.float64)


def _label_numbers(labels: list[str]) -> np.ndarray | None:
    """The number in each label, when every label has exactly one, all differ, and the text around it is the same.

    A minus directly before the number is its sign when only some labels have one there ("D-1", "D0", "D3": days
    −1, 0 and 3, say before and after a treatment); when every label has one, it separates ("day-1", "day-2").
    """
    found = [_NUMBER_IN_LABEL.findall(label) for label in labels]
    if any(len(f) != 1 for f in found):
        return None
    minus = [bool(f[0][0]) for f in found]
    signed = any(minus) and not all(minus)
    texts, numbers = set(), []
    for label, ((sign, digits),) in zip(labels, found, strict=True):
        number = _NUMBER_IN_LABEL.sub(lambda m: "#" if signed else m.group(1) + "#", label)
        texts.add(re.sub(r"[\s_-]+", "", number).lower())  # 'Day 1' = 'day_2' = 'day3'
        numbers.append(-float(digits) if signed and sign else float(digits))
    if len(texts) != 1 or len(set(numbers)) != len(numbers):
        return None
    return np.array(numbers)


def _warn_if_reordered(
    where: str, cats: pd.Index, present: np.ndarray, values: np.ndarray, by: str, *, guessed: bool
) -> None:
    """Warn when the category order of an ordered categorical differs from the time order scam uses."""
    by_values = present[np.argsort(values[present], kind="stable")]
    if np.array_equal(by_values, np.sort(present)):
        return
    used = "guessed the time order from those numbers" if guessed else "orders the time points by their values"
    warnings.warn(
        f"The category order of {where} ({', '.join(str(cats[i]) for i in np.sort(present))}) is not the order of "
        f"{by}; scam {used}: {' < '.join(str(cats[i]) for i in by_values)}. To silence this, put the "
        f"categories in time order (`adata.obs[...] = adata.obs[...].cat.reorder_categories([...])`) or make "
        "the column numeric.",
        UserWarning,
        stacklevel=4,
    )


def _merge_close(
    values: np.ndarray, present: np.ndarray, counts: np.ndarray, where: str, cats: pd.Index
) -> list[list[int]]:
    """Groups of the present categories whose values are equal up to float32 rounding (one time point each).

    A group's first member is its representative: the value written with the fewest digits (then
    the one with the most cells). A merge is reported in a ``UserWarning``.
    """
    order = present[np.argsort(values[present], kind="stable")]
    scale = span(values[present])
    groups: list[list[int]] = []
    for i in order:
        if groups and same_time(values[groups[-1][0]], values[i], scale):
            groups[-1].append(i)
        else:
            groups.append([i])
    merged = []
    for group in groups:
        if len(group) > 1:
            group.sort(key=lambda i: (len(repr(float(values[i]))), -counts[i]))
            merged.append(group)
    if merged:
        desc = "; ".join(
            " and ".join(repr(cats[i]) if isinstance(cats[i], str) else repr(float(values[i])) for i in g)
            + f" as {float(values[g[0]])!r}"
            for g in merged
        )
        warnings.warn(
            f"{where} has times that differ only by float rounding, each merged into one time point: {desc}. "
            "To silence this, round the column (e.g. `adata.obs[...] = adata.obs[...].astype(float).round(6)`).",
            UserWarning,
            stacklevel=4,
        )
    return groups


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


#: The largest ratio between two given masses: the path's weights are float32 (up to 3e38), and a chain's weight may
#: exceed its snapshot's mass many times over. A population that grows 10^12-fold between its first and last
#: snapshot is beyond any single-cell time course.
MAX_MASS_RATIO = 1e12


def get_masses(masses, time: TimeInfo) -> np.ndarray:
    """Relative masses per time point, normalised so that the first is 1.

    ``None``: equal; ``"counts"``: relative cell counts; a mapping (or a pandas Series, read by its
    index, e.g. ``adata.obs[time_key].value_counts()``) from time label or value to mass, values
    matched up to float32 rounding as times are; or a sequence with one mass per time point.
    """
    if masses is None:
        m = np.ones(time.n_times)
    elif isinstance(masses, str):
        if masses != "counts":
            raise ValueError(f"`masses={masses!r}` is not understood; use None, 'counts', or a mapping time -> mass.")
        m = time.counts().astype(np.float64)
    elif isinstance(masses, (Mapping, pd.Series)):
        m = _masses_by_time(masses, time)
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
    if m.max() / m.min() > MAX_MASS_RATIO:
        raise ValueError(
            f"`masses` span a factor of {m.max() / m.min():.3g} (from {m.min():.3g} to {m.max():.3g}), beyond the "
            f"{MAX_MASS_RATIO:.0e} that scam's single-precision weights hold. Give relative population sizes (e.g. "
            "cell counts or estimated totals, not their exponentials), or masses=None to learn relative growth only."
        )
    return m / m[0]


def _masses_by_time(masses: Mapping | pd.Series, time: TimeInfo) -> np.ndarray:
    """One mass per time point from a mapping or Series keyed by time label or value."""
    observed = ", ".join(map(repr, time.labels))
    series = " (a pandas Series is read by its index)" if isinstance(masses, pd.Series) else ""
    m: list = [None] * time.n_times
    unknown = []
    for key, mass in masses.items():
        k = _time_point(key, time)
        if k is None:
            if not _is_zero(mass):  # an unused category of `value_counts()` has count 0: no time point, no mass
                unknown.append(key)
        elif m[k] is not None and _differ(m[k], mass):
            raise ValueError(
                f"`masses` gives time {time.labels[k]!r} two masses ({m[k]!r} and {mass!r}: its label and its value, "
                f"or two values equal up to float32 rounding, are both keys){series}; give one."
            )
        else:
            m[k] = mass
    missing = [label for label, mass in zip(time.labels, m, strict=True) if mass is None]
    if missing:
        raise ValueError(
            f"`masses` has no entry for time {missing[0]!r}{series}; give one mass per observed time ({observed})."
        )
    if unknown:
        raise ValueError(
            f"`masses` has entries for times that are not observed: {unknown}{series}; give one mass per observed "
            f"time ({observed}), by label or value."
        )
    try:
        return np.array(m, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`masses` must map each time to a positive number, got {m!r}.") from None


def _is_zero(mass) -> bool:
    try:
        return bool(mass == 0)
    except (TypeError, ValueError):  # pd.NA, arrays
        return False


def _differ(a, b) -> bool:
    """Whether two masses given for one time differ (``pd.NA`` or arrays are taken as different)."""
    try:
        return bool(a != b)
    except (TypeError, ValueError):
        return True


def _time_point(key, time: TimeInfo) -> int | None:
    """Index of the time point a masses key names: its label, or its value up to float32 rounding."""
    if isinstance(key, str):
        return time.labels.index(key) if key in time.labels else None
    if isinstance(key, bool) or not isinstance(key, (int, float, np.integer, np.floating)):
        return None
    hit = np.flatnonzero(same_time(time.values, float(key), span(time.values)))
    return int(hit[0]) if len(hit) else None


def from_growth_prior(masses) -> bool:
    """Whether a ``masses`` argument asks for the masses of the growth prior (``"growth_prior"``)."""
    return isinstance(masses, str) and masses == "growth_prior"


def resolve_masses(masses, time: TimeInfo, prior_rates: np.ndarray | None) -> np.ndarray:
    """:func:`get_masses`, or with ``masses="growth_prior"`` :func:`masses_from_growth` of the cells' prior rates."""
    return masses_from_growth(prior_rates, time) if from_growth_prior(masses) else get_masses(masses, time)


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
