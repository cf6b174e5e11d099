"""scam's velocity in obsm plugs into CellRank's VelocityKernel (skipped when cellrank is not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import MEDIUM_NET

import scam
from scam.datasets import gaussian_path

cellrank = pytest.importorskip(
    "cellrank",
    reason="cellrank is optional (`pip install cellrank`; its dependency pygpcca pins jinja2==3.0.3, which breaks "
    "Sphinx >= 8, so it is not in the test extra)",
)


def test_velocity_kernel_follows_scam_velocity():
    """A Gaussian moving along +x: CellRank's transitions built on obsm['scam_velocity'] move cells along +x."""
    import scanpy as sc
    from cellrank.kernels import VelocityKernel

    adata = gaussian_path(n_cells=200, times=(0.0, 1.0, 2.0), n_dims=2, mu_end=[3.0, 0.0], std_end=1.0)
    scam.tl.fit(adata, "time", n_iters=200, **MEDIUM_NET)
    v = adata.obsm["scam_velocity"]
    assert np.mean(v[:, 0] > 0) > 0.95  # the fit moves cells right (truth: dx/dt = 1.5, dy/dt = 0)
    sc.pp.neighbors(adata, use_rep="X_pca", n_neighbors=15, random_state=0)

    try:
        vk = VelocityKernel(adata, attr="obsm", xkey="X_pca", vkey="scam_velocity")
    except TypeError as e:  # cellrank <= 2.0.7 with numpy >= 2.3 (scverse/cellrank#1272, fixed upstream)
        if "unexpected keyword argument 'x'" not in str(e):
            raise
        pytest.skip(f"this cellrank calls np.testing.assert_array_equal(x=, y=), removed in numpy 2.3: {e}")
    vk.compute_transition_matrix(model="deterministic", show_progress_bar=False)
    T = vk.transition_matrix
    np.testing.assert_allclose(np.asarray(T.sum(1)).ravel(), 1.0, atol=1e-6)
    X = adata.obsm["X_pca"]
    step = np.asarray(T @ X) - X  # expected displacement of one Markov step
    assert np.mean(step[:, 0] > 0) > 0.9
    # the steps point along the velocity: positive cosine for almost every cell
    cos = (step * v).sum(1) / (np.linalg.norm(step, axis=1) * np.linalg.norm(v, axis=1) + 1e-12)
    assert np.mean(cos > 0) > 0.9
