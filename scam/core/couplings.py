"""Couplings: transport plans between point clouds, and index pairs drawn from them (note §3).

Every plan scam computes lives here, for the interpolants (on minibatches) and for the benchmark
baselines (on whole snapshots): the exact OT plan, the entropic plan of the Schrödinger bridge,
the unbalanced entropic plan with the mass factors of the pairs drawn from it, and the two
semi-relaxed plans of the growth path. Costs are squared Euclidean distances (POT's
``ot.dist``); the unbalanced and semi-relaxed solvers see them divided by their mean. POT is
imported inside each function, so that ``import scam`` stays light.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "BASELINE_EXACT_MAX_ITER",
    "BASELINE_SINKHORN_MAX_ITER",
    "EXACT_MAX_ITER",
    "MASS_FLOOR",
    "RELAXATION_START",
    "SEMI_RELAXED_STOP_THR",
    "SINKHORN_MAX_ITER",
    "UNBALANCED_MAX_ITER",
    "bridge_plan",
    "entropic_plan",
    "exact_plan",
    "growth_plans",
    "growth_rates",
    "relative_cost",
    "relative_costs",
    "sample_pairs",
    "semi_relaxed_plan",
    "semi_relaxed_plans",
    "transport_map",
    "transport_shift",
    "unbalanced_mass_factors",
    "unbalanced_plan",
    "uniform_masses",
]

#: Iterations of the exact solver (network simplex) on the interpolants' minibatches.
EXACT_MAX_ITER = 1_000_000
#: Iterations of the exact solver on whole snapshots (the ``ot_midpoint`` baseline).
BASELINE_EXACT_MAX_ITER = 10_000_000
#: Iterations of the stabilised Sinkhorn solver of the Schrödinger-bridge path.
SINKHORN_MAX_ITER = 1_000
#: Iterations of the entropic and unbalanced Sinkhorn solvers of the baselines (whole snapshots).
BASELINE_SINKHORN_MAX_ITER = 10_000
#: Iterations of the unbalanced and semi-relaxed solvers of the interpolants (POT's default).
UNBALANCED_MAX_ITER = 1_000
#: Stopping threshold of :func:`semi_relaxed_plan` (POT's default is 1e-6). Measured on 8 EB plans (512 × 512,
#: the chains' settings): 1e-4 takes 406 iterations on average instead of 633, and moves no cell's growth rate
#: by more than 0.4 % nor its row of the plan by more than 1 % (total variation), far below the minibatches'
#: own noise; 1e-3 would move them by 3 % / 9 %. These plans are most of a fit's CPU time on a GPU
#: (``docs/benchmarks/scale/gpu.md``).
SEMI_RELAXED_STOP_THR = 1e-4
#: Plain iterations before an over-relaxed semi-relaxed iteration starts to over-relax (``relaxation > 1``).
RELAXATION_START = 5
#: Updates of :func:`transport_map` (each solves one semi-relaxed plan): two gave most of the gain, four little more.
TRANSPORT_SHIFT_ITERS = 3
#: :func:`transport_map` scales no axis when the source's weights have an effective size below this (a chain
#: minibatch whose weight sits on a few cells), and none whose spread on one side is below this ratio of the other's.
SCALE_MIN_CELLS, SCALE_MIN_RATIO = 10.0, 1e-6
#: Floor under a plan's marginals (and the growth path's end masses) before dividing by or logging them.
MASS_FLOOR = 1e-300


def relative_cost(xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Squared Euclidean cost between the rows of ``xa`` and ``xb``, divided by its mean.

    All zero when every pair coincides (two snapshots of one repeated state, after the transport shift): every
    pairing then costs the same, and dividing by the zero mean would give NaN.
    """
    import ot

    cost = ot.dist(xa, xb)
    mean = cost.mean()
    return cost / mean if mean > 0 else cost


