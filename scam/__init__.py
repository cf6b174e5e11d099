"""scam — single-cell Action Matching.

Learn one scalar action ``s(x, t)`` from time-course snapshots: its gradient is the cells'
velocity, ``λ s`` their growth rate, ``σ`` their noise (Neklyudov et al., ICML 2023).
"""

import logging as _logging

from . import datasets, pl, pp, tl
from ._settings import settings
from .model import ActionModel

__version__ = "0.1.0"
__all__ = ["ActionModel", "datasets", "pl", "pp", "settings", "tl"]

_logging.getLogger("scam").addHandler(_logging.NullHandler())
