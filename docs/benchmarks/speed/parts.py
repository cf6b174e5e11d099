"""Wall time of the parts of a default fit (no profiler overhead): EB with time 2 held out, one thread.

Run from the repository root, nothing else busy: ``python docs/benchmarks/speed/parts.py`` (output in
``parts.txt``). The first fit pays the imports; the second is the one to read. ``scam.tl.fit`` arguments can be
given as ``name=value`` (e.g. ``validation=True``).
"""

import sys
import time

import torch

import scam
import scam.core.couplings as couplings
import scam.core.spline as spline
import scam.core.train as train

torch.set_num_threads(1)
scam.settings.n_threads = 1
SECONDS: dict[str, float] = {}


def timed(owner, name):
    """Replace ``owner.name`` by a wrapper that adds its wall time to ``SECONDS[name]``."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SECONDS[name] = SECONDS.get(name, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)


if __name__ == "__main__":
    timed(couplings, "semi_relaxed_plans")
    timed(train, "validation_w1")
    for method in ("_fit", "_growth_chains", "_loso_folds", "_choose_curvature", "_choose_sigma"):
        timed(spline.SplineInterpolant, method)
    kwargs = {k: eval(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}  # noqa: S307 (a benchmark's CLI)
    adata = scam.datasets.embryoid_body()
    fold = adata[adata.obs["time"].to_numpy() != 2].copy()
    for run in ("first (imports)", "second"):
        SECONDS.clear()
        start = time.perf_counter()
        scam.tl.fit(fold, "time", progress_bar=False, **kwargs)
        total = time.perf_counter() - start
        training = fold.uns["scam"]["training"]
        print(f"{run} fit {kwargs or ''}: {total:.2f} s in all")
        print(
            f"  path (SplineInterpolant._fit) {SECONDS['_fit']:.2f} s: chains {SECONDS['_growth_chains']:.2f} s "
            f"(their plans {SECONDS['semi_relaxed_plans']:.2f} s), leave-one-snapshot-out chains "
            f"{SECONDS['_loso_folds']:.2f} s, curvature choice {SECONDS['_choose_curvature']:.2f} s, "
            f"sigma choice {SECONDS['_choose_sigma']:.2f} s"
        )
        print(
            f"  training loop {training['loop_seconds']:.2f} s ({training['n_steps']} steps; validation "
            f"{SECONDS.get('validation_w1', 0.0):.2f} s, best checkpoint at step {training['best_iteration']})"
        )
        print(f"  read-outs and the rest {total - training['seconds']:.2f} s")
