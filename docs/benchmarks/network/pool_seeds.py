"""``n_iters="auto"`` on the suite's 20-100-PC rows over three seeds.

Run from the repository root: ``python docs/benchmarks/network/pool_seeds.py`` (seeds 0-2, two workers with one torch
thread each; output in ``pool_seeds.txt``, every fold in ``pool_seeds.csv``). The earlier default over the same three
seeds is the ``scam`` row of ``lr_high.txt`` (500 steps, 2 chains per cell, made at f93f3de).
"""

import sys

from network import compare

if __name__ == "__main__":
    names = sys.argv[1:] or ["eb100_20", "eb100_50", "eb100_100"]
    compare(
        {},
        names,
        "n_iters='auto' from 20 dimensions on, seeds 0-2",
        n_seeds=3,
        csv="docs/benchmarks/network/pool_seeds.csv",
    )
