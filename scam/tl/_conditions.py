"""``condition_key`` of :func:`scam.tl.fit`: one model per condition, checked and seeded per condition."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._time import from_growth_prior, get_time
from ..model import ActionModel
from ..trainer import FitConfig


def _where(condition_key: str | None, name: str | None) -> str:
    """The prefix of an error about one condition's cells ('' without conditions)."""
    return "" if name is None else f"Condition {name!r} (adata.obs[{condition_key!r}] == {name!r}): "


#: The end of the error for a ``condition_key`` that is not a column (of a fit; the read-outs say their own).
FIT_WITHOUT = "or pass condition_key=None to fit all cells as one population"


def _condition_levels(
    adata: AnnData, condition_key: str, time_key: str | None = None, *, without: str = FIT_WITHOUT
) -> tuple[list, list[str]]:
    """The conditions of ``adata.obs[condition_key]``: ``(levels, names)`` in category order (else sorted); checked.

    ``levels`` are the values in the column, ``names`` the same as strings (the keys of the models);
    ``without`` ends the error for a missing column (what to do instead).
    """
    if not isinstance(condition_key, str) or condition_key not in adata.obs.columns:
        cols = ", ".join(map(repr, adata.obs.columns)) or "none"
        raise ValueError(
            f"`condition_key={condition_key!r}` is not a column of adata.obs (available: {cols}); name the column "
            f"with each cell's condition, {without}."
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
    _keys.check_distinct(names, f"The conditions of {where}")
    return levels, names


def _condition_rows(
    adata: AnnData, condition_key: str, time_key: str | None = None, *, without: str = FIT_WITHOUT
) -> list[tuple[str, np.ndarray]]:
    """``(name, cell indices)`` per condition of ``adata.obs[condition_key]``, in order (:func:`_condition_levels`)."""
    levels, names = _condition_levels(adata, condition_key, time_key, without=without)
    values = adata.obs[condition_key].to_numpy()
    return [(name, np.flatnonzero(values == level)) for level, name in zip(levels, names, strict=True)]


def _condition_groups(adata: AnnData, condition_key: str, time_key: str, masses) -> list:
    """``(name, cell indices, TimeInfo, masses)`` per condition, in category order (else sorted); checked."""
    rows = _condition_rows(adata, condition_key, time_key)
    per_condition = _masses_per_condition(masses, [name for name, _ in rows])
    groups = []
    for name, idx in rows:
        try:
            time = get_time(adata, time_key, rows=idx)
        except ValueError as err:
            raise ValueError(
                f"{_where(condition_key, name)}{err} Each condition is fitted alone (one model per condition), so "
                "each needs at least two time points with enough cells: drop that condition's cells "
                f"(`adata = adata[adata.obs[{condition_key!r}] != {name!r}].copy()`) or fit without `condition_key`."
            ) from None
        groups.append((name, idx, time, per_condition[name]))
    return groups


def _masses_per_condition(masses, names: list[str]) -> dict:
    """Each condition's ``masses``: the same for all, or from a mapping with one entry per condition.

    A mapping of numbers alone is one mass per time point for every condition, also where the times and the
    conditions share names (integer conditions 0 and 1, times 0-4): a condition's entry is itself masses.
    """
    numbers = isinstance(masses, Mapping) and all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in masses.values()
    )
    if isinstance(masses, Mapping) and not numbers and any(str(k) in names for k in masses):
        given = {str(k): v for k, v in masses.items()}
        if set(given) != set(names):
            missing, extra = sorted(set(names) - set(given)), sorted(set(given) - set(names))
            raise ValueError(
                f"`masses` maps conditions to masses but does not match the conditions {names} (missing: {missing}, "
                f"unknown: {extra}); give one entry per condition, or one set of masses for all."
            )
        if any(from_growth_prior(v) for v in given.values()):
            raise ValueError("`masses='growth_prior'` applies to every condition; pass it alone, not per condition.")
        return given
    return dict.fromkeys(names, masses)


def _condition_seed(config: FitConfig, i: int) -> int:
    """The seed of the ``i``-th condition: drawn from the fit's ``random_state`` and ``i`` (deterministic)."""
    return int(np.random.SeedSequence([int(config.random_state), i]).generate_state(1)[0])


