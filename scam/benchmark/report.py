"""Tables and files for benchmark results."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .._io import check_output, replacing
from ..lot import summarize
from .published import PUBLISHED_EB_NOTES


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f}" if not math.isfinite(std) else f"{mean:.3f} ± {std:.3f}"


def markdown_table(
    df: pd.DataFrame, *, metric: str = "w1", published: Mapping[str, tuple[float, float]] | None = None
) -> str:
    """Markdown table: mean ± std over seeds of the mean over held-out times, each held-out time, fit seconds.

    Rows of ``published`` (name -> (mean, std)) are added and marked as quoted, not re-run, with
    their caveats from :data:`~scam.benchmark.published.PUBLISHED_EB_NOTES`.
    """
    table = summarize(df, metric)
    held = [c for c in table.columns if c not in ("mean", "std", "fit_seconds")]
    n_seeds = df["seed"].nunique()
    head = ["method", f"{metric.upper()} (mean ± std over {n_seeds} seed{'s' * (n_seeds > 1)})"]
    head += [f"held out {h}" for h in held] + ["seconds / fold", "source"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = [
        (name, r["mean"], r["std"], [r[h] for h in held], r["fit_seconds"], "this run") for name, r in table.iterrows()
    ]
    for name, (mean, std) in (published or {}).items():
        source = f"published; {PUBLISHED_EB_NOTES[name]}" if name in PUBLISHED_EB_NOTES else "published"
        rows.append((f"{name} (published)", mean, std, [float("nan")] * len(held), float("nan"), source))
    for name, mean, std, per, sec, source in sorted(rows, key=lambda r: r[1]):
        cells = [name, _pm(mean, std), *("" if not math.isfinite(v) else f"{v:.3f}" for v in per)]
        cells += ["" if not math.isfinite(sec) else f"{sec:.1f}", source]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    df: pd.DataFrame,
    out_dir: str | Path,
    *,
    published: Mapping[str, tuple[float, float]] | None = None,
    title: str = "Leave-one-timepoint-out benchmark",
    notes: str = "",
) -> dict[str, Path]:
    """Write ``results.csv`` (long table), ``results.md`` (one table per metric) and ``results.png``.

    The folder ``out_dir`` (``~`` expanded) is created if missing; the three files are written beside their
    targets and replace the previous ones together once all are complete (:func:`scam._io.replacing`).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..pl import benchmark as plot_benchmark

    out = check_output(out_dir, kind="files_in")
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "results.csv", "md": out / "results.md", "png": out / "results.png"}
    parts = [f"# {title}", "", notes, ""] if notes else [f"# {title}", ""]
    for metric in [m for m in ("w1", "w2", "mmd", "mass_error") if m in set(df["metric"])]:
        parts += [
            f"## {metric}",
            "",
            markdown_table(df, metric=metric, published=published if metric == "w1" else None),
            "",
        ]
    fig = plot_benchmark(df, published=published, return_fig=True, show=False)
    try:  # all three replace the previous ones together, or none does
        with replacing(paths["csv"], paths["md"], paths["png"]) as (csv, md, png):
            df.to_csv(csv, index=False)
            md.write_text("\n".join(parts), encoding="utf-8")
            fig.savefig(png, dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    return paths
