"""Benchmark harness: leave-one-timepoint-out against baselines and peers, reports, scale tests.

Kept apart from the core; imported lazily by ``scam.tl.leave_one_timepoint_out`` and the CLI.
"""

from .baselines import BASELINES
from .lot import SCAM_VARIANTS, available_methods, run_lot, summarize
from .published import PUBLISHED_EB_W1

__all__ = ["BASELINES", "PUBLISHED_EB_W1", "SCAM_VARIANTS", "available_methods", "run_lot", "summarize"]
