"""Leave-one-timepoint-out ratio to exact OT with and without the action's quadratic term, in one run.

The default fit with the full term (``quadratic="full"``, rows ``scam``; what ``"auto"`` gives from 20
to 128 dimensions) against the MLP alone (``quadratic="none"``, rows ``no_quadratic``: the action
before this term, and what ``"auto"`` gives below 20 dimensions) on the suite's data sets, 1,000
steps per fit (the suite's quick mode), one seed, two worker processes with one torch thread each.
Run from the repository root: ``python docs/benchmarks/network/quadratic.py [data sets]``.
"""

import sys
import time

import scanpy as sc

import scam
from scam.benchmark.suite import DATASETS, markdown, ratios, run_suite

sc.settings.verbosity = 3  # scam's progress lines
scam.settings.n_threads = 1
start = time.perf_counter()
df = run_suite(
    sys.argv[1:] or list(DATASETS),
    fit_kwargs={"n_iters": 1000, "quadratic": "full"},
    variants={"no_quadratic": {"quadratic": "none"}},
    eb100_dir="../shared/data/eb",
    n_jobs=2,
)
print(markdown(ratios(df), header=f"quadratic term ({time.perf_counter() - start:.0f} s)"))
