"""``condition_key`` of :func:`scam.tl.fit`: one model per condition, checked and seeded per condition."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from .._time import get_time
from ..trainer import FitConfig


def _where(condition_key: str | None, name: str | None) -> str:
    """The prefix of an error about one condition's cells ('' without conditions)."""
    return "" if name is None else f"Condition {name!r} (adata.obs[{condition_key!r}] == {name!r}): "


def _condition_groups(adata: AnnData, condition_key: str, time_key: str, masses) -> list:
    """``(name, cell indices, TimeInfo, masses)`` per condition, in category order (else sorted); checked."""
    if not isinstance(condition_key, str) or condition_key not in adata.obs.columns:
        cols = ", ".join(map(repr, adata.obs.columns)) or "none"
        raise ValueError(
            f"`condition_key={condition_key!r}` is not a column of adata.obs (available: {cols}); name the column "
            "with each cell's condition, or pass condition_key=None to fit all cells as one population."
        )
    if condition_key == time_key:
        raise ValueError(f"`condition_key={condition_key!r}` is the time column; name the column of conditions.")
    col = adata.obs[condition_key]
    where = f"adata.obs[{condition_key!r}]"
    if pd.api.types.is_float_dtype(col.dtype) or not (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(col.dtype)
        or pd.api.types.is_string_dtype(col.dtype)
        or pd.api.types.is_integer_dtype(col.dtype)
        or pd.api.types.is_bool_dtype(col.dtype)
    ):
        raise ValueError(
            f"{where} has dtype {col.dtype}; conditions are labels: make it categorical "
            f"(`adata.obs[{condition_key!r}] = adata.obs[{condition_key!r}].astype(str).astype('category')`)."
        )
    n_missing = int(col.isna().sum())
    if n_missing:
        raise ValueError(
            f"{where} has {n_missing} missing values; fill them (e.g. with an 'unknown' condition) or drop those "
            f"cells (`adata = adata[adata.obs[{condition_key!r}].notna()].copy()`)."
        )
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.cat.codes.to_numpy().tolist())
        levels = [c for i, c in enumerate(col.cat.categories) if i in present]
    else:
        levels = sorted(pd.unique(col.to_numpy()), key=lambda c: (str(type(c)), c))
    names = [str(c) for c in levels]
    if len(set(names)) != len(names):
        raise ValueError(f"{where} has conditions that differ only in type ({names}); make it `.astype(str)`.")
    per_condition = _masses_per_condition(masses, names)
    values = col.to_numpy()
    groups = []
    for level, name in zip(levels, names, strict=True):
        idx = np.flatnonzero(values == level)
        try:
            time = get_time(adata[idx], time_key)
        except ValueError as err:
            raise ValueError(
                f"{_where(condition_key, name)}{err} Each condition is fitted alone (one model per condition), so "
                "each needs at least two time points with enough cells: drop that condition's cells "
                f"(`adata = adata[adata.obs[{condition_key!r}] != {name!r}].copy()`) or fit without `condition_key`."
            ) from None
        groups.append((name, idx, time, per_condition[name]))
    return groups


def _masses_per_condition(masses, names: list[str]) -> dict:
    """Each condition's ``masses``: the same for all, or from a mapping with one entry per condition."""
    if isinstance(masses, Mapping) and any(str(k) in names for k in masses):
        given = {str(k): v for k, v in masses.items()}
        if set(given) != set(names):
            missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
            raise ValueError(
                f"`masses` maps conditions to masses but does not match the conditions {names} (missing: {missing}, "
                f"unknown: {extra}); give one entry per condition, or one set of masses for all."
            )
        if any(isinstance(v, str) and v == "growth_prior" for v in given.values()):
            raise ValueError("`masses='growth_prior'` applies to every condition; pass it alone, not per condition.")
        return given
    return dict.fromkeys(names, masses)


def _condition_seed(config: FitConfig, i: int) -> int:
    """The seed of the ``i``-th condition: drawn from the fit's ``random_state`` and ``i`` (deterministic)."""
    return int(np.random.SeedSequence([int(config.random_state), i]).generate_state(1)[0])


def _condition_params(records: dict, config: FitConfig, sigma, condition_key: str, masses) -> dict:
    """``uns[key]['params']`` of a fit per condition: the shared settings (per-model choices are in each record)."""
    params = dict(next(iter(records.values()))["params"])
    for per_model in ("sigma_auto", "spline_curvature", "diffusion"):
        params.pop(per_model, None)
    params["sigma"] = sigma if isinstance(sigma, str) else float(sigma)
    params["random_state"] = config.random_state
    params["masses"] = "none" if masses is None else str(masses)
    params["condition_key"] = condition_key
    params["conditions"] = list(records)
    return params
