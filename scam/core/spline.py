"""The multi-marginal spline path: OT-chained trajectories through every snapshot, with a tunable bend."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .couplings import exact_plan
from .paths import Interpolant, PathSample, _minibatch, _pool_target, bridge_noise_slope

#: Curvature values ``γ`` tried by ``SplineInterpolant(curvature="auto")``.
CURVATURE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Trajectories drawn, and cells compared by exact W1, per left-out snapshot of the curvature choice.
CURVATURE_CV_CELLS = 1000
#: At most this many left-out snapshots for the curvature choice (evenly spread).
CURVATURE_MAX_FOLDS = 6


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
