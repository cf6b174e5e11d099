"""The cheaper settings of ``fast.py`` that kept the ratios, over three seeds, with the over-relaxed chain plans.

Run from the repository root: ``python docs/benchmarks/network/fast_seeds.py`` (seeds 0-2, two worker processes
with one torch thread each; output in ``fast_seeds.txt``, every fold in ``fast_seeds.csv``). ``scam`` is the
default fit of the commit it runs at.
"""

import sys

from network import compare

V = {
    "noval": {"validation": False},
    "h192_noval": {"hidden": (192, 192, 192), "validation": False},
}

if __name__ == "__main__":
    names = sys.argv[1:] or ["eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"]
    compare(V, names, "cheaper steps, seeds 0-2", n_seeds=3, csv="docs/benchmarks/network/fast_seeds.csv")
