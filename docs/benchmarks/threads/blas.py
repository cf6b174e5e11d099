"""The spline path of the default EB fit with NumPy's BLAS at one thread and at two (torch at the same count).

The chains' semi-relaxed plans run in NumPy (matrix-vector products of 512 x 512), so NumPy's BLAS threads are the
only ones scam did not set before `scam._settings.torch_threads` capped them too. Run from the repository root
(about a minute)::

    python docs/benchmarks/threads/blas.py
"""

import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import scam
from scam.core import SplineInterpolant


def spline_seconds(marginals, times) -> float:
    """Seconds of one default spline path (growth chains, automatic bend and σ) on the snapshots."""
    start = time.perf_counter()
    SplineInterpolant(sigma="auto", growth=True).fit(marginals, times, None, generator=torch.Generator().manual_seed(0))
    return time.perf_counter() - start


if __name__ == "__main__":
    adata = scam.datasets.embryoid_body()
    X, t = adata.obsm["X_pca"].astype(np.float32), adata.obs["time"].to_numpy()
    times = sorted(np.unique(t))
    marginals = [torch.as_tensor(X[t == v]) for v in times]
    blas = [(lib["internal_api"], lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]
    print(f"NumPy/SciPy BLAS as loaded: {blas}; torch {torch.__version__}")
    for n in (1, 2):
        torch.set_num_threads(n)
        for blas_threads in (1, 2):
            with threadpool_limits(limits=blas_threads, user_api="blas"):
                spline_seconds(marginals, times)  # warm
                runs = [spline_seconds(marginals, times) for _ in range(3)]
            print(f"torch {n} thread(s), BLAS {blas_threads}: " + ", ".join(f"{s:.2f}" for s in runs) + " s")
