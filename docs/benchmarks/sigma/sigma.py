r"""σ of the default fit: leave-one-timepoint-out W1 ratio to the exact-OT interpolation, per σ.

Run from the repository root (one thread per worker; nothing else busy)::

    OMP_NUM_THREADS=1 python docs/benchmarks/sigma/sigma.py --datasets eb5 uneven eb100_20 \
        --out docs/benchmarks/sigma/sigma.md
"""

import argparse
import logging
import time

from scam.benchmark.suite import markdown, ratios, run_suite

VARIANTS = {
    "sigma=0.3 stein": {"sigma": 0.3},
    "sigma=1 stein": {"sigma": 1.0},
}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--datasets", nargs="+", default=["eb5", "uneven", "eb100_20"])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("scam").setLevel(logging.INFO)
    start = time.perf_counter()
    df = run_suite(args.datasets, variants={v: VARIANTS[v] for v in args.variants}, n_jobs=args.n_jobs)
    text = markdown(ratios(df), header=f"σ variants, 1 seed ({time.perf_counter() - start:.0f} s in all)")
    print(text)
    if args.out:
        open(args.out, "w").write(text)
