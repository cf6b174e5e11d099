"""The base of every interpolant: :class:`Interpolant`, :class:`PathSample` and the helpers the paths share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch


def _randperm(n: int, generator: torch.Generator) -> np.ndarray:
    return torch.randperm(n, generator=generator).numpy()


def _minibatch(n: int, size: int, generator: torch.Generator) -> np.ndarray:
    """Indices of a random minibatch of ``min(n, size)`` distinct cells."""
    return _randperm(n, generator)[: min(n, size)]


class PathSample(NamedTuple):
    """Samples of the path, in internal units.

    Points ``x``, times ``t``, mass weights ``w`` (their mean is the total mass at ``t``), and the time
    derivatives along each sample's own path: ``dx = dx/dt`` and ``dlogw = d log w / dt``. Paths with
    Gaussian noise ``x = μ + c ξ`` also give ``stein = ξ / c``: by Stein's lemma
    ``E[Δs(x)] = E[∇s(x) · ξ / c]`` given ``μ``, a Laplacian estimate at no extra cost
    (:func:`~scam.core.losses.action_matching_loss` with ``laplacian_method="stein"``).
    """

    x: torch.Tensor
    t: torch.Tensor
    w: torch.Tensor
    dx: torch.Tensor
    dlogw: torch.Tensor
    stein: torch.Tensor | None = None


#: ``τ`` is kept this far off the knots where the bridge's noise scale ``c`` vanishes (its slope and ``1/c`` diverge).
BRIDGE_TAU_CLAMP = 1e-4


def bridge_noise_scale(sigma: float, tau: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """Standard deviation ``σ √(τ (1 − τ) Δt)`` of a Brownian bridge over ``Δt`` at fraction ``τ`` (clamped)."""
    tau = tau.clamp(BRIDGE_TAU_CLAMP, 1 - BRIDGE_TAU_CLAMP)
    return sigma * torch.sqrt(tau * (1 - tau) * dt)


def bridge_noise_slope(sigma: float, tau: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """``d/dt`` of :func:`bridge_noise_scale`: ``σ (1 − 2τ) / (2 √(τ (1 − τ) Δt))`` (``τ = (t − t_k) / Δt``)."""
    tau = tau.clamp(BRIDGE_TAU_CLAMP, 1 - BRIDGE_TAU_CLAMP)
    return sigma * (1 - 2 * tau) / (2 * torch.sqrt(tau * (1 - tau) * dt))


#: Most pairs (or chains) an interpolant keeps per interval: the cost of a training step and the
#: pool's memory stop growing with the number of cells here.
MAX_POOL = 100_000


#: Couplings drawn per cell of the larger snapshot when no ``pool_size`` is given.
POOL_PER_CELL = 2


def _pool_target(pool_size: int | None, n_cells: int) -> int:
    """Pool size: as given, else :data:`POOL_PER_CELL` times the larger snapshot, capped at :data:`MAX_POOL`."""
    return pool_size or min(int(POOL_PER_CELL * n_cells), MAX_POOL)


def _stratified_times(n: int, t_start: float, t_end: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` times that cover ``[t_start, t_end]`` evenly, with a random offset (lower variance)."""
    u = (torch.rand(1, generator=generator, dtype=torch.float64) + torch.arange(n, dtype=torch.float64) / n) % 1.0
    return t_start + u * (t_end - t_start)


class Interpolant(ABC):
    """Base class: holds the snapshots and draws path times."""

    name: str = ""

    def fit(
        self,
        marginals: Sequence[torch.Tensor],
        times: Sequence[float],
        masses: Sequence[float] | None = None,
        *,
        generator: torch.Generator,
    ) -> Interpolant:
        """Store the snapshots and precompute couplings.

        Parameters
        ----------
        marginals
            One ``(n_k, d)`` tensor per observed time, all on the same device.
        times
            The observed times, strictly increasing.
        masses
            Relative total mass of each snapshot (``None``: all equal).
        generator
            CPU random generator used for every random draw.
        """
        if len(marginals) < 2:
            raise ValueError("An interpolant needs at least two snapshots.")
        self.times = torch.as_tensor(np.asarray(times, dtype=np.float64))
        if not bool((self.times[1:] > self.times[:-1]).all()):
            raise ValueError("Snapshot times must be strictly increasing.")
        self.masses = (
            torch.ones(len(marginals), dtype=torch.float64)
            if masses is None
            else torch.as_tensor(np.asarray(masses, dtype=np.float64))
        )
        self.device = marginals[0].device
        self.dtype = marginals[0].dtype
        self.sizes = [int(m.shape[0]) for m in marginals]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.x = torch.cat(list(marginals), dim=0)
        self._marginals_np = [m.detach().cpu().double().numpy() for m in marginals]
        self._fit(generator)
        del self._marginals_np
        return self

    @abstractmethod
    def _fit(self, generator: torch.Generator) -> None: ...

    @abstractmethod
    def sample(self, n: int, *, generator: torch.Generator) -> PathSample:
        """Draw ``n`` samples of the path (see :class:`PathSample`)."""

    def _times_and_intervals(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        t = _stratified_times(n, float(self.times[0]), float(self.times[-1]), generator)
        k = (torch.searchsorted(self.times, t, right=True) - 1).clamp(0, len(self.times) - 2)
        return t, k

    def _mass_at(self, t: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Total mass at ``t``: geometric interpolation of the snapshot masses (constant growth rate)."""
        tau = (t - self.times[k]) / (self.times[k + 1] - self.times[k])
        return self.masses[k] ** (1 - tau) * self.masses[k + 1] ** tau
