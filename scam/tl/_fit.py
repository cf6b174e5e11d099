"""``scam.tl.fit``: read the time course from an AnnData, train (:mod:`scam.trainer`), write the results."""

from __future__ import annotations

import dataclasses
import logging
import time as _time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from anndata import AnnData

from .. import _keys
from .._settings import torch_threads
from .._simulate import choose_steps, simulate
from .._time import TimeInfo, from_growth_prior, get_time, resolve_masses
from .._validation import check_adata, check_key_added, get_growth_prior, get_rep, writable
from ..core.interpolants import Interpolant
from ..model import ActionModel
from ..trainer import FitConfig, train
from ._conditions import _condition_groups, _condition_params, _condition_seed, _where

logger = logging.getLogger("scam")

_D = FitConfig  # the defaults of every setting live in FitConfig


def fit(
    adata: AnnData,
    time_key: str = "time",
    *,
    condition_key: str | None = None,
    use_rep: str = "X_pca",
    n_dims: int | None = None,
    sigma: float | str = _D.sigma,
    lam: float = _D.lam,
    masses: None | str | Mapping | Sequence[float] = None,
    growth: str = _D.growth,
    growth_penalty: float = _D.growth_penalty,
    growth_prior_key: str = _keys.GROWTH_PRIOR,
    interpolant: str | Interpolant = _D.interpolant,
    curvature: float | str = _D.curvature,
    n_iters: int | str = _D.n_iters,
    batch_size: int | str = _D.batch_size,
    hidden: Sequence[int] = _D.hidden,
    quadratic: str = _D.quadratic,
    lr: float = _D.lr,
    validation: bool = _D.validation,
    device: str = _D.device,
    random_state: int | None = _D.random_state,
    key_added: str = _keys.DEFAULT_KEY,
    progress_bar: bool = True,
) -> ActionModel | dict[str, ActionModel]:
    """Learn the cells' dynamics from time-course snapshots with Action Matching.

    One scalar action ``s(x, t)`` is trained so that cells move with velocity ``∇s``, grow at
    rate ``λ s`` and diffuse with noise ``σ`` (Neklyudov et al., ICML 2023), matching the
    observed snapshots along the path given by ``interpolant``.

    Parameters
    ----------
    adata
        Annotated data with a time column and a representation (usually PCA).
    time_key
        Column of ``adata.obs`` with each cell's time point, read as follows. Numbers are used as
        values (days stay days), also in a categorical, ordered or not, and as strings (``"0"``,
        ``"7"``): an ordered categorical of 0, 1, 7 keeps the gap from 1 to 7. Values equal up to
        float32 rounding (``0.1`` and ``float32(0.1)``) are one time point, with a warning naming
        them. Labels with one number each and the same text around it (``day1``, ``day2``,
        ``day10``; ``E12.5``; ``D3.5``) are ordered by that number, which becomes their value; the
        order is logged, and a warning says so when it differs from the category order of an
        ordered categorical (``.cat.as_ordered()`` sorts as text: day1, day10, day2). Other labels
        need an ordered categorical, whose order is used (values 0, 1, 2, … by category).
    condition_key
        Column of ``adata.obs`` (categorical, strings, integers or booleans; no missing values)
        naming each cell's condition (genotype, treatment, donor). ``None`` (default): one model of
        all cells. Otherwise **one model per condition**: the cells of each condition are fitted
        alone, with the same settings and a seed per condition drawn from ``random_state`` and
        the condition's position (category order, else sorted). Separate models cannot leak
        dynamics from one condition into another, and each condition gets its own velocity and
        growth (a treatment that spares a dying branch shows in ``scam_growth``); they share
        nothing, so every condition needs its own time course: at least two time points with 10
        cells or more each (else a ``ValueError`` naming the condition). See Notes. Ctrl-C during a
        per-condition fit stops it with ``KeyboardInterrupt`` and writes nothing (one model alone
        keeps its best state so far, with a warning).
    use_rep
        Key of ``adata.obsm`` with the coordinates (default ``"X_pca"``).
    n_dims
        Use only the first ``n_dims`` columns of ``use_rep`` (``None``: all).
    sigma
        Noise level σ of ``dx = ∇s dt + σ dW`` (0: an ODE). Internal units: the representation
        divided by its overall standard deviation, time scaled to ``[0, 1]`` over the time course
        (``model.diffusion`` gives σ in your units). ``"auto"``: snapshots alone do not identify σ
        (a diffusion and a spreading flow can give the same marginals), so on the spline path σ is
        chosen by how well the path with Brownian-bridge noise of that σ predicts each interior
        training snapshot left out in turn (the check of ``curvature="auto"``), staying 0 unless
        noise predicts clearly (2 %) better; 0 on other paths. The choice is
        ``uns[key_added]['params']['sigma']`` (``sigma_auto`` says it was chosen). With σ > 0 the
        ``σ²/2 Δs`` term is estimated from the path's own noise (Stein's lemma), at no extra cost,
        and :meth:`~scam.ActionModel.simulate` and the fates sample the SDE.
    lam
        Growth weight λ: growth rate ``λ s`` (0: no growth, mass is conserved). ``1/λ`` is the
        cost of creating or destroying mass relative to moving it; same internal units as σ.
    masses
        Relative total mass per time point: ``None`` (equal), ``"counts"`` (cell counts; with
        ``condition_key``, of each condition's cells),
        ``"growth_prior"`` (from the per-cell prior rates ``g`` of :func:`scam.pp.growth_prior`:
        ``m_{k+1} / m_k = mean over cells of time k of exp(g Δt)``, with ``Δt`` in the units of
        ``time_key``), a mapping from time (label or value) to mass, or one mass per time point.
        With ``condition_key`` each of these applies to every condition (per condition's cells), or
        give a mapping from every condition to its own masses (``{"wt": [1, 2, 4], "ko": "counts"}``).
        Only used with a growth (the default, ``lam > 0``, or ``growth="free"``).
    growth
        How the growth rate is modelled. ``"auto"`` (default): a free growth head on the default
        spline path (whose trajectories carry mass, see below), the tied ``λ s`` when ``lam > 0``,
        and no growth on a balanced path (``"ot"``, ``"independent"``, ``"sb"``); the choice is
        recorded in ``uns[key_added]['params']['growth']``. ``"free"``: a second network ``g(x, t)``,
        not tied to the action, fitted by *growth matching*: a mass-weighted regression on the rate
        ``d log w/dt`` at which the path's samples gain or lose mass (the analogue of flow matching
        for the mass), while ``∇s`` is fitted to the mass-weighted path (see
        :func:`scam.core.losses.action_matching_loss`); needs ``lam = 0``. The head learns the
        growth the path carries: on the spline each trajectory's weight follows the growth of its
        cells (semi-relaxed unbalanced OT chains, :class:`scam.core.SplineInterpolant`), as on the
        pairwise ``"growth"`` and ``"unbalanced"`` paths. ``"tied"``: ``λ s``, the paper's unbalanced
        AM (needs ``lam > 0``). ``"none"``: mass is conserved (plain or entropic AM; ``lam = 0``).
        Without ``masses`` only relative growth is identified.
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
        ``"spline"`` (default: cubic splines through chains of cells of all time points; with a
        growth the chains carry mass, see ``growth``), ``"growth"`` (sharp OT pairs carrying each
        source cell's growth from semi-relaxed unbalanced OT), or an
        :class:`~scam.core.Interpolant`.
    curvature
        Bend ``γ`` of the spline path in ``[0, 1]`` (0: straight lines between snapshots), or
        ``"auto"`` (default): chosen by leave-one-snapshot-out on the training snapshots, keeping
        0.5 unless more bend predicts the left-out snapshots clearly (2 %) better. The bend at each
        snapshot is averaged over neighbouring trajectories, so it costs little where the true paths
        are straight (:class:`~scam.core.SplineInterpolant`). The choice is recorded in
        ``uns[key_added]['params']['spline_curvature']``, and the scores of every candidate of the
        automatic choices (curvature, ``sigma``, the transport shift; summed W1 at the left-out
        snapshots, lower is better) in ``uns[key_added]['params']['selection_scores']``.
    n_iters
        Optimisation steps, or ``"auto"`` (default): 500 below 20 dimensions, 2,000 from 20 on
        (:func:`~scam.trainer.resolve_n_iters`). From 20 dimensions on the default spline path also
        draws 16 chains per cell of the largest time point instead of 2, whatever ``n_iters`` is: in
        many dimensions the push of the network strays from its path unless both grow
        (``docs/benchmarks/network/pool.md``). Recorded in ``params['n_iters']`` as resolved.
    batch_size
        Path samples per step, or ``"auto"`` (default): 384 below 20 dimensions, where it predicts held-out
        time points as well as 512 at three quarters of the training time, 512 from 20 on
        (:func:`~scam.trainer.resolve_batch_size`). Recorded in ``params['batch_size']`` as resolved.
    hidden
        Widths of the hidden layers of the action network.
    quadratic
        The action's quadratic term, an exact affine part of the velocity: ``"auto"`` (default: none
        below 20 dimensions, ``"full"`` up to 128, ``"diag"`` above), ``"full"``, ``"diag"`` or ``"none"``
        (see :class:`~scam.trainer.FitConfig`). Recorded in ``params['quadratic']`` as resolved.
    lr
        Peak learning rate.
    validation
        Hold back up to 10 % of the cells of each time point (at most 250) to track the W1 of
        simulated against observed cells; the returned model is the checkpoint with the best one.
        Off by default: every cell trains (see :class:`~scam.trainer.FitConfig`).
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    random_state
        Seed of every random draw (network initialisation, couplings, minibatches); ``None`` draws
        one (recorded in ``uns[key_added]['params']``).
    key_added
        Prefix of the keys written to ``adata``. It may not name keys that exist and were not
        written by scam (a column, embedding or ``uns`` entry of yours, such as the time column or
        scanpy's ``uns['pca']``): ``fit`` refuses before training. A refit with the same
        ``key_added`` replaces the earlier fit's keys and removes the results derived from it
        (its velocity embeddings, trajectories, and the ``f"{key_added}_fate"``,
        ``_transitions``, ``_gene_trends`` and gene-velocity results of the read-outs).
    progress_bar
        Show a progress bar.

    Returns
    -------
    The trained :class:`~scam.ActionModel` (with ``condition_key``: a ``dict`` from each condition,
    as a string, to its model); the results are written into ``adata`` (a view is
    made an actual AnnData first; its parent is not modified). There is no ``copy`` argument: as
    the models of scvi-tools, ``fit`` returns the model, so to keep ``adata`` as it is, fit a copy
    (``model = scam.tl.fit(bdata := adata.copy(), ...)``). Writes:

    ``adata.obsm['scam_velocity']``
        ``∇s`` at each cell and its own time, in ``use_rep`` coordinates per unit of time
        (columns beyond ``n_dims`` are 0: not modelled).
    ``adata.obs['scam_potential']``
        The action ``s`` in your units (its gradient is the velocity).
    ``adata.obs['scam_growth']``
        Growth rate per unit time ``g``: the free growth head (the default), or ``λ s`` with ``growth="tied"``.
    ``adata.obs['scam_weight']``
        Expected mass multiplier of each cell over the interval to the next observed time:
        ``exp(∫ g dt)`` (``g``: the growth rate of ``obs['scam_growth']``) along its deterministic path (NaN at
        the last time point), by RK4 with as many steps per interval as keep the log-weights within
        1e-3 of twice the steps (``uns['scam']['training']['weight_steps']``).
    ``adata.uns['scam']``
        ``params``, ``history`` (loss, validation W1), ``time`` mapping, ``masses`` (the relative
        masses used, first = 1) and ``learned_masses``: the mass the model predicts at each
        observed time, ``m̂_{k+1} = m̂_k · mean(scam_weight over the cells of time k)``, ``m̂_0 = 1``
        (all 1 without growth); ``scam_written`` records the keys this fit wrote, so that a refit
        replaces only those.

    With ``condition_key``, the ``obs``/``obsm`` keys hold in each cell's row the result of its own
    condition's model, and ``adata.uns['scam']`` holds ``params`` (the settings, with
    ``condition_key``, ``conditions``: the names in order, and the requested ``sigma``) and
    ``conditions``: per condition (``/`` in a name stored as ``_``) what a single fit records
    (``params`` with its seed and chosen ``sigma`` / ``spline_curvature``, ``history``, ``time``,
    ``masses``, ``learned_masses``, ``scaling``, ``training``). A refit replaces it as a whole.

    Notes
    -----
    Conditions: one model per condition is the simplest design that cannot leak dynamics between
    conditions, since growth (which cells divide or die) differs by condition as much as the flow.
    The price is that nothing is shared: each condition must have enough cells at every time point
    on its own, and a condition's model knows nothing of the others' states. Each model records its
    condition (``model.metadata["condition_key"]``, ``["condition"]``), so the read-outs
    :func:`scam.tl.trajectories`, :func:`scam.tl.fate`, :func:`scam.tl.transition_matrix` and
    :func:`scam.tl.gene_velocity` take the returned ``dict`` and read out each condition's cells
    with its own model, and the plots draw one panel per condition (as scanpy draws several keys)::

        models = scam.tl.fit(adata, "day", condition_key="genotype")
        scam.tl.trajectories(adata, models, t_start=0, t_end=4)  # n_cells paths per genotype
        scam.pl.trajectories(adata, basis="umap")  # one panel per genotype
        scam.pl.history(adata)  # one training history per genotype

    One condition's model alone needs that condition's cells (on the whole ``adata`` it raises,
    naming the fix): ``wt = adata[adata.obs["genotype"] == "wt"].copy()``, then
    ``scam.tl.gene_trends(wt, models["wt"], genes)`` (``gene_trends`` takes one model).
    ``scam.tl.velocity_graph``, ``scam.tl.velocity_embedding``, ``scam.pl.velocity`` and
    ``scam.pl.growth`` read the per-cell results, so they run on the whole ``adata`` (a cell's
    neighbours may then be of another condition; run them on one condition's cells to keep
    conditions apart). ``scam.tl.leave_one_timepoint_out(adata, "day", condition_key="genotype")``
    benchmarks each condition alone, with the same seeds for each.

    Examples
    --------
    >>> import scam
    >>> adata = scam.datasets.embryoid_body()
    >>> model = scam.tl.fit(adata, time_key="day")  # doctest: +SKIP
    >>> X1 = model.simulate(adata.obsm["X_pca"][:100], 0, 1)  # doctest: +SKIP
    """
    # --- read and check everything before touching adata
    check_adata(adata)
    key_added = check_key_added(key_added)
    config = FitConfig(
        sigma=sigma,
        lam=lam,
        growth=growth,
        growth_penalty=growth_penalty,
        interpolant=interpolant,
        curvature=curvature,
        n_iters=n_iters,
        batch_size=batch_size,
        hidden=hidden,
        quadratic=quadratic,
        lr=lr,
        validation=validation,
        device=device,
        random_state=random_state,
    ).checked()
    config.warn_free_growth_path(stacklevel=2)
    if condition_key is None:
        groups = [(None, np.arange(adata.n_obs), get_time(adata, time_key), masses)]
    else:
        groups = _condition_groups(adata, condition_key, time_key, masses)
    X = get_rep(adata, use_rep, n_dims)
    config = config.for_dims(X.shape[1])  # batch_size and n_iters as resolved, for params
    needs_prior = from_growth_prior(masses) or config.growth_penalty > 0
    prior_growth = get_growth_prior(adata, growth_prior_key) if needs_prior else None
    inputs = {"obs": [time_key] + ([growth_prior_key] if needs_prior else []), "obsm": [use_rep]}
    if condition_key is not None:
        inputs["obs"].append(condition_key)
    _keys.check_free(adata, _keys.FIT, key_added, inputs=inputs)
    mass = []
    for name, idx, time, spec in groups:
        try:
            mass.append(resolve_masses(spec, time, None if prior_growth is None else prior_growth[idx]))
        except ValueError as err:
            raise ValueError(f"{_where(condition_key, name)}{err}") from None
    if not config.has_growth and not all(np.allclose(m, 1.0) for m in mass):
        warnings.warn(
            "`masses` are ignored without a growth (growth='none', or `lam=0` on a balanced path: mass is "
            "conserved); set `lam > 0` or `growth='free'` to use them.",
            UserWarning,
            stacklevel=2,
        )
        mass = [np.ones_like(m) for m in mass]

    # --- train (each condition alone, with its own seed)
    start = _time.perf_counter()
    velocity = np.zeros(adata.obsm[use_rep].shape, dtype=np.float32)
    potential, growth_rate, weight = (np.full(adata.n_obs, np.nan) for _ in range(3))
    models, records = {}, {}
    for i, ((name, idx, time, spec), m) in enumerate(zip(groups, mass, strict=True)):
        cfg = config if name is None else dataclasses.replace(config, random_state=_condition_seed(config, i))
        if name is not None:
            logger.info("condition %r: %d cells, times %s", name, len(idx), ", ".join(time.labels))
        t0 = _time.perf_counter()
        model, result = train(
            X[idx],
            time,
            m,
            cfg,
            use_rep=use_rep,
            progress_bar=progress_bar,
            prior_growth=None if prior_growth is None else prior_growth[idx],
        )
        train_seconds = _time.perf_counter() - t0
        if name is not None and result.interrupted:  # one condition cut short is no per-condition fit: write nothing
            raise KeyboardInterrupt(
                f"the fit of condition {name!r} was interrupted (Ctrl-C); a per-condition fit is written only when "
                "every condition finished, so adata was left unchanged"
            )
        if name is not None:  # the read-outs find each condition's model and column from these
            model.metadata.update(condition_key=condition_key, condition=name)
        pot, v, g, w, learned_mass, weight_steps = _readouts(model, X[idx], time)
        _warn_extreme_weights(w, time, X[idx], adata.obs_names[idx], learned_mass, _where(condition_key, name))
        velocity[idx, : model.n_dims] = v
        potential[idx], growth_rate[idx], weight[idx] = pot, g, w
        models[name] = model
        records[name] = _record(
            cfg,
            model,
            result,
            time,
            m,
            learned_mass,
            train_seconds,
            weight_steps,
            use_rep=use_rep,
            interpolant=interpolant,
            masses=spec,
            growth_prior_key=growth_prior_key,
        )
    if condition_key is None:
        uns = records[None]
    else:
        uns = {"params": _condition_params(records, config, sigma, condition_key, masses)}
        uns["conditions"] = {_keys.condition(name): rec for name, rec in records.items()}

    uns[_keys.WRITTEN] = _keys.record(_keys.FIT, key_added)

    # --- write: all or nothing (an interrupt in between puts back what was there)
    adata = writable(adata, False)
    written = [
        ("obsm", _keys.velocity(key_added)),
        *(("obs", k(key_added)) for k in (_keys.potential, _keys.growth, _keys.weight)),
        ("uns", _keys.uns(key_added)),
    ]
    with _keys.restoring(adata, [*_keys.stale(adata, key_added), *written]):
        _remove_stale(adata, key_added)
        adata.obsm[_keys.velocity(key_added)] = velocity
        adata.obs[_keys.potential(key_added)] = potential
        adata.obs[_keys.growth(key_added)] = growth_rate
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
    return models[None] if condition_key is None else models


