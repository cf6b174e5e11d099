"""``ActionModel``: a trained action with its coordinate and time mapping; save/load without pickle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import sparse

from ._device import resolve_device
from ._likelihood import log_likelihood
from ._persist import load_model, model_params, save_model
from ._settings import torch_threads
from ._simulate import simulate
from ._units import Units
from ._validation import dense_numbers
from .core.integrate import CHUNK_SIZE, action_and_velocity
from .core.network import ActionNet

#: Fraction of the fitted time span by which a time may lie outside the fitted range (``simulate`` warns beyond).
TIME_MARGIN = 0.05


class ActionModel:
    """A trained action ``s(x, t)`` in the user's coordinates and time units.

    Internally the network sees standardised coordinates ``z = (x − center) / scale`` (one
    scalar ``scale``, so the geometry is unchanged) and times ``τ = (t − t_origin) / t_span``
    in ``[0, 1]``; ``sigma`` and ``lam`` are in those internal units. All methods take and
    return numpy arrays in the user's units: velocities per unit of the user's time, growth
    rates per unit of the user's time.

    Parameters
    ----------
    net
        The action network (internal units).
    center, scale
        Standardisation of the representation.
    t_origin, t_span
        Time mapping: internal ``τ = (t − t_origin) / t_span``.
    sigma, lam
        Noise level σ and growth weight λ (internal units).
    metadata
        JSON-serialisable facts about the fit (time labels, ``use_rep``, masses, …).
    growth_net
        Optional free growth head ``g(x, t)`` (internal units; ``growth="free"`` of
        :func:`scam.tl.fit`): the growth rate is ``g`` instead of ``λ s``.
    """

    def __init__(
        self,
        net: ActionNet,
        *,
        center: np.ndarray,
        scale: float,
        t_origin: float,
        t_span: float,
        sigma: float = 0.0,
        lam: float = 0.0,
        metadata: dict | None = None,
        growth_net: ActionNet | None = None,
    ):
        self.net = net.eval().requires_grad_(False)
        self.growth_net = None if growth_net is None else growth_net.eval().requires_grad_(False)
        self.units = Units(center=center, scale=scale, t_origin=t_origin, t_span=t_span)
        self.sigma = float(sigma)
        self.lam = float(lam)
        self.metadata = dict(metadata or {})

    @classmethod
    def from_units(cls, net: ActionNet, units: Units, **kwargs) -> ActionModel:
        """A model whose coordinate and time mapping is ``units`` (:class:`scam._units.Units`)."""
        return cls(net, **units.to_dict(), **kwargs)

    # ------------------------------------------------------------------ basics
    @property
    def center(self) -> np.ndarray:
        """Centre of the standardisation ``z = (x − center) / scale``."""
        return self.units.center

    @property
    def scale(self) -> float:
        """Scale of the standardisation (one number: the geometry is kept)."""
        return self.units.scale

    @property
    def t_origin(self) -> float:
        """User time mapped to internal time 0."""
        return self.units.t_origin

    @property
    def t_span(self) -> float:
        """User time span mapped to internal time 1."""
        return self.units.t_span

    @property
    def time_range(self) -> tuple[float, float]:
        """First and last observed time of the fit (user units): where the dynamics were learned."""
        return self.t_origin, self.t_origin + self.t_span

    def in_time_range(self, t: float) -> bool:
        """Whether ``t`` lies in :attr:`time_range`, allowing :data:`TIME_MARGIN` of its span on either side."""
        lo, hi = self.time_range
        margin = TIME_MARGIN * (hi - lo)
        return bool(lo - margin <= t <= hi + margin)

    @property
    def n_dims(self) -> int:
        """Number of coordinates the model uses (the first ``n_dims`` of the representation)."""
        return self.net.n_dims

    @property
    def has_growth(self) -> bool:
        """Whether the model has a growth rate: tied (``lam > 0``) or a free growth head."""
        return self.lam > 0 or self.growth_net is not None

    @property
    def growth_kind(self) -> str:
        """``"free"`` (a growth head), ``"tied"`` (``λ s``, ``lam > 0``) or ``"none"``."""
        return "free" if self.growth_net is not None else ("tied" if self.lam > 0 else "none")

    @property
    def device(self) -> torch.device:
        """Device of the network."""
        return next(self.net.parameters()).device

    @property
    def diffusion(self) -> float:
        """σ in user units: representation units per square root of the user's time unit."""
        return self.units.diffusion(self.sigma)

    def to(self, device: str | torch.device) -> ActionModel:
        """Move the network to ``device`` (``"auto"`` allowed); returns ``self``."""
        self.net.to(resolve_device(device))
        if self.growth_net is not None:
            self.growth_net.to(resolve_device(device))
        return self

    def __repr__(self) -> str:
        kind = {(False, False): "AM", (True, False): "eAM", (False, True): "uAM", (True, True): "ueAM"}[
            (self.sigma > 0, self.has_growth)
        ] + (", free growth" if self.growth_net is not None else "")
        return (
            f"ActionModel({kind}, n_dims={self.n_dims}, sigma={self.sigma:g}, lam={self.lam:g}, "
            f"time=[{self.t_origin:g}, {self.t_origin + self.t_span:g}], device={self.device.type})"
        )

    # ------------------------------------------------------------------ conversions
    def _x(self, X) -> torch.Tensor:
        X = dense_numbers(X)
        if sparse.issparse(X):
            X = X.toarray()
        if np.iscomplexobj(X):
            raise ValueError(
                f"Expected the cells as a real-valued array (n_cells, >= {self.n_dims}), got complex numbers; pass "
                "the representation's real coordinates (e.g. adata.obsm['X_pca'])."
            )
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"Expected the cells as a numeric array (n_cells, >= {self.n_dims}) in the representation's "
                f"coordinates (e.g. adata.obsm['X_pca']), got {type(X).__name__}; convert it with np.asarray first."
            ) from None
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] < self.n_dims:
            raise ValueError(f"Expected an array of shape (n_cells, >= {self.n_dims}), got shape {X.shape}.")
        if X.shape[0] == 0:
            raise ValueError(f"Expected at least one cell, got shape {X.shape}; check the selection of cells.")
        if not np.all(np.isfinite(X[:, : self.n_dims])):
            raise ValueError("The coordinates contain NaN or infinite values (missing or masked ones count as NaN).")
        return torch.as_tensor(self.units.to_internal(X), dtype=torch.float32, device=self.device)

    def _t(self, t, n: int) -> torch.Tensor:
        try:
            t = np.asarray(t, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"`t` must be a number or one time per cell ({n}) in the time units of the fit, got {t!r}; for a "
                "named time point use its value (`model.observed_times`)."
            ) from None
        if t.ndim == 0:
            t = np.full(n, float(t))
        if t.shape != (n,):
            raise ValueError(f"`t` must be a number or one time per cell ({n}), got shape {t.shape}.")
        if not np.all(np.isfinite(t)):
            raise ValueError("`t` contains NaN or infinite values.")
        return torch.as_tensor(self.units.tau(t), dtype=torch.float32, device=self.device)

    def _evaluate(self, X, t) -> tuple[np.ndarray, np.ndarray]:
        """Internal action and gradient at user inputs, chunked."""
        z = self._x(X)
        tau = self._t(t, z.shape[0])
        s_out, v_out = [], []
        for start in range(0, z.shape[0], CHUNK_SIZE):
            s, v = action_and_velocity(self.net, z[start : start + CHUNK_SIZE], tau[start : start + CHUNK_SIZE])
            s_out.append(s.cpu().numpy())
            v_out.append(v.cpu().numpy())
        return np.concatenate(s_out).astype(np.float64), np.concatenate(v_out).astype(np.float64)

    def evaluate(self, X, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Potential, velocity and growth rate in user units from one pass of the network.

        Returns the arrays of :meth:`potential`, :meth:`velocity` and :meth:`growth`.
        """
        with torch_threads():
            s, v = self._evaluate(X, t)
            rate = self.lam * s if self.growth_net is None else self._growth_head(X, t)
        u = self.units
        return u.potential(s).astype(np.float32), u.velocity(v).astype(np.float32), u.rate(rate).astype(np.float32)

    def _growth_head(self, X, t) -> np.ndarray:
        """The free growth head at user inputs (internal rate per internal time unit), chunked."""
        z = self._x(X)
        tau = self._t(t, z.shape[0])
        with torch.no_grad():
            out = [
                self.growth_net(z[i : i + CHUNK_SIZE], tau[i : i + CHUNK_SIZE]).cpu().numpy()
                for i in range(0, z.shape[0], CHUNK_SIZE)
            ]
        return np.concatenate(out).astype(np.float64)

    # ------------------------------------------------------------------ read-outs
    def potential(self, X, t) -> np.ndarray:
        """Action ``s`` in user units (its gradient is :meth:`velocity`), shape ``(n,)``."""
        return self.evaluate(X, t)[0]

    def velocity(self, X, t) -> np.ndarray:
        """Velocity ``∇s`` (the SDE drift when σ > 0) per unit time, shape ``(n, n_dims)``."""
        return self.evaluate(X, t)[1]

    def growth(self, X, t) -> np.ndarray:
        """Growth rate per unit time, shape ``(n,)``: ``λ s``, or the free growth head ``g`` (zeros without growth)."""
        return self.evaluate(X, t)[2]

    def default_stochastic(self, t_start: float, t_end: float) -> bool:
        """Whether :meth:`simulate` uses the SDE by default: σ > 0 and the simulation runs forward."""
        return bool(self.sigma > 0 and t_end >= t_start)

    def simulate(
        self,
        X,
        t_start: float,
        t_end: float,
        *,
        n_steps: int | str = "auto",
        stochastic: bool | None = None,
        return_weights: bool = False,
        return_path: bool = False,
        method: str = "auto",
        random_state: int | None = 0,
    ):
        """Push cells from ``t_start`` to ``t_end`` (forward, or backward for the ODE).

        Parameters
        ----------
        X
            Cells ``(n, ≥ n_dims)`` at ``t_start`` in the representation's coordinates.
        t_start, t_end
            Times in the user's units.
        n_steps
            Integration steps, or ``"auto"``: for the ODE's end points, the fewest steps whose end points
            and log-weights on 256 of the cells move by at most 1e-3 (standardised coordinates) when the
            steps are doubled (:data:`scam._simulate.AUTO_TOL`; 4 to 256 steps); for the SDE and for
            ``return_path``, 100 steps.
        stochastic
            Simulate the SDE ``dx = ∇s dt + σ dW`` (Euler–Maruyama, torchsde) instead of the ODE.
            ``None`` (default): the SDE when the model has σ > 0, else the ODE.
        return_weights
            Also return each particle's weight ``exp(∫ g dt)`` (``g``: the free growth head, or ``λ s``)
            along its path, unnormalised (their
            mean is the predicted mass multiplier; normalise them before computing distances).
        return_path
            Return every step: positions ``(n_steps + 1, n, n_dims)`` and weights ``(n_steps + 1, n)``.
        method
            ODE scheme: ``"euler"``, ``"rk4"`` or ``"auto"`` (RK4 for the end points with
            ``n_steps="auto"``, else Euler). The SDE always uses Euler–Maruyama.
        random_state
            Seed of the SDE noise.

        Returns
        -------
        Positions, and with ``return_weights`` a tuple ``(positions, weights)``.

        Warns
        -----
        UserWarning
            Once per call when ``t_start`` or ``t_end`` lies outside the fitted :attr:`time_range` by more
            than :data:`TIME_MARGIN` of its span: the dynamics there are extrapolated. Also when cells
            end more than :data:`scam._simulate.FAR_FACTOR` times the observed cells' typical distance
            from their centre (seen backward across a long gap): their positions are extrapolated.

        Raises
        ------
        ValueError
            When positions or weights stop being finite along the paths (weights ``exp ∫ g dt`` overflow
            over long times).
        """
        with torch_threads():  # scam.settings.n_threads, the caller's count put back afterwards
            return simulate(
                self,
                X,
                t_start,
                t_end,
                n_steps=n_steps,
                stochastic=stochastic,
                return_weights=return_weights,
                return_path=return_path,
                method=method,
                random_state=random_state,
            )

    # ------------------------------------------------------------------ likelihood
    def log_likelihood(
        self,
        X,
        t: float,
        *,
        base,
        t_base: float | None = None,
        n_steps: int = 100,
        method: str = "rk4",
        growth: bool = True,
    ) -> np.ndarray:
        """Log-density of cells at time ``t`` under the learned dynamics (change of variables, note §4).

        Each cell is integrated back along ``dx = ∇s dt`` to ``t_base``, where the density is
        known, while accumulating the divergence of the velocity, ``∇·∇s = Δs`` (exact: the sum
        of the ``d`` second derivatives). Along a path the continuity equation
        ``∂_t q = −∇·(q ∇s) + λ s q`` gives ``d/dt log q(x(t), t) = −Δs + λ s``, so

        ``log q_t(x) = log q_base(x_base) − ∫_{t_base}^{t} Δs dt + ∫_{t_base}^{t} g dt``,

        with ``g`` the growth rate of :meth:`growth` (``λ s``; 0 without growth).

        Parameters
        ----------
        X
            Cells ``(n, ≥ n_dims)`` at time ``t`` in the representation's coordinates.
        t
            Their time (user units; one time for all of them).
        base
            The density at ``t_base``: a callable taking positions ``(n, n_dims)`` and returning their
            log-density ``(n,)`` (e.g. ``scipy.stats.multivariate_normal(mean, cov).logpdf``), or an array
            of cells ``(m, ≥ n_dims)`` observed at ``t_base``, to which a Gaussian (mean and full
            covariance) is fitted.
        t_base
            Time of the base density; default: the first observed time of the fit.
        n_steps
            Integration steps.
        method
            ``"rk4"`` or ``"euler"``.
        growth
            Include the growth term ``∫ g dt``. With growth the result is then the log of the mass
            density (it integrates to the predicted mass ratio ``m_t / m_base``, the mean of the weights
            from :meth:`simulate`, not to 1); subtract the log of that ratio for a normalised density.

        Returns
        -------
        Log-densities ``(n,)`` (float64), in the representation's coordinates (first ``n_dims``).

        Raises
        ------
        ValueError
            When the model has σ > 0: the marginals of the SDE are not transported by ``∇s`` alone
            (the probability-flow ODE needs the score, which Action Matching does not learn).
        """
        with torch_threads():
            return log_likelihood(self, X, t, base=base, t_base=t_base, n_steps=n_steps, method=method, growth=growth)

    # ------------------------------------------------------------------ persistence
    def params(self) -> dict:
        """Everything needed to rebuild the model besides the weights (JSON-serialisable)."""
        return model_params(self)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``model.pt`` (state dict) and ``params.json`` into the folder ``path``."""
        return save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "auto") -> ActionModel:
        """Load a model written by :meth:`save` (``weights_only`` loading: no pickled code runs)."""
        return load_model(cls, path).to(device)

    @property
    def observed_times(self) -> Sequence[float]:
        """Observed time values (user units) the model was fitted on."""
        return list(self.metadata.get("time_values", []))
