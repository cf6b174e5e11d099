"""Make the figures of the documentation from the bundled Embryoid Body data.

Run from the repository root::

    python docs/make_figures.py            # writes docs/_static/eb_{trajectories,velocity,growth}.png

The EB data has no UMAP, so the figures use the first two principal components (``basis="pca"``),
where scam's paths and velocities are drawn exactly. Trajectories and velocities come from a fit
with the defaults of :func:`scam.tl.fit` (no growth: λ = 0); the growth figure needs λ > 0 and
comes from a second fit with ``lam=0.1`` (the "uAM" variant of the benchmark in the README).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import scam  # noqa: E402

DPI = 120


def main(argv: list[str] | None = None) -> None:
    """Fit EB, simulate paths and save the three figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "_static"), help="output folder")
    parser.add_argument("--n-iters", type=int, default=None, help="optimisation steps (default: scam.tl.fit's)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fit_kwargs = {"progress_bar": False} | ({} if args.n_iters is None else {"n_iters": args.n_iters})

    adata = scam.datasets.embryoid_body()
    start = time.perf_counter()
    model = scam.tl.fit(adata, time_key="day", **fit_kwargs)
    print(f"fit (defaults) in {time.perf_counter() - start:.1f} s")
    scam.tl.trajectories(adata, model, n_cells=200)

    fig = scam.pl.trajectories(adata, basis="pca", n_trajectories=60, return_fig=True)
    fig.savefig(out / "eb_trajectories.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)

    fig = scam.pl.velocity(adata, basis="pca", kind="stream", return_fig=True)
    fig.savefig(out / "eb_velocity.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)

    start = time.perf_counter()
    scam.tl.fit(adata, time_key="day", lam=0.1, key_added="scam_lam", **fit_kwargs)
    print(f"fit (lam=0.1) in {time.perf_counter() - start:.1f} s")
    fig = scam.pl.growth(adata, basis="pca", key="scam_lam", return_fig=True)
    fig.savefig(out / "eb_growth.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    for name in ("eb_trajectories", "eb_velocity", "eb_growth"):
        path = out / f"{name}.png"
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
