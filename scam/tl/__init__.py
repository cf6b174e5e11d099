"""Tools: fit Action Matching and simulate cells (``scam.tl``)."""

from ._fit import fit
from ._lot import leave_one_timepoint_out
from ._trajectories import trajectories

__all__ = ["fit", "leave_one_timepoint_out", "trajectories"]
