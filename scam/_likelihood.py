"""Log-likelihood of cells under a fitted model: change of variables along the learned flow (note §4)."""

from __future__ import annotations

import numpy as np
import torch

from .core.integrate import CHUNK_SIZE, fixed_step
from .core.losses import laplacian
from .core.network import ActionNet

#: Cells per :meth:`ActionNet.laplacian` call are capped so that its Jacobians hold at most this many numbers
#: (2**24 float32: 64 MB per layer).
LAPLACIAN_ELEMENTS = 2**24


def log_likelihood(model, X, t: float, *, base, t_base, n_steps: int, method: str, growth: bool) -> np.ndarray:
    """See :meth:`scam.ActionModel.log_likelihood`; integrates in internal units throughout."""
    if model.sigma > 0:
        raise ValueError(
            "log_likelihood needs a model fitted with sigma=0: with noise the marginals move with "
            "∇s − (σ²/2)∇log q, and Action Matching does not learn the score ∇log q. Fit with sigma=0."
        )
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"`n_steps` must be a positive integer, got {n_steps!r}.")
    if method not in ("rk4", "euler"):
        raise ValueError(f"Unknown method {method!r}; use 'rk4' or 'euler'.")
    if t_base is None:
        times = model.observed_times
        t_base = float(times[0]) if len(times) else model.t_origin
    for name, value in (("t", t), ("t_base", t_base)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"`{name}` must be a number (one time for all cells), got {value!r}.")
        if not np.isfinite(value):
            raise ValueError(f"`{name}` must be a finite number, got {value!r}.")
    log_base = base_density(base, model.n_dims)
    forward_laplacian = isinstance(model.net, ActionNet)  # else any module: d autograd passes
    if forward_laplacian:
        rows = max(1, LAPLACIAN_ELEMENTS // (max(model.net.hidden, default=1) * model.n_dims))
    z = model._x(X)
    units = model.units

    def field(z: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            s = model.net(z, tau)
            (grad,) = torch.autograd.grad(s.sum(), z, create_graph=not forward_laplacian)
        if forward_laplacian:  # the Jacobians it carries are (cells, width, d): a chunk of cells at a time
            with torch.no_grad():
                lap = torch.cat([model.net.laplacian(part, tau) for part in z.detach().split(rows)])
        else:
            lap = laplacian(grad, z, method="exact").detach()
        # d log q / dτ along the path (internal units: Δ_x s_user dt = Δ_z s dτ, g_user dt = g dτ)
        if not growth:
            return grad.detach(), -lap
        if model.growth_net is None:
            return grad.detach(), model.lam * s.detach() - lap
        with torch.no_grad():
            return grad.detach(), model.growth_net(z.detach(), tau) - lap

    out = []
    for start in range(0, z.shape[0], CHUNK_SIZE):
        x = z[start : start + CHUNK_SIZE]
        acc = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        # backward in time, from t to t_base: acc = log q(x_base, τ_base) − log q(x, τ)
        x, acc = fixed_step(
            field, x, acc, units.tau(float(t)), units.tau(float(t_base)), n_steps=n_steps, method=method
        )
        x_base = units.to_user(x.cpu().numpy().astype(np.float64))
        out.append(log_base(x_base) - acc.cpu().numpy().astype(np.float64))
    return np.concatenate(out)


def base_density(base, n_dims: int):
    """A log-density callable from ``base`` (a callable, or cells to fit a Gaussian to)."""
    if callable(base):

        def log_base(x: np.ndarray) -> np.ndarray:
            values = np.asarray(base(x), dtype=np.float64).reshape(-1)
            if values.shape != (x.shape[0],):
                raise ValueError(
                    f"`base` must return one log-density per cell, shape ({x.shape[0]},), got {values.shape}."
                )
            return values

        return log_base
    try:
        cells = np.asarray(base, dtype=np.float64)
    except (TypeError, ValueError):
        cells = None
    if cells is None or cells.ndim != 2 or cells.shape[1] < n_dims:
        raise ValueError(
            "`base` must be a callable log-density or an array of cells (n, >= "
            f"{n_dims}) observed at `t_base`, got {type(base).__name__}."
        )
    cells = cells[:, :n_dims]
    if cells.shape[0] <= n_dims or not np.all(np.isfinite(cells)):
        raise ValueError(
            f"`base` cells must be finite and more than n_dims={n_dims} to fit a Gaussian, got {cells.shape[0]} cells."
        )
    from scipy.stats import multivariate_normal

    mean, cov = cells.mean(0), np.atleast_2d(np.cov(cells, rowvar=False))
    try:
        dist = multivariate_normal(mean, cov)
    except (ValueError, np.linalg.LinAlgError) as e:
        raise ValueError(f"The covariance of the `base` cells is singular ({e}); pass a callable density.") from e
    return lambda x: np.asarray(dist.logpdf(x), dtype=np.float64).reshape(-1)
