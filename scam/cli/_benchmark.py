"""``scam benchmark [lot|scale|growth|suite]``: run a benchmark and write its report."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import _io
from .._settings import available_cpus, settings
from ._common import (
    EB_TIME_KEY,
    CommandError,
    _input_file,
    _output,
    _read_h5ad,
    _user_errors,
    _writing,
    add_threads_argument,
)


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
    p.add_argument(
        "--time-key",
        help=f"obs column with time points (default for eb: {EB_TIME_KEY!r}, the named windows, as in `scam fit`)",
    )
    p.add_argument("--use-rep", default="X_pca", help="obsm key of the coordinates")
    p.add_argument("--seeds", type=int, default=5, help="seeds per held-out time (default 5)")
    p.add_argument("--methods", nargs="+", help="methods to run (default: scam otcfm ot_midpoint previous next)")
    p.add_argument("--variants", action="store_true", help="also run every scam variant (AM, eAM, uAM, ueAM, ...)")
    p.add_argument("--out", default="scam_benchmark", help="output folder (default scam_benchmark)")
    p.add_argument("--quick", action="store_true", help="one seed, OT-CFM 2,000 steps, W1 only: a few minutes")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    cpus = available_cpus()
    p.add_argument(
        "--jobs",
        type=int,
        default=cpus,
        help=f"local worker processes sharing the CPUs (default: the CPUs this process may use, {cpus} here); "
        "each runs torch with max(1, threads // jobs) threads",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the lot and suite jobs on this Dask scheduler's workers instead of local processes (needs "
        "scam-sc[distributed]; see the docs' 'Sweeps on a cluster' page)",
    )
    add_threads_argument(p)
    p.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000], help="cells for 'scale'")
    p.add_argument("--datasets", nargs="+", help="data sets of 'suite' (default: all of scam.benchmark.suite)")
    p.add_argument(
        "--eb100-dir", default=None, help="folder with eb_pcs100_subset_{test,val}.npz for 'suite' (../shared/data/eb)"
    )
    p.set_defaults(func=_run_benchmark)


def _run_benchmark(args: argparse.Namespace) -> int:
    import platform

    if args.scheduler is not None and args.what not in ("lot", "suite"):
        raise CommandError(f"--scheduler applies to 'lot' and 'suite', not '{args.what}'; leave it out")
    out = _output(args.out, kind="files_in", flag="--out")  # before any fit
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores ({available_cpus()} usable), "
        f"{settings.n_threads} torch thread(s), torch {_torch_version()}"
    )
    with _dask_client(args.scheduler) as client:
        args.client = client
        if client is not None:
            machine += f"; jobs on the Dask scheduler at {args.scheduler}"
        return _BENCHMARKS[args.what](args, out, machine)


@contextmanager
def _dask_client(address: str | None) -> Iterator:
    """A Dask client connected to ``address`` for the command (``None``: no address, local processes)."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as e:
        raise CommandError(
            "--scheduler needs dask.distributed; install it with pip install 'scam-sc[distributed]'"
        ) from e
    try:
        client = Client(address)
    except (OSError, ValueError, TypeError) as e:
        raise CommandError(
            f"could not reach the Dask scheduler at {address} ({type(e).__name__}: {str(e)[:200]}); start one "
            "(`dask scheduler`, dask-jobqueue, dask-kubernetes) and give its address as --scheduler tcp://HOST:PORT"
        ) from e
    try:
        yield client
    finally:
        client.close()


def _run_scale_benchmark(args: argparse.Namespace, out: Path, machine: str) -> int:
    from ..benchmark.scale import markdown, run_scale, write_scale

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
    from .. import datasets, tl
    from ..benchmark import PUBLISHED_EB_W1, SCAM_VARIANTS
    from ..benchmark.report import markdown_table, write_report

    if args.data == "eb":
        adata, time_key, published = datasets.embryoid_body(), args.time_key or EB_TIME_KEY, PUBLISHED_EB_W1
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
    fit_kwargs = {"device": args.device}
    metrics = ("w1",) if args.quick else ("w1", "w2", "mmd")
    jobs = "Dask workers" if args.client is not None else f"{args.jobs} job(s)"
    print(f"scam benchmark: {name}; methods {', '.join(methods)}; {seeds} seed(s); {jobs}; on {machine}")
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
            client=args.client,
            progress_bar=True,
        )
    total = time.perf_counter() - start
    notes = (
        f"Data: {name}. {seeds} seed(s). Machine: {machine}; "
        + (f"{args.jobs} worker process(es). " if args.client is None else "")
        + f"Total time {total / 60:.1f} min. "
        + ("Quick mode: one seed, 2,000 OT-CFM steps, W1 only. " if args.quick else "")
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
    from ..benchmark.growth import run_growth, summarize, write_results

    seeds = list(range(1 if args.quick else args.seeds))
    print(f"scam benchmark growth: simulated branching data, {len(seeds)} seed(s), on {machine}")
    start = time.perf_counter()
    with _user_errors():
        df, facts = run_growth(seeds=seeds, quick=args.quick)
    total = time.perf_counter() - start
    notes = f"Machine: {machine}. Total time {total / 60:.1f} min. " + (
        "Quick mode: 4 methods, 600 steps per fit (32x32 networks) but for the default row, day 2 held out. "
        if args.quick
        else "1,500 steps per fit, 64x64 networks, 400 cells per day, but for the default row, which is "
        "`scam.tl.fit` with its own defaults and the true masses. "
    )
    with _writing(f"the growth results into {out}"):
        paths = write_results(df, facts, out, notes=notes)
    print(summarize(df).to_string())
    print(f"total {total / 60:.1f} min; wrote {paths['md']}, {paths['csv']}, {paths['json']}")
    return 0


def _run_suite_benchmark(args: argparse.Namespace, out: Path, machine: str) -> int:
    from ..benchmark.suite import DATASETS, growth_rows, markdown, ratios, run_suite

    names = list(args.datasets or DATASETS)
    fit_kwargs = {"device": args.device}
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
            n_jobs=args.jobs,
            client=args.client,
        )
        growth = growth_rows()
    total = time.perf_counter() - start
    table = ratios(df)
    header = (
        "# scam benchmark suite\n\nLeave-one-timepoint-out W1 of scam's default fit and of the exact-OT "
        "interpolation between the neighbours of each held-out time (`ot_midpoint`), in the same run; ratio < 1: "
        f"scam is closer to the held-out cells. Machine: {machine}. Total time {total / 60:.1f} min."
        + (" Quick mode: one seed." if args.quick else "")
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
