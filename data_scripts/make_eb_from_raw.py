"""Rebuild the 5-PC Embryoid Body input from the public raw 10x data (not run in this repository).

This script documents, as runnable code, how the standardised 5-PC EB matrix shipped in
``scam/datasets/data/eb_pca5.npz`` can be re-derived from the raw counts. It was **not** used to
make the shipped file and has never been run on the real raw data (there is no network access and
no raw data in this repository; it was only smoke-tested on a tiny synthetic folder in the same
10x layout). The shipped file is a value-exact copy of a published artifact (see
``data_scripts/README.md``).

Data
----
Moon, K. R. et al. *Visualizing structure and transitions in high-dimensional biological data.*
Nature Biotechnology 37, 1482-1492 (2019). Human ES cells differentiating as embryoid bodies
over 27 days, sampled in five 3-day windows. The raw files are ``scRNAseq.zip`` on Mendeley
Data, dataset ``v6n743h5ng`` (https://data.mendeley.com/datasets/v6n743h5ng). Unzipped, the
input folder holds one Cell Ranger (v2-style) matrix folder per time window::

    scRNAseq/
        T0_1A/  barcodes.tsv  genes.tsv  matrix.mtx    -> Day 00-03 (label 0)
        T2_3B/  ...                                      -> Day 06-09 (label 1)
        T4_5C/  ...                                      -> Day 12-15 (label 2)
        T6_7D/  ...                                      -> Day 18-21 (label 3)
        T8_9E/  ...                                      -> Day 24-27 (label 4)

Reference artifact
------------------
The benchmark input used by TrajectoryNet (Tong et al., *TrajectoryNet: A Dynamic Optimal
Transport Network for Modeling Cellular Dynamics*, ICML 2020) is ``data/eb_velocity_v5.npz`` in
``KrishnaswamyLab/TrajectoryNet`` at commit ``7f6b11559045828b2ad98cae749bdb029d8d578f``
(16,819 cells, 100 PCs in ``pcs``, ``sample_labels`` 0..4). The shipped ``eb_pca5`` file equals
``pcs[:, :5]`` of that artifact, z-scored per column. That artifact is the reference; this
script only approximates it.

Steps (following the PHATE EB tutorial / TrajectoryNet EB notebook, re-expressed with scanpy)
--------------------------------------------------------------------------------------------
1. Load each time window with :func:`scanpy.read_10x_mtx` (gene ids as ``var_names``, gene
   symbols kept in ``var["gene_symbols"]``).
2. Per time window, filter cells by library size (total UMI counts): keep cells with library
   size strictly above the 20th percentile, then, among the remaining cells, strictly below the
   75th percentile (two sequential filters, as ``scprep.filter.filter_library_size`` with
   ``percentile=20, keep_cells="above"`` followed by ``percentile=75, keep_cells="below"``).
3. Concatenate the windows (gene sets are identical) with time labels 0..4.
4. Remove rare genes: keep genes detected (count > 0) in at least 10 cells.
5. Library-size normalise every cell to a total of 10,000 (``scprep``'s default ``rescale``).
6. Remove cells with high mitochondrial expression: sum the normalised expression of genes whose
   symbol starts with ``MT-`` and keep cells strictly below the 90th percentile of that sum.
7. Square-root transform.
8. PCA to 100 components. The published ``pcs`` are *not* mean-centred (PC1 has mean ~52 and
   std ~2.6 over all cells), consistent with a truncated SVD of the sparse matrix as done by
   PHATE/graphtools for sparse input; this script therefore uses ``zero_center=False``
   (scikit-learn ``TruncatedSVD``). Pass ``--center`` for an ordinary centred PCA instead.
9. Keep the first 5 components and z-score each column over all cells (mean 0, population
   standard deviation, ``ddof=0``, as :class:`sklearn.preprocessing.StandardScaler`).

Output: an ``.npz`` with ``X`` (``float64``, ``(n_cells, 5)``, standardised), ``time`` (``int8``
labels 0..4), ``pcs100`` (the unscaled 100 PCs, ``float64``) and ``obs_names``; the same layout
as ``scam/datasets/data/eb_pca5.npz`` plus the extra keys.

Caveats
-------
Exact equality with the shipped file is **not** guaranteed and should not be expected:

- PCA / truncated-SVD components are defined only up to sign, and randomised solvers differ
  slightly between library versions and seeds;
- the filtering details of the original run (library versions, percentile interpolation,
  the precise normalisation and mito rule) are not recorded in the artifact, so the cell count
  may differ from TrajectoryNet's 16,819;
- the cell order may differ.

Compare a rebuilt matrix with the shipped one up to column signs and with a tolerance (for
example through per-time means and covariances), not bit for bit.

Usage
-----
::

    unzip scRNAseq.zip -d raw/            # creates raw/scRNAseq/T0_1A/ ...
    python data_scripts/make_eb_from_raw.py raw/scRNAseq eb_pca5_rebuilt.npz

Requires scanpy (>= 1.10), anndata, numpy, scipy, scikit-learn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp

#: Raw sub-folders, in time order, and their labels.
SAMPLES = ("T0_1A", "T2_3B", "T4_5C", "T6_7D", "T8_9E")
DAY_LABELS = ("Day 00-03", "Day 06-09", "Day 12-15", "Day 18-21", "Day 24-27")


def _library_size(adata: ad.AnnData) -> np.ndarray:
    """Per-cell total counts as a flat float64 array."""
    return np.asarray(adata.X.sum(axis=1), dtype=np.float64).ravel()


def load_and_filter_sample(folder: Path, *, low_pct: float = 20.0, high_pct: float = 75.0) -> ad.AnnData:
    """Load one 10x folder and filter its cells by library size.

    Parameters
    ----------
    folder
        Folder with ``matrix.mtx``, ``genes.tsv`` and ``barcodes.tsv``.
    low_pct
        Keep cells with library size strictly above this percentile.
    high_pct
        Then keep cells strictly below this percentile of the remaining cells.

    Returns
    -------
    AnnData
        Raw counts (CSR, float32) of the kept cells.
    """
    adata = sc.read_10x_mtx(folder, var_names="gene_ids", make_unique=True, cache=False)
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    lib = _library_size(adata)
    adata = adata[lib > np.percentile(lib, low_pct)].copy()
    lib = _library_size(adata)
    adata = adata[lib < np.percentile(lib, high_pct)].copy()
    return adata


def preprocess(
    raw_dir: Path,
    *,
    min_cells: int = 10,
    target_sum: float = 1e4,
    mito_pct: float = 90.0,
    n_pcs: int = 100,
    n_keep: int = 5,
    center: bool = False,
    random_state: int = 0,
) -> ad.AnnData:
    """Run the full EB pipeline and return an AnnData with the PCs.

    Parameters
    ----------
    raw_dir
        Folder holding the five unzipped sample folders (``T0_1A`` ... ``T8_9E``).
    min_cells
        Keep genes detected in at least this many cells.
    target_sum
        Library size after normalisation.
    mito_pct
        Keep cells whose summed normalised ``MT-`` expression is below this percentile.
    n_pcs
        Number of principal components computed.
    n_keep
        Number of leading components kept and standardised.
    center
        If ``True``, use an ordinary (mean-centred) PCA instead of a truncated SVD.
    random_state
        Seed for the SVD solver.

    Returns
    -------
    AnnData
        Cells x genes (square-root normalised), with ``obsm["X_pca100"]`` (unscaled PCs),
        ``obsm["X_pca"]`` (first ``n_keep`` PCs, z-scored, ``ddof=0``) and ``obs["time"]``.
    """
    parts = []
    for label, name in enumerate(SAMPLES):
        folder = raw_dir / name
        if not folder.is_dir():
            raise FileNotFoundError(f"missing sample folder {folder}")
        a = load_and_filter_sample(folder)
        a.obs["time"] = label
        parts.append(a)
        print(f"{name}: {a.n_obs} cells after library-size filter")
    adata = ad.concat(parts, join="inner", merge="same", label="sample", keys=list(SAMPLES), index_unique="_")
    adata.var["gene_symbols"] = parts[0].var.loc[adata.var_names, "gene_symbols"].to_numpy()

    sc.pp.filter_genes(adata, min_cells=min_cells)
    sc.pp.normalize_total(adata, target_sum=target_sum)

    mito = adata.var["gene_symbols"].astype(str).str.startswith("MT-").to_numpy()
    mito_expr = np.asarray(adata.X[:, mito].sum(axis=1), dtype=np.float64).ravel()
    adata = adata[mito_expr < np.percentile(mito_expr, mito_pct)].copy()
    print(f"{int(mito.sum())} MT- genes; {adata.n_obs} cells x {adata.n_vars} genes after filtering")

    adata.X = adata.X.sqrt() if sp.issparse(adata.X) else np.sqrt(adata.X)

    sc.pp.pca(
        adata,
        n_comps=n_pcs,
        zero_center=center,
        svd_solver="arpack" if center else "randomized",
        random_state=random_state,
        dtype="float64",
        key_added="X_pca100",
    )
    pcs = np.asarray(adata.obsm["X_pca100"], dtype=np.float64)
    top = pcs[:, :n_keep]
    adata.obsm["X_pca"] = (top - top.mean(axis=0)) / top.std(axis=0, ddof=0)
    adata.obs["day"] = np.asarray(DAY_LABELS)[adata.obs["time"].to_numpy()]
    return adata


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Rebuild the EB 5-PC input from the raw Mendeley data.")
    parser.add_argument("raw_dir", type=Path, help="folder of the unzipped scRNAseq.zip (holds T0_1A ... T8_9E)")
    parser.add_argument("out", type=Path, help="output .npz path")
    parser.add_argument("--center", action="store_true", help="use a mean-centred PCA instead of a truncated SVD")
    parser.add_argument("--random-state", type=int, default=0, help="seed for the SVD solver (default: 0)")
    args = parser.parse_args(argv)

    adata = preprocess(args.raw_dir, center=args.center, random_state=args.random_state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        X=np.asarray(adata.obsm["X_pca"], dtype=np.float64),
        time=adata.obs["time"].to_numpy().astype(np.int8),
        pcs100=np.asarray(adata.obsm["X_pca100"], dtype=np.float64),
        obs_names=np.asarray(adata.obs_names, dtype=str),
    )
    counts = np.bincount(adata.obs["time"].to_numpy(), minlength=len(SAMPLES))
    print(f"wrote {args.out}: {adata.n_obs} cells, per time {counts.tolist()} (reference: 2381 4163 3278 3665 3332)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