def _remove_stale(adata: AnnData, key_added: str) -> None:
    """Remove what the earlier fit with ``key_added`` and the read-outs named after it wrote (:func:`scam._keys.stale`).

    Removed rather than kept with a stamp: a result of the replaced model is wrong for the new one,
    and a plot or read-out that found it would show it as current.
    """
    stale = _keys.stale(adata, key_added)
    gone = [f"{slot}[{k!r}]" for slot, k in stale]
    if _keys.recorded(adata, _keys.uns(key_added), _keys.FIT) and _keys.TRAJECTORIES in adata.uns[_keys.uns(key_added)]:
        gone.append(f"uns[{key_added!r}][{_keys.TRAJECTORIES!r}]")  # replaced with uns[key_added]
    _keys.remove(adata, stale)
    if gone:
        logger.info("refit with key_added=%r: removed the results of the earlier fit: %s", key_added, ", ".join(gone))


def _weight_steps(model: ActionModel, X: np.ndarray, t_start: float, t_end: float) -> int:
    """RK4 steps for the weights of cells ``X`` from ``t_start`` to ``t_end``, as ``simulate``'s ``n_steps="auto"``.

    Step doubling on the log-weights of a fixed subsample (:func:`scam._simulate.choose_steps`). Measured against
    200 RK4 steps: EB day 1 -> 2 needs few steps (4: max log-weight error 1.3e-4), the suite's unevenly spaced
    simulation over days 3 -> 7 many more (10 steps: 4.4e-3; 5: 2.4e-2), so one fixed count would be either
    wasted or too coarse.
    """
    with torch_threads():
        return choose_steps(model, model._x(X), model.units.tau(t_start), model.units.tau(t_end), weights_only=True)


