"""``scam.tl.gene_velocity`` and ``scam.tl.gene_trends``: gene read-outs (PCA loadings, a linear map or a decoder)."""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._validation import check_key_added, check_positive_int, check_seed, writable
from ..model import ActionModel
from ._conditions import _condition_models, _where
from ._decode import LINEAR, PCA, RIDGE, GeneMap, gene_map, rest_columns
from ._utils import (
    cells_at,
    check_stochastic,
    check_time_range,
    draw_cells,
    group_labels,
    knn_votes,
    model_inputs,
    model_rep,
    model_time,
    time_pair,
)

logger = logging.getLogger("scam")


def _map_params(gmap: GeneMap, layer: str | None) -> dict:
    """The gene map's entries of ``params`` (h5ad-serialisable)."""
    out = {"method": gmap.method}
    if gmap.method == PCA:
        out.update(loadings_key=gmap.info["loadings_key"], genes_without_loadings=gmap.info["genes_without_loadings"])
    elif gmap.method == LINEAR:
        out.update(ridge=float(gmap.info["ridge"]), layer="X" if layer is None else layer)
    else:
        out.update(step=float(gmap.info["step"]))
    return out


def gene_velocity(
    adata: AnnData,
    model: ActionModel | Mapping[str, ActionModel],
    *,
    condition_key: str | None = None,
    genes: str | Sequence[str] | None = None,
    decoder: Callable | None = None,
    layer: str | None = None,
    ridge: float = RIDGE,
    time_key: str | None = None,
    use_rep: str | None = None,
    loadings_key: str | None = None,
    key_added: str = _keys.DEFAULT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Velocity of genes: the learned velocity mapped from the model's coordinates to expression.

    The velocity ``v`` of each cell (at its own time, as ``obsm['scam_velocity']`` of
    :func:`scam.tl.fit`) in the coordinates ``z`` of ``use_rep`` is mapped to genes by the
    derivative of the expression along it. Three maps from ``z`` to expression, the first that applies:

    ``decoder``
        Your decoder, e.g. of scVI: the expression ``f(z)`` at latent coordinates ``z``. The gene
        velocity is its derivative along ``v``, ``J_f(z) v``, by central differences
        ``(f(z + h v̂) − f(z − h v̂)) / 2h`` with ``v̂ = v / |v|`` and a step ``h`` of 0.001 times the
        RMS spread of the cells' coordinates (exact for a linear decoder; error ``O(h²)`` otherwise).
    PCA loadings
        With ``use_rep='X_pca'`` and ``varm['PCs']`` (``sc.pp.pca``; or ``loadings_key=``):
        ``X_pca = (X − μ) @ PCs``, so the gene velocity is ``v @ PCs.T``, the component of the
        expression change in the span of the principal components. Genes the PCA did not use
        (``highly_variable`` False) have zero loadings and get 0.
    a linear map fitted on the cells
        Otherwise (any other latent, or ``X_pca`` without loadings): the least-squares fit, with a
        small ridge, of the expression (``adata.X`` or ``layer``, log-normalised as usual) on the
        cells' coordinates, ``expression ≈ b + z @ W``: the gene velocity is ``v @ W``. ``W`` is
        exact when the expression is a linear function of ``z`` and the best linear approximation
        otherwise; ``uns[...]['r2']`` gives the fraction of each gene's variance it explains.

    Only the model's ``n_dims`` coordinates move; a decoder gets all columns of ``use_rep``, those
    beyond ``n_dims`` at the cell's own values.

    Parameters
    ----------
    adata
        Annotated data with the representation, the time column and (for the linear map) the expression.
    model
        A fitted :class:`~scam.ActionModel`, or the ``dict`` of models of
        ``scam.tl.fit(..., condition_key=...)``: each cell's velocity is then its condition's
        model's (as ``obsm['scam_velocity']`` of that fit), mapped to genes by one map of all cells.
    condition_key
        With a ``dict`` of models: the column of ``adata.obs`` with each cell's condition (the
        keys of ``model``); default: the one the models were fitted with. Every condition in
        ``adata`` needs a model.
    genes
        Gene names (``adata.var_names``) to compute; ``None``: all genes.
    decoder
        Function from latent coordinates, a float64 array ``(n, n_cols)`` of ``use_rep``'s columns,
        to expression ``(n, n_vars)`` in the order of ``adata.var_names`` (an array, a CPU torch
        tensor or a DataFrame with gene-name columns), e.g.
        ``lambda z: net(torch.as_tensor(z, dtype=torch.float32)).detach().numpy()``. It is called
        on batches of cells (at most about 4 million numbers of output per call), twice per batch
        for the velocity; only the columns of ``genes`` are kept.
    layer
        Expression the linear map is fitted to (default ``adata.X``).
    ridge
        Ridge of the linear map, relative to the mean variance of the coordinates (the intercept is
        not penalised).
    time_key, use_rep
        Time column and representation; default: those the model was fitted on.
    loadings_key
        ``varm`` key of PCA loadings of ``use_rep``; ``None``: ``'PCs'`` when ``use_rep`` is
        ``'X_pca'`` and ``varm['PCs']`` exists, else none (the linear map).
    key_added
        Results go to ``layers[f"{key_added}_velocity"]`` (all genes) or
        ``obsm[f"{key_added}_gene_velocity"]`` (a subset), and ``uns[f"{key_added}_gene_velocity"]``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing (with ``key_added='scam'``)

    ``adata.layers['scam_velocity']``
        Without ``genes``: dense float32 ``(n_obs, n_vars)``, expression units per unit time
        (``4 · n_obs · n_vars`` bytes: pass ``genes`` on large data). scvelo reads this layer.
    ``adata.obsm['scam_gene_velocity']``
        With ``genes``: a float32 DataFrame ``(n_obs, n_genes)`` with the genes as columns; nothing
        of size ``n_vars`` is built.
    ``adata.uns['scam_gene_velocity']``
        ``genes`` (names), ``r2`` (linear map: explained variance per gene) and ``params``
        (``method``: ``'pca_loadings'``, ``'linear_map'`` or ``'decoder'``, and its settings; with
        a ``dict`` of models, ``condition_key`` and ``conditions``).

    A rerun replaces the results of the previous one (a layer by a subset, too).
    """
    per_condition = _condition_models(adata, model, condition_key)
    if per_condition is None:
        runs = [(None, np.arange(adata.n_obs), model)]
    else:
        condition_key, runs = per_condition
    first = runs[0][2]
    time_key, use_rep = model_inputs(adata if per_condition is None else adata[runs[0][1]], first, time_key, use_rep)
    key_added = check_key_added(key_added)
    times = np.zeros(adata.n_obs)  # each cell's time on its model's time axis
    for name, rows, m in runs:
        try:
            times[rows] = _cell_times(adata if name is None else adata[rows], m, time_key, use_rep, first)
        except ValueError as err:
            raise ValueError(f"{_where(condition_key, name)}{err}") from None
    subset = genes is not None
    cols = np.asarray(_gene_index(adata, genes) if subset else np.arange(adata.n_vars), dtype=np.int64)
    X = model_rep(adata, first, use_rep)
    gmap = gene_map(
        adata,
        first,
        use_rep,
        X,
        cols,
        decoder=decoder,
        loadings_key=loadings_key,
        layer=layer,
        ridge=ridge,
        offset=False,
    )
    layer_key, obsm_key = _keys.gene_velocity(key_added), _keys.gene_velocity_genes(key_added)
    skip = [("layers", layer_key)] if subset else [("obsm", obsm_key)]
    _keys.check_free(adata, _keys.GENE_VELOCITY, key_added, skip=skip)
    start = _time.perf_counter()
    logger.info("computing gene velocities of %d cells x %d genes (%s)", adata.n_obs, len(cols), gmap.method)
    v = np.zeros_like(X)
    for _, rows, m in runs:
        v[rows] = m.velocity(X[rows], times[rows])
    gene_v = gmap.velocity(X, v, rest_columns(adata, use_rep, first, gmap)).astype(np.float32)
    previous = _keys.recorded(adata, _keys.gene_velocity_params(key_added), _keys.GENE_VELOCITY) or set()
    adata = writable(adata, copy)
    _keys.remove(adata, [(slot, k) for slot, k in skip if (slot, k) in previous and _keys_present(adata, slot, k)])
    if subset:
        adata.obsm[obsm_key] = pd.DataFrame(gene_v, index=adata.obs_names.copy(), columns=list(gmap.genes))
    else:
        adata.layers[layer_key] = gene_v
    entry = {
        "genes": np.asarray(gmap.genes, dtype=str),
        "params": {
            "time_key": time_key,
            "use_rep": use_rep,
            "n_dims": int(first.n_dims),
            "genes": "subset" if subset else "all",
            **_map_params(gmap, layer),
            **({} if per_condition is None else {"condition_key": condition_key, "conditions": [r[0] for r in runs]}),
        },
        _keys.WRITTEN: _keys.record(_keys.GENE_VELOCITY, key_added, skip=skip),
    }
    if gmap.method == LINEAR:
        entry["r2"] = gmap.info["r2"]
    adata.uns[_keys.gene_velocity_params(key_added)] = entry
    logger.info(
        "finished (%.1f s): added '%s' (adata.%s)",
        _time.perf_counter() - start,
        obsm_key if subset else layer_key,
        "obsm" if subset else "layers",
    )
    if gmap.method == PCA and gmap.info["genes_without_loadings"]:
        logger.info("%d genes have no PCA loadings and get 0", gmap.info["genes_without_loadings"])
    return adata if copy else None


def _cell_times(adata: AnnData, model: ActionModel, time_key: str, use_rep: str, first: ActionModel) -> np.ndarray:
    """Each cell's time on ``model``'s time axis, checked against its fitted range (and its coordinates)."""
    model_inputs(adata, model, time_key, use_rep)
    if model.n_dims != first.n_dims:
        raise ValueError(
            f"The model has {model.n_dims} coordinates but another has {first.n_dims}; the models of one "
            "`scam.tl.fit(..., condition_key=...)` share them: pass that dict."
        )
    time = model_time(adata, model, time_key)
    where = f"of adata.obs[{time_key!r}]"
    check_time_range(
        model, time, {f"the first time {where}": time.values[0], f"the last time {where}": time.values[-1]}
    )
    return time.values[time.codes]


def _keys_present(adata: AnnData, slot: str, key: str) -> bool:
    return key in getattr(adata, slot)


def _gene_index(adata: AnnData, genes) -> list[int]:
    if isinstance(genes, str):
        genes = [genes]
    if isinstance(genes, (pd.Index, pd.Series)):  # e.g. adata.var_names[:5]
        genes = genes.tolist()
    if not isinstance(genes, Sequence | np.ndarray) or len(genes) == 0:
        raise ValueError(f"`genes` must be a gene name or a non-empty list of names in adata.var_names, got {genes!r}.")
    genes = [str(g) for g in genes]
    missing = [g for g in genes if g not in adata.var_names]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" …" if len(missing) > 5 else "")
        raise ValueError(
            f"{len(missing)} of `genes` are not in adata.var_names: {shown}. Check the spelling, or use "
            "`adata.raw` / a gene-symbol column as var_names (e.g. `adata.var_names = adata.var['symbol']`)."
        )
    if len(set(genes)) != len(genes):
        raise ValueError("`genes` lists a gene more than once; pass each gene once.")
    if not adata.var_names.is_unique:
        raise ValueError("adata.var_names are not unique; run `adata.var_names_make_unique()` first.")
    return [int(adata.var_names.get_loc(g)) for g in genes]


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over paths (axis 1) of ``values (T, n, G)`` with weights ``(T, n)``."""
    w = weights / weights.sum(1, keepdims=True)
    mean = np.einsum("tn,tng->tg", w, values)
    var = np.einsum("tn,tng->tg", w, (values - mean[:, None, :]) ** 2)
    return mean, np.sqrt(np.maximum(var, 0.0))


