"""Tools: fit Action Matching and simulate cells (``scam.tl``)."""

from ._fit import fit
from ._trajectories import trajectories

__all__ = ["fit", "trajectories"]
