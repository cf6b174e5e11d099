"""The array-level trainer: checked arrays in, a trained :class:`~scam.ActionModel` out.

It owns the defaults of a fit (:class:`FitConfig`, one dataclass) and their checks, builds the
internal units (:class:`scam._units.Units`), splits off validation cells, fits the interpolant and
runs :func:`scam.core.train_action`. Nothing here reads or writes an AnnData: :func:`scam.tl.fit`
and the leave-one-timepoint-out engine (:mod:`scam.lot`) are thin callers.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._device import resolve_device
from ._settings import torch_threads
from ._time import TimeInfo
from ._units import Units
from ._validation import (
    check_auto_or_positive_int,
    check_hidden,
    check_nonnegative,
    check_positive,
    check_seed,
)
from .core import ActionNet, TrainConfig, TrainResult, get_interpolant, train_action
from .core.interpolants import INTERPOLANTS, MAX_POOL, Interpolant
from .core.network import GrowthNet, check_quadratic
from .core.spline import check_curvature, check_sigma
from .core.train import check_growth
from .model import ActionModel

__all__ = ["FIT_ARGS", "FitConfig", "train"]

logger = logging.getLogger("scam")

#: Growth models: ``"auto"`` (the default, see :class:`FitConfig`), ``"tied"`` (``λ s``, the paper's
#: uAM), ``"free"`` (a growth head) or ``"none"`` (mass is conserved).
GROWTH = ("auto", "tied", "free", "none")
#: Held-back cells per time point for the validation W1 (at most; none below 50 cells).
VAL_FRACTION, VAL_MAX_CELLS, VAL_MIN_TIME_CELLS = 0.1, 250, 50
#: Paths on which every sample's mass changes at the same rate (a free head learns no spatial growth there).
_BALANCED_PATHS = ("ot", "independent", "sb")


def resolve_growth(growth: str, lam: float, interpolant) -> str:
    """The growth model that ``growth`` means for these settings.

    ``"auto"``: ``"tied"`` with ``lam > 0``; else ``"free"`` on a path that carries mass (``"spline"``,
    ``"growth"``, ``"unbalanced"``), ``"none"`` on a balanced one. Other values are returned as given.
    """
    if growth != "auto":
        return growth
    if lam > 0:
        return "tied"
    return "free" if _carries_mass(interpolant) else "none"


def _carries_mass(interpolant: str | Interpolant) -> bool:
    """Whether the path (a registered name or an instance) lets each sample's mass change on its own.

    By name, the interpolant that the name builds for a fit with growth: the spline (whose chains then carry
    mass), the growth and unbalanced paths, and interpolants registered under a new name that derive from
    these two; any other registered interpolant is balanced, as it is when passed as an instance.
    """
    from .core.interpolants import INTERPOLANTS, GrowthInterpolant, SplineInterpolant, UnbalancedInterpolant

    if isinstance(interpolant, str):
        cls = INTERPOLANTS.get(interpolant)
        return cls is SplineInterpolant or (
            cls is not None and issubclass(cls, GrowthInterpolant | UnbalancedInterpolant)
        )
    if isinstance(interpolant, SplineInterpolant):
        return interpolant.growth
    return isinstance(interpolant, GrowthInterpolant | UnbalancedInterpolant)


@dataclass
class FitConfig(TrainConfig):
    """Every setting of a fit, with the defaults of :func:`scam.tl.fit`.

    Extends :class:`scam.core.TrainConfig` (optimisation: ``n_iters``, ``batch_size``, ``lr``, σ,
    λ, ``growth_penalty``, …) with the model and data settings below. The defaults were chosen on
    the leave-one-timepoint-out benchmark (``scam benchmark``): the spline path uses every time
    point, whereas a pairwise path can at best reproduce the OT midpoint (EB, seed 0, held-out
    time 1: W1 0.686 with "spline" vs 0.721 with "ot"; mean over held-out times 0.695-0.699 with
    "spline" for 1,000-3,000 steps, batch 256-1,024 couplings). σ is chosen from the snapshots
    (``"auto"``); λ = 0, since the default learns growth with a free head.
    A default fit of EB (500 steps at a peak learning rate of 5e-3, the automatic choices and read-outs) takes
    11 s on one CPU thread (``docs/benchmarks/speed/fit_time.txt``; 53 s with the earlier 2,000 steps at 1e-3,
    which gave the same leave-one-timepoint-out W1, ``docs/benchmarks/network/lr_seeds.txt``).

    Attributes
    ----------
    interpolant
        Name of the path between snapshots, or an :class:`~scam.core.Interpolant`.
    sigma
        Noise level σ, or ``"auto"`` (default): on the spline path, chosen by leave-one-snapshot-out
        on the training snapshots (:class:`~scam.core.SplineInterpolant`); 0 on any other path.
        Measured (``docs/benchmarks/sigma/``): σ = 0.3 leaves the leave-one-timepoint-out W1 of
        EB, the 20-PC EB subset and an unevenly spaced simulation within 1 %, σ = 1 makes it about
        8 % worse on each (up to 17 % at one held-out time), and ``"auto"`` keeps σ = 0 on all three.
    curvature
        The spline path's bend ``γ`` in ``[0, 1]``, or ``"auto"`` (chosen by leave-one-snapshot-out
        on the training snapshots, see :class:`~scam.core.SplineInterpolant`).
    batch_size
        Path samples per step, or ``"auto"`` (default; :func:`resolve_batch_size`): 384 below 20 dimensions,
        512 from 20 on.
    hidden
        Widths of the hidden layers of the action network.
    quadratic
        The action's quadratic term ``½ xᵀA(t)x + b(t)ᵀx``, an exact affine part of the velocity
        (:class:`~scam.core.ActionNet`): ``"auto"`` (default: none below 20 dimensions, where the MLP fits an
        affine field itself, ``"full"`` up to 128, ``"diag"`` above, where a full ``A`` costs more than
        the network), ``"full"``, ``"diag"`` or
        ``"none"``.
    growth
        ``"auto"`` (default): a free growth head on a path that carries mass (the default spline),
        ``"tied"`` when ``lam > 0``, none on a balanced path; ``"tied"`` (``λ s``), ``"free"`` (a
        growth head ``g(x, t)``; needs ``lam = 0``) or ``"none"`` (no growth; needs ``lam = 0``).
    growth_hidden
        Widths of the hidden layers of the free growth head: a smooth scalar rate needs less than
        the action, and a 64x64 head keeps the default fit within 1.5x the time of one without
        growth (EB: the 3x256 head made the training loop 53 % slower).
    validation
        Hold back cells of each time point to pick the best checkpoint by validation W1. Off by default:
        with 500 steps the last checkpoint won in the profiled EB fold (``docs/benchmarks/speed/parts.txt``),
        and the held-back cells are worth more as training
        data (ratio to exact OT over three seeds, ``docs/benchmarks/network/fast_seeds.txt``: 20/50/100 PCs
        of the EB subset 1.019/1.025/1.034 -> 1.015/1.021/1.025, the unevenly spaced course 0.993 -> 0.990,
        EB 5 PCs 0.943 -> 0.946, within its seed-to-seed spread).
    random_state
        Seed of every random draw; ``None`` draws one (:meth:`checked` records it).
    device
        ``"auto"``, ``"cpu"``, ``"cuda"`` or a :class:`torch.device`.
    """

    # "auto": 500 steps below 20 dimensions, 2,000 from 20 on (resolve_n_iters). 500 steps at a peak learning rate of
    # 5e-3 (the core's TrainConfig: 2,000 at 1e-3): the same ratios to exact OT on five time courses over three seeds
    # at a quarter of the steps (docs/benchmarks/network/lr_seeds.txt)
    n_iters: int | str = "auto"
    lr: float = 5e-3
    batch_size: int | str = "auto"
    interpolant: str | Interpolant = "spline"
    sigma: float | str = "auto"
    curvature: float | str = "auto"
    hidden: Sequence[int] = (256, 256, 256)
    quadratic: str = "auto"
    growth: str = "auto"
    growth_hidden: Sequence[int] = (64, 64)
    validation: bool = False
    random_state: int | None = 0
    device: str | torch.device = "auto"

    @property
    def has_growth(self) -> bool:
        """Whether the fit learns a growth rate (tied with ``lam > 0``, or a free head)."""
        return self.lam > 0 or resolve_growth(self.growth, self.lam, self.interpolant) == "free"

    def checked(self) -> FitConfig:
        """A checked copy: numbers validated, the seed drawn if ``None``, the device resolved.

        Raises ``ValueError`` naming the fix; idempotent (checking a checked config changes nothing).
        """
        check_curvature(self.curvature)
        check_quadratic(self.quadratic)
        if isinstance(self.interpolant, str) and self.interpolant not in INTERPOLANTS:
            raise ValueError(f"Unknown interpolant {self.interpolant!r}; choose one of {sorted(INTERPOLANTS)}.")
        if not isinstance(self.growth, str) or self.growth not in GROWTH:
            raise ValueError(
                f"`growth` must be 'auto', 'tied' (λ s), 'free' (a growth head) or 'none', got {self.growth!r}."
            )
        lam = check_nonnegative("lam", self.lam)
        growth = resolve_growth(self.growth, lam, self.interpolant)
        if growth == "none" and lam > 0:
            raise ValueError("`growth='none'` conserves mass, so `lam` must be 0; use growth='tied' with lam > 0.")
        if growth == "tied" and lam == 0:  # λ s with λ = 0 is no growth: say so rather than fit none silently
            raise ValueError(
                "`growth='tied'` is the paper's growth rate λ s, so it needs `lam > 0` (e.g. lam=0.1); for the free "
                "growth head leave growth='auto' (or 'free'), for no growth pass growth='none'."
            )
        growth_penalty = check_nonnegative("growth_penalty", self.growth_penalty)
        check_growth(lam=lam, free=growth == "free", growth_penalty=growth_penalty)
        return dataclasses.replace(
            self,
            growth=growth,
            growth_penalty=growth_penalty,
            sigma=check_sigma(self.sigma),
            lam=lam,
            n_iters=check_auto_or_positive_int("n_iters", self.n_iters),
            batch_size=check_auto_or_positive_int("batch_size", self.batch_size),
            hidden=check_hidden(self.hidden),
            growth_hidden=check_hidden(self.growth_hidden),
            lr=check_positive("lr", self.lr),
            random_state=check_seed(self.random_state),
            device=resolve_device(self.device),
        )

    def for_dims(self, n_dims: int) -> FitConfig:
        """The settings with ``batch_size`` and ``n_iters`` resolved for data in ``n_dims`` dimensions."""
        return dataclasses.replace(
            self,
            batch_size=resolve_batch_size(self.batch_size, n_dims),
            n_iters=resolve_n_iters(self.n_iters, n_dims),
        )

    def warn_free_growth_path(self, stacklevel: int = 2) -> None:
        """Warn when a free growth head gets a path that changes every sample's mass alike."""
        if self.growth == "free" and self.growth_penalty == 0 and self.interpolant in _BALANCED_PATHS:
            warnings.warn(
                f"The {self.interpolant!r} path changes every sample's mass at the same rate, so the free growth "
                "head can only learn a growth uniform in space; use interpolant='growth' (or 'unbalanced'), or a "
                "`growth_penalty` toward a prior.",
                UserWarning,
                stacklevel=stacklevel + 1,
            )


