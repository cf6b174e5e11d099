"""Could the fit choose the growth target's smoothing itself? Its leave-one-snapshot-out scores.

The ``shift_drift="auto"`` check (:meth:`scam.core.spline.SplineInterpolant._choose_shift`) scores growth chains
through the kept snapshots at each left-out one (exact W1, each chain weighted by its splined log-weight). Here the
same check scores the chains' log-weights smoothed as :data:`~scam.core.spline.GROWTH_TARGET_SMOOTHING` would
smooth the growth head's target (0, 0.125, 0.25), with the fit's chosen shift. If smoothing predicted the left-out
snapshots better where it helps the growth (branching) and worse where it hurts the held-out push (EB's days 12-15,
the uneven course), the fit could choose it by itself.

Contexts: ``branching`` (data and fit seeds 0-2, all days as in ``scam benchmark growth``, and each interior day held
out), ``eb5`` and ``uneven`` (fit seed 0, each interior time held out as in the suite's LOT). The fit stops once the
scores are taken (no training). Prints, per context, the summed score of each smoothing relative to none, then the
score per left-out snapshot.

Usage (from the repository root; one thread)::

    python docs/benchmarks/growth/growth_target_loso.py > docs/benchmarks/growth/growth_target_loso.txt
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

import scam
import scam.core.spline as spline
from scam import settings
from scam.benchmark.suite import load
from scam.core.metrics import wasserstein

SMOOTHING = (0.0, 0.125, 0.25)


class _Scored(Exception):
    """Raised once the scores are taken, to stop the fit."""


def _scores(interp, gamma: float, shift: bool, smoothing: float) -> list[float]:
    """The shift check's W1 per left-out snapshot, chains weighted by their (smoothed) log-weights."""
    old, spline.GROWTH_TARGET_SMOOTHING = spline.GROWTH_TARGET_SMOOTHING, smoothing
    try:
        out = []
        for j in interp._left_out_snapshots():
            ks = [k for k in range(len(interp.sizes)) if k != j]
            local = torch.Generator().manual_seed(spline.SHIFT_SEED + j)
            idx, logw, smoothed = interp._growth_chains(spline.CURVATURE_CV_CELLS, local, ks=ks, shift=shift)
            logw = logw if smoothed is None else smoothed
            linear, bend, cap, _, _ = interp._at_left_out(interp.x[torch.as_tensor(idx)].double(), ks, j)
            lw_linear, lw_bend, lw_cap, _, _ = interp._at_left_out(torch.as_tensor(logw)[:, :, None], ks, j)
            lw = spline._bent(lw_linear, lw_bend, lw_cap, spline.MASS_CURVATURE)[:, 0].numpy()
            out.append(
                wasserstein(
                    spline._bent(linear, bend, cap, gamma).cpu().numpy(),
                    interp._marginals_np[j],
                    x_weights=np.exp(lw - lw.max()),
                    max_points=spline.CURVATURE_CV_CELLS,
                    random_state=0,
                )
            )
        return out
    finally:
        spline.GROWTH_TARGET_SMOOTHING = old


def _run(adata, time_key: str, use_rep: str, seed: int, masses=None) -> str:
    taken: dict = {}
    choose = spline.SplineInterpolant._choose_shift

    def patched(self, gamma):
        taken["shift"] = choose(self, gamma)
        for s in SMOOTHING:
            taken[s] = _scores(self, gamma, taken["shift"], s)
        raise _Scored

    spline.SplineInterpolant._choose_shift = patched
    try:
        scam.tl.fit(adata, time_key=time_key, use_rep=use_rep, masses=masses, random_state=seed, progress_bar=False)
    except _Scored:
        pass
    finally:
        spline.SplineInterpolant._choose_shift = choose
    base = sum(taken[0.0])
    return f"shift {taken['shift']!s:<5} " + "  ".join(
        f"{s}: {sum(taken[s]) / base:.3f} ({' '.join(f'{v:.3f}' for v in taken[s])})" for s in SMOOTHING
    )


def main() -> None:
    """Print the scores of every context."""
    settings.n_threads = 1
    warnings.simplefilter("ignore")
    print("context | chosen shift | smoothing: summed score relative to none (score per left-out snapshot)")
    for seed in (0, 1, 2):
        adata = scam.datasets.branching(n_cells=400, random_state=seed)
        masses = list(adata.uns["ground_truth"]["masses"])
        print(f"branching seed {seed}, all days | {_run(adata, 'day', 'X_latent', seed, masses)}", flush=True)
        days = sorted(adata.obs["day"].unique())
        for held in days[1:-1]:
            sub = adata[adata.obs["day"] != held].copy()
            kept = [m for d, m in zip(days, masses, strict=True) if d != held]
            scores = _run(sub, "day", "X_latent", seed, kept)
            print(f"branching seed {seed}, day {held:g} held out | {scores}", flush=True)
    for name in ("eb5", "uneven"):
        adata, time_key, use_rep = load(name)
        times = sorted(adata.obs[time_key].unique())
        for held in times[1:-1]:
            sub = adata[adata.obs[time_key] != held].copy()
            print(f"{name}, {held:g} held out | {_run(sub, time_key, use_rep, 0)}", flush=True)


if __name__ == "__main__":
    main()
