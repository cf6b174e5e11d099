"""Path samples per training step: 512 against 384, 256 and a half-size first half, over three seeds.

Run from the repository root (two worker processes with one torch thread each):

    python docs/benchmarks/network/batch.py all        # 512 / 384 / half-size warm-up on the five data sets
    python docs/benchmarks/network/batch.py low_dims   # 512 / 384 / 256 on EB 5 PCs and the 10-PC simulation

Outputs: ``batch_all.txt`` / ``batch_all.csv`` and ``batch_low_dims.txt`` / ``batch_low_dims.csv`` (every fold);
``batch.md`` reads them. ``scam`` is the default fit of the commit it runs at; ``b512`` is the batch of every
fit before ``batch_size="auto"`` (the runs in ``batch.md`` were made at 4fc98b7, where that was the default and
was named ``scam``).
"""

import sys

from network import compare

from scam.core.spline import SplineInterpolant


class WarmBatchSpline(SplineInterpolant):
    """The default path, sampled at half the batch for the first ``frac`` of the 500 steps."""

    def __init__(self, frac: float = 0.5, n_iters: int = 500):
        super().__init__(sigma="auto", curvature="auto", growth=True)
        self.frac, self.n_iters = frac, n_iters

    def _fit(self, generator):
        self.calls = 0
        super()._fit(generator)

    def sample(self, n, *, generator):  # noqa: D102
        self.calls += 1
        if self.calls <= self.frac * self.n_iters:
            n = n // 2
        return super().sample(n, generator=generator)


RUNS = {
    "all": (
        {"b512": {"batch_size": 512}, "bwarm50": {"interpolant": WarmBatchSpline(0.5)}, "b384": {"batch_size": 384}},
        ["eb5", "eb100_20", "eb100_50", "eb100_100", "uneven"],
    ),
    "low_dims": (
        {"b512": {"batch_size": 512}, "b256": {"batch_size": 256}, "b384": {"batch_size": 384}},
        ["eb5", "uneven"],
    ),
}

if __name__ == "__main__":
    part = sys.argv[1] if len(sys.argv) > 1 else "all"
    variants, names = RUNS[part]
    compare(
        variants,
        names,
        f"batch per step ({part}), seeds 0-2",
        n_seeds=3,
        csv=f"docs/benchmarks/network/batch_{part}.csv",
    )
