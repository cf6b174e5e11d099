"""Where a default fit of many cells spends its time: cProfile of ``scam.tl.fit`` on the scale benchmark's data.

The data of ``scam benchmark scale`` (:func:`scam.datasets.gaussian_path`, 4 time points, 50 dimensions,
``N`` cells in all; default ``N = 100000``), 1,000 steps, after a small warm-up fit that pays torch's lazy
imports. Prints the wall time and the 35 most expensive calls by cumulative time. Run from the repository root,
alone on the machine::

    python docs/benchmarks/speed/profile_scale.py 100000
"""

import cProfile
import pstats
import sys
import time

from scam import datasets, tl


def main(n_cells: int) -> None:
    """Profile one default fit of ``n_cells`` cells."""
    adata = datasets.gaussian_path(n_cells=n_cells // 4, times=(0.0, 1.0, 2.0, 3.0), n_dims=50, random_state=0)
    tl.fit(adata[::50].copy(), "time", n_iters=5, progress_bar=False)  # torch's lazy imports, not timed
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.runcall(tl.fit, adata, "time", n_iters=1000, random_state=0, progress_bar=False)
    print(f"fit of {adata.n_obs:,} cells x 50 dims: {time.perf_counter() - start:.1f} s (under cProfile)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
