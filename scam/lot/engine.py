"""The leave-one-timepoint-out (LOT) loop: hold out an interior time, predict it, score it."""

from __future__ import annotations

import inspect
import time as _time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._settings import settings, torch_threads
from .._simulate import check_steps
from .._time import TimeInfo, masses_from_growth
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
    prior_growth
        Prior growth rate per cell (``growth_penalty``, ``masses_from_prior``), or ``None``; each fit gets its kept
        cells' rates.
    masses_from_prior
        Give each fit the masses of its kept cells' prior (:func:`scam._time.masses_from_growth`) instead of
        ``mass``, which then only scores the predictions.
    """

    def __init__(
        self,
        X,
        time: TimeInfo,
        mass,
        use_rep: str,
        fit_kwargs: Mapping,
        *,
        prior_growth: np.ndarray | None = None,
        masses_from_prior: bool = False,
    ):
        self.X, self.time, self.mass, self.use_rep, self.fit_kwargs = X, time, mass, use_rep, dict(fit_kwargs)
        self.prior_growth, self.masses_from_prior = prior_growth, bool(masses_from_prior)

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
        prior = None if self.prior_growth is None else self.prior_growth[keep]
        if self.masses_from_prior and has_growth:  # from the kept cells' prior, as a fit on them alone would
            sub_mass = masses_from_growth(prior, sub_time)
        elif mass is not None and has_growth:
            sub_mass = mass[kept] / mass[kept][0]
        else:
            sub_mass = np.ones(len(kept))
        model, result = train(
            self.X[keep], sub_time, sub_mass, config, use_rep=self.use_rep, progress_bar=False, prior_growth=prior
        )
        if result.interrupted:  # Ctrl-C stops the sweep: a fold cut short must not be scored as a finished one
            raise KeyboardInterrupt("a leave-one-timepoint-out fit was interrupted (Ctrl-C); the sweep stops")
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


#: Euler steps of the OT-CFM peer with ``n_steps="auto"`` (its protocol's count).
PEER_STEPS = 100


def deterministic(method: str) -> bool:
    """Whether ``method`` is a baseline that takes no ``random_state``: predicted and scored once per fold.

    Read from the function's signature, so that a baseline registered in ``BASELINES`` needs nothing else.
    """
    return method in BASELINES and "random_state" not in inspect.signature(BASELINES[method]).parameters


def _cost(method: str) -> int:
    """Rough cost rank, so that a pool starts the longest jobs first."""
    return 0 if method in PEERS else 1 if method in SCAM_VARIANTS else 2


@dataclass
class _LotState:
    """What every job of one LOT run shares (sent once to each worker)."""

    X: np.ndarray
    codes: np.ndarray
    values: np.ndarray
    fit_scam: object
    metrics: tuple[str, ...]
    masses: np.ndarray | None
    n_steps: int | str
    peer_kwargs: Mapping | None

    def __sizeof__(self) -> int:  # Dask sends objects over 1 kB to the workers once, not with every job
        return int(self.X.nbytes + self.codes.nbytes) + 1_000


def _run_job(job, state: _LotState, n_threads: int | None = None) -> tuple[list[dict], tuple | None]:
    """Predict one held-out time with one method and seed, and score it, with ``n_threads`` torch threads.

    ``n_threads=None``: this process's ``scam.settings.n_threads`` (on a Dask worker, its own CPUs, at most
    ``OMP_NUM_THREADS``, which Dask sets to 1 per worker process).
    """
    with torch_threads(n_threads):
        return _predict_and_score(job, state)


def _predict_and_score(job, state: _LotState) -> tuple[list[dict], tuple | None]:
    k, seed, method = job
    X, codes, values, masses, n_steps = state.X, state.codes, state.values, state.masses, state.n_steps
    x_prev, x_next, target = X[codes == k - 1], X[codes == k + 1], X[codes == k]
    t_prev, t_next, t = float(values[k - 1]), float(values[k + 1]), float(values[k])
    start = _time.perf_counter()
    mass_pred, weights = None, None
    if method in SCAM_VARIANTS:
        model = state.fit_scam(codes != k, SCAM_VARIANTS[method], seed)
        pred, w = model.simulate(x_prev, t_prev, t, n_steps=n_steps, return_weights=True, random_state=seed)
        if model.has_growth:
            mass_pred = float(w.mean()) * (masses[k - 1] if masses is not None else 1.0)
            weights = w.astype(np.float64) / w.sum()
    elif method in BASELINES:
        kwargs = {} if deterministic(method) else {"random_state": seed}
        if method == "unbalanced_ot" and masses is not None:
            kwargs.update(m_prev=float(masses[k - 1]), m_next=float(masses[k + 1]))
        pred, weights = BASELINES[method](x_prev, x_next, t_prev, t_next, t, **kwargs)
    else:  # peers
        from .peers import otcfm_predict

        marg = [X[codes == j] for j in range(len(values)) if j != k]
        times = [float(v) for j, v in enumerate(values) if j != k]
        pred, _ = otcfm_predict(
            marg,
            times,
            t,
            x_prev,
            t_prev,
            n_steps=PEER_STEPS if n_steps == "auto" else n_steps,
            random_state=seed,
            **dict(state.peer_kwargs or {}),
        )
    seconds = _time.perf_counter() - start  # fit and prediction
    scores = _score(np.asarray(pred, dtype=np.float64), weights, target, state.metrics, seed)
    if mass_pred is not None and masses is not None:
        scores["mass_error"] = abs(mass_pred - masses[k]) / masses[k]
    rows = [
        {"method": method, "held_out": k, "seed": seed, "metric": m, "value": float(v), "fit_seconds": float(seconds)}
        for m, v in scores.items()
    ]
    return rows, (pred, weights)


_INSTALL_DISTRIBUTED = "Running on a Dask cluster needs dask.distributed: pip install 'scam-sc[distributed]'."


def check_client(client):
    """A ``distributed.Client``, a scheduler address (``"tcp://HOST:PORT"``) or ``None``, checked.

    Raises
    ------
    ImportError
        When ``client`` is given and ``distributed`` is not installed.
    ValueError
        When ``client`` is neither a ``distributed.Client`` nor an address string.
    """
    if client is None:
        return None
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError(_INSTALL_DISTRIBUTED) from err
    if isinstance(client, str) and client.strip():
        return client.strip()
    if not isinstance(client, Client):
        raise ValueError(
            f"`client` must be a distributed.Client or a scheduler address such as 'tcp://10.0.0.1:8786', got "
            f"{type(client).__name__}; leave it None to run in local processes."
        )
    return client


@contextmanager
def _engine(n_jobs: int, client) -> Iterator[int | None]:
    """The joblib engine of one run: Dask on ``client``, else ``n_jobs`` local processes (or this process).

    Yields the torch threads of each job: ``scam.settings.n_threads`` shared among the local workers, or
    ``None`` on Dask (each worker's own setting).
    """
    from joblib import parallel_config

    if client is None:
        n_threads = max(1, settings.n_threads // n_jobs)
        # loky: fresh worker processes; inner_max_num_threads also caps BLAS/OpenMP outside torch in them
        with parallel_config(backend="loky", n_jobs=n_jobs, inner_max_num_threads=n_threads):
            yield n_threads
        return
    from distributed import Client

    own = isinstance(client, str)
    if own:
        try:
            client = Client(client)
        except OSError as e:
            raise ValueError(
                f"could not reach the Dask scheduler at {client} ({e}); start one (`dask scheduler`, dask-jobqueue, "
                "dask-kubernetes) and give its address as tcp://HOST:PORT"
            ) from e
    try:
        with parallel_config(backend="dask", n_jobs=-1, client=client):
            yield None
    finally:
        if own:
            client.close()


def _jobs_done(jobs, state: _LotState, n_jobs: int, client, progress_bar: bool):
    """Yield ``(job, result)`` as jobs finish: on a Dask cluster, in ``n_jobs`` local processes, or here.

    One code path for all three (joblib); a job's result depends only on the job and ``state``.
    """
    from joblib import Parallel, delayed

    bar = tqdm(total=len(jobs), desc="scam: LOT", disable=not progress_bar)
    with _engine(n_jobs, client) as n_threads:
        ordered = sorted(jobs, key=lambda j: _cost(j[2]))  # the longest first
        results = Parallel(return_as="generator_unordered")(
            delayed(_job_with_key)(job, state, n_threads) for job in ordered
        )
        for job, result in results:
            bar.set_postfix_str(f"{job[2]} @ time index {job[0]} seed {job[1]} done")
            yield job, result
            bar.update()
    bar.close()


def _job_with_key(job, state: _LotState, n_threads: int | None):
    return job, _run_job(job, state, n_threads)


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
    n_steps: int | str = "auto",
    peer_kwargs: Mapping | None = None,
    n_jobs: int = 1,
    client=None,
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
        ``n_jobs > 1`` or with ``client``.
    held_out
        Indices of the interior time points to hold out, one at a time.
    methods, n_seeds, metrics
        What to run and score. Deterministic baselines (``previous``, ``next``, ``ot_midpoint``)
        are predicted and scored once per held-out time; their row is repeated for every seed.
    masses
        True relative masses per time point (for unbalanced baselines and the mass error); the
        held-out time's mass is used only for scoring.
    n_steps
        Steps when pushing cells of the previous time to the held-out one: ``"auto"`` (scam: as
        :meth:`scam.ActionModel.simulate`, RK4 with steps chosen by step doubling, or 100 Euler–Maruyama steps
        when the fit chose σ > 0; the OT-CFM peer: its protocol's 100 Euler steps) or a number of Euler steps
        for every method.
    peer_kwargs
        Keyword arguments for the OT-CFM peer.
    n_jobs
        Local worker processes (each job is one method, held-out time and seed); each runs torch with
        ``max(1, scam.settings.n_threads // n_jobs)`` threads. ``1`` runs everything in this process.
    client
        A ``distributed.Client`` or a scheduler address (``"tcp://HOST:PORT"``): run the jobs on that Dask
        cluster instead (``n_jobs`` is then ignored; each job uses its worker's ``scam.settings.n_threads``).
        Needs ``scam-sc[distributed]``. With the same torch threads per job, the results do not depend on
        where the jobs run.
    progress_bar
        Show progress.
    return_predictions
        Also return ``{(method, held_out_label, seed): (points, weights)}``.
    """
    n_steps = check_steps(n_steps)
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
    jobs = [(k, seed, m) for k in held_out for seed in seeds for m in methods if seed == 0 or not deterministic(m)]
    client = check_client(client)
    state = _LotState(
        X=X,
        codes=np.asarray(codes),
        values=np.asarray(values, dtype=np.float64),
        fit_scam=fit_scam,
        metrics=tuple(metrics),
        masses=None if masses is None else np.asarray(masses, dtype=np.float64),
        n_steps=n_steps,
        peer_kwargs=peer_kwargs,
    )
    results = dict(_jobs_done(jobs, state, min(n_jobs, len(jobs)), client, progress_bar))
    rows, predictions = [], {}
    for k in held_out:
        for seed in range(n_seeds):
            for method in methods:
                job_rows, pred = results[(k, 0 if deterministic(method) else seed, method)]
                rows += [{**r, "held_out": labels[k], "seed": seed} for r in job_rows]
                if return_predictions:
                    predictions[(method, labels[k], seed)] = pred
    df = pd.DataFrame(rows, columns=["method", "held_out", "seed", "metric", "value", "fit_seconds"])
    return (df, predictions) if return_predictions else df


def summarize(df: pd.DataFrame, metric: str = "w1") -> pd.DataFrame:
    """Per method: mean ± std over seeds of the mean over held-out times, and each held-out time's mean.

    Returns a DataFrame indexed by method with columns ``mean``, ``std``, one column per held-out
    time, and ``fit_seconds`` (mean per fold). A table with a ``condition`` column (of
    ``scam.tl.leave_one_timepoint_out(..., condition_key=...)``) is summarised per condition: the
    index is then ``(condition, method)``, conditions in the table's order, and a held-out time
    that a condition lacks is NaN.
    """
    d = df[df["metric"] == metric]
    if d.empty:
        raise ValueError(f"No rows for metric {metric!r}.")
    if "condition" in d.columns:
        parts = {c: summarize(g.drop(columns="condition"), metric) for c, g in d.groupby("condition", sort=False)}
        out = pd.concat(parts, names=["condition", "method"])
        held = [c for c in out.columns if c not in ("mean", "std", "fit_seconds")]
        return out[["mean", "std", *held, "fit_seconds"]]
    per_seed = d.groupby(["method", "seed"])["value"].mean().groupby("method")
    out = pd.DataFrame({"mean": per_seed.mean(), "std": per_seed.std(ddof=0)})
    per_time = d.groupby(["method", "held_out"], sort=False)["value"].mean().unstack("held_out")
    out = out.join(per_time)
    out["fit_seconds"] = d.groupby("method")["fit_seconds"].mean()
    return out.sort_values("mean")
