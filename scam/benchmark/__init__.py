"""Benchmark reports: leave-one-timepoint-out tables and figures, the growth benchmark, scale tests.

The top layer (beside the CLI): it runs :mod:`scam.lot` and :mod:`scam.tl` and writes their
results; nothing below imports it.
"""

from ..lot import BASELINES, SCAM_VARIANTS, available_methods, run_lot, summarize
from .published import PUBLISHED_EB_W1

__all__ = ["BASELINES", "PUBLISHED_EB_W1", "SCAM_VARIANTS", "available_methods", "run_lot", "summarize"]
