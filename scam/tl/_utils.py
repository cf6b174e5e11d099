"""Helpers shared by the tools that read a fitted model out (``scam.tl``) and by the plots (``scam.pl``).

Model and key checks, time points, cell groups, kNN votes and embeddings (:func:`scam._validation.writable`
makes ``adata`` writable).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

import numpy as np
from anndata import AnnData

from .. import _keys
from .._time import TimeInfo, align_time, get_time, same_time, span
from .._validation import check_adata, check_key, class_order, get_rep
from ..model import ActionModel
from ._conditions import _check_one_condition

logger = logging.getLogger("scam")


# ---------------------------------------------------------------------------------------------- model and keys
def check_model(model) -> None:
    """``model`` must be an :class:`~scam.ActionModel` (a dict of them, one per condition, is named in the error)."""
    if isinstance(model, Mapping):
        raise TypeError(
            f"`model` is a dict of {len(model)} models, one per condition (of `scam.tl.fit(..., condition_key=...)`), "
            "but this read-out takes one model: pass one condition's model with that condition's cells, e.g. "
            "`wt = adata[adata.obs[condition_key] == 'wt'].copy()` and `(wt, models['wt'], ...)`."
        )
    if not isinstance(model, ActionModel):
        raise TypeError(f"`model` must be the ActionModel returned by scam.tl.fit, got {type(model).__name__}.")


def model_keys(model: ActionModel, time_key: str | None, use_rep: str | None) -> tuple[str, str]:
    """Time column and representation: the arguments, else those the model was fitted on."""
    time_key = model.metadata.get("time_key") if time_key is None else time_key
    use_rep = model.metadata.get("use_rep", "X_pca") if use_rep is None else use_rep
    if time_key is None:
        raise ValueError("The model does not record its time column; pass `time_key=` (the column of adata.obs).")
    return check_key("time_key", time_key), check_key("use_rep", use_rep)


def model_inputs(adata: AnnData, model: ActionModel, time_key: str | None, use_rep: str | None) -> tuple[str, str]:
    """Check ``adata`` and ``model``; the time column and representation (as :func:`model_keys`).

    When they come from the model (arguments ``None``), ``adata`` must have them: a model fitted on
    other data raises naming ``time_key=`` / ``use_rep=``.
    """
    check_adata(adata)
    check_model(model)
    _check_one_condition(adata, model)
    keys = model_keys(model, time_key, use_rep)
    if time_key is None and keys[0] not in adata.obs.columns:
        cols = ", ".join(map(repr, adata.obs.columns)) or "none"
        raise ValueError(
            f"`time_key={keys[0]!r}` is not a column of adata.obs (available: {cols}): the model was fitted on that "
            "time column. Pass `time_key=` naming this adata's time column (in the time units of the fit)."
        )
    if use_rep is None and keys[1] not in adata.obsm:
        reps = ", ".join(map(repr, adata.obsm.keys())) or "none"
        raise ValueError(
            f"`use_rep={keys[1]!r}` is not in adata.obsm (available: {reps}): the model was fitted on that "
            "representation. Pass `use_rep=` naming this adata's representation in the same coordinates as the fit "
            "(e.g. the same PCA)."
        )
    return keys


def model_rep(adata: AnnData, model: ActionModel, use_rep: str) -> np.ndarray:
    """The first ``model.n_dims`` columns of ``adata.obsm[use_rep]``, which must have at least that many."""
    rep = adata.obsm.get(use_rep) if isinstance(use_rep, str) else None
    n_cols = rep.shape[1] if len(getattr(rep, "shape", ())) == 2 else None
    if n_cols is not None and n_cols < model.n_dims:
        raise ValueError(
            f"The model uses {model.n_dims} coordinates (the first {model.n_dims} columns of "
            f"obsm[{model.metadata.get('use_rep', use_rep)!r}] at the fit), but adata.obsm[{use_rep!r}] has "
            f"{n_cols}; pass `use_rep=` naming a representation in the same coordinates as the fit (e.g. the same "
            "PCA, projected onto this data), or refit the model on this data."
        )
    return get_rep(adata, use_rep, model.n_dims)


def check_time_range(model: ActionModel, time: TimeInfo, times: dict[str, float]) -> None:
    """Refuse times outside the model's fitted range (:meth:`~scam.ActionModel.in_time_range`).

    ``times`` maps what each time is (``"`target`"``) to its value, in the units of ``adata.obs[time.key]``.
    """
    outside = [f"{what} ({value:g})" for what, value in times.items() if not model.in_time_range(value)]
    if outside:
        lo, hi = model.time_range
        raise ValueError(
            f"{' and '.join(outside)} {'lies' if len(outside) == 1 else 'lie'} outside the time range the model "
            f"was fitted on, [{lo:g}, {hi:g}]: the dynamics there are extrapolated, not learned. Choose times within "
            f"[{lo:g}, {hi:g}], or refit on data that covers them. If adata.obs[{time.key!r}] is in other units than "
            f"the fit's (e.g. hours instead of days; the fit's observed times are {model.observed_times}), convert "
            "it to the fit's units."
        )


def model_time(adata: AnnData, model: ActionModel, time_key: str, *, min_cells: int = 1) -> TimeInfo:
    """The time column on the model's time axis (labels of an ordered categorical keep their fitted values)."""
    time = get_time(adata, time_key, min_cells=min_cells)
    return align_time(time, model.metadata.get("time_labels"), model.metadata.get("time_values"))


