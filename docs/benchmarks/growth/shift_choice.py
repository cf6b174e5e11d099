"""Which setting ``shift_drift="auto"`` chooses, per leave-one-timepoint-out fold of the suite.

For each data set and fit seeds 0-2, every interior held-out time is fitted as in ``scam benchmark suite`` (the
suite's ``ScamFitter``) with one training step: the check runs before training, so its choice is that of the full
fit, draw for draw. Prints ``(held-out index, chose the shift)`` per seed.

Usage (from the repository root; output ``shift_choice.txt``)::

    python docs/benchmarks/growth/shift_choice.py uneven,eb5
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from scam import settings
from scam._time import get_time
from scam.benchmark.suite import load
from scam.lot.engine import ScamFitter


def main() -> None:
    """Print the check's choice per data set, seed and fold."""
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    for name in sys.argv[1].split(","):
        adata, time_key, rep = load(name)
        X = adata.obsm[rep].astype(np.float64)
        times = get_time(adata, time_key)
        fitter = ScamFitter(X, times, None, rep, {"n_iters": 1})
        for seed in (0, 1, 2):
            chosen = []
            for k in range(1, times.n_times - 1):
                model = fitter(times.codes != k, {}, seed)
                chosen.append((k, model.metadata["spline_shift_drift"]))
            print(name, "seed", seed, chosen, flush=True)


if __name__ == "__main__":
    main()
