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
with day 3 left out (the 1 -> 7 link last) and with all days.

Run (one thread each, about a minute per mode; output in ``local_shift.txt``)::

    for m in "raw" "global" "local 32" "local 128"; do OMP_NUM_THREADS=1 python docs/benchmarks/growth/local_shift.py $m; done
"""
import sys, time
import numpy as np, torch
import scam
from scam.core.couplings import semi_relaxed_plan, relative_cost, transport_shift
from scam.core.spline import CHAIN_EPSILON as EPS, CHAIN_REG_M as RM
torch.set_num_threads(1)

def smooth(xa, disp, w, k):
    if k <= 1: return disp
    d2 = ((xa[:, None] - xa[None]) ** 2).sum(-1)
    nn = np.argsort(d2, 1)[:, :k]
    ww = w[nn]
    return (disp[nn] * ww[..., None]).sum(1) / ww.sum(1, keepdims=True)

def shift_for(mode, xa, xb, a, b, k, n_iter):
    if mode == "raw": return np.zeros_like(xa)
    if mode == "global":
        return np.broadcast_to(transport_shift(xa, xb, a, b, epsilon=EPS, reg_m=RM), xa.shape)
    sh = np.zeros_like(xa)
    if mode == "local_g":  # start from the global fixed point
        sh = np.broadcast_to(transport_shift(xa, xb, a, b, epsilon=EPS, reg_m=RM), xa.shape).copy()
    for _ in range(n_iter):
        P = semi_relaxed_plan(a, b, relative_cost(xa + sh, xb), epsilon=EPS, reg_m=RM)
        m = P.sum(1)
        bary = (P @ xb) / np.maximum(m, 1e-300)[:, None]
        sh = smooth(xa, bary - xa, m, k)
    return sh

def chains(marginals, times, masses, mode, k=32, n_iter=3, seed=0, batch=512, target=None):
    rng = np.random.default_rng(seed)
    sizes = [len(m) for m in marginals]
    b = min(batch, *sizes)
    target = target or 2 * max(sizes)
    idxs, slopes = [], []
    for _ in range(-(-target // b)):
        cur = rng.choice(sizes[0], b, replace=False)
        logw = np.zeros(b); chain = [cur]; lw = [logw]
        for kk in range(len(sizes) - 1):
            nxt = rng.choice(sizes[kk + 1], b, replace=False)
            xa, xb = marginals[kk][cur], marginals[kk + 1][nxt]
            a = np.exp(logw - logw.max()); a /= a.sum(); bb = np.full(b, 1 / b)
            sh = shift_for(mode, xa, xb, a, bb, k, n_iter)
            P = semi_relaxed_plan(a, bb, relative_cost(xa + sh, xb), epsilon=EPS, reg_m=RM)
            rho = P.sum(1) / a
            rows = P / np.maximum(P.sum(1, keepdims=True), 1e-300)
            rows[rows.sum(1) <= 0] = 1.0 / b
            pick = np.array([rng.choice(b, p=r / r.sum()) for r in rows])
            logw = logw + np.log(np.maximum(rho, 1e-300))
            cur = nxt[pick]; chain.append(cur); lw.append(logw)
        idxs.append(np.stack(chain, 1)); slopes.append(np.diff(np.stack(lw, 1), axis=1) / np.diff(times))
    return np.concatenate(idxs), np.concatenate(slopes)

def drift(mode, **kw):
    rng = np.random.default_rng(0)
    times = [0.0, 1.0, 2.0, 3.0]
    marg = [np.array([2.0 * t, 0.0]) + rng.standard_normal((300, 2)) for t in times]
    idx, slope = chains(marg, times, None, mode, **kw)
    off = np.cumsum([0] + [len(m) for m in marg])
    x = marg[0][idx[:, 0], 0]
    return slope.std(), np.corrcoef(slope[:, 0], x)[0, 1]

def branching(seed, mode, days_keep=None, uneven=False, **kw):
    if uneven:
        from scam.benchmark.suite import load
        adata, tk, rep = load("uneven", random_state=seed)
        X = adata.obsm[rep]
    else:
        adata = scam.datasets.branching(random_state=seed); tk = "day"; X = adata.obsm["X_latent"]
    days = np.sort(adata.obs[tk].unique())
    if days_keep is not None: days = days[days_keep]
    d = adata.obs[tk].to_numpy()
    marg = [np.asarray(X[d == t], dtype=np.float64) for t in days]
    gr = [adata.obs["growth"].to_numpy()[d == t] for t in days]
    idx, slope = chains(marg, list(days), None, mode, seed=seed, **kw)
    first = np.stack([gr[k][idx[:, k]] for k in range(len(days) - 1)], 1)
    per_link = [np.corrcoef(slope[:, k], first[:, k])[0, 1] for k in range(len(days) - 1)]
    return np.corrcoef(slope.ravel(), first.ravel())[0, 1], per_link

if __name__ == "__main__":
    mode = sys.argv[1]; k = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    t0 = time.time()
    print(mode, k, "drift std/corr %.3f %.3f" % drift(mode, k=k))
    for s in (0, 1):
        c, pl = branching(s, mode, k=k)
        print(f"  branching seed {s}: {c:.3f}  per link " + " ".join(f"{v:.2f}" for v in pl))
    c, pl = branching(0, mode, days_keep=[0, 1, 2, 4], uneven=True, k=k)
    print(f"  uneven (3 held out): {c:.3f} per link " + " ".join(f"{v:.2f}" for v in pl))
    c, pl = branching(0, mode, uneven=True, k=k)
    print(f"  uneven (all): {c:.3f} per link " + " ".join(f"{v:.2f}" for v in pl))
    print("  %.0f s" % (time.time() - t0))