#: The settings of :class:`FitConfig` that :func:`scam.tl.fit` and ``fit_kwargs`` of the benchmark take.
FIT_ARGS = (
    "sigma",
    "lam",
    "growth",
    "growth_penalty",
    "interpolant",
    "curvature",
    "n_iters",
    "batch_size",
    "hidden",
    "quadratic",
    "lr",
    "validation",
    "device",
)


#: ``batch_size="auto"``: path samples per step below :data:`BATCH_AUTO_MIN_DIMS` dimensions, and from there on.
BATCH_AUTO_SMALL, BATCH_AUTO_LARGE = 384, 512
BATCH_AUTO_MIN_DIMS = 20


def resolve_batch_size(batch_size: int | str, n_dims: int) -> int:
    """``"auto"``: 384 path samples per step below 20 dimensions, 512 from 20 on; an integer as it is.

    Each step's cost is proportional to the batch (the double backward through the action network). Measured over
    three seeds against 512 (``docs/benchmarks/network/batch.md``, ratio to the exact-OT interpolation, mean of the
    per-fold differences): EB in 5 PCs and the unevenly spaced 10-PC simulation lose nothing with 384 (-0.0013,
    -0.0005; 256: -0.0002, +0.0006 with twice the spread), the EB subset in 20 / 50 / 100 PCs loses 0.0017 /
    0.0020 / 0.0013 with 384 in every seed, so it keeps 512. An EB fold: 12.7 -> 10.1 s.
    """
    if batch_size == "auto":
        return BATCH_AUTO_SMALL if n_dims < BATCH_AUTO_MIN_DIMS else BATCH_AUTO_LARGE
    return int(batch_size)


