"""The training loop: minibatch AM loss, Adam with warm-up and cosine decay, EMA, clipping, validation."""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .integrate import integrate
from .interpolants import Interpolant
from .losses import Estimator, LaplacianMethod, action_matching_loss, growth_prior_penalty
from .metrics import wasserstein


@dataclass
class TrainConfig:
    """Optimisation settings (internal units: time in ``[0, 1]``, standardised coordinates).

    Attributes
    ----------
    n_iters
        Optimisation steps.
    batch_size
        Path samples per step (and boundary cells per side).
    lr
        Peak learning rate of Adam (linear warm-up, then cosine decay to 5 %).
    warmup
        Warm-up steps.
    weight_decay
        Adam weight decay.
    ema_decay
        Decay of the exponential moving average of the weights (the returned model).
    grad_clip
        Maximal gradient norm.
    sigma, lam
        Noise level σ and growth weight λ of the loss.
    laplacian
        ``"auto"``, ``"exact"`` or ``"hutchinson"`` (only used when ``σ > 0``).
    estimator
        ``"path"`` (low variance, default) or ``"boundary"`` (the paper's form); see
        :func:`~scam.core.losses.action_matching_loss`.
    val_every
        Steps between validations (W1 of pushed vs held-back cells); 0 disables.
    val_steps
        Euler steps per interval in validation.
    growth_penalty
        Weight of the mean squared gap between the learned growth and a prior growth rate at
        observed cells (see :func:`~scam.core.losses.growth_prior_penalty`); 0 disables.
    """

    n_iters: int = 2000
    batch_size: int = 512
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    sigma: float = 0.0
    lam: float = 0.0
    laplacian: LaplacianMethod = "auto"
    estimator: Estimator = "path"
    val_every: int = 250
    val_steps: int = 20
    growth_penalty: float = 0.0

    def to_dict(self) -> dict:
        """JSON-serialisable copy."""
        return asdict(self)


@dataclass
class TrainResult:
    """What :func:`train_action` returns."""

    net: nn.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    best_iteration: int = -1
    interrupted: bool = False
    n_steps: int = 0  # optimisation steps taken
    seconds: float = 0.0  # wall time of the optimisation loop (validation included)
    growth_net: nn.Module | None = None  # the free growth head (EMA), if one was trained


def check_growth(*, lam: float, free: bool, growth_penalty: float) -> None:
    """The growth rules, in one place: a free head excludes λ, and a growth penalty needs a growth.

    ``free``: a free growth head ``g(x, t)`` is trained (``growth="free"`` of :func:`scam.tl.fit`).
    Raises ``ValueError`` naming the fix.
    """
    if free and lam > 0:
        raise ValueError(
            "`growth='free'` learns the growth with its own head, so `lam` (the weight of the tied growth λ s) "
            "must be 0; use growth='tied' with lam > 0 for the paper's unbalanced AM."
        )
    if growth_penalty > 0 and not (free or lam > 0):
        raise ValueError(
            "`growth_penalty > 0` pulls the learned growth toward the prior, but there is no growth: use "
            "growth='free', or growth='tied' with lam > 0."
        )