def relative_costs(xa: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
    """:func:`relative_cost` of a batch, in torch on the tensors' device: ``(B, n, m)`` costs.

    Squared distances by ``|x|² + |y|² − 2 x·y`` (floored at 0), each problem's divided by its mean.
    """
    cost = (xa**2).sum(2)[:, :, None] + (xb**2).sum(2)[:, None, :] - 2 * torch.bmm(xa, xb.transpose(1, 2))
    cost = cost.clamp_min_(0.0)
    mean = cost.mean(dim=(1, 2), keepdim=True)
    return cost.div_(torch.where(mean > 0, mean, torch.ones_like(mean)))  # coinciding points: all zero, not NaN


def transport_map(
    xa: np.ndarray,
    xb: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    epsilon: float,
    reg_m: tuple[float, float],
    n_iter: int = TRANSPORT_SHIFT_ITERS,
    relaxation: float = 1.0,
    scale: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The map of the population that transport explains and growth does not: ``x -> s x + c``, per axis.

    A balanced OT plan does not change when one cloud is translated (``|x + c − y|²`` differs from
    ``|x − y|²`` by terms in ``x`` alone and ``y`` alone), but a semi-relaxed plan, whose source
    marginal is free, does: with the raw cost the source cells nearer the target (the front of a
    population that moves as a whole) take more mass, so the plan reads the drift as growth at the
    front and death at the back (on a Gaussian drifting without growth, chain growth with std 0.15
    and correlation 0.997 with the position along the drift). A population that spreads is read the
    same way: the target's outer cells are nearest the source's outer cells, which then take more
    mass (a 2-D Gaussian whose std doubles without growth: chain growth std 0.12, correlation 0.94
    with the distance from the centre), and a pitchfork that splits one cloud into two branches
    reads its spreading as growth on both flanks. Mapping the source onto the target's mean and
    spread first removes both. But the mean displacement and the change of spread also hold the
    part that growth explains (a growing cluster pulls the mean toward itself), which a full map
    would hide. So the map is the fixed point fitted to the source *after its growth* ``ρ`` (the
    plan's rows on the mapped cost): ``c`` takes the grown source mean to the target mean, and
    ``s`` (with ``scale``) scales the grown source's standard deviation to the target's along each
    axis of the representation (the Gaussian OT map where both covariances are diagonal). Each
    axis' log-scale is shrunk toward 0 by its sampling variance (positive-part James-Stein, with the
    samples' kurtosis), so that a spread that only sampling changed is not mapped. From
    ``c = ȳ − x̄`` and the ungrown scales, ``n_iter`` updates. The representation's axes (PCs, fixed
    by all the cells) rather than each link's principal axes (estimated from its minibatch; the same
    map in any rotation): on EB (5 seeds) 0.688 against 0.693
    (``docs/benchmarks/growth/transport_scale.md``).

    Measured (``docs/benchmarks/growth/transport_scale.md``): drift growth std 0.02; spreading
    growth std 0.06; on :func:`scam.datasets.branching` the chains' growth correlates better with
    the truth. The price: where growth is strong between far clusters, the plan's growth (already
    damped by the source relaxation) leaves part of the mean displacement to the shift, which damps
    it further (two clusters 10 apart, five source cells in each, eight and two target cells, ε =
    0.2: rates 1.13 / 0.85 instead of 1.23 / 0.75, where the truth is 1.6 / 0.4), and where branches
    diverge over a long interval the mean displacement translates neither branch. In many
    dimensions the sharp plan's nearest-neighbour hubs (cells near the centre, nearest to many)
    take more mass once the spreads match. Used by the spline's chains with ``shift_drift=True``
    (:class:`~scam.core.SplineInterpolant`, where ``shift_drift="auto"`` chooses it by
    leave-one-snapshot-out), not by the pairwise growth path.

    Parameters
    ----------
    xa, xb
        Source and target points, ``(n_a, d)`` and ``(n_b, d)``.
    a, b
        Masses of the source and target points.
    epsilon, reg_m
        The semi-relaxed plan's settings (see :func:`semi_relaxed_plan`).
    n_iter
        Updates of the map (each one solves a plan).
    relaxation
        Over-relaxation ``ω`` of the plans (:func:`semi_relaxed_plans`); 1: POT's iteration
        (:func:`semi_relaxed_plan`). The spline's chains pass theirs (1.5): 2.3x faster on the links of
        :func:`scam.datasets.branching`, the shift within 2e-4 of POT's
        (``docs/benchmarks/speed/shift_relaxation.py``).
    scale
        Scale each axis as well; ``False``: a translation only (``s`` all ones).

    Returns
    -------
    ``s`` (``(d,)``, positive) and ``c`` (``(d,)``): use ``relative_cost(s * xa + c, xb)``.
    """
    xa, xb = np.asarray(xa, dtype=np.float64), np.asarray(xb, dtype=np.float64)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = xa.shape[1]
    target_mean = np.average(xb, axis=0, weights=b)
    target_sd, target_var = _spread(xb, b)

    def fitted(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.average(xa, axis=0, weights=weights)
        if not scale or _effective_size(weights) < SCALE_MIN_CELLS:  # a spread of a few cells says nothing
            return np.ones(d), target_mean - mean
        sd, var = _spread(xa, weights)
        # an axis without spread on one side (a constant column; rounding leaves ~1e-16) is shifted, not scaled
        ok = (sd > SCALE_MIN_RATIO * target_sd) & (target_sd > SCALE_MIN_RATIO * sd)
        log_scale = np.where(ok, np.log(np.where(ok, target_sd, 1.0) / np.where(ok, sd, 1.0)), 0.0)
        # James-Stein toward 0: an axis' log-scale within its sampling noise is no spread to map
        noise = var + target_var
        log_scale = log_scale * np.clip(1.0 - noise / np.maximum(log_scale**2, 1e-300), 0.0, 1.0)
        return np.exp(log_scale), target_mean - np.exp(log_scale) * mean

    factor, offset = fitted(a)
    for _ in range(int(n_iter)):
        # one problem on the host: with relaxation 1, semi_relaxed_plan itself
        plan = semi_relaxed_plans(
            torch.as_tensor(a, dtype=torch.float64)[None],
            torch.as_tensor(b, dtype=torch.float64)[None],
            torch.as_tensor(relative_cost(factor * xa + offset, xb), dtype=torch.float64)[None],
            epsilon=epsilon,
            reg_m=reg_m,
            relaxation=relaxation,
        )[0].numpy()
        grown = plan.sum(1)
        if not (np.all(np.isfinite(grown)) and grown.sum() > 0):
            break  # the caller's own solve reports the failure
        factor, offset = fitted(grown)
    return factor, offset


def _effective_size(w: np.ndarray) -> float:
    """Kish's effective sample size of weights ``w``: ``(Σ w)² / Σ w²``."""
    return float(np.sum(w) ** 2 / np.sum(w**2))


