"""Two conditions that differ in growth: one model per condition, or one shared network with the condition as input.

Issue 15. Run from the repository root, alone, on one thread::

    OMP_NUM_THREADS=1 python docs/benchmarks/conditions/shared_vs_separate.py

Data: :func:`scam.datasets.branching` twice, as ``tests/test_conditions.py`` builds it: ``control``
(branch B dies, growth -0.6/day there) and ``treated`` (``branch_b_death=0.3``: branch B holds steady),
fitted on the true latent state ``X_latent`` (2-D), 200 cells per day and condition, days 0-4.

Designs (default :func:`scam.tl.fit` settings, ``masses=None``, only ``random_state`` fixed):

``separate``
    ``scam.tl.fit(adata, "day", condition_key="condition")``: one model per condition (today's behaviour).
``shared``
    One fit on all cells of a representation augmented by the condition: ``[X_latent, c * onehot(condition)]``
    with ``c = C_MULT x`` the diameter of ``X_latent`` (largest distance between two cells), so OT never pairs
    cells of different conditions and the condition coordinates never move; the network sees the condition
    as an input and shares its weights. No change to the package.

Measured: (a) correlation of ``obs['scam_growth']`` with the true growth per condition; (b) treated minus control
mean learned growth on branch B against the truth; (c) leave-one-timepoint-out W1 per condition, against the
exact-OT interpolation (``ot_midpoint``) of the same run: ``scam.tl.leave_one_timepoint_out`` on each condition's
cells (separate), and for the shared design a fit on the augmented cells of both conditions without the held-out
day, pushing the previous day's cells as the LOT engine does (``ActionModel.simulate``, 100 Euler steps in both, weights
normalised within each condition) and scoring in the original coordinates (one-hot columns dropped) with the
engine's W1 (:func:`scam.core.metrics.wasserstein`); (d) fit time. Also: the learned velocity of the condition
coordinates, and a cheap diagnostic of the path's growth (the spline's mass-carrying chains, no training).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import anndata as ad  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.spatial.distance import pdist  # noqa: E402

import scam  # noqa: E402
from scam._units import Units  # noqa: E402
from scam.core.metrics import wasserstein  # noqa: E402
from scam.core.spline import SplineInterpolant  # noqa: E402

CONDITIONS = ("control", "treated")
TIME, REP, AUG = "day", "X_latent", "X_cond"
#: c = C_MULT x diameter of the data (the brief's suggestion).
C_MULT = 10.0
#: Multiples of the diameter tried by the path diagnostic.
DIAG_MULTS = (0.5, 1.0, 2.0, 10.0)
N_STEPS = 100  # Euler steps of the LOT push in both designs (the default is now n_steps='auto'; this output used 100)
#: Extra fit settings: empty (the defaults) except for a smoke test with ``--n-iters``.
FIT: dict = {}


def make_data(n_cells: int) -> ad.AnnData:
    """Control and treated branching, concatenated with ``obs['condition']`` (as tests/test_conditions.py)."""
    sims = {
        "control": scam.datasets.branching(n_cells=n_cells, n_genes=60, random_state=0),
        "treated": scam.datasets.branching(n_cells=n_cells, n_genes=60, random_state=1, branch_b_death=0.3),
    }
    adata = ad.concat(sims, label="condition", index_unique="-")
    adata.obs["condition"] = adata.obs["condition"].astype("category")
    return adata


def augment(adata: ad.AnnData, mult: float = C_MULT) -> float:
    """Write ``obsm[AUG] = [X_latent, c onehot]``, ``c = mult x`` diameter of ``X_latent`` of ``adata``; returns c."""
    Z = np.asarray(adata.obsm[REP], dtype=np.float64)
    c = mult * float(pdist(Z).max())
    onehot = (adata.obs["condition"].to_numpy()[:, None] == np.array(CONDITIONS)[None, :]).astype(np.float64)
    adata.obsm[AUG] = np.hstack([Z, c * onehot])
    return c


def growth_metrics(adata: ad.AnnData) -> dict:
    """Per condition: correlation with the true growth, learned and true mean growth on branch B, SDs."""
    out = {}
    obs = adata.obs
    for cond in CONDITIONS:
        o = obs[obs["condition"] == cond]
        b = o["branch"] == "B"
        # without masses only growth relative to the population is identified: the truth centred per day
        centred = o["growth"] - o.groupby(TIME, observed=True)["growth"].transform("mean")
        out[cond] = {
            "r": float(np.corrcoef(o["scam_growth"], o["growth"])[0, 1]),
            "b_learned": float(o.loc[b, "scam_growth"].mean()),
            "b_true": float(o.loc[b, "growth"].mean()),
            "b_true_centred": float(centred[b].mean()),
            "sd_learned": float(o["scam_growth"].std()),
            "sd_true": float(o["growth"].std()),
        }
    return out


def fit_separate(adata: ad.AnnData, seed: int) -> tuple[dict, float]:
    """One model per condition (``condition_key``): growth metrics and seconds."""
    a = adata.copy()
    start = time.perf_counter()
    scam.tl.fit(a, TIME, use_rep=REP, condition_key="condition", random_state=seed, progress_bar=False, **FIT)
    seconds = time.perf_counter() - start
    res = growth_metrics(a)
    for cond in CONDITIONS:
        p = a.uns["scam"]["conditions"][cond]["params"]
        res[cond]["path"] = f"γ {p.get('spline_curvature', float('nan')):g}, σ {p['sigma']:g}"
    return res, seconds


def fit_shared(adata: ad.AnnData, seed: int) -> tuple[dict, float, dict]:
    """One fit on the condition-augmented representation: growth metrics, seconds, velocity of the coordinates."""
    a = adata.copy()
    c = augment(a)
    start = time.perf_counter()
    scam.tl.fit(a, TIME, use_rep=AUG, random_state=seed, progress_bar=False, **FIT)
    seconds = time.perf_counter() - start
    res = growth_metrics(a)
    p = a.uns["scam"]["params"]
    for cond in CONDITIONS:
        res[cond]["path"] = f"γ {p.get('spline_curvature', float('nan')):g}, σ {p['sigma']:g}"
    v = np.asarray(a.obsm["scam_velocity"], dtype=np.float64)
    vel = {
        "c": c,
        "bio_mean": float(np.linalg.norm(v[:, :2], axis=1).mean()),
        "cond_mean": float(np.abs(v[:, 2:]).mean()),
        "cond_max": float(np.abs(v[:, 2:]).max()),
    }
    return res, seconds, vel


def lot_separate(adata: ad.AnnData, held_out: list[float]) -> tuple[dict, float]:
    """{(cond, day): (scam W1, ot_midpoint W1)} with ``scam.tl.leave_one_timepoint_out`` on each condition's cells."""
    out, seconds = {}, 0.0
    for cond in CONDITIONS:
        sub = adata[adata.obs["condition"] == cond].copy()
        df = scam.tl.leave_one_timepoint_out(
            sub,
            TIME,
            held_out=held_out,
            methods=("scam", "ot_midpoint"),
            metrics=("w1",),
            use_rep=REP,
            n_seeds=1,
            n_steps=N_STEPS,
            fit_kwargs=FIT,
            progress_bar=False,
        )
        for label, g in df.groupby("held_out"):
            day = float(label)  # the held-out time's label
            w = dict(zip(g["method"], g["value"], strict=True))
            out[cond, day] = (w["scam"], w["ot_midpoint"])
            seconds += float(g.loc[g["method"] == "scam", "fit_seconds"].iloc[0])
    return out, seconds


