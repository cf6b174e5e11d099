"""What every ``scam`` command shares: exit codes, one-line errors, checked inputs and outputs."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import _io
from .._settings import check_n_threads, default_n_threads, warn_oversubscribed

EXIT_USAGE = 2
EXIT_WRITE_FAILED = 1
EXIT_INTERRUPTED = 130

#: The time key of the bundled Embryoid Body data in every command (``scam fit``, ``scam benchmark``): the
#: named sampling windows ("Day 00-03" < ... < "Day 24-27"), whose values are the window indices 0..4, the same
#: numbers as ``obs["time"]`` (``--time-key time`` fits the same time course with the windows labelled 0..4).
EB_TIME_KEY = "day"


class CommandError(Exception):
    """Ends a command with one line on stderr (``scam COMMAND: message``) and ``code``, without a traceback."""

    def __init__(self, message: str, *, code: int = EXIT_USAGE, prog: str | None = None):
        super().__init__(re.sub(r"\s*\n\s*", " ", str(message)).strip())
        self.code, self.prog = code, prog


class _Parser(argparse.ArgumentParser):
    """argparse prints its usage and exits on a bad argument; scam raises one line that names the fix."""

    def error(self, message: str):  # noqa: D102
        raise CommandError(f"{message} (see `{self.prog} --help`)", prog=self.prog)


@contextmanager
def _user_errors() -> Iterator[None]:
    """``ValueError``/``TypeError`` from scam (its messages name the fix) end the command with exit code 2.

    So does a ``FloatingPointError`` (a fit that diverged or an OT solve that failed): its message names the
    settings to change.
    """
    try:
        yield
    except (ValueError, TypeError, FloatingPointError) as e:
        raise CommandError(str(e)) from e


def _output(path: str | Path, *, kind: str, flag: str) -> Path:
    """Check an output path before any work; exit code 2 if it cannot be written.

    ``kind`` is one of :func:`scam._io.check_output`'s, or ``"model"``: a model folder, replaced if it holds a
    model, never if it holds anything else (:func:`scam._persist.check_save_path`).
    """
    from .._persist import check_save_path

    try:
        if kind == "model":
            return check_save_path(path, overwrite=True, flag=flag)
        return _io.check_output(path, kind=kind, flag=flag)
    except OSError as e:
        raise CommandError(str(e)) from e


@contextmanager
def _writing(what: str) -> Iterator[None]:
    """A failure while writing outputs (a full disk, a size limit) ends the command with exit code 1."""
    try:
        yield
    except OSError as e:
        raise CommandError(
            f"could not write {what} ({e}); the previous files are left as they were", code=EXIT_WRITE_FAILED
        ) from e


def _input_file(path: str | Path, *, flag: str) -> Path:
    """An input path, ``~``-expanded; a missing file ends the command with exit code 2."""
    path = _io.expand(path)
    if not path.is_file():
        raise CommandError(f"no such file: {path}; give an existing .h5ad file as {flag}")
    return path


def _read_h5ad(path: Path, *, flag: str):
    """Read an ``.h5ad`` input; a file that is not one ends the command with exit code 2."""
    import anndata as ad

    try:
        return ad.read_h5ad(path)
    except Exception as e:  # h5py raises OSError, anndata KeyError/ValueError/... for files that are not AnnData
        first = str(e).splitlines()[0] if str(e) else ""
        raise CommandError(
            f"cannot read {path} as an .h5ad file ({type(e).__name__}: {first[:200]}); give an AnnData file "
            f"written by `adata.write_h5ad` as {flag}"
        ) from e


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    """``--threads N``: torch threads of the command (``scam.settings.n_threads``), applied by ``scam.cli.main``."""
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch threads (default: the CPUs this process may use, at most OMP_NUM_THREADS; "
        f"{default_n_threads()} here); 1 is fastest on a machine busy with other work",
    )


def _threads(args: argparse.Namespace) -> int | None:
    """The checked ``--threads`` of a command (``None``: automatic, or a command without the option)."""
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise CommandError(
            f"--threads must be a positive integer, got {threads}; leave it out for the CPUs this process may use "
            f"({default_n_threads()} here)"
        )
    if threads is not None:
        try:
            check_n_threads(threads, "--threads", "leave it out (automatic)")
        except ValueError as e:
            raise CommandError(str(e)) from None
        warn_oversubscribed(threads, "--threads")
    return threads