def _condition_params(records: dict, config: FitConfig, sigma, condition_key: str, masses) -> dict:
    """``uns[key]['params']`` of a fit per condition: the shared settings (per-model choices are in each record)."""
    params = dict(next(iter(records.values()))["params"])
    for per_model in ("sigma_auto", "spline_curvature", "spline_shift_drift", "diffusion"):
        params.pop(per_model, None)
    params["sigma"] = sigma if isinstance(sigma, str) else float(sigma)
    params["random_state"] = config.random_state
    params["masses"] = "none" if masses is None else str(masses)
    params["condition_key"] = condition_key
    params["conditions"] = list(records)
    return params


# ---------------------------------------------------------------------------------------------- read-outs
#: The end of a read-out's error for a ``condition_key`` that is not a column.
READOUT_WITHOUT = "the one the models were fitted with (`scam.tl.fit(..., condition_key=...)`)"


def _condition_models(
    adata: AnnData, model, condition_key: str | None, *, time_key: str | None = None
) -> tuple[str, list[tuple[str, np.ndarray, ActionModel]]] | None:
    """The models of a read-out: ``None`` for one model; for a mapping, ``(condition_key, [(name, rows, model)])``.

    A mapping (the ``dict`` of :func:`scam.tl.fit` with ``condition_key``) needs a model for every
    condition among ``adata``'s cells (models of conditions that ``adata`` lacks are not used);
    ``condition_key`` defaults to the column the models record. Raises before anything is computed.
    """
    if not isinstance(model, Mapping):
        if condition_key is not None:
            raise ValueError(
                f"`condition_key={condition_key!r}` goes with a dict of models, one per condition (as "
                "`scam.tl.fit(..., condition_key=...)` returns); with one model, leave it None and pass that "
                "model's condition's cells."
            )
        return None
    if not model:
        raise ValueError("`model` is an empty dict; pass the dict returned by `scam.tl.fit(..., condition_key=...)`.")
    wrong = {str(k): type(m).__name__ for k, m in model.items() if not isinstance(m, ActionModel)}
    if wrong:
        raise TypeError(
            "`model` must be the ActionModel returned by scam.tl.fit, or the dict of them that "
            f"`scam.tl.fit(..., condition_key=...)` returns; got a dict whose values {wrong} are not ActionModels."
        )
    models = {str(k): m for k, m in model.items()}
    if condition_key is None:
        recorded = {m.metadata.get("condition_key") for m in models.values()}
        if len(recorded) != 1 or None in recorded:
            raise ValueError(
                "The models of `model` do not record one condition column (they were not fitted together by "
                "`scam.tl.fit(..., condition_key=...)`); pass `condition_key=` naming the column of adata.obs "
                "whose values are the keys of `model`."
            )
        condition_key = recorded.pop()
    rows = _condition_rows(adata, condition_key, time_key, without=READOUT_WITHOUT)
    missing = [name for name, _ in rows if name not in models]
    if missing:
        raise ValueError(
            f"`model` has no model for the condition(s) {missing} of adata.obs[{condition_key!r}] (it has "
            f"{list(models)}): each cell is read out with its condition's model. Pass the dict returned by "
            f"`scam.tl.fit(adata, condition_key={condition_key!r})`, or leave those cells out "
            f"(`adata[~adata.obs[{condition_key!r}].isin({missing})].copy()`)."
        )
    for name, _ in rows:
        fitted_on = models[name].metadata.get("condition")
        if fitted_on is not None and str(fitted_on) != name:
            raise ValueError(
                f"`model[{name!r}]` was fitted on condition {fitted_on!r}; key each model by its own condition."
            )
    return condition_key, [(name, idx, models[name]) for name, idx in rows]


def _check_one_condition(adata: AnnData, model: ActionModel) -> None:
    """Refuse one condition's model on cells of other conditions (the model records its condition)."""
    key, name = model.metadata.get("condition_key"), model.metadata.get("condition")
    if key is None or name is None or key not in adata.obs.columns:
        return
    others = sorted({str(c) for c in pd.unique(adata.obs[key].dropna())} - {str(name)})
    if others:
        raise ValueError(
            f"`model` is the model of condition {name!r} (adata.obs[{key!r}]), but adata also holds cells of "
            f"{others}, which another model describes. Pass the dict of models returned by "
            f"`scam.tl.fit(..., condition_key={key!r})` to read out each condition with its own model, or this "
            f"condition's cells alone (`adata[adata.obs[{key!r}] == {name!r}].copy()`)."
        )
