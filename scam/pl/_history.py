"""``scam.pl.history``: training loss and validation W1 of :func:`scam.tl.fit`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from .. import _keys
from ..tl._utils import fit_uns
from ._utils import chosen_conditions, finish, panel_grid


def history(
    adata: AnnData,
    *,
    key: str = _keys.DEFAULT_KEY,
    conditions: str | Sequence[str] | None = None,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Training loss (left axis) and validation W1 (right axis) against the optimisation step.

    The loss is the Action Matching objective averaged over logging windows (it can be negative);
    the validation W1 is the distance between simulated and held-back observed cells. A dashed
    line marks the step of the best validation W1, whose model :func:`scam.tl.fit` returns. A fit
    with ``condition_key`` trained one model per condition: one panel each, titled with its name.

    Parameters
    ----------
    adata
        AnnData fitted with :func:`scam.tl.fit` (its ``uns[key]['history']``).
    key
        ``key_added`` of the fit.
    conditions
        With a fit per condition: the condition(s) to draw, one panel each; ``None``: all.
    ax
        Axes for the loss; the W1 goes on a twin axis sharing its x axis. One panel only (choose
        one condition).
    show
        Show the figure; default: unless ``ax`` is given or ``return_fig``.
    return_fig
        Return the Figure.
    save
        Save the whole figure once everything is drawn, with scanpy's semantics: ``True`` writes
        ``{sc.settings.figdir}/history.{sc.settings.file_format_figs}``; a string is appended to
        that name, an ending ``.png``, ``.pdf`` or ``.svg`` choosing the format (``save="_eb.png"``:
        ``figures/history_eb.png``).

    Returns
    -------
    The Figure with ``return_fig``, else the Axes of the loss (a list of them for several
    conditions) when not shown, else ``None``.
    """
    uns = fit_uns(adata, key)
    if isinstance(uns.get("conditions"), dict):  # a fit per condition: one panel each
        names = [str(c) for c in np.atleast_1d(uns["params"]["conditions"])]
        chosen = chosen_conditions(names, conditions, f"the fit in adata.uns[{key!r}]")
        records = [(name, uns["conditions"][_keys.condition(name)]) for name in chosen]
    else:
        if conditions is not None:
            raise ValueError(f"`conditions={conditions!r}`: the fit in adata.uns[{key!r}] has no conditions.")
        records = [(None, uns)]
    for _, rec in records:
        hist = rec.get("history")
        if not isinstance(hist, dict) or len(np.atleast_1d(hist.get("loss", []))) == 0:
            raise ValueError(
                f"adata.uns[{key!r}] has no training history; run `scam.tl.fit(adata, ..., key_added={key!r})` first."
            )
    fig, axes, ax_given = panel_grid(len(records), ax, (6, 4), what=f"{len(records)} conditions")
    for a, (name, rec) in zip(axes, records, strict=True):
        _draw(a, rec["history"], "scam training" if name is None else f"{name}: scam training")
    result = axes[0] if len(axes) == 1 else axes
    return finish(fig, result, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="history")


def _draw(ax, hist: dict, title: str) -> None:
    """Loss and validation W1 of one training on ``ax`` (the W1 on a twin axis)."""
    it, loss = np.asarray(hist["iteration"], dtype=float), np.asarray(hist["loss"], dtype=float)
    val_it = np.asarray(hist.get("val_iteration", []), dtype=float)
    val_w1 = np.asarray(hist.get("val_w1", []), dtype=float)
    handles = ax.plot(it, loss, color="tab:blue", lw=1.2, label="training loss")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("Action Matching loss", color="tab:blue")
    if len(val_w1):
        twin = ax.twinx()
        handles += twin.plot(val_it, val_w1, "o-", color="tab:orange", ms=3, lw=1.2, label="validation W1")
        twin.set_ylabel("validation W1", color="tab:orange")
        best = int(np.nanargmin(val_w1))
        handles.append(
            ax.axvline(
                val_it[best], color="0.4", ls="--", lw=1, label=f"best W1 {val_w1[best]:.3g} (step {val_it[best]:.0f})"
            )
        )
    ax.legend(handles=handles, loc="upper right", frameon=False)
    ax.set_title(title)