def _lr_factor(i: int, config: TrainConfig) -> float:
    if i < config.warmup:
        return (i + 1) / config.warmup
    progress = (i - config.warmup) / max(1, config.n_iters - config.warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


@torch.no_grad()
def validation_w1(
    net: nn.Module,
    val_marginals: Sequence[torch.Tensor | None],
    times: Sequence[float],
    config: TrainConfig,
    generator: torch.Generator,
    growth_net: nn.Module | None = None,
) -> float:
    """Mean W1 between held-back cells of each time pushed one interval forward and those of the next."""
    values = []
    for k in range(len(times) - 1):
        xa, xb = val_marginals[k], val_marginals[k + 1]
        if xa is None or xb is None or len(xa) == 0 or len(xb) == 0:
            continue
        x, logw = integrate(
            net,
            xa,
            float(times[k]),
            float(times[k + 1]),
            n_steps=config.val_steps,
            lam=config.lam,
            sigma=config.sigma,
            stochastic=config.sigma > 0,
            generator=generator,
            growth=growth_net,
        )
        w = torch.softmax(logw, 0).cpu().numpy() if config.lam > 0 or growth_net is not None else None
        values.append(wasserstein(x.cpu().numpy(), xb.cpu().numpy(), x_weights=w))
    return float(np.mean(values)) if values else float("nan")


def _step_loss(net, interpolant, marginals, times, masses, config, generator, *, growth_net, prior):
    """The loss of one optimisation step (a fresh minibatch of the path), and its statistics."""
    t_start, t_end = float(times[0]), float(times[-1])
    path = interpolant.sample(config.batch_size, generator=generator)
    x_start = x_end = None
    if config.estimator == "boundary":
        x_first, x_last = marginals[0], marginals[-1]
        ia = torch.randint(0, len(x_first), (config.batch_size,), generator=generator).to(x_first.device)
        ib = torch.randint(0, len(x_last), (config.batch_size,), generator=generator).to(x_last.device)
        x_start, x_end = x_first[ia], x_last[ib]
    loss, stats = action_matching_loss(
        net,
        path,
        x_start,
        x_end,
        m_start=masses[0],
        m_end=masses[-1],
        t_start=t_start,
        t_end=t_end,
        sigma=config.sigma,
        lam=config.lam,
        estimator=config.estimator,
        laplacian_method=config.laplacian,
        generator=generator,
        growth_net=growth_net,
    )
    if config.growth_penalty > 0:
        ip = torch.randint(0, len(prior[0]), (config.batch_size,), generator=generator).to(prior[0].device)
        penalty = growth_prior_penalty(
            net, prior[0][ip], prior[1][ip], prior[2][ip], lam=config.lam, growth_net=growth_net
        )
        loss = loss + config.growth_penalty * penalty
        stats["growth_penalty"] = float(penalty.detach())
        stats["loss"] = float(loss.detach())
    return loss, stats


class FusedAdam:
    """Adam with torch's fused kernel, the update of ``torch.optim.Adam(fused=True)``, without ``torch.optim``.

    Constructing any ``torch.optim`` optimiser imports ``torch._dynamo`` (with sympy and the inductor; 1.1-1.2 s
    alone) the first time in a process: the first default EB fit of a fresh process took 14.70 s with it and
    12.89 s with this class (``docs/benchmarks/speed/first_fit.py``). This class calls the same kernel
    (``torch._fused_adam_``) on the same state (first and second moments, a float32 step count per parameter, as
    torch keeps them), so a fit is identical, bit for bit, to one with ``torch.optim.Adam(fused=True)``
    (``tests/test_core.py``). The learning rate is read from ``param_groups[0]["lr"]`` at each step, as a scheduler
    of ``torch.optim`` would set it. Parameters without a gradient are skipped, as there. Default betas
    (0.9, 0.999) and eps (1e-8).
    """

    def __init__(self, params, *, lr: float, weight_decay: float = 0.0):
        self.params = list(params)
        self.param_groups = [{"lr": float(lr)}]
        self.weight_decay = float(weight_decay)
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (``set_to_none`` is accepted as ``torch.optim`` takes it; they are always dropped)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        groups: dict[tuple, list[list[torch.Tensor]]] = {}  # the kernel takes one device and dtype per call
        for j, p in enumerate(self.params):
            if p.grad is None:
                continue
            if j not in self.state:
                zeros = torch.zeros_like(p, memory_format=torch.preserve_format)
                self.state[j] = (zeros, zeros.clone(), torch.zeros((), dtype=torch.float32, device=p.device))
            lists = groups.setdefault((p.device, p.dtype), [[], [], [], [], []])
            for target, tensor in zip(lists, (p, p.grad, *self.state[j]), strict=True):
                target.append(tensor)
        for params, grads, exp_avgs, exp_avg_sqs, steps in groups.values():
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                amsgrad=False,
                lr=self.param_groups[0]["lr"],
                beta1=0.9,
                beta2=0.999,
                weight_decay=self.weight_decay,
                eps=1e-8,
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )


