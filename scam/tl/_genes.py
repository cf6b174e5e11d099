"""``scam.tl.gene_velocity`` and ``scam.tl.gene_trends``: read-outs in gene space through the PCA loadings."""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _keys
from .._validation import check_adata, check_key, check_key_added, check_positive_int, check_seed, writable
from ..model import ActionModel
from ._utils import (
    cells_at,
    check_model,
    check_stochastic,
    check_time_range,
    draw_cells,
    group_labels,
    knn_votes,
    model_inputs,
    model_keys,
    model_rep,
    model_time,
    time_pair,
)

logger = logging.getLogger("scam")


def _loadings(adata: AnnData, model: ActionModel, use_rep: str, loadings_key: str) -> np.ndarray:
    """The first ``n_dims`` PCA loadings ``(n_vars, n_dims)``, checked against the representation."""
    loadings_key = check_key("loadings_key", loadings_key)
    if loadings_key not in adata.varm:
        keys = ", ".join(map(repr, adata.varm.keys())) or "none"
        raise ValueError(
            f"adata.varm[{loadings_key!r}] (the PCA loadings) is missing (available: {keys}). Run "
            "`sc.pp.pca(adata)` first, which writes obsm['X_pca'] and varm['PCs'], and fit the model on "
            "use_rep='X_pca'."
        )
    pcs = np.asarray(adata.varm[loadings_key], dtype=np.float64)
    n_comps = adata.obsm[use_rep].shape[1] if use_rep in adata.obsm else None
    if pcs.ndim != 2 or pcs.shape[1] < model.n_dims or (n_comps is not None and pcs.shape[1] != n_comps):
        raise ValueError(
            f"adata.varm[{loadings_key!r}] has shape {pcs.shape}, which does not match adata.obsm[{use_rep!r}] "
            f"({n_comps} columns, of which the model uses {model.n_dims}): the loadings must come from the PCA "
            f"that wrote obsm[{use_rep!r}]. Rerun `sc.pp.pca(adata)` and refit, or pass use_rep= / loadings_key=."
        )
    if not np.all(np.isfinite(pcs)):
        raise ValueError(f"adata.varm[{loadings_key!r}] has NaN or infinite values; rerun `sc.pp.pca(adata)`.")
    return pcs[:, : model.n_dims]


def _pca_keys(adata: AnnData, model: ActionModel, time_key: str | None, use_rep: str | None) -> tuple[str, str]:
    """Check ``adata`` and ``model``; the time column and the representation, which must be ``X_pca``."""
    check_adata(adata)
    check_model(model)
    rep = model_keys(model, time_key, use_rep)[1]
    if rep != "X_pca":
        raise ValueError(
            f"Gene-space read-outs map velocities back through the PCA loadings, so the model must be fitted on "
            f"use_rep='X_pca', not {rep!r}. Run `sc.pp.pca(adata)` and fit with use_rep='X_pca' (or pass "
            "use_rep='X_pca' if the model was fitted on a copy of it under another name)."
        )
    return model_inputs(adata, model, time_key, use_rep)


