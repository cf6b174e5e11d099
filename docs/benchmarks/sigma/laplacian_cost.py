"""Cost of the σ²/2·Δs term per training step: none (σ = 0), exact, Hutchinson, and the Laplacian-free Stein estimate.

Times 300 steps of the default action network (3x256) on the spline path of the bundled EB data
(5 PCs) and of 50-D Gaussian snapshots, one torch thread. Run from the repository root::

    python docs/benchmarks/sigma/laplacian_cost.py
"""

import time

import numpy as np
import torch

from scam import datasets
from scam.core import ActionNet, TrainConfig, get_interpolant, train_action

torch.set_num_threads(1)


def snapshots(name):
    """Snapshots of the bundled EB data (standardised) or of shifted 50-D Gaussians."""
    if name == "eb5":
        a = datasets.embryoid_body()
        X, t = a.obsm["X_pca"], a.obs["time"].to_numpy()
        X = (X - X.mean(0)) / X.std()
        return [torch.tensor(X[t == v], dtype=torch.float32) for v in np.unique(t)]
    rng = np.random.default_rng(0)
    return [torch.tensor(rng.normal(size=(2000, 50)) + k, dtype=torch.float32) for k in range(5)]


rows = []
for data in ("eb5", "gauss50"):
    marg = snapshots(data)
    times = np.linspace(0, 1, len(marg))
    for label, sigma, method in (
        ("σ = 0", 0.0, "auto"),
        ("exact", 0.5, "exact"),
        ("hutchinson", 0.5, "hutchinson"),
        ("stein", 0.5, "stein"),
    ):
        gen = torch.Generator().manual_seed(0)
        interp = get_interpolant("spline", sigma=sigma, curvature=0.5).fit(marg, times, generator=gen)
        torch.manual_seed(0)
        net = ActionNet(marg[0].shape[1], (256, 256, 256))
        cfg = TrainConfig(n_iters=300, sigma=sigma, laplacian=method, val_every=0)
        start = time.perf_counter()
        train_action(net, interp, marg, times, np.ones(len(marg)), cfg, generator=gen, progress_bar=False)
        rows.append((data, label, time.perf_counter() - start))
        print(rows[-1], flush=True)

print("\n| data | Δs estimate | s / 300 steps | × σ = 0 |\n|---|---|---|---|")
base = {d: s for d, label, s in rows if label == "σ = 0"}
for d, label, s in rows:
    print(f"| {d} | {label} | {s:.1f} | {s / base[d]:.2f} |")
