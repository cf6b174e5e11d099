"""Command line: ``scam fit``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np


def _fit_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit Action Matching to a time course (the bundled Embryoid Body data when no file is given)",
        description="Fit Action Matching to an .h5ad time course and write the annotated data and the model.",
    )
    p.add_argument("path", nargs="?", help="input .h5ad (default: the bundled Embryoid Body data)")
    p.add_argument("--time-key", help="obs column with time points (default: 'day' for the bundled data)")
    p.add_argument("--use-rep", default="X_pca", help="obsm key of the coordinates (default: X_pca)")
    p.add_argument("--n-dims", type=int, default=None, help="use only the first N columns of --use-rep")
    p.add_argument("--sigma", type=float, default=None, help="noise level σ (internal units)")
    p.add_argument("--lam", type=float, default=None, help="growth weight λ (internal units)")
    p.add_argument("--masses", default=None, help="'counts' to use relative cell counts as masses (with --lam > 0)")
    p.add_argument("--interpolant", default=None, help="path between snapshots (ot, spline, sb, unbalanced, ...)")
    p.add_argument("--n-iters", type=int, default=None, help="optimisation steps")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", help="output .h5ad (default: <input stem>_scam.h5ad in the current folder)")
    p.add_argument(
        "--model-dir", help="model folder, replaced if it holds a model (default: <input stem>_scam_model here)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    p.set_defaults(func=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    import anndata as ad

    import scam

    if args.path is None:
        adata, stem, time_key = scam.datasets.embryoid_body(), "embryoid_body", args.time_key or "day"
        source = "bundled Embryoid Body data (Moon et al. 2019; 16,819 cells, 5 PCs)"
    else:
        path = Path(args.path)
        if not path.is_file():
            print(f"scam fit: no such file: {path}", file=sys.stderr)
            return 2
        if args.time_key is None:
            print("scam fit: --time-key is required with an input file", file=sys.stderr)
            return 2
        adata, stem, time_key, source = ad.read_h5ad(path), path.stem, args.time_key, str(path)
    out = Path(args.out or f"{stem}_scam.h5ad")
    model_dir = Path(args.model_dir or f"{stem}_scam_model")
    if model_dir.exists() and any(model_dir.iterdir()) and not (model_dir / "params.json").is_file():
        print(f"scam fit: {model_dir} exists and is not a scam model folder; choose --model-dir", file=sys.stderr)
        return 2
    kwargs = {
        k: v
        for k, v in {
            "sigma": args.sigma,
            "lam": args.lam,
            "interpolant": args.interpolant,
            "n_iters": args.n_iters,
            "masses": args.masses,
        }.items()
        if v is not None
    }
    start = time.perf_counter()
    try:
        model = scam.tl.fit(
            adata,
            time_key,
            use_rep=args.use_rep,
            n_dims=args.n_dims,
            device=args.device,
            random_state=args.seed,
            progress_bar=not args.quiet,
            **kwargs,
        )
    except (ValueError, TypeError) as e:
        print(f"scam fit: {e}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    model.save(model_dir, overwrite=True)
    adata.write_h5ad(out)
    _print_summary(adata, model, source, seconds, out, model_dir)
    return 0


def _print_summary(adata, model, source, seconds, out, model_dir) -> None:
    from scam._validation import get_time

    uns = adata.uns["scam"]
    time = get_time(adata, uns["params"]["time_key"], min_cells=0)
    growth = adata.obs["scam_growth"].to_numpy()
    speed = np.linalg.norm(adata.obsm["scam_velocity"], axis=1)
    weight = adata.obs["scam_weight"].to_numpy()
    training = uns["training"]
    print(f"scam fit: {model}")
    print(f"  data        {source}: {adata.n_obs} cells, {time.n_times} time points, {model.n_dims} dims")
    print(f"  fit time    {seconds:.1f} s on {uns['params']['device']}")
    print(f"  validation  W1 of pushed vs held-back cells {training['val_w1']:.3f} (step {training['best_iteration']})")
    print("  time point        cells   mass   mean speed   mean growth   mean weight")
    for k, (label, mass) in enumerate(zip(time.labels, uns["masses"], strict=True)):
        m = time.codes == k
        print(
            f"  {label:<16} {m.sum():>6}  {mass:>5.2f}   {speed[m].mean():>10.3f}   {growth[m].mean():>11.4f}"
            f"   {np.nanmean(weight[m]) if k < time.n_times - 1 else float('nan'):>11.3f}"
        )
    print(f"  wrote       {out} (obsm 'scam_velocity'; obs 'scam_potential', 'scam_growth', 'scam_weight'; uns 'scam')")
    print(f"  model       {model_dir} (load with scam.ActionModel.load({str(model_dir)!r}))")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scam`` command."""
    parser = argparse.ArgumentParser(prog="scam", description="scam: single-cell Action Matching.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _fit_parser(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
