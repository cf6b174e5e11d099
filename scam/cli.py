"""Command line: ``scam fit``."""

from __future__ import annotations

import argparse
import logging
import os
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
    p.add_argument(
        "--masses",
        default=None,
        help="'counts' (relative cell counts) or 'growth_prior' (from scam.pp.growth_prior's obs column) as masses "
        "(with --lam > 0 or --growth free)",
    )
    p.add_argument("--growth", default=None, choices=["tied", "free"], help="growth model: tied (λ s) or free (a head)")
    p.add_argument("--growth-penalty", type=float, default=None, help="weight pulling the growth toward the prior")
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

    from . import datasets, tl

    if args.path is None:
        adata, stem, time_key = datasets.embryoid_body(), "embryoid_body", args.time_key or "day"
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
            "growth": args.growth,
            "growth_penalty": args.growth_penalty,
        }.items()
        if v is not None
    }
    start = time.perf_counter()
    try:
        model = tl.fit(
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
    from . import _keys
    from ._validation import get_time

    uns = adata.uns[_keys.uns()]
    time = get_time(adata, uns["params"]["time_key"], min_cells=0)
    growth = adata.obs[_keys.growth()].to_numpy()
    speed = np.linalg.norm(adata.obsm[_keys.velocity()], axis=1)
    weight = adata.obs[_keys.weight()].to_numpy()
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
    written = f"obsm {_keys.velocity()!r}; obs {_keys.potential()!r}, {_keys.growth()!r}, {_keys.weight()!r}"
    print(f"  wrote       {out} ({written}; uns {_keys.uns()!r})")
    print(f"  model       {model_dir} (load with scam.ActionModel.load({str(model_dir)!r}))")


def _benchmark_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="leave-one-timepoint-out benchmark against OT baselines and peers (or 'scale')",
        description="Hold out each interior time point, predict it, and score W1/W2/MMD; or, with 'scale', time "
        "fits on 10k-1M synthetic cells.",
    )
    p.add_argument(
        "what",
        nargs="?",
        choices=["lot", "scale", "growth"],
        default="lot",
        help="lot (default), scale, or growth (learned growth, masses and fates on the simulated branching data)",
    )
    p.add_argument("--data", default="eb", help="'eb' (bundled Embryoid Body, 5 PCs) or a .h5ad path")
    p.add_argument("--time-key", help="obs column with time points (default 'time' for eb)")
    p.add_argument("--use-rep", default="X_pca", help="obsm key of the coordinates")
    p.add_argument("--seeds", type=int, default=5, help="seeds per held-out time (default 5)")
    p.add_argument("--methods", nargs="+", help="methods to run (default: scam otcfm ot_midpoint previous next)")
    p.add_argument("--variants", action="store_true", help="also run every scam variant (AM, eAM, uAM, ueAM, ...)")
    p.add_argument("--out", default="scam_benchmark", help="output folder (default scam_benchmark)")
    p.add_argument(
        "--quick", action="store_true", help="one seed, fewer steps (scam 1,000, OT-CFM 2,000), W1 only: a few minutes"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes sharing the CPU (default: all cores)"
    )
    p.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000], help="cells for 'scale'")
    p.set_defaults(func=_run_benchmark)


