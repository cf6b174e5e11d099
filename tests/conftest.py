"""Session set-up for the tests; the shared helpers are in ``tests/_helpers.py``.

``_helpers`` holds plain functions and constants rather than fixtures, since module-scoped fixtures and
``parametrize`` tables use them too: the quick fit settings (``TINY_FIT``, ``SMALL_FIT``, ``QUICK_FIT``,
``LOT_FIT``, ``MEDIUM_NET``, ``LARGE_NET``, ``QUIET``), the small data ``small_path()``, and ``Snapshot``, the
check that a call left the user's ``adata`` unchanged.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
import torch

import scam

# pytest runs with --import-mode=importlib, which leaves sys.path alone: this makes `from _helpers import ...`
# work in the test modules, whether one file or the whole suite is run, and from any folder.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# One thread for the whole session: the fits are small, and threads only contend on a loaded machine. scam runs
# its torch work with scam.settings.n_threads (restoring the caller's count afterwards), so set both.
torch.set_num_threads(1)
scam.settings.n_threads = 1


def pytest_xdist_auto_num_workers(config):
    """``pytest -n auto``: one worker per CPU this process may use (affinity mask, cgroup quota), one thread each.

    xdist's own count is the machine's cores, which oversubscribes a container or a cluster job given a few of
    many; each worker runs its tests on one thread (above), so this many workers keep the usable CPUs busy.
    """
    return scam._settings.available_cpus()


@pytest.fixture(autouse=True)
def _scam_log_reaches_caplog(caplog):
    """The ``scam`` logger does not propagate (as scanpy's): hand its records to ``caplog`` too.

    ``caplog.at_level(logging.INFO, logger="scam")`` then captures scam's messages as for any logger, whatever
    ``scanpy.settings.verbosity`` says (that decides only what scam prints to stderr).
    """
    logger = logging.getLogger("scam")
    logger.addHandler(caplog.handler)
    yield
    logger.removeHandler(caplog.handler)
