"""Time `ActionModel.log_likelihood` with the forward Laplacian of `ActionNet` against the autograd loop.

Usage: ``OMP_NUM_THREADS=1 python docs/benchmarks/speed/likelihood.py`` (output: ``likelihood.txt``).

A default-width network (3 x 256) fitted briefly on three shifted Gaussians in 50 and 250 dimensions (the fit's
quality does not matter: both ways integrate the same network); 200 cells, 20 RK4 steps. The autograd loop is what
any other module gets (``scam.core.losses.laplacian``, ``d`` double-backward passes per field evaluation).
"""

import time

import anndata as ad
import numpy as np
import pandas as pd
import torch
from torch import nn

import scam
import scam._likelihood as likelihood
from scam.core.network import ActionNet

torch.set_num_threads(1)
rng = np.random.default_rng(0)
print(f"torch {torch.__version__}, one thread; 200 cells, RK4 with 20 steps, network 3 x 256")
for d in (10, 50, 250):
    X = np.concatenate([rng.normal(size=(300, d)) + k for k in range(3)]).astype(np.float32)
    adata = ad.AnnData(obs=pd.DataFrame({"t": np.repeat([0.0, 1.0, 2.0], 300)}, index=[f"c{i}" for i in range(900)]))
    adata.obsm["X_r"] = X
    model = scam.tl.fit(adata, "t", use_rep="X_r", n_iters=20, sigma=0, progress_bar=False)
    seconds = {}
    for name, kind in (("forward", ActionNet), ("autograd", nn.Sequential)):
        likelihood.ActionNet = kind  # nn.Sequential: the net is not taken for an ActionNet, so the loop runs
        start = time.perf_counter()
        ll = model.log_likelihood(X[600:800], 2.0, base=X[:300], n_steps=20)
        seconds[name] = (time.perf_counter() - start, ll)
    likelihood.ActionNet = ActionNet
    (fast, a), (slow, b) = seconds["forward"], seconds["autograd"]
    diff = float(np.max(np.abs(a - b) / np.abs(b)))
    print(f"d={d:4d}: forward {fast:6.2f} s, autograd loop {slow:6.2f} s, x{slow / fast:.1f}; max rel. diff {diff:.1e}")
