"""Fit time on a quiet machine and beside busy processes, with torch's default threads and with scam's setting.

Each fit runs in a fresh Python process (torch reads its thread settings at start), with
``OMP_NUM_THREADS`` removed from its environment so that torch starts with its own default; the
busy processes are pure-Python spin loops (``multiprocessing``), started before the fit and stopped
after it. Thread configurations:

- ``torch default``: scam runs with the count torch started with (what scam did before it chose
  threads itself: one per core torch sees);
- ``scam auto``: ``scam.settings.n_threads = None``, the CPUs this process may use (affinity mask,
  cgroup CPU quota);
- ``scam 1 thread``: ``scam.settings.n_threads = 1``.

Run it on an otherwise quiet machine; it writes a markdown table (``--out``) and prints it::

    python docs/benchmarks/threads/threads.py                      # EB, 500 steps, 0 and 3 x CPUs busy
    python docs/benchmarks/threads/threads.py --n-iters 20 --busy 0 2 --out /tmp/threads.md   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {"torch default": "torch", "scam auto": "auto", "scam 1 thread": "1"}


def _spin(stop) -> None:
    """Burn one CPU in pure Python until ``stop`` is set (no threads, no torch)."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _child(args: argparse.Namespace) -> None:
    """One timed fit in this (fresh) process; prints one JSON line."""
    import torch

    import scam
    from scam._settings import available_cpus

    started_with = torch.get_num_threads()
    if args.child == "torch":
        scam.settings.n_threads = started_with
    elif args.child == "auto":
        scam.settings.n_threads = None
    else:
        scam.settings.n_threads = int(args.child)
    if args.data == "eb":
        adata, time_key, use_rep = scam.datasets.embryoid_body(), "time", "X_pca"
    else:
        adata, time_key, use_rep = scam.datasets.branching(random_state=0), "day", "X_latent"
    start = time.perf_counter()
    scam.tl.fit(
        adata, time_key, use_rep=use_rep, n_iters=args.n_iters, device="cpu", random_state=0, progress_bar=False
    )
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "threads": scam.settings.n_threads, "torch_default": started_with}
    print(json.dumps({**out, "available_cpus": available_cpus(), "n_cells": adata.n_obs}))


def _timed_fit(config: str, n_busy: int, args: argparse.Namespace) -> dict:
    """Start ``n_busy`` spinning processes, time one fit in a fresh process beside them, stop them."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    busy = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(n_busy)]
    for p in busy:
        p.start()
    try:
        if busy:
            time.sleep(1.0)  # let them reach full speed
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        cmd = [sys.executable, __file__, "--child", config, "--data", args.data, "--n-iters", str(args.n_iters)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the fit failed ({config}, {n_busy} busy):\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        stop.set()
        for p in busy:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()


def _table(rows: list[dict], busy: list[int]) -> str:
    quiet, loaded = busy[0], busy[1:]
    head = ["setting", "threads used", *[f"{n} busy (s)" for n in busy], *[f"{n} busy / {quiet} busy" for n in loaded]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in CONFIGS:
        by_busy = {r["busy"]: r for r in rows if r["config"] == name}
        if not by_busy:
            continue
        cells = [name, str(by_busy[busy[0]]["threads"])]
        cells += [f"{by_busy[n]['seconds']:.1f}" for n in busy]
        cells += [f"{by_busy[n]['seconds'] / by_busy[quiet]['seconds']:.1f}×" for n in loaded]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Time every configuration quiet and loaded; write and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        choices=["eb", "branching"],
        default="eb",
        help="eb (16,819 cells, 5 PCs) or the simulated branching course (2-D latent)",
    )
    parser.add_argument("--n-iters", type=int, default=500, help="training steps per fit (default 500)")
    parser.add_argument(
        "--busy", type=int, nargs="+", help="busy processes per run; the first is the reference (default: 0, 3 per CPU)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="fits per cell of the table; the median is shown")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return
    from scam._settings import available_cpus

    busy = args.busy or [0, 3 * available_cpus()]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    start = time.perf_counter()
    for name in args.configs:
        for n in busy:
            runs = [_timed_fit(CONFIGS[name], n, args) for _ in range(args.repeats)]
            r = {**runs[0], "seconds": statistics.median(x["seconds"] for x in runs)}
            rows.append({"config": name, "busy": n, **r})
            times = ", ".join(f"{x['seconds']:.1f}" for x in runs)
            print(f"{name:>14}, {n:2d} busy: {times} s with {r['threads']} thread(s)", flush=True)
    first = rows[0]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores ({first['available_cpus']} usable by this process), "
        f"torch's default {first['torch_default']} thread(s); load average {load_before:.2f} before the runs"
    )
    data = "Embryoid Body" if args.data == "eb" else "simulated branching course"
    total = (time.perf_counter() - start) / 60
    text = "\n".join(
        [
            "# Fit time beside busy processes",
            "",
            f"`scam.tl.fit` on the {data} ({first['n_cells']:,} cells), {args.n_iters} steps, CPU, the median of "
            f"{args.repeats} fit(s) per cell of the table, each in a fresh process without `OMP_NUM_THREADS`; the "
            f"busy processes are pure-Python spin loops. Machine: {machine}. Total {total:.1f} min.",
            "",
            f"Command: `{shlex.join(['python', 'docs/benchmarks/threads/threads.py', *sys.argv[1:]])}`",
            "",
            _table(rows, busy),
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