#: From this many dimensions on, ``n_iters="auto"`` takes :data:`STEPS_AUTO_LARGE` steps instead of
#: :data:`STEPS_AUTO_SMALL`, and the spline path draws :data:`CHAINS_PER_CELL_LARGE` chains per cell of the largest
#: snapshot instead of :data:`~scam.core.paths.POOL_PER_CELL` (the same threshold as ``batch_size="auto"``).
LARGE_DIMS = BATCH_AUTO_MIN_DIMS
STEPS_AUTO_SMALL, STEPS_AUTO_LARGE = 500, 2000
CHAINS_PER_CELL_LARGE = 16


def resolve_n_iters(n_iters: int | str, n_dims: int) -> int:
    """``"auto"``: 500 steps below 20 dimensions, 2,000 from 20 on; an integer as it is.

    From 20 dimensions on the push of a trained network strays from the path it was trained on: on 30 PCs of the
    EB subset at uneven days the path itself scores 0.995-1.001 of exact OT at the held-out days, the push 1.021-1.048
    (``docs/benchmarks/outside/push_gap_500.txt``: its spread is 15 % above the path's). With two chains per cell the
    network fits each chain's own partner; more steps alone, or more chains alone, do not help (1.034 with 1,000
    steps; 1.028 with 8 chains per cell), the two together do (16 chains per cell and 2,000 steps: 1.018), as on the
    suite's 20- and 50-PC rows (``docs/benchmarks/network/pool.md``). Below 20 dimensions 1,000 steps buy nothing
    over 500 (``docs/benchmarks/network/lr_seeds.txt``).
    """
    if n_iters == "auto":
        return STEPS_AUTO_SMALL if n_dims < LARGE_DIMS else STEPS_AUTO_LARGE
    return int(n_iters)


