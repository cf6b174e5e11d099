"""Leave-one-timepoint-out ratio to exact OT of network variants of the default fit (width, steps, batch).

Run from the repository root: ``python docs/benchmarks/network/network.py eb5 eb100_50``.
"""

import logging
import sys
import time

from scam.benchmark.suite import markdown, ratios, run_suite

V = {"h128": {"hidden": (128, 128, 128)}, "it4k": {"n_iters": 4000}, "b1024": {"batch_size": 1024}}


def compare(variants, names, title, n_seeds=1, csv=None):
    """Print the suite's ratio table of the default fit and ``variants`` (name -> fit arguments) on ``names``.

    ``n_seeds`` seeds per fit; ``csv``: where to write the long table of every fold.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("scam").setLevel(logging.INFO)
    start = time.perf_counter()
    df = run_suite(names, variants=variants, n_jobs=2, n_seeds=n_seeds)
    if csv:  # the long table, for per-seed figures
        df.to_csv(csv, index=False)
    print(markdown(ratios(df), header=f"{title} ({time.perf_counter() - start:.0f} s)"))


if __name__ == "__main__":
    compare(V, sys.argv[1:] or ["eb5", "eb100_50"], "network variants")
