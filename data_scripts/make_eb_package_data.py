"""Build the Embryoid Body data file shipped inside the ``scam`` package.

This script converts the two EB files in the shared data folder

- ``eb_pca5_standardized.npy``: ``float64`` array of shape ``(16819, 5)``, TrajectoryNet's
  ``pcs[:, :5]`` z-scored per column over all cells (``ddof=0``), and
- ``eb_sample_labels.npy``: ``int64`` array of shape ``(16819,)`` with time labels ``0..4``,

into ``scam/datasets/data/eb_pca5.npz`` (written with :func:`numpy.savez_compressed`) with keys

- ``X``: ``float64`` ``(16819, 5)``, the values unchanged, and
- ``time``: ``int8`` ``(16819,)``, the labels ``0..4`` unchanged.

Before anything is written, the sha256 digests of both source files are checked against the
values recorded in ``shared/data/README.md``. Any mismatch (or unexpected shape, dtype or label
set) aborts with a non-zero exit status. After writing, the npz file is read back and compared
with the sources bit for bit.

Usage
-----
From the repository root::

    python data_scripts/make_eb_package_data.py
    python data_scripts/make_eb_package_data.py --src /path/to/shared/data/eb --out scam/datasets/data/eb_pca5.npz
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO_ROOT.parent / "shared" / "data" / "eb"
DEFAULT_OUT = REPO_ROOT / "scam" / "datasets" / "data" / "eb_pca5.npz"

#: sha256 digests of the source files, as recorded in shared/data/README.md.
EXPECTED_SHA256 = {
    "eb_pca5_standardized.npy": "3d7b48827a12689f29dc41bbc4673430c8ee26431250ce20010bab1903c686de",
    "eb_sample_labels.npy": "8e97086b3b69aae3add4d72e1d9f69fc6d73c433c10c988ac7e794a339d4b7c4",
}
N_CELLS = 16819
N_PCS = 5
COUNTS_PER_TIME = (2381, 4163, 3278, 3665, 3332)


def sha256_of(path: Path) -> str:
    """Return the hex sha256 digest of a file.

    Parameters
    ----------
    path
        File to hash.

    Returns
    -------
    str
        Lower-case hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sources(src: Path) -> None:
    """Verify that both source files exist and have the expected sha256.

    Parameters
    ----------
    src
        Folder holding ``eb_pca5_standardized.npy`` and ``eb_sample_labels.npy``.

    Raises
    ------
    FileNotFoundError
        If a source file is missing.
    RuntimeError
        If a digest does not match.
    """
    for name, expected in EXPECTED_SHA256.items():
        path = src / name
        if not path.is_file():
            raise FileNotFoundError(f"source file not found: {path}")
        got = sha256_of(path)
        if got != expected:
            raise RuntimeError(f"sha256 mismatch for {path}:\n  expected {expected}\n  got      {got}")
        print(f"ok  sha256 {name} {got}")


def build(src: Path, out: Path) -> Path:
    """Check the sources, write the package npz and verify it.

    Parameters
    ----------
    src
        Folder with the two source ``.npy`` files.
    out
        Output ``.npz`` path.

    Returns
    -------
    Path
        The path written.
    """
    check_sources(src)
    X = np.load(src / "eb_pca5_standardized.npy", allow_pickle=False)
    labels = np.load(src / "eb_sample_labels.npy", allow_pickle=False)

    if X.dtype != np.float64 or X.shape != (N_CELLS, N_PCS) or not np.isfinite(X).all():
        raise RuntimeError(f"unexpected PCs: dtype={X.dtype}, shape={X.shape}")
    if labels.shape != (N_CELLS,) or not np.issubdtype(labels.dtype, np.integer):
        raise RuntimeError(f"unexpected labels: dtype={labels.dtype}, shape={labels.shape}")
    counts = tuple(int(c) for c in np.bincount(labels, minlength=5))
    if labels.min() < 0 or labels.max() > 4 or counts != COUNTS_PER_TIME:
        raise RuntimeError(f"unexpected label counts {counts}, expected {COUNTS_PER_TIME}")

    time = labels.astype(np.int8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, X=np.ascontiguousarray(X), time=time)

    # Read back and verify bit-for-bit equality.
    with np.load(out, allow_pickle=False) as f:
        if sorted(f.files) != ["X", "time"]:
            raise RuntimeError(f"unexpected keys in {out}: {f.files}")
        if f["X"].dtype != np.float64 or not np.array_equal(f["X"], X):
            raise RuntimeError("round-trip check of X failed")
        if not np.array_equal(f["time"].astype(np.int64), labels):
            raise RuntimeError("round-trip check of time failed")
    print(f"wrote {out} ({out.stat().st_size:,} bytes), sha256 {sha256_of(out)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help=f"source folder (default: {DEFAULT_SRC})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output npz (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        build(args.src.resolve(), args.out.resolve())
    except (FileNotFoundError, RuntimeError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
