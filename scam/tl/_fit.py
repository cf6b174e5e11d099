"""``scam.tl.fit``: fit Action Matching to a time course in an AnnData."""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from anndata import AnnData

from .. import _keys
from .._validation import (
    TimeInfo,
    check_adata,
    check_hidden,
    check_key_added,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_seed,
    get_growth_prior,
    get_masses,
    get_rep,
    get_time,
    masses_from_growth,
)
from ..core import ActionNet, TrainConfig, TrainResult, get_interpolant, train_action
from ..core.interpolants import INTERPOLANTS, Interpolant
from ..core.network import GrowthNet
from ..model import ActionModel, resolve_device

logger = logging.getLogger("scam")

#: Defaults of :func:`fit`, chosen on the leave-one-timepoint-out benchmark (``scam benchmark``):
#: the spline path uses every time point, whereas a pairwise path can at best reproduce the OT
#: midpoint (EB, seed 0, held-out time 1: W1 0.686 with "spline" vs 0.721 with "ot"; mean over
#: held-out times 0.695-0.699 with "spline" for 1,000-3,000 steps, batch 256-1,024 couplings).
#: σ = λ = 0 (plain AM) is the fastest (no Laplacian); the benchmark's variant rows show what
#: noise and growth change. 2,000 steps fit EB in ~20 s on two CPU cores.
DEFAULTS = {
    "sigma": 0.0,
    "lam": 0.0,
    "interpolant": "spline",
    "n_iters": 2000,
    "batch_size": 512,
    "hidden": (256, 256, 256),
    "lr": 1e-3,
}
#: Held-back cells per time point for the validation W1 (at most; none below 50 cells).
VAL_FRACTION, VAL_MAX_CELLS, VAL_MIN_TIME_CELLS = 0.1, 250, 50


#: Growth models of :func:`fit`: ``"tied"`` (``λ s``, the paper's uAM) or ``"free"`` (a growth head).
GROWTH = ("tied", "free")


def _seeded_net(n_dims: int, hidden: Sequence[int], seed: int, cls: type[ActionNet] = ActionNet) -> ActionNet:
    """Build the network with a local seed, leaving the global torch RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(n_dims, hidden)


def _split_validation(codes: np.ndarray, n_times: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of held-back validation cells."""
    val = np.zeros(len(codes), dtype=bool)
    for k in range(n_times):
        idx = np.flatnonzero(codes == k)
        if len(idx) >= VAL_MIN_TIME_CELLS:
            n_val = min(VAL_MAX_CELLS, int(VAL_FRACTION * len(idx)))
            val[rng.choice(idx, n_val, replace=False)] = True
    return val


def check_fit_args(
    *,
    sigma,
    lam,
    interpolant,
    n_iters,
    batch_size,
    hidden,
    lr,
    random_state,
    device,
    growth="tied",
    growth_penalty=0.0,
) -> dict:
    """Check and normalise the optimisation arguments of :func:`fit` (raises ``ValueError`` naming the fix)."""
    if isinstance(interpolant, str) and interpolant not in INTERPOLANTS:
        raise ValueError(f"Unknown interpolant {interpolant!r}; choose one of {sorted(INTERPOLANTS)}.")
    if not isinstance(growth, str) or growth not in GROWTH:
        raise ValueError(f"`growth` must be 'tied' (λ s) or 'free' (a growth head), got {growth!r}.")
    lam_checked = check_nonnegative("lam", lam)
    if growth == "free" and lam_checked > 0:
        raise ValueError(
            "`growth='free'` learns the growth with its own head, so `lam` (the weight of the tied growth λ s) "
            "must be 0; use growth='tied' with lam > 0 for the paper's unbalanced AM."
        )
    return {
        "growth": growth,
        "growth_penalty": check_nonnegative("growth_penalty", growth_penalty),
        "sigma": check_nonnegative("sigma", sigma),
        "lam": check_nonnegative("lam", lam),
        "interpolant": interpolant,
        "n_iters": check_positive_int("n_iters", n_iters),
        "batch_size": check_positive_int("batch_size", batch_size),
        "hidden": check_hidden(hidden),
        "lr": check_positive("lr", lr),
        "random_state": check_seed(random_state),
        "device": resolve_device(device),
    }


