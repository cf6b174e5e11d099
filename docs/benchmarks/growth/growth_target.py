"""The growth head's target apart from the path: link growth averaged over nearby cells, local slopes.

Settings of :data:`scam.core.spline.GROWTH_TARGET_SMOOTHING` and :data:`~scam.core.spline.GROWTH_TARGET_SLOPES`
(module constants, set here before any fit):

* ``default``: (0, ``"spline"``), the default fit;
* ``local``: (0, ``"local"``);
* ``smooth``: (0.125, ``"spline"``);
* ``smooth_local``: (0.125, ``"local"``);
* ``smooth_local_25``: (0.25, ``"local"``).

Measured: the default row of ``scam benchmark growth`` on seeds 0-2 (growth correlation, held-out mass error,
learned-mass error, fate accuracy), then the suite's ``eb5`` and ``uneven`` rows (LOT ratio to exact OT, fit seeds
0-2).

Usage (from the repository root, one process per setting)::

    python docs/benchmarks/growth/growth_target.py smooth_local

Each writes ``docs/benchmarks/growth/growth_target_<setting>.txt``.
"""

from __future__ import annotations

import sys
import warnings

from chain_pairing import write_with_suite  # this script's neighbour (run from the repository root)

import scam.core.spline as spline
from scam import settings
from scam.benchmark.growth import DEFAULT_METHOD, run_growth

SETTINGS = {
    "default": (0.0, "spline"),
    "local": (0.0, "local"),
    "smooth": (0.125, "spline"),
    "smooth_local": (0.125, "local"),
    "smooth_local_25": (0.25, "local"),
}


def main() -> None:
    """Run one setting and write its table."""
    name = sys.argv[1]
    spline.GROWTH_TARGET_SMOOTHING, spline.GROWTH_TARGET_SLOPES = SETTINGS[name]
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    lines = [f"setting {name}: GROWTH_TARGET_SMOOTHING, GROWTH_TARGET_SLOPES = {SETTINGS[name]}", ""]
    df, _ = run_growth(seeds=(0, 1, 2), methods=[DEFAULT_METHOD], progress=True)
    means = df.groupby("metric")["value"].mean()
    lines.append(
        "branching, seeds 0-2 (scam benchmark growth's default row): "
        + ", ".join(f"{m} {means[m]:.3f}" for m in ("growth_corr", "mass_error", "learned_mass_error", "fate_accuracy"))
        + f", {df['seconds'].mean():.0f} s per seed"
    )
    lines.append("")
    write_with_suite(lines, f"growth_target_{name}.txt")


if __name__ == "__main__":
    main()
