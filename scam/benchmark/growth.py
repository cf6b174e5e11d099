"""Growth benchmark on :func:`scam.datasets.branching`: learned growth, masses and fates against the simulation's truth.

``scam benchmark growth --out DIR`` runs :func:`run_growth` and writes (:func:`write_results`) ``results.csv``,
``results.md`` and ``results.json`` into ``DIR`` (``docs/benchmarks/growth`` in the repository).

Per method and seed, on the simulated branching time course (fit on the true latent state ``X_latent``):

``growth_corr``
    Pearson correlation, pooled over all cells, between the learned growth ``adata.obs["scam_growth"]``
    and the true ``birth − death`` (fit on every time point).
``mass_error``
    Relative error of the predicted mass at a held-out time: fit without time ``k`` (default: day 2; any
    interior times, one at a time), push the cells of ``k − 1`` to ``t_k`` with their growth weights,
    predicted mass ``m_{k−1} · mean(weights)``; mean over the held-out times. Without growth the prediction
    is ``m_{k−1}``.
``learned_mass_error``
    Mean relative error of ``uns["scam"]["learned_masses"]`` against the true masses (all times fitted).
``fate_accuracy``
    :func:`scam.tl.fate` from every earlier time to the last one (``groupby="branch"``): the share of cells
    whose more likely branch is their true fate (``obs["fate"]``), pooled over the earlier times. The best
    possible (from the simulation's own fate probabilities) is reported as ``bayes_fate_accuracy``.
"""

from __future__ import annotations

import json
import logging
import time as _time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _keys
from .._io import check_output, replacing

logger = logging.getLogger("scam")

#: Fit settings shared by every method but :data:`DEFAULT_METHOD` (2-D latent state: a small network suffices). The
#: learning rate is the one these settings were chosen and measured with (``docs/benchmarks/growth/``), not the
#: default fit's 5e-3.
FIT = {"n_iters": 1500, "hidden": (64, 64), "batch_size": 512, "lr": 1e-3, "progress_bar": False}
QUICK_FIT = {"n_iters": 600, "hidden": (32, 32), "batch_size": 256, "lr": 1e-3, "progress_bar": False}

#: The row of :func:`scam.tl.fit`'s own defaults (free growth head on the mass-carrying spline, its network, steps and
#: learning rate): :data:`FIT` / :data:`QUICK_FIT` do not apply to it, so it measures what a user gets.
DEFAULT_METHOD = "scam default (free head, mass-carrying spline)"

#: Methods: name -> (fit keyword arguments, where the masses come from: "true", "prior" or "none").
METHODS: dict[str, tuple[dict, str]] = {
    DEFAULT_METHOD: ({}, "true"),
    "AM (no growth, λ = 0)": ({"growth": "none"}, "none"),  # explicit: the default fit learns growth
    "uAM tied λ=0.1, spline path": ({"lam": 0.1}, "true"),
    "uAM tied λ=0.1, growth path": ({"lam": 0.1, "interpolant": "growth"}, "true"),
    "free head, growth path": ({"growth": "free", "interpolant": "growth"}, "true"),
    "free head + prior penalty": ({"growth": "free", "interpolant": "growth", "growth_penalty": 1.0}, "true"),
    "free head + prior penalty, prior masses": (
        {"growth": "free", "interpolant": "growth", "growth_penalty": 1.0},
        "prior",
    ),
}
QUICK_METHODS = (DEFAULT_METHOD, "AM (no growth, λ = 0)", "uAM tied λ=0.1, spline path", "free head, growth path")
METRICS = ("growth_corr", "mass_error", "learned_mass_error", "fate_accuracy")


def _fit(adata, kwargs: dict, masses_from: str, fit_settings: dict, seed: int):
    from .. import tl

    masses = {"true": list(adata.uns["ground_truth"]["masses"]), "prior": "growth_prior", "none": None}[masses_from]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = tl.fit(adata, "day", use_rep="X_latent", masses=masses, random_state=seed, **fit_settings, **kwargs)
    return model


def _fate_accuracy(adata, model, seed: int) -> float:
    from .. import tl

    times = np.sort(adata.obs["day"].unique())
    correct, total = 0, 0
    for t in times[:-1]:
        tl.fate(adata, model, source=float(t), target=float(times[-1]), groupby="branch", random_state=seed)
        rows = (adata.obs["day"] == t).to_numpy()
        probs = adata.obsm[_keys.fate()][rows]
        classes = list(adata.uns[_keys.fate()]["classes"])
        pred = np.asarray(classes)[np.argmax(probs, axis=1)]
        correct += int((pred == adata.obs["fate"].to_numpy()[rows].astype(str)).sum())
        total += int(rows.sum())
    return correct / total


