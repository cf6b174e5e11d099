"""The leave-one-timepoint-out (LOT) loop: hold out an interior time, predict it, score it."""

from __future__ import annotations

import time as _time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._time import TimeInfo
from ..core.metrics import mmd_rbf, wasserstein
from ..trainer import FitConfig, train
from .baselines import BASELINES

#: scam variants: name -> keyword arguments of :func:`scam.tl.fit` on top of its defaults. The
#: ingredients are listed apart so the table shows what each one buys.
SCAM_VARIANTS: dict[str, dict] = {
    "scam": {},
    "scam_am": {"sigma": 0.0, "lam": 0.0, "growth": "none"},
    "scam_eam": {"sigma": 0.3, "lam": 0.0, "growth": "none"},
    "scam_uam": {"sigma": 0.0, "lam": 0.1},
    "scam_ueam": {"sigma": 0.3, "lam": 0.1},
    "scam_independent": {"interpolant": "independent"},
    "scam_ot": {"interpolant": "ot"},
    "scam_sb": {"interpolant": "sb", "sigma": 0.3},
    "scam_unbalanced": {"interpolant": "unbalanced", "lam": 0.1},
    "scam_spline": {"interpolant": "spline"},
    # the free growth head (WFR-style g(x, t)) on the growth-aware path: mass_error needs `masses`
    "scam_growth": {"interpolant": "growth", "growth": "free"},
}
PEERS = ("otcfm",)
METRICS = ("w1", "w2", "mmd")
DEFAULT_METHODS = ("scam", "ot_midpoint", "previous", "next")


class ScamFitter:
    """``fit_scam(keep, variant, seed)`` for the LOT loop; a class, not a closure, so worker processes can take it.

    Parameters
    ----------
    X, time
        All cells and their time points.
    mass
        True relative masses per time point, or ``None``.
    use_rep
        Name of the representation (recorded in the models).
    fit_kwargs
        Settings of :class:`scam.trainer.FitConfig` on top of its defaults; a variant overrides them.
    """

    def __init__(self, X, time: TimeInfo, mass, use_rep: str, fit_kwargs: Mapping):
        self.X, self.time, self.mass, self.use_rep, self.fit_kwargs = X, time, mass, use_rep, dict(fit_kwargs)

    def __call__(self, keep: np.ndarray, variant: Mapping, seed: int):
        """Fit on the cells in ``keep`` only, with ``variant`` on top of the settings and seed ``seed``."""
        # Only the kept cells reach the fit: nothing of the held-out snapshot is sampled, coupled,
        # normalised or used for validation.
        time, mass = self.time, self.mass
        kept = np.unique(time.codes[keep])
        sub_time = TimeInfo(
            key=time.key,
            labels=[time.labels[j] for j in kept],
            values=time.values[kept],
            codes=np.searchsorted(kept, time.codes[keep]),
        )
        config = FitConfig(**{**self.fit_kwargs, **variant, "random_state": seed})
        has_growth = config.has_growth
        sub_mass = mass[kept] / mass[kept][0] if (mass is not None and has_growth) else np.ones(len(kept))
        model, _ = train(self.X[keep], sub_time, sub_mass, config, use_rep=self.use_rep, progress_bar=False)
        return model


def available_methods() -> list[str]:
    """Every method name :func:`run_lot` accepts."""
    return [*SCAM_VARIANTS, *BASELINES, *PEERS]


def _score(pred, weights, target, metrics, seed) -> dict[str, float]:
    out = {}
    for m in metrics:
        if m == "w1":
            out[m] = wasserstein(pred, target, x_weights=weights, random_state=seed)
        elif m == "w2":
            out[m] = wasserstein(pred, target, p=2, x_weights=weights, random_state=seed)
        elif m == "mmd":
            rng = np.random.default_rng(seed)
            keep_p = rng.choice(len(pred), min(len(pred), 4000), replace=False)
            keep_t = rng.choice(len(target), min(len(target), 4000), replace=False)
            w = None if weights is None else weights[keep_p]
            out[m] = mmd_rbf(pred[keep_p], target[keep_t], x_weights=w)
        else:
            raise ValueError(f"Unknown metric {m!r}; choose from {METRICS}.")
    return out


#: Baselines whose prediction does not depend on the seed: predicted and scored once per fold.
DETERMINISTIC = ("previous", "next", "ot_midpoint")


