"""The OT-CFM peer (scam.lot.peers), run through the optional torchcfm package."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from scam.lot import peers

SKIP_REASON = (
    'optional peer library torchcfm not installed (pip install torch==2.14.1 torchvision==0.29.1 "scam-sc[benchmark]")'
)


@pytest.fixture
def torchcfm():
    """Skip the test unless torchcfm is importable (the ImportError test below needs no such fixture)."""
    return pytest.importorskip("torchcfm", reason=SKIP_REASON)


def _two_gaussians(n=300, shift=4.0, seed=0):
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(n, 2))
    x2 = rng.normal(size=(n, 2)) + [shift, 0.0]
    return x0, x2


def test_missing_torchcfm_raises_importerror(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchcfm", None)
    assert not peers.have_torchcfm()
    x0, x2 = _two_gaussians(n=20)
    with pytest.raises(ImportError, match=r"scam-sc\[benchmark\]") as info:
        peers.otcfm_predict([x0, x2], [0.0, 2.0], 1.0, x0, 0.0, n_iters=1)
    assert "torch==2.14.1" in str(info.value) and "torchvision==0.29.1" in str(info.value)


def test_midpoint_of_two_shifted_gaussians(torchcfm):
    x0, x2 = _two_gaussians()
    pred, seconds = peers.otcfm_predict([x0, x2], [0.0, 2.0], 1.0, x0, 0.0, n_iters=400, batch_size=64, n_steps=20)
    assert peers.have_torchcfm()
    assert pred.shape == x0.shape and pred.dtype == np.float64
    assert seconds > 0
    np.testing.assert_allclose(pred.mean(axis=0), [2.0, 0.0], atol=0.3)
    # the spread of the two end points is 1 per axis: the flow should keep it roughly
    assert 0.6 < pred.std(axis=0).mean() < 1.4


def test_seeded_and_leaves_global_state_alone(torchcfm):
    x0, x2 = _two_gaussians(n=80)
    torch_state, np_state, n_threads = torch.get_rng_state(), np.random.get_state(), torch.get_num_threads()
    kw = {"n_iters": 30, "batch_size": 32, "n_steps": 5, "random_state": 3}
    a, _ = peers.otcfm_predict([x0, x2], [0.0, 2.0], 1.0, x0, 0.0, **kw)
    b, _ = peers.otcfm_predict([x2, x0], [2.0, 0.0], 1.0, x0, 0.0, **kw)  # order of the snapshots is irrelevant
    c, _ = peers.otcfm_predict([x0, x2], [0.0, 2.0], 1.0, x0, 0.0, **{**kw, "random_state": 4})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert torch.get_num_threads() == n_threads
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


def test_bad_inputs(torchcfm):
    x0, x2 = _two_gaussians(n=20)
    with pytest.raises(ValueError, match="marginals"):
        peers.otcfm_predict([x0, x2], [0.0], 1.0, x0, 0.0)
    with pytest.raises(ValueError, match="distinct"):
        peers.otcfm_predict([x0, x2], [0.0, 0.0], 1.0, x0, 0.0)
    with pytest.raises(ValueError, match="x_start"):
        peers.otcfm_predict([x0, x2], [0.0, 2.0], 1.0, x0[:, :1], 0.0)