def spline_pool_size(sizes: Sequence[int], n_dims: int) -> int | None:
    """Chains of the default spline path: ``None`` (the path's own default) below 20 dimensions, else 16 per cell."""
    if n_dims < LARGE_DIMS:
        return None
    return min(CHAINS_PER_CELL_LARGE * max(sizes), MAX_POOL)


def seeded_net(n_dims: int, hidden: Sequence[int], seed: int, cls: type[ActionNet] = ActionNet, **kwargs) -> ActionNet:
    """Build a network with a local seed, leaving the global torch RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(n_dims, hidden, **kwargs)


def split_validation(codes: np.ndarray, n_times: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of held-back validation cells."""
    val = np.zeros(len(codes), dtype=bool)
    for k in range(n_times):
        idx = np.flatnonzero(codes == k)
        if len(idx) >= VAL_MIN_TIME_CELLS:
            n_val = min(VAL_MAX_CELLS, int(VAL_FRACTION * len(idx)))
            val[rng.choice(idx, n_val, replace=False)] = True
    return val


def _selection_scores(interp) -> dict:
    """The spline's leave-one-snapshot-out scores per candidate, JSON- and h5ad-ready (``{}`` without a choice)."""
    out = {}
    for name in ("curvature", "sigma", "shift"):
        scores = getattr(interp, f"{name}_scores_", None) or {}
        name = "shift_drift" if name == "shift" else name
        if scores:
            out[name] = {f"{k:g}" if isinstance(k, float) else str(k): float(v) for k, v in scores.items()}
    return out


