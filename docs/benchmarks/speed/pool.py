"""Leave-one-timepoint-out ratio to exact OT and fold time with fewer couplings in the path's pool.

The path draws ``POOL_PER_CELL`` chains (or pairs) per cell of the larger snapshot
(``scam.core.paths.POOL_PER_CELL``); on the spline path with growth each chain costs its share of the
semi-relaxed plans, the largest part of a fit after training. Run from the repository root, one process per
setting side by side (each runs its folds in-process, one torch thread)::

    python docs/benchmarks/speed/pool.py 2 > /tmp/pool2.txt & python docs/benchmarks/speed/pool.py 1 > /tmp/pool1.txt
"""

import sys
import time

import torch

import scam
import scam.core.paths as paths
from scam.benchmark.suite import markdown, ratios, run_suite

if __name__ == "__main__":
    factor = float(sys.argv[1])
    names = sys.argv[2:] or ["eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"]
    torch.set_num_threads(1)
    scam.settings.n_threads = 1
    paths.POOL_PER_CELL = factor  # read when each fold's path is fitted, here in this process (n_jobs=1)
    start = time.perf_counter()
    df = run_suite(names, n_jobs=1)
    print(markdown(ratios(df), header=f"pool of {factor:g} per cell ({time.perf_counter() - start:.0f} s)"))
