"""A *local* transport shift for the growth chains (issue 11): measured against the raw cost and the global shift.

``transport_shift`` (``SplineInterpolant(shift_drift=True)``) shifts a link's whole source minibatch by one vector;
on the unevenly spaced simulation that is the wrong model where branches diverge over a long interval
(``attribution.md``). Here each source cell gets its own shift: the barycentric displacement of its row of the
semi-relaxed plan (on the shifted cost, 3 fixed-point updates from 0), averaged over its ``k`` nearest source cells
weighted by their grown mass (the mass-weighted mean of that displacement is the global fixed point's
``ȳ − x̄_ρ``). The chains are rebuilt here in NumPy (their own random stream, so "raw" is comparable within this
script, not to ``attribution.txt``). Columns: a 2-D drift without growth (std of the chains' growth and its
correlation with the position; both should be 0); ``scam.datasets.branching`` seeds 0 and 1 (correlation of each
link's growth with the true growth of its first cell, pooled and per link); the suite's unevenly spaced simulation
with day 3 left out (the 1 -> 7 link last) and with all days. Mode ``coherent`` scales the global shift ``c``
by the share of the plan's displacement it explains, ``R² = |c|² / E_ρ|d|²`` (``d`` each source cell's barycentric
displacement on the shifted cost; ``coherent:2`` by ``R⁴``): a population that moves as a whole has ``R² ≈ 1``,
branches that diverge a small ``R²``.

Run (one thread each, about a minute per mode; output in ``local_shift.txt``)::

    for m in raw global "local 32" "local 128" coherent coherent:2; do
        OMP_NUM_THREADS=1 python -W ignore docs/benchmarks/growth/local_shift.py $m
    done > docs/benchmarks/growth/local_shift.txt
"""

import sys
import time

import numpy as np
import torch

import scam
from scam.core.couplings import relative_cost, semi_relaxed_plan, transport_shift
from scam.core.spline import CHAIN_EPSILON, CHAIN_REG_M

torch.set_num_threads(1)


def smooth(xa, disp, w, k):
    """Each cell's ``disp`` averaged over its ``k`` nearest cells of ``xa``, weighted by ``w``."""
    if k <= 1:
        return disp
    nearest = np.argsort(((xa[:, None] - xa[None]) ** 2).sum(-1), 1)[:, :k]
    weights = w[nearest]
    return (disp[nearest] * weights[..., None]).sum(1) / weights.sum(1, keepdims=True)


def shift_for(mode, xa, xb, a, b, k, n_iter=3):
    """The source shift of one link: none, global, scaled by ``R²`` (``coherent``) or per cell (``local``)."""
    if mode == "raw":
        return np.zeros_like(xa)
    if mode == "global":
        return np.broadcast_to(transport_shift(xa, xb, a, b, epsilon=CHAIN_EPSILON, reg_m=CHAIN_REG_M), xa.shape)
    if mode.startswith("coherent"):
        power = float(mode.split(":")[1]) if ":" in mode else 1.0
        c = transport_shift(xa, xb, a, b, epsilon=CHAIN_EPSILON, reg_m=CHAIN_REG_M)
        plan = semi_relaxed_plan(a, b, relative_cost(xa + c, xb), epsilon=CHAIN_EPSILON, reg_m=CHAIN_REG_M)
        mass = plan.sum(1)
        disp = (plan @ xb) / np.maximum(mass, 1e-300)[:, None] - xa
        r2 = min(1.0, float(c @ c) / float(np.average((disp**2).sum(1), weights=mass)))
        return np.broadcast_to(r2**power * c, xa.shape)
    shift = np.zeros_like(xa)
    for _ in range(n_iter):
        plan = semi_relaxed_plan(a, b, relative_cost(xa + shift, xb), epsilon=CHAIN_EPSILON, reg_m=CHAIN_REG_M)
        mass = plan.sum(1)
        barycentre = (plan @ xb) / np.maximum(mass, 1e-300)[:, None]
        shift = smooth(xa, barycentre - xa, mass, k)
    return shift