def _adam(params: list[nn.Parameter], *, lr: float, weight_decay: float):
    """Adam, fused into one kernel per step where this torch has it for the parameters' device.

    The fused step (torch >= 2.4 on the CPU) is the same update up to rounding; with gradient clipping and the
    EMA it takes 0.63 instead of 1.01 ms per step of the default EB fit's two networks, and the default EB fit's
    training loop 7.1 instead of 7.8 s (``docs/benchmarks/speed/adam.py``). It runs as :class:`FusedAdam` (no
    ``torch._dynamo`` import) where a trial step on the parameters' device works; else through ``torch.optim``;
    older torch versions take the per-tensor ``foreach`` step.
    """
    try:  # a trial step on a throwaway parameter: the kernel may be missing for this torch or device
        probe = torch.zeros(1, device=params[0].device, dtype=params[0].dtype, requires_grad=True)
        probe.grad = torch.ones_like(probe)
        FusedAdam([probe], lr=1.0).step()
        return FusedAdam(params, lr=lr, weight_decay=weight_decay)
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):
        pass
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def train_action(
    net: nn.Module,
    interpolant: Interpolant,
    marginals: Sequence[torch.Tensor],
    times: Sequence[float],
    masses: Sequence[float] | None = None,
    config: TrainConfig | None = None,
    *,
    val_marginals: Sequence[torch.Tensor | None] | None = None,
    generator: torch.Generator,
    progress_bar: bool = True,
    callback: Callable[[int, dict], None] | None = None,
    growth_net: nn.Module | None = None,
    prior: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> TrainResult:
    """Fit the action ``net`` to snapshots by minimising the AM loss.

    Parameters
    ----------
    net
        The action network (trained in place; an EMA copy is returned).
    interpolant
        A fitted interpolant providing path samples.
    marginals
        Training cells per time (internal units, on the training device).
    times
        Internal times of the snapshots.
    masses
        Relative masses per time (``None``: equal).
    config
        Optimisation settings.
    val_marginals
        Held-back cells per time (or ``None`` entries) for the validation W1.
    generator
        CPU random generator for all sampling.
    progress_bar
        Show a tqdm progress bar.
    callback
        Called as ``callback(iteration, stats)`` after every step (for monitoring).
    growth_net
        A free growth head ``g(x, t)`` trained beside the action by growth matching (``lam``
        must be 0); see :func:`~scam.core.losses.action_matching_loss`.
    prior
        ``(x, t, g)``: observed cells, their times and prior growth rates (internal units), for
        the growth penalty (``config.growth_penalty > 0``).

    Returns
    -------
    The EMA network with the best validation W1 (the last one if there is no validation), the
    history, and whether training was interrupted with Ctrl-C.
    """
    config = config or TrainConfig()
    masses = [1.0] * len(marginals) if masses is None else [float(m) for m in masses]
    check_growth(lam=config.lam, free=growth_net is not None, growth_penalty=config.growth_penalty)
    if config.growth_penalty > 0 and prior is None:
        raise ValueError("`growth_penalty > 0` needs a growth prior; run `scam.pp.growth_prior(adata)` first.")
    nets = nn.ModuleList([net] if growth_net is None else [net, growth_net])
    ema = copy.deepcopy(nets).requires_grad_(False)
    optimizer = _adam(list(nets.parameters()), lr=config.lr, weight_decay=config.weight_decay)
    history: dict[str, list[float]] = {"iteration": [], "loss": [], "kinetic": [], "val_iteration": [], "val_w1": []}
    logged = ["loss", "kinetic"]
    if growth_net is not None:
        logged.append("growth_mse")
    if config.growth_penalty > 0:
        logged.append("growth_penalty")
    for key in logged[2:]:
        history[key] = []
    has_val = bool(config.val_every) and val_marginals is not None and sum(v is not None for v in val_marginals) > 1
    best = (math.inf, -1, None)
    log_every = max(1, config.n_iters // 200)
    running: dict[str, float] = {}

    def validate(i: int) -> None:
        nonlocal best
        value = validation_w1(
            ema[0], val_marginals, times, config, generator, growth_net=ema[1] if growth_net is not None else None
        )
        history["val_iteration"].append(i)
        history["val_w1"].append(value)
        if value <= best[0] or best[2] is None:
            best = (value, i, copy.deepcopy(ema.state_dict()))

    bar = tqdm(range(config.n_iters), desc="scam: training", disable=not progress_bar, leave=False)
    loop_start = time.perf_counter()
    interrupted = False
    done = 0  # optimisation steps finished (an interrupt can land inside step `i`)
    try:
        for i in bar:
            loss, stats = _step_loss(
                net, interpolant, marginals, times, masses, config, generator, growth_net=growth_net, prior=prior
            )
            if not math.isfinite(stats["loss"]):
                raise FloatingPointError(
                    f"Training diverged at iteration {i}: the loss is {stats['loss']}. Lower the learning rate "
                    f"(`lr`, now {config.lr:g}), lengthen `warmup`, lower `lam` ({config.lam:g}) or `sigma` "
                    f"({config.sigma:g}), or check the representation for extreme values."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(nets.parameters(), config.grad_clip)
            for group in optimizer.param_groups:  # warm-up and cosine decay, as LambdaLR(_lr_factor) would set it
                group["lr"] = config.lr * _lr_factor(i, config)
            optimizer.step()
            decay = min(config.ema_decay, (1 + i) / (10 + i))
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), nets.parameters(), strict=True):
                    p_ema.lerp_(p, 1 - decay)
            done = i + 1
            for key in logged:
                running[key] = running.get(key, 0.0) + stats[key]
            if (i + 1) % log_every == 0:
                history["iteration"].append(i + 1)
                for key in logged:
                    history[key].append(running.pop(key) / log_every)
            if has_val and ((i + 1) % config.val_every == 0 or i + 1 == config.n_iters):
                validate(i + 1)
                bar.set_postfix(loss=f"{stats['loss']:.3g}", val_w1=f"{history['val_w1'][-1]:.3f}")
            if callback is not None:
                callback(i, stats)
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(
            f"training interrupted after {done} step(s); keeping the best model so far", UserWarning, stacklevel=2
        )
        if has_val and done > 0 and (not history["val_iteration"] or history["val_iteration"][-1] != done):
            validate(done)
    finally:
        bar.close()
    if best[2] is not None:
        ema.load_state_dict(best[2])
    # the loss is checked before each step: the last one could still leave weights that are no numbers
    if not all(torch.isfinite(p).all() for p in ema.parameters()):
        raise FloatingPointError(
            f"Training diverged: after {done} step(s) the network's weights are no longer finite numbers. Lower the "
            f"learning rate (`lr`, now {config.lr:g}), lengthen `warmup`, or check the representation for extreme "
            "values."
        )
    return TrainResult(
        net=ema[0],
        growth_net=ema[1] if growth_net is not None else None,
        history=history,
        best_iteration=best[1] if best[2] is not None else done,
        interrupted=interrupted,
        n_steps=done,
        seconds=time.perf_counter() - loop_start,
    )
