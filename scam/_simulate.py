"""Simulation of a fitted model: push cells forward or backward along the learned dynamics."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .core.integrate import CHUNK_SIZE, integrate


def simulate(model, X, t_start, t_end, *, n_steps, stochastic, return_weights, return_path, method, random_state):
    """See :meth:`scam.ActionModel.simulate`."""
    for name, value in (("t_start", t_start), ("t_end", t_end)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value)
        ):
            raise ValueError(
                f"`{name}` must be a finite number in the time units of the fit, got {value!r}; for a named time "
                "point use its value (`model.observed_times`)."
            )
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"`n_steps` must be at least 1 (an integer), got {n_steps!r}.")
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0
    ):
        raise ValueError(f"`random_state` must be a non-negative integer or None, got {random_state!r}.")
    if stochastic is None:
        stochastic = model.default_stochastic(t_start, t_end)
    z = model._x(X)
    _warn_outside_range(model, t_start, t_end)
    tau0, tau1 = model.units.tau(t_start), model.units.tau(t_end)
    gen = torch.Generator().manual_seed(int(random_state)) if random_state is not None else None
    xs, ws = [], []
    for start in range(0, z.shape[0], CHUNK_SIZE):
        x, logw = integrate(
            model.net,
            z[start : start + CHUNK_SIZE],
            tau0,
            tau1,
            n_steps=n_steps,
            lam=model.lam,
            sigma=model.sigma,
            stochastic=stochastic,
            method=method,
            save_path=return_path,
            generator=gen,
            growth=model.growth_net,
        )
        xs.append(x.cpu().numpy().astype(np.float64))
        ws.append(logw.cpu().numpy().astype(np.float64))
    axis = 1 if return_path else 0
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, with advice
        positions = model.units.to_user(np.concatenate(xs, axis=axis)).astype(np.float32)
        weights = np.exp(np.concatenate(ws, axis=axis)).astype(np.float32)
    _check_finite(model, positions, weights if return_weights else None, t_start, t_end)
    if not return_weights:
        return positions
    return positions, weights


def _range_text(model) -> str:
    lo, hi = model.time_range
    return f"[{lo:g}, {hi:g}]"


def _warn_outside_range(model, t_start: float, t_end: float) -> None:
    """One ``UserWarning`` when a simulation leaves the fitted time range by more than the margin."""
    outside = [f"`{n}={v:g}`" for n, v in (("t_start", t_start), ("t_end", t_end)) if not model.in_time_range(v)]
    if outside:
        warnings.warn(
            f"Simulating outside the time range the model was fitted on, {_range_text(model)} "
            f"({' and '.join(outside)}): the dynamics there are extrapolated, not learned. Simulate within "
            f"{_range_text(model)} (times in the units of the fit), or refit on data that covers these times.",
            UserWarning,
            stacklevel=4,
        )


def _check_finite(model, positions: np.ndarray, weights: np.ndarray | None, t_start: float, t_end: float) -> None:
    """Raise when the simulated positions or weights are no longer finite numbers."""
    span = f"from {t_start:g} to {t_end:g} (fitted range {_range_text(model)})"
    if not np.all(np.isfinite(positions)):
        raise ValueError(
            f"The simulated positions diverged (NaN or infinite values) {span}; simulate over a shorter "
            "interval within the fitted range, or with more `n_steps`."
        )
    if weights is not None and not np.all(np.isfinite(weights)):
        raise ValueError(
            f"The growth weights exp(∫ growth dt) overflowed (NaN or infinite values) {span}; simulate over a "
            "shorter interval within the fitted range, or refit with a smaller `lam` (or a `growth_penalty` "
            "toward a growth prior)."
        )
