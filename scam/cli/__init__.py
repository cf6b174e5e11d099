"""Command line: ``scam fit`` and ``scam benchmark``.

Exit codes: 0 done; 2 a mistake the user can fix (bad arguments, a path that cannot be written, an input
that is not an ``.h5ad``, a ``ValueError``/``TypeError`` from scam), printed as ONE line naming the fix, no
traceback, checked before any training where possible; 1 the outputs could not be written (the previous
ones are left as they were); 130 interrupted with Ctrl-C (nothing is written over existing outputs).
Every output goes through :mod:`scam._io` (checked first, written beside the target, then swapped in).
"""

from __future__ import annotations

import logging
import sys

from .._settings import torch_threads
from .._version import installed_version
from ._benchmark import _benchmark_parser
from ._common import EXIT_INTERRUPTED, CommandError, _Parser, _threads
from ._fit import _fit_parser

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``scam`` command; returns the exit code (see the module docstring)."""
    parser = _Parser(prog="scam", description="scam: single-cell Action Matching.")
    parser.add_argument("--version", action="store_true", help="print the version of scam and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _fit_parser(sub)
    _benchmark_parser(sub)
    args = None
    try:
        args = parser.parse_args(argv)
        if args.version:
            print(f"scam {installed_version()}")
            return 0
        if args.command is None:
            parser.print_help()
            return 0
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        with torch_threads(_threads(args)):  # --threads, or scam.settings.n_threads; put back afterwards
            return args.func(args)
    except CommandError as e:
        prog = e.prog or (f"scam {args.command}" if args is not None else "scam")
        print(f"{prog}: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        prog = f"scam {args.command}" if args is not None else "scam"
        print(f"{prog}: interrupted (Ctrl-C); no output was written or replaced", file=sys.stderr)
        return EXIT_INTERRUPTED