def fit_uns(adata: AnnData, key: str) -> dict:
    """``adata.uns[key]`` written by :func:`scam.tl.fit` (raises naming the step when it is missing)."""
    check_adata(adata)
    key = check_key("key", key)
    uns = adata.uns.get(_keys.uns(key))
    if uns is None:
        raise ValueError(
            f"adata.uns[{key!r}] from scam.tl.fit is missing; run `scam.tl.fit(adata, ...)` first "
            f"(with `key_added={key!r}`)."
        )
    if _keys.recorded(adata, _keys.uns(key), _keys.FIT) is None or "params" not in uns:
        raise ValueError(
            f"adata.uns[{key!r}] was not written by scam.tl.fit (nor by this version of it): pass `key`/`key_added` "
            f"naming the `key_added` of your fit, or run `scam.tl.fit(adata, ...)` (with another `key_added` if "
            f"adata.uns[{key!r}] is yours)."
        )
    return uns


def is_stochastic(model: ActionModel, t_start: float, t_end: float, stochastic: bool | None) -> bool:
    """Whether :meth:`~scam.ActionModel.simulate` draws noise with these arguments."""
    if stochastic is None:
        return model.default_stochastic(t_start, t_end)
    return bool(stochastic) and model.sigma > 0


def check_stochastic(stochastic) -> bool | None:
    """``stochastic`` as ``True``, ``False`` or ``None`` (raises on anything else)."""
    if stochastic is not None and not isinstance(stochastic, (bool, np.bool_)):
        raise ValueError(f"`stochastic` must be True, False or None, got {stochastic!r}.")
    return None if stochastic is None else bool(stochastic)


# ---------------------------------------------------------------------------------------------- time points
def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def time_index(time: TimeInfo, value, name: str, *, default: int | None = None) -> int:
    """Index of an observed time point given by its value (a number) or its label (a string).

    With ``default``, ``value=None`` means the time point of that index (``-1``: the last).
    """
    if value is None and default is not None:
        return int(np.arange(time.n_times)[default])
    labels, values = time.labels, time.values
    choices = f"choose one of the values {values.tolist()} or labels {labels} of adata.obs[{time.key!r}]"
    if isinstance(value, str):
        if value in labels:
            return labels.index(value)
        raise ValueError(f"`{name}={value!r}` is not an observed time point; {choices}.")
    if not _is_number(value):
        raise ValueError(f"`{name}` must be an observed time (a number or a label), got {value!r}; {choices}.")
    hit = np.flatnonzero(same_time(values, float(value), span(values)))  # float32 time columns: 0.1 is 0.10000000149
    if len(hit) == 0:
        raise ValueError(f"`{name}={value!r}` is not an observed time point; {choices}.")
    return int(hit[0])