def _run_benchmark(args: argparse.Namespace) -> int:
    import json
    import platform

    out = Path(args.out)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {_torch_version()}"
    if args.what == "growth":
        return _run_growth_benchmark(args, out, machine)
    if args.what == "scale":
        from .benchmark.scale import markdown, run_scale

        n_iters = 200 if args.quick else 1000
        print(f"scam benchmark scale: {n_iters} steps per size, 50 dims, on {machine}")
        rows = run_scale(args.sizes, n_iters=n_iters, device=args.device)
        out.mkdir(parents=True, exist_ok=True)
        (out / "scale.json").write_text(json.dumps(rows, indent=2))
        (out / "scale.md").write_text(f"# Scale ({machine})\n\n" + markdown(rows) + "\n")
        print(markdown(rows))
        print(f"wrote {out / 'scale.md'} and {out / 'scale.json'}")
        return 0

    import anndata as ad

    from . import datasets, tl
    from .benchmark import PUBLISHED_EB_W1, SCAM_VARIANTS
    from .benchmark.report import markdown_table, write_report

    if args.data == "eb":
        adata, time_key, published = datasets.embryoid_body(), args.time_key or "time", PUBLISHED_EB_W1
        name = "Embryoid Body, 5 PCs"
    else:
        path = Path(args.data)
        if not path.is_file() or args.time_key is None:
            print("scam benchmark: --data must be 'eb' or an existing .h5ad with --time-key", file=sys.stderr)
            return 2
        adata, time_key, published, name = ad.read_h5ad(path), args.time_key, None, str(path)
    methods = list(args.methods or ["scam", "otcfm", "ot_midpoint", "previous", "next"])
    if args.variants:
        methods += [m for m in SCAM_VARIANTS if m not in methods]
    seeds = 1 if args.quick else args.seeds
    fit_kwargs = {"device": args.device, **({"n_iters": 1000} if args.quick else {})}
    metrics = ("w1",) if args.quick else ("w1", "w2", "mmd")
    print(f"scam benchmark: {name}; methods {', '.join(methods)}; {seeds} seed(s); {args.jobs} job(s); on {machine}")
    start = time.perf_counter()
    try:
        df = tl.leave_one_timepoint_out(
            adata,
            time_key,
            methods=methods,
            n_seeds=seeds,
            metrics=metrics,
            fit_kwargs=fit_kwargs,
            peer_kwargs={"n_iters": 2000} if args.quick else None,
            use_rep=args.use_rep,
            n_jobs=args.jobs,
            progress_bar=True,
        )
    except (ValueError, TypeError) as e:
        print(f"scam benchmark: {e}", file=sys.stderr)
        return 2
    total = time.perf_counter() - start
    notes = (
        f"Data: {name}. {seeds} seed(s). Machine: {machine}; {args.jobs} worker process(es). "
        f"Total time {total / 60:.1f} min. "
        + ("Quick mode: 1,000 scam steps, 2,000 OT-CFM steps, W1 only. " if args.quick else "")
        + "Rows marked published are quoted from the papers, not re-run."
    )
    paths = write_report(df, out, published=published, notes=notes)
    print(markdown_table(df, published=published))
    seconds = df[df["metric"] == df["metric"].iloc[0]].groupby("method")["fit_seconds"].mean()
    if "scam" in seconds and "otcfm" in seconds:
        print(
            f"fit time per fold: scam {seconds['scam']:.1f} s, OT-CFM {seconds['otcfm']:.1f} s "
            f"(OT-CFM / scam = {seconds['otcfm'] / seconds['scam']:.2f})"
        )
    print(f"total {total / 60:.1f} min; wrote {paths['csv']}, {paths['md']}, {paths['png']}")
    return 0


def _run_growth_benchmark(args: argparse.Namespace, out: Path, machine: str) -> int:
    import json

    from .benchmark.growth import markdown, run_growth, summarize

    seeds = list(range(1 if args.quick else args.seeds))
    print(f"scam benchmark growth: simulated branching data, {len(seeds)} seed(s), on {machine}")
    start = time.perf_counter()
    df, facts = run_growth(seeds=seeds, quick=args.quick)
    total = time.perf_counter() - start
    notes = f"Machine: {machine}. Total time {total / 60:.1f} min. " + (
        "Quick mode: 3 methods, 600 steps per fit (32x32 networks), day 2 held out. "
        if args.quick
        else "1,500 steps per fit, 64x64 networks, 400 cells per day. "
    )
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "results.csv", index=False)
    (out / "results.json").write_text(json.dumps(facts, indent=2))
    (out / "results.md").write_text(markdown(df, facts, notes))
    print(summarize(df).to_string())
    print(f"total {total / 60:.1f} min; wrote {out / 'results.md'}, {out / 'results.csv'}, {out / 'results.json'}")
    return 0


def _torch_version() -> str:
    import torch

    return torch.__version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scam`` command."""
    parser = argparse.ArgumentParser(prog="scam", description="scam: single-cell Action Matching.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _fit_parser(sub)
    _benchmark_parser(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
