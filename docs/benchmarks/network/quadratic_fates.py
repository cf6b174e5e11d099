"""Fates on tutorial 02's simulation with and without the action's quadratic term, in 2-D.

Run from the repository root: ``python docs/benchmarks/network/quadratic_fates.py``. The free-growth
default on :func:`scam.datasets.branching` (300 cells per day, the true masses, ``X_latent``), once
with tutorial 02's small settings (a 32 × 32 network, 600 steps, batch 256) and once with the
default network (3 × 256, 2,000 steps); ``scam.tl.fate`` from day 2 to day 4 as in the tutorial:
the fraction of day-2 branch-B cells called B (all truly end in B) and the accuracy over all
day-2 cells.
"""

import warnings

import numpy as np

import scam

warnings.simplefilter("ignore", UserWarning)
scam.settings.n_threads = 1
adata = scam.datasets.branching(n_cells=300, random_state=0)
masses = list(adata.uns["ground_truth"]["masses"])
true_fate = adata.obs["fate"].to_numpy()
day2 = adata.obs["day"].to_numpy() == 2.0
on_b = day2 & (adata.obs["branch"].to_numpy() == "B")
print("| network | quadratic | day-2 B cells called B | fate accuracy, day 2 |\n|---|---|---|---|")
for label, net in (("32 × 32, 600 steps", {"hidden": (32, 32), "n_iters": 600, "batch_size": 256}), ("default", {})):
    for quadratic in ("none", "full"):
        settings = {"masses": masses, "quadratic": quadratic, "key_added": "q", "progress_bar": False, **net}
        model = scam.tl.fit(adata, "day", use_rep="X_latent", **settings)
        scam.tl.fate(adata, model, source=2.0, target=4.0, groupby="branch", key_added="q")
        classes = np.asarray(adata.uns["q_fate"]["classes"])
        call = classes[adata.obsm["q_fate"].argmax(1)]
        print(
            f"| {label} | {quadratic} | {np.mean(call[on_b] == 'B'):.3f} "
            f"| {np.mean(call[day2] == true_fate[day2]):.3f} |"
        )
