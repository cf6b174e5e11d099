"""Baselines for the leave-one-timepoint-out benchmark: small functions on point clouds.

Each takes the two snapshots around a missing time, ``x_prev`` at ``t_prev`` and ``x_next`` at
``t_next``, and the missing time ``t``, and returns a predicted point cloud and its weights
(``None`` for uniform). They see nothing of the missing snapshot.
"""

from __future__ import annotations

import numpy as np

from ..core.couplings import (
    BASELINE_EXACT_MAX_ITER,
    BASELINE_SINKHORN_MAX_ITER,
    entropic_plan,
    exact_plan,
    sample_pairs,
    unbalanced_mass_factors,
    unbalanced_plan,
    uniform_masses,
)

Prediction = tuple[np.ndarray, "np.ndarray | None"]


def _tau(t_prev: float, t_next: float, t: float) -> float:
    if not t_prev < t < t_next:
        raise ValueError(f"The predicted time {t} must lie strictly between {t_prev} and {t_next}.")
    return (t - t_prev) / (t_next - t_prev)


def previous(x_prev: np.ndarray, x_next: np.ndarray, t_prev: float, t_next: float, t: float) -> Prediction:
    """The earlier snapshot itself (no motion)."""
    _tau(t_prev, t_next, t)
    return np.asarray(x_prev, dtype=np.float64), None


def next_(x_prev: np.ndarray, x_next: np.ndarray, t_prev: float, t_next: float, t: float) -> Prediction:
    """The later snapshot itself."""
    _tau(t_prev, t_next, t)
    return np.asarray(x_next, dtype=np.float64), None


def _plan_support(plan: np.ndarray, x_prev, x_next, tau) -> Prediction:
    i, j = np.nonzero(plan > 0)
    w = plan[i, j]
    return (1 - tau) * x_prev[i] + tau * x_next[j], w / w.sum()


def ot_midpoint(x_prev: np.ndarray, x_next: np.ndarray, t_prev: float, t_next: float, t: float) -> Prediction:
    """McCann displacement interpolation along the exact OT plan (squared Euclidean cost, POT ``emd``).

    Every pair ``(i, j)`` in the plan's support moves on a straight line and carries the plan's
    mass ``P_ij``: this is the W2 geodesic between the two empirical measures at ``t``.
    """
    tau = _tau(t_prev, t_next, t)
    x_prev, x_next = np.asarray(x_prev, dtype=np.float64), np.asarray(x_next, dtype=np.float64)
    plan = exact_plan(x_prev, x_next, max_iter=BASELINE_EXACT_MAX_ITER)
    return _plan_support(plan, x_prev, x_next, tau)


def entropic_ot_midpoint(
    x_prev: np.ndarray,
    x_next: np.ndarray,
    t_prev: float,
    t_next: float,
    t: float,
    *,
    epsilon: float = 0.01,
    random_state: int = 0,
) -> Prediction:
    """Displacement interpolation along an entropic OT plan (POT Sinkhorn, ``reg = epsilon ×`` mean cost).

    The plan is dense, so ``max(n_prev, n_next)`` pairs are drawn from it (seeded by ``random_state``).
    """
    tau = _tau(t_prev, t_next, t)
    x_prev, x_next = np.asarray(x_prev, dtype=np.float64), np.asarray(x_next, dtype=np.float64)
    plan = entropic_plan(
        x_prev, x_next, epsilon, relative=True, method="sinkhorn_log", max_iter=BASELINE_SINKHORN_MAX_ITER
    )
    i, j = sample_pairs(plan, max(len(x_prev), len(x_next)), np.random.default_rng(random_state))
    return (1 - tau) * x_prev[i] + tau * x_next[j], None


def unbalanced_ot_midpoint(
    x_prev: np.ndarray,
    x_next: np.ndarray,
    t_prev: float,
    t_next: float,
    t: float,
    *,
    m_prev: float = 1.0,
    m_next: float = 1.0,
    epsilon: float = 0.01,
    reg_m: float = 1.0,
    random_state: int = 0,
) -> Prediction:
    """Interpolation along an unbalanced entropic OT plan, with masses ``m_prev`` and ``m_next``.

    ``max(n_prev, n_next)`` pairs are drawn with probability ``P_ij / |P|``; each carries the weight
    ``(a_i / P_i·)^(1−τ) (b_j / P_·j)^τ``, so mass the plan cannot move is created or destroyed along
    the way and the total runs from ``m_prev`` to ``m_next``.
    """
    tau = _tau(t_prev, t_next, t)
    x_prev, x_next = np.asarray(x_prev, dtype=np.float64), np.asarray(x_next, dtype=np.float64)
    a, b = uniform_masses(len(x_prev), m_prev), uniform_masses(len(x_next), m_next)
    plan = unbalanced_plan(x_prev, x_next, a, b, epsilon=epsilon, reg_m=reg_m, max_iter=BASELINE_SINKHORN_MAX_ITER)
    i, j = sample_pairs(plan, max(len(x_prev), len(x_next)), np.random.default_rng(random_state))
    # without the factor |P|: the weights are normalised below
    wa, wb = unbalanced_mass_factors(plan, a, b, i, j, total=1.0)
    w = wa ** (1 - tau) * wb**tau
    return (1 - tau) * x_prev[i] + tau * x_next[j], w / w.sum()


#: Baselines by name.
BASELINES = {
    "previous": previous,
    "next": next_,
    "ot_midpoint": ot_midpoint,
    "entropic_ot": entropic_ot_midpoint,
    "unbalanced_ot": unbalanced_ot_midpoint,
}