def chains(marginals, times, mode, k=32, seed=0, batch=512):
    """Mass-carrying chains as the spline's (NumPy): cell indices and each link's growth per unit time."""
    rng = np.random.default_rng(seed)
    sizes = [len(m) for m in marginals]
    b = min(batch, *sizes)
    idxs, slopes = [], []
    for _ in range(-(-2 * max(sizes) // b)):
        current = rng.choice(sizes[0], b, replace=False)
        logw = np.zeros(b)
        chain, lw = [current], [logw]
        for j in range(len(sizes) - 1):
            nxt = rng.choice(sizes[j + 1], b, replace=False)
            xa, xb = marginals[j][current], marginals[j + 1][nxt]
            a = np.exp(logw - logw.max())
            a /= a.sum()
            bb = np.full(b, 1 / b)
            shift = shift_for(mode, xa, xb, a, bb, k)
            plan = semi_relaxed_plan(a, bb, relative_cost(xa + shift, xb), epsilon=CHAIN_EPSILON, reg_m=CHAIN_REG_M)
            rho = plan.sum(1) / a
            rows = plan / np.maximum(plan.sum(1, keepdims=True), 1e-300)
            rows[rows.sum(1) <= 0] = 1.0 / b
            pick = np.array([rng.choice(b, p=r / r.sum()) for r in rows])
            logw = logw + np.log(np.maximum(rho, 1e-300))
            current = nxt[pick]
            chain.append(current)
            lw.append(logw)
        idxs.append(np.stack(chain, 1))
        slopes.append(np.diff(np.stack(lw, 1), axis=1) / np.diff(times))
    return np.concatenate(idxs), np.concatenate(slopes)


def drift(mode, k):
    """A 2-D Gaussian drifting without growth: std of the chains' growth and its correlation with the position."""
    rng = np.random.default_rng(0)
    times = [0.0, 1.0, 2.0, 3.0]
    marginals = [np.array([2.0 * t, 0.0]) + rng.standard_normal((300, 2)) for t in times]
    idx, slope = chains(marginals, times, mode, k)
    return slope.std(), np.corrcoef(slope[:, 0], marginals[0][idx[:, 0], 0])[0, 1]


def branching(seed, mode, k, days_keep=None, uneven=False):
    """Correlation of the chains' growth with the truth at each link's first cell: pooled, and per link."""
    if uneven:
        from scam.benchmark.suite import load

        adata, key, rep = load("uneven", random_state=seed)
    else:
        adata, key, rep = scam.datasets.branching(random_state=seed), "day", "X_latent"
    days = np.sort(adata.obs[key].unique())
    if days_keep is not None:
        days = days[days_keep]
    day = adata.obs[key].to_numpy()
    marginals = [np.asarray(adata.obsm[rep][day == t], dtype=np.float64) for t in days]
    truth = [adata.obs["growth"].to_numpy()[day == t] for t in days]
    idx, slope = chains(marginals, list(days), mode, k, seed=seed)
    first = np.stack([truth[j][idx[:, j]] for j in range(len(days) - 1)], 1)
    per_link = [np.corrcoef(slope[:, j], first[:, j])[0, 1] for j in range(len(days) - 1)]
    return np.corrcoef(slope.ravel(), first.ravel())[0, 1], per_link


if __name__ == "__main__":
    mode = sys.argv[1]
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    t0 = time.time()
    std, corr = drift(mode, k)
    print(mode, k, f"drift std/corr {std:.3f} {corr:.3f}")
    for s in (0, 1):
        c, links = branching(s, mode, k)
        print(f"  branching seed {s}: {c:.3f}  per link " + " ".join(f"{v:.2f}" for v in links))
    c, links = branching(0, mode, k, days_keep=[0, 1, 2, 4], uneven=True)
    print(f"  uneven (3 held out): {c:.3f} per link " + " ".join(f"{v:.2f}" for v in links))
    c, links = branching(0, mode, k, uneven=True)
    print(f"  uneven (all): {c:.3f} per link " + " ".join(f"{v:.2f}" for v in links))
    print(f"  {time.time() - t0:.0f} s")
