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

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from .couplings import (
    MASS_FLOOR,
    bridge_plan,
    exact_plan,
    growth_plans,
    growth_rates,
    sample_pairs,
    unbalanced_mass_factors,
    unbalanced_plan,
    uniform_masses,
)

__all__ = [
    "INTERPOLANTS",
    "GrowthInterpolant",
    "IndependentInterpolant",
    "Interpolant",
    "OTInterpolant",
    "PairInterpolant",
    "PathSample",
    "SBInterpolant",
    "SplineInterpolant",
    "UnbalancedInterpolant",
    "get_interpolant",
]


def _randperm(n: int, generator: torch.Generator) -> np.ndarray:
    return torch.randperm(n, generator=generator).numpy()


def _minibatch(n: int, size: int, generator: torch.Generator) -> np.ndarray:
    """Indices of a random minibatch of ``min(n, size)`` distinct cells."""
    return _randperm(n, generator)[: min(n, size)]


class PathSample(NamedTuple):
    """Samples of the path, in internal units.

    Points ``x``, times ``t``, mass weights ``w`` (their mean is the total mass at ``t``), and the time
    derivatives along each sample's own path: ``dx = dx/dt`` and ``dlogw = d log w / dt``.
    """

    x: torch.Tensor
    t: torch.Tensor
    w: torch.Tensor
    dx: torch.Tensor
    dlogw: torch.Tensor


