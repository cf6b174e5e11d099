"""Growth recovery of the default fit for settings of the mass-carrying spline chains (issue 11).

The chains' links are semi-relaxed entropic plans (``scam.core.spline.CHAIN_EPSILON`` relative to the mean
cost, ``CHAIN_REG_M`` = (source, target) marginal relaxations). For each setting this runs
:func:`scam.benchmark.suite.growth_rows` (the default fit on ``scam.datasets.branching`` with its true masses,
and with ``masses="counts"`` on a copy whose cell counts follow the mass). Run from the repository root::

    OMP_NUM_THREADS=1 python docs/benchmarks/growth/chain_settings.py > docs/benchmarks/growth/chain_settings.txt
"""

import sys
import time

import torch

import scam.core.spline as spline
from scam.benchmark.suite import growth_rows

torch.set_num_threads(1)
SETTINGS = [(0.01, (3.0, 50.0)), (0.05, (3.0, 50.0)), (0.01, (1.0, 50.0)), (0.01, (10.0, 50.0))]

if __name__ == "__main__":
    which = [int(a) for a in sys.argv[1:]] or range(len(SETTINGS))
    print("| CHAIN_EPSILON | CHAIN_REG_M | corr (true masses) | mass error | corr (counts) | mass error | s |")
    print("|---|---|---|---|---|---|---|")
    for i in which:
        spline.CHAIN_EPSILON, spline.CHAIN_REG_M = SETTINGS[i]
        start = time.perf_counter()
        true, counts = growth_rows().to_dict("records")
        print(
            f"| {SETTINGS[i][0]} | {SETTINGS[i][1]} | {true['growth_corr']:.3f} | {true['mass_error']:.3f} "
            f"| {counts['growth_corr']:.3f} | {counts['mass_error']:.3f} | {time.perf_counter() - start:.0f} |",
            flush=True,
        )