def lot_shared(adata: ad.AnnData, held_out: list[float], seed: int = 0) -> tuple[dict, float, float]:
    """{(cond, day): scam W1} of one augmented fit on both conditions without the held-out day.

    As the LOT engine: the held-out cells never reach the fit (c is set from the kept cells), all cells of the
    previous day are pushed, and the weighted prediction is scored by exact W1 in the original coordinates.
    """
    days = np.unique(adata.obs[TIME])
    out, seconds, drift = {}, 0.0, 0.0
    for day in held_out:
        k = int(np.flatnonzero(days == day)[0])
        prev_day = float(days[k - 1])
        kept = adata[adata.obs[TIME] != day].copy()
        c = augment(kept)
        start = time.perf_counter()
        model = scam.tl.fit(kept, TIME, use_rep=AUG, random_state=seed, progress_bar=False, **FIT)
        rows = (kept.obs[TIME] == prev_day).to_numpy()
        x_prev = kept.obsm[AUG][rows]
        src = kept.obs["condition"].to_numpy()[rows]
        pred, w = model.simulate(x_prev, prev_day, float(day), n_steps=N_STEPS, return_weights=True, random_state=seed)
        seconds += time.perf_counter() - start
        pred, w = np.asarray(pred, dtype=np.float64), np.asarray(w, dtype=np.float64)
        drift = max(drift, float(np.abs(pred[:, 2:] - x_prev[:, 2:]).max()) / c)
        for cond in CONDITIONS:
            m = src == cond
            target = adata.obsm[REP][((adata.obs["condition"] == cond) & (adata.obs[TIME] == day)).to_numpy()]
            wc = w[m] / w[m].sum() if model.has_growth else None
            out[cond, float(day)] = wasserstein(pred[m, :2], target, x_weights=wc, random_state=seed)
    return out, seconds, drift


