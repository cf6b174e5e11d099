"""``scam.tl.fate`` and ``scam.tl.transition_matrix``: where the descendants of cells end up."""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._validation import check_key_added, check_positive_int, check_seed, class_order, writable
from ..model import ActionModel
from ._conditions import _condition_models, _where
from ._utils import (
    cells_at,
    check_stochastic,
    group_labels,
    knn_votes,
    model_inputs,
    model_rep,
    model_time,
    time_pair,
)

logger = logging.getLogger("scam")


# ---------------------------------------------------------------------------------------------- the computation
def _setup(adata, model, source, target, groupby, n_samples, n_neighbors, n_steps, stochastic, time_key, use_rep):
    """Check the inputs (nothing is written) and gather the arrays of a fate computation.

    The arguments are those of :func:`fate`, in its order.
    """
    time_key, use_rep = model_inputs(adata, model, time_key, use_rep)
    n_samples = check_positive_int("n_samples", n_samples)
    n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    n_steps = check_positive_int("n_steps", n_steps)
    stochastic = check_stochastic(stochastic)
    time = model_time(adata, model, time_key)
    k_src, k_tgt, t_src, t_tgt, noisy = time_pair(
        model, time, source, target, stochastic, what="fates", hint="choose a later `target`", default=False
    )
    rows_src, rows_tgt = cells_at(time, k_src), cells_at(time, k_tgt)
    codes_tgt, classes = group_labels(adata, groupby, rows_tgt, f"at the target time {time.labels[k_tgt]!r}")
    X = model_rep(adata, model, use_rep)
    return {
        "time": time,
        "time_key": time_key,
        "use_rep": use_rep,
        "t_src": t_src,
        "t_tgt": t_tgt,
        "k_src": k_src,
        "k_tgt": k_tgt,
        "rows_src": rows_src,
        "rows_tgt": rows_tgt,
        "codes_tgt": codes_tgt,
        "classes": classes,
        "X": X,
        "n_samples": n_samples,
        "n_neighbors": n_neighbors,
        "n_steps": n_steps,
        "noisy": noisy,
    }


