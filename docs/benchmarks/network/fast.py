"""Cheaper training steps for issue 14 (EB fold <= 10 s), against the default on the suite's data sets.

Narrower or shallower networks, smaller batches, fewer steps, no validation split; ratio to exact OT.

Run from the repository root: ``python docs/benchmarks/network/fast.py`` (seed 0, two worker processes with one
torch thread each; output in ``fast.txt``, every fold in ``fast.csv``).
"""

import sys

from network import compare

V = {
    "h192": {"hidden": (192, 192, 192)},
    "h128": {"hidden": (128, 128, 128)},
    "h256x2": {"hidden": (256, 256)},
    "b256": {"batch_size": 256},
    "it300": {"n_iters": 300},
    "noval": {"validation": False},
}

if __name__ == "__main__":
    names = sys.argv[1:] or ["eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"]
    compare(V, names, "cheaper steps, seed 0", n_seeds=1, csv="docs/benchmarks/network/fast.csv")