def path_diagnostic(adata: ad.AnnData) -> list[tuple]:
    """The growth the default path carries (spline chains with mass, all cells, seed 0), before any training.

    Per condition: the fraction of chains that change condition, and the regression slope and correlation of
    the chains' log-weight change per day on the true growth of the cell they leave (slope 1 = the true rate;
    masses=None, so only relative growth is identified).
    """
    cond, day, g = (adata.obs[k].to_numpy() for k in ("condition", TIME, "growth"))
    days = np.unique(day)

    def one(X, rows):
        units = Units.from_data(X[rows], days)
        order = [rows[day[rows] == t] for t in days]
        marg = [torch.as_tensor(units.to_internal(X[o]), dtype=torch.float32) for o in order]
        glob = np.concatenate(order)
        path = SplineInterpolant(growth=True, curvature=0.5).fit(
            marg, units.tau(days), None, generator=torch.Generator().manual_seed(0)
        )
        idx, logw = glob[path.knots_idx.numpy()], path.knots_logw.numpy()
        cross = float(np.mean((cond[idx] != cond[idx[:, :1]]).any(1)))
        res = {}
        for name in CONDITIONS:
            m = cond[idx[:, 0]] == name
            if m.any():
                rate = (np.diff(logw[m], axis=1) / np.diff(days)[None, :]).ravel()
                truth = g[idx[m][:, :-1]].ravel()
                res[name] = (float(np.polyfit(truth, rate, 1)[0]), float(np.corrcoef(truth, rate)[0, 1]))
        return cross, res

    Z = np.asarray(adata.obsm[REP], dtype=np.float64)
    rows = []
    sep = {}
    for name in CONDITIONS:
        cross, res = one(Z, np.flatnonzero(cond == name))
        sep[name] = res[name]
    rows.append(("separate", 0.0, sep))
    for mult in DIAG_MULTS:
        a = adata.copy()
        augment(a, mult)
        cross, res = one(np.asarray(a.obsm[AUG]), np.arange(a.n_obs))
        rows.append((f"shared, c = {mult:g} × diameter", cross, res))
    return rows


