"""Where the push of a default fit leaves its training path: one fold of ``outside.py``'s ``eb100_30_uneven``.

Held out: day 3 (the kept days are 0, 1 and 4). One default fit (seed 0) on the kept days, and the path it trains
on rebuilt with γ = 0 (the bend ``curvature="auto"`` chooses there) and 20 chains per day-1 cell (:data:`POOL`).
The printout gives:

- the held-out W1 ratio to exact OT, total variance and top-5 covariance eigenvalues of: the held-out cells, the
  exact-OT interpolation, the path's chains at day 3, the push of day 1's cells, and the barycentre of the chains
  that start at each day-1 cell (the conditional mean the network's velocity is trained toward);
- the mean distance from the push of those start cells to their barycentres at five times between day 1 and 3,
  beside the barycentres' own displacement.

Run from the repository root: ``python docs/benchmarks/outside/push_gap.py`` (one thread, about 30 s; output in
``push_gap.txt``).
"""

import warnings

import numpy as np
import torch
from outside import load

import scam
from scam.core.metrics import wasserstein
from scam.core.spline import SplineInterpolant
from scam.lot.baselines import ot_midpoint

#: Chains of the rebuilt path: 20 per day-1 cell, so that each start cell's barycentre is close to its conditional mean
#: (the fit itself draws 2 per cell of the largest day).
POOL = 11000

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    scam.settings.n_threads = 1
    adata, key, rep = load("eb100_30_uneven")
    t = adata.obs[key].to_numpy(float)
    times = np.unique(t)
    k = 2
    X = np.asarray(adata.obsm[rep], dtype=np.float64)
    model = scam.tl.fit(adata[t != times[k]].copy(), key, use_rep=rep, random_state=0, progress_bar=False)
    x_prev, target = X[t == times[k - 1]], X[t == times[k]]
    push, weights = model.simulate(x_prev, times[k - 1], times[k], return_weights=True)
    mid, _ = ot_midpoint(x_prev, X[t == times[k + 1]], times[k - 1], times[k + 1], times[k])
    keep = [j for j in range(len(times)) if j != k]
    path = SplineInterpolant(curvature=0.0, growth=True, pool_size=POOL).fit(
        [torch.as_tensor(X[t == times[j]], dtype=torch.float32) for j in keep],
        times[keep],
        generator=torch.Generator().manual_seed(0),
    )
    i = k - 1
    y0, y1 = path.x[path.knots_idx[:, i]].double().numpy(), path.x[path.knots_idx[:, i + 1]].double().numpy()
    start, first = np.unique(path.knots_idx[:, i].numpy(), return_index=True)
    inverse = np.unique(path.knots_idx[:, i].numpy(), return_inverse=True)[1]
    cells = y0[first]

    def at(time):
        """The chains at ``time`` and each start cell's barycentre of them."""
        a = float((path.times[i + 1] - time) / (path.times[i + 1] - path.times[i]))
        chains = a * y0 + (1 - a) * y1
        bary = np.zeros((len(start), X.shape[1]))
        np.add.at(bary, inverse, chains)
        return chains, bary / np.bincount(inverse)[:, None]

    chains, bary = at(times[k])
    w_ot = wasserstein(mid, target, random_state=0)
    print(f"held out day {times[k]:g}; {len(x_prev)} cells at day {times[k - 1]:g}, {len(chains)} chains")
    print("| prediction | W1 ratio to exact OT | total variance | top-5 eigenvalues |")
    print("|---|---|---|---|")
    for name, y, w in (
        ("held-out cells", target, None),
        ("exact-OT interpolation", mid, None),
        ("path (chains)", chains, None),
        ("push of day-1 cells", push, weights),
        ("chain barycentre per start cell", bary, None),
    ):
        cov = np.cov(y.T)
        top = ", ".join(f"{v:.1f}" for v in np.linalg.eigvalsh(cov)[::-1][:5])
        ratio = wasserstein(y, target, x_weights=w, random_state=0) / w_ot
        print(f"| {name} | {ratio:.3f} | {np.trace(cov):.1f} | {top} |")
    print()
    print("| day | mean distance push - barycentre | barycentre's displacement | ratio |")
    print("|---|---|---|---|")
    for time in np.linspace(times[k - 1], times[k], 6)[1:]:
        _, bary_t = at(time)
        pushed = model.simulate(cells.astype(np.float32), times[k - 1], time)
        err = np.linalg.norm(pushed - bary_t, axis=1).mean()
        disp = np.linalg.norm(bary_t - cells, axis=1).mean()
        print(f"| {time:.1f} | {err:.2f} | {disp:.2f} | {err / disp:.2f} |")
