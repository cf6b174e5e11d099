"""The leave-one-timepoint-out (LOT) loop: hold out an interior time, predict it, score it."""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..core.metrics import mmd_rbf, wasserstein
from .baselines import BASELINES

logger = logging.getLogger("scam")

#: scam variants: name -> keyword arguments of :func:`scam.tl.fit` on top of its defaults. The
#: ingredients are listed apart so the table shows what each one buys.
SCAM_VARIANTS: dict[str, dict] = {
    "scam": {},
    "scam_am": {"sigma": 0.0, "lam": 0.0},
    "scam_eam": {"sigma": 0.3, "lam": 0.0},
    "scam_uam": {"sigma": 0.0, "lam": 0.1},
    "scam_ueam": {"sigma": 0.3, "lam": 0.1},
    "scam_independent": {"interpolant": "independent"},
    "scam_ot": {"interpolant": "ot"},
    "scam_sb": {"interpolant": "sb", "sigma": 0.3},
    "scam_unbalanced": {"interpolant": "unbalanced", "lam": 0.1},
    "scam_spline": {"interpolant": "spline"},
}
PEERS = ("otcfm",)
METRICS = ("w1", "w2", "mmd")
DEFAULT_METHODS = ("scam", "ot_midpoint", "previous", "next")


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
        ``keep_mask`` only (the held-out cells are never passed).
    held_out
        Indices of the interior time points to hold out, one at a time.
    methods, n_seeds, metrics
        What to run and score.
    masses
        True relative masses per time point (for unbalanced baselines and the mass error); the
        held-out time's mass is used only for scoring.
    n_steps
        Euler steps when pushing cells of the previous time to the held-out one.
    peer_kwargs
        Keyword arguments for the OT-CFM peer.
    progress_bar
        Show progress.
    return_predictions
        Also return ``{(method, held_out_label, seed): (points, weights)}``.
    """
    unknown = [m for m in methods if m not in available_methods()]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {available_methods()}.")
    rows, predictions = [], {}
    skipped = set()
    jobs = [(k, seed, m) for k in held_out for seed in range(n_seeds) for m in methods]
    bar = tqdm(jobs, desc="scam: LOT", disable=not progress_bar)
    cache: dict = {}
    for k, seed, method in bar:
        bar.set_postfix_str(f"{method} @ {labels[k]} seed {seed}")
        keep = codes != k
        x_prev, x_next, target = X[codes == k - 1], X[codes == k + 1], X[codes == k]
        t_prev, t_next, t = float(values[k - 1]), float(values[k + 1]), float(values[k])
        start = _time.perf_counter()
        mass_pred = None
        if method in SCAM_VARIANTS:
            model = fit_scam(keep, SCAM_VARIANTS[method], seed)
            pred, w = model.simulate(x_prev, t_prev, t, n_steps=n_steps, return_weights=True, random_state=seed)
            if model.lam > 0:
                mass_pred = float(w.mean()) * (masses[k - 1] if masses is not None else 1.0)
                weights = w.astype(np.float64) / w.sum()
            else:
                weights = None
        elif method in BASELINES:
            deterministic = method in ("previous", "next", "ot_midpoint")
            key = (method, k)
            if not (deterministic and key in cache):  # deterministic baselines are computed once per fold
                kwargs = {} if deterministic else {"random_state": seed}
                if method == "unbalanced_ot" and masses is not None:
                    kwargs.update(m_prev=float(masses[k - 1]), m_next=float(masses[k + 1]))
                pred, weights = BASELINES[method](x_prev, x_next, t_prev, t_next, t, **kwargs)
                cache[key] = (pred, weights, _time.perf_counter() - start)
            pred, weights, seconds = cache[key]
        else:  # peers
            from .peers import have_torchcfm, otcfm_predict

            if not have_torchcfm():
                if method not in skipped:
                    logger.warning("skipping %s: torchcfm is not installed (pip install 'scam[benchmark]')", method)
                    skipped.add(method)
                continue
            marg = [X[(codes == j)] for j in range(len(values)) if j != k]
            times = [float(v) for j, v in enumerate(values) if j != k]
            pred, _ = otcfm_predict(
                marg, times, t, x_prev, t_prev, n_steps=n_steps, random_state=seed, **dict(peer_kwargs or {})
            )
            weights = None
        if method not in BASELINES:
            seconds = _time.perf_counter() - start  # fit and prediction
        scores = _score(np.asarray(pred, dtype=np.float64), weights, target, metrics, seed)
        if mass_pred is not None and masses is not None:
            scores["mass_error"] = abs(mass_pred - masses[k]) / masses[k]
        for metric, value in scores.items():
            rows.append(
                {
                    "method": method,
                    "held_out": labels[k],
                    "seed": seed,
                    "metric": metric,
                    "value": float(value),
                    "fit_seconds": float(seconds),
                }
            )
        if return_predictions:
            predictions[(method, labels[k], seed)] = (pred, weights)
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
