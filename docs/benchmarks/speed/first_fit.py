"""The first fit in a fresh process against the second: what a user's first `scam.tl.fit` pays once.

Three fresh processes, one after the other: ``import torch._dynamo`` alone (after ``import torch``); ``import ot``
(POT) alone; and two default fits of the bundled EB data in one process, timed apart, with whether
``torch._dynamo`` was imported by then. Run from the repository root (about a minute)::

    python docs/benchmarks/speed/first_fit.py >> docs/benchmarks/speed/first_fit.txt
"""

import subprocess
import sys

IMPORT = "import time, torch; t = time.perf_counter(); import {0}; print(f'{{time.perf_counter() - t:.2f}}')"
FITS = """
import sys, time
import scam, torch
adata = scam.datasets.embryoid_body()
for i in range(2):
    a = adata.copy(); t = time.perf_counter()
    scam.tl.fit(a, time_key="time", progress_bar=False)
    print(f"{time.perf_counter() - t:.2f}")
print("torch._dynamo" in sys.modules, scam.settings.n_threads, torch.__version__)
"""


def run(code: str) -> list[str]:
    """Run ``code`` in a fresh Python process; its printed words."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


if __name__ == "__main__":
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dynamo, pot = run(IMPORT.format("torch._dynamo"))[0], run(IMPORT.format("ot"))[0]
    first, second, loaded, threads, version = run(FITS)
    print(f"commit {commit} (working tree as run), torch {version}, {threads} thread(s)")
    print(f"  import torch._dynamo alone: {dynamo} s; import ot (POT) alone: {pot} s")
    print(f"  default EB fit: first in the process {first} s, second {second} s; torch._dynamo imported: {loaded}")
