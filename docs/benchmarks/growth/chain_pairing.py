"""How the growth chains pair cells: the source relaxation of their plans, with and without the transport shift.

Three settings of the mass-carrying spline chains (module constants of :mod:`scam.core.spline`, set here before
any fit):

* ``before``: ``CHAIN_REG_M = (3, 50)``, no shift (the default until b37ad57);
* ``relax1``: ``CHAIN_REG_M = (1, 50)``, no shift;
* ``default``: ``CHAIN_REG_M = (1, 50)``, ``shift_drift="auto"`` (the default since b37ad57).

"No shift" forces the answer of the automatic check to False; the check draws from its own stream, so the fit is
the one with ``shift_drift=False``, draw for draw.

Measured per setting: the default fit of :func:`scam.datasets.branching` (data and fit seeds 0-2, 400 cells a day,
``X_latent``, true masses): the correlation of ``obs["scam_growth"]`` with the true growth, the fate accuracy from
every earlier day to day 4 (as ``scam benchmark growth``) and the seconds per fit; then the suite's ``eb5`` and
``uneven`` rows (LOT ratio to the exact-OT interpolation, fit seeds 0-2: one seed moves the uneven course's
ratio by about 0.02).

Usage (from the repository root, one process per setting, one torch thread each)::

    python docs/benchmarks/growth/chain_pairing.py before
    python docs/benchmarks/growth/chain_pairing.py relax1
    python docs/benchmarks/growth/chain_pairing.py default

Each writes ``docs/benchmarks/growth/chain_pairing_<setting>.txt``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

import scam
import scam.core.spline as spline
from scam import settings, tl
from scam.benchmark.growth import _fate_accuracy
from scam.benchmark.suite import ratios, run_suite
from scam.datasets import branching_rates

SETTINGS = {"before": ((3.0, 50.0), False), "relax1": ((1.0, 50.0), False), "default": ((1.0, 50.0), True)}


def main() -> None:
    """Run one setting and write its table."""
    name = sys.argv[1]
    reg_m, shift = SETTINGS[name]
    spline.CHAIN_REG_M = reg_m
    if not shift:
        spline.SplineInterpolant._choose_shift = lambda self, gamma: False
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    lines = [f"setting {name}: CHAIN_REG_M = {reg_m}, shift {'auto' if shift else 'off'}", ""]
    lines.append("branching seed | growth corr | fate accuracy | s / fit")
    corr, fates = [], []
    for seed in (0, 1, 2):
        adata = scam.datasets.branching(random_state=seed)
        masses = list(adata.uns["ground_truth"]["masses"])
        start = time.perf_counter()
        model = tl.fit(adata, "day", use_rep="X_latent", masses=masses, random_state=seed, progress_bar=False)
        seconds = time.perf_counter() - start
        birth, death = branching_rates(adata.obsm["X_latent"])
        corr.append(float(np.corrcoef(adata.obs["scam_growth"].to_numpy(), birth - death)[0, 1]))
        fates.append(_fate_accuracy(adata, model, seed))
        lines.append(f"{seed} | {corr[-1]:.3f} | {fates[-1]:.3f} | {seconds:.1f}")
        print(lines[-1], flush=True)
    lines.append(f"mean | {np.mean(corr):.3f} | {np.mean(fates):.3f} |")
    lines.append("")
    write_with_suite(lines, f"chain_pairing_{name}.txt")


def write_with_suite(lines: list[str], filename: str) -> None:
    """Append the suite's ``eb5`` and ``uneven`` rows (fit seeds 0-2) to ``lines``; print and write them here."""
    table = ratios(run_suite(["eb5", "uneven"], n_seeds=3, n_jobs=1))
    for _, row in table.iterrows():
        lines.append(
            f"{row['data']}: ratio {row['ratio']:.3f} (worst {row['worst_ratio']:.3f}; {row['per_time']}), "
            f"{row['fit_seconds']:.1f} s / fold"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (Path(__file__).parent / filename).write_text(text)


if __name__ == "__main__":
    main()