def bridge_noise_slope(sigma: float, tau: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """``d/dt`` of the Brownian-bridge standard deviation ``σ √(τ (1 − τ) Δt)`` (``τ`` clamped off 0 and 1)."""
    tau = tau.clamp(1e-4, 1 - 1e-4)
    return sigma * (1 - 2 * tau) / (2 * torch.sqrt(tau * (1 - tau) / dt))


#: Most pairs (or chains) an interpolant keeps per interval: the cost of a training step and the
#: pool's memory stop growing with the number of cells here.
MAX_POOL = 100_000


def _pool_target(pool_size: int | None, n_cells: int) -> int:
    """Pool size: as given, else twice the larger snapshot, capped at :data:`MAX_POOL`."""
    return pool_size or min(2 * n_cells, MAX_POOL)


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


class PairInterpolant(Interpolant):
    """Pairs ``(x_k, x_{k+1})`` from a coupling of consecutive snapshots, joined by a straight line.

    ``x_τ = (1 − τ) x_k + τ x_{k+1}`` (+ Brownian-bridge noise for ``"sb"``). Couplings are
    computed on minibatches of ``batch_size`` cells per side and drawn once into a pool of at
    most ``pool_size`` pairs per interval (default: twice the larger snapshot, capped at 100,000),
    so the cost per training step does not depend on the number of cells.

    Parameters
    ----------
    batch_size
        Cells per side of each minibatch coupling.
    pool_size
        Pairs kept per interval; ``None`` chooses as above.
    """

    def __init__(self, batch_size: int = 512, pool_size: int | None = None):
        self.batch_size = int(batch_size)
        self.pool_size = pool_size

    def couple(
        self, xa: np.ndarray, xb: np.ndarray, ma: float, mb: float, dt: float, generator: torch.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Couple two minibatches.

        Returns indices ``ia, ib`` of the pairs and their mass factors ``wa, wb`` at the two ends
        (the pair's weight at ``τ`` is ``wa^(1−τ) wb^τ``; the mean over pairs is the total mass).
        """
        ia, ib = self._pairs(xa, xb, dt, generator)
        return ia, ib, np.full(len(ia), ma), np.full(len(ia), mb)

    def _pairs(self, xa: np.ndarray, xb: np.ndarray, dt: float, generator: torch.Generator):
        raise NotImplementedError

    def _fit(self, generator: torch.Generator) -> None:
        ia_all, ib_all, wa_all, wb_all, starts = [], [], [], [], [0]
        for k in range(len(self.sizes) - 1):
            na, nb = self.sizes[k], self.sizes[k + 1]
            target = _pool_target(self.pool_size, max(na, nb))
            dt = float(self.times[k + 1] - self.times[k])
            ma, mb = float(self.masses[k]), float(self.masses[k + 1])
            n_pairs = 0
            while n_pairs < target:
                sa, sb = _minibatch(na, self.batch_size, generator), _minibatch(nb, self.batch_size, generator)
                xa, xb = self._marginals_np[k][sa], self._marginals_np[k + 1][sb]
                ia, ib, wa, wb = self.couple(xa, xb, ma, mb, dt, generator)
                ia_all.append(sa[ia] + self.offsets[k])
                ib_all.append(sb[ib] + self.offsets[k + 1])
                wa_all.append(wa)
                wb_all.append(wb)
                n_pairs += len(ia)
            starts.append(starts[-1] + n_pairs)
        dev = self.device
        self.pair_a = torch.as_tensor(np.concatenate(ia_all), device=dev)
        self.pair_b = torch.as_tensor(np.concatenate(ib_all), device=dev)
        self.log_wa = torch.as_tensor(np.log(np.concatenate(wa_all)), device=dev, dtype=self.dtype)
        self.log_wb = torch.as_tensor(np.log(np.concatenate(wb_all)), device=dev, dtype=self.dtype)
        self.pool_starts = torch.as_tensor(starts[:-1], dtype=torch.long)
        self.pool_sizes = torch.as_tensor(np.diff(starts), dtype=torch.long)

    def _noise_scale(self, tau: torch.Tensor, dt: torch.Tensor) -> torch.Tensor | None:
        """Standard deviation of the noise added at ``τ`` (``None``: no noise)."""
        return None

    def _noise_slope(self, tau: torch.Tensor, dt: torch.Tensor) -> torch.Tensor | None:
        """Time derivative of :meth:`_noise_scale` (pathwise velocity of the noise)."""
        return None

    def sample(self, n: int, *, generator: torch.Generator) -> PathSample:
        """Draw ``n`` samples of the path (see :class:`PathSample`)."""
        t, k = self._times_and_intervals(n, generator)
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        idx = self.pool_starts[k] + (u * self.pool_sizes[k]).long().clamp(max=self.pool_sizes[k] - 1)
        dt = self.times[k + 1] - self.times[k]
        tau = (t - self.times[k]) / dt
        idx_d = idx.to(self.device)
        tau_d = tau.to(self.device, self.dtype)[:, None]
        xa, xb = self.x[self.pair_a[idx_d]], self.x[self.pair_b[idx_d]]
        x_t = (1 - tau_d) * xa + tau_d * xb
        noise = self._noise_scale(tau, dt)
        if noise is not None:
            xi = torch.randn(x_t.shape, generator=generator, dtype=torch.float64).to(self.device, self.dtype)
            x_t = x_t + noise.to(self.device, self.dtype)[:, None] * xi
        dt_d = dt.to(self.device, self.dtype)
        dx_t = (xb - xa) / dt_d[:, None]
        slope = self._noise_slope(tau, dt)
        if slope is not None:
            dx_t = dx_t + slope.to(self.device, self.dtype)[:, None] * xi
        w_t = torch.exp((1 - tau_d[:, 0]) * self.log_wa[idx_d] + tau_d[:, 0] * self.log_wb[idx_d])
        dlogw_t = (self.log_wb[idx_d] - self.log_wa[idx_d]) / dt_d
        return PathSample(x_t, t.to(self.device, self.dtype), w_t, dx_t, dlogw_t)


class IndependentInterpolant(PairInterpolant):
    """Random pairs of cells from consecutive snapshots (note §3.1)."""

    name = "independent"

    def _pairs(self, xa, xb, dt, generator):
        n = min(len(xa), len(xb))
        return _randperm(len(xa), generator)[:n], _randperm(len(xb), generator)[:n]


class OTInterpolant(PairInterpolant):
    """Pairs from an exact optimal-transport plan (squared Euclidean cost) on minibatches (§3.2)."""

    name = "ot"

    def _pairs(self, xa, xb, dt, generator):
        plan = exact_plan(xa, xb)
        if len(xa) == len(xb):  # a permutation: take every pair once
            return np.arange(len(xa)), plan.argmax(1)
        return sample_pairs(plan, max(len(xa), len(xb)), generator)


class SBInterpolant(PairInterpolant):
    """Schrödinger bridge: entropic-OT pairs with ``ε = σ² Δt`` plus Brownian-bridge noise (§3.3).

    Parameters
    ----------
    sigma
        Noise level σ of the dynamics (the same σ as the loss). ``σ = 0`` reduces to ``"ot"``.
    batch_size, pool_size
        See :class:`PairInterpolant`.
    """

    name = "sb"

    def __init__(self, sigma: float = 0.0, batch_size: int = 512, pool_size: int | None = None):
        super().__init__(batch_size, pool_size)
        self.sigma = float(sigma)

    def _pairs(self, xa, xb, dt, generator):
        if self.sigma == 0:
            return OTInterpolant._pairs(self, xa, xb, dt, generator)
        plan = bridge_plan(xa, xb, sigma=self.sigma, dt=dt)
        return sample_pairs(plan, max(len(xa), len(xb)), generator)

    def _noise_scale(self, tau, dt):
        if self.sigma == 0:
            return None
        return self.sigma * torch.sqrt(tau * (1 - tau) * dt)

    def _noise_slope(self, tau, dt):
        if self.sigma == 0:
            return None
        return bridge_noise_slope(self.sigma, tau, dt)


class UnbalancedInterpolant(PairInterpolant):
    """Pairs from unbalanced entropic OT, carrying mass so the path runs from ``m_k`` to ``m_{k+1}`` (§3.4).

    The plan ``P`` between minibatches with masses ``a_i = m_k / n_a`` and ``b_j = m_{k+1} / n_b``
    is solved with POT's ``sinkhorn_unbalanced`` (costs divided by their mean). A pair drawn
    with probability ``P_ij / |P|`` carries mass ``|P| (a_i / P_i·)^(1−τ) (b_j / P_·j)^τ``, so
    its expected mass is ``m_k`` at ``τ = 0`` and ``m_{k+1}`` at ``τ = 1``: cells the plan
    cannot transport cheaply are created or destroyed along the way.

    Parameters
    ----------
    epsilon
        Entropic regularisation, relative to the mean cost.
    reg_m
        Marginal relaxation (larger: closer to balanced OT).
    batch_size, pool_size
        See :class:`PairInterpolant`.
    reg_m_target
        Relaxation of the target marginal alone (``None``: ``reg_m`` for both). A large value
        (semi-relaxed OT, as in Waddington-OT) keeps the later snapshot's distribution and lets
        only the earlier one's mass change: the growth of each pair is then that of its source cell.
    """

    name = "unbalanced"

    def __init__(
        self,
        epsilon: float = 0.05,
        reg_m: float = 1.0,
        batch_size: int = 512,
        pool_size: int | None = None,
        reg_m_target: float | None = None,
    ):
        super().__init__(batch_size, pool_size)
        self.epsilon = float(epsilon)
        self.reg_m = float(reg_m)
        self.reg_m_target = None if reg_m_target is None else float(reg_m_target)

    def couple(self, xa, xb, ma, mb, dt, generator):  # noqa: D102
        a, b = uniform_masses(len(xa), ma), uniform_masses(len(xb), mb)
        reg_m = self.reg_m if self.reg_m_target is None else (self.reg_m, self.reg_m_target)
        plan = unbalanced_plan(xa, xb, a, b, epsilon=self.epsilon, reg_m=reg_m)
        total = plan.sum()
        if not np.isfinite(total) or total <= 0:
            raise FloatingPointError("Unbalanced OT failed; raise `epsilon` of the unbalanced interpolant.")
        ia, ib = sample_pairs(plan, max(len(xa), len(xb)), generator)
        wa, wb = unbalanced_mass_factors(plan, a, b, ia, ib, total=total)
        return ia, ib, wa, wb


class GrowthInterpolant(PairInterpolant):
    """Sharp pairs that carry each source cell's growth: the path for a free growth head (``growth="free"``).

    Two semi-relaxed unbalanced entropic OT plans between each pair of minibatches (squared
    Euclidean cost divided by its mean; target marginal held with ``reg_m_target = 50``):

    * the growth plan ``P`` (``growth_epsilon = 0.2``, source relaxed with ``reg_m = 3``), as
      Waddington-OT estimates growth: each cell ``i`` of ``t_k`` sends the mass ``P_i·`` its
      descendants at ``t_{k+1}`` need, and ``ρ_i = P_i· / a_i`` is its growth over the interval;
    * the pairing plan ``Q`` (``epsilon = 0.01``, source relaxed with ``pair_reg_m = 1``): sharp, and
      free to drop cells rather than pair them across branches.

    A pair ``(i, j)`` drawn from ``Q`` carries mass ``w_0 = |Q| a_i / Q_i·`` at ``t_k`` (so that the
    path starts at the snapshot ``m_k q_k``) and ``w_0 ρ_i m_{k+1} / |P|`` at ``t_{k+1}`` (geometric
    in between): the expected mass runs from ``m_k`` to ``m_{k+1}`` and each sample grows at its
    source cell's rate. The weighted end points follow ``q_{k+1}`` only approximately.

    Chosen on :func:`scam.datasets.branching` (600 steps, 32x32 networks, seeds 0 and 1): one
    plan for both with ``epsilon = 0.2`` gave growth correlation 0.79-0.83 but fate accuracy at
    days 0-1 of 0.65-0.74; balanced exact-OT pairs 0.55-0.68; these defaults 0.79-0.83 and 0.83-0.87.
    (The growth correlation of ``ρ`` alone was 0.84 at ``growth_epsilon = 0.2, reg_m = 3``, against
    0.61-0.80 for ``epsilon`` 0.1-0.5 and ``reg_m`` 1-10.)

    Parameters
    ----------
    epsilon
        Entropic regularisation of the pairing plan (relative to the mean cost).
    growth_epsilon
        Entropic regularisation of the growth plan.
    reg_m, reg_m_target
        Relaxation of the source marginal of the growth plan, and of the (held) target marginal.
    batch_size, pool_size
        See :class:`PairInterpolant`.
    pair_reg_m
        Relaxation of the source marginal of the pairing plan.
    """

    name = "growth"

    def __init__(
        self,
        epsilon: float = 0.01,
        growth_epsilon: float = 0.2,
        reg_m: float = 3.0,
        reg_m_target: float = 50.0,
        batch_size: int = 512,
        pool_size: int | None = None,
        pair_reg_m: float = 1.0,
    ):
        super().__init__(batch_size, pool_size)
        self.epsilon = float(epsilon)
        self.pair_reg_m = float(pair_reg_m)
        self.growth_epsilon = float(growth_epsilon)
        self.reg_m = float(reg_m)
        self.reg_m_target = float(reg_m_target)

    def couple(self, xa, xb, ma, mb, dt, generator):  # noqa: D102
        a, b = uniform_masses(len(xa), ma), uniform_masses(len(xb), mb)
        growth_plan, pair_plan = growth_plans(
            xa,
            xb,
            a,
            b,
            growth_epsilon=self.growth_epsilon,
            growth_reg_m=self.reg_m,
            pair_epsilon=self.epsilon,
            pair_reg_m=self.pair_reg_m,
            reg_m_target=self.reg_m_target,
        )
        for plan in (growth_plan, pair_plan):
            if not np.all(np.isfinite(plan)) or plan.sum() <= 0:
                raise FloatingPointError("Unbalanced OT failed; raise `epsilon` of the growth interpolant.")
        rho = growth_rates(growth_plan, a)  # each source cell's growth over the interval
        ia, ib = sample_pairs(pair_plan, max(len(xa), len(xb)), generator)
        # start: the source cells with their own mass (undo the pair plan's row sums), as for "unbalanced"
        wa, _ = unbalanced_mass_factors(pair_plan, a, b, ia, ib)
        # end: grown by ρ_i, normalised so that the expected mass is m_{k+1}
        wb = wa * rho[ia] * mb / growth_plan.sum()
        return ia, ib, wa, np.maximum(wb, MASS_FLOOR)


class SplineInterpolant(Interpolant):
    """Multi-marginal spline: trajectories chained by minibatch OT through every snapshot (§3.5).

    A minibatch of the first snapshot is matched by exact OT to a minibatch of the second, the
    matched cells to a minibatch of the third, and so on; a natural cubic spline in time through
    each chain of cells gives a smooth path, so curvature seen at neighbouring times shapes the
    path between two snapshots (and across a missing one). With σ > 0, Brownian-bridge noise
    is added within each interval. The path's mass interpolates the snapshot masses geometrically.

    The spline's bend is scaled by ``curvature`` ``γ``: ``x(t) = linear(t) + γ · cubic
    correction(t)`` (γ = 0: the chained straight lines, γ = 1: the natural cubic spline). Chains
    matched by OT carry matching noise that the cubic spline turns into spurious bends; the noise
    grows with the dimension and shrinks with the number of cells. The default γ = 0.5 is the
    robust choice on the EB data (``docs/benchmarks/curvature/``: W1 of the path at held-out
    times): about as good as the best γ in 5 PCs of 16,819 cells (0.713; γ = 1: 0.716), and well
    ahead of γ = 1 in 20 or 100 PCs of 1,750 cells, where the full bend is worse than straight
    lines.
    ``"auto"`` picks γ from the snapshots themselves by leave-one-snapshot-out: each interior
    snapshot in turn is left out, chains through the others are drawn, and the γ of
    :data:`CURVATURE_GRID` whose path lands closest (exact W1) to the left-out cells on average
    wins (with fewer than four snapshots there is nothing to leave out, and γ = 0.5). It tracks
    the best γ in high dimensions but errs toward straight lines when snapshots are far apart,
    since leaving one out doubles a gap.

    Parameters
    ----------
    sigma
        Noise level σ (Brownian-bridge noise between knots; 0 for none).
    batch_size
        Cells per snapshot in each chained minibatch.
    pool_size
        Trajectories kept (default: twice the largest snapshot, capped at 100,000).
    momentum
        With ``momentum > 0``, cells are matched to where their incoming motion would carry them.
    curvature
        ``γ`` in ``[0, 1]``, or ``"auto"`` (chosen by leave-one-snapshot-out; the choice is in
        :attr:`curvature_`).
    """

    name = "spline"

    def __init__(
        self,
        sigma: float = 0.0,
        batch_size: int = 512,
        pool_size: int | None = None,
        momentum: float = 0.0,
        curvature: float | str = 0.5,
    ):
        self.sigma = float(sigma)
        self.batch_size = int(batch_size)
        self.pool_size = pool_size
        self.momentum = float(momentum)
        if not (curvature == "auto" or (isinstance(curvature, int | float) and 0.0 <= float(curvature) <= 1.0)):
            raise ValueError(f"`curvature` must be 'auto' or a number in [0, 1], got {curvature!r}.")
        self.curvature = curvature

    def _chains(self, ks: Sequence[int], target: int, generator: torch.Generator) -> np.ndarray:
        """``(target, len(ks))`` global cell indices of OT-chained trajectories through snapshots ``ks``."""
        times = self.times.numpy()
        sizes = [self.sizes[k] for k in ks]
        chains, n = [], 0
        while n < target:
            b = min(self.batch_size, *sizes)
            current = _minibatch(sizes[0], b, generator)
            chain = [current + self.offsets[ks[0]]]
            velocity = None
            for prev, k in zip(ks[:-1], ks[1:], strict=True):
                nxt = _minibatch(self.sizes[k], b, generator)
                xa, xb = self._marginals_np[prev][current], self._marginals_np[k][nxt]
                dt = times[k] - times[prev]
                source = xa if velocity is None or self.momentum == 0 else xa + self.momentum * velocity * dt
                plan = exact_plan(source, xb)
                matched = nxt[plan.argmax(1)]
                velocity = (self._marginals_np[k][matched] - xa) / dt
                current = matched
                chain.append(current + self.offsets[k])
            chains.append(np.stack(chain, axis=1))
            n += b
        return np.concatenate(chains)[:target]

    def _choose_curvature(self, generator: torch.Generator) -> float:
        """γ of :data:`CURVATURE_GRID` that best predicts each interior snapshot left out in turn."""
        from .metrics import wasserstein

        n_times = len(self.sizes)
        if n_times < 4:
            return 0.5
        interior = list(range(1, n_times - 1))
        if len(interior) > CURVATURE_MAX_FOLDS:  # evenly spread folds keep the cost bounded
            interior = sorted({interior[int(i)] for i in np.linspace(0, len(interior) - 1, CURVATURE_MAX_FOLDS)})
        scores = np.zeros(len(CURVATURE_GRID))
        for j in interior:
            ks = [k for k in range(n_times) if k != j]
            idx = torch.as_tensor(self._chains(ks, CURVATURE_CV_CELLS, generator), device=self.device)
            y = self.x[idx].double()
            times = self.times[ks].to(y.device, y.dtype)
            m = self._natural_spline(y, times)
            i = j - 1  # the interval of the kept times that spans t_j
            h = float(times[i + 1] - times[i])
            a = float((times[i + 1] - self.times[j]) / h)
            b = 1.0 - a
            linear = a * y[:, i] + b * y[:, i + 1]
            bend = ((a**3 - a) * m[:, i] + (b**3 - b) * m[:, i + 1]) * h**2 / 6
            target = self._marginals_np[j]
            for g, gamma in enumerate(CURVATURE_GRID):
                pred = (linear + gamma * bend).cpu().numpy()
                scores[g] += wasserstein(pred, target, max_points=CURVATURE_CV_CELLS, random_state=0)
        return float(CURVATURE_GRID[int(np.argmin(scores))])

    def _fit(self, generator: torch.Generator) -> None:
        target = _pool_target(self.pool_size, max(self.sizes))
        idx = torch.as_tensor(self._chains(list(range(len(self.sizes))), target, generator), device=self.device)
        self.knots_idx = idx
        self.curvature_ = self._choose_curvature(generator) if self.curvature == "auto" else float(self.curvature)
        self.second_derivatives = self.curvature_ * self._natural_spline(self.x[idx], self.times)

    @staticmethod
    def _natural_spline(y: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Second derivatives ``M`` at the knots of natural cubic splines through ``y`` (n, K+1, d)."""
        n_knots = y.shape[1]
        m = torch.zeros_like(y)
        if n_knots <= 2:
            return m
        h = torch.diff(times).to(y.device, y.dtype)
        a = torch.zeros(n_knots - 2, n_knots - 2, dtype=y.dtype, device=y.device)
        for i in range(n_knots - 2):
            a[i, i] = 2 * (h[i] + h[i + 1])
            if i > 0:
                a[i, i - 1] = h[i]
            if i < n_knots - 3:
                a[i, i + 1] = h[i + 1]
        slopes = torch.diff(y, dim=1) / h[None, :, None]
        rhs = 6 * (slopes[:, 1:] - slopes[:, :-1])  # (n, K-1, d)
        m[:, 1:-1] = torch.linalg.solve(a, rhs)
        return m

    def sample(self, n: int, *, generator: torch.Generator) -> PathSample:
        """Draw ``n`` samples of the path (see :class:`PathSample`)."""
        t, k = self._times_and_intervals(n, generator)
        j = torch.randint(0, self.knots_idx.shape[0], (n,), generator=generator)
        h = self.times[k + 1] - self.times[k]
        a = ((self.times[k + 1] - t) / h).to(self.device, self.dtype)[:, None]
        b = 1 - a
        hd = h.to(self.device, self.dtype)[:, None]
        jd, kd = j.to(self.device), k.to(self.device)
        y0, y1 = self.x[self.knots_idx[jd, kd]], self.x[self.knots_idx[jd, kd + 1]]
        m0, m1 = self.second_derivatives[jd, kd], self.second_derivatives[jd, kd + 1]
        x_t = a * y0 + b * y1 + ((a**3 - a) * m0 + (b**3 - b) * m1) * hd**2 / 6
        dx_t = (y1 - y0) / hd + ((1 - 3 * a**2) * m0 + (3 * b**2 - 1) * m1) * hd / 6
        if self.sigma > 0:
            tau = (t - self.times[k]) / h
            xi = torch.randn(x_t.shape, generator=generator, dtype=torch.float64).to(self.device, self.dtype)
            scale = (self.sigma * torch.sqrt(tau * (1 - tau) * h)).to(self.device, self.dtype)
            x_t = x_t + scale[:, None] * xi
            dx_t = dx_t + bridge_noise_slope(self.sigma, tau, h).to(self.device, self.dtype)[:, None] * xi
        log_m = torch.log(self.masses)
        dlogw = ((log_m[k + 1] - log_m[k]) / h).to(self.device, self.dtype)
        return PathSample(
            x_t, t.to(self.device, self.dtype), self._mass_at(t, k).to(self.device, self.dtype), dx_t, dlogw
        )


#: Curvature values ``γ`` tried by ``SplineInterpolant(curvature="auto")``.
CURVATURE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Trajectories drawn, and cells compared by exact W1, per left-out snapshot of the curvature choice.
CURVATURE_CV_CELLS = 1000
#: At most this many left-out snapshots for the curvature choice (evenly spread).
CURVATURE_MAX_FOLDS = 6

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


def get_interpolant(name: str | Interpolant, *, sigma: float = 0.0, **kwargs) -> Interpolant:
    """Build an interpolant from its name (``sigma`` is passed to those that use it).

    Parameters
    ----------
    name
        One of :data:`INTERPOLANTS`, or an :class:`Interpolant` instance (returned as is).
    sigma
        The dynamics' noise level σ.
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
    return cls(**kwargs)