def _readouts(model: ActionModel, X: np.ndarray, time: TimeInfo):
    """Potential, velocity and growth at every cell, its weight over the interval to the next time, learned masses.

    Also the RK4 steps used for the weights over each interval (:func:`_weight_steps`; none without growth).
    """
    potential, velocity, growth = model.evaluate(X, time.values[time.codes])
    weight = np.full(len(X), np.nan)
    steps = []
    for k in range(time.n_times - 1):
        idx = np.flatnonzero(time.codes == k)
        if not model.has_growth:  # no growth: every weight is exactly 1
            weight[idx] = 1.0
            continue
        n_steps = _weight_steps(model, X[idx], time.values[k], time.values[k + 1])
        steps.append(n_steps)
        with torch_threads():  # cells that start far out end far out: _warn_extreme_weights tells the user
            _, w = simulate(
                model,
                X[idx],
                time.values[k],
                time.values[k + 1],
                n_steps=n_steps,
                stochastic=False,
                return_weights=True,
                return_path=False,
                method="rk4",
                random_state=None,
                warn_far=False,
            )
        weight[idx] = w
    learned_mass = np.ones(time.n_times)
    for k in range(time.n_times - 1):
        learned_mass[k + 1] = learned_mass[k] * float(np.mean(weight[time.codes == k]))
    return potential, velocity, growth, weight, learned_mass, steps


