"""Interpolants: turn snapshots into samples of a continuous path ``q_t`` (note §3).

An interpolant is a small object with two methods:

* ``fit(marginals, times, masses, generator=...)`` precomputes what it needs (couplings between
  snapshots, drawn once into a pool whose size does not grow with the number of cells);
* ``sample(n, generator=...)`` returns a :class:`PathSample`: ``n`` points of the path at times
  spread evenly over ``[t_0, t_K]``, weights whose mean is the path's total mass at ``t``, and the
  time derivatives of each sample's position and log-weight along its own path.

To add one, subclass :class:`PairInterpolant` (a coupling between consecutive snapshots and a
straight line, as ``"ot"``) or :class:`Interpolant`, and register it in :data:`INTERPOLANTS`.
"""

from __future__ import annotations

from .pairs import (
    GrowthInterpolant,
    IndependentInterpolant,
    OTInterpolant,
    PairInterpolant,
    SBInterpolant,
    UnbalancedInterpolant,
)
from .paths import MAX_POOL, Interpolant, PathSample, bridge_noise_scale, bridge_noise_slope
from .spline import CURVATURE_CV_CELLS, CURVATURE_GRID, CURVATURE_MAX_FOLDS, SplineInterpolant

__all__ = [
    "CURVATURE_CV_CELLS",
    "CURVATURE_GRID",
    "CURVATURE_MAX_FOLDS",
    "INTERPOLANTS",
    "MAX_POOL",
    "GrowthInterpolant",
    "IndependentInterpolant",
    "Interpolant",
    "OTInterpolant",
    "PairInterpolant",
    "PathSample",
    "SBInterpolant",
    "SplineInterpolant",
    "UnbalancedInterpolant",
    "bridge_noise_scale",
    "bridge_noise_slope",
    "get_interpolant",
]

#: Registered interpolants by name.
INTERPOLANTS: dict[str, type[Interpolant]] = {
    cls.name: cls
    for cls in (
        IndependentInterpolant,
        OTInterpolant,
        SBInterpolant,
        UnbalancedInterpolant,
        GrowthInterpolant,
        SplineInterpolant,
    )
}


def get_interpolant(name: str | Interpolant, *, sigma: float = 0.0, growth: bool = False, **kwargs) -> Interpolant:
    """Build an interpolant from its name (``sigma`` and ``growth`` are passed to those that use them).

    Parameters
    ----------
    name
        One of :data:`INTERPOLANTS`, or an :class:`Interpolant` instance (returned as is).
    sigma
        The dynamics' noise level σ.
    growth
        Whether the fit learns a growth rate: the spline's chains then carry mass.
    **kwargs
        Passed to the interpolant's constructor.
    """
    if isinstance(name, Interpolant):
        return name
    if name not in INTERPOLANTS:
        raise ValueError(f"Unknown interpolant {name!r}; choose one of {sorted(INTERPOLANTS)}.")
    cls = INTERPOLANTS[name]
    if cls in (SBInterpolant, SplineInterpolant):
        kwargs["sigma"] = sigma
    if cls is SplineInterpolant:
        kwargs.setdefault("growth", growth)
    return cls(**kwargs)
