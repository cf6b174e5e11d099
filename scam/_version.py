"""scam's version and the name it is distributed under (the import name is ``scam``)."""

from __future__ import annotations

#: The version of this source tree; the same as ``[project] version`` in ``pyproject.toml`` (a test checks it).
__version__ = "0.1.0"

#: The distribution name on the package index (``pip install scam-sc``): ``scam`` there is an unrelated project.
DISTRIBUTION = "scam-sc"


def installed_version() -> str:
    """The version of the installed ``scam-sc`` distribution, or :data:`__version__` when it is not installed.

    Never asks for a distribution named ``scam``: that name belongs to an unrelated package.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree (or an editable install under the old name)
        return __version__
