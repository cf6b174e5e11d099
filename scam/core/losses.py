"""The unbalanced-entropic Action Matching loss (note §2).

``L(s) = m_0 E_{q_0}[s(x, t_0)] − m_K E_{q_K}[s(x, t_K)]
+ (t_K − t_0) E_t E_{x_t}[w (½|∇s|² + ∂_t s + (σ²/2) Δs + (λ/2) s²)]``

``σ = 0, λ = 0`` is Action Matching, ``σ > 0`` entropic AM, ``λ > 0`` unbalanced AM.
Minimising ``L`` minimises the action gap ``½∫∫ |∇s − ∇ŝ|² + λ (s − ŝ)² dq_t dt``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .interpolants import PathSample

#: Up to this dimension the Laplacian is computed exactly (``d`` extra backward passes);
#: above it a Hutchinson estimate with one Rademacher probe is used.
EXACT_LAPLACIAN_MAX_DIMS = 10

LaplacianMethod = Literal["auto", "exact", "hutchinson", "stein"]
Estimator = Literal["path", "boundary"]


def laplacian(
    grad_x: torch.Tensor,
    x: torch.Tensor,
    *,
    method: LaplacianMethod = "auto",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Laplacian ``Δs`` from the gradient ``∇s`` (built with ``create_graph=True``).

    Parameters
    ----------
    grad_x
        ``∇_x s``, shape ``(n, d)``.
    x
        The inputs ``grad_x`` was taken with respect to.
    method
        ``"exact"`` sums the ``d`` diagonal second derivatives; ``"hutchinson"`` uses ``εᵀ∇²s ε``
        with a Rademacher ``ε``; ``"auto"`` is exact up to ``EXACT_LAPLACIAN_MAX_DIMS`` dimensions.
        (The Laplacian-free ``"stein"`` estimate needs the path's noise and lives in
        :func:`action_matching_loss`.)
    generator
        Random generator for the Hutchinson probe.
    """
    d = x.shape[-1]
    if method == "auto":
        method = "exact" if d <= EXACT_LAPLACIAN_MAX_DIMS else "hutchinson"
    if method == "exact":
        diag = [torch.autograd.grad(grad_x[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(d)]
        return torch.stack(diag, dim=-1).sum(-1)
    if method == "hutchinson":
        eps = torch.randint(0, 2, x.shape, generator=generator, device="cpu").to(x) * 2 - 1
        hess_eps = torch.autograd.grad((grad_x * eps).sum(), x, create_graph=True)[0]
        return (hess_eps * eps).sum(-1)
    raise ValueError(f"Unknown Laplacian method {method!r}; use 'auto', 'exact' or 'hutchinson'.")


def action_matching_loss(
    net: nn.Module,
    path: PathSample,
    x_start: torch.Tensor | None = None,
    x_end: torch.Tensor | None = None,
    *,
    m_start: float = 1.0,
    m_end: float = 1.0,
    t_start: float = 0.0,
    t_end: float = 1.0,
    sigma: float = 0.0,
    lam: float = 0.0,
    estimator: Estimator = "path",
    laplacian_method: LaplacianMethod = "auto",
    generator: torch.Generator | None = None,
    growth_net: nn.Module | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Minibatch estimate of the unbalanced-entropic AM loss.

    Two unbiased estimators of the same loss (up to a constant):

    ``"boundary"``
        The paper's form: boundary terms on cells of the first and last snapshot plus
        ``(t_K − t_0) E[w (½|∇s|² + ∂_t s + (σ²/2) Δs + (λ/2) s²)]`` on path samples.
    ``"path"``
        The boundary terms rewritten as the integral of ``d/dt E[w s(x_t, t)]`` along each
        sample's own path (``ẋ``, ``d log w/dt`` from the interpolant):
        ``(t_K − t_0) E[w (½|∇s|² − ∇s·ẋ + (σ²/2) Δs + (λ/2) s² − s · d log w/dt)]``.
        No ``∂_t s``, and far less variance: the boundary averages over a minibatch, whose
        noise dominates the gradient, are gone.

    Parameters
    ----------
    net
        The action ``s(x, t)``, returning shape ``(n,)``.
    path
        Samples of the path ``q_t`` (from an interpolant).
    x_start, x_end
        Cells of the first and last snapshot (``"boundary"`` only).
    m_start, m_end
        Total masses of the first and last snapshot (``"boundary"`` only).
    t_start, t_end
        Time range of the path.
    sigma
        Noise level σ of ``dx = ∇s dt + σ dW``.
    lam
        Growth weight λ: growth rate ``λ s``.
    estimator
        ``"path"`` or ``"boundary"``, see above.
    laplacian_method
        How ``Δs`` is computed when ``σ > 0``: ``"stein"`` uses the path's own Gaussian noise,
        ``Δs ≈ ∇s · ξ / c`` for a sample ``x = μ + c ξ`` (Stein's lemma; :attr:`PathSample.stein`),
        which needs no second derivative; ``"auto"`` takes it when the path has noise, else
        :func:`laplacian`'s choice; ``"exact"`` and ``"hutchinson"`` as in :func:`laplacian`.
    generator
        Random generator (Hutchinson probes).
    growth_net
        A free growth head ``g(x, t)`` (``growth="free"``; then ``lam`` must be 0). The growth
        is no longer ``λ s``: the continuity equation is ``∂_t q = −∇·(q ∇s) + g q``, and
        ``d/dt E[w s] = E[w (∂_t s + ∇s·ẋ + s g)]`` turns the loss of ``s`` into
        ``(t_K − t_0) E[w (½|∇s|² + ∂_t s + (σ²/2) Δs + s g)]`` plus the boundary terms. With
        ``g`` the conditional mean of the path's ``d log w/dt`` (the growth the path carries),
        the ``s g`` term cancels the ``− s d log w/dt`` of the ``"path"`` estimator in
        expectation, so that estimator drops both. ``g`` itself is fitted by growth matching,
        the weighted regression ``(t_K − t_0) E[w (g(x_t, t) − d log w/dt)²]`` (the analogue of
        flow matching for the mass: its minimiser is the path's growth rate at ``(x, t)``),
        added to the returned loss (the two networks share no parameters).

    Returns
    -------
    The scalar loss and a dict of diagnostics (floats).
    """
    if estimator not in ("path", "boundary"):
        raise ValueError(f"Unknown estimator {estimator!r}; use 'path' or 'boundary'.")
    x_t = path.x.detach().requires_grad_(True)
    t = path.t.detach().reshape(-1).to(x_t)
    inputs = [x_t]
    if estimator == "boundary":
        t = t.requires_grad_(True)
        inputs.append(t)
    s = net(x_t, t)
    grads = torch.autograd.grad(s.sum(), inputs, create_graph=True)
    grad_x = grads[0]
    kinetic = 0.5 * (grad_x**2).sum(-1)
    g = None
    if growth_net is not None:
        if lam > 0:
            raise ValueError("A free growth head replaces the tied growth λ s; use lam=0 with growth_net.")
        g = growth_net(x_t.detach(), t.detach())
    if estimator == "boundary":
        integrand = kinetic + grads[1]
        if g is not None:
            integrand = integrand + s * g.detach()
    elif g is not None:
        integrand = kinetic - (grad_x * path.dx).sum(-1)
    else:
        integrand = kinetic - (grad_x * path.dx).sum(-1) - s * path.dlogw
    if sigma > 0:
        method = laplacian_method
        if method == "auto" and path.stein is not None:
            method = "stein"
        if method == "stein":
            if path.stein is None:
                raise ValueError(
                    "laplacian_method='stein' needs a path with Gaussian noise (σ > 0 on 'spline' or 'sb'); "
                    "use 'exact' or 'hutchinson'."
                )
            lap = (grad_x * path.stein).sum(-1)
        else:
            lap = laplacian(grad_x, x_t, method=method, generator=generator)
        integrand = integrand + 0.5 * sigma**2 * lap
    if lam > 0:
        integrand = integrand + 0.5 * lam * s**2
    integrand = integrand * path.w
    loss = (t_end - t_start) * integrand.mean()
    if estimator == "boundary":
        if x_start is None or x_end is None:
            raise ValueError("The 'boundary' estimator needs cells of the first and last snapshot.")
        s_start = net(x_start, torch.full((x_start.shape[0],), t_start, device=x_start.device, dtype=x_start.dtype))
        s_end = net(x_end, torch.full((x_end.shape[0],), t_end, device=x_end.device, dtype=x_end.dtype))
        loss = loss + m_start * s_start.mean() - m_end * s_end.mean()
    stats = {
        "loss": float(loss.detach()),
        "kinetic": float(kinetic.detach().mean()),
    }
    if g is not None:
        growth_mse = (path.w * (g - path.dlogw.detach()) ** 2).mean()
        loss = loss + (t_end - t_start) * growth_mse
        stats["growth_mse"] = float(growth_mse.detach())
    return loss, stats


def growth_prior_penalty(
    net: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    prior: torch.Tensor,
    *,
    lam: float = 0.0,
    growth_net: nn.Module | None = None,
) -> torch.Tensor:
    """Mean squared gap between the learned growth and a prior growth rate at observed cells.

    The learned growth is ``g(x, t)`` of the free head, or the tied ``λ s(x, t)``; ``prior``
    holds the prior rates in the same (internal) time units. Added to the loss with a weight
    (``growth_penalty``), it pulls the growth toward the prior where the snapshots do not decide it.
    """
    if growth_net is not None:
        learned = growth_net(x, t)
    elif lam > 0:
        learned = lam * net(x, t)
    else:
        raise ValueError("The growth prior penalty needs a growth: lam > 0 (tied) or a free growth head.")
    return ((learned - prior) ** 2).mean()
