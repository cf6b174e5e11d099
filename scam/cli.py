"""Command line: ``scam fit`` and ``scam benchmark``.

Exit codes: 0 done; 2 a mistake the user can fix (bad arguments, a path that cannot be written, an input
that is not an ``.h5ad``, a ``ValueError``/``TypeError`` from scam), printed as ONE line naming the fix, no
traceback, checked before any training where possible; 1 the outputs could not be written (the previous
ones are left as they were); 130 interrupted with Ctrl-C (nothing is written over existing outputs).
Every output goes through :mod:`scam._io` (checked first, written beside the target, then swapped in).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import _io

EXIT_USAGE = 2
EXIT_WRITE_FAILED = 1
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """Ends a command with one line on stderr (``scam COMMAND: message``) and ``code``, without a traceback."""

    def __init__(self, message: str, *, code: int = EXIT_USAGE, prog: str | None = None):
        super().__init__(re.sub(r"\s*\n\s*", " ", str(message)).strip())
        self.code, self.prog = code, prog


class _Parser(argparse.ArgumentParser):
    """argparse prints its usage and exits on a bad argument; scam raises one line that names the fix."""

    def error(self, message: str):  # noqa: D102
        raise CommandError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


@contextmanager
def _user_errors() -> Iterator[None]:
    """``ValueError``/``TypeError`` from scam (its messages name the fix) end the command with exit code 2."""
    try:
        yield
    except (ValueError, TypeError) as e:
        raise CommandError(str(e)) from e


def _output(path: str | Path, *, kind: str, flag: str) -> Path:
    """Check an output path before any work; exit code 2 if it cannot be written.

    ``kind`` is one of :func:`scam._io.check_output`'s, or ``"model"``: a model folder, replaced if it holds a
    model, never if it holds anything else (:func:`scam._persist.check_save_path`).
    """
    from ._persist import check_save_path

    try:
        if kind == "model":
            return check_save_path(path, overwrite=True, flag=flag)
        return _io.check_output(path, kind=kind, flag=flag)
    except OSError as e:
        raise CommandError(str(e)) from e


@contextmanager
def _writing(what: str) -> Iterator[None]:
    """A failure while writing outputs (a full disk, a size limit) ends the command with exit code 1."""
    try:
        yield
    except OSError as e:
        raise CommandError(
            f"could not write {what} ({e}); the previous files are left as they were", code=EXIT_WRITE_FAILED
        ) from e


def _input_file(path: str | Path, *, flag: str) -> Path:
    """An input path, ``~``-expanded; a missing file ends the command with exit code 2."""
    path = _io.expand(path)
    if not path.is_file():
        raise CommandError(f"no such file: {path}; give an existing .h5ad file as {flag}")
    return path


def _read_h5ad(path: Path, *, flag: str):
    """Read an ``.h5ad`` input; a file that is not one ends the command with exit code 2."""
    import anndata as ad

    try:
        return ad.read_h5ad(path)
    except Exception as e:  # h5py raises OSError, anndata KeyError/ValueError/... for files that are not AnnData
        first = str(e).splitlines()[0] if str(e) else ""
        raise CommandError(
            f"cannot read {path} as an .h5ad file ({type(e).__name__}: {first[:200]}); give an AnnData file "
            f"written by `adata.write_h5ad` as {flag}"
        ) from e


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
    from . import _keys, datasets, tl
    from ._persist import write_model_files

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
        choices=list(_BENCHMARKS),
        default="lot",
        help="lot (default), scale, growth (learned growth, masses and fates on the simulated branching data), or "
        "suite (the default fit on several time courses, as a ratio to the exact-OT interpolation)",
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
    p.add_argument("--datasets", nargs="+", help="data sets of 'suite' (default: all of scam.benchmark.suite)")
    p.add_argument(
        "--eb100-dir", default=None, help="folder with eb_pcs100_subset_{test,val}.npz for 'suite' (../shared/data/eb)"
    )
    p.set_defaults(func=_run_benchmark)


def _run_benchmark(args: argparse.Namespace) -> int:
    import platform

    out = _output(args.out, kind="files_in", flag="--out")  # before any fit
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {_torch_version()}"
    return _BENCHMARKS[args.what](args, out, machine)


def _run_scale_benchmark(args: argparse.Namespace, out: Path, machine: str) -> int:
    from .benchmark.scale import markdown, run_scale, write_scale

    n_iters = 200 if args.quick else 1000
    print(f"scam benchmark scale: {n_iters} steps per size, 50 dims, on {machine}")
    with _user_errors():
        rows = run_scale(args.sizes, n_iters=n_iters, device=args.device)
    with _writing(f"the scale results into {out}"):
        paths = write_scale(rows, out, machine=machine)
    print(markdown(rows))
    print(f"wrote {paths['md']} and {paths['json']}")
    return 0


def _run_lot_benchmark(args: argparse.Namespace, out: Path, machine: str) -> int:
    from . import datasets, tl
    from .benchmark import PUBLISHED_EB_W1, SCAM_VARIANTS
    from .benchmark.report import markdown_table, write_report

    if args.data == "eb":
        adata, time_key, published = datasets.embryoid_body(), args.time_key or "time", PUBLISHED_EB_W1
        name = "Embryoid Body, 5 PCs"
    else:
        path = _input_file(args.data, flag="--data (or 'eb')")
        if args.time_key is None:
            raise CommandError("--time-key is required with --data FILE (the obs column of the time points)")
        adata, time_key, published, name = _read_h5ad(path, flag="--data"), args.time_key, None, str(path)
    methods = list(args.methods or ["scam", "otcfm", "ot_midpoint", "previous", "next"])
    if args.variants:
        methods += [m for m in SCAM_VARIANTS if m not in methods]
    seeds = 1 if args.quick else args.seeds
    fit_kwargs = {"device": args.device, **({"n_iters": 1000} if args.quick else {})}
    metrics = ("w1",) if args.quick else ("w1", "w2", "mmd")
    print(f"scam benchmark: {name}; methods {', '.join(methods)}; {seeds} seed(s); {args.jobs} job(s); on {machine}")
    start = time.perf_counter()
    with _user_errors():
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
    total = time.perf_counter() - start
    notes = (
        f"Data: {name}. {seeds} seed(s). Machine: {machine}; {args.jobs} worker process(es). "
        f"Total time {total / 60:.1f} min. "
        + ("Quick mode: 1,000 scam steps, 2,000 OT-CFM steps, W1 only. " if args.quick else "")
        + "Rows marked published are quoted from the papers, not re-run."
    )
    with _writing(f"the report into {out}"):
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
    from .benchmark.growth import run_growth, summarize, write_results

    seeds = list(range(1 if args.quick else args.seeds))
    print(f"scam benchmark growth: simulated branching data, {len(seeds)} seed(s), on {machine}")
    start = time.perf_counter()
    with _user_errors():
        df, facts = run_growth(seeds=seeds, quick=args.quick)
    total = time.perf_counter() - start
    notes = f"Machine: {machine}. Total time {total / 60:.1f} min. " + (
        "Quick mode: 3 methods, 600 steps per fit (32x32 networks), day 2 held out. "
        if args.quick
        else "1,500 steps per fit, 64x64 networks, 400 cells per day. "
    )
    with _writing(f"the growth results into {out}"):
        paths = write_results(df, facts, out, notes=notes)
    print(summarize(df).to_string())
    print(f"total {total / 60:.1f} min; wrote {paths['md']}, {paths['csv']}, {paths['json']}")
    return 0


def _run_suite_benchmark(args: argparse.Namespace, out: Path, machine: str) -> int:
    from .benchmark.suite import DATASETS, growth_rows, markdown, ratios, run_suite

    names = list(args.datasets or DATASETS)
    fit_kwargs = {"device": args.device, **({"n_iters": 1000} if args.quick else {})}
    # --variants: also the default before growth was on by default (no growth, fixed bend 0.5)
    variants = {"scam, no growth, γ = 0.5": {"growth": "none", "curvature": 0.5}} if args.variants else None
    print(f"scam benchmark suite: {', '.join(names)}; default fit against the exact-OT interpolation; on {machine}")
    start = time.perf_counter()
    with _user_errors():
        df = run_suite(
            names,
            n_seeds=1 if args.quick else args.seeds,
            fit_kwargs=fit_kwargs,
            variants=variants,
            eb100_dir=args.eb100_dir,
        )
        growth = growth_rows(n_iters=fit_kwargs.get("n_iters"))
    total = time.perf_counter() - start
    table = ratios(df)
    header = (
        "# scam benchmark suite\n\nLeave-one-timepoint-out W1 of scam's default fit and of the exact-OT "
        "interpolation between the neighbours of each held-out time (`ot_midpoint`), in the same run; ratio < 1: "
        f"scam is closer to the held-out cells. Machine: {machine}. Total time {total / 60:.1f} min."
        + (" Quick mode: 1,000 steps per fit, one seed." if args.quick else "")
    )
    text = markdown(table, growth, header=header)
    with _writing(f"the suite results into {out}"):
        out.mkdir(parents=True, exist_ok=True)
        _io.write_text(out / "results.md", text)
        _io.write_text(out / "results.csv", df.to_csv(index=False))
    print(text)
    print(f"total {total / 60:.1f} min; wrote {out / 'results.md'} and {out / 'results.csv'}")
    return 0


#: ``scam benchmark WHAT``: what -> runner(args, checked output folder, machine description) -> exit code.
#: A new benchmark is one runner and one entry here.
_BENCHMARKS: dict[str, Callable[[argparse.Namespace, Path, str], int]] = {
    "lot": _run_lot_benchmark,
    "scale": _run_scale_benchmark,
    "growth": _run_growth_benchmark,
    "suite": _run_suite_benchmark,
}


def _torch_version() -> str:
    import torch

    return torch.__version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scam`` command; returns the exit code (see the module docstring)."""
    parser = _Parser(prog="scam", description="scam: single-cell Action Matching.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _fit_parser(sub)
    _benchmark_parser(sub)
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        return args.func(args)
    except CommandError as e:
        prog = e.prog or (f"scam {args.command}" if args is not None else "scam")
        print(f"{prog}: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        prog = f"scam {args.command}" if args is not None else "scam"
        print(f"{prog}: interrupted (Ctrl-C); no output was written or replaced", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
