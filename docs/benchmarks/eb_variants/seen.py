"""What seeing the held-out day is worth: scam's default fit on all five EB days, scored as the LOT benchmark scores.

The leave-one-timepoint-out benchmark fits without day ``k`` and pushes the cells of day ``k - 1`` to day ``k``
(W1 to the day-``k`` cells). Here the fit sees every day, the held-out one included, and the same push is scored
the same way. This is not a result: it is the size of the effect a leak of the held-out day would have, for
reading published numbers whose code trains on the held-out day (``published.md``).

Run from the repository root, alone on the machine (one torch thread; about a minute)::

    python docs/benchmarks/eb_variants/seen.py > docs/benchmarks/eb_variants/seen.txt
"""

import warnings

import numpy as np
import torch

import scam
from scam.core.metrics import wasserstein

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    scam.settings.n_threads = 1
    adata = scam.datasets.embryoid_body()
    X, t = adata.obsm["X_pca"].astype(np.float32), adata.obs["time"].to_numpy()
    times = np.unique(t)
    print("| fit seed | held out 1 | held out 2 | held out 3 | mean |")
    print("|---|---|---|---|---|")
    for seed in (0, 1, 2):
        model = scam.tl.fit(adata.copy(), "time", random_state=seed, progress_bar=False)
        w1 = []
        for k in (1, 2, 3):
            pred, w = model.simulate(
                X[t == times[k - 1]], float(times[k - 1]), float(times[k]), return_weights=True, random_state=seed
            )
            weights = np.asarray(w, dtype=np.float64) / np.sum(w)
            target = X[t == times[k]].astype(np.float64)
            w1.append(wasserstein(np.asarray(pred, dtype=np.float64), target, x_weights=weights, random_state=seed))
        print(f"| {seed} | " + " | ".join(f"{v:.3f}" for v in w1) + f" | {np.mean(w1):.3f} |", flush=True)
