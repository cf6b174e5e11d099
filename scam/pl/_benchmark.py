"""``scam.pl.benchmark``: W1 per method and held-out time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from ._utils import chosen_conditions, finish, panel_grid


def _results(data, key: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, AnnData):
        if key not in data.uns or "results" not in data.uns[key]:
            raise ValueError(
                f"No benchmark results in adata.uns[{key!r}]; run `scam.tl.leave_one_timepoint_out` first."
            )
        return pd.DataFrame({k: np.asarray(v) for k, v in data.uns[key]["results"].items()})
    raise TypeError(f"Expected the DataFrame of scam.tl.leave_one_timepoint_out or an AnnData, got {type(data)}.")


def benchmark(
    adata: AnnData | pd.DataFrame,
    *,
    metric: str = "w1",
    key: str = "scam_lot",
    published: Mapping[str, tuple[float, float]] | None = None,
    conditions: str | Sequence[str] | None = None,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Bar chart of a benchmark metric per method: mean over held-out times ± std over seeds.

    Dots show each held-out time (averaged over seeds); published rows (name -> (mean, std)) are
    drawn hatched and labelled as published.

    Parameters
    ----------
    adata
        An AnnData holding the results of :func:`scam.tl.leave_one_timepoint_out` (in
        ``uns[key]``), or the table it returned.
    metric
        ``"w1"``, ``"w2"``, ``"mmd"`` or ``"mass_error"``.
    key
        ``uns`` key of the results when ``data`` is an AnnData.
    published
        Published results to show beside this run.
    conditions
        With a benchmark per condition (a ``condition`` column, from ``condition_key``): the
        condition(s) to draw, one panel each (as scanpy draws several keys); ``None``: all.
    ax
        Axes to draw on (a new figure otherwise).
    show
        Show the figure (default: when no ``ax`` is given and not returning it).
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/benchmark.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/benchmark_eb.png``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes (a list of them for several conditions) when
    ``show=False``, else ``None``.
    """
    from ..lot import summarize

    df = _results(adata, key)
    if "condition" in df.columns:  # a benchmark per condition: one panel each
        names = [str(c) for c in pd.unique(df["condition"].astype(str))]
        chosen = chosen_conditions(names, conditions, "the benchmark")
        parts = [(c, df[df["condition"].astype(str) == c].drop(columns="condition")) for c in chosen]
    else:
        if conditions is not None:
            raise ValueError(f"`conditions={conditions!r}`: the benchmark has no conditions (no `condition` column).")
        parts = [(None, df)]
    tables = [(name, summarize(part, metric)) for name, part in parts]
    n_rows = max(len(table) for _, table in tables) + len(published or {})
    fig, axes, ax_given = panel_grid(len(tables), ax, (6.5, 0.35 * n_rows + 1.2), what=f"{len(tables)} conditions")
    for a, (name, table) in zip(axes, tables, strict=True):
        _draw(
            a,
            table,
            metric,
            published,
            "Leave-one-timepoint-out" if name is None else f"{name}: leave-one-timepoint-out",
        )
    result = axes[0] if len(axes) == 1 else axes
    return finish(fig, result, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="benchmark")


def _draw(ax, table: pd.DataFrame, metric: str, published, title: str) -> None:
    """Bars of one summary table (of :func:`scam.benchmark.summarize`) and the published rows on ``ax``."""
    held = [c for c in table.columns if c not in ("mean", "std", "fit_seconds")]
    rows = [(name, r["mean"], r["std"], [r[h] for h in held], False) for name, r in table.iterrows()]
    rows += [(f"{name} (published)", m, s, [], True) for name, (m, s) in (published or {}).items()]
    rows.sort(key=lambda r: r[1], reverse=True)
    y = np.arange(len(rows))
    for i, (_, mean, std, per, is_pub) in enumerate(rows):
        ax.barh(
            i,
            mean,
            xerr=None if not np.isfinite(std) else std,
            color="0.85" if is_pub else "tab:blue",
            hatch="//" if is_pub else None,
            edgecolor="0.4",
            capsize=3,
        )
        if per:
            ax.scatter(per, [i] * len(per), s=12, color="black", zorder=3)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlabel(f"{metric.upper()} (lower is better)")
    ax.set_title(title)
    if held:
        ax.scatter([], [], s=12, color="black", label="per held-out time")
        ax.legend(loc="lower right", frameon=False)
