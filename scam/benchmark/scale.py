"""Scale benchmark: fit on synthetic data with many cells; seconds per 1,000 steps and peak memory.

Each size runs in its own process so that its peak resident memory is its own
(``python -m scam.benchmark.scale --n-cells N`` prints one JSON line).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .. import _keys
from .._io import check_output, replacing
from .._time import MIN_CELLS_PER_TIME

#: Time points of the Gaussian path each size is split over.
N_TIMES = 4


def run_one(
    n_cells: int,
    *,
    n_dims: int = 50,
    n_iters: int = 1000,
    n_times: int = N_TIMES,
    device: str = "auto",
    random_state: int = 0,
) -> dict:
    """Fit scam (defaults, given ``n_iters``) on a Gaussian path with ``n_cells`` cells; time it and measure memory."""
    import torch

    from .. import datasets, tl

    times = tuple(float(t) for t in range(n_times))
    adata = datasets.gaussian_path(n_cells=n_cells // n_times, times=times, n_dims=n_dims, random_state=random_state)
    start = time.perf_counter()
    tl.fit(adata, "time", n_iters=n_iters, device=device, random_state=random_state, progress_bar=False)
    total = time.perf_counter() - start
    training = adata.uns[_keys.uns()]["training"]
    assert np.isfinite(adata.obsm[_keys.velocity()]).all()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    used = adata.uns["scam"]["params"]["device"]
    gpu_gb = float(torch.cuda.max_memory_allocated()) / 1024**3 if used.startswith("cuda") else None
    return {
        "n_cells": int(adata.n_obs),
        "n_dims": n_dims,
        "n_iters": n_iters,
        "device": adata.uns["scam"]["params"]["device"],
        "seconds_per_1000_steps": 1000 * float(training["loop_seconds"]) / int(training["n_steps"]),
        "fit_seconds": total,
        "peak_memory_gb": peak_kb / 1024**2,
        "gpu_peak_memory_gb": gpu_gb,  # torch's peak allocation on the GPU; None on the CPU
    }


def run_scale(
    sizes=(10_000, 100_000, 1_000_000), *, n_dims: int = 50, n_iters: int = 1000, device: str = "auto", echo=print
) -> list[dict]:
    """Run :func:`run_one` for each size in a fresh process; returns one dict per size."""
    smallest = N_TIMES * MIN_CELLS_PER_TIME
    bad = [n for n in sizes if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < smallest]
    if bad or not len(sizes):
        raise ValueError(
            f"The scale benchmark's sizes must be cell counts of at least {smallest} ({N_TIMES} time points of "
            f"{MIN_CELLS_PER_TIME} cells or more), got {list(sizes)}; e.g. --sizes 10000 100000."
        )
    rows = []
    for n in sizes:
        cmd = [
            sys.executable,
            "-m",
            "scam.benchmark.scale",
            "--n-cells",
            str(n),
            "--n-dims",
            str(n_dims),
            "--n-iters",
            str(n_iters),
            "--device",
            device,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"scale run with {n} cells failed:\n{out.stderr[-2000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        echo(
            f"  {row['n_cells']:>9,} cells × {n_dims} dims: {row['seconds_per_1000_steps']:.1f} s / 1000 steps, "
            f"fit {row['fit_seconds']:.1f} s, peak memory {row['peak_memory_gb']:.2f} GB"
        )
    base = rows[0]["seconds_per_1000_steps"]
    for row in rows:
        row["step_cost_ratio"] = row["seconds_per_1000_steps"] / base
    return rows


def markdown(rows: list[dict]) -> str:
    """Markdown table of :func:`run_scale` results."""
    lines = [
        "| cells | dims | s / 1000 steps | × smallest | fit s (all cells written) | peak memory GB "
        "| peak GPU memory GB | device |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gpu = r.get("gpu_peak_memory_gb")
        gpu = "" if gpu is None else f"{gpu:.2f}"  # a CPU run: empty
        lines.append(
            f"| {r['n_cells']:,} | {r['n_dims']} | {r['seconds_per_1000_steps']:.1f} | "
            f"{r['step_cost_ratio']:.2f} | {r['fit_seconds']:.1f} | {r['peak_memory_gb']:.2f} | {gpu} | {r['device']} |"
        )
    return "\n".join(lines)


def write_scale(rows: list[dict], out_dir: str | Path, *, machine: str) -> dict[str, Path]:
    """Write ``scale.json`` and ``scale.md`` into ``out_dir`` (created if missing); both replace the old ones together.

    Both are written beside their targets first (:func:`scam._io.replacing`).
    """
    out = check_output(out_dir, kind="files_in")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "scale.json", "md": out / "scale.md"}
    with replacing(paths["json"], paths["md"]) as (js, md):
        js.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        md.write_text(f"# Scale ({machine})\n\n" + markdown(rows) + "\n", encoding="utf-8")
    return paths


def _main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n-cells", type=int, required=True)
    p.add_argument("--n-dims", type=int, default=50)
    p.add_argument("--n-iters", type=int, default=1000)
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    print(json.dumps(run_one(a.n_cells, n_dims=a.n_dims, n_iters=a.n_iters, device=a.device)))


if __name__ == "__main__":
    _main()
