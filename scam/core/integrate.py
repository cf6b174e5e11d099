"""Integrators for the learned dynamics ``dx = ∇s dt + σ dW``, ``d log w = g dt`` (``g = λ s`` or a growth head)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

#: Cells integrated or evaluated at once by the model's read-outs (bounds memory on large data).
CHUNK_SIZE = 65_536


def action_and_velocity(net: nn.Module, x: torch.Tensor, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """``s(x, t)`` and ``∇_x s(x, t)``, detached (works inside ``torch.no_grad``)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        s = net(x, t)
        (grad,) = torch.autograd.grad(s.sum(), x)
    return s.detach(), grad.detach()


class _ActionSDE(nn.Module):
    """State ``[x, log w]``: drift ``[∇s, λ s]``, diagonal noise ``[σ, 0]`` (torchsde interface)."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, net: nn.Module, sigma: float, lam: float, growth: nn.Module | None = None):
        super().__init__()
        self.net, self.sigma, self.lam, self.growth = net, sigma, lam, growth

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        v, rate = velocity_and_rate(self.net, y[:, :-1], t, lam=self.lam, growth=self.growth)
        return torch.cat([v, rate[:, None]], dim=-1)

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        g = torch.full_like(y, self.sigma)
        g[:, -1] = 0.0
        return g


def velocity_and_rate(
    net: nn.Module, x: torch.Tensor, t: torch.Tensor | float, *, lam: float = 0.0, growth: nn.Module | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Velocity ``∇s`` and growth rate (``λ s``, or the free head ``g(x, t)``), detached, internal units."""
    s, v = action_and_velocity(net, x, t)
    if growth is None:
        return v, lam * s
    with torch.no_grad():
        return v, growth(x.detach(), t).detach()


def integrate(
    net: nn.Module,
    x0: torch.Tensor,
    t_start: float,
    t_end: float,
    *,
    n_steps: int = 100,
    lam: float = 0.0,
    sigma: float = 0.0,
    stochastic: bool = False,
    method: Literal["rk4", "euler"] = "euler",
    save_path: bool = False,
    generator: torch.Generator | None = None,
    growth: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Push points from ``t_start`` to ``t_end`` along the learned dynamics.

    Parameters
    ----------
    net
        The action ``s(x, t)``.
    x0
        Start points ``(n, d)``.
    t_start, t_end
        Times (internal units); ``t_end < t_start`` runs the ODE backward.
    n_steps
        Fixed steps.
    lam
        Growth weight λ: ``log w`` integrates ``λ s`` (0 gives weights 1).
    sigma
        Noise level σ, used when ``stochastic``.
    stochastic
        Euler–Maruyama for the SDE (torchsde) instead of the ODE ``dx = ∇s dt``; forward only.
    method
        ODE scheme, ``"euler"`` or ``"rk4"``.
    save_path
        Return every step instead of only the end.
    generator
        Random generator for the SDE's Brownian motion.
    growth
        A free growth head ``g(x, t)``: ``log w`` integrates ``g`` instead of ``λ s``.

    Returns
    -------
    Positions ``(n, d)`` (or ``(n_steps + 1, n, d)`` with ``save_path``) and log-weights
    ``(n,)`` (or ``(n_steps + 1, n)``).
    """
    if n_steps < 1:
        raise ValueError(f"`n_steps` must be at least 1, got {n_steps}.")
    x = x0.detach()
    logw = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    if stochastic and sigma > 0:
        if t_end < t_start:
            raise ValueError(
                "Backward simulation of the SDE needs the score of the marginals, which Action Matching does not "
                "learn; simulate backward with `stochastic=False`."
            )
        return _integrate_sde(net, x, logw, t_start, t_end, n_steps, lam, sigma, save_path, generator, growth)

    def field(x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        return velocity_and_rate(net, x, t, lam=lam, growth=growth)

    return fixed_step(field, x, logw, t_start, t_end, n_steps=n_steps, method=method, save_path=save_path)


Field = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]


def fixed_step(
    field: Field,
    x: torch.Tensor,
    acc: torch.Tensor,
    t_start: float,
    t_end: float,
    *,
    n_steps: int,
    method: Literal["rk4", "euler"] = "euler",
    save_path: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate ``dx/dt = f(x, t)`` and a running sum ``d acc/dt = a(x, t)`` with fixed steps.

    The one ODE scheme of scam: :func:`integrate` accumulates the log-weight (``a`` = growth
    rate), :meth:`scam.ActionModel.log_likelihood` the log-density change (``a = g − Δs``).

    Parameters
    ----------
    field
        ``field(x, t) -> (f, a)``: the velocity ``(n, d)`` and the accumulated rate ``(n,)``.
    x, acc
        Start points and start values of the running sum.
    t_start, t_end
        Times; ``t_end < t_start`` runs backward.
    n_steps
        Fixed steps.
    method
        ``"euler"`` or ``"rk4"``.
    save_path
        Return every step (``(n_steps + 1, n, d)`` and ``(n_steps + 1, n)``) instead of the end.
    """
    if method not in ("euler", "rk4"):
        raise ValueError(f"Unknown ODE method {method!r}; use 'euler' or 'rk4'.")
    dt = (t_end - t_start) / n_steps
    xs, accs = [x], [acc]
    for i in range(n_steps):
        t = t_start + i * dt
        v1, g1 = field(x, t)
        if method == "euler":
            x, acc = x + dt * v1, acc + dt * g1
        else:
            v2, g2 = field(x + 0.5 * dt * v1, t + 0.5 * dt)
            v3, g3 = field(x + 0.5 * dt * v2, t + 0.5 * dt)
            v4, g4 = field(x + dt * v3, t + dt)
            x = x + dt / 6 * (v1 + 2 * v2 + 2 * v3 + v4)
            acc = acc + dt / 6 * (g1 + 2 * g2 + 2 * g3 + g4)
        if save_path:
            xs.append(x)
            accs.append(acc)
    if save_path:
        return torch.stack(xs), torch.stack(accs)
    return x, acc


def _integrate_sde(net, x, logw, t_start, t_end, n_steps, lam, sigma, save_path, generator, growth=None):
    import torchsde

    sde = _ActionSDE(net, sigma, lam, growth)
    y0 = torch.cat([x, logw[:, None]], dim=-1)
    ts = torch.linspace(t_start, t_end, n_steps + 1, dtype=x.dtype, device=x.device)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator)) if generator is not None else None
    # float32 rounding can put ts[-1] a hair past t_end: give the Brownian motion some room.
    bm = torchsde.BrownianInterval(
        t0=float(ts[0]),
        t1=float(ts[-1]) + 1e-6 * max(1.0, abs(t_end - t_start)),
        size=y0.shape,
        dtype=x.dtype,
        device=x.device,
        entropy=seed,
        levy_area_approximation="none",
    )
    with torch.no_grad():
        ys = torchsde.sdeint(
            sde, y0, ts if save_path else ts[[0, -1]], bm=bm, method="euler", dt=(t_end - t_start) / n_steps
        )
    if save_path:
        return ys[..., :-1], ys[..., -1]
    return ys[-1, :, :-1], ys[-1, :, -1]
