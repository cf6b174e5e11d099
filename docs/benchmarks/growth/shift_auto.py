"""The quick suite with ``SplineInterpolant(shift_drift="auto")`` in the default fit (issue 11; ``attribution.md``).

``shift_drift="auto"`` lets the leave-one-snapshot-out check of the bend also decide whether the growth chains
shift each link's source by the displacement transport explains (:meth:`scam.core.SplineInterpolant._choose_shift`).
This runs ``scam benchmark suite --quick`` (one seed, all data sets, the growth rows) with that setting (first
argument ``auto``, or ``off`` / ``on`` for ``False`` / ``True``), prints each fit's choice and scores, and the
suite's table. Compare with ``docs/benchmarks/suite/results.md`` (the default, ``off``) from the same machine.

Run from the repository root, alone on the machine (3 to 5 minutes on a 2-core CPU, one torch thread)::

    python docs/benchmarks/growth/shift_auto.py off > docs/benchmarks/growth/shift_off.txt
    python docs/benchmarks/growth/shift_auto.py auto > docs/benchmarks/growth/shift_auto.txt

Followed by data seeds, only the growth rows, on those seeds of the branching simulation::

    python docs/benchmarks/growth/shift_auto.py off 1 2 > docs/benchmarks/growth/shift_growth_off.txt
    python docs/benchmarks/growth/shift_auto.py auto 1 2 > docs/benchmarks/growth/shift_growth_auto.txt
"""

import sys
import time

import pandas as pd
import torch

import scam
import scam.core.spline as spline
import scam.trainer as trainer
from scam.benchmark.suite import DATASETS, growth_rows, markdown, ratios, run_suite

scam.settings.n_threads = 1  # one torch thread, as `scam benchmark suite --threads 1`
torch.set_num_threads(1)
_GET = trainer.get_interpolant
_CHOOSE = spline.SplineInterpolant._choose_shift


def main(setting: str, growth_seeds: list[int] | None = None) -> None:
    """The quick suite and the growth rows with ``shift_drift`` set to ``setting`` in the default fit.

    With ``growth_seeds``: only the growth rows, for each of those seeds of :func:`scam.datasets.branching`.
    """
    value = {"auto": "auto", "off": False, "on": True}[setting]

    def get(name, **kwargs):
        if name == "spline":
            kwargs["shift_drift"] = value
        return _GET(name, **kwargs)

    def choose(self, gamma):
        chosen = _CHOOSE(self, gamma)
        scores = ", ".join(f"{k} {v:.4f}" for k, v in self.shift_scores_.items())
        print(f"  choice: shift {chosen} ({len(self.sizes)} snapshots; weighted W1 sums {scores})", flush=True)
        return chosen

    trainer.get_interpolant = get
    spline.SplineInterpolant._choose_shift = choose
    print(f"shift_drift {value!r}", flush=True)
    start = time.perf_counter()
    if growth_seeds:
        for seed in growth_seeds:
            print(f"growth, data seed {seed}", flush=True)
            print(growth_rows(random_state=seed).to_string(), flush=True)
        print(f"total {(time.perf_counter() - start) / 60:.1f} min", flush=True)
        return
    frames = []
    for name in DATASETS:
        print(name, flush=True)
        frames.append(run_suite([name], n_seeds=1, n_jobs=1))
    print("growth", flush=True)
    growth = growth_rows()
    print(markdown(ratios(pd.concat(frames, ignore_index=True)), growth), flush=True)
    print(f"total {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("auto", "off", "on"):
        raise SystemExit("usage: shift_auto.py auto|off|on [growth data seeds...]")
    main(sys.argv[1], [int(a) for a in sys.argv[2:]])
