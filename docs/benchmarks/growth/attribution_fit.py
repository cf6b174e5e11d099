"""The default fit with and without ``SplineInterpolant(shift_drift=True)`` (issue 11; see ``attribution.md``).

For one setting (``off`` or ``on``, the first argument) this prints

1. the growth rows of the suite (:func:`scam.benchmark.suite.growth_rows`, seed 0): the default fit on
   ``scam.datasets.branching`` with its true masses and with ``masses="counts"``;
2. the suite's unevenly spaced simulation (``uneven``), LOT with 3 seeds: W1 and its ratio to the exact-OT
   interpolation per held-out time;
3. on the same data, for held-out days 1 and 3 (seed 0): the pushed cells' W1 with and without their
   weights, and the correlation of the log-weights with the true growth of the cells pushed.

Run from the repository root, one setting per core::

    OMP_NUM_THREADS=1 python docs/benchmarks/growth/attribution_fit.py off > attribution_fit_off.txt &
    OMP_NUM_THREADS=1 python docs/benchmarks/growth/attribution_fit.py on > attribution_fit_on.txt
"""

import sys

import numpy as np
import torch

import scam
import scam.trainer as trainer
from scam.benchmark.suite import growth_rows, load, ratios, run_suite
from scam.core import wasserstein

torch.set_num_threads(1)
_GET = trainer.get_interpolant


def _with_shift(name, **kwargs):
    if name == "spline":
        kwargs["shift_drift"] = True
    return _GET(name, **kwargs)


def weights_check() -> None:
    """Held-out days 1 and 3 of ``uneven``: weighted and unweighted W1, and the weights against the true growth."""
    adata, key, rep = load("uneven")
    day = adata.obs[key].to_numpy().astype(float)
    for held, prev in ((1.0, 0.33), (3.0, 1.0)):
        model = scam.tl.fit(
            adata[day != held].copy(), key, use_rep=rep, n_iters=1000, random_state=0, progress_bar=False
        )
        x = adata.obsm[rep]
        pred, w = model.simulate(x[day == prev], prev, held, n_steps=100, return_weights=True, random_state=0)
        true_g = adata.obs["growth"].to_numpy()[day == prev]
        print(
            f"held out {held:g}: W1 weighted {wasserstein(pred, x[day == held], x_weights=w / w.sum()):.3f}, "
            f"unweighted {wasserstein(pred, x[day == held]):.3f}; log-weights: std {np.log(w).std():.3f}, "
            f"correlation with the true growth {np.corrcoef(np.log(w), true_g)[0, 1]:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    setting = sys.argv[1]
    if setting == "on":
        trainer.get_interpolant = _with_shift
    elif setting != "off":
        raise SystemExit("usage: attribution_fit.py off|on")
    print(f"shift_drift {setting}")
    print(growth_rows(n_iters=1000).to_string(), flush=True)
    print(ratios(run_suite(["uneven"], n_seeds=3, fit_kwargs={"n_iters": 1000}, n_jobs=1)).to_string(), flush=True)
    weights_check()