def _class_stats(
    expression: np.ndarray, weights: np.ndarray, path_class: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and std ``(n_classes, T, G)`` over the paths of each class; NaN for a class without paths.

    ``expression`` is ``(T, n_paths, G)``, ``weights`` ``(T, n_paths)``.
    """
    shape = (n_classes, expression.shape[0], expression.shape[2])
    mean, std = np.full(shape, np.nan), np.full(shape, np.nan)
    for c in range(n_classes):
        sel = path_class == c
        if sel.any():
            mean[c], std[c] = _weighted_stats(expression[:, sel], weights[:, sel])
    return mean, std


def gene_trends(
    adata: AnnData,
    model: ActionModel,
    genes: str | Sequence[str],
    *,
    groupby: str | None = None,
    source: float | str | None = None,
    target: float | str | None = None,
    n_cells: int = 200,
    n_points: int = 50,
    n_neighbors: int = 15,
    stochastic: bool | None = None,
    time_key: str | None = None,
    use_rep: str | None = None,
    decoder: Callable | None = None,
    loadings_key: str | None = None,
    layer: str | None = None,
    ridge: float = RIDGE,
    random_state: int | None = 0,
    key_added: str = _keys.DEFAULT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Expression of genes along simulated paths, per fate class: mean ± spread over paths.

    ``n_cells`` cells observed at ``source`` are simulated to ``target``. Positions ``z`` along
    each path are mapped to genes by the first map that applies (as in :func:`gene_velocity`):
    the ``decoder``, ``f(z)`` (columns of ``use_rep`` beyond the model's ``n_dims`` held at the
    start cell's values); the PCA reconstruction ``μ + z @ PCs.T`` (restricted to the model's
    ``n_dims`` components) with ``use_rep='X_pca'`` and ``varm['PCs']``, ``μ`` chosen so that the
    reconstruction of the observed cells is unbiased: ``μ = mean(X) − mean(X_pca) @ PCs.T`` (the
    gene means when the PCA centred ``adata.X`` on these cells, as ``sc.pp.pca`` does); else a
    linear map ``b + z @ W`` fitted on the cells by least squares with a small ridge (unbiased on
    them, as it has an intercept; ``uns[...]['r2']``: the variance it explains). With ``groupby``, each path is
    assigned the class that the ``n_neighbors`` nearest observed cells at ``target`` vote for
    (as in :func:`fate`), and the statistics are per class. Means and spreads are weighted by the
    paths' growth weights ``exp ∫ g dt`` (``g``: the model's growth rate) at each time.

    Parameters
    ----------
    adata
        Annotated data with the representation, the time column and (except with a decoder) the
        expression (``adata.X`` or ``layer``).
    model
        A fitted :class:`~scam.ActionModel`.
    genes
        Gene names (``adata.var_names``).
    groupby
        Column of ``adata.obs`` with the classes of the cells at ``target``; ``None``: one class ``"all"``.
    source, target
        Observed time points (value or label); default: the first and the last.
    n_cells
        Start cells, drawn at random among the cells at ``source`` (all when fewer).
    n_points
        Time points along the paths (``n_points - 1`` integration steps).
    n_neighbors
        Observed target cells that vote for the class of each path's end.
    stochastic
        Simulate the SDE (``None``: when the model has σ > 0 and the simulation runs forward).
    time_key, use_rep
        Time column and representation; default: those the model was fitted on.
    decoder
        Function from latent coordinates ``(n, n_cols of use_rep)`` to expression ``(n, n_vars)``
        (see :func:`gene_velocity`).
    loadings_key
        ``varm`` key of PCA loadings of ``use_rep``; ``None``: ``'PCs'`` when ``use_rep`` is
        ``'X_pca'`` and ``varm['PCs']`` exists, else none (the linear map).
    layer
        Expression for the gene means of the PCA map and for the linear map (default ``adata.X``).
    ridge
        Ridge of the linear map, relative to the mean variance of the coordinates.
    random_state
        Seed of the start-cell choice and the noise.
    key_added
        Results go to ``uns[f"{key_added}_gene_trends"]``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing ``adata.uns['scam_gene_trends']`` with ``genes``, ``times``
    ``(n_points,)``, ``classes``, ``mean`` and ``std`` ``(n_classes, n_points, n_genes)`` (NaN for a
    class no path reached), ``n_paths`` per class, ``r2`` (linear map) and ``params`` (with the
    ``method`` of the map: ``'pca_loadings'``, ``'linear_map'`` or ``'decoder'``).
    """
    time_key, use_rep = model_inputs(adata, model, time_key, use_rep)
    key_added = check_key_added(key_added)
    n_cells = check_positive_int("n_cells", n_cells)
    n_points = check_positive_int("n_points", n_points)
    n_neighbors = check_positive_int("n_neighbors", n_neighbors)
    if n_points < 2:
        raise ValueError(f"`n_points` must be at least 2, got {n_points}.")
    stochastic = check_stochastic(stochastic)
    random_state = check_seed(random_state)
    cols = _gene_index(adata, genes)
    gene_names = [str(adata.var_names[c]) for c in cols]
    time = model_time(adata, model, time_key)
    k_src, k_tgt, t_src, t_tgt, noisy = time_pair(
        model, time, source, target, stochastic, what="paths", hint="choose two", default=True
    )
    rows_tgt = cells_at(time, k_tgt)
    if groupby is None:
        codes_tgt, classes = np.zeros(len(rows_tgt), dtype=np.int64), ["all"]
    else:
        codes_tgt, classes = group_labels(adata, groupby, rows_tgt, f"at the target time {time.labels[k_tgt]!r}")
    X = model_rep(adata, model, use_rep)
    _keys.check_free(adata, _keys.GENE_TRENDS, key_added)
    gmap = gene_map(
        adata,
        model,
        use_rep,
        X,
        np.asarray(cols, dtype=np.int64),
        decoder=decoder,
        loadings_key=loadings_key,
        layer=layer,
        ridge=ridge,
        offset=True,
    )
    flat = [g for g, w in zip(gene_names, gmap.W.T, strict=True) if not np.any(w)] if gmap.method == PCA else []
    if flat:
        warnings.warn(
            f"{len(flat)} of `genes` have no PCA loadings ({', '.join(flat[:5])}): their trend is constant. "
            "Include them in the PCA (e.g. mark them highly_variable) to follow them.",
            UserWarning,
            stacklevel=2,
        )

    start = _time.perf_counter()
    start_rows = draw_cells(cells_at(time, k_src), n_cells, random_state)
    logger.info("simulating %d paths from %g to %g for %d genes", len(start_rows), t_src, t_tgt, len(cols))
    paths, weights = model.simulate(
        X[start_rows],
        t_src,
        t_tgt,
        n_steps=n_points - 1,
        stochastic=noisy,
        return_weights=True,
        return_path=True,
        random_state=random_state,
    )
    paths, weights = np.asarray(paths, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    rest = rest_columns(adata, use_rep, model, gmap)
    n_t, n_paths = paths.shape[:2]
    rest = None if rest is None else np.tile(rest[start_rows], (n_t, 1))
    expression = gmap.expression(paths.reshape(n_t * n_paths, -1), rest).reshape(n_t, n_paths, -1)  # (T, n, G)
    votes = knn_votes(paths[-1], X[rows_tgt], codes_tgt, len(classes), n_neighbors)
    path_class = votes.argmax(1)
    mean, std = _class_stats(expression, weights, path_class, len(classes))
    result = {
        "genes": np.asarray(gene_names, dtype=str),
        "times": np.linspace(t_src, t_tgt, n_points),
        "classes": np.asarray(classes, dtype=str),
        "mean": mean.astype(np.float32),
        "std": std.astype(np.float32),
        "n_paths": np.bincount(path_class, minlength=len(classes)).astype(np.int64),
        "params": {
            "groupby": "none" if groupby is None else groupby,
            "source": t_src,
            "target": t_tgt,
            "n_cells": len(start_rows),
            "n_points": n_points,
            "n_neighbors": n_neighbors,
            "stochastic": noisy,
            "time_key": time_key,
            "use_rep": use_rep,
            "layer": "X" if layer is None else layer,
            "random_state": int(random_state),
            **_map_params(gmap, layer),
        },
        _keys.WRITTEN: _keys.record(_keys.GENE_TRENDS, key_added),
    }
    if gmap.method == LINEAR:
        result["r2"] = gmap.info["r2"]
    adata = writable(adata, copy)
    adata.uns[_keys.gene_trends(key_added)] = result
    logger.info("finished (%.1f s): added '%s' (adata.uns)", _time.perf_counter() - start, _keys.gene_trends(key_added))
    return adata if copy else None
