"""scam's log messages, heard at scanpy's verbosity (as scvelo's and CellRank's are).

Every module logs through ``logging.getLogger("scam")``. That logger has one handler,
:class:`VerbosityHandler`, which writes to ``sys.stderr`` the messages at or above the level that
``scanpy.settings.verbosity`` names *when the message is emitted* (0 errors, 1 warnings, the default,
2 info, 3 hints, 4 debug), so ``sc.settings.verbosity = 2`` shows what :func:`scam.tl.fit` does. Scanpy is
never imported for this: while it is not imported, the level is scanpy's default, warnings.

Like scanpy's own logger, ``"scam"`` does not pass its messages on to the root logger (no duplicates under a
``logging.basicConfig``); add a handler to it (or set ``logging.getLogger("scam").propagate = True``) to route
them elsewhere. Warnings the user must act on go through :func:`warnings.warn`, not the logger.
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "scam"

#: scanpy's ``hint`` level, between ``DEBUG`` and ``INFO``.
HINT = 15

#: ``scanpy.settings.verbosity`` (0..4) -> the lowest level shown.
VERBOSITY_LEVELS = (logging.ERROR, logging.WARNING, logging.INFO, HINT, logging.DEBUG)

#: scanpy's default verbosity (``warning``), used while scanpy is not imported.
DEFAULT_VERBOSITY = 1


def verbosity() -> int:
    """``scanpy.settings.verbosity`` as an int in 0..4, read now; 1 (warning) while scanpy is not imported."""
    scanpy = sys.modules.get("scanpy")
    settings = getattr(scanpy, "settings", None)  # None while scanpy is still being imported
    value = getattr(settings, "verbosity", DEFAULT_VERBOSITY)
    try:
        value = int(value)  # scanpy's Verbosity is an IntEnum
    except (TypeError, ValueError):
        value = DEFAULT_VERBOSITY
    return min(max(value, 0), len(VERBOSITY_LEVELS) - 1)


def verbosity_level() -> int:
    """The lowest logging level shown at the current scanpy verbosity."""
    return VERBOSITY_LEVELS[verbosity()]


class _Formatter(logging.Formatter):
    """scanpy's format: ``WARNING: message`` for warnings and errors, the bare message below."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102
        message = super().format(record)
        return f"{record.levelname}: {message}" if record.levelno >= logging.WARNING else message


class VerbosityHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` the records at or above :func:`verbosity_level`, read at emit time."""

    def __init__(self):
        super().__init__(level=logging.NOTSET)
        self.setFormatter(_Formatter("%(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        return record.levelno >= verbosity_level() and bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        try:
            stream = sys.stderr  # looked up now: notebooks and pytest's capsys replace it
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never raise; handleError reports it
            self.handleError(record)


def setup() -> logging.Logger:
    """Give the ``scam`` logger its :class:`VerbosityHandler` (once) and let it pass every level to it."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, VerbosityHandler) for h in logger.handlers):
        logger.addHandler(VerbosityHandler())
    if logger.level == logging.NOTSET:  # a level the user set stays; the handler decides what is shown
        logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger
