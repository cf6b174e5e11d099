"""Plotting (``scam.pl``); matplotlib is imported when a function draws."""

from ._benchmark import benchmark
from ._fate import fate, transitions
from ._genes import gene_trends
from ._growth import growth
from ._history import history
from ._interpolation import interpolation
from ._trajectories import trajectories
from ._velocity import velocity

__all__ = ["benchmark", "growth", "history", "interpolation", "trajectories", "velocity"]
__all__ += ["fate", "gene_trends", "transitions"]
