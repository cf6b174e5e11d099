"""The action network ``s(x, t)``: a scalar field whose gradient is the velocity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class TimeEmbedding(nn.Module):
    """Fourier features of a scalar time in ``[0, 1]``.

    Returns ``[t, sin(2π f t), cos(2π f t)]`` for ``f = 1 … n_frequencies``; the raw ``t`` keeps
    the embedding injective, the harmonics let the action bend in time without a deep network.
    """

    def __init__(self, n_frequencies: int = 4):
        super().__init__()
        self.n_frequencies = n_frequencies
        self.register_buffer("frequencies", 2 * math.pi * torch.arange(1, n_frequencies + 1, dtype=torch.float32))

    @property
    def dim(self) -> int:
        """Width of the embedding."""
        return 1 + 2 * self.n_frequencies

    def forward(self, t: torch.Tensor) -> torch.Tensor:  # noqa: D102
        t = t.reshape(-1, 1)
        angles = t * self.frequencies
        return torch.cat([t, torch.sin(angles), torch.cos(angles)], dim=-1)


#: Kinds of the action's quadratic term (see :class:`ActionNet`).
QUADRATIC = ("full", "diag", "none")


#: ``quadratic="auto"`` adds the term from this many dimensions on (below, the MLP fits an affine field itself).
QUADRATIC_MIN_DIMS = 20


def check_quadratic(quadratic) -> str:
    """``quadratic`` if it is ``"auto"`` or one of :data:`QUADRATIC`; else a ``ValueError`` naming the choices."""
    if not isinstance(quadratic, str) or quadratic not in ("auto", *QUADRATIC):
        raise ValueError(f"`quadratic` must be 'auto', 'full', 'diag' or 'none', got {quadratic!r}.")
    return quadratic


def resolve_quadratic(quadratic: str, n_dims: int) -> str:
    """``"auto"``: no quadratic term below 20 dimensions, the full one up to 128, the diagonal one above.

    Measured (``docs/benchmarks/network/quadratic.md``): the full term lowers the held-out W1 at 50
    and 100 PCs and leaves it unchanged at 5, 10 and 20; in 2-D with a small network it made fates
    worse (an affine field extrapolates without bound away from the cells). Above 128 dimensions a
    full ``A`` costs more than the network (d² per time feature), so the diagonal one is used.
    """
    if check_quadratic(quadratic) != "auto":
        return quadratic
    if n_dims < QUADRATIC_MIN_DIMS:
        return "none"
    return "full" if n_dims <= 128 else "diag"


class ActionNet(nn.Module):
    """SiLU MLP ``s(x, t) -> ℝ`` with a free scalar output, plus a quadratic term in ``x``.

    The output is an unconstrained scalar (not ``⟨h(x, t), x⟩``), so that the growth ``λ s`` is
    not forced to vanish anywhere (note §2, architecture trap).

    The quadratic term ``½ xᵀA(t)x + b(t)ᵀx`` (``A``, ``b`` linear in the time embedding, zero at
    initialisation) gives the velocity an exact affine part ``A(t)x + b(t)``: the optimal-transport
    map between Gaussians is affine, and in 20-100 dimensions the MLP alone fits it poorly from a
    few hundred cells per time point (``docs/benchmarks/network/quadratic.md``: the held-out W1 of
    the EB subset drops 1 % at 50 PCs and 2.7 % at 100 PCs; unchanged at 5 PCs).

    Parameters
    ----------
    n_dims
        Dimension of the state ``x``.
    hidden
        Widths of the hidden layers.
    n_frequencies
        Number of Fourier frequencies of the time embedding.
    quadratic
        ``"full"`` (a symmetric ``A(t)``), ``"diag"`` (a diagonal ``A(t)``: cost linear in the
        dimension) or ``"none"`` (the MLP alone; what models saved before this term load as).
    """

    def __init__(
        self,
        n_dims: int,
        hidden: Sequence[int] = (256, 256, 256),
        n_frequencies: int = 4,
        quadratic: str = "none",
    ):
        super().__init__()
        self.n_dims = int(n_dims)
        self.hidden = tuple(int(h) for h in hidden)
        self.time_embedding = TimeEmbedding(n_frequencies)
        widths = [self.n_dims + self.time_embedding.dim, *self.hidden]
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(w_in, w_out), nn.SiLU()]
        layers.append(nn.Linear(widths[-1], 1))
        self.mlp = nn.Sequential(*layers)
        self.quadratic = resolve_quadratic(quadratic, self.n_dims)
        n_basis = 1 + self.time_embedding.dim  # a constant and the time embedding
        if self.quadratic != "none":
            self.linear = nn.Parameter(torch.zeros(n_basis, self.n_dims))
            shape = (n_basis, self.n_dims) if self.quadratic == "diag" else (n_basis, self.n_dims, self.n_dims)
            self.quad = nn.Parameter(torch.zeros(shape))

    @property
    def config(self) -> dict:
        """Constructor arguments, JSON-serialisable."""
        return {
            "n_dims": self.n_dims,
            "hidden": list(self.hidden),
            "n_frequencies": self.time_embedding.n_frequencies,
            "quadratic": self.quadratic,
        }

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Action values, shape ``(n,)``; ``t`` is a scalar or one time per row."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0 or t.numel() == 1:
            t = t.reshape(1).expand(x.shape[0])
        emb = self.time_embedding(t)
        out = self.mlp(torch.cat([x, emb], dim=-1)).squeeze(-1)
        if self.quadratic == "none":
            return out
        basis = torch.cat([torch.ones_like(emb[:, :1]), emb], dim=-1)  # (n, F)
        if self.quadratic == "diag":
            quad = ((basis @ self.quad) * x * x).sum(-1)
        else:  # xᵀA_f x for every basis function f, as one matrix product: (n, d) @ (d, F·d)
            n_basis, d = self.quad.shape[0], self.n_dims
            xa = (x @ self.quad.permute(1, 0, 2).reshape(d, n_basis * d)).reshape(-1, n_basis, d)
            quad = ((xa * x[:, None, :]).sum(-1) * basis).sum(-1)
        return out + 0.5 * quad + ((basis @ self.linear) * x).sum(-1)

    def laplacian(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Exact ``Δ_x s(x, t)``, shape ``(n,)``, in one forward pass.

        Each layer carries the Jacobian of its units in ``x``, ``(n, width, d)``, and their Laplacians,
        ``(n, width)``: a linear layer maps both by its weight; SiLU ``a = silu(z)`` gives ``∂a = silu'(z) ∂z``
        and ``Δa = silu''(z) |∂z|² + silu'(z) Δz``. The quadratic term adds ``tr A(t)``. This is about ``d``
        forward passes' work as batched products, where summing ``∂²s/∂x_i²`` by autograd
        (:func:`scam.core.losses.laplacian`) takes ``d`` double-backward passes
        (``docs/benchmarks/speed/likelihood.py``). :meth:`scam.ActionModel.log_likelihood` uses it; training
        does not.
        """
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0 or t.numel() == 1:
            t = t.reshape(1).expand(x.shape[0])
        emb = self.time_embedding(t)
        first, *rest = self.mlp
        z = first(torch.cat([x, emb], dim=-1))
        jac = first.weight[:, : self.n_dims].expand(x.shape[0], -1, -1)  # the embedding does not depend on x
        lap = torch.zeros_like(z)
        for layer in rest:
            if isinstance(layer, nn.Linear):
                z, jac, lap = layer(z), layer.weight @ jac, lap @ layer.weight.T
            elif isinstance(layer, nn.SiLU):
                sig = torch.sigmoid(z)
                d1 = sig * (1 + z * (1 - sig))
                d2 = sig * (1 - sig) * (2 + z * (1 - 2 * sig))
                z, jac, lap = z * sig, d1[..., None] * jac, d2 * (jac * jac).sum(-1) + d1 * lap
            else:
                raise TypeError(f"ActionNet.laplacian knows Linear and SiLU layers, not {type(layer).__name__}.")
        lap = lap.squeeze(-1)
        if self.quadratic == "none":
            return lap
        basis = torch.cat([torch.ones_like(emb[:, :1]), emb], dim=-1)
        # Δ(½ xᵀAx) = tr A: the diagonal's sum, per basis function
        diag = self.quad if self.quadratic == "diag" else torch.diagonal(self.quad, dim1=1, dim2=2)
        return lap + basis @ diag.sum(-1)


class GrowthNet(ActionNet):
    """Free growth head ``g(x, t) -> ℝ``: a growth rate per unit (internal) time, not tied to the action.

    Same architecture as :class:`ActionNet` (a SiLU MLP with a free scalar output); trained by
    regression on the mass change carried by the path (``growth="free"`` of :func:`scam.tl.fit`).
    """
