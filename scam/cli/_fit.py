"""``scam fit``: fit an ``.h5ad`` time course (or the bundled EB data) and write the results."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import _io, _keys
from .._settings import settings
from ..core.spline import check_curvature, check_sigma
from ..trainer import GROWTH
from ._common import (
    EB_TIME_KEY,
    EXIT_INTERRUPTED,
    CommandError,
    _input_file,
    _output,
    _read_h5ad,
    _user_errors,
    _writing,
    add_threads_argument,
)

#: ``--masses`` words (besides numbers).
MASS_WORDS = ("counts", "growth_prior")


def _auto_or_number(check, expected: str):
    """An argparse type for ``auto`` or a number, checked by ``check`` (the validator the fit itself uses)."""

    def parse(text: str) -> str | float:
        try:
            return check(text if text == "auto" else float(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be 'auto' or {expected}, got {text!r}") from None

    return parse


#: ``--curvature`` and ``--sigma``: ``auto`` or a number (checked as :class:`scam.trainer.FitConfig` checks them).
_curvature = _auto_or_number(check_curvature, "a number in [0, 1]")
_sigma = _auto_or_number(check_sigma, "a finite number >= 0")


def _masses(values: list[str] | None) -> str | list[float] | None:
    """``--masses``: one of :data:`MASS_WORDS`, or one positive number per time point."""
    if values is None:
        return None
    if len(values) == 1 and values[0] in MASS_WORDS:
        return values[0]
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        hint = "; give the input file before --masses" if any(v.endswith(".h5ad") for v in values) else ""
        raise CommandError(
            f"argument --masses: expected {' or '.join(map(repr, MASS_WORDS))}, or one number per time point "
            f"(e.g. --masses 1 1.5 2.2), got {' '.join(values)!r}{hint} (see `scam fit --help`)"
        ) from None
    return numbers


def _fit_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit Action Matching to a time course (the bundled Embryoid Body data when no file is given)",
        description="Fit Action Matching to an .h5ad time course and write the annotated data and the model.",
    )
    p.add_argument("path", nargs="?", help="input .h5ad (default: the bundled Embryoid Body data)")
    p.add_argument(
        "--time-key",
        help=f"obs column with time points (default: {EB_TIME_KEY!r} for the bundled data, its named windows)",
    )
    p.add_argument("--use-rep", default="X_pca", help="obsm key of the coordinates (default: X_pca)")
    p.add_argument("--n-dims", type=int, default=None, help="use only the first N columns of --use-rep")
    p.add_argument("--sigma", type=_sigma, default=None, help="noise level σ (internal units), or 'auto' (the default)")
    p.add_argument("--lam", type=float, default=None, help="growth weight λ (internal units)")
    p.add_argument(
        "--masses",
        nargs="+",
        default=None,
        metavar="MASS",
        help="relative mass per time point: 'counts' (relative cell counts), 'growth_prior' (from "
        "scam.pp.growth_prior's obs column), or one number per time point in time order (e.g. --masses 1 1.5 2.2); "
        "used with a growth (the default)",
    )
    p.add_argument(
        "--growth",
        default=None,
        choices=GROWTH,
        help="growth model: auto (default: a free head on the spline, tied with --lam > 0), tied (λ s), free, none",
    )
    p.add_argument("--growth-penalty", type=float, default=None, help="weight pulling the growth toward the prior")
    p.add_argument(
        "--growth-prior-key",
        default=None,
        help=f"obs column of prior growth rates per unit time, read by --masses growth_prior and --growth-penalty "
        f"(default: {_keys.GROWTH_PRIOR!r}, which scam.pp.growth_prior writes)",
    )
    p.add_argument("--interpolant", default=None, help="path between snapshots (ot, spline, sb, unbalanced, ...)")
    p.add_argument(
        "--curvature",
        type=_curvature,
        default=None,
        help="bend of the spline path: 'auto' (default: chosen by leave-one-snapshot-out) or a number in [0, 1] "
        "(0: straight lines, 1: the natural cubic spline)",
    )
    p.add_argument(
        "--key-added",
        default=_keys.DEFAULT_KEY,
        help=f"prefix of the keys written to the data (default: {_keys.DEFAULT_KEY}: obsm "
        f"{_keys.velocity()!r}, uns {_keys.uns()!r}, ...)",
    )
    p.add_argument(
        "--n-iters", type=int, default=None, help="optimisation steps (default: 500 below 20 dims, 2,000 from 20 on)"
    )
    p.add_argument(
        "--validation",
        action="store_true",
        help="hold back up to 10%% of each time point's cells to pick the best checkpoint by validation W1",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--out", help="output .h5ad, replaced if it exists (default: <input stem>_scam.h5ad in the current folder)"
    )
    p.add_argument(
        "--model-dir", help="model folder, replaced if it holds a model (default: <input stem>_scam_model here)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    add_threads_argument(p)
    p.set_defaults(func=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    from .. import datasets, tl
    from .._persist import write_model_files

    if args.path is None:
        stem, time_key = "embryoid_body", args.time_key or EB_TIME_KEY
        source = "bundled Embryoid Body data (Moon et al. 2019; 16,819 cells, 5 PCs)"
    else:
        path = _input_file(args.path, flag="the input")
        if args.time_key is None:
            raise CommandError("--time-key is required with an input file (the obs column of the time points)")
        stem, time_key, source = path.stem, args.time_key, str(path)
    masses = _masses(args.masses)
    # every output is checked before the data are read and the model trained
    out = _output(args.out or f"{stem}_scam.h5ad", kind="file", flag="--out")
    model_dir = _output(args.model_dir or f"{stem}_scam_model", kind="model", flag="--model-dir")
    if model_dir.resolve() in out.resolve().parents:  # the folder is replaced as a whole, with what was written in it
        raise CommandError(
            f"--out {out} lies inside --model-dir {model_dir}, which is replaced as a whole by the new model; write "
            f"the .h5ad beside it, e.g. --out {model_dir.parent / out.name}"
        )
    adata = datasets.embryoid_body() if args.path is None else _read_h5ad(path, flag="the input")
    kwargs = {
        k: v
        for k, v in {
            "sigma": args.sigma,
            "lam": args.lam,
            "interpolant": args.interpolant,
            "n_iters": args.n_iters,
            "validation": args.validation or None,
            "masses": masses,
            "curvature": args.curvature,
            "growth": args.growth,
            "growth_penalty": args.growth_penalty,
            "growth_prior_key": args.growth_prior_key,
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
            key_added=args.key_added,
            progress_bar=not args.quiet,
            **kwargs,
        )
    seconds = time.perf_counter() - start
    training = adata.uns[_keys.uns(args.key_added)]["training"]
    if training["interrupted"]:  # the trainer kept the best model so far: never over a finished run's outputs
        return _save_interrupted(model, model_dir, out, training)
    with _writing(f"{out} and {model_dir}"), _io.replacing(out) as (tmp_out,), _io.replacing_folder(model_dir) as new:
        adata.write_h5ad(tmp_out)
        write_model_files(model, new)
    _print_summary(adata, model, source, seconds, out, model_dir, key=args.key_added)
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


def _print_summary(adata, model, source, seconds, out, model_dir, *, key: str) -> None:
    from .._time import get_time

    uns = adata.uns[_keys.uns(key)]
    time = get_time(adata, uns["params"]["time_key"], min_cells=0)
    growth = adata.obs[_keys.growth(key)].to_numpy()
    speed = np.linalg.norm(adata.obsm[_keys.velocity(key)], axis=1)
    weight = adata.obs[_keys.weight(key)].to_numpy()
    training = uns["training"]
    print(f"scam fit: {model}")
    print(f"  data        {source}: {adata.n_obs} cells, {time.n_times} time points, {model.n_dims} dims")
    device = uns["params"]["device"]
    threads = f" ({settings.n_threads} torch thread(s))" if str(device).startswith("cpu") else ""
    print(f"  fit time    {seconds:.1f} s on {device}{threads}")
    if np.isfinite(training["val_w1"]):
        val_w1, step = training["val_w1"], training["best_iteration"]
        print(f"  validation  W1 of pushed vs held-back cells {val_w1:.3f} (step {step})")
    else:
        print("  validation  off: every cell trains (--validation holds cells back to pick a checkpoint)")
    params = uns["params"]
    chosen = " (chosen by leave-one-snapshot-out)" if params.get("sigma_auto") else ""
    bend = f", spline bend {params['spline_curvature']:g}" if "spline_curvature" in params else ""
    print(f"  path        {params['interpolant']}{bend}; sigma {params['sigma']:g}{chosen}")
    print("  time point        cells   mass   mean speed   mean growth   mean weight")
    for k, (label, mass) in enumerate(zip(time.labels, uns["masses"], strict=True)):
        m = time.codes == k
        print(
            f"  {label:<16} {m.sum():>6}  {mass:>5.2f}   {speed[m].mean():>10.3f}   {growth[m].mean():>11.4f}"
            f"   {np.nanmean(weight[m]) if k < time.n_times - 1 else float('nan'):>11.3f}"
        )
    written = (
        f"obsm {_keys.velocity(key)!r}; obs {_keys.potential(key)!r}, {_keys.growth(key)!r}, {_keys.weight(key)!r}"
    )
    print(f"  wrote       {out} ({written}; uns {_keys.uns(key)!r})")
    print(f"  model       {model_dir} (load with scam.ActionModel.load({str(model_dir)!r}))")
