"""``scam fit``: fit an ``.h5ad`` time course (or the bundled EB data) and write the results."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import _io
from .._settings import settings
from ..trainer import GROWTH
from ._common import (
    EXIT_INTERRUPTED,
    CommandError,
    _input_file,
    _output,
    _read_h5ad,
    _user_errors,
    _writing,
    add_threads_argument,
)


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
    p.add_argument(
        "--growth",
        default=None,
        choices=GROWTH,
        help="growth model: auto (default: a free head on the spline, tied with --lam > 0), tied (λ s), free, none",
    )
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
    add_threads_argument(p)
    p.set_defaults(func=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    from .. import _keys, datasets, tl
    from .._persist import write_model_files

    if args.path is None:
        stem, time_key = "embryoid_body", args.time_key or "day"
        source = "bundled Embryoid Body data (Moon et al. 2019; 16,819 cells, 5 PCs)"
    else:
        path = _input_file(args.path, flag="the input")
        if args.time_key is None:
            raise CommandError("--time-key is required with an input file (the obs column of the time points)")
        stem, time_key, source = path.stem, args.time_key, str(path)
    # every output is checked before the data are read and the model trained
    out = _output(args.out or f"{stem}_scam.h5ad", kind="file", flag="--out")
    model_dir = _output(args.model_dir or f"{stem}_scam_model", kind="model", flag="--model-dir")
    adata = datasets.embryoid_body() if args.path is None else _read_h5ad(path, flag="the input")
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
    with _user_errors():
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
    seconds = time.perf_counter() - start
    training = adata.uns[_keys.uns()]["training"]
    if training["interrupted"]:  # the trainer kept the best model so far: never over a finished run's outputs
        return _save_interrupted(model, model_dir, out, training)
    with _writing(f"{out} and {model_dir}"), _io.replacing(out) as (tmp_out,), _io.replacing_folder(model_dir) as new:
        adata.write_h5ad(tmp_out)
        write_model_files(model, new)
    _print_summary(adata, model, source, seconds, out, model_dir)
    return 0


def _save_interrupted(model, model_dir: Path, out: Path, training: dict) -> int:
    """Save the best model of an interrupted fit beside ``model_dir`` (``<model-dir>.interrupted``); exit 130."""
    target = model_dir.with_name(model_dir.name + ".interrupted")
    try:
        model.save(target, overwrite=True)
        kept = (
            f"the best model so far (step {training['best_iteration']}) is in {target} "
            f"(scam.ActionModel.load({str(target)!r}))"
        )
    except OSError as e:
        kept = f"the best model so far could not be saved ({e})"
    print(
        f"scam fit: interrupted (Ctrl-C) after {training['n_steps']} steps; {kept}; {out} and {model_dir} "
        "were not written. Run the command again to fit in full.",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def _print_summary(adata, model, source, seconds, out, model_dir) -> None:
    from .. import _keys
    from .._time import get_time

    uns = adata.uns[_keys.uns()]
    time = get_time(adata, uns["params"]["time_key"], min_cells=0)
    growth = adata.obs[_keys.growth()].to_numpy()
    speed = np.linalg.norm(adata.obsm[_keys.velocity()], axis=1)
    weight = adata.obs[_keys.weight()].to_numpy()
    training = uns["training"]
    print(f"scam fit: {model}")
    print(f"  data        {source}: {adata.n_obs} cells, {time.n_times} time points, {model.n_dims} dims")
    device = uns["params"]["device"]
    threads = f" ({settings.n_threads} torch thread(s))" if str(device).startswith("cpu") else ""
    print(f"  fit time    {seconds:.1f} s on {device}{threads}")
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