def gene_velocity(
    adata: AnnData,
    model: ActionModel,
    *,
    time_key: str | None = None,
    use_rep: str | None = None,
    loadings_key: str = "PCs",
    key_added: str = _keys.DEFAULT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Velocity of every gene: the learned velocity mapped back through the PCA loadings.

    With ``X_pca = (X − μ) @ PCs`` (what ``sc.pp.pca`` computes), a velocity ``v`` in PCA
    coordinates is the gene-space velocity ``v @ PCs.T``: the component of the expression change
    that lies in the span of the principal components. It is evaluated at each cell and its own
    time, as ``obsm['scam_velocity']`` of :func:`scam.tl.fit`.

    Parameters
    ----------
    adata
        Annotated data with ``obsm['X_pca']``, ``varm['PCs']`` (from ``sc.pp.pca``) and the time column.
    model
        An :class:`~scam.ActionModel` fitted on ``use_rep='X_pca'``.
    time_key, use_rep
        Time column and representation; default: those the model was fitted on.
    loadings_key
        ``varm`` key of the PCA loadings.
    key_added
        Results go to ``layers[f"{key_added}_velocity"]`` and ``uns[f"{key_added}_gene_velocity"]``.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` (or the copy), writing

    ``adata.layers['scam_velocity']``
        Dense float32 ``(n_obs, n_vars)``, expression units per unit time. Genes the PCA did not
        use (``highly_variable`` False when the PCA ran on highly variable genes) have zero loadings
        and get 0: the model says nothing about them. Only the first ``n_dims`` components enter
        when the model uses fewer than the PCA computed. The layer needs
        ``4 · n_obs · n_vars`` bytes; subset genes first on large data.
    ``adata.uns['scam_gene_velocity']``
        ``params``.
    """
    time_key, use_rep = _pca_keys(adata, model, time_key, use_rep)
    key_added = check_key_added(key_added)
    time = model_time(adata, model, time_key)
    where = f"of adata.obs[{time_key!r}]"
    check_time_range(
        model, time, {f"the first time {where}": time.values[0], f"the last time {where}": time.values[-1]}
    )
    X = model_rep(adata, model, use_rep)
    pcs = _loadings(adata, model, use_rep, loadings_key)
    _keys.check_free(adata, _keys.GENE_VELOCITY, key_added)
    start = _time.perf_counter()
    logger.info("computing gene velocities of %d cells x %d genes", adata.n_obs, adata.n_vars)
    v = model.velocity(X, time.values[time.codes]).astype(np.float64)
    gene_v = (v @ pcs.T).astype(np.float32)
    unused = int((np.abs(pcs).sum(1) == 0).sum())
    adata = writable(adata, copy)
    adata.layers[_keys.gene_velocity(key_added)] = gene_v
    adata.uns[_keys.gene_velocity_params(key_added)] = {
        "params": {
            "time_key": time_key,
            "use_rep": use_rep,
            "loadings_key": loadings_key,
            "n_dims": int(model.n_dims),
            "genes_without_loadings": unused,
        },
        _keys.WRITTEN: _keys.record(_keys.GENE_VELOCITY, key_added),
    }
    logger.info(
        "finished (%.1f s): added '%s' (adata.layers); %d genes have no PCA loadings and get 0",
        _time.perf_counter() - start,
        _keys.gene_velocity(key_added),
        unused,
    )
    return adata if copy else None


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


def _column_means(adata: AnnData, cols: list[int], layer: str | None) -> np.ndarray:
    if layer is None:
        M = adata.X
        if M is None:
            raise ValueError("adata.X is empty; pass `layer=` with the expression the PCA was computed on.")
    else:
        if layer not in adata.layers:
            keys = ", ".join(map(repr, adata.layers.keys())) or "none"
            raise ValueError(f"`layer={layer!r}` is not in adata.layers (available: {keys}).")
        M = adata.layers[layer]
    sub = M[:, cols]
    sub = sub.toarray() if sparse.issparse(sub) else np.asarray(sub)
    means = sub.astype(np.float64).mean(0)
    if not np.all(np.isfinite(means)):
        raise ValueError("The expression of some of `genes` has NaN or infinite values; fix adata.X (or `layer`).")
    return means


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
    loadings_key: str = "PCs",
    layer: str | None = None,
    random_state: int | None = 0,
    key_added: str = _keys.DEFAULT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Expression of genes along simulated paths, per fate class: mean ± spread over paths.

    ``n_cells`` cells observed at ``source`` are simulated to ``target``. Positions along each
    path are mapped to genes as ``μ + x @ PCs.T`` (the PCA reconstruction, restricted to the
    model's ``n_dims`` components), with ``μ`` chosen so that the reconstruction of the observed
    cells is unbiased: ``μ = mean(X) − mean(X_pca) @ PCs.T`` (the gene means when the PCA
    centred ``adata.X`` on these cells, as ``sc.pp.pca`` does). With ``groupby``, each path is
    assigned the class that the ``n_neighbors`` nearest observed cells at ``target`` vote for
    (as in :func:`fate`), and the statistics are per class. Means and spreads are weighted by the
    paths' growth weights ``exp ∫ λ s dt`` at each time.

    Parameters
    ----------
    adata
        Annotated data with ``obsm['X_pca']``, ``varm['PCs']``, the time column and the expression
        the PCA was computed on (``adata.X`` or ``layer``).
    model
        An :class:`~scam.ActionModel` fitted on ``use_rep='X_pca'``.
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
    loadings_key
        ``varm`` key of the PCA loadings.
    layer
        Expression layer for the gene means (default ``adata.X``).
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
    class no path reached), ``n_paths`` per class and ``params``.
    """
    time_key, use_rep = _pca_keys(adata, model, time_key, use_rep)
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
    pcs = _loadings(adata, model, use_rep, loadings_key)[cols]
    _keys.check_free(adata, _keys.GENE_TRENDS, key_added)
    offset = _column_means(adata, cols, layer) - X.mean(0) @ pcs.T
    flat = [g for g, row in zip(gene_names, pcs, strict=True) if not np.any(row)]
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
    expression = offset + paths @ pcs.T  # (T, n, G)
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
            "loadings_key": loadings_key,
            "layer": "X" if layer is None else layer,
            "random_state": int(random_state),
        },
        _keys.WRITTEN: _keys.record(_keys.GENE_TRENDS, key_added),
    }
    adata = writable(adata, copy)
    adata.uns[_keys.gene_trends(key_added)] = result
    logger.info("finished (%.1f s): added '%s' (adata.uns)", _time.perf_counter() - start, _keys.gene_trends(key_added))
    return adata if copy else None