#: A cell whose expected mass multiplier to the next time point (``obs['scam_weight']``) exceeds its time point's
#: median by this factor (ten doublings more) is flagged by a warning. On eb5, eb100_50, uneven and branching
#: (seeds 0, 1) the largest ratio is 1.8-3.3; a few outlier cells far from all others (0.4 % of a drifting Gaussian,
#: 100 standard deviations away) got 1e7-1e8 from the growth head's extrapolation, and learned masses of 1e11,
#: silently.
EXTREME_WEIGHT_RATIO = 1e3


def _warn_extreme_weights(weight, time: TimeInfo, X: np.ndarray, names, learned_mass, where: str) -> None:
    """Warn when some cells' weights exceed :data:`EXTREME_WEIGHT_RATIO` × their time point's median."""
    flagged = []
    for k in range(time.n_times - 1):
        at = np.flatnonzero(time.codes == k)
        median = float(np.median(weight[at]))
        if median > 0:
            flagged += at[weight[at] > EXTREME_WEIGHT_RATIO * median].tolist()
    if not flagged:
        return
    flagged = np.asarray(flagged)
    # how far out they are: distance from the cells' coordinate-wise median, against the typical cell's
    centre = np.median(X, axis=0)
    spread = np.linalg.norm(X - centre, axis=1)
    far = spread[flagged] / max(float(np.median(spread)), np.finfo(np.float64).tiny)
    shown = ", ".join(repr(str(n)) for n in names[flagged[:5]]) + (", ..." if len(flagged) > 5 else "")
    warnings.warn(
        f"{where}{len(flagged)} cell(s) carry an expected mass multiplier to the next time point over "
        f"{EXTREME_WEIGHT_RATIO:g} times their time point's median (obs['scam_weight'] up to "
        f"{float(np.max(weight[flagged])):.3g}; cells {shown}), and the learned masses follow them "
        f"({np.array2string(np.asarray(learned_mass), precision=3)}). They lie {float(np.min(far)):.3g}-"
        f"{float(np.max(far)):.3g} times as far from the cells' median as the typical cell: where few cells are, the "
        "growth head extrapolates. Such cells are usually outliers (doublets, artefacts of the "
        "representation); remove them and refit (`adata = adata[~adata.obs_names.isin(cells)].copy()`), or fit "
        "with `growth='none'`.",
        UserWarning,
        stacklevel=3,
    )


