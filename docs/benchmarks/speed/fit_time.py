"""Time the default fit of the bundled EB data with earlier solver and read-out settings and with today's.

``1e-6 / euler 100``: the growth chains' semi-relaxed plans at POT's tolerance 1e-6 and the read-out weights by
100 Euler steps per interval; ``1e-4 / rk4 10``: tolerance ``SEMI_RELAXED_STOP_THR`` and 10 RK4 steps per interval;
``today``: the defaults (RK4 with the steps chosen per interval by step doubling, ``scam.tl._fit._weight_steps``).
The settings alternate in one process (after a warm-up fit), so all see the same machine. Run alone, from the
repository root::

    python docs/benchmarks/speed/fit_time.py [THREADS] > docs/benchmarks/speed/fit_time.txt
"""

import sys
import time

import numpy as np
import torch

import scam
import scam.core.couplings as couplings
import scam.tl._fit as fit_module

TODAY = (
    couplings.SEMI_RELAXED_STOP_THR,
    fit_module.READOUT_METHOD,
    fit_module.READOUT_MIN_STEPS,
    fit_module.READOUT_MAX_STEPS,
)
#: (chains' stopping threshold, read-out scheme, least and most read-out steps per interval)
SETTINGS = {
    "1e-6 / euler 100": (1e-6, "euler", 100, 100),
    "1e-4 / rk4 10": (1e-4, "rk4", 10, 10),
    "today": TODAY,
}


def use(setting):
    """Set the module constants of one setting."""
    (
        couplings.SEMI_RELAXED_STOP_THR,
        fit_module.READOUT_METHOD,
        fit_module.READOUT_MIN_STEPS,
        fit_module.READOUT_MAX_STEPS,
    ) = setting


if __name__ == "__main__":
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    scam.settings.n_threads = threads
    adata = scam.datasets.embryoid_body()
    scam.tl.fit(adata.copy(), "day", n_iters=50, progress_bar=False)  # warm-up: imports, first allocations
    seconds = {name: [] for name in SETTINGS}
    for name in list(SETTINGS) * 2:
        use(SETTINGS[name])
        a = adata.copy()
        start = time.perf_counter()
        scam.tl.fit(a, "day", progress_bar=False)
        seconds[name].append(time.perf_counter() - start)
        steps = a.uns["scam"]["training"]["weight_steps"].tolist()
        print(
            f"{name}: {seconds[name][-1]:.1f} s, weight steps {steps}, "
            f"learned masses {np.round(a.uns['scam']['learned_masses'], 4)}",
            flush=True,
        )
    print(f"{threads} thread(s): " + ", ".join(f"{k} {np.mean(v):.1f} s" for k, v in seconds.items()))
