"""Every file scam writes: checked before the work, written beside the target, then swapped in.

A file is written to a hidden temporary sibling in the same folder and moved onto its path with
:func:`os.replace` (atomic on one file system), so a failure while writing (a full disk, a file-size
limit, Ctrl-C) leaves the previous file as it was and no half-written one. A folder that is replaced
whole (a model folder) is written completely as a new sibling folder, then swapped in: the old folder
is renamed aside, the new one renamed in, the old one deleted; a failure at any point before the
swap leaves the old folder in place.

:func:`check_output` checks an output path before any training, so that a bad path fails in a second
with an error naming the fix, not after an hour of fitting. Every path is ``~``-expanded.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

#: Marks the temporary siblings scam writes (``.NAME.scam-tmp-XXXXXXXX``) and old folders set aside.
TMP_TAG = "scam-tmp"
OLD_TAG = "scam-old"


def expand(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` with a leading ``~`` expanded to the home folder."""
    return Path(os.path.expanduser(os.fspath(path)))


def _fix(flag: str | None) -> str:
    return f"choose another {flag}" if flag else "choose another path"


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder above ``path`` that exists (``path.parent`` when it does)."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _check_writable(folder: Path, flag: str | None) -> None:
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder; {_fix(flag)}.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write in {folder} (no permission); {_fix(flag)} in a folder you can write to.")


def check_output(
    path: str | os.PathLike, *, kind: Literal["file", "folder", "files_in"] = "file", flag: str | None = None
) -> Path:
    """Check, before any work, that scam can write ``path``; return it ``~``-expanded.

    Parameters
    ----------
    path
        The output path.
    kind
        ``"file"``: one file, replaced whole; its folder must exist and be writable, and ``path`` must not
        be a folder. ``"folder"``: a folder replaced whole (a model folder); it must not be a file, and the
        nearest existing folder above it must be writable (missing parents are created).
        ``"files_in"``: a folder that files are written into (a benchmark's output folder); it must not be
        a file, and it (or, when missing, the nearest existing folder above it) must be writable.
    flag
        How the user named the path (``"--out"``), for the error message; default "path".

    Raises
    ------
    IsADirectoryError, NotADirectoryError, FileNotFoundError, PermissionError
        With a message that names the path and the fix.
    """
    path = expand(path)
    if kind == "file":
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder; give a file path (e.g. {path / 'out.h5ad'}) or {_fix(flag)}.")
        if not path.parent.exists():
            raise FileNotFoundError(f"The folder {path.parent} does not exist; create it first or {_fix(flag)}.")
        _check_writable(path.parent, flag)
    elif kind in ("folder", "files_in"):
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} is a file, not a folder; {_fix(flag)} (a folder path).")
        _check_writable(path if kind == "files_in" and path.is_dir() else _existing_ancestor(path), flag)
    else:
        raise ValueError(f"`kind` must be 'file', 'folder' or 'files_in', got {kind!r}.")
    return path


def _sibling(path: Path, tag: str) -> Path:
    """A hidden, unused name in ``path``'s folder that keeps its suffix (writers infer formats from it)."""
    return path.with_name(f".{path.stem}.{tag}-{secrets.token_hex(4)}{path.suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def replacing(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Temporary sibling paths to write ``paths`` to; moved onto them together when the block succeeds.

    ``with replacing(out) as (tmp,): adata.write_h5ad(tmp)``. When the block raises (also on Ctrl-C),
    the temporary files are deleted and every file at ``paths`` is left as it was. A target that is a
    symbolic link has the file it points to replaced (the link stays).
    """
    targets = [expand(p) for p in paths]
    targets = [p.resolve() if p.is_symlink() else p for p in targets]
    tmps = [_sibling(p, TMP_TAG) for p in targets]
    try:
        yield tmps
        for tmp in tmps:
            if not tmp.exists():
                raise FileNotFoundError(f"Nothing was written to {tmp}; the writer used another name.")
        for tmp, target in zip(tmps, targets, strict=True):
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            _remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary sibling; returns the expanded path."""
    with replacing(path) as (tmp,):
        tmp.write_text(text, encoding="utf-8")
    return expand(path)


@contextmanager
def replacing_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A new, empty sibling folder to fill; swapped in for ``path`` when the block succeeds.

    The missing parents of ``path`` are created. When the block raises, the new folder is deleted and
    ``path`` is left as it was. On success an existing ``path`` is renamed aside, the new folder renamed
    in, and the old one deleted; should the second rename fail, the old folder is renamed back. A ``path``
    that is a symbolic link has the folder it points to replaced (the link stays), as :func:`replacing` does.
    """
    path = expand(path)
    path = path.resolve() if path.is_symlink() else path
    path.parent.mkdir(parents=True, exist_ok=True)
    new = _sibling(path, TMP_TAG)
    new.mkdir()
    try:
        yield new
        if not path.exists():
            os.replace(new, path)
            return
        old = _sibling(path, OLD_TAG)
        os.replace(path, old)
        try:
            os.replace(new, path)
        except BaseException:
            os.replace(old, path)
            raise
        _remove(old)
    finally:
        _remove(new)
