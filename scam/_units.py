"""The one mapping between the user's units and the network's internal units.

The network sees ``z = (x − center) / scale`` (one scalar ``scale``, so the geometry and OT
couplings are unchanged) and times ``τ = (t − t_origin) / t_span`` in ``[0, 1]``; σ and λ are in
those internal units, so they mean the same on any data. Every conversion of scam goes through
:class:`Units`: the trainer builds it from the data, :class:`~scam.ActionModel` inverts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Units:
    """Standardisation of coordinates and time.

    Attributes
    ----------
    center, scale
        ``z = (x − center) / scale``.
    t_origin, t_span
        ``τ = (t − t_origin) / t_span``.
    """

    center: np.ndarray
    scale: float
    t_origin: float
    t_span: float

    def __post_init__(self):
        object.__setattr__(self, "center", np.asarray(self.center, dtype=np.float64))
        for name in ("scale", "t_origin", "t_span"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @classmethod
    def from_data(cls, X: np.ndarray, times: np.ndarray) -> Units:
        """Centre and overall standard deviation of ``X``; the observed ``times`` span ``[0, 1]``."""
        times = np.asarray(times, dtype=np.float64)
        return cls(
            center=X.mean(0),
            scale=float(np.sqrt(X.var(0).mean())) or 1.0,
            t_origin=float(times[0]),
            t_span=float(times[-1] - times[0]),
        )

    # coordinates and times
    def to_internal(self, X: np.ndarray) -> np.ndarray:
        """``z`` of user coordinates ``X`` (the first ``len(center)`` columns)."""
        return (X[:, : len(self.center)] - self.center) / self.scale

    def to_user(self, Z: np.ndarray) -> np.ndarray:
        """User coordinates of internal ``Z`` (any leading shape)."""
        return Z * self.scale + self.center

    def tau(self, t):
        """Internal time of user time ``t``."""
        return (t - self.t_origin) / self.t_span

    def time(self, tau):
        """User time of internal time ``tau``."""
        return self.t_origin + tau * self.t_span

    # read-outs (internal → user)
    def potential(self, s):
        """The action in user units (its gradient in user coordinates is the user velocity)."""
        return s * self.scale**2 / self.t_span

    def velocity(self, v):
        """Velocity per user time unit."""
        return v * self.scale / self.t_span

    def rate(self, g):
        """Growth rate per user time unit, from a rate per internal time unit."""
        return g / self.t_span

    def rate_to_internal(self, g):
        """Growth rate per internal time unit, from a rate per user time unit."""
        return g * self.t_span

    def diffusion(self, sigma: float) -> float:
        """σ in user units: representation units per square root of the user's time unit."""
        return sigma * self.scale / np.sqrt(self.t_span)

    def to_dict(self) -> dict:
        """JSON-/h5ad-serialisable fields."""
        return {"center": self.center, "scale": self.scale, "t_origin": self.t_origin, "t_span": self.t_span}
