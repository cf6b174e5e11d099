"""A higher peak learning rate at the default 500 steps, over three seeds.

Run from the repository root: ``python docs/benchmarks/network/lr_high.py`` (seeds 0-2, two worker
processes with one torch thread each; output in ``lr_high.txt``, every fold in ``lr_high.csv``). The default
fit against peak learning rates of 7e-3 and 1e-2 at the same 500 steps.
"""

import sys

from network import compare

V = {
    "lr7e-3": {"lr": 7e-3},
    "lr1e-2": {"lr": 1e-2},
}

if __name__ == "__main__":
    names = sys.argv[1:] or ["eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"]
    compare(
        V, names, "peak learning rate at 500 steps, seeds 0-2", n_seeds=3, csv="docs/benchmarks/network/lr_high.csv"
    )