def _record(
    config,
    model,
    result,
    time,
    mass,
    learned_mass,
    train_seconds,
    weight_steps,
    *,
    use_rep,
    interpolant,
    masses,
    growth_prior_key,
):
    """``uns[key_added]``: parameters, history, time mapping, masses and training facts (h5ad-serialisable)."""
    history = {k: np.asarray(v, dtype=np.float64) for k, v in result.history.items()}
    params = {
        "growth": config.growth,
        "growth_penalty": config.growth_penalty,
        "sigma": float(model.sigma),  # as fitted (chosen by leave-one-snapshot-out when sigma_auto)
        "sigma_auto": bool(model.metadata.get("sigma_auto", False)),
        "lam": config.lam,
        "n_iters": config.n_iters,
        "batch_size": config.batch_size,
        "hidden": config.hidden,
        "quadratic": model.net.quadratic,
        "lr": config.lr,
        "random_state": config.random_state,
        "time_key": time.key,
        "use_rep": use_rep,
        "n_dims": model.n_dims,
        "interpolant": interpolant if isinstance(interpolant, str) else type(interpolant).__name__,
        "curvature": config.curvature,
        "validation": config.validation,
        "device": str(config.device),
        "masses": "none" if masses is None else str(masses),
        "growth_prior_key": growth_prior_key,
        "diffusion": model.diffusion,
    }
    if model.metadata.get("spline_curvature") is not None:
        params["spline_curvature"] = float(model.metadata["spline_curvature"])
    if model.metadata.get("spline_shift_drift") is not None:
        params["spline_shift_drift"] = bool(model.metadata["spline_shift_drift"])
    if model.metadata.get("selection_scores"):  # what the automatic choices saw (curvature, sigma, shift_drift)
        params["selection_scores"] = {k: dict(v) for k, v in model.metadata["selection_scores"].items()}
    uns = {
        "params": params,
        "history": history,
        "time": {"key": time.key, "labels": np.asarray(time.labels), "values": time.values},
        "masses": mass,
        _keys.learned_masses(): learned_mass,
        "scaling": model.units.to_dict(),
        "training": {
            "seconds": train_seconds,
            "loop_seconds": result.seconds,
            "n_steps": result.n_steps,
            "best_iteration": int(result.best_iteration),
            "interrupted": bool(result.interrupted),
            "val_w1": float(np.nanmin(history["val_w1"])) if len(history["val_w1"]) else float("nan"),
            # RK4 steps of each interval's weights in obs (chosen by step doubling; empty without growth)
            "weight_steps": np.asarray(weight_steps, dtype=np.int64),
        },
    }
    return uns
