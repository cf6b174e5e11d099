"""The growth head's target settings on the 100-PC EB subset: the suite's ``eb100_*`` rows, one setting.

The settings are those of ``growth_target.py`` (module constants of :mod:`scam.core.spline`, set before any fit).
Measured: leave-one-timepoint-out W1 of the default fit and of the exact-OT interpolation in the same run
(:func:`scam.benchmark.suite.run_suite`, fit seed 0), at 20, 50 and 100 PCs. The default setting's figures are in
``docs/benchmarks/suite/results.md``.

Usage (from the repository root; the subset's files in ``../shared/data/eb`` or given as the second argument)::

    OMP_NUM_THREADS=1 python docs/benchmarks/growth/growth_target_eb100.py smooth_local

writes ``docs/benchmarks/growth/growth_target_eb100_<setting>.txt`` (about 10 minutes on one thread).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from growth_target import SETTINGS  # this script's neighbour (run from the repository root)

import scam.core.spline as spline
from scam import settings
from scam.benchmark.suite import run_suite


def main() -> None:
    """Run one setting on the three ``eb100`` data sets and write the ratios."""
    name = sys.argv[1]
    eb100_dir = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/eb"
    spline.GROWTH_TARGET_SMOOTHING, spline.GROWTH_TARGET_SLOPES = SETTINGS[name]
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    df = run_suite(("eb100_20", "eb100_50", "eb100_100"), eb100_dir=eb100_dir)
    w1 = df[df["metric"] == "w1"].pivot_table(index=["data", "held_out"], columns="method", values="value")
    w1["ratio"] = w1["scam"] / w1["ot_midpoint"]
    lines = [f"setting {name}: GROWTH_TARGET_SMOOTHING, GROWTH_TARGET_SLOPES = {SETTINGS[name]}", ""]
    for data, part in w1.groupby(level="data"):
        per_time = ", ".join(f"{held}: {r:.3f}" for (_, held), r in part["ratio"].items())
        lines.append(
            f"{data}: ratio {part['ratio'].mean():.3f} (worst {part['ratio'].max():.3f}; {per_time}); "
            f"W1 {part['scam'].mean():.3f}, exact OT {part['ot_midpoint'].mean():.3f}"
        )
    lines += ["", f"total {time.perf_counter() - start:.0f} s"]
    out = Path(__file__).with_name(f"growth_target_eb100_{name}.txt")
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