def _held_out_mass_error(adata, kwargs: dict, masses_from: str, fit_settings: dict, seed: int, held_out) -> float:
    """Fit without each held-out time, predict its mass from the previous time; mean relative error."""
    times = np.sort(adata.obs["day"].unique())
    true = np.asarray(adata.uns["ground_truth"]["masses"], dtype=np.float64)
    errors = []
    for k in held_out:
        sub = adata[(adata.obs["day"] != times[k]).to_numpy()].copy()
        kept = [j for j in range(len(times)) if j != k]
        if masses_from == "true":
            sub.uns["ground_truth"] = {**sub.uns["ground_truth"], "masses": true[kept] / true[kept][0]}
        model = _fit(sub, kwargs, masses_from, fit_settings, seed)
        x_prev = adata.obsm["X_latent"][(adata.obs["day"] == times[k - 1]).to_numpy()]
        _, w = model.simulate(x_prev, float(times[k - 1]), float(times[k]), return_weights=True, random_state=seed)
        # mass at k - 1: the true one, or the one derived from the prior (both relative to the first time)
        m_prev = float(sub.uns["scam"]["masses"][kept.index(k - 1)]) if masses_from == "prior" else true[k - 1]
        pred = m_prev * float(np.mean(w))
        errors.append(abs(pred - true[k]) / true[k])
    return float(np.mean(errors))


def run_growth(
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n_cells: int = 400,
    methods: Sequence[str] | None = None,
    held_out: Sequence[int] | None = None,
    quick: bool = False,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Run the growth benchmark; returns the long table and facts about the data.

    Parameters
    ----------
    seeds
        Seeds of the simulation and of the fits (one simulation per seed).
    n_cells
        Cells per snapshot of :func:`scam.datasets.branching`.
    methods
        Keys of :data:`METHODS` (default: all; with ``quick``: :data:`QUICK_METHODS`). :data:`DEFAULT_METHOD` is
        fitted with :func:`scam.tl.fit`'s defaults, the others with :data:`FIT` (``quick``: :data:`QUICK_FIT`).
    held_out
        Interior time indices held out for ``mass_error`` (default: all three interior days; with
        ``quick``: day 2).
    quick
        Fewer and shorter fits (:data:`QUICK_FIT`).
    progress
        Print one line per method and seed.

    Returns
    -------
    Long table (``method``, ``seed``, ``metric``, ``value``, ``seconds``) and a dict with the simulation's
    ``bayes_fate_accuracy`` and the gene prior's correlation with the true growth (``prior_corr``) per seed.
    """
    from .. import datasets, pp

    fit_settings = QUICK_FIT if quick else FIT
    held_out = tuple(held_out) if held_out is not None else ((2,) if quick else (1, 2, 3))
    names = list(methods or (QUICK_METHODS if quick else METHODS))
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown growth benchmark methods {unknown}; choose from {list(METHODS)}.")
    rows, facts = [], {"bayes_fate_accuracy": [], "prior_corr": [], "true_masses": []}
    for seed in seeds:
        adata = datasets.branching(n_cells=n_cells, random_state=seed)
        pp.growth_prior(adata)
        true_g = adata.obs["growth"].to_numpy()
        facts["bayes_fate_accuracy"].append(float(adata.uns["ground_truth"]["bayes_fate_accuracy"]))
        facts["prior_corr"].append(float(np.corrcoef(adata.obs[_keys.growth_prior()], true_g)[0, 1]))
        facts["true_masses"].append([float(m) for m in adata.uns["ground_truth"]["masses"]])
        for name in names:
            kwargs, masses_from = METHODS[name]
            settings = {"progress_bar": False} if name == DEFAULT_METHOD else fit_settings
            start = _time.perf_counter()
            work = adata.copy()
            model = _fit(work, kwargs, masses_from, settings, seed)
            g = work.obs[_keys.growth()].to_numpy(dtype=np.float64)
            corr = float(np.corrcoef(g, true_g)[0, 1]) if np.std(g) > 0 else float("nan")
            true_m = np.asarray(adata.uns["ground_truth"]["masses"])
            learned = np.asarray(work.uns[_keys.uns()][_keys.learned_masses()])
            values = {
                "growth_corr": corr,
                "learned_mass_error": float(np.mean(np.abs(learned[1:] - true_m[1:]) / true_m[1:])),
                "fate_accuracy": _fate_accuracy(work, model, seed),
                "mass_error": _held_out_mass_error(work, kwargs, masses_from, settings, seed, held_out),
            }
            seconds = _time.perf_counter() - start
            for metric in METRICS:
                rows.append(
                    {"method": name, "seed": seed, "metric": metric, "value": values[metric], "seconds": seconds}
                )
            if progress:
                print(
                    f"  seed {seed} {name:<42} "
                    + "  ".join(f"{m} {values[m]:.3f}" for m in METRICS)
                    + f"  ({seconds:.0f} s)",
                    flush=True,
                )
    return pd.DataFrame(rows), facts


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds per method (rows in :data:`METHODS` order) and metric."""
    order = [m for m in METHODS if m in set(df["method"])]
    g = df.groupby(["method", "metric"])["value"]
    mean, std = g.mean().unstack(), g.std(ddof=0).unstack()
    out = pd.DataFrame(index=order)
    for metric in METRICS:
        if metric in mean:
            out[metric] = [
                f"{mean.loc[m, metric]:.3f} ± {std.loc[m, metric]:.3f}" if np.isfinite(mean.loc[m, metric]) else "n/a"
                for m in order
            ]
    out["seconds per seed"] = df.groupby("method")["seconds"].mean().reindex(order).round(0).astype(int)
    return out


def write_results(df: pd.DataFrame, facts: dict, out_dir: str | Path, *, notes: str = "") -> dict[str, Path]:
    """Write ``results.csv``, ``results.json`` and ``results.md`` into ``out_dir`` (created if missing).

    The three files replace the previous ones together once all are complete (:func:`scam._io.replacing`).
    """
    out = check_output(out_dir, kind="files_in")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "results.csv", "json": out / "results.json", "md": out / "results.md"}
    with replacing(paths["csv"], paths["json"], paths["md"]) as (csv, js, md):
        df.to_csv(csv, index=False)
        js.write_text(json.dumps(facts, indent=2), encoding="utf-8")
        md.write_text(markdown(df, facts, notes), encoding="utf-8")
    return paths