def _spread(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted standard deviation of each column, and the sampling variance of its log.

    ``Var(log sd) ≈ (kurtosis − 1) / (4 n)``, with ``n`` the weights' effective sample size
    (``1 / (2 n)`` for a Gaussian).
    """
    w = w / w.sum()
    centred = x - w @ x
    var = w @ centred**2
    sd = np.sqrt(var)
    z4 = w @ (centred / np.where(sd > 0, sd, 1.0)) ** 4
    return sd, np.maximum(z4 - 1.0, 0.0) / (4.0 * _effective_size(w))


def transport_shift(
    xa: np.ndarray,
    xb: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    epsilon: float,
    reg_m: tuple[float, float],
    n_iter: int = TRANSPORT_SHIFT_ITERS,
    relaxation: float = 1.0,
) -> np.ndarray:
    """The translation alone of :func:`transport_map` (``scale=False``): ``c`` for ``relative_cost(xa + c, xb)``.

    The fixed point ``c = ȳ − x̄_ρ``: the target mean minus the mean of the source after its growth ``ρ``.
    """
    return transport_map(xa, xb, a, b, epsilon=epsilon, reg_m=reg_m, n_iter=n_iter, relaxation=relaxation, scale=False)[
        1
    ]


def uniform_masses(n: int, mass: float) -> np.ndarray:
    """``n`` equal masses summing to ``mass``."""
    return np.full(n, mass / n)


def exact_plan(xa: np.ndarray, xb: np.ndarray, *, max_iter: int = EXACT_MAX_ITER) -> np.ndarray:
    """Exact OT plan with squared Euclidean cost and uniform weights (POT ``emd``).

    Parameters
    ----------
    xa, xb
        Source and target points, ``(n_a, d)`` and ``(n_b, d)``.
    max_iter
        Iterations of the network simplex (:data:`EXACT_MAX_ITER` on minibatches,
        :data:`BASELINE_EXACT_MAX_ITER` on whole snapshots).

    Returns
    -------
    The ``(n_a, n_b)`` plan; its entries sum to 1.
    """
    import ot

    return ot.emd(ot.unif(len(xa)), ot.unif(len(xb)), ot.dist(xa, xb), numItermax=max_iter)


def entropic_plan(
    xa: np.ndarray,
    xb: np.ndarray,
    reg: float,
    *,
    relative: bool = False,
    method: str = "sinkhorn_stabilized",
    max_iter: int = SINKHORN_MAX_ITER,
) -> np.ndarray:
    """Entropic OT plan with uniform weights (POT ``sinkhorn``): ``P ∝ exp(−C / reg)`` up to marginal scalings.

    Parameters
    ----------
    xa, xb
        Source and target points, ``(n_a, d)`` and ``(n_b, d)``.
    reg
        Entropic regularisation, in the units of the cost.
    relative
        Divide the squared Euclidean cost by its mean first (``reg`` is then relative to it).
    method
        POT's Sinkhorn variant.
    max_iter
        Sinkhorn iterations.

    Returns
    -------
    The ``(n_a, n_b)`` plan; its marginals are (close to) uniform.
    """
    import ot

    cost = relative_cost(xa, xb) if relative else ot.dist(xa, xb)
    return ot.sinkhorn(ot.unif(len(xa)), ot.unif(len(xb)), cost, reg=reg, method=method, numItermax=max_iter)


def bridge_plan(xa: np.ndarray, xb: np.ndarray, *, sigma: float, dt: float) -> np.ndarray:
    """Plan of the Schrödinger bridge over ``Δt`` with noise ``σ``: ``P ∝ exp(−|x − y|² / (2σ²Δt))``.

    POT's entropic problem with cost ``|x − y|²`` and ``reg = 2σ²Δt``. The stabilised (absorbing)
    solver gives the log-domain solver's plan (same marginal error on EB minibatches) ~45x faster:
    0.27 s instead of 12.5 s per 512x512 plan.
    """
    return entropic_plan(xa, xb, 2 * sigma**2 * dt, method="sinkhorn_stabilized", max_iter=SINKHORN_MAX_ITER)


def unbalanced_plan(
    xa: np.ndarray,
    xb: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    epsilon: float,
    reg_m: float | tuple[float, float],
    max_iter: int = UNBALANCED_MAX_ITER,
) -> np.ndarray:
    """Unbalanced entropic OT plan (POT ``sinkhorn_unbalanced``, stabilised; cost divided by its mean).

    Parameters
    ----------
    xa, xb
        Source and target points, ``(n_a, d)`` and ``(n_b, d)``.
    a, b
        Masses of the source and target points.
    epsilon
        Entropic regularisation, relative to the mean cost.
    reg_m
        Marginal relaxation (KL), one for both marginals or ``(source, target)``.
    max_iter
        Sinkhorn iterations.

    Returns
    -------
    The ``(n_a, n_b)`` plan; its marginals only approximate ``a`` and ``b``.
    """
    import ot

    cost = relative_cost(xa, xb)
    return ot.unbalanced.sinkhorn_unbalanced(
        a, b, cost, reg=epsilon, reg_m=reg_m, method="sinkhorn_stabilized", numItermax=max_iter
    )


def unbalanced_mass_factors(
    plan: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    *,
    total: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Masses at the two ends of pairs ``(ia, ib)`` drawn from an unbalanced plan.

    A pair ``(i, j)`` drawn with probability ``P_ij / |P|`` carries ``|P| a_i / P_i·`` at the start
    and ``|P| b_j / P_·j`` at the end, so its expected mass is ``Σ a`` at the start and ``Σ b`` at
    the end (for cells the plan reaches): mass the plan cannot move is created or destroyed.

    Parameters
    ----------
    plan
        The ``(n_a, n_b)`` plan.
    a, b
        Masses of the source and target points.
    ia, ib
        Indices of the drawn pairs.
    total
        The factor ``|P|`` (``None``: ``plan.sum()``; ``1.0`` for factors normalised afterwards).

    Returns
    -------
    The start and end masses of each pair (marginals floored at :data:`MASS_FLOOR`).
    """
    total = plan.sum() if total is None else total
    wa = total * a[ia] / np.maximum(plan.sum(1)[ia], MASS_FLOOR)
    wb = total * b[ib] / np.maximum(plan.sum(0)[ib], MASS_FLOOR)
    return wa, wb


def semi_relaxed_plan(
    a: np.ndarray,
    b: np.ndarray,
    cost: np.ndarray,
    *,
    epsilon: float,
    reg_m: tuple[float, float],
    stop_thr: float = SEMI_RELAXED_STOP_THR,
) -> np.ndarray:
    """Unbalanced entropic plan with a (nearly) held target marginal, by the translation-invariant solver.

    The translation-invariant solver converges in a few iterations where the stabilised one
    diverged at ``epsilon = 0.05`` (POT 0.9.7); plain Sinkhorn on POT versions without it.

    Parameters
    ----------
    a, b
        Masses of the source and target points.
    cost
        The ``(n_a, n_b)`` cost (see :func:`relative_cost`).
    epsilon
        Entropic regularisation.
    reg_m
        Relaxation of the source and of the target marginal.
    stop_thr
        Stopping threshold (:data:`SEMI_RELAXED_STOP_THR`).
    """
    import ot

    try:
        return ot.unbalanced.sinkhorn_unbalanced(
            a,
            b,
            cost,
            reg=epsilon,
            reg_m=reg_m,
            method="sinkhorn_translation_invariant",
            numItermax=UNBALANCED_MAX_ITER,
            stopThr=stop_thr,
        )
    except (ValueError, KeyError, TypeError):
        return ot.unbalanced.sinkhorn_unbalanced(
            a,
            b,
            cost,
            reg=epsilon,
            reg_m=reg_m,
            method="sinkhorn",
            numItermax=UNBALANCED_MAX_ITER,
            stopThr=stop_thr,
        )


def _translation_invariant_constants(reg: float, reg_m: tuple[float, float]) -> tuple[float, ...]:
    """The exponents of POT's translation-invariant Sinkhorn iteration (finite relaxations)."""
    r1, r2 = (float(r) for r in reg_m)
    return (
        r1 / (r1 + reg),  # fi_1
        r2 / (r2 + reg),  # fi_2
        reg * r1 / ((reg + r1) * (r1 + r2)) * r1 / reg,  # k_rho1
        reg * r2 / ((reg + r2) * (r1 + r2)) * r2 / reg,  # k_rho2
        (r2 * reg) / (r1 * (reg + r1 + r2)) * r1 / reg,  # xi_rho1
        (r1 * reg) / (r2 * (reg + r1 + r2)) * r2 / reg,  # xi_rho2
        r1 * r2 / (r1 + r2) / reg,  # fi_12 / reg
        reg / r1,  # ratio1
        reg / r2,  # ratio2
    )


def _relaxed_plan(
    a: np.ndarray,
    b: np.ndarray,
    cost: np.ndarray,
    *,
    epsilon: float,
    reg_m: tuple[float, float],
    stop_thr: float,
    relaxation: float,
    kernel: np.ndarray | None = None,
) -> tuple[np.ndarray, int, bool]:
    """One over-relaxed translation-invariant plan in NumPy: ``(plan, iterations, failed)``.

    POT's iteration with each half-step's scaling moved ``relaxation`` times as far in log space
    (after :data:`RELAXATION_START` plain iterations); ``relaxation = 1`` is POT's iteration. On a
    numerical failure the previous iterate is kept and ``failed`` is set. ``kernel``: ``a bᵀ e^{−C/ε}``
    if the caller has it already.
    """
    fi_1, fi_2, k_rho1, k_rho2, xi_rho1, xi_rho2, fi_12, ratio1, ratio2 = _translation_invariant_constants(
        float(epsilon), reg_m
    )
    if kernel is None:
        kernel = _kernel(a, b, cost, epsilon)
    u, v = np.ones_like(a), np.ones_like(b)
    u_, v_ = u, v
    failed, i = False, -1
    with np.errstate(all="ignore"):
        for i in range(UNBALANCED_MAX_ITER):
            w = relaxation if i >= RELAXATION_START else 1.0
            u_hat = (a / (kernel @ v_)) ** fi_1 * (b @ v_**ratio2) ** k_rho2
            un_ = u_hat * (a @ u_hat ** (-ratio1)) ** (-xi_rho1)
            if w != 1.0:
                un_ = u_ ** (1.0 - w) * un_**w
            ktu = un_ @ kernel
            v_hat = (b / ktu) ** fi_2 * (a @ un_ ** (-ratio1)) ** k_rho1
            vn_ = v_hat * (b @ v_hat ** (-ratio2)) ** (-xi_rho2)
            if w != 1.0:
                vn_ = v_ ** (1.0 - w) * vn_**w
            if (ktu == 0).any() or not (np.isfinite(un_).all() and np.isfinite(vn_).all()):
                failed = True
                break
            u_, v_ = un_, vn_
            shift = ((a @ u_ ** (-ratio1)) / (b @ v_ ** (-ratio2))) ** fi_12
            u_new, v_new = u_ * shift, v_ / shift
            err_u = np.abs(u_new - u).max() / max(np.abs(u_new).max(), np.abs(u).max(), 1.0)
            err_v = np.abs(v_new - v).max() / max(np.abs(v_new).max(), np.abs(v).max(), 1.0)
            u, v = u_new, v_new
            if 0.5 * (err_u + err_v) < stop_thr:
                break
    return u[:, None] * kernel * v[None, :], i + 1, failed


#: A kernel row or column whose largest entry is below this (its costs all above about 665 ε) underflows in the
#: scaling iterations; such problems are solved in the log domain (:func:`_log_domain_plans`).
KERNEL_FLOOR = 1e-289


def _kernel(a: np.ndarray, b: np.ndarray, cost: np.ndarray, epsilon: float) -> np.ndarray:
    """The scaling iterations' kernel ``a bᵀ e^{−C/ε}`` of one problem."""
    return a[:, None] * b[None, :] * np.exp(-cost / epsilon)


def _underflows(kernel: torch.Tensor) -> torch.Tensor:
    """``(B,)``: whether a problem's kernel ``(B, n, m)`` has a row or a column too small for the scaling iterations."""
    return (kernel.amax(2) < KERNEL_FLOOR).any(1) | (kernel.amax(1) < KERNEL_FLOOR).any(1)


def _log_domain_plans(
    a: torch.Tensor,
    b: torch.Tensor,
    cost: torch.Tensor,
    *,
    epsilon: float,
    reg_m: tuple[float, float],
    stop_thr: float,
) -> torch.Tensor:
    """The plans of :func:`semi_relaxed_plans` by unbalanced Sinkhorn in the log domain (no underflow).

    The fixed point of POT's iteration (``u = (a / Kv)^{ρ1/(ρ1+ε)}``, ``v = (b / Kᵀu)^{ρ2/(ρ2+ε)}`` with
    ``K = a bᵀ e^{−C/ε}``), iterated on ``log u`` and ``log v`` with log-sum-exp, so a cell whose costs to every
    cell of the other side exceed a few hundred ε (a far outlier of a small snapshot) does not turn the plan into
    NaN. Slower than the translation-invariant iteration, so only the problems that need it are solved here.
    """
    fi_1, fi_2 = (float(r) / (float(r) + float(epsilon)) for r in reg_m)
    log_a, log_b = torch.log(a.clamp_min(MASS_FLOOR)), torch.log(b.clamp_min(MASS_FLOOR))  # a weightless cell: finite
    log_k = log_a[:, :, None] + log_b[:, None, :] - cost / float(epsilon)
    log_u, log_v = torch.zeros_like(a), torch.zeros_like(b)
    active = torch.ones(a.shape[0], dtype=torch.bool, device=a.device)  # each problem stops at its own iteration
    for _ in range(UNBALANCED_MAX_ITER):
        new_u = fi_1 * (log_a - torch.logsumexp(log_k + log_v[:, None, :], dim=2))
        new_v = fi_2 * (log_b - torch.logsumexp(log_k + new_u[:, :, None], dim=1))
        change = torch.maximum((new_u - log_u).abs().amax(1), (new_v - log_v).abs().amax(1))
        log_u = torch.where(active[:, None], new_u, log_u)
        log_v = torch.where(active[:, None], new_v, log_v)
        active = active & ~(change < stop_thr)
        if not bool(active.any()):
            break
    return torch.exp(log_u[:, :, None] + log_k + log_v[:, None, :])


def semi_relaxed_plans(
    a: torch.Tensor,
    b: torch.Tensor,
    cost: torch.Tensor,
    *,
    epsilon: float,
    reg_m: tuple[float, float],
    stop_thr: float = SEMI_RELAXED_STOP_THR,
    solver: str = "auto",
    relaxation: float = 1.0,
) -> torch.Tensor:
    """A batch of :func:`semi_relaxed_plan` s in torch, on the tensors' device (translation-invariant Sinkhorn).

    The iteration of POT's ``sinkhorn_unbalanced(method="sinkhorn_translation_invariant")`` (Séjourné et
    al., AISTATS 2023) run on ``B`` problems at once: each plan stops at its own iteration (its error
    below ``stop_thr``, or, as in POT, the iterate before a numerical failure), so every plan is POT's
    plan up to rounding (``tests/test_couplings.py``). The spline's chains solve all their minibatches'
    plans of one link in one call: one batched matrix product per iteration instead of a Python loop
    over NumPy solves, which ran on the host even when the fit ran on a GPU
    (``docs/benchmarks/scale/gpu.md``).

    With ``relaxation`` ``ω > 1`` each half-step moves ``ω`` times as far in log space
    (over-relaxed Sinkhorn, Thibault et al. 2021): the same fixed point in fewer iterations. A problem
    whose relaxed iteration fails numerically is solved again with ``ω = 1``.

    Parameters
    ----------
    a, b
        Masses of the source and target points, ``(B, n)`` and ``(B, m)``.
    cost
        ``(B, n, m)`` costs (each divided by its mean, as :func:`relative_cost`).
    epsilon
        Entropic regularisation.
    reg_m
        Relaxation of the source and of the target marginal (finite).
    stop_thr
        Stopping threshold of each plan (at most :data:`UNBALANCED_MAX_ITER` iterations).
    solver
        ``"torch"`` (the batched iteration), ``"pot"`` (:func:`semi_relaxed_plan` on each problem, on
        the host; with ``ω ≠ 1`` the same iteration in NumPy) or ``"auto"``: the host for tensors on the
        CPU, where it is 4x faster (0.33 against 1.3 s per 512 × 512 EB plan on one thread; a
        matrix-vector product is memory-bound either way), torch on any other device.
    relaxation
        Over-relaxation ``ω`` in ``[1, 2)`` (1: POT's iteration; the chains use
        :data:`~scam.core.spline.CHAIN_RELAXATION`).

    Returns
    -------
    The ``(B, n, m)`` plans.
    """
    if solver not in ("auto", "torch", "pot"):
        raise ValueError(f"`solver` must be 'auto', 'torch' or 'pot', got {solver!r}.")
    relaxation = float(relaxation)
    if not 1.0 <= relaxation < 2.0:
        raise ValueError(f"`relaxation` must be in [1, 2), got {relaxation!r}.")
    if solver == "pot" or (solver == "auto" and a.device.type == "cpu"):
        plans = []
        for ai, bi, ci in zip(a, b, cost, strict=True):
            ai, bi, ci = ai.cpu().numpy(), bi.cpu().numpy(), ci.cpu().numpy()
            kernel = _kernel(ai, bi, ci, epsilon)
            if bool(_underflows(torch.as_tensor(kernel[None]))[0]):  # a row or column underflows: the log domain
                args = [torch.as_tensor(v[None]) for v in (ai, bi, ci)]
                plans.append(_log_domain_plans(*args, epsilon=epsilon, reg_m=reg_m, stop_thr=stop_thr)[0].numpy())
                continue
            failed = True  # until the relaxed iteration, if asked for, succeeds
            if relaxation != 1.0:
                plan, _, failed = _relaxed_plan(
                    ai, bi, ci, epsilon=epsilon, reg_m=reg_m, stop_thr=stop_thr, relaxation=relaxation, kernel=kernel
                )
            if failed:  # POT's own iteration (and its warning) where the relaxed one failed, or was not asked for
                plan = semi_relaxed_plan(ai, bi, ci, epsilon=epsilon, reg_m=reg_m, stop_thr=stop_thr)
            plans.append(plan)
        return torch.as_tensor(np.stack(plans), device=cost.device) if plans else cost.new_zeros(cost.shape)
    reg = float(epsilon)
    fi_1, fi_2, k_rho1, k_rho2, xi_rho1, xi_rho2, fi_12, ratio1, ratio2 = _translation_invariant_constants(reg, reg_m)
    kernel = a[:, :, None] * b[:, None, :] * torch.exp(-cost / reg)
    u, v = torch.ones_like(a), torch.ones_like(b)
    u_, v_, one = u, v, torch.ones_like(a[:, 0])
    active = torch.ones(a.shape[0], dtype=torch.bool, device=a.device)
    failed = torch.zeros_like(active)
    for i in range(UNBALANCED_MAX_ITER):
        w = relaxation if i >= RELAXATION_START else 1.0
        kv = torch.bmm(kernel, v_[:, :, None])[:, :, 0]
        u_hat = (a / kv) ** fi_1 * (b * v_**ratio2).sum(1, keepdim=True) ** k_rho2
        u_new_ = u_hat * (a * u_hat ** (-ratio1)).sum(1, keepdim=True) ** (-xi_rho1)
        if w != 1.0:
            u_new_ = u_ ** (1.0 - w) * u_new_**w
        ktu = torch.bmm(kernel.transpose(1, 2), u_new_[:, :, None])[:, :, 0]
        v_hat = (b / ktu) ** fi_2 * (a * u_new_ ** (-ratio1)).sum(1, keepdim=True) ** k_rho1
        v_new_ = v_hat * (b * v_hat ** (-ratio2)).sum(1, keepdim=True) ** (-xi_rho2)
        if w != 1.0:
            v_new_ = v_ ** (1.0 - w) * v_new_**w
        bad = (ktu == 0).any(1) | ~torch.isfinite(u_new_).all(1) | ~torch.isfinite(v_new_).all(1)
        shift = ((a * u_new_ ** (-ratio1)).sum(1, keepdim=True) / (b * v_new_ ** (-ratio2)).sum(1, keepdim=True)) ** (
            fi_12
        )
        u_new, v_new = u_new_ * shift, v_new_ / shift
        err_u = (u_new - u).abs().amax(1) / torch.maximum(torch.maximum(u_new.abs().amax(1), u.abs().amax(1)), one)
        err_v = (v_new - v).abs().amax(1) / torch.maximum(torch.maximum(v_new.abs().amax(1), v.abs().amax(1)), one)
        err = 0.5 * (err_u + err_v)
        update = (active & ~bad)[:, None]
        u, v = torch.where(update, u_new, u), torch.where(update, v_new, v)
        u_, v_ = torch.where(update, u_new_, u_), torch.where(update, v_new_, v_)
        failed = failed | (active & bad)
        active = active & ~bad & ~(err < stop_thr)
        if not bool(active.any()):
            break
    plans = u[:, :, None] * kernel * v[:, None, :]
    underflow = _underflows(kernel)
    if relaxation != 1.0 and bool((failed & ~underflow).any()):  # POT's iteration where the relaxed one failed
        redo = (failed & ~underflow).nonzero()[:, 0]
        plans[redo] = semi_relaxed_plans(
            a[redo], b[redo], cost[redo], epsilon=epsilon, reg_m=reg_m, stop_thr=stop_thr, solver="torch"
        )
    if bool(underflow.any()):  # a row or column of the kernel underflows: the log domain
        redo = underflow.nonzero()[:, 0]
        plans[redo] = _log_domain_plans(a[redo], b[redo], cost[redo], epsilon=epsilon, reg_m=reg_m, stop_thr=stop_thr)
    return plans


def growth_plans(
    xa: np.ndarray,
    xb: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    growth_epsilon: float,
    growth_reg_m: float,
    pair_epsilon: float,
    pair_reg_m: float,
    reg_m_target: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The growth path's two semi-relaxed plans on one cost (squared Euclidean, divided by its mean).

    Parameters
    ----------
    xa, xb
        Source and target points.
    a, b
        Masses of the source and target points.
    growth_epsilon, growth_reg_m
        Regularisation and source relaxation of the growth plan (see :func:`growth_rates`).
    pair_epsilon, pair_reg_m
        Regularisation and source relaxation of the (sharper) pairing plan.
    reg_m_target
        Relaxation of the target marginal of both (large: held).

    Returns
    -------
    The growth plan and the pairing plan (unchecked: either may be non-finite when a solver fails).
    """
    cost = relative_cost(xa, xb)  # no transport_shift: it damps strong growth between far clusters
    growth = semi_relaxed_plan(a, b, cost, epsilon=growth_epsilon, reg_m=(growth_reg_m, reg_m_target))
    pair = semi_relaxed_plan(a, b, cost, epsilon=pair_epsilon, reg_m=(pair_reg_m, reg_m_target))
    return growth, pair


def growth_rates(plan: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Each source cell's growth ``ρ_i = P_i· / a_i`` over the interval (as Waddington-OT estimates it)."""
    return plan.sum(1) / a


def sample_pairs(
    plan: np.ndarray, n: int, generator: torch.Generator | np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` index pairs ``(i, j)`` with probability ``P_ij / |P|``, with replacement.

    Parameters
    ----------
    plan
        A dense ``(n_a, n_b)`` plan.
    n
        Pairs to draw.
    generator
        A ``torch.Generator`` (``torch.multinomial`` on float64 probabilities: the interpolants) or a
        ``numpy.random.Generator`` (``Generator.choice``: the baselines).

    Returns
    -------
    Row indices and column indices of the pairs.
    """
    if isinstance(generator, torch.Generator):
        p = torch.as_tensor(plan.ravel(), dtype=torch.float64)
        flat = torch.multinomial(p / p.sum(), n, replacement=True, generator=generator).numpy()
    elif isinstance(generator, np.random.Generator):
        p = plan.ravel() / plan.sum()
        flat = generator.choice(p.size, size=n, p=p)
    else:
        raise TypeError(f"`generator` must be a torch.Generator or a numpy.random.Generator, got {type(generator)}.")
    return np.unravel_index(flat, plan.shape)