def _cost(method: str) -> int:
    """Rough cost rank, so that a pool starts the longest jobs first."""
    return 0 if method in PEERS else 1 if method in SCAM_VARIANTS else 2


def _run_job(job, state) -> tuple[list[dict], tuple | None]:
    """Predict one held-out time with one method and seed, and score it."""
    k, seed, method = job
    X, codes, values, fit_scam, metrics, masses, n_steps, peer_kwargs = state
    x_prev, x_next, target = X[codes == k - 1], X[codes == k + 1], X[codes == k]
    t_prev, t_next, t = float(values[k - 1]), float(values[k + 1]), float(values[k])
    start = _time.perf_counter()
    mass_pred, weights = None, None
    if method in SCAM_VARIANTS:
        model = fit_scam(codes != k, SCAM_VARIANTS[method], seed)
        pred, w = model.simulate(x_prev, t_prev, t, n_steps=n_steps, return_weights=True, random_state=seed)
        if model.has_growth:
            mass_pred = float(w.mean()) * (masses[k - 1] if masses is not None else 1.0)
            weights = w.astype(np.float64) / w.sum()
    elif method in BASELINES:
        kwargs = {} if method in DETERMINISTIC else {"random_state": seed}
        if method == "unbalanced_ot" and masses is not None:
            kwargs.update(m_prev=float(masses[k - 1]), m_next=float(masses[k + 1]))
        pred, weights = BASELINES[method](x_prev, x_next, t_prev, t_next, t, **kwargs)
    else:  # peers
        from .peers import otcfm_predict

        marg = [X[codes == j] for j in range(len(values)) if j != k]
        times = [float(v) for j, v in enumerate(values) if j != k]
        pred, _ = otcfm_predict(
            marg, times, t, x_prev, t_prev, n_steps=n_steps, random_state=seed, **dict(peer_kwargs or {})
        )
    seconds = _time.perf_counter() - start  # fit and prediction
    scores = _score(np.asarray(pred, dtype=np.float64), weights, target, metrics, seed)
    if mass_pred is not None and masses is not None:
        scores["mass_error"] = abs(mass_pred - masses[k]) / masses[k]
    rows = [
        {"method": method, "held_out": k, "seed": seed, "metric": m, "value": float(v), "fit_seconds": float(seconds)}
        for m, v in scores.items()
    ]
    return rows, (pred, weights)


_WORKER_STATE = None


def _init_worker(state, n_threads: int) -> None:
    import torch

    global _WORKER_STATE
    _WORKER_STATE = state
    torch.set_num_threads(n_threads)


def _run_job_in_worker(job):
    return _run_job(job, _WORKER_STATE)


