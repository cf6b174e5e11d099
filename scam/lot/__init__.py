"""The leave-one-timepoint-out engine on arrays: the loop, baselines and the OT-CFM peer.

It sits below :mod:`scam.tl` (which reads and writes AnnData around it) and above the trainer,
which it calls to fit scam on the kept time points; :mod:`scam.benchmark` writes reports on top.
"""

from .baselines import BASELINES
from .engine import SCAM_VARIANTS, ScamFitter, available_methods, run_lot, summarize

__all__ = ["BASELINES", "SCAM_VARIANTS", "ScamFitter", "available_methods", "run_lot", "summarize"]
