"""scam — single-cell Action Matching.

Learn one scalar action ``s(x, t)`` from time-course snapshots: its gradient is the cells'
velocity, ``λ s`` their growth rate, ``σ`` their noise (Neklyudov et al., ICML 2023).
"""

from . import _logging, datasets, pl, pp, tl
from ._settings import settings
from ._version import __version__ as __version__
from .model import ActionModel

__all__ = ["ActionModel", "datasets", "pl", "pp", "settings", "tl"]


def __getattr__(name: str):
    """Subpackages imported on first use (``scam.benchmark.run_lot`` after a plain ``import scam``).

    The import of scam stays light: the benchmark runner is not needed to fit and read out.
    """
    if name == "benchmark":
        import scam.benchmark as benchmark  # (`from . import benchmark` would call this __getattr__ again)

        return benchmark
    if name == "core":
        import scam.core as core

        return core
    if name == "lot":
        import scam.lot as lot

        return lot
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_logging.setup()  # messages at scanpy's verbosity (read when each is emitted), see scam/_logging.py
