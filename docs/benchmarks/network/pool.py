"""``n_iters="auto"`` from 20 dimensions on (2,000 steps, 16 chains per cell) against the earlier default there.

Run from the repository root: ``python docs/benchmarks/network/pool.py`` (one seed, two workers with one torch
thread each; output in ``pool.txt``, every fold in ``pool.csv``). ``before`` is the default until this change: 500
steps and the spline path's own pool of 2 chains per cell of the largest time point. Below 20 dimensions the two
are the same fit, so only the suite's 20-100-PC rows are run.
"""

import sys

from network import compare

from scam.core import SplineInterpolant

V = {"before": {"n_iters": 500, "interpolant": SplineInterpolant(sigma="auto", growth=True)}}

if __name__ == "__main__":
    names = sys.argv[1:] or ["eb100_20", "eb100_50", "eb100_100"]
    compare(V, names, "n_iters='auto' from 20 dimensions on", csv="docs/benchmarks/network/pool.csv")
