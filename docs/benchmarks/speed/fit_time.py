"""Time the default fit of the bundled EB data with the solver and read-out settings before and after a change.

``before``: the growth chains' semi-relaxed plans at POT's tolerance 1e-6 and the read-out weights by 100 Euler
steps; ``after``: today's defaults (tolerance ``SEMI_RELAXED_STOP_THR``, ``READOUT_STEPS`` RK4 steps). The two
alternate in one process (after a warm-up fit), so both see the same machine. Run alone, from the repository
root::

    python docs/benchmarks/speed/fit_time.py [THREADS] > docs/benchmarks/speed/fit_time.txt
"""

import sys
import time

import numpy as np
import torch

import scam
import scam.core.couplings as couplings
import scam.tl._fit as fit_module

SETTINGS = {
    "before": (1e-6, "euler", 100),
    "after": (couplings.SEMI_RELAXED_STOP_THR, fit_module.READOUT_METHOD, fit_module.READOUT_STEPS),
}

if __name__ == "__main__":
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    scam.settings.n_threads = threads
    adata = scam.datasets.embryoid_body()
    scam.tl.fit(adata.copy(), "day", n_iters=50, progress_bar=False)  # warm-up: imports, first allocations
    seconds = {name: [] for name in SETTINGS}
    for name in ["before", "after"] * 2:
        couplings.SEMI_RELAXED_STOP_THR, fit_module.READOUT_METHOD, fit_module.READOUT_STEPS = SETTINGS[name]
        a = adata.copy()
        start = time.perf_counter()
        scam.tl.fit(a, "day", progress_bar=False)
        seconds[name].append(time.perf_counter() - start)
        print(
            f"{name}: {seconds[name][-1]:.1f} s, learned masses {np.round(a.uns['scam']['learned_masses'], 4)}",
            flush=True,
        )
    print(f"{threads} thread(s): " + ", ".join(f"{k} {np.mean(v):.1f} s" for k, v in seconds.items()))
