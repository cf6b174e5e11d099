"""The learning-rate lead of ``lr.py`` over three seeds and at 100 PCs.

Run from the repository root: ``python docs/benchmarks/network/lr_seeds.py`` (seeds 0-2, two worker
processes with one torch thread each; output in ``lr_seeds.txt``, every fold in ``lr_seeds.csv``). The default
fit (here: 2,000 steps at lr 1e-3, the default until 357e00b) against 500 and 1,000 steps at a peak learning
rate of 5e-3 (500 steps at 5e-3 is the default since 357e00b, so rerunning it now compares that with itself).
"""

import sys

from network import compare

V = {
    "it1k_lr5e-3": {"n_iters": 1000, "lr": 5e-3},
    "it500_lr5e-3": {"n_iters": 500, "lr": 5e-3},
}

if __name__ == "__main__":
    names = sys.argv[1:] or ["eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"]
    compare(V, names, "learning rate and steps, seeds 0-2", n_seeds=3, csv="docs/benchmarks/network/lr_seeds.csv")