def train_model(
    X: np.ndarray,
    time: TimeInfo,
    mass: np.ndarray,
    *,
    use_rep: str,
    sigma: float,
    lam: float,
    interpolant: str | Interpolant,
    n_iters: int,
    batch_size: int,
    hidden: Sequence[int],
    lr: float,
    validation: bool,
    device: torch.device,
    random_state: int,
    progress_bar: bool,
    growth: str = "tied",
    growth_penalty: float = 0.0,
    prior_growth: np.ndarray | None = None,
) -> tuple[ActionModel, TrainResult]:
    """Train an :class:`ActionModel` on checked arrays (no AnnData is read or written).

    ``prior_growth`` (per cell of ``X``, per unit of ``time.values``) is needed when ``growth_penalty > 0``.
    """
    logger.info(
        "fitting Action Matching on %d cells, %d time points, %d dims (device %s)",
        X.shape[0],
        time.n_times,
        X.shape[1],
        device,
    )
    # --- internal units: one scalar scale keeps the geometry; time in [0, 1]
    center = X.mean(0)
    scale = float(np.sqrt(X.var(0).mean())) or 1.0
    t_origin, t_span = float(time.values[0]), float(time.values[-1] - time.values[0])
    tau = (time.values - t_origin) / t_span
    Z = torch.as_tensor((X - center) / scale, dtype=torch.float32)

    rng = np.random.default_rng(random_state)
    generator = torch.Generator().manual_seed(int(random_state))
    val_mask = _split_validation(time.codes, time.n_times, rng) if validation else np.zeros(len(X), dtype=bool)
    train_marg = [Z[(time.codes == k) & ~val_mask].to(device) for k in range(time.n_times)]
    val_marg = [
        Z[(time.codes == k) & val_mask].to(device) if (val_mask & (time.codes == k)).any() else None
        for k in range(time.n_times)
    ]
    interp = get_interpolant(interpolant, sigma=sigma).fit(train_marg, tau, mass, generator=generator)
    net = _seeded_net(X.shape[1], hidden, int(random_state)).to(device)
    growth_net = None
    if growth == "free":
        growth_net = _seeded_net(X.shape[1], hidden, int(random_state) + 1, GrowthNet).to(device)
    prior = None
    if growth_penalty > 0:
        if prior_growth is None:
            raise ValueError("`growth_penalty > 0` needs a growth prior; run `scam.pp.growth_prior(adata)` first.")
        if lam == 0 and growth == "tied":
            raise ValueError(
                "`growth_penalty > 0` needs a learned growth: use growth='free', or growth='tied' with lam > 0."
            )
        keep = ~val_mask
        prior = (
            Z[keep].to(device),
            torch.as_tensor(tau[time.codes[keep]], dtype=torch.float32, device=device),
            # per internal time unit: rate per user time unit × span
            torch.as_tensor(prior_growth[keep] * t_span, dtype=torch.float32, device=device),
        )
    config = TrainConfig(
        n_iters=n_iters, batch_size=batch_size, lr=lr, sigma=sigma, lam=lam, growth_penalty=growth_penalty
    )
    result = train_action(
        net,
        interp,
        train_marg,
        tau,
        mass,
        config,
        val_marginals=val_marg,
        generator=generator,
        progress_bar=progress_bar,
        growth_net=growth_net,
        prior=prior,
    )
    model = ActionModel(
        result.net,
        center=center,
        scale=scale,
        t_origin=t_origin,
        t_span=t_span,
        sigma=sigma,
        lam=lam,
        metadata={
            "time_key": time.key,
            "time_labels": time.labels,
            "time_values": time.values.tolist(),
            "use_rep": use_rep,
            "masses": mass.tolist(),
            "growth": growth,
            # the spline path's bend γ (chosen by leave-one-snapshot-out with curvature="auto")
            "spline_curvature": getattr(interp, "curvature_", None),
        },
        growth_net=result.growth_net,
    )
    return model, result