def _probabilities(model: ActionModel, s: dict, random_state: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Fate probabilities ``(n_source, n_classes)``, mean weight per source cell, and whether noise was drawn."""
    noisy = s["noisy"]
    n_rep = s["n_samples"] if noisy else 1
    X_src = np.repeat(s["X"][s["rows_src"]], n_rep, axis=0)
    end, w = model.simulate(
        X_src,
        s["t_src"],
        s["t_tgt"],
        n_steps=s["n_steps"],
        stochastic=noisy,
        return_weights=True,
        random_state=random_state,
    )
    n_classes = len(s["classes"])
    votes = knn_votes(end, s["X"][s["rows_tgt"]], s["codes_tgt"], n_classes, s["n_neighbors"])
    votes = votes.reshape(-1, n_rep, n_classes)
    w = np.asarray(w, dtype=np.float64).reshape(-1, n_rep)
    if not np.all(np.isfinite(w)) or np.any(w.sum(1) <= 0):
        raise ValueError(
            "The growth weights overflowed along the simulated paths; simulate over a shorter interval or fit "
            "with a smaller `lam`."
        )
    probs = (votes * w[..., None]).sum(1) / w.sum(1, keepdims=True)
    return probs, w.mean(1), noisy


def _params(s: dict, *, groupby: str, noisy: bool, random_state: int) -> dict:
    return {
        "source": s["t_src"],
        "target": s["t_tgt"],
        "source_label": s["time"].labels[s["k_src"]],
        "target_label": s["time"].labels[s["k_tgt"]],
        "groupby": groupby,
        "time_key": s["time_key"],
        "use_rep": s["use_rep"],
        "n_samples": s["n_samples"] if noisy else 1,
        "n_neighbors": s["n_neighbors"],
        "n_steps": s["n_steps"],
        "stochastic": noisy,
        "random_state": int(random_state),
    }


# ---------------------------------------------------------------------------------------------- public
def fate(
    adata: AnnData,
    model: ActionModel | Mapping[str, ActionModel],
    *,
    condition_key: str | None = None,
    source: float | str,
    target: float | str,
    groupby: str,
    n_samples: int = 10,
    n_neighbors: int = 15,
    n_steps: int = 100,
    stochastic: bool | None = None,
    time_key: str | None = None,
    use_rep: str | None = None,
    random_state: int | None = 0,
    key_added: str = _keys.DEFAULT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Fate probabilities: where the descendants of each cell at ``source`` are at ``target``.

    Every cell observed at ``source`` is pushed to ``target`` with the learned dynamics
    (``n_samples`` noisy descendants per cell when the model simulates the SDE, one otherwise).
    Each end point votes for the ``groupby`` classes of its ``n_neighbors`` nearest observed
    cells at ``target`` (the fraction of each class among them); a cell's fate probabilities are
    the votes of its descendants averaged with their growth weights ``exp ∫ g dt`` (``g``: the
    model's growth rate), so a descendant that multiplies counts more. Rows sum to 1.

    With the ``dict`` of models of ``scam.tl.fit(..., condition_key=...)``, each condition's
    cells at ``source`` follow their condition's model and vote among their condition's cells at
    ``target``, with the same arguments and ``random_state`` as a call on that condition's cells
    alone (its classes are those it reaches; the others get 0).

    Parameters
    ----------
    adata
        Annotated data with the time column and the representation of the fit.
    model
        The fitted :class:`~scam.ActionModel`, or the ``dict`` of models of
        ``scam.tl.fit(..., condition_key=...)`` (one per condition).
    condition_key
        With a ``dict`` of models: the column of ``adata.obs`` with each cell's condition (the
        keys of ``model``); default: the one the models were fitted with. Every condition in
        ``adata`` needs a model.
    source, target
        Observed time points, by value (``2.0``) or label (``"day 2"``) of ``adata.obs[time_key]``.
        A ``target`` before ``source`` gives ancestor probabilities (ODE only).
    groupby
        Column of ``adata.obs`` with the classes (cell types, clusters) of the cells at ``target``.
    n_samples
        Descendants per cell when the simulation is stochastic (ignored for the ODE).
    n_neighbors
        Observed target cells that vote for each end point.
    n_steps
        Integration steps.
    stochastic
        Simulate the SDE (``None``: when the model has σ > 0 and the simulation runs forward).
    time_key, use_rep
        Time column and representation; default: those the model was fitted on.
    random_state
        Seed of the noise.
    key_added
        Results go to ``obsm[f"{key_added}_fate"]`` and ``uns[f"{key_added}_fate"]``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing

    ``adata.obsm['scam_fate']``
        ``(n_obs, n_classes)`` float32 fate probabilities; NaN for cells not observed at ``source``.
        As a table: ``pd.DataFrame(adata.obsm['scam_fate'], index=adata.obs_names,
        columns=adata.uns['scam_fate']['classes'])``.
    ``adata.uns['scam_fate']``
        ``classes`` (the ``groupby`` classes present at ``target``, in category order) and ``params``;
        with a ``dict`` of models, ``params`` also holds ``condition_key`` and ``conditions`` (the
        names in order), and ``conditions`` holds each condition's ``classes`` and ``params``.
    """
    args = (source, target, groupby, n_samples, n_neighbors, n_steps, stochastic, time_key, use_rep)
    condition_key, runs = _runs(adata, model, condition_key, args)
    key_added, random_state = check_key_added(key_added), check_seed(random_state)
    _keys.check_free(adata, _keys.FATE, key_added)
    start = _time.perf_counter()
    classes = _all_classes(adata, groupby, [s for _, _, _, s in runs])
    out = np.full((adata.n_obs, len(classes)), np.nan, dtype=np.float32)
    per_condition = {}
    for name, rows, m, s in runs:
        logger.info(
            "%scomputing fates of %d cells from %g to %g over %d classes of %r",
            "" if name is None else f"condition {name!r}: ",
            len(s["rows_src"]),
            s["t_src"],
            s["t_tgt"],
            len(s["classes"]),
            groupby,
        )
        probs, _, noisy = _probabilities(m, s, random_state)
        cols = [classes.index(c) for c in s["classes"]]
        src = rows[s["rows_src"]]
        out[src] = 0.0  # a class the condition does not reach at the target
        out[np.ix_(src, cols)] = probs
        per_condition[name] = {
            "classes": np.asarray(s["classes"], dtype=str),
            "params": _params(s, groupby=groupby, noisy=noisy, random_state=random_state),
        }
    adata = writable(adata, copy)
    adata.obsm[_keys.fate(key_added)] = out
    entry = {"classes": np.asarray(classes, dtype=str), "params": per_condition[runs[0][0]]["params"]}
    if runs[0][0] is not None:
        entry["params"] = {**entry["params"], "condition_key": condition_key, "conditions": list(per_condition)}
        entry["conditions"] = {_keys.condition(name): v for name, v in per_condition.items()}
    entry[_keys.WRITTEN] = _keys.record(_keys.FATE, key_added)
    adata.uns[_keys.fate(key_added)] = entry
    logger.info(
        "finished (%.1f s): added '%s' (adata.obsm), '%s' (adata.uns)",
        _time.perf_counter() - start,
        _keys.fate(key_added),
        _keys.fate(key_added),
    )
    return adata if copy else None


def transition_matrix(
    adata: AnnData,
    model: ActionModel | Mapping[str, ActionModel],
    *,
    condition_key: str | None = None,
    source: float | str,
    target: float | str,
    groupby: str,
    n_samples: int = 10,
    n_neighbors: int = 15,
    n_steps: int = 100,
    stochastic: bool | None = None,
    time_key: str | None = None,
    use_rep: str | None = None,
    random_state: int | None = 0,
    key_added: str = _keys.DEFAULT_KEY,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Class-to-class transitions of the cells between two time points (shares of cells; growth beside them).

    Like moscot's ``cell_transition`` (aggregating a transport plan by annotation), but from the
    learned dynamics: entry ``(a, b)`` is the share of the cells at ``source`` that are in class
    ``a`` **and** whose descendants are in class ``b`` at ``target``,

    ``T[a, b] = (1 / n_source) Σ_{i ∈ a} P_i(b)``,

    with ``P_i`` the fate probabilities of :func:`fate` (same arguments). Each row sums to the
    share of class ``a`` among the source cells, the whole matrix to 1; divide each row by its
    sum for moscot's ``forward=True`` (row-stochastic) normalisation. Growth enters through the
    weighting of each cell's descendants (which class they end in), not through the row sums: the
    mean mass multiplier of each source class over the interval (``exp ∫ g dt``, 1 without growth)
    is stored beside the matrix; multiply row ``a`` by it for the flow of mass. With ``target``
    before ``source`` (backward in time) the multiplier is ``exp`` of the growth integrated
    backward, the reciprocal of the forward one (a class that grows forward shrinks backward).

    Parameters
    ----------
    adata
        Annotated data with the time column and the representation of the fit.
    model
        The fitted :class:`~scam.ActionModel`, or the ``dict`` of models of
        ``scam.tl.fit(..., condition_key=...)``: then one matrix per condition, of its cells with
        its model (as a call on that condition's cells alone).
    condition_key
        As in :func:`fate`.
    source, target
        Observed time points, by value or label.
    groupby
        Column of ``adata.obs`` with the classes of the cells at both ``source`` (rows) and
        ``target`` (columns).
    n_samples, n_neighbors, n_steps, stochastic, time_key, use_rep, random_state
        As in :func:`fate`.
    key_added
        The matrix is also stored in ``uns[f"{key_added}_transitions"]`` (for
        :func:`scam.pl.transitions`).

    Returns
    -------
    DataFrame ``(source classes, target classes)``. ``adata.uns['scam_transitions']`` gets
    ``matrix``, ``source_classes``, ``target_classes``, ``mass_multiplier`` (per source class)
    and ``params``. With a ``dict`` of models: a ``dict`` from each condition to its DataFrame,
    and ``adata.uns['scam_transitions']`` holds ``params`` (with ``condition_key`` and
    ``conditions``) and ``conditions``: per condition (``/`` stored as ``_``) the entries above;
    :func:`scam.pl.transitions` draws one panel per condition.
    """
    args = (source, target, groupby, n_samples, n_neighbors, n_steps, stochastic, time_key, use_rep)
    condition_key, runs = _runs(adata, model, condition_key, args)
    key_added, random_state = check_key_added(key_added), check_seed(random_state)
    _keys.check_free(adata, _keys.TRANSITIONS, key_added)
    sources = []
    for name, rows, _, s in runs:  # every condition's source classes, before anything is computed
        where = f"at the source time {s['time'].labels[s['k_src']]!r}"
        try:
            sources.append(group_labels(adata, groupby, rows[s["rows_src"]], where))
        except ValueError as err:
            raise ValueError(f"{_where(condition_key, name)}{err}") from None
    entries, tables = {}, {}
    for (name, _, m, s), (codes_src, src_classes) in zip(runs, sources, strict=True):
        logger.info(
            "%scomputing transitions of %r from %g to %g",
            "" if name is None else f"condition {name!r}: ",
            groupby,
            s["t_src"],
            s["t_tgt"],
        )
        probs, w, noisy = _probabilities(m, s, random_state)
        n_src = len(s["rows_src"])
        matrix = np.zeros((len(src_classes), len(s["classes"])))
        np.add.at(matrix, codes_src, probs / n_src)
        multiplier = np.bincount(codes_src, weights=w, minlength=len(src_classes)) / np.bincount(
            codes_src, minlength=len(src_classes)
        )
        entries[name] = {
            "matrix": matrix,
            "source_classes": np.asarray(src_classes, dtype=str),
            "target_classes": np.asarray(s["classes"], dtype=str),
            "mass_multiplier": multiplier,
            "params": _params(s, groupby=groupby, noisy=noisy, random_state=random_state),
        }
        tables[name] = pd.DataFrame(
            matrix,
            index=pd.Index(src_classes, name=f"{groupby} at {s['t_src']:g}"),
            columns=pd.Index(s["classes"], name=f"{groupby} at {s['t_tgt']:g}"),
        )
    if condition_key is None:
        entry = entries[None]
    else:
        params = {**entries[runs[0][0]]["params"], "condition_key": condition_key, "conditions": list(entries)}
        entry = {"params": params, "conditions": {_keys.condition(name): e for name, e in entries.items()}}
    entry[_keys.WRITTEN] = _keys.record(_keys.TRANSITIONS, key_added)
    adata = writable(adata, False)
    adata.uns[_keys.transitions(key_added)] = entry
    logger.info("added '%s' (adata.uns)", _keys.transitions(key_added))
    return tables[None] if condition_key is None else tables


def _runs(adata: AnnData, model, condition_key: str | None, args: tuple) -> tuple[str | None, list]:
    """``(condition_key, [(condition, rows, model, setup)])``: one run of all cells, or one per condition.

    ``args`` are those of :func:`_setup` after ``model``; every run is set up (checked) before any is computed.
    """
    per_condition = _condition_models(adata, model, condition_key)
    if per_condition is None:
        return None, [(None, np.arange(adata.n_obs), model, _setup(adata, model, *args))]
    condition_key, groups = per_condition
    runs = []
    for name, rows, m in groups:
        try:
            runs.append((name, rows, m, _setup(adata[rows], m, *args)))
        except ValueError as err:
            raise ValueError(f"{_where(condition_key, name)}{err}") from None
    return condition_key, runs


def _all_classes(adata: AnnData, groupby: str, setups: list[dict]) -> list[str]:
    """The target classes of all runs, in the order of ``adata.obs[groupby]`` (:func:`scam._validation.class_order`)."""
    present = {c for s in setups for c in s["classes"]}
    return [c for c in class_order(adata.obs[groupby]) if c in present]