def time_value(time: TimeInfo, value, name: str, *, default: int | None = None) -> float:
    """A time in the units of the fit: a number as given (observed or not), or the value of a label.

    Labels (and ``value=None`` with ``default``) are resolved by :func:`time_index`.
    """
    if isinstance(value, str) or (value is None and default is not None):
        return float(time.values[time_index(time, value, name, default=default)])
    if not _is_number(value):
        raise ValueError(f"`{name}` must be a time (a number or a label of adata.obs[{time.key!r}]), got {value!r}.")
    return float(value)


def time_pair(
    model: ActionModel, time: TimeInfo, source, target, stochastic: bool | None, *, what: str, hint: str, default: bool
) -> tuple[int, int, float, float, bool]:
    """Indices and values of two different observed time points, and whether simulating between them is noisy.

    With ``default``, ``None`` means the first (``source``) or last (``target``) time point. A
    backward stochastic simulation raises ("Backward {what} need the ODE"); ``hint`` ends the
    message when both are the same time point.
    """
    k_src = time_index(time, source, "source", default=0 if default else None)
    k_tgt = time_index(time, target, "target", default=-1 if default else None)
    if k_src == k_tgt:
        raise ValueError(f"`source` and `target` are the same time point ({time.labels[k_src]!r}); {hint}.")
    t_src, t_tgt = float(time.values[k_src]), float(time.values[k_tgt])
    check_time_range(model, time, {"`source`": t_src, "`target`": t_tgt})
    noisy = is_stochastic(model, t_src, t_tgt, stochastic)
    if t_tgt < t_src and noisy:
        raise ValueError(f"Backward {what} need the ODE; pass `stochastic=False` or a `target` after `source`.")
    return k_src, k_tgt, t_src, t_tgt, noisy


def cells_at(time: TimeInfo, k: int) -> np.ndarray:
    """Row numbers of the cells observed at time point ``k``."""
    return np.flatnonzero(time.codes == k)


def draw_cells(rows: np.ndarray, n: int, random_state: int) -> np.ndarray:
    """``n`` of ``rows`` drawn at random without replacement (all when fewer), sorted."""
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(rows, min(n, len(rows)), replace=False))


