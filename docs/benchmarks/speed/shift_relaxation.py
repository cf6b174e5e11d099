"""The transport shift's plans with POT's iteration against the chains' over-relaxed one (ω = 1.5).

On each link of :func:`scam.datasets.branching` (seed 0, its latent representation), 384 cells of one day
against 384 of the next (the chains' minibatch): :func:`scam.core.couplings.transport_shift` with the chains'
settings, ``relaxation=1.0`` (POT) and ``relaxation=CHAIN_RELAXATION``. Prints the seconds (best of 3, one
thread) and the largest difference of the two shifts relative to the shift's length. Run from the
repository root::

    python docs/benchmarks/speed/shift_relaxation.py
"""

import time

import numpy as np
import torch

import scam
from scam.core.couplings import transport_shift
from scam.core.spline import CHAIN_EPSILON, CHAIN_REG_M, CHAIN_RELAXATION

torch.set_num_threads(1)


def main() -> None:
    """Time both iterations on every link."""
    adata = scam.datasets.branching(random_state=0)
    day = adata.obs["day"].to_numpy().astype(float)
    days = np.unique(day)
    rng = np.random.default_rng(0)
    x = adata.obsm["X_latent"].astype(np.float64)
    uniform = np.full(384, 1.0 / 384)
    total = {1.0: 0.0, CHAIN_RELAXATION: 0.0}
    for d0, d1 in zip(days[:-1], days[1:], strict=True):
        xa = x[rng.choice(np.flatnonzero(day == d0), 384, replace=False)]
        xb = x[rng.choice(np.flatnonzero(day == d1), 384, replace=False)]
        shifts = {}
        for omega in total:
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                shifts[omega] = transport_shift(
                    xa, xb, uniform, uniform, epsilon=CHAIN_EPSILON, reg_m=CHAIN_REG_M, relaxation=omega
                )
                best = min(best, time.perf_counter() - start)
            total[omega] += best
        gap = np.abs(shifts[1.0] - shifts[CHAIN_RELAXATION]).max() / np.linalg.norm(shifts[1.0])
        print(f"day {d0:g} -> {d1:g}: shift difference {gap:.1e} of its length", flush=True)
    print(
        f"all links: POT {total[1.0]:.3f} s, over-relaxed {total[CHAIN_RELAXATION]:.3f} s "
        f"({total[1.0] / total[CHAIN_RELAXATION]:.1f}x)"
    )


if __name__ == "__main__":
    main()
