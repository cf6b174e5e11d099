"""Profile one default fit of a leave-one-timepoint-out fold on the bundled EB data (time 2 held out), one thread.

Run from the repository root (nothing else busy)::

    python docs/benchmarks/speed/profile_fit.py > docs/benchmarks/speed/profile.txt
"""

import cProfile
import io
import pstats
import time

import torch

import scam

torch.set_num_threads(1)
scam.settings.n_threads = 1

if __name__ == "__main__":
    adata = scam.datasets.embryoid_body()
    fold = adata[adata.obs["time"].to_numpy() != 2].copy()
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    scam.tl.fit(fold, "time", progress_bar=False)
    profile.disable()
    print(f"fit: {time.perf_counter() - start:.1f} s; training facts: {fold.uns['scam']['training']}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
    print(out.getvalue())
