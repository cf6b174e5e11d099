"""Two fits with the same seed, at the same and at a different thread count: are they identical (the FAQ's answer).

Three default fits of `scam.datasets.branching` (`X_latent`, 100 steps, seed 0), each in a fresh process: two with
two threads, one with one. Run from the repository root (about half a minute)::

    python docs/benchmarks/threads/determinism.py > docs/benchmarks/threads/determinism.txt
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

FIT = """
import sys, numpy as np, scam
scam.settings.n_threads = int(sys.argv[1])
adata = scam.datasets.branching(random_state=0)
scam.tl.fit(adata, "day", use_rep="X_latent", n_iters=100, random_state=0, progress_bar=False)
np.savez(sys.argv[2], velocity=adata.obsm["scam_velocity"], growth=adata.obs["scam_growth"].to_numpy(),
         weight=adata.obs["scam_weight"].to_numpy())
"""

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, threads in (("two threads, run 1", 2), ("two threads, run 2", 2), ("one thread", 1)):
            path = Path(tmp) / f"{len(runs)}.npz"
            subprocess.run([sys.executable, "-c", FIT, str(threads), str(path)], check=True)
            runs[name] = dict(np.load(path))
    first, second, one = runs.values()
    for key in first:
        same = np.array_equal(first[key], second[key], equal_nan=True)
        diff = float(np.nanmax(np.abs(first[key] - one[key])))
        print(f"{key}: two threads twice bit-identical: {same}; two threads against one: max |difference| {diff:.2g}")
