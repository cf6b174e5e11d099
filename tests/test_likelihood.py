"""ActionModel.log_likelihood against closed-form Gaussian densities (change of variables, note §4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _helpers import LARGE_NET
from scipy.stats import multivariate_normal
from torch import nn

import scam
from scam import ActionModel
from scam.core.interpolants import OTInterpolant
from scam.datasets import gaussian_path

MU0, MU1, S0, S1 = np.array([0.0, 0.0]), np.array([2.0, -1.0]), 1.0, 0.5


def _moments(t):
    return MU0 + t * (MU1 - MU0), S0 + t * (S1 - S0)


def exact_logpdf(x, t):
    mu, s = _moments(t)
    return multivariate_normal(mu, s**2 * np.eye(len(mu))).logpdf(x)


class GaussianPathNet(nn.Module):
    """The exact action of the path N(μ_t, s_t² I), μ and s linear on [0, 1]:

    ``s(x, t) = μ̇·x + ṡ / (2 s_t) |x − μ_t|² + c``, whose gradient ``μ̇ + (ṡ / s_t)(x − μ_t)`` is the ODE velocity.
    """

    def __init__(self, c: float = 0.0):
        super().__init__()
        self.n_dims = 2
        self.mu0 = nn.Parameter(torch.tensor(MU0, dtype=torch.float32))
        self.mu1 = torch.tensor(MU1, dtype=torch.float32)
        self.c = c

    def forward(self, x, t):
        t = float(torch.as_tensor(t).reshape(-1)[0])
        mu = self.mu0 + t * (self.mu1 - self.mu0)
        s_t, s_dot = S0 + t * (S1 - S0), S1 - S0
        return x @ (self.mu1 - self.mu0) + s_dot / (2 * s_t) * ((x - mu) ** 2).sum(-1) + self.c


def model_for(net, *, lam=0.0, sigma=0.0, center=(0.0, 0.0), scale=1.0, t_origin=0.0, t_span=1.0):
    return ActionModel(
        net,
        center=np.asarray(center),
        scale=scale,
        t_origin=t_origin,
        t_span=t_span,
        lam=lam,
        sigma=sigma,
        metadata={"time_values": [t_origin, t_origin + t_span]},
    )


@pytest.mark.parametrize("t", [0.5, 1.0])
def test_exact_action_gives_exact_gaussian_density(t):
    model = model_for(GaussianPathNet())
    mu, s = _moments(t)
    X = mu + s * np.random.default_rng(0).normal(size=(300, 2))
    base = multivariate_normal(MU0, S0**2 * np.eye(2)).logpdf
    ll = model.log_likelihood(X, t, base=base, t_base=0.0)
    np.testing.assert_allclose(ll, exact_logpdf(X, t), atol=1e-3)
    # the divergence term matters: without it (or with the wrong sign) the answer is off by 2·d·log(s_t/s_0)
    assert np.abs(base(X) - exact_logpdf(X, t)).mean() > 0.5
    # t_base defaults to the first observed time; Euler is less accurate but close
    np.testing.assert_allclose(model.log_likelihood(X, t, base=base), ll)
    euler = model.log_likelihood(X, t, base=base, method="euler", n_steps=400)
    np.testing.assert_allclose(euler, exact_logpdf(X, t), atol=0.05)


def test_units_scaling_and_time_mapping():
    """The same path in other units: x' = 3 + 2x, t' = 10 + 4t; the density changes by the Jacobian 1/2² only."""
    model = model_for(GaussianPathNet(), center=(3.0, 3.0), scale=2.0, t_origin=10.0, t_span=4.0)
    X = _moments(1.0)[0] + 0.5 * np.random.default_rng(1).normal(size=(200, 2))
    base = lambda x: multivariate_normal(MU0, np.eye(2)).logpdf((x - 3.0) / 2.0) - 2 * np.log(2.0)  # noqa: E731
    ll = model.log_likelihood(3.0 + 2.0 * X, 14.0, base=base, t_base=10.0)
    np.testing.assert_allclose(ll, exact_logpdf(X, 1.0) - 2 * np.log(2.0), atol=1e-3)


def test_gaussian_base_fitted_to_cells():
    model = model_for(GaussianPathNet())
    rng = np.random.default_rng(2)
    base_cells = MU0 + S0 * rng.normal(size=(20_000, 2))
    X = MU1 + S1 * rng.normal(size=(300, 2))
    ll = model.log_likelihood(X, 1.0, base=base_cells, t_base=0.0)
    assert np.abs(ll - exact_logpdf(X, 1.0)).mean() < 0.03


def test_growth_term():
    """A constant action c with weight λ: no motion, log q_t = log q_0 + λ c t (mass density), or without growth."""
    c, lam, t = 0.8, 0.5, 1.0

    class Constant(nn.Module):
        n_dims = 2

        def __init__(self):
            super().__init__()
            self.c = nn.Parameter(torch.tensor(c))

        def forward(self, x, t):
            return self.c + 0 * (x**2).sum(-1)  # depends on x, so that autograd has a Hessian

    model = model_for(Constant(), lam=lam)
    X = np.random.default_rng(3).normal(size=(50, 2))
    base = multivariate_normal(np.zeros(2), np.eye(2)).logpdf
    np.testing.assert_allclose(model.log_likelihood(X, t, base=base, t_base=0.0), base(X) + lam * c * t, atol=1e-5)
    np.testing.assert_allclose(model.log_likelihood(X, t, base=base, t_base=0.0, growth=False), base(X), atol=1e-5)


def test_fitted_model_matches_closed_form():
    """Fit AM on the Gaussian path and compare with the exact density at t = 1 (base: the exact one at t = 0)."""
    adata = gaussian_path(
        n_cells=1000, times=(0.0, 0.5, 1.0), n_dims=2, mu_start=MU0, mu_end=MU1, std_start=S0, std_end=S1
    )
    model = scam.tl.fit(
        adata,
        "time",
        n_iters=600,
        interpolant=OTInterpolant(batch_size=1000),
        **LARGE_NET,
    )
    X = MU1 + S1 * np.random.default_rng(4).normal(size=(500, 2))
    base = multivariate_normal(MU0, S0**2 * np.eye(2)).logpdf
    ll = model.log_likelihood(X, 1.0, base=base, t_base=0.0)
    exact = exact_logpdf(X, 1.0)
    # the divergence adds 2·log 2 ≈ 1.39 nats here; the fit gets it within a fraction of that
    assert np.median(np.abs(ll - exact)) < 0.2, np.median(np.abs(ll - exact))
    assert abs(np.mean(ll - exact)) < 0.2


def test_fitted_action_net_forward_laplacian_matches_the_autograd_loop(monkeypatch):
    """The likelihood of an :class:`ActionNet` takes ``Δs`` from its forward Jacobians, a few cells at a time: the
    same numbers as the autograd sum of second derivatives any other module gets."""
    import scam._likelihood as likelihood

    adata = gaussian_path(n_cells=200, times=(0.0, 1.0), n_dims=3, random_state=0)
    model = scam.tl.fit(adata, "time", n_iters=30, sigma=0, hidden=(16, 16), progress_bar=False)
    X, base = adata.obsm["X_pca"][-50:], adata.obsm["X_pca"][:100]
    monkeypatch.setattr(likelihood, "LAPLACIAN_ELEMENTS", 16 * 3 * 7)  # 7 cells per chunk
    fast = model.log_likelihood(X, 1.0, base=base, n_steps=5)
    monkeypatch.setattr(likelihood, "ActionNet", nn.Sequential)  # not an ActionNet: the autograd loop
    slow = model.log_likelihood(X, 1.0, base=base, n_steps=5)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    assert np.ptp(fast) > 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base": "gaussian"}, r"`base` must be a callable log-density or an array of cells"),
        ({"base": np.zeros((2, 2))}, r"more than n_dims=2 to fit a Gaussian"),
        ({"base": np.ones((10, 2))}, r"covariance of the `base` cells is singular"),
        ({"base": lambda x: np.zeros(3)}, r"one log-density per cell"),
        ({"base": lambda x: np.zeros(len(x)), "n_steps": 0}, r"`n_steps` must be a positive integer"),
        ({"base": lambda x: np.zeros(len(x)), "method": "midpoint"}, r"Unknown method 'midpoint'"),
        ({"base": lambda x: np.zeros(len(x)), "t_base": np.nan}, r"`t_base` must be a finite number"),
    ],
    ids=["string-base", "too-few-cells", "singular-cells", "wrong-shape", "n-steps", "method", "nan-t-base"],
)
def test_bad_arguments(kwargs, match):
    model = model_for(GaussianPathNet())
    with pytest.raises(ValueError, match=match):
        model.log_likelihood(np.zeros((5, 2)), 1.0, **kwargs)


def test_noise_is_refused():
    model = model_for(GaussianPathNet(), sigma=0.5)
    with pytest.raises(ValueError, match="needs a model fitted with sigma=0"):
        model.log_likelihood(np.zeros((5, 2)), 1.0, base=lambda x: np.zeros(len(x)))
