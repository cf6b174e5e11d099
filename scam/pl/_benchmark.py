"""``scam.pl.benchmark``: W1 per method and held-out time."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from ._utils import finish, new_axes


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
    The Figure with ``return_fig``, else the Axes when ``show=False``, else ``None``.
    """
    from ..lot import summarize

    table = summarize(_results(adata, key), metric)
    held = [c for c in table.columns if c not in ("mean", "std", "fit_seconds")]
    rows = [(name, r["mean"], r["std"], [r[h] for h in held], False) for name, r in table.iterrows()]
    rows += [(f"{name} (published)", m, s, [], True) for name, (m, s) in (published or {}).items()]
    rows.sort(key=lambda r: r[1], reverse=True)
    fig, ax, ax_given = new_axes(ax, figsize=(6.5, 0.35 * len(rows) + 1.2))
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
    ax.set_title("Leave-one-timepoint-out")
    if held:
        ax.scatter([], [], s=12, color="black", label="per held-out time")
        ax.legend(loc="lower right", frameon=False)
    # shown by default even on a given `ax` (unlike the other plots)
    show = True if show is None else show
    return finish(fig, ax, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="benchmark")
