"""What the per-fold diagnostics of this folder share: one default fit with a snapshot held out, run over folds."""

from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

import numpy as np

#: The suite's data sets and held-out time indices the diagnostics look at.
FOLDS = [(name, k) for name in ("eb5", "eb100_20", "eb100_50", "uneven") for k in (1, 2, 3)]


def fit_fold(name: str, k: int, n_iters: int = 1000) -> SimpleNamespace:
    """Fit the default model on data set ``name`` without time ``k`` (seed 0, one torch thread).

    Returns the model, the held-out time's label and value ``t``, the previous and next snapshots ``x_prev``,
    ``x_next`` at ``t_prev``, ``t_next``, the held-out cells ``target``, all cells ``X`` with their time codes
    ``codes`` and time values ``values``, and the forward push ``pushed`` with its normalised ``weights``.
    """
    import torch

    from scam._time import get_time
    from scam.benchmark.suite import load
    from scam.lot.engine import ScamFitter

    torch.set_num_threads(1)
    adata, time_key, rep = load(name, eb100_dir="../shared/data/eb")
    T = get_time(adata, time_key)
    X, c, v = adata.obsm[rep].astype(np.float64), T.codes, T.values
    model = ScamFitter(X, T, None, rep, {"n_iters": n_iters})(c != k, {}, 0)
    x_prev = X[c == k - 1]
    pushed, w = model.simulate(x_prev, v[k - 1], v[k], n_steps=100, return_weights=True)
    return SimpleNamespace(
        model=model,
        label=T.labels[k],
        t=v[k],
        t_prev=v[k - 1],
        t_next=v[k + 1],
        x_prev=x_prev,
        x_next=X[c == k + 1],
        target=X[c == k],
        X=X,
        codes=c,
        values=v,
        pushed=pushed,
        weights=w / w.sum(),
    )


def run_folds(fold, workers: int) -> list:
    """``fold(job)`` for every job of :data:`FOLDS`, in ``workers`` processes."""
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(fold, FOLDS))
