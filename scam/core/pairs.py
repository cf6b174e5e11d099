"""Straight-line paths between coupled cells of consecutive snapshots.

``"independent"``, ``"ot"``, ``"sb"``, ``"unbalanced"`` and ``"growth"``; every coupling comes from
:mod:`scam.core.couplings`.
"""

from __future__ import annotations

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
from .paths import (
    Interpolant,
    PathSample,
    _minibatch,
    _pool_target,
    _randperm,
    bridge_noise_scale,
    bridge_noise_slope,
)


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
        stein = None
        if noise is not None:
            xi = torch.randn(x_t.shape, generator=generator, dtype=torch.float64).to(self.device, self.dtype)
            noise = noise.to(self.device, self.dtype)[:, None]
            x_t = x_t + noise * xi
            stein = xi / noise
        dt_d = dt.to(self.device, self.dtype)
        dx_t = (xb - xa) / dt_d[:, None]
        slope = self._noise_slope(tau, dt)
        if slope is not None:
            dx_t = dx_t + slope.to(self.device, self.dtype)[:, None] * xi
        w_t = torch.exp((1 - tau_d[:, 0]) * self.log_wa[idx_d] + tau_d[:, 0] * self.log_wb[idx_d])
        dlogw_t = (self.log_wb[idx_d] - self.log_wa[idx_d]) / dt_d
        return PathSample(x_t, t.to(self.device, self.dtype), w_t, dx_t, dlogw_t, stein)


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
        return bridge_noise_scale(self.sigma, tau, dt)

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
