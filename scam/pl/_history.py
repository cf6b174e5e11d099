"""``scam.pl.history``: training loss and validation W1 of :func:`scam.tl.fit`."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from .. import _keys
from ..tl._utils import fit_uns
from ._utils import finish, new_axes


def history(
    adata: AnnData,
    *,
    key: str = _keys.DEFAULT_KEY,
    ax=None,
    show: bool | None = None,
    return_fig: bool = False,
    save: bool | str | None = None,
):
    """Training loss (left axis) and validation W1 (right axis) against the optimisation step.

    The loss is the Action Matching objective averaged over logging windows (it can be negative);
    the validation W1 is the distance between simulated and held-back observed cells. A dashed
    line marks the step of the best validation W1, whose model :func:`scam.tl.fit` returns.

    Parameters
    ----------
    adata
        AnnData fitted with :func:`scam.tl.fit` (its ``uns[key]['history']``).
    key
        ``key_added`` of the fit.
    ax
        Axes for the loss; the W1 goes on a twin axis sharing its x axis.
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
    The Figure with ``return_fig``, else the Axes of the loss when not shown, else ``None``.
    """
    uns = fit_uns(adata, key)
    hist = uns.get("history")
    if not isinstance(hist, dict) or len(np.atleast_1d(hist.get("loss", []))) == 0:
        raise ValueError(
            f"adata.uns[{key!r}] has no training history; run `scam.tl.fit(adata, ..., key_added={key!r})` first."
        )
    it, loss = np.asarray(hist["iteration"], dtype=float), np.asarray(hist["loss"], dtype=float)
    val_it = np.asarray(hist.get("val_iteration", []), dtype=float)
    val_w1 = np.asarray(hist.get("val_w1", []), dtype=float)
    fig, ax, ax_given = new_axes(ax, figsize=(6, 4))
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
    ax.set_title("scam training")
    return finish(fig, ax, show=show, return_fig=return_fig, ax_given=ax_given, save=save, writekey="history")