def _commit() -> str:
    """The repository's HEAD commit (and whether the tree had changes), or '?'."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def fmt(values) -> str:
    """Mean (± SD over seeds when there are several)."""
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def main():
    """Run both designs and print the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fit seeds of the growth part")
    parser.add_argument("--held-out", type=float, nargs="+", default=[2.0], help="days held out in the LOT part")
    parser.add_argument("--n-cells", type=int, default=200, help="cells per day and condition")
    parser.add_argument("--n-iters", type=int, default=None, help="for a quick smoke test only (default: fit's)")
    args = parser.parse_args()
    if args.n_iters is not None:
        FIT["n_iters"] = args.n_iters
    torch.set_num_threads(1)
    scam.settings.n_threads = 1
    total = time.perf_counter()
    adata = make_data(args.n_cells)

    # --- growth: full fits, one per seed and design
    growth = {"separate": [], "shared": []}
    seconds = {"separate": [], "shared": []}
    vel = []
    for seed in args.seeds:
        res, s = fit_separate(adata, seed)
        growth["separate"].append(res)
        seconds["separate"].append(s)
        res, s, v = fit_shared(adata, seed)
        growth["shared"].append(res)
        seconds["shared"].append(s)
        vel.append(v)
        print(f"seed {seed} done ({time.perf_counter() - total:.0f} s)", flush=True)

    # --- leave-one-timepoint-out (LOT seed 0, as scam.tl.leave_one_timepoint_out with n_seeds=1)
    lot_sep, lot_sep_s = lot_separate(adata, args.held_out)
    lot_sh, lot_sh_s, drift = lot_shared(adata, args.held_out)
    diag = path_diagnostic(adata)

    seeds = ", ".join(map(str, args.seeds))
    print(f"\n### Growth (mean ± SD over fit seeds {seeds}; {args.n_cells} cells per day and condition)\n")
    print(
        "| design | condition | r(learned, true growth) | branch B learned | branch B true | branch B true, centred "
        "per day | SD learned / SD true | path (γ, σ) of seed " + str(args.seeds[0]) + " |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for design, runs in growth.items():
        for cond in CONDITIONS:
            r = [run[cond] for run in runs]
            print(
                f"| {design} | {cond} | {fmt([x['r'] for x in r])} | {fmt([x['b_learned'] for x in r])} | "
                f"{r[0]['b_true']:.3f} | {r[0]['b_true_centred']:.3f} | "
                f"{fmt([x['sd_learned'] / x['sd_true'] for x in r])} | {r[0]['path']} |"
            )
    print("\n### Treated minus control, mean growth on branch B (per day)\n")
    print("| design | learned | per seed | true | true, centred per day | sign right |")
    print("|---|---|---|---|---|---|")
    for design, runs in growth.items():
        diffs = [run["treated"]["b_learned"] - run["control"]["b_learned"] for run in runs]
        t = runs[0]["treated"]["b_true"] - runs[0]["control"]["b_true"]
        tc = runs[0]["treated"]["b_true_centred"] - runs[0]["control"]["b_true_centred"]
        ok = sum(np.sign(d) == np.sign(t) for d in diffs)
        print(
            f"| {design} | {fmt(diffs)} | {', '.join(f'{d:+.3f}' for d in diffs)} | {t:+.3f} | {tc:+.3f} | "
            f"{ok}/{len(diffs)} |"
        )
    held = ", ".join(f"{d:g}" for d in args.held_out)
    print(f"\n### Leave-one-timepoint-out W1 (held-out day {held}, LOT seed 0; original 2-D coordinates)\n")
    print("| condition | held-out day | exact OT (ot_midpoint) | separate | shared | separate / OT | shared / OT |")
    print("|---|---|---|---|---|---|---|")
    for cond in CONDITIONS:
        for day in args.held_out:
            s, ot = lot_sep[cond, day]
            sh = lot_sh[cond, day]
            print(f"| {cond} | {day:g} | {ot:.4f} | {s:.4f} | {sh:.4f} | {s / ot:.3f} | {sh / ot:.3f} |")
    print("\n### Fit time (s, one thread)\n")
    print("| design | full fit (both conditions) | LOT fits + push, all held-out days |")
    print("|---|---|---|")
    print(f"| separate (2 models) | {fmt(seconds['separate'])} | {lot_sep_s:.1f} |")
    print(f"| shared (1 model) | {fmt(seconds['shared'])} | {lot_sh_s:.1f} |")
    print(f"\n### Shared design: the condition coordinates (c = {C_MULT:g} × diameter = {vel[0]['c']:.1f})\n")
    print("| seed | mean \\|velocity\\| of the 2 latent coordinates | mean \\|velocity\\| condition coords | max |")
    print("|---|---|---|---|")
    for seed, v in zip(args.seeds, vel, strict=True):
        print(f"| {seed} | {v['bio_mean']:.3f} | {v['cond_mean']:.4f} | {v['cond_max']:.4f} |")
    print(f"\nLargest move of a pushed cell's condition coordinates in the LOT push: {drift:.2e} × c.")
    print("\n### Path diagnostic: the growth the default path carries (seed 0, no training)\n")
    print("| path | chains changing condition | control: slope, r | treated: slope, r |")
    print("|---|---|---|---|")
    for name, cross, res in diag:
        cells = " | ".join(f"{res[c][0]:.3f}, {res[c][1]:.2f}" for c in CONDITIONS)
        print(f"| {name} | {cross:.3f} | {cells} |")
    print(
        f"\nTotal {time.perf_counter() - total:.0f} s; {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, scam {scam.__version__}, torch threads {torch.get_num_threads()}, "
        f"commit {_commit()}."
    )


if __name__ == "__main__":
    main()
