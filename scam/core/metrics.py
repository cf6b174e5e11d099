"""Distances between point clouds: exact Wasserstein (POT) and RBF-MMD."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger("scam")

#: Exact OT on larger clouds subsamples to this many points per side (memory: n² floats).
MAX_EXACT_OT_POINTS = 20_000


def _weights(w: np.ndarray | None, n: int) -> np.ndarray:
    if w is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("Weights must be finite, non-negative, one per point, and not all zero.")
    return w / w.sum()


def _subsample(x, w, max_points, rng):
    if len(x) <= max_points:
        return x, w
    logger.info("exact OT on %d points: subsampling %d of them", len(x), max_points)
    idx = rng.choice(len(x), max_points, replace=False, p=None)
    return x[idx], (None if w is None else w[idx])


def wasserstein(
    x: np.ndarray,
    y: np.ndarray,
    *,
    p: int = 1,
    x_weights: np.ndarray | None = None,
    y_weights: np.ndarray | None = None,
    max_points: int = MAX_EXACT_OT_POINTS,
    random_state: int = 0,
) -> float:
    """Exact Wasserstein-``p`` distance with Euclidean ground cost (POT ``emd2``).

    Parameters
    ----------
    x, y
        Point clouds ``(n, d)`` and ``(m, d)``.
    p
        1 for W1 (cost ``|x − y|``), 2 for W2 (cost ``|x − y|²``, result square-rooted).
    x_weights, y_weights
        Non-negative weights (normalised here); ``None`` for uniform.
    max_points
        Larger clouds are subsampled to this many points (logged).
    random_state
        Seed of the subsampling.
    """
    import ot

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    x, x_weights = _subsample(x, x_weights, max_points, rng)
    y, y_weights = _subsample(y, y_weights, max_points, rng)
    a, b = _weights(x_weights, len(x)), _weights(y_weights, len(y))
    cost = ot.dist(x, y, metric="euclidean")
    if p == 2:
        cost = cost**2
    elif p != 1:
        raise ValueError(f"`p` must be 1 or 2, got {p}.")
    value = float(ot.emd2(a, b, cost, numItermax=10_000_000))
    return value if p == 1 else float(np.sqrt(max(value, 0.0)))


def mmd_rbf(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bandwidths: tuple[float, ...] | None = None,
    x_weights: np.ndarray | None = None,
    y_weights: np.ndarray | None = None,
) -> float:
    """Squared maximum mean discrepancy with a sum of RBF kernels.

    Bandwidths default to the median pairwise distance times (0.5, 1, 2).
    """
    import ot

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    a, b = _weights(x_weights, len(x)), _weights(y_weights, len(y))
    dxx, dyy, dxy = ot.dist(x, x), ot.dist(y, y), ot.dist(x, y)
    if bandwidths is None:
        med = float(np.sqrt(np.median(dxy)))
        bandwidths = tuple(med * f for f in (0.5, 1.0, 2.0))
    value = 0.0
    for h in bandwidths:
        value += a @ np.exp(-dxx / (2 * h**2)) @ a + b @ np.exp(-dyy / (2 * h**2)) @ b
        value -= 2 * a @ np.exp(-dxy / (2 * h**2)) @ b
    return float(max(value, 0.0))
