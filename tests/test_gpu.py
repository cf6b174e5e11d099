"""The CUDA path (``pytest -m gpu``): skipped where torch sees no GPU, run by ``docs/benchmarks/scale/gpu_check.sh``.

Each test fits on CUDA and judges the result against the same ground truth as the CPU tests (the closed-form
Gaussian path, the known growth of ``scam.datasets.branching``) or against the same fit on the CPU, so a device
mix-up (a tensor left on the CPU, a generator on the wrong device, a result not brought back) fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _helpers import LARGE_NET, QUICK_FIT

import scam
from scam.core.interpolants import OTInterpolant
from scam.datasets import gaussian_path, gaussian_path_velocity

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run with -m gpu where one is)"),
]

TIMES = (0.0, 1.0, 2.0, 3.0)


def _gaussian():
    return gaussian_path(n_cells=1000, times=TIMES, n_dims=2, std_start=1.0, std_end=0.5, random_state=0)


def test_auto_picks_cuda_and_records_it():
    adata = _gaussian()
    model = scam.tl.fit(adata, "time", **QUICK_FIT)
    assert model.device.type == "cuda"
    assert adata.uns["scam"]["params"]["device"].startswith("cuda")
    assert isinstance(adata.obsm["scam_velocity"], np.ndarray)  # results come back to the host
    assert np.isfinite(adata.obsm["scam_velocity"]).all()


def test_cuda_velocity_matches_gaussian_closed_form():
    adata = _gaussian()
    model = scam.tl.fit(
        adata, "time", device="cuda", n_iters=1500, interpolant=OTInterpolant(batch_size=1000), **LARGE_NET
    )
    assert model.device.type == "cuda"
    gt = adata.uns["ground_truth"]
    rng = np.random.default_rng(1)
    for t in (0.5, 1.5, 2.5):
        frac = (t - TIMES[0]) / (TIMES[-1] - TIMES[0])
        mu = gt["mu_start"] + (gt["mu_end"] - gt["mu_start"]) * frac
        s = gt["std_start"] + (gt["std_end"] - gt["std_start"]) * frac
        x = mu + s * rng.normal(size=(2000, 2))
        v, truth = model.velocity(x, t), gaussian_path_velocity(x, t, **gt)
        assert np.linalg.norm(v - truth) / np.linalg.norm(truth) < 0.15


def test_cuda_model_saves_and_loads_on_cpu(tmp_path):
    adata = _gaussian()
    model = scam.tl.fit(adata, "time", device="cuda", **QUICK_FIT)
    x = adata.obsm["X_pca"][:200]
    v_gpu = model.velocity(x, 1.0)
    path = model.save(tmp_path / "model")
    cpu = scam.ActionModel.load(path, device="cpu")
    assert cpu.device.type == "cpu"
    np.testing.assert_allclose(cpu.velocity(x, 1.0), v_gpu, rtol=1e-4, atol=1e-5)
    back = scam.ActionModel.load(path, device="cuda")
    np.testing.assert_allclose(back.velocity(x, 1.0), v_gpu, rtol=1e-5, atol=1e-6)


def test_cuda_simulate_ode_and_sde():
    adata = _gaussian()
    model = scam.tl.fit(adata, "time", device="cuda", sigma=0.5, **QUICK_FIT)
    x0 = adata.obsm["X_pca"][adata.obs["time"].to_numpy() == 0.0]
    for stochastic in (False, True):
        out = model.simulate(x0, 0.0, 2.0, stochastic=stochastic)
        assert isinstance(out, np.ndarray) and out.shape == x0.shape and np.isfinite(out).all()
    back = model.simulate(x0, 2.0, 0.0, stochastic=False)  # backward in time
    assert np.isfinite(back).all()


def test_cuda_default_fit_learns_growth():
    """The default fit on CUDA learns growth that follows the truth (the CPU's default reaches 0.8–0.9)."""
    adata = scam.datasets.branching(n_cells=300, random_state=0)
    model = scam.tl.fit(adata, "day", use_rep="X_latent", device="cuda", n_iters=800, progress_bar=False)
    assert model.has_growth and model.device.type == "cuda"
    g = adata.obs["scam_growth"].to_numpy()
    last = adata.obs["day"].to_numpy() == adata.obs["day"].max()  # the growth head is not fitted past the last time
    assert np.corrcoef(g[~last], adata.obs["growth"].to_numpy()[~last])[0, 1] > 0.6


def test_cuda_and_cpu_fits_agree():
    """The same fit on both devices: same data, same seed; the velocity fields agree closely (not bit-for-bit)."""
    adata = _gaussian()
    kw = {"n_iters": 600, "interpolant": OTInterpolant(batch_size=512), "random_state": 0, **LARGE_NET}
    m_cpu = scam.tl.fit(adata, "time", device="cpu", **kw)
    m_gpu = scam.tl.fit(adata, "time", device="cuda", **kw)
    x = adata.obsm["X_pca"]
    v_cpu, v_gpu = m_cpu.velocity(x, 1.5), m_gpu.velocity(x, 1.5)
    assert np.linalg.norm(v_cpu - v_gpu) / np.linalg.norm(v_cpu) < 0.2


def test_cuda_leave_one_timepoint_out():
    """LOT with fits on CUDA: at each held-out time scam's push-forward beats staying at the previous snapshot."""
    adata = gaussian_path(n_cells=200, times=TIMES, n_dims=2, random_state=0)
    fit_kwargs = {"n_iters": 300, "hidden": (32, 32), "batch_size": 128, "device": "cuda"}
    df = scam.tl.leave_one_timepoint_out(
        adata, "time", methods=("scam", "previous"), metrics="w1", fit_kwargs=fit_kwargs, progress_bar=False
    )
    w1 = df[df["metric"] == "w1"].pivot_table(index="held_out", columns="method", values="value")
    assert len(w1) == 2 and np.isfinite(w1.to_numpy()).all()
    assert (w1["scam"] < 0.8 * w1["previous"]).all(), w1


def test_cuda_chain_plans_are_pots_plans():
    """The chains' semi-relaxed plans solved in one batch on CUDA equal POT's, plan by plan (and run on the GPU)."""
    from scam.core.couplings import relative_cost, semi_relaxed_plan, semi_relaxed_plans

    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((4, 256, 5)), rng.standard_normal((4, 256, 5)) + 0.5
    a = rng.random((4, 256)) + 0.2
    a = a / a.sum(1, keepdims=True)
    b = np.full((4, 256), 1 / 256)
    cost = np.stack([relative_cost(xa[i], xb[i]) for i in range(4)])
    expected = np.stack([semi_relaxed_plan(a[i], b[i], cost[i], epsilon=0.01, reg_m=(3.0, 50.0)) for i in range(4)])
    args = [torch.as_tensor(v, device="cuda") for v in (a, b, cost)]
    plans = semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0))
    assert plans.device.type == "cuda"
    np.testing.assert_allclose(plans.cpu().numpy(), expected, rtol=1e-8, atol=1e-15)
