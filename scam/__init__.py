"""scam — single-cell Action Matching.

Learn one scalar action ``s(x, t)`` from time-course snapshots: its gradient is the cells'
velocity, ``λ s`` their growth rate, ``σ`` their noise (Neklyudov et al., ICML 2023).
"""

from . import _logging, datasets, pl, pp, tl
from ._settings import settings
from ._version import __version__ as __version__
from .model import ActionModel

__all__ = ["ActionModel", "datasets", "pl", "pp", "settings", "tl"]

_logging.setup()  # messages at scanpy's verbosity (read when each is emitted), see scam/_logging.py
