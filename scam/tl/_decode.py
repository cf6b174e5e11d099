"""From the model's coordinates to genes: PCA loadings, a linear map fitted on the cells, or the user's decoder.

:func:`gene_map` picks one (:class:`GeneMap`) for :func:`scam.tl.gene_velocity` and :func:`scam.tl.gene_trends`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._validation import check_key, check_nonnegative, get_rep
from ..model import ActionModel

logger = logging.getLogger("scam")

#: Default ``ridge`` of the linear map, relative to the mean variance of the representation's coordinates.
RIDGE = 1e-6
#: Step of the central differences along a velocity, relative to the RMS spread of the representation's coordinates.
FD_STEP = 1e-3
#: A decoder is called on at most this many numbers of output at once (rows × genes).
DECODER_BUDGET = 1 << 22
#: Genes per block when a dense expression matrix is read for the linear map.
_GENE_BLOCK = 2048

#: Names of the methods in the results' ``params``.
PCA, LINEAR, DECODER = "pca_loadings", "linear_map", "decoder"


def expression_matrix(adata: AnnData, layer: str | None):
    """``adata.X`` or ``adata.layers[layer]`` (raises naming the fix when missing)."""
    if layer is None:
        if adata.X is None:
            raise ValueError("adata.X is empty; pass `layer=` with the (log-)expression to map to.")
        return adata.X
    if not isinstance(layer, str) or layer not in adata.layers:
        keys = ", ".join(map(repr, adata.layers.keys())) or "none"
        raise ValueError(f"`layer={layer!r}` is not in adata.layers (available: {keys}).")
    return adata.layers[layer]


def _block(M, cols: np.ndarray) -> np.ndarray | sparse.csr_matrix:
    """Columns ``cols`` of an expression matrix, sparse as CSR, dense as float64."""
    sub = M[:, cols]
    if sparse.issparse(sub):
        return sparse.csr_matrix(sub, dtype=np.float64)
    return np.asarray(sub, dtype=np.float64)


class GeneMap:
    """Expression of some genes as a function of the model's coordinates, and its derivative along a velocity.

    ``expression(Z, rest)`` maps points ``Z`` ``(m, n_dims)`` to ``(m, n_genes)``; ``velocity(Z, V, rest)``
    maps velocities ``V`` at those points. ``rest`` holds the representation's columns beyond the model's
    (only a decoder reads them). ``info`` goes into the results (h5ad-serialisable).
    """

    method: str = ""

    def __init__(self, genes: np.ndarray):
        self.genes = genes
        self.info: dict = {}

    def expression(self, Z: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def velocity(self, Z: np.ndarray, V: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError


class LinearGeneMap(GeneMap):
    """``expression = offset + Z @ W`` (PCA loadings or a least-squares fit); ``velocity = V @ W``."""

    def __init__(self, genes: np.ndarray, W: np.ndarray, offset: np.ndarray | None, method: str):
        super().__init__(genes)
        self.W, self.offset, self.method = W, offset, method

    def expression(self, Z, rest=None):
        if self.offset is None:
            raise RuntimeError("this gene map has no offset (built for velocities only)")
        return self.offset + Z @ self.W

    def velocity(self, Z, V, rest=None):
        return V @ self.W


class DecoderGeneMap(GeneMap):
    """The user's decoder; its derivative along a velocity by central differences."""

    method = DECODER

    def __init__(self, genes: np.ndarray, decoder: Callable, cols: np.ndarray, var_names: pd.Index, step: float):
        super().__init__(genes)
        self.decoder, self.cols, self.var_names, self.step = decoder, cols, var_names, step
        self.batch = max(1, DECODER_BUDGET // max(1, len(var_names)))

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        out = self.decoder(Z)
        if hasattr(out, "detach"):  # a torch tensor
            out = out.detach().cpu().numpy()
        if isinstance(out, pd.DataFrame):
            missing = [str(g) for g in self.genes if g not in out.columns]
            if missing:
                raise ValueError(
                    f"The decoder returned a DataFrame without the columns {missing[:5]}; its columns must be gene "
                    "names of adata.var_names."
                )
            return out[list(self.genes)].to_numpy(dtype=np.float64)
        out = np.asarray(out, dtype=np.float64)
        if out.shape != (len(Z), len(self.var_names)):
            raise ValueError(
                f"The decoder returned shape {out.shape} for {len(Z)} points; it must return the expression of every "
                f"gene, shape (n_points, n_vars) = ({len(Z)}, {len(self.var_names)}) in the order of "
                "adata.var_names (or a DataFrame with gene-name columns)."
            )
        return out[:, self.cols]

    def _call(self, Z: np.ndarray) -> np.ndarray:
        parts = [self._decode(Z[lo : lo + self.batch]) for lo in range(0, len(Z), self.batch)]
        out = np.concatenate(parts) if parts else np.zeros((0, len(self.genes)))
        if not np.all(np.isfinite(out)):
            raise ValueError("The decoder returned NaN or infinite values.")
        return out

    @staticmethod
    def _full(Z: np.ndarray, rest: np.ndarray | None) -> np.ndarray:
        return Z if rest is None or rest.shape[1] == 0 else np.concatenate([Z, rest], axis=1)

    def expression(self, Z, rest=None):
        return self._call(self._full(Z, rest))

    def velocity(self, Z, V, rest=None):
        speed = np.linalg.norm(V, axis=1)
        t = np.divide(self.step, speed, out=np.zeros_like(speed), where=speed > 0)[:, None]
        hi = self._call(self._full(Z + t * V, rest))
        lo = self._call(self._full(Z - t * V, rest))
        out = np.divide(hi - lo, 2.0 * t, out=np.zeros_like(hi), where=t > 0)
        return out


def pca_loadings(adata: AnnData, model: ActionModel, use_rep: str, loadings_key: str) -> np.ndarray:
    """The first ``n_dims`` PCA loadings ``(n_vars, n_dims)``, checked against the representation."""
    loadings_key = check_key("loadings_key", loadings_key)
    if loadings_key not in adata.varm:
        keys = ", ".join(map(repr, adata.varm.keys())) or "none"
        raise ValueError(
            f"adata.varm[{loadings_key!r}] (the PCA loadings) is missing (available: {keys}). Run "
            "`sc.pp.pca(adata)` first, which writes obsm['X_pca'] and varm['PCs'], and fit the model on "
            "use_rep='X_pca'; or pass `loadings_key=None` to fit a linear map from the representation to the genes."
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


def fit_linear_map(Z: np.ndarray, M, cols: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares with a small ridge of the expression columns ``cols`` of ``M`` on ``Z`` (with an intercept).

    Minimises ``‖Y − 1 b − Z W‖² + α ‖W‖²`` with ``α = ridge · trace(Z_cᵀ Z_c) / d`` (``Z_c``: ``Z``
    centred; so ``ridge`` is relative to the mean variance of the coordinates, and the intercept is
    not shrunk). Returns ``W`` ``(d, G)``, ``b`` ``(G,)`` and each gene's ``R²`` on the cells (NaN for a
    constant gene). ``M`` may be sparse; no dense ``n × G`` copy is made (dense ``M`` is read in blocks of genes).
    """
    n, d = Z.shape
    z_mean = Z.mean(0)
    Zc = Z - z_mean
    gram = Zc.T @ Zc
    alpha = ridge * np.trace(gram) / d
    A = gram + alpha * np.eye(d)
    W, y_mean, ss_tot, cross = [], [], [], []
    for lo in range(0, len(cols), _GENE_BLOCK):
        Y = _block(M, cols[lo : lo + _GENE_BLOCK])
        if sparse.issparse(Y):
            zty = np.asarray((Y.T @ Zc).T)  # Zcᵀ Y = Zcᵀ (Y − 1 ȳ): Zc's columns sum to 0
            mean = np.asarray(Y.mean(0)).ravel()
            sq = np.asarray(Y.multiply(Y).sum(0)).ravel()
        else:
            zty = Zc.T @ Y
            mean, sq = Y.mean(0), (Y**2).sum(0)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sq))):
            raise ValueError("The expression has NaN or infinite values; fix adata.X (or `layer`).")
        W.append(np.linalg.solve(A, zty))
        y_mean.append(mean)
        ss_tot.append(np.maximum(sq - n * mean**2, 0.0))
        cross.append(zty)
    W, y_mean, ss_tot, cross = (np.concatenate(a, axis=-1) for a in (W, y_mean, ss_tot, cross))
    ss_res = ss_tot - 2.0 * (W * cross).sum(0) + (W * (gram @ W)).sum(0)
    scale = np.maximum(ss_tot, 1e-300)
    r2 = np.where(ss_tot > 1e-12 * max(float(ss_tot.max()), 1e-300), 1.0 - np.maximum(ss_res, 0.0) / scale, np.nan)
    return W, y_mean - z_mean @ W, r2


def gene_map(
    adata: AnnData,
    model: ActionModel,
    use_rep: str,
    X: np.ndarray,
    cols: np.ndarray,
    *,
    decoder: Callable | None,
    loadings_key: str | None,
    layer: str | None,
    ridge: float,
    offset: bool,
) -> GeneMap:
    """The map from the model's coordinates to the genes ``cols`` (checked; nothing is written).

    ``decoder`` when given; else the PCA loadings ``varm[loadings_key]`` when ``loadings_key`` is given,
    or is ``None`` with ``use_rep='X_pca'`` and ``varm['PCs']`` present; else a linear map fitted on the
    cells from all columns of ``use_rep`` to ``layer`` (:func:`fit_linear_map`). ``X`` are the model's
    coordinates of the cells. The linear maps hold the columns the model does not move at the cells'
    mean, a decoder at each cell's own values. ``offset``: also the expression at ``X = 0`` for the
    PCA map (needed by :meth:`GeneMap.expression`).
    """
    genes = np.asarray(adata.var_names[cols], dtype=str)
    if decoder is not None:
        if not callable(decoder):
            raise TypeError(
                f"`decoder` must be a function from latent coordinates (n, n_cols of adata.obsm[{use_rep!r}]) to "
                f"expression (n, n_vars), got {type(decoder).__name__}."
            )
        if loadings_key is not None:
            raise ValueError("Pass either `decoder` or `loadings_key`, not both.")
        spread = float(np.sqrt(np.mean(X.var(0)))) or 1.0
        gmap: GeneMap = DecoderGeneMap(genes, decoder, cols, adata.var_names, FD_STEP * spread)
        gmap.info = {"step": FD_STEP * spread}
        return gmap
    ridge = check_nonnegative("ridge", ridge)
    if loadings_key is None and use_rep == "X_pca" and "PCs" in adata.varm:
        loadings_key = "PCs"
    if loadings_key is not None:
        pcs = pca_loadings(adata, model, use_rep, loadings_key)[cols]
        mu = None
        if offset:
            M = expression_matrix(adata, layer)
            means = _block(M, cols).mean(0)
            means = np.asarray(means, dtype=np.float64).ravel()
            if not np.all(np.isfinite(means)):
                raise ValueError(
                    "The expression of some of `genes` has NaN or infinite values; fix adata.X (or `layer`)."
                )
            mu = means - X.mean(0) @ pcs.T
        gmap = LinearGeneMap(genes, pcs.T, mu, PCA)
        gmap.info = {"loadings_key": loadings_key, "genes_without_loadings": int((np.abs(pcs).sum(1) == 0).sum())}
        return gmap
    M = expression_matrix(adata, layer)
    full = get_rep(adata, use_rep, None)  # all columns: the map is right whatever the model moves
    logger.info(
        "fitting a linear map from adata.obsm[%r] to %d genes (least squares, ridge %g)", use_rep, len(cols), ridge
    )
    W, b, r2 = fit_linear_map(full, M, cols, ridge)
    d = model.n_dims
    gmap = LinearGeneMap(genes, W[:d], b + full[:, d:].mean(0) @ W[d:], LINEAR)
    gmap.info = {"ridge": ridge, "r2": r2.astype(np.float32)}
    logger.info("the linear map explains a median %.0f %% of the genes' variance", 100 * float(np.nanmedian(r2)))
    return gmap


def rest_columns(adata: AnnData, use_rep: str, model: ActionModel, gmap: GeneMap) -> np.ndarray | None:
    """The representation's columns beyond the model's (for a decoder; ``None`` for the linear maps)."""
    if not isinstance(gmap, DecoderGeneMap):
        return None
    return get_rep(adata, use_rep, None)[:, model.n_dims :]