def _jobs_done(jobs, state, n_jobs: int, progress_bar: bool):
    """Yield ``(job, result)`` as jobs finish, in this process or in ``n_jobs`` worker processes."""
    bar = tqdm(total=len(jobs), desc="scam: LOT", disable=not progress_bar)
    if n_jobs == 1:
        for job in jobs:
            bar.set_postfix_str(f"{job[2]} @ time index {job[0]} seed {job[1]}")
            yield job, _run_job(job, state)
            bar.update()
    else:
        import multiprocessing as mp
        import os
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # "spawn": a fresh interpreter per worker (fork after torch started its threads can hang).
        n_threads = max(1, (os.cpu_count() or 1) // n_jobs)
        with ProcessPoolExecutor(
            n_jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(state, n_threads)
        ) as pool:
            futures = {pool.submit(_run_job_in_worker, job): job for job in sorted(jobs, key=lambda j: _cost(j[2]))}
            for future in as_completed(futures):
                job = futures[future]
                bar.set_postfix_str(f"{job[2]} @ time index {job[0]} seed {job[1]} done")
                yield job, future.result()
                bar.update()
    bar.close()


def run_lot(
    X: np.ndarray,
    codes: np.ndarray,
    values: Sequence[float],
    labels: Sequence[str],
    fit_scam,
    *,
    held_out: Sequence[int],
    methods: Sequence[str] = DEFAULT_METHODS,
    n_seeds: int = 1,
    metrics: Sequence[str] = METRICS,
    masses: Sequence[float] | None = None,
    n_steps: int = 100,
    peer_kwargs: Mapping | None = None,
    n_jobs: int = 1,
    progress_bar: bool = True,
    return_predictions: bool = False,
):
    """Run the LOT loop on arrays.

    Parameters
    ----------
    X
        Coordinates of all cells.
    codes
        Time-point index of each cell.
    values, labels
        Numeric value and label of each time point.
    fit_scam
        ``fit_scam(keep_mask, variant_kwargs, seed) -> ActionModel``: fits scam on the cells in
        ``keep_mask`` only (the held-out cells are never passed). Must be picklable when
        ``n_jobs > 1``.
    held_out
        Indices of the interior time points to hold out, one at a time.
    methods, n_seeds, metrics
        What to run and score. Deterministic baselines (``previous``, ``next``, ``ot_midpoint``)
        are predicted and scored once per held-out time; their row is repeated for every seed.
    masses
        True relative masses per time point (for unbalanced baselines and the mass error); the
        held-out time's mass is used only for scoring.
    n_steps
        Euler steps when pushing cells of the previous time to the held-out one.
    peer_kwargs
        Keyword arguments for the OT-CFM peer.
    n_jobs
        Worker processes (each job is one method, held-out time and seed; the CPU cores are
        shared among the workers' torch threads). ``1`` runs everything in this process.
    progress_bar
        Show progress.
    return_predictions
        Also return ``{(method, held_out_label, seed): (points, weights)}``.
    """
    unknown = [m for m in methods if m not in available_methods()]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {available_methods()}.")
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise ValueError(f"`n_jobs` must be a positive integer, got {n_jobs!r}.")
    skipped = False
    if any(m in PEERS for m in methods):
        from .peers import have_torchcfm

        if not have_torchcfm():
            warnings.warn(
                "skipping otcfm: torchcfm is not installed (pip install torch==2.14.1 torchvision==0.29.1 "
                "'scam-sc[benchmark]')",
                UserWarning,
                stacklevel=2,
            )
            methods, skipped = [m for m in methods if m not in PEERS], True
    if not methods:
        why = (
            "otcfm, the only method asked for, needs torchcfm, which is not installed; install it with "
            "`pip install 'scam-sc[benchmark]'` or add other methods"
            if skipped
            else "`methods` is empty; give at least one"
        )
        raise ValueError(f"No method to run: {why} (e.g. {list(DEFAULT_METHODS)}; all: {available_methods()}).")
    if len(held_out) == 0:
        raise ValueError("`held_out` is empty; give at least one interior time point to hold out.")
    seeds = range(n_seeds)
    jobs = [(k, seed, m) for k in held_out for seed in seeds for m in methods if seed == 0 or m not in DETERMINISTIC]
    state = (X, codes, values, fit_scam, tuple(metrics), masses, n_steps, peer_kwargs)
    results = dict(_jobs_done(jobs, state, min(n_jobs, len(jobs)), progress_bar))
    rows, predictions = [], {}
    for k in held_out:
        for seed in range(n_seeds):
            for method in methods:
                job_rows, pred = results[(k, 0 if method in DETERMINISTIC else seed, method)]
                rows += [{**r, "held_out": labels[k], "seed": seed} for r in job_rows]
                if return_predictions:
                    predictions[(method, labels[k], seed)] = pred
    df = pd.DataFrame(rows, columns=["method", "held_out", "seed", "metric", "value", "fit_seconds"])
    return (df, predictions) if return_predictions else df


def summarize(df: pd.DataFrame, metric: str = "w1") -> pd.DataFrame:
    """Per method: mean ± std over seeds of the mean over held-out times, and each held-out time's mean.

    Returns a DataFrame indexed by method with columns ``mean``, ``std``, one column per held-out
    time, and ``fit_seconds`` (mean per fold).
    """
    d = df[df["metric"] == metric]
    if d.empty:
        raise ValueError(f"No rows for metric {metric!r}.")
    per_seed = d.groupby(["method", "seed"])["value"].mean().groupby("method")
    out = pd.DataFrame({"mean": per_seed.mean(), "std": per_seed.std(ddof=0)})
    per_time = d.groupby(["method", "held_out"], sort=False)["value"].mean().unstack("held_out")
    out = out.join(per_time)
    out["fit_seconds"] = d.groupby("method")["fit_seconds"].mean()
    return out.sort_values("mean")
