"""How close the default path's chains come to :data:`scam.core.spline.BEND_LIMIT`.

For each data set, the default path's chains (``SplineInterpolant(growth=True)``, the fit's interpolant, seed 0,
times scaled to ``[0, 1]`` as the fit does; the limit is invariant to the scale of times and coordinates) are drawn
once, and for every chain and interval the factor by which its bend could grow before the limit scales it
(:func:`scam.core.spline._bend_cap`, divided by the bend the path uses) is taken: ``> 1`` everywhere means the limit
changes nothing. Reported: the smallest factor and the share of chain-intervals below 1, for the positions (at the
chosen bend ``γ``) and the log-weights.

Data: the suite's ``eb5``, ``eb100_20``, ``eb100_100`` (needs ``../shared/data/eb``) and ``uneven`` (``eb5`` and
``uneven`` also without each of their interior times, as in their leave-one-timepoint-out folds);
:func:`scam.datasets.branching` seeds 0-4 (also without each interior day, as the growth benchmark's mass error);
and :func:`scam.datasets.gaussian_path` at times (0, 1, 2), (0, 0.002, 1) and (0, 1, 100), the last two the cases the
limit is for.

Usage (from the repository root; one thread, about three minutes)::

    python docs/benchmarks/spline/bend_limit.py > docs/benchmarks/spline/bend_limit.txt
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

import scam
from scam.benchmark.suite import load
from scam.core import spline


def _factors(y: torch.Tensor, m: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Per chain and interval: how far the bend ``m`` (per knot) may grow before the limit acts."""
    return spline._bend_cap(y, m[:, :-1], m[:, 1:], times)


def _report(name: str, x: np.ndarray, t: np.ndarray, masses=None) -> str:
    values = np.unique(t)
    times = (values - values[0]) / (values[-1] - values[0])
    marginals = [torch.tensor(x[t == v], dtype=torch.float32) for v in values]
    interp = spline.SplineInterpolant(growth=True).fit(
        marginals, times, masses, generator=torch.Generator().manual_seed(0)
    )
    tt = torch.as_tensor(times)
    y = interp.x[interp.knots_idx].double()
    pos = _factors(y, interp.curvature_ * interp._natural_spline(y, tt), tt)
    lw = interp.knots_logw.double()[:, :, None]
    logw = _factors(lw, spline.MASS_CURVATURE * interp._natural_spline(lw, tt), tt)
    return (
        f"{name:<22} γ {interp.curvature_:<4g} positions: min {pos.min().item():9.3f}, below 1 "
        f"{(pos < 1).double().mean().item():.4f} | log-weights: min {logw.min().item():8.3f}, below 1 "
        f"{(logw < 1).double().mean().item():.4f}"
    )


def main() -> None:
    """Print one line per data set."""
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"BEND_LIMIT = {spline.BEND_LIMIT}; factor = how far a chain's bend may grow before the limit scales it")
    for name in ("eb5", "eb100_20", "eb100_100", "uneven"):
        loaded = load(name)
        if loaded is None:
            print(f"{name}: files missing, skipped")
            continue
        adata, time_key, use_rep = loaded
        x, t = np.asarray(adata.obsm[use_rep], np.float64), adata.obs[time_key].to_numpy(float)
        print(_report(name, x, t))
        if name in ("eb5", "uneven"):  # their leave-one-timepoint-out folds: a held-out time widens a gap
            for held in np.unique(t)[1:-1]:
                print(_report(f"{name}, {held:g} held out", x[t != held], t[t != held]))
    for seed in range(5):  # the growth benchmark's data: all days, and each interior day held out (mass error)
        adata = scam.datasets.branching(n_cells=400, random_state=seed)
        masses = np.asarray(adata.uns["ground_truth"]["masses"])
        x, t = adata.obsm["X_latent"], adata.obs["day"].to_numpy(float)
        print(_report(f"branching seed {seed}", x, t, list(masses)))
        days = np.unique(t)
        for held in days[1:-1]:
            kept = list(masses[days != held])
            print(_report(f"branching {seed}, {held:g} out", x[t != held], t[t != held], kept))
    for times in ((0.0, 1.0, 2.0), (0.0, 0.002, 1.0), (0.0, 1.0, 100.0)):
        adata = scam.datasets.gaussian_path(n_cells=200, times=times, masses=[1.0, 1.5, 2.0], random_state=0)
        label = f"gaussian {times}"
        print(_report(label, adata.obsm["X_pca"], adata.obs["time"].to_numpy(float), [1.0, 1.5, 2.0]))


if __name__ == "__main__":
    main()
