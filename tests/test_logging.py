"""scam's messages at scanpy's verbosity, and warnings that reach the user (issue 15)."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
import scanpy as sc
from _helpers import TINY_FIT, small_path

import scam
from scam import _logging


@pytest.fixture
def verbosity():
    """Set ``sc.settings.verbosity`` for one test; the previous value comes back afterwards."""
    before = sc.settings.verbosity

    def set_to(level):
        sc.settings.verbosity = level

    yield set_to
    sc.settings.verbosity = before


@pytest.mark.parametrize(("level", "shown"), [(0, False), (1, False), (2, True), (3, True), (4, True)])
def test_fit_info_follows_scanpy_verbosity(verbosity, capsys, level, shown):
    verbosity(level)
    scam.tl.fit(small_path(), **TINY_FIT)
    err = capsys.readouterr().err
    assert ("added" in err and "scam_velocity" in err) is shown, err


def test_verbosity_is_read_when_a_message_is_emitted(verbosity, capsys):
    """Not frozen at import: one logger, three levels in a row."""
    logger = logging.getLogger("scam")
    for level, shown in [(2, True), (0, False), (3, True), (1, False)]:
        verbosity(level)
        logger.info("note at verbosity %d", level)
        assert (f"note at verbosity {level}" in capsys.readouterr().err) is shown, level
    verbosity(0)
    logger.warning("a warning at verbosity 0")
    logger.error("an error at verbosity 0")
    err = capsys.readouterr().err
    assert "a warning" not in err and "ERROR: an error at verbosity 0" in err


def test_warnings_are_shown_by_default(verbosity, capsys):
    verbosity(1)  # scanpy's default
    logging.getLogger("scam").warning("something to see")
    assert capsys.readouterr().err == "WARNING: something to see\n"


def test_scanpy_verbosity_names_map_to_levels(verbosity):
    for name, level in [("error", logging.ERROR), ("warning", logging.WARNING), ("info", logging.INFO)]:
        verbosity(name)
        assert _logging.verbosity_level() == level
    verbosity("hint")
    assert _logging.verbosity_level() == _logging.HINT
    verbosity("debug")
    assert _logging.verbosity_level() == logging.DEBUG


def test_the_logger_has_one_handler_and_does_not_duplicate_through_root(verbosity, capsys):
    logger = logging.getLogger("scam")
    assert sum(isinstance(h, _logging.VerbosityHandler) for h in logger.handlers) == 1
    _logging.setup()  # idempotent: a second import path or a reload adds no second handler
    assert sum(isinstance(h, _logging.VerbosityHandler) for h in logger.handlers) == 1
    assert not logger.propagate
    verbosity(2)
    logger.info("once")
    assert capsys.readouterr().err.count("once") == 1


def test_caplog_still_captures_scam_records(caplog, verbosity):
    verbosity(0)  # nothing printed, but a test (or a user's own handler) still gets the records
    with caplog.at_level(logging.INFO, logger="scam"):
        logging.getLogger("scam").info("for the record")
    assert [r.getMessage() for r in caplog.records] == ["for the record"]


def test_import_without_scanpy_shows_warnings_only():
    """Scanpy is not imported by ``import scam``; until it is, the level is scanpy's default (warnings)."""
    code = (
        "import logging, sys; import scam; assert 'scanpy' not in sys.modules; "
        "log = logging.getLogger('scam'); log.info('hidden info'); log.warning('visible warning')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "visible warning" in result.stderr and "hidden info" not in result.stderr


def test_zero_growth_warning_reaches_the_user():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    adata = small_path()
    scam.tl.fit(adata, growth="none", interpolant="ot", **TINY_FIT)
    assert np.all(adata.obs["scam_growth"] == 0)
    with pytest.warns(UserWarning, match=r"is 0 everywhere: the fit learned no growth"):
        scam.pl.growth(adata, basis="pca", show=False)
    plt.close("all")