def train(
    X: np.ndarray,
    time: TimeInfo,
    mass: np.ndarray,
    config: FitConfig,
    *,
    use_rep: str = "",
    progress_bar: bool = True,
    prior_growth: np.ndarray | None = None,
) -> tuple[ActionModel, TrainResult]:
    """Train an :class:`~scam.ActionModel` on checked arrays.

    Parameters
    ----------
    X
        Coordinates ``(n_cells, n_dims)``.
    time
        The cells' time points.
    mass
        Relative mass per time point (first 1); used only when the fit has a growth.
    config
        The settings (checked here).
    use_rep
        Name of the representation, recorded in the model's metadata.
    progress_bar
        Show a progress bar.
    prior_growth
        Prior growth rate per cell of ``X`` (per unit of ``time.values``); needed when
        ``config.growth_penalty > 0``.

    Notes
    -----
    torch runs with ``scam.settings.n_threads`` threads during the fit; the caller's thread count is put
    back afterwards.
    """
    config = config.checked()
    with torch_threads():
        return _train(X, time, mass, config, use_rep=use_rep, progress_bar=progress_bar, prior_growth=prior_growth)


def _train(X, time, mass, config, *, use_rep, progress_bar, prior_growth) -> tuple[ActionModel, TrainResult]:
    device, seed = config.device, int(config.random_state)
    logger.info(
        "fitting Action Matching on %d cells, %d time points, %d dims (device %s)",
        X.shape[0],
        time.n_times,
        X.shape[1],
        device,
    )
    if config.growth_penalty > 0 and prior_growth is None:
        raise ValueError("`growth_penalty > 0` needs a growth prior; run `scam.pp.growth_prior(adata)` first.")
    config = config.for_dims(X.shape[1])
    units = Units.from_data(X, time.values)
    tau = units.tau(time.values)
    Z = torch.as_tensor(units.to_internal(X), dtype=torch.float32)

    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    val_mask = split_validation(time.codes, time.n_times, rng) if config.validation else np.zeros(len(X), dtype=bool)
    train_marg = [Z[(time.codes == k) & ~val_mask].to(device) for k in range(time.n_times)]
    val_marg = [
        Z[(time.codes == k) & val_mask].to(device) if (val_mask & (time.codes == k)).any() else None
        for k in range(time.n_times)
    ]
    spline = {}
    if config.interpolant == "spline":
        pool_size = spline_pool_size([len(m) for m in train_marg], X.shape[1])
        spline = {"curvature": config.curvature, "pool_size": pool_size}
    # sigma="auto": the spline path chooses σ by leave-one-snapshot-out; it means 0 on any other path
    sigma_auto = config.sigma == "auto"
    path_sigma = 0.0 if sigma_auto and config.interpolant != "spline" else config.sigma
    interp = get_interpolant(config.interpolant, sigma=path_sigma, growth=config.has_growth, **spline)
    interp = interp.fit(train_marg, tau, mass, generator=generator)
    if sigma_auto:
        config = dataclasses.replace(config, sigma=float(getattr(interp, "sigma_", 0.0)))
    net = seeded_net(X.shape[1], config.hidden, seed, quadratic=config.quadratic).to(device)
    growth_net = None
    if config.growth == "free":
        growth_net = seeded_net(X.shape[1], config.growth_hidden, seed + 1, GrowthNet).to(device)
    prior = None
    if config.growth_penalty > 0:
        keep = ~val_mask
        prior = (
            Z[keep].to(device),
            torch.as_tensor(tau[time.codes[keep]], dtype=torch.float32, device=device),
            torch.as_tensor(units.rate_to_internal(prior_growth[keep]), dtype=torch.float32, device=device),
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
    model = ActionModel.from_units(
        result.net,
        units,
        sigma=config.sigma,
        lam=config.lam,
        metadata={
            "time_key": time.key,
            "time_labels": time.labels,
            "time_values": time.values.tolist(),
            "use_rep": use_rep,
            "masses": mass.tolist(),
            "growth": config.growth,
            # the spline path's bend γ (chosen by leave-one-snapshot-out with curvature="auto")
            "spline_curvature": getattr(interp, "curvature_", None),
            # the spline's shift choice, where it was automatic (SplineInterpolant(shift_drift="auto"))
            "spline_shift_drift": (
                bool(interp.shift_drift_) if getattr(interp, "shift_drift", None) == "auto" else None
            ),
            # whether σ was chosen by leave-one-snapshot-out (sigma="auto")
            "sigma_auto": sigma_auto,
            # the leave-one-snapshot-out scores behind the automatic choices (summed W1; lower is better)
            "selection_scores": _selection_scores(interp),
        },
        growth_net=result.growth_net,
    )
    return model, result