def fit(
    adata: AnnData,
    time_key: str = "time",
    *,
    use_rep: str = "X_pca",
    n_dims: int | None = None,
    sigma: float = DEFAULTS["sigma"],
    lam: float = DEFAULTS["lam"],
    masses: None | str | Mapping | Sequence[float] = None,
    growth: str = "tied",
    growth_penalty: float = 0.0,
    growth_prior_key: str = _keys.GROWTH_PRIOR,
    interpolant: str | Interpolant = DEFAULTS["interpolant"],
    n_iters: int = DEFAULTS["n_iters"],
    batch_size: int = DEFAULTS["batch_size"],
    hidden: Sequence[int] = DEFAULTS["hidden"],
    lr: float = DEFAULTS["lr"],
    validation: bool = True,
    device: str = "auto",
    random_state: int | None = 0,
    key_added: str = _keys.DEFAULT_KEY,
    progress_bar: bool = True,
    copy: bool = False,
) -> ActionModel | tuple[ActionModel, AnnData]:
    """Learn the cells' dynamics from time-course snapshots with Action Matching.

    One scalar action ``s(x, t)`` is trained so that cells move with velocity ``∇s``, grow at
    rate ``λ s`` and diffuse with noise ``σ`` (Neklyudov et al., ICML 2023), matching the
    observed snapshots along the path given by ``interpolant``.

    Parameters
    ----------
    adata
        Annotated data with a time column and a representation (usually PCA).
    time_key
        Column of ``adata.obs`` with each cell's time point. Numeric columns are used as values
        (days stay days); ordered categoricals use their order (0, 1, 2, …).
    use_rep
        Key of ``adata.obsm`` with the coordinates (default ``"X_pca"``).
    n_dims
        Use only the first ``n_dims`` columns of ``use_rep`` (``None``: all).
    sigma
        Noise level σ of ``dx = ∇s dt + σ dW`` (0: an ODE). Internal units: the representation
        divided by its overall standard deviation, time scaled to ``[0, 1]`` over the time course
        (``model.diffusion`` gives σ in your units).
    lam
        Growth weight λ: growth rate ``λ s`` (0: no growth, mass is conserved). ``1/λ`` is the
        cost of creating or destroying mass relative to moving it; same internal units as σ.
    masses
        Relative total mass per time point: ``None`` (equal), ``"counts"`` (cell counts),
        ``"growth_prior"`` (from the per-cell prior rates ``g`` of :func:`scam.pp.growth_prior`:
        ``m_{k+1} / m_k = mean over cells of time k of exp(g Δt)``, with ``Δt`` in the units of
        ``time_key``), a mapping from time (label or value) to mass, or one mass per time point.
        Only used with a growth (``lam > 0``, or ``growth="free"``).
    growth
        How the growth rate is modelled. ``"tied"`` (default): ``λ s``, the paper's unbalanced AM
        (needs ``lam > 0``; with ``lam = 0`` there is no growth). ``"free"``: a second network
        ``g(x, t)``, not tied to the action, fitted by *growth matching*: a mass-weighted
        regression on the rate ``d log w/dt`` at which the path's samples gain or lose mass (the
        analogue of flow matching for the mass), while ``∇s`` is fitted to the mass-weighted path
        (see :func:`scam.core.losses.action_matching_loss`). The free head learns the growth the
        path carries, so give it a path that moves mass between cells: ``interpolant="unbalanced"``
        (unbalanced OT: cells with more descendants gain mass), or a ``growth_penalty`` toward a prior.
        Needs ``lam = 0``.
    growth_penalty
        Weight of the mean squared gap between the learned growth (in internal units: rates per
        time course) and the prior growth ``adata.obs[growth_prior_key]`` at the observed cells;
        0 (default) disables. Needs a growth (``lam > 0`` or ``growth="free"``).
    growth_prior_key
        Column of ``adata.obs`` with the prior growth rate per unit of ``time_key`` (written by
        :func:`scam.pp.growth_prior`), for ``masses="growth_prior"`` and ``growth_penalty``.
    interpolant
        Path between snapshots: ``"ot"`` (minibatch exact-OT pairs), ``"independent"``, ``"sb"``
        (entropic OT + Brownian bridge, with σ), ``"unbalanced"`` (unbalanced OT, carries mass),
        ``"spline"`` (cubic splines through OT-chained cells of all time points), ``"growth"``
        (sharp OT pairs carrying each source cell's growth from semi-relaxed unbalanced OT: the
        path for ``growth="free"``), or an
        :class:`~scam.core.Interpolant`.
    n_iters
        Optimisation steps.
    batch_size
        Path samples per step.
    hidden
        Widths of the hidden layers of the action network.
    lr
        Peak learning rate.
    validation
        Hold back up to 10 % of the cells of each time point (at most 250) to track the W1 of
        simulated against observed cells; the returned model is the checkpoint with the best one.
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    random_state
        Seed of every random draw (network initialisation, couplings, minibatches); ``None`` draws
        one (recorded in ``uns[key_added]['params']``).
    key_added
        Prefix of the keys written to ``adata``.
    progress_bar
        Show a progress bar.
    copy
        Write results into a copy of ``adata`` and return ``(model, copy)``.

    Returns
    -------
    The trained :class:`~scam.ActionModel` (and the annotated copy if ``copy=True``). Writes:

    ``adata.obsm['scam_velocity']``
        ``∇s`` at each cell and its own time, in ``use_rep`` coordinates per unit of time
        (columns beyond ``n_dims`` are 0: not modelled).
    ``adata.obs['scam_potential']``
        The action ``s`` in your units (its gradient is the velocity).
    ``adata.obs['scam_growth']``
        Growth rate per unit time: ``λ s``, or the free head ``g`` with ``growth="free"``.
    ``adata.obs['scam_weight']``
        Expected mass multiplier of each cell over the interval to the next observed time:
        ``exp(∫ λ s dt)`` along its deterministic path (NaN at the last time point).
    ``adata.uns['scam']``
        ``params``, ``history`` (loss, validation W1), ``time`` mapping, ``masses`` (the relative
        masses used, first = 1) and ``learned_masses``: the mass the model predicts at each
        observed time, ``m̂_{k+1} = m̂_k · mean(scam_weight over the cells of time k)``, ``m̂_0 = 1``
        (all 1 without growth).

    Examples
    --------
    >>> import scam
    >>> adata = scam.datasets.embryoid_body()
    >>> model = scam.tl.fit(adata, time_key="day")  # doctest: +SKIP
    >>> X1 = model.simulate(adata.obsm["X_pca"][:100], 0, 1)  # doctest: +SKIP
    """
    # --- check everything before touching adata
    check_adata(adata)
    key_added = check_key_added(key_added)
    args = check_fit_args(
        sigma=sigma,
        lam=lam,
        interpolant=interpolant,
        n_iters=n_iters,
        batch_size=batch_size,
        hidden=hidden,
        lr=lr,
        random_state=random_state,
        device=device,
        growth=growth,
        growth_penalty=growth_penalty,
    )
    has_growth = args["lam"] > 0 or args["growth"] == "free"
    if args["growth_penalty"] > 0 and not has_growth:
        raise ValueError(
            "`growth_penalty > 0` pulls the learned growth toward the prior, but there is no growth: use "
            "growth='free', or growth='tied' with lam > 0."
        )
    if (
        args["growth"] == "free"
        and args["growth_penalty"] == 0
        and interpolant in ("spline", "ot", "independent", "sb")
    ):
        warnings.warn(
            f"The {interpolant!r} path changes every sample's mass at the same rate, so the free growth head can only "
            "learn a growth uniform in space; use interpolant='growth' (or 'unbalanced'), or a `growth_penalty` "
            "toward a prior.",
            UserWarning,
            stacklevel=2,
        )
    if adata.isbacked and copy:
        raise ValueError("`copy=True` is not supported for backed AnnData; load it with `adata.to_memory()` first.")
    time = get_time(adata, time_key)
    X = get_rep(adata, use_rep, n_dims)
    needs_prior = (isinstance(masses, str) and masses == "growth_prior") or args["growth_penalty"] > 0
    prior_growth = get_growth_prior(adata, growth_prior_key) if needs_prior else None
    if isinstance(masses, str) and masses == "growth_prior":
        mass = masses_from_growth(prior_growth, time)
    else:
        mass = get_masses(masses, time)
    if not has_growth and not np.allclose(mass, 1.0):
        warnings.warn(
            "`masses` are ignored when `lam=0` and growth='tied' (no growth: mass is conserved); set `lam > 0` or "
            "`growth='free'` to use them.",
            UserWarning,
            stacklevel=2,
        )
        mass = np.ones_like(mass)
    start = _time.perf_counter()
    model, result = train_model(
        X,
        time,
        mass,
        use_rep=use_rep,
        validation=validation,
        progress_bar=progress_bar,
        prior_growth=prior_growth,
        **args,
    )
    train_seconds = _time.perf_counter() - start
    n_dims, center, scale, t_origin, t_span = model.n_dims, model.center, model.scale, model.t_origin, model.t_span

    # --- read-outs at every cell
    t_cell = time.values[time.codes]
    potential, v, growth = model.evaluate(X, t_cell)
    weight = np.full(len(X), np.nan)
    for k in range(time.n_times - 1):
        idx = np.flatnonzero(time.codes == k)
        if not model.has_growth:  # no growth: every weight is exactly 1
            weight[idx] = 1.0
            continue
        _, w = model.simulate(X[idx], time.values[k], time.values[k + 1], stochastic=False, return_weights=True)
        weight[idx] = w
    learned_mass = np.ones(time.n_times)
    for k in range(time.n_times - 1):
        learned_mass[k + 1] = learned_mass[k] * float(np.mean(weight[time.codes == k]))
    velocity = np.zeros(adata.obsm[use_rep].shape, dtype=np.float32)
    velocity[:, :n_dims] = v

    params = {
        **{k: v for k, v in args.items() if k not in ("interpolant", "device")},
        "time_key": time.key,
        "use_rep": use_rep,
        "n_dims": n_dims,
        "interpolant": interpolant if isinstance(interpolant, str) else type(interpolant).__name__,
        "validation": validation,
        "device": str(args["device"]),
        "masses": "none" if masses is None else str(masses),
        "growth_prior_key": growth_prior_key,
        "diffusion": model.diffusion,
    }
    if model.metadata.get("spline_curvature") is not None:
        params["spline_curvature"] = float(model.metadata["spline_curvature"])
    history = {k: np.asarray(v, dtype=np.float64) for k, v in result.history.items()}
    uns = {
        "params": params,
        "history": history,
        "time": {"key": time.key, "labels": np.asarray(time.labels), "values": time.values},
        "masses": mass,
        _keys.learned_masses(): learned_mass,
        "scaling": {"center": center, "scale": scale, "t_origin": t_origin, "t_span": t_span},
        "training": {
            "seconds": train_seconds,
            "loop_seconds": result.seconds,
            "n_steps": result.n_steps,
            "best_iteration": int(result.best_iteration),
            "interrupted": bool(result.interrupted),
            "val_w1": float(np.nanmin(history["val_w1"])) if len(history["val_w1"]) else float("nan"),
        },
    }

    # --- write
    if copy:
        adata = adata.copy()
    elif adata.is_view:
        logger.warning("adata is a view; making it an actual AnnData (the parent object is not modified)")
        adata._init_as_actual(adata.copy())
    adata.obsm[_keys.velocity(key_added)] = velocity
    adata.obs[_keys.potential(key_added)] = potential
    adata.obs[_keys.growth(key_added)] = growth
    adata.obs[_keys.weight(key_added)] = weight.astype(np.float32)
    adata.uns[_keys.uns(key_added)] = uns
    logger.info(
        "finished (%.1f s): added '%s' (obsm), '%s', '%s', '%s' (obs), '%s' (uns)",
        _time.perf_counter() - start,
        _keys.velocity(key_added),
        _keys.potential(key_added),
        _keys.growth(key_added),
        _keys.weight(key_added),
        _keys.uns(key_added),
    )
    return (model, adata) if copy else model
