"""Leave-one-timepoint-out ratios to exact OT on time courses *outside* the suite (generated here).

The suite's data sets are what the defaults were chosen on; these are not:

- ``branching30``: :func:`scam.datasets.branching` sampled at days 0, 0.5, 1, 2, 4, 6 with 300, 120, 400, 150, 400
  and 100 cells, log-normalised, 30 PCs (uneven spacing, small snapshots, more PCs than the uneven suite row);
- ``arc``: a Gaussian blob moving along half a circle (radius 4, 6 time points, 400 cells each) in 2 dimensions,
  with 10 dimensions of noise;
- ``eb_small``: EB (5 PCs) with days 6-9 and 18-21 cut to 250 and 300 cells;
- ``gaussian20``: :func:`scam.datasets.gaussian_path` in 20 dimensions at times 0, 0.3, 1, 1.5, 3;
- ``eb100_30_uneven``: the 100-PC EB subset of the suite (read from ``../shared/data/eb``), its first 30 PCs, without
  its middle day, so that the days are 0, 1, 3, 4.

Usage (from the repository root; one torch thread, one process)::

    python docs/benchmarks/outside/outside.py [--seeds N] [--set NAME=JSON ...] [data ...]

``--set lr1e-2='{"lr": 1e-2}'`` adds a variant (fit keyword arguments) beside the default fit. Prints one row per
data set and variant: the ratio of scam's W1 to the exact-OT interpolation's, mean over held-out times and seeds.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import anndata as ad
import numpy as np
import pandas as pd

import scam


def load(name: str):
    """A generated time course: ``(adata, time_key, use_rep)``."""
    if name == "branching30":
        import scanpy as sc

        adata = scam.datasets.branching(
            n_cells=[300, 120, 400, 150, 400, 100], times=(0, 0.5, 1, 2, 4, 6), n_genes=300, random_state=3
        )
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        sc.pp.pca(adata, n_comps=30, random_state=0)
        return adata, "day", "X_pca"
    if name == "arc":
        rng = np.random.default_rng(0)
        xs, ts = [], []
        for t in range(6):
            angle = t * np.pi / 5
            centre = 4 * np.array([np.cos(angle), np.sin(angle)])
            x = np.c_[centre + 0.5 * rng.standard_normal((400, 2)), 0.3 * rng.standard_normal((400, 10))]
            xs.append(x)
            ts += [float(t)] * 400
        adata = ad.AnnData(obs=pd.DataFrame({"t": ts}, index=[f"c{i}" for i in range(len(ts))]))
        adata.obsm["X_pca"] = np.concatenate(xs).astype(np.float32)
        return adata, "t", "X_pca"
    if name == "eb_small":
        adata = scam.datasets.embryoid_body()
        rng = np.random.default_rng(0)
        t = adata.obs["time"].to_numpy()
        keep = np.ones(len(t), bool)
        for day, n in zip(np.unique(t)[[1, 3]], (250, 300), strict=True):
            idx = np.flatnonzero(t == day)
            keep[idx] = False
            keep[rng.choice(idx, n, replace=False)] = True
        return adata[keep].copy(), "time", "X_pca"
    if name == "gaussian20":
        return scam.datasets.gaussian_path(n_dims=20, times=(0, 0.3, 1, 1.5, 3), random_state=0), "time", "X_pca"
    if name == "eb100_30_uneven":
        from scam.benchmark.suite import load as load_suite

        loaded = load_suite("eb100_30")
        if loaded is None:
            raise FileNotFoundError("the 100-PC EB subset is not in ../shared/data/eb (see data_scripts/README.md)")
        adata, key, rep = loaded
        return adata[adata.obs[key] != 2].copy(), key, rep
    raise ValueError(f"unknown data set {name!r}")


DATA = ("branching30", "arc", "eb_small", "gaussian20", "eb100_30_uneven")


def main() -> None:
    """Run every data set and variant and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="*", default=list(DATA))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    scam.settings.n_threads = 1
    variants = {"default": {}}
    for item in args.set:
        name, _, kwargs = item.partition("=")
        variants[name] = json.loads(kwargs)
    print(f"seeds 0-{args.seeds - 1}, torch {scam.settings.n_threads} thread(s)")
    print("| data | variant | ratio (mean) | worst | per held-out time | s / fold |")
    print("|---|---|---|---|---|---|")
    for name in args.data:
        adata, key, rep = load(name)
        for label, kwargs in variants.items():
            start = time.perf_counter()
            df = scam.tl.leave_one_timepoint_out(
                adata,
                key,
                methods=("scam", "ot_midpoint"),
                metrics=("w1",),
                use_rep=rep,
                n_seeds=args.seeds,
                fit_kwargs=kwargs,
                progress_bar=False,
            )
            seconds = (time.perf_counter() - start) / (df["held_out"].nunique() * args.seeds)
            w1 = df.groupby(["held_out", "method"])["value"].mean().unstack()
            ratio = w1["scam"] / w1["ot_midpoint"]
            per = ", ".join(f"{t}: {r:.3f}" for t, r in ratio.items())
            print(f"| {name} | {label} | {ratio.mean():.3f} | {ratio.max():.3f} | {per} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
