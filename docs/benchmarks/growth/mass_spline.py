"""The chains' log-weights splined through the knots (``scam.core.spline.MASS_CURVATURE``): held-out mass and growth.

1. ``analytic``: the true masses of :func:`scam.datasets.branching` (5 daily snapshots, seeds 0-4; and the suite's
   unevenly spaced course, days 0, 0.33, 1, 3, 7), each interior day left out in turn: the relative error of the
   log-linear mass between its neighbours and of the natural cubic spline of the log-mass through the other days,
   and in between (the spline's bend scaled by 0.25-0.75).
2. ``fit``: the default fit's row of ``scam benchmark growth`` (true masses; growth correlation, held-out mass
   error with days 1, 2, 3 left out in turn, learned masses, fates) for ``MASS_CURVATURE`` 0 (log-linear, the
   earlier default), 0.5 and 1 (the default), seeds 0-2.
3. ``suite``: the quick suite's unevenly spaced course over seeds 0-2, ratio to exact OT, for 0 and 1.

Run from the repository root, alone (one torch thread; ``analytic`` takes seconds, ``fit`` about 5 minutes,
``suite`` about 2)::

    python docs/benchmarks/growth/mass_spline.py analytic fit suite > docs/benchmarks/growth/mass_spline.txt
"""

import sys
import time
import warnings

import numpy as np
import torch

import scam
import scam.core.spline as spline

BENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _natural_spline_at(times, values, t):
    """The natural cubic spline through ``(times, values)`` at ``t`` (``SplineInterpolant``'s own solver)."""
    y = torch.as_tensor(np.asarray(values, dtype=np.float64))[None, :, None]
    tt = torch.as_tensor(np.asarray(times, dtype=np.float64))
    m = spline.SplineInterpolant._natural_spline(y, tt)[0, :, 0].numpy()
    i = int(np.searchsorted(times, t)) - 1
    h = times[i + 1] - times[i]
    a = (times[i + 1] - t) / h
    b = 1 - a
    linear = a * values[i] + b * values[i + 1]
    bend = ((a**3 - a) * m[i] + (b**3 - b) * m[i + 1]) * h**2 / 6
    return linear, bend


def analytic() -> None:
    """Relative error of the held-out mass from the other days' masses: log-linear, bent spline, natural spline."""
    print("## 1. The true masses alone\n")
    print("| data | held out | " + " | ".join(f"bend {g:g}" for g in BENDS) + " |")
    print("|---" * (len(BENDS) + 2) + "|")
    courses = {"branching, days 0-4": ((0.0, 1.0, 2.0, 3.0, 4.0), 400)}
    courses["uneven (suite)"] = ((0.0, 0.33, 1.0, 3.0, 7.0), [400, 400, 400, 400, 130])
    for label, (times, n_cells) in courses.items():
        seeds = range(5) if label.startswith("branching") else range(3)
        errors = {}
        for seed in seeds:
            adata = scam.datasets.branching(n_cells=n_cells, times=times, random_state=seed)
            logm = np.log(np.asarray(adata.uns["ground_truth"]["masses"], dtype=np.float64))
            for k in range(1, len(times) - 1):
                keep = [j for j in range(len(times)) if j != k]
                linear, bend = _natural_spline_at(np.asarray(times)[keep], logm[keep], times[k])
                for g in BENDS:
                    errors.setdefault((k, g), []).append(abs(np.exp(linear + g * bend - logm[k]) - 1))
        for k in range(1, len(times) - 1):
            cells = " | ".join(f"{np.mean(errors[(k, g)]):.3f}" for g in BENDS)
            print(f"| {label} | {times[k]:g} | {cells} |")
        means = " | ".join(f"{np.mean([np.mean(errors[(k, g)]) for k in range(1, len(times) - 1)]):.3f}" for g in BENDS)
        print(f"| {label} | mean | {means} |")
    print()


def fit() -> None:
    """The default fit's growth row for each mass bend."""
    from scam.benchmark.growth import DEFAULT_METHOD, run_growth, summarize

    print("## 2. The default fit (`scam benchmark growth`'s default row, seeds 0-2)\n")
    for g in (0.0, 0.5, 1.0):
        spline.MASS_CURVATURE = g
        start = time.perf_counter()
        df, _ = run_growth(seeds=(0, 1, 2), methods=[DEFAULT_METHOD], progress=False)
        table = summarize(df)
        print(f"MASS_CURVATURE = {g:g} ({time.perf_counter() - start:.0f} s)")
        print(table.to_markdown() if hasattr(table, "to_markdown") else table.to_string())
        print(flush=True)
    spline.MASS_CURVATURE = 1.0


def suite() -> None:
    """The unevenly spaced course of the quick suite over seeds 0-2, for the log-linear and the splined mass."""
    from scam.benchmark.suite import ratios, run_suite

    print("## 3. The suite's unevenly spaced course, seeds 0-2\n")
    for g in (0.0, 1.0):
        spline.MASS_CURVATURE = g
        r = ratios(run_suite(["uneven"], n_seeds=3)).iloc[0]
        worst = f"worst {r['worst_ratio']:.3f}"
        print(f"MASS_CURVATURE = {g:g}: ratio to exact OT {r['ratio']:.3f} ({worst}; {r['per_time']})", flush=True)
    spline.MASS_CURVATURE = 1.0
    print()


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    scam.settings.n_threads = 1
    parts = {"analytic": analytic, "fit": fit, "suite": suite}
    for name in sys.argv[1:] or list(parts):
        parts[name]()
