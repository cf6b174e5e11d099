"""Where the mass-carrying spline chains put the growth: with and without the transport shift (issue 11).

The chains' links are semi-relaxed plans (source marginal free). On the raw cost such a plan gives the cells
nearer the next snapshot more mass, so a population that moves as a whole looks as if its front grows and its
back dies. :func:`scam.core.couplings.transport_shift` shifts the source by the displacement that transport
explains before solving (``SplineInterpolant(growth=True, shift_drift=True)``; off by default, see
``attribution.md``). This script measures the chains alone (no network), for the shift off and on:

1. a 2-D Gaussian drifting without growth: std of the chains' log-weight change per link, and its correlation
   with the position along the drift (both should be ~0);
2. ``scam.datasets.branching`` (``X_latent``, true masses), seeds 0 and 1: the correlation, pooled over chains
   and links, of each link's log-weight change per day with the true growth of the link's first cell;
3. the chains' coherence: the correlation of the true growth at a link's first cell with the mean true growth
   of its two cells, i.e. what 2 would be if each link carried exactly the mean growth of the cells it joins
   (near 1: the chains join cells of like growth, and what 2 loses is the plans' attribution of the mass).

Run from the repository root (seconds)::

    OMP_NUM_THREADS=1 python docs/benchmarks/growth/attribution.py > docs/benchmarks/growth/attribution.txt
"""

import numpy as np
import torch

import scam
from scam.core import SplineInterpolant

torch.set_num_threads(1)


def _chains(marginals, times, masses, shift: bool, seed: int = 0):
    interp = SplineInterpolant(growth=True, shift_drift=shift).fit(
        [torch.as_tensor(m, dtype=torch.float32) for m in marginals],
        times,
        masses,
        generator=torch.Generator().manual_seed(seed),
    )
    slope = np.diff(interp.knots_logw.numpy(), axis=1) / np.diff(np.asarray(times, dtype=np.float64))
    return interp.knots_idx.numpy(), slope


def drift(shift: bool) -> tuple[float, float]:
    """A 2-D Gaussian drifting without growth: std of the chains' growth, and its correlation with the position."""
    rng = np.random.default_rng(0)
    times = [0.0, 1.0, 2.0, 3.0]
    marginals = [np.array([2.0 * t, 0.0]) + rng.standard_normal((300, 2)) for t in times]
    idx, slope = _chains(marginals, times, None, shift)
    x = np.concatenate(marginals)[idx[:, 0], 0]
    return float(slope.std()), float(np.corrcoef(slope[:, 0], x)[0, 1])


def branching(seed: int, shift: bool) -> tuple[float, float]:
    """Chains on ``scam.datasets.branching``: correlation of their growth with the truth, and their coherence."""
    adata = scam.datasets.branching(random_state=seed)
    days = np.sort(adata.obs["day"].unique())
    marginals = [adata.obsm["X_latent"][adata.obs["day"].to_numpy() == d] for d in days]
    growth = np.concatenate([adata.obs["growth"].to_numpy()[adata.obs["day"].to_numpy() == d] for d in days])
    idx, slope = _chains(marginals, list(days), list(adata.uns["ground_truth"]["masses"]), shift, seed)
    first = growth[idx[:, :-1]]
    corr = float(np.corrcoef(slope.ravel(), first.ravel())[0, 1])
    oracle = float(np.corrcoef(first.ravel(), (first + growth[idx[:, 1:]]).ravel())[0, 1])
    return corr, oracle


if __name__ == "__main__":
    print(
        "| chains | drift: growth std | drift: corr with position | branching seed 0: corr | seed 1: corr "
        "| coherence (seeds 0 / 1) |"
    )
    print("|---|---|---|---|---|---|")
    for shift in (False, True):
        std, corr = drift(shift)
        rows = [branching(s, shift) for s in (0, 1)]
        label = "shift_drift=True" if shift else "raw cost (default)"
        print(
            f"| {label} | {std:.3f} | {corr:.3f} | {rows[0][0]:.3f} | {rows[1][0]:.3f} "
            f"| {rows[0][1]:.3f} / {rows[1][1]:.3f} |"
        )
