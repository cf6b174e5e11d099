"""Simulation of a fitted model: push cells forward or backward along the learned dynamics."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .core.integrate import CHUNK_SIZE, integrate

#: ``n_steps="auto"`` for the ODE's end points: the fewest steps (from ``AUTO_MIN_STEPS``, doubling up to
#: ``AUTO_MAX_STEPS``) whose end points and log-weights on ``AUTO_CHECK_CELLS`` of the cells differ from those of
#: twice the steps by at most ``AUTO_TOL`` (standardised coordinates; with RK4 the error of the finer run is
#: ~1/15 of that difference). Measured on the LOT folds of EB and of the suite's unevenly spaced simulation
#: (``docs/benchmarks/speed/integration.txt``): 8 RK4 steps on EB, within 4.3e-4 of 256 RK4 steps, where the 100
#: Euler steps used before were 6e-3 to 1e-2 off, in less than half the time (step choice included); 4 to 16
#: steps on the simulation, whose long intervals Euler's 100 steps missed by up to 4.2e-2.
AUTO_MIN_STEPS, AUTO_MAX_STEPS, AUTO_CHECK_CELLS, AUTO_TOL = 4, 256, 256, 1e-3

#: ``n_steps="auto"`` for the SDE (Euler–Maruyama) and for whole paths (``return_path``, Euler): fixed steps.
FIXED_STEPS = 100


def choose_steps(
    model, z: torch.Tensor, tau0: float, tau1: float, *, method: str = "rk4", weights_only: bool = False
) -> int:
    """ODE steps for cells ``z`` (internal units) from ``tau0`` to ``tau1``, by step doubling on a fixed subsample.

    See :data:`AUTO_TOL`. ``weights_only``: check the log-weights alone (the read-outs keep no end points; on
    EB's long day 1 -> 3 interval the end points take 32 steps, the weights 4). A run whose end points or weights
    are not finite counts as not converged (finer steps may keep them finite); ``AUTO_MAX_STEPS`` is returned
    when no pair of runs agrees.
    """
    check = z[np.linspace(0, len(z) - 1, min(len(z), AUTO_CHECK_CELLS)).astype(int)]

    def run(n: int) -> torch.Tensor | None:
        x, logw = integrate(
            model.net, check, tau0, tau1, n_steps=n, lam=model.lam, method=method, growth=model.growth_net
        )
        if not (bool(torch.isfinite(x).all()) and bool(torch.isfinite(logw).all())):
            return None
        return logw[:, None] if weights_only else torch.cat([x, logw[:, None]], dim=-1)

    n_steps, current = AUTO_MIN_STEPS, run(AUTO_MIN_STEPS)
    while n_steps < AUTO_MAX_STEPS:
        finer = run(2 * n_steps)
        if current is not None and finer is not None and float((finer - current).abs().max()) <= AUTO_TOL:
            break
        n_steps, current = 2 * n_steps, finer
    return n_steps


def check_steps(n_steps) -> int | str:
    """``n_steps`` if it is ``"auto"`` or a positive integer; else a ``ValueError`` naming the choices.

    The check of :func:`scam._validation.check_auto_or_positive_int`, which this module may not import: both are
    in the same layer (``tests/test_conventions.py`` lets imports only look down).
    """
    if isinstance(n_steps, str) and n_steps == "auto":
        return n_steps
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"`n_steps` must be 'auto' or a positive integer, got {n_steps!r}.")
    return int(n_steps)


def simulate(
    model, X, t_start, t_end, *, n_steps, stochastic, return_weights, return_path, method, random_state, warn_far=True
):
    """See :meth:`scam.ActionModel.simulate`; ``warn_far=False`` leaves the far-cells warning to the caller."""
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
    n_steps = check_steps(n_steps)
    if method not in ("auto", "euler", "rk4"):
        raise ValueError(f"Unknown ODE method {method!r}; use 'auto', 'euler' or 'rk4'.")
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
    # "auto": the ODE's end points by RK4 with steps from step doubling; the SDE and whole paths by fixed steps
    ode_ends = n_steps == "auto" and not (stochastic and model.sigma > 0) and not return_path
    if method == "auto":
        method = "rk4" if ode_ends else "euler"
    if n_steps == "auto":
        n_steps = choose_steps(model, z, tau0, tau1, method=method) if ode_ends else FIXED_STEPS
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
    far = _far_count(np.concatenate([x[-1] if return_path else x for x in xs]))  # the end points, internal units
    _check_finite(model, positions, weights if return_weights else None, t_start, t_end, far=far)
    if far and warn_far:
        warnings.warn(
            f"{far} of {z.shape[0]} simulated cells ended more than {FAR_FACTOR:g} times the observed cells' typical "
            f"distance from their centre, simulated {_span(model, t_start, t_end)}: the action there is extrapolated, "
            "not learned, and these positions (and weights) mean little. Simulate over shorter intervals between "
            "observed times (backward across a long gap is the least stable), or check the fit "
            "(`scam.pl.history`) and the data for outlier cells.",
            UserWarning,
            stacklevel=3,
        )
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


#: A simulated cell more than this many times the observed cells' root-mean-square distance from their centre (``√d``
#: in the network's units) has left the data: :meth:`~scam.ActionModel.simulate` warns.
FAR_FACTOR = 10.0


def _far_count(z: np.ndarray) -> int:
    """How many internal positions ``z`` lie beyond :data:`FAR_FACTOR` × the observed cells' RMS distance (``√d``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        dist = np.sqrt((z**2).sum(1))
    return int(np.sum(~np.isfinite(dist) | (dist > FAR_FACTOR * np.sqrt(z.shape[1]))))


def _span(model, t_start: float, t_end: float) -> str:
    return f"from {t_start:g} to {t_end:g} (fitted range {_range_text(model)})"


def _check_finite(
    model, positions: np.ndarray, weights: np.ndarray | None, t_start: float, t_end: float, *, far: int = 0
) -> None:
    """Raise when the simulated positions or weights are no longer finite numbers."""
    span = _span(model, t_start, t_end)
    if not np.all(np.isfinite(positions)):
        raise ValueError(
            f"The simulated positions diverged (NaN or infinite values) {span}; simulate over a shorter "
            "interval within the fitted range, or with more `n_steps`."
        )
    if weights is not None and not np.all(np.isfinite(weights)):
        left = (
            f" {far} of the {len(weights)} paths ended far outside the observed cells (more than {FAR_FACTOR:g} times "
            "their typical distance from their centre), where the action and growth are extrapolated;"
            if far
            else ""
        )
        refit = (
            "refit with a smaller `lam` (or a `growth_penalty` toward a growth prior)"
            if model.growth_net is None
            else "refit with a `growth_penalty` toward a growth prior (`scam.pp.growth_prior`) or `growth='none'`"
        )
        raise ValueError(
            f"The growth weights exp(∫ growth dt) overflowed (NaN or infinite values) {span};{left} simulate over "
            "shorter intervals between observed times (backward across a long gap is the least stable), or "
            f"{refit}."
        )
