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


class ActionNet(nn.Module):
    """SiLU MLP ``s(x, t) -> ℝ`` with a free scalar output.

    The output is an unconstrained scalar (not ``⟨h(x, t), x⟩``), so that the growth ``λ s`` is
    not forced to vanish anywhere (note §2, architecture trap).

    Parameters
    ----------
    n_dims
        Dimension of the state ``x``.
    hidden
        Widths of the hidden layers.
    n_frequencies
        Number of Fourier frequencies of the time embedding.
    """

    def __init__(self, n_dims: int, hidden: Sequence[int] = (256, 256, 256), n_frequencies: int = 4):
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

    @property
    def config(self) -> dict:
        """Constructor arguments, JSON-serialisable."""
        return {
            "n_dims": self.n_dims,
            "hidden": list(self.hidden),
            "n_frequencies": self.time_embedding.n_frequencies,
        }

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Action values, shape ``(n,)``; ``t`` is a scalar or one time per row."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0 or t.numel() == 1:
            t = t.reshape(1).expand(x.shape[0])
        return self.mlp(torch.cat([x, self.time_embedding(t)], dim=-1)).squeeze(-1)


class GrowthNet(ActionNet):
    """Free growth head ``g(x, t) -> ℝ``: a growth rate per unit (internal) time, not tied to the action.

    Same architecture as :class:`ActionNet` (a SiLU MLP with a free scalar output); trained by
    regression on the mass change carried by the path (``growth="free"`` of :func:`scam.tl.fit`).
    """