def markdown(df: pd.DataFrame, facts: dict, notes: str = "") -> str:
    """The results page: table, what each column means, and the simulation's ceilings."""
    table = summarize(df)
    lines = ["| method | " + " | ".join(table.columns) + " |", "|---" * (len(table.columns) + 1) + "|"]
    for name, row in table.iterrows():
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row.values) + " |")
    bayes = np.mean(facts["bayes_fate_accuracy"])
    prior = np.mean(facts["prior_corr"])
    return "\n".join(
        [
            "# Growth benchmark: simulated branching time course",
            "",
            "Command: `scam benchmark growth --out docs/benchmarks/growth`"
            + (" (`--quick`)" if "quick" in notes.lower() else "")
            + ". Data: `scam.datasets.branching` (5 daily snapshots, one root population splitting into a "
            "proliferating branch A and a dying branch B; fits on the true 2-D latent state `X_latent`). "
            "Mean ± std over seeds (one simulation per seed).",
            "",
            *lines,
            "",
            "- `growth_corr`: Pearson correlation, pooled over all cells, of the learned growth `obs['scam_growth']` "
            "with the true birth − death (higher is better; target >= 0.8). n/a: no growth learned.",
            "- `mass_error`: relative error of the mass predicted at a held-out time (each interior day left out "
            "of the fit in turn, quick mode: day 2 only; the cells of the previous day pushed forward with their "
            "growth weights), mean over held-out days; lower is better "
            "(target <= 0.10). Without growth the prediction is the previous time's mass.",
            "- `learned_mass_error`: mean relative error of `uns['scam']['learned_masses']` (all times fitted).",
            "- `fate_accuracy`: `scam.tl.fate` to the last time (`groupby='branch'`), share of earlier cells whose "
            f"more likely branch is their true fate (target >= 0.85). Ceiling (the simulation's own fate "
            f"probabilities): {bayes:.3f}.",
            f"- The gene-set prior alone (`scam.pp.growth_prior` on the raw counts, moscot's default logistic "
            f"rates) correlates {prior:.3f} with the true growth.",
            "- Masses: `true` = the simulation's masses, `prior masses` = `masses='growth_prior'` (the prior's "
            "rates are uncalibrated for this simulation, so its masses are off).",
            "",
            notes,
            "",
        ]
    )