# ---------------------------------------------------------------------------------------------- classes of cells
def group_labels(adata: AnnData, groupby: str, rows: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Codes (into ``classes``) of ``adata.obs[groupby]`` at ``rows``, and the classes present there.

    Classes keep the order of a categorical column's categories (numeric or text order otherwise); a missing
    label among ``rows`` raises.
    """
    if not isinstance(groupby, str) or groupby not in adata.obs.columns:
        cols = ", ".join(map(repr, adata.obs.columns)) or "none"
        raise ValueError(
            f"`groupby={groupby!r}` is not a column of adata.obs (available: {cols}); pass the column with the "
            "cell types or clusters, e.g. from `sc.tl.leiden`."
        )
    col = adata.obs[groupby].iloc[rows]
    if col.isna().any():
        raise ValueError(
            f"adata.obs[{groupby!r}] has {int(col.isna().sum())} missing labels among the cells {where}; "
            "fill them (e.g. with 'unknown') or drop those cells."
        )
    order = class_order(col)
    values = col.astype(str).to_numpy()
    classes = [c for c in order if c in set(values)]
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in values], dtype=np.int64), classes


#: Up to this many dimensions a k-d tree finds nearest neighbours fast. Above, it ends up comparing most pairs one
#: by one (projecting 50,000 cells' velocities in 30 PCs took 129 s), and matrix products do the same work in bulk.
KDTREE_MAX_DIMS = 8

#: Numbers in one block of squared distances (queries × reference cells, float32: 64 MB) and of the candidates'
#: coordinates (queries × candidates × dimensions).
KNN_BLOCK = 2**24

#: Candidates beyond ``k`` taken from the float32 distances and re-ranked by exact float64 ones.
KNN_MARGIN = 8


def nearest(reference: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices ``(m, k)`` of the ``k`` nearest ``reference`` rows of each query, nearest first.

    A k-d tree in up to :data:`KDTREE_MAX_DIMS` dimensions; above, blocks of squared distances by matrix products
    (float32, centred), whose ``k +`` :data:`KNN_MARGIN` smallest are re-ranked by their exact float64 distances
    (5-6× faster than the tree for 50,000 cells in 30 dimensions, with the same neighbours).
    """
    reference, queries = np.asarray(reference, dtype=np.float64), np.asarray(queries, dtype=np.float64)
    k = min(int(k), len(reference))
    if reference.shape[1] <= KDTREE_MAX_DIMS:
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(reference).query(queries, k=k)
        return np.asarray(dist).reshape(len(queries), k), np.asarray(idx).reshape(len(queries), k)
    import torch

    centre = reference.mean(0)
    ref = torch.from_numpy(reference - centre).float()
    ref_sq = (ref * ref).sum(1)[None, :]
    n_cand = min(k + KNN_MARGIN, len(reference))
    dist, idx = np.empty((len(queries), k)), np.empty((len(queries), k), dtype=np.int64)
    # a block's distances (rows × reference cells) and its candidates' coordinates (rows × n_cand × d) both bounded
    rows = max(1, KNN_BLOCK // max(len(reference), n_cand * reference.shape[1]))
    for lo in range(0, len(queries), rows):
        q = queries[lo : lo + rows]
        d2 = torch.addmm(ref_sq, torch.from_numpy(q - centre).float(), ref.T, alpha=-2)  # |r|² − 2 q·r: rank only
        cand = np.sort(torch.topk(d2, n_cand, dim=1, largest=False, sorted=False).indices.numpy(), axis=1)
        exact = np.sqrt(((q[:, None, :] - reference[cand]) ** 2).sum(-1))
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]  # ties: the lower index first
        dist[lo : lo + rows] = np.take_along_axis(exact, order, 1)
        idx[lo : lo + rows] = np.take_along_axis(cand, order, 1)
    return dist, idx


class SelfNeighbors:
    """The nearest cells of every cell of ``X`` (itself included), searched once for all the calls that need them.

    ``SelfNeighbors(X, at_least=k)(m)`` gives the indices of ``nearest(X, X, m)``: the first ``m`` columns of
    one search with ``max(m, at_least)`` neighbours, made at the first call (none if never called). A call that
    needs both a kNN graph and local fits into several embeddings (:func:`scam.tl.velocity_graph`) searches
    once instead of once per use; where several cells lie at the same distance, which of them come first may
    differ from a search with ``m`` neighbours.
    """

    def __init__(self, X: np.ndarray, *, at_least: int = 1):
        self.X, self.at_least, self._idx = X, int(at_least), None

    def __call__(self, k: int) -> np.ndarray:
        k = min(int(k), len(self.X))
        if self._idx is None or self._idx.shape[1] < k:
            _, self._idx = nearest(self.X, self.X, max(k, self.at_least))
        return self._idx[:, :k]


def knn_votes(points: np.ndarray, reference: np.ndarray, codes: np.ndarray, n_classes: int, k: int) -> np.ndarray:
    """Fraction of each class among the ``k`` nearest ``reference`` cells of every point, ``(n, n_classes)``."""
    k = min(k, len(reference))
    _, idx = nearest(reference, points, k)
    flat = np.repeat(np.arange(len(points)), k) * n_classes + codes[idx].ravel()
    return np.bincount(flat, minlength=len(points) * n_classes).reshape(len(points), n_classes) / k


# ---------------------------------------------------------------------------------------------- embeddings
def resolve_basis(adata: AnnData, basis: str) -> str:
    """The ``obsm`` key of ``basis`` (``"umap"`` → ``"X_umap"``; an ``obsm`` key is used as is)."""
    if not isinstance(basis, str) or not basis:
        raise ValueError(f"`basis` must be the name of an embedding such as 'umap' or 'pca', got {basis!r}.")
    for key in (basis, f"X_{basis}"):
        if key in adata.obsm:
            return key
    keys = ", ".join(map(repr, adata.obsm.keys())) or "none"
    name = basis.removeprefix("X_")
    hint = {"umap": " Run `sc.tl.umap(adata)` first", "pca": " Run `sc.pp.pca(adata)` first"}.get(name, "")
    hint = f"{hint} or choose an available basis." if hint else " Choose an available basis."
    raise ValueError(
        f"Basis {basis!r} not found: neither adata.obsm[{basis!r}] nor adata.obsm['X_{name}'] (available: "
        f"{keys}).{hint}"
    )


def basis_name(obsm_key: str) -> str:
    """Name of a basis without the ``X_`` prefix (``"X_umap"`` → ``"umap"``), as scanpy and scvelo use it."""
    return obsm_key.removeprefix("X_")


def embedding_coords(adata: AnnData, obsm_key: str) -> np.ndarray:
    """``adata.obsm[obsm_key]`` as a finite float64 array."""
    return get_rep(adata, obsm_key, None)


def fingerprint(E: np.ndarray) -> str:
    """A short hash of coordinates: a stored velocity projection is reused only for the embedding it was made from."""
    return hashlib.blake2b(np.ascontiguousarray(E, dtype=np.float64).tobytes(), digest_size=8).hexdigest()


def is_exact(X: np.ndarray, E: np.ndarray) -> bool:
    """Whether the embedding ``E`` is the leading columns of the representation ``X`` (projection is exact)."""
    return E.shape[1] <= X.shape[1] and np.array_equal(E, X[:, : E.shape[1]])


def knn_map(X: np.ndarray, E: np.ndarray, Q: np.ndarray, *, n_neighbors: int = 10) -> np.ndarray:
    """Map points ``Q`` of the representation into the embedding by distance-weighted kNN regression.

    Each query point gets the average of the embedding coordinates of its ``n_neighbors`` nearest
    cells in ``X``, weighted by inverse distance; a query point that coincides with a cell gets that
    cell's coordinates exactly.
    """
    k = min(int(n_neighbors), len(X))
    dist, idx = nearest(X, Q, k)
    w = 1.0 / np.maximum(dist, 1e-12)
    exact = dist[:, 0] <= 1e-12
    w[exact] = 0.0
    w[exact, 0] = 1.0
    w /= w.sum(1, keepdims=True)
    return np.einsum("qk,qkm->qm", w, E[idx])


# ---------------------------------------------------------------------------------------------- simulated paths
def path_positions(paths: np.ndarray, times: np.ndarray, t: float) -> np.ndarray:
    """Positions ``(n, d)`` of paths ``(n, T, d)`` at time ``t``, linearly interpolated on their time grid.

    ``times`` ``(T,)`` may run forward or backward; ``t`` outside it takes the nearest end.
    """
    paths, times = np.asarray(paths, dtype=np.float64), np.asarray(times, dtype=np.float64)
    if times[0] > times[-1]:
        paths, times = paths[:, ::-1], times[::-1]
    if len(times) == 1:
        return paths[:, 0].copy()
    j = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
    span = times[j + 1] - times[j]
    w = float(np.clip((t - times[j]) / span, 0.0, 1.0)) if span > 0 else 0.0
    return (1.0 - w) * paths[:, j] + w * paths[:, j + 1]
