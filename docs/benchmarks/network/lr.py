"""Leave-one-timepoint-out ratio to exact OT of the default fit's learning rate and step budget.

Run from the repository root: ``python docs/benchmarks/network/lr.py eb5 eb100_20 eb100_50 uneven`` (one seed,
two worker processes with one torch thread each; output in ``lr.txt``). The default fit against the same fit
with a higher peak learning rate of Adam (``lr``) and fewer steps (``n_iters``).
"""

import sys

from network import compare

V = {
    "lr3e-3": {"lr": 3e-3},
    "it1k_lr3e-3": {"n_iters": 1000, "lr": 3e-3},
    "it1k_lr5e-3": {"n_iters": 1000, "lr": 5e-3},
    "it500_lr5e-3": {"n_iters": 500, "lr": 5e-3},
}

if __name__ == "__main__":
    compare(V, sys.argv[1:] or ["eb5", "eb100_20", "eb100_50", "uneven"], "learning rate and steps")
