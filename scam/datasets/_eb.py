"""Embryoid Body (EB) time course, 5 standardised principal components."""

from __future__ import annotations

from importlib.resources import files

import anndata as ad
import numpy as np
import pandas as pd

__all__ = ["embryoid_body"]

_DATA_FILE = "eb_pca5.npz"

#: Labels of the five sampling windows, in time order (label ``k`` is ``DAY_LABELS[k]``).
DAY_LABELS = ("Day 00-03", "Day 06-09", "Day 12-15", "Day 18-21", "Day 24-27")

_CITATION = (
    "Moon, K. R. et al. Visualizing structure and transitions in high-dimensional biological data. "
    "Nature Biotechnology 37, 1482-1492 (2019). doi:10.1038/s41587-019-0336-3"
)
_PREPROCESSING_CITATION = (
    "Tong, A., Huang, J., Wolf, G., van Dijk, D. & Krishnaswamy, S. TrajectoryNet: A Dynamic Optimal "
    "Transport Network for Modeling Cellular Dynamics. Proceedings of the 37th International Conference "
    "on Machine Learning (ICML), PMLR 119 (2020)"
)
_SOURCE = (
    "TrajectoryNet data/eb_velocity_v5.npz (KrishnaswamyLab/TrajectoryNet @ "
    "7f6b11559045828b2ad98cae749bdb029d8d578f, MIT-licensed at that commit), pcs[:, :5] z-scored per "
    "column; copied from BasisResearch/wasserstein-residuals @ 70e098c7250e1f8ff2994bbce750a449d932bc25 "
    "data/RNA_PCA_5/data.npy and sample_labels.npy (Apache-2.0, third-party derivative with attribution)"
)


def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Read the packaged npz file and return ``(X, time)``."""
    resource = files("scam.datasets") / "data" / _DATA_FILE
    with resource.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        X = np.array(npz["X"], dtype=np.float64)
        time = np.array(npz["time"], dtype=np.int64)
    return X, time


def embryoid_body() -> ad.AnnData:
    """Embryoid Body differentiation time course in 5 standardised PCs (16,819 cells, 5 times).

    Human embryonic stem cells differentiating as embryoid bodies over 27 days, profiled by
    10x scRNA-seq in five 3-day sampling windows (Moon et al. 2019). This is the "EB 5-D"
    benchmark input used by TrajectoryNet and later snapshot-dynamics papers: the first 5
    principal components of the preprocessed data, each column z-scored over all cells.

    Returns
    -------
    AnnData
        ``16819 x 5`` object with

        - ``X``: the 5 PCs as ``float32``; ``var_names`` are ``"PC1"`` ... ``"PC5"``;
        - ``obsm["X_pca"]``: the same 5 PCs as the exact ``float64`` values of the source file
          (use this for computation);
        - ``obs["time"]``: numeric time label ``0.0 .. 4.0`` (``float64``);
        - ``obs["day"]``: ordered categorical, ``"Day 00-03" < "Day 06-09" < "Day 12-15" <
          "Day 18-21" < "Day 24-27"``;
        - ``obs_names``: ``"cell_0"`` ... ``"cell_16818"`` (rows are sorted by time);
        - ``uns["dataset"]``: a dict with ``name``, ``citation``, ``preprocessing_citation``,
          ``source`` and ``description`` strings.

    Notes
    -----
    **Time labels.** ``obs["time"]`` is the index of the sampling window, not the day:

    ====  ============  ======
    time  day           cells
    ====  ============  ======
    0     Day 00-03     2,381
    1     Day 06-09     4,163
    2     Day 12-15     3,278
    3     Day 18-21     3,665
    4     Day 24-27     3,332
    ====  ============  ======

    Total: 16,819 cells. Consecutive windows are 6 days apart (window start days 0, 6, 12, 18,
    24), so a time unit of 1 corresponds to 6 days.

    **Standardisation.** Each of the 5 columns has mean 0 and population standard deviation 1
    (``ddof=0``) over all 16,819 cells. The unscaled PCs are ``raw = X * std + mean`` with
    ``mean = [52.154568, 0.221619, 0.074494, 0.057701, 0.043997]`` and
    ``std = [2.645610, 6.277999, 4.631710, 4.498149, 3.372440]`` (the unscaled PCs are not
    mean-centred, hence the large PC1 mean).

    **Provenance.** Raw data: Moon et al. (2019), Mendeley Data ``v6n743h5ng``
    (``scRNAseq.zip``). Preprocessing (library-size filtering, rare-gene removal, library-size
    normalisation, mitochondrial filtering, square-root transform, 100 PCs) as in the PHATE
    tutorial; the preprocessed artifact is ``data/eb_velocity_v5.npz`` of
    ``KrishnaswamyLab/TrajectoryNet`` at commit ``7f6b11559045828b2ad98cae749bdb029d8d578f``
    (Tong et al. 2020; MIT-licensed at that commit, relicensed non-commercially in 2024). The
    values here are that file's ``pcs[:, :5]``, z-scored, exactly as published in
    ``BasisResearch/wasserstein-residuals`` (Apache-2.0) at commit
    ``70e098c7250e1f8ff2994bbce750a449d932bc25``, files ``data/RNA_PCA_5/data.npy`` and
    ``data/RNA_PCA_5/sample_labels.npy``. No licence for the raw data is stated by either
    repository. ``data_scripts/`` in the source tree builds the packaged file and documents
    how to rebuild it from the raw data.

    Please cite both papers when using this dataset:

    - K. R. Moon et al., *Visualizing structure and transitions in high-dimensional
      biological data*, Nature Biotechnology 37, 1482-1492 (2019).
    - A. Tong, J. Huang, G. Wolf, D. van Dijk, S. Krishnaswamy, *TrajectoryNet: A Dynamic
      Optimal Transport Network for Modeling Cellular Dynamics*, ICML 2020.

    Examples
    --------
    >>> import scam
    >>> adata = scam.datasets.embryoid_body()
    >>> adata.shape
    (16819, 5)
    >>> adata.obs["time"].value_counts().sort_index().tolist()
    [2381, 4163, 3278, 3665, 3332]
    >>> adata.obs["day"].cat.categories[0]
    'Day 00-03'
    >>> first = adata.obsm["X_pca"][adata.obs["time"].to_numpy() == 0]
    >>> first.shape
    (2381, 5)
    """
    X, time = _load_arrays()
    n_obs, n_vars = X.shape
    obs = pd.DataFrame(
        {
            "time": time.astype(np.float64),
            "day": pd.Categorical.from_codes(time, categories=list(DAY_LABELS), ordered=True),
        },
        index=pd.Index([f"cell_{i}" for i in range(n_obs)]),
    )
    var = pd.DataFrame(index=pd.Index([f"PC{j + 1}" for j in range(n_vars)]))
    adata = ad.AnnData(X=X.astype(np.float32), obs=obs, var=var)
    adata.obsm["X_pca"] = X
    adata.uns["dataset"] = {
        "name": "embryoid_body",
        "description": (
            "Embryoid Body time course (5 sampling windows over 27 days), first 5 PCs of "
            "TrajectoryNet's preprocessing, z-scored per column over all cells (ddof=0)"
        ),
        "citation": _CITATION,
        "preprocessing_citation": _PREPROCESSING_CITATION,
        "source": _SOURCE,
    }
    return adata
