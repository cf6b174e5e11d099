"""The pure-torch core against closed forms: Laplacian, loss estimators, interpolants, integrators, training."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from scam.core import ActionNet, TrainConfig, action_matching_loss, get_interpolant, integrate, laplacian, train_action
from scam.core.interpolants import (
    OTInterpolant,
    SplineInterpolant,
    UnbalancedInterpolant,
    bridge_noise_scale,
    bridge_noise_slope,
)
from scam.core.metrics import mmd_rbf, wasserstein


class Quadratic(nn.Module):
    """s(x, t) = b(t)·x + ½ xᵀ A x."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x, t):
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1)
        return (x * (self.b * (1 + t))).sum(-1) + 0.5 * ((x @ self.a) * x).sum(-1)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("quadratic", ["full", "diag"])
def test_action_net_quadratic_term_gives_an_exact_affine_velocity(quadratic):
    """With the MLP's output zeroed, ∇s is exactly A(t)x + b(t), A the symmetric part of the time-weighted matrices."""
    torch.manual_seed(0)
    net = ActionNet(4, (16,), n_frequencies=2, quadratic=quadratic)
    assert net.config["quadratic"] == quadratic
    nn.init.zeros_(net.mlp[-1].weight), nn.init.zeros_(net.mlp[-1].bias)
    with torch.no_grad():
        net.quad.normal_(), net.linear.normal_()
    x = torch.randn(5, 4, requires_grad=True)
    t = torch.tensor(0.3)
    (grad,) = torch.autograd.grad(net(x, t).sum(), x)
    basis = torch.cat([torch.ones(1, 1), net.time_embedding(t)], dim=-1)[0]  # (F,)
    b = basis @ net.linear
    if quadratic == "diag":
        expected = x * (basis @ net.quad) + b
    else:
        a = torch.einsum("f,fij->ij", basis, net.quad)
        expected = x @ (0.5 * (a + a.T)) + b
    torch.testing.assert_close(grad, expected.detach(), rtol=1e-5, atol=1e-5)


def test_action_net_starts_as_the_mlp_and_old_configs_have_no_quadratic_term():
    """The term is 0 at initialisation; a config without 'quadratic' (saved before it) builds the MLP alone."""
    torch.manual_seed(0)
    plain = ActionNet(3, (8,))
    torch.manual_seed(0)
    full = ActionNet(3, (8,), quadratic="full")
    assert plain.quadratic == "none" and full.quadratic == "full"
    assert [ActionNet(d, (8,), quadratic="auto").quadratic for d in (2, 19, 20, 128, 129)] == [
        "none",
        "none",
        "full",
        "full",
        "diag",
    ]
    x = torch.randn(6, 3)
    torch.testing.assert_close(plain(x, 0.5), full(x, 0.5))
    with pytest.raises(ValueError, match="`quadratic` must be 'auto', 'full', 'diag' or 'none'"):
        ActionNet(3, (8,), quadratic="cubic")


def test_laplacian_exact_and_hutchinson_match_trace():
    a = torch.tensor([[2.0, 0.5, 0.0], [0.5, -1.0, 0.3], [0.0, 0.3, 0.5]])
    net = Quadratic(a, torch.zeros(3))
    x = torch.randn(4000, 3, requires_grad=True)
    s = net(x, 0.0)
    (grad,) = torch.autograd.grad(s.sum(), x, create_graph=True)
    exact = laplacian(grad, x, method="exact")
    assert torch.allclose(exact, torch.full_like(exact, 1.5), atol=1e-5)
    hutch = laplacian(grad, x, method="hutchinson", generator=_gen())
    assert abs(hutch.mean().item() - 1.5) < 0.1
    with pytest.raises(ValueError, match="Laplacian"):
        laplacian(grad, x, method="bogus")


@pytest.mark.parametrize("quadratic", ["none", "diag", "full"])
@pytest.mark.parametrize("hidden", [(), (16,), (32, 8)])
def test_action_net_forward_laplacian_equals_the_sum_of_second_derivatives(quadratic, hidden):
    """``ActionNet.laplacian`` (Jacobians carried forward) against autograd's ``Σ ∂²s/∂x_i²``, time per row."""
    torch.manual_seed(0)
    net = ActionNet(5, hidden, quadratic=quadratic).double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_()  # the quadratic term starts at zero: give every part a Laplacian
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    t = torch.rand(7, dtype=torch.float64)
    if not hidden and quadratic == "none":  # s is linear in x (autograd's second pass finds no graph)
        assert torch.equal(net.laplacian(x.detach(), t), torch.zeros(7, dtype=torch.float64))
        return
    (grad,) = torch.autograd.grad(net(x, t).sum(), x, create_graph=True)
    exact = laplacian(grad, x, method="exact")
    assert exact.abs().max() > 0.1
    torch.testing.assert_close(net.laplacian(x.detach(), t), exact, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(net.laplacian(x.detach(), t[:1])[:1], exact[:1], rtol=1e-10, atol=1e-12)


def _snapshots(n=400, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return [
        torch.tensor(rng.normal(size=(n, d)) * s + m, dtype=torch.float32)
        for m, s in ((0.0, 1.0), (1.0, 0.8), (2.5, 0.6))
    ]


@pytest.mark.parametrize("interpolant", ["ot", "spline", "independent"])
@pytest.mark.parametrize(("sigma", "lam", "masses"), [(0.0, 0.0, None), (0.5, 0.0, None), (0.0, 1.0, [1.0, 1.5, 2.5])])
def test_path_and_boundary_estimators_agree(interpolant, sigma, lam, masses):
    """The two estimators are the same loss: their means agree for any action (signs of every term)."""
    torch.manual_seed(0)
    net = ActionNet(2, (32, 32))
    marg = _snapshots()
    times = [0.0, 0.4, 1.0]
    interp = get_interpolant(interpolant, sigma=sigma, batch_size=400).fit(marg, times, masses, generator=_gen())
    mass = masses or [1.0, 1.0, 1.0]
    vals = {"path": [], "boundary": []}
    for rep in range(6):
        path = interp.sample(40_000, generator=_gen(rep))
        for est in vals:
            loss, _ = action_matching_loss(
                net,
                path,
                marg[0],
                marg[-1],
                m_start=mass[0],
                m_end=mass[-1],
                sigma=sigma,
                lam=lam,
                estimator=est,
                laplacian_method="exact",
            )
            vals[est].append(loss.item())
    diff = np.mean(vals["path"]) - np.mean(vals["boundary"])
    scale = abs(np.mean(vals["boundary"])) + 0.1
    assert abs(diff) < 0.03 * scale + 0.02, (vals, diff)


def test_bridge_noise_slope_is_the_derivative_of_its_scale():
    """The pathwise velocity of the bridge noise is d/dt of its standard deviation σ √(τ (1 − τ) Δt)."""
    sigma, dt, eps = 0.7, torch.tensor(0.25, dtype=torch.float64), 1e-6
    tau = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    fd = (bridge_noise_scale(sigma, tau + eps / dt, dt) - bridge_noise_scale(sigma, tau - eps / dt, dt)) / (2 * eps)
    torch.testing.assert_close(bridge_noise_slope(sigma, tau, dt), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("interpolant", ["spline", "sb"])
def test_stein_laplacian_is_the_same_loss(interpolant):
    """With the path's noise, ∇s·ξ/c estimates Δs: the Laplacian-free loss has the exact one's mean."""
    torch.manual_seed(0)
    net = ActionNet(2, (32, 32))
    marg = _snapshots()
    sigma = 0.5
    interp = get_interpolant(interpolant, sigma=sigma, batch_size=400).fit(marg, [0.0, 0.4, 1.0], generator=_gen())
    vals = {"exact": [], "stein": [], "none": []}
    for rep in range(6):
        path = interp.sample(40_000, generator=_gen(rep))
        assert path.stein is not None
        for method in vals:
            loss, _ = action_matching_loss(
                net,
                path,
                sigma=0.0 if method == "none" else sigma,
                laplacian_method="exact" if method == "none" else method,
            )
            vals[method].append(loss.item())
    exact, stein, none = (np.mean(vals[m]) for m in ("exact", "stein", "none"))
    assert abs(stein - exact) < 0.1 * abs(exact - none) + 0.01, vals  # the σ² term itself is matched
    # a path without noise has no Stein factor: a clear error
    plain = get_interpolant("ot").fit(marg, [0.0, 0.4, 1.0], generator=_gen()).sample(100, generator=_gen())
    with pytest.raises(ValueError, match="Gaussian noise"):
        action_matching_loss(net, plain, sigma=sigma, laplacian_method="stein")


def test_stein_laplacian_of_a_quadratic_is_its_trace():
    """s = ½ xᵀAx + b·x: E[∇s · ξ / c] over a noisy path is tr A."""
    a = torch.tensor([[1.5, 0.3], [0.3, -0.5]])
    marg = _snapshots()
    interp = get_interpolant("spline", sigma=0.8, curvature=0.5).fit(marg, [0.0, 0.4, 1.0], generator=_gen())
    path = interp.sample(400_000, generator=_gen(3))
    x = path.x.detach().requires_grad_(True)
    s = Quadratic(a, torch.tensor([0.2, -0.1]))(x, path.t)
    grad = torch.autograd.grad(s.sum(), x)[0]
    est = (grad * path.stein).sum(-1)
    assert est.mean().item() == pytest.approx(1.0, abs=0.05)


def test_loss_recovers_known_action_gap():
    """Path estimator = ½E|∇s − ẋ|² + const: a constant-velocity path is matched by s = c·x."""
    rng = np.random.default_rng(0)
    x0 = torch.tensor(rng.normal(size=(500, 2)), dtype=torch.float32)
    shift = torch.tensor([1.0, -0.5])
    interp = OTInterpolant(batch_size=500).fit([x0, x0 + shift], [0.0, 1.0], generator=_gen())
    path = interp.sample(2000, generator=_gen(1))
    assert torch.allclose(path.dx, shift.expand_as(path.dx), atol=1e-5)
    other = Quadratic(torch.zeros(2, 2), shift / 2)  # velocity b(1+t): equals the shift only at t = 1
    exact = Quadratic(torch.zeros(2, 2), torch.zeros(2))
    exact.forward = lambda x, t: (x * shift).sum(-1)
    l_exact, _ = action_matching_loss(exact, path)
    l_other, _ = action_matching_loss(other, path)
    assert l_exact.item() == pytest.approx(-0.5 * shift.square().sum().item(), rel=1e-4)
    assert l_other.item() > l_exact.item()


def test_ot_interpolant_pairs_a_shift_exactly():
    rng = np.random.default_rng(1)
    x0 = torch.tensor(rng.normal(size=(300, 3)), dtype=torch.float32)
    x1 = x0[torch.randperm(300, generator=_gen())] + 0.1
    interp = OTInterpolant(batch_size=300).fit([x0, x1], [0.0, 2.0], generator=_gen())
    a, b = interp.x[interp.pair_a], interp.x[interp.pair_b]
    assert torch.allclose(b - a, torch.full_like(a, 0.1), atol=1e-5)
    path = interp.sample(1000, generator=_gen())
    assert path.t.min() >= 0 and path.t.max() <= 2.0
    assert torch.allclose(path.dx, torch.full_like(path.dx, 0.05), atol=1e-5)
    assert torch.allclose(path.w, torch.ones_like(path.w))


def test_spline_interpolant_is_smooth_and_hits_the_knots():
    # points on a parabola in time: chains pass through matched cells; the spline is C1 at the knots
    rng = np.random.default_rng(2)
    base = rng.normal(size=(200, 2)) * 0.01
    times = [0.0, 0.3, 0.6, 1.0]
    marg = [torch.tensor(base + [t, t**2], dtype=torch.float32) for t in times]
    interp = SplineInterpolant(batch_size=200, curvature=1.0).fit(marg, times, generator=_gen())
    path = interp.sample(20_000, generator=_gen())
    # the mean path follows (t, t²) closely; its derivative ≈ (1, 2t)
    t = path.t.numpy()
    assert np.abs(path.x[:, 0].numpy() - t).max() < 0.06
    assert np.abs(path.x[:, 1].numpy() - t**2).max() < 0.06
    assert np.abs(path.dx[:, 0].numpy() - 1).mean() < 0.05
    assert np.abs(path.dx[:, 1].numpy() - 2 * t).mean() < 0.15
    m = interp.second_derivatives
    assert torch.all(m[:, 0] == 0) and torch.all(m[:, -1] == 0)  # natural boundary


def test_spline_curvature_scales_the_bend():
    # same chains (same seed): γ = 0 gives the chained straight lines, γ = 0.5 the mean of 0 and 1
    rng = np.random.default_rng(3)
    times = [0.0, 0.3, 0.6, 1.0]
    marg = [torch.tensor(rng.normal(size=(150, 2)) * 0.01 + [t, t**2], dtype=torch.float32) for t in times]
    paths = {}
    for g in (0.0, 0.5, 1.0):
        interp = SplineInterpolant(batch_size=150, curvature=g).fit(marg, times, generator=_gen())
        assert interp.curvature_ == g
        paths[g] = interp.sample(5000, generator=_gen())
    assert torch.all(SplineInterpolant(curvature=0.0).fit(marg, times, generator=_gen()).second_derivatives == 0)
    # straight lines: the velocity is the chord slope, (t_{k+1}² − t_k²) / (t_{k+1} − t_k) = t_k + t_{k+1}
    t = paths[0.0].t.numpy()
    k = np.searchsorted(times, t, side="right") - 1
    k = np.clip(k, 0, len(times) - 2)
    chord = np.asarray(times)[k] + np.asarray(times)[k + 1]
    assert np.abs(paths[0.0].dx[:, 1].numpy() - chord).max() < 0.1
    for field in ("x", "dx"):
        mean = (getattr(paths[0.0], field) + getattr(paths[1.0], field)) / 2
        assert torch.allclose(getattr(paths[0.5], field), mean, atol=1e-4)


def _chain_ranges(values: torch.Tensor, idx: torch.Tensor, path_j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per path sample: the smallest and largest knot of its chain (``values`` per knot, ``(n_chains, K+1)``)."""
    return values.min(1).values[path_j], values.max(1).values[path_j]


def test_spline_bend_is_limited_on_unevenly_spaced_snapshots():
    """Gaps 500× apart: the spline may not carry chains (positions, log-weights) far past their knots."""
    from scam.core import spline
    from scam.datasets import gaussian_path

    adata = gaussian_path(n_cells=200, times=(0.0, 0.002, 1.0), masses=[1.0, 1.001, 2.0], random_state=0)
    x, t = adata.obsm["X_pca"], adata.obs["time"].to_numpy()
    marg = [torch.tensor(x[t == tt], dtype=torch.float32) for tt in (0.0, 0.002, 1.0)]
    interp = SplineInterpolant(growth=True).fit(marg, [0.0, 0.002, 1.0], [1.0, 1.001, 2.0], generator=_gen())
    assert interp.bend_scale is not None
    y = interp.knots_logw.double()  # the log-weights' bends are capped too
    natural = SplineInterpolant._natural_spline(y[:, :, None], interp.times)[..., 0]
    scale = spline._bend_scale(y[:, :, None], natural[:, :-1, None], natural[:, 1:, None], interp.times)
    assert scale is not None and float(scale.min()) < 0.1
    # draw the path's chain indices as sample() does, to compare each sample with its own chain
    path = interp.sample(20_000, generator=_gen())
    gen = _gen()
    interp._times_and_intervals(20_000, gen)
    j = torch.randint(0, interp.knots_idx.shape[0], (20_000,), generator=gen)
    lo, hi = _chain_ranges(interp.knots_logw.double(), interp.knots_idx, j)
    log_w = torch.log(path.w).double()  # the natural spline would go 10× past the knots
    assert bool((log_w >= lo - spline.BEND_LIMIT * (hi - lo) - 1e-4).all())
    assert bool((log_w <= hi + spline.BEND_LIMIT * (hi - lo) + 1e-4).all())
    knots = interp.x[interp.knots_idx].double()  # (n, K+1, d)
    diameter = torch.cdist(knots, knots).amax((1, 2))[j]
    nearest = (path.x.double()[:, None, :] - knots[j]).norm(dim=-1).min(1).values
    assert bool((nearest <= (1 + spline.BEND_LIMIT) * diameter + 1e-4).all())
    # evenly spaced snapshots: no chain comes near the limit, so the path is the natural spline's
    even = SplineInterpolant(growth=True).fit(marg, [0.0, 0.5, 1.0], [1.0, 1.001, 2.0], generator=_gen())
    assert even.bend_scale is None


def test_spline_curvature_auto_follows_signal_and_noise():
    # a curved path seen with little noise gets the full bend; in pure noise in 30 dimensions, where OT
    # chains are random, each chain's own bend is noise, and its average over neighbouring chains nearly vanishes
    rng = np.random.default_rng(4)
    times = [0.0, 0.25, 0.5, 0.75, 1.0]
    arc = [[np.cos(3 * t), np.sin(3 * t)] for t in times]
    curved = [torch.tensor(rng.normal(size=(300, 2)) * 0.02 + a, dtype=torch.float32) for a in arc]
    noise = [torch.tensor(rng.normal(size=(150, 30)), dtype=torch.float32) for _ in times]
    assert SplineInterpolant(curvature="auto").fit(curved, times, generator=_gen()).curvature_ == 1.0
    full = SplineInterpolant(curvature=1.0).fit(noise, times, generator=_gen())
    own = SplineInterpolant._natural_spline(full.x[full.knots_idx], full.times)
    shrink = full.second_derivatives.norm(dim=-1)[:, 1:-1].mean() / own.norm(dim=-1)[:, 1:-1].mean()
    assert float(shrink) < 0.15
    # the check never straightens the anchor's averaged bend (its doubled gaps lean toward straight lines)
    auto = SplineInterpolant(curvature="auto").fit(noise, times, generator=_gen())
    assert auto.curvature_ == 0.5 and set(auto.curvature_scores_) == {0.5, 0.75}
    # three snapshots: nothing to leave out, the default bend
    assert SplineInterpolant(curvature="auto").fit(curved[:3], times[:3], generator=_gen()).curvature_ == 0.5
    for bad in (-0.1, 1.5, "yes", None):
        with pytest.raises(ValueError, match="curvature"):
            SplineInterpolant(curvature=bad)


def test_spline_bend_is_each_branchs_own_acceleration(monkeypatch):
    """The bend averaged over neighbouring chains keeps each branch's acceleration (ground truth: the natural
    spline through the branch's means), where the average over every chain would cancel them."""
    from scam.core import spline

    rng = np.random.default_rng(0)
    times = [0.0, 0.25, 0.5, 0.75, 1.0]

    def mean(t, sign):  # two branches from one point, bending apart: accelerations (0, ±4)
        return np.array([t, sign * 2.0 * t**2])

    marg = [
        torch.tensor(np.vstack([rng.normal(size=(150, 2)) * 0.02 + mean(t, s) for s in (1, -1)]), dtype=torch.float32)
        for t in times
    ]
    fit = SplineInterpolant(curvature=1.0).fit(marg, times, generator=_gen())
    up = fit.x[fit.knots_idx][:, -1, 1] > 0
    for sign, chains in ((1, up), (-1, ~up)):
        means = torch.tensor(np.stack([mean(t, sign) for t in times]), dtype=torch.float32)[None]
        truth = SplineInterpolant._natural_spline(means, fit.times)[0, 1:-1, 1]  # 5.14, 3.43, 5.14 (signed)
        bend = fit.second_derivatives[chains][:, 1:-1, 1]
        assert torch.allclose(bend.mean(0), truth, rtol=0.15)
        assert float(bend.std(0).max()) < 0.1  # averaged: the chains of a branch agree
    monkeypatch.setattr(spline, "BEND_NEIGHBOURS", 10**9)  # every chain: the branches cancel
    both = SplineInterpolant(curvature=1.0).fit(marg, times, generator=_gen()).second_derivatives[up][:, 1:-1, 1]
    assert float(both.mean(0).abs().max()) < 0.5


def test_spline_curvature_walk_picks_the_full_grids_choice(monkeypatch):
    """The upward walk from γ = 0.5 scores fewer γ and picks what scoring the whole grid picks."""
    rng = np.random.default_rng(4)
    times = [0.0, 0.25, 0.5, 0.75, 1.0]
    arc = [[np.cos(3 * t), np.sin(3 * t)] for t in times]
    curved = [torch.tensor(rng.normal(size=(300, 2)) * 0.02 + a, dtype=torch.float32) for a in arc]
    noise = [torch.tensor(rng.normal(size=(150, 30)), dtype=torch.float32) for _ in times]
    # the arc seen through noise: scores lowest at γ = 0.75, inside the grid (the walk stops at 1)
    blur = np.random.default_rng(4)
    blurred = [torch.tensor(blur.normal(size=(300, 2)) * 1.0 + a, dtype=torch.float32) for a in arc]
    cases = ((curved, (0.5, 0.75, 1.0), 1.0), (noise, (0.5, 0.75), 0.5), (blurred, (0.5, 0.75, 1.0), 0.75))
    for marg, walked, chosen in cases:
        walk = SplineInterpolant(curvature="auto").fit(marg, times, generator=_gen())
        monkeypatch.setattr(SplineInterpolant, "score_full_grid", True)
        full = SplineInterpolant(curvature="auto").fit(marg, times, generator=_gen())
        monkeypatch.setattr(SplineInterpolant, "score_full_grid", False)
        assert walk.curvature_ == full.curvature_ == chosen
        assert len(full.curvature_scores_) == 5 and 2 <= len(walk.curvature_scores_) <= 3
        assert all(full.curvature_scores_[g] == v for g, v in walk.curvature_scores_.items())
        assert tuple(walk.curvature_scores_) == walked  # the anchor and upward while the score falls


def test_spline_sigma_auto_finds_diffusion_and_keeps_a_flow_deterministic():
    """Pure diffusion from a point (variance σ² t) is the noisy path's; a shifted cloud needs no noise."""
    rng = np.random.default_rng(5)
    times = [0.0, 0.25, 0.5, 0.75, 1.0]
    diffusing = [torch.tensor(rng.normal(size=(400, 2)) * np.sqrt(0.01 + t), dtype=torch.float32) for t in times]
    shifted = [torch.tensor(rng.normal(size=(400, 2)) * 0.3 + 2 * t, dtype=torch.float32) for t in times]
    chosen = SplineInterpolant(sigma="auto").fit(diffusing, times, generator=_gen())
    assert chosen.sigma_ >= 0.5, chosen.sigma_scores_  # true σ is 1 (variance grows by 1 per unit time)
    assert chosen.sigma_scores_[chosen.sigma_] < 0.95 * chosen.sigma_scores_[0.0]
    assert SplineInterpolant(sigma="auto").fit(shifted, times, generator=_gen()).sigma_ == 0.0
    # deterministic for a seed; three snapshots leave nothing out: σ = 0
    again = SplineInterpolant(sigma="auto").fit(diffusing, times, generator=_gen())
    assert again.sigma_ == chosen.sigma_ and again.sigma_scores_ == chosen.sigma_scores_
    assert SplineInterpolant(sigma="auto").fit(diffusing[:3], times[:3], generator=_gen()).sigma_ == 0.0
    assert SplineInterpolant(sigma=0.3).fit(shifted, times, generator=_gen()).sigma_ == 0.3
    for bad in (-0.1, float("nan"), "yes", None, True):
        with pytest.raises(ValueError, match="sigma"):
            SplineInterpolant(sigma=bad)


def test_unbalanced_interpolant_carries_the_masses():
    marg = _snapshots(n=300)
    interp = UnbalancedInterpolant(batch_size=300).fit(marg, [0.0, 0.5, 1.0], [1.0, 2.0, 3.0], generator=_gen())
    path = interp.sample(60_000, generator=_gen())
    t, w = path.t.numpy(), path.w.numpy()
    for t0, m in ((0.0, 1.0), (0.5, 2.0), (1.0, 3.0)):
        near = np.abs(t - t0) < 0.02
        assert w[near].mean() == pytest.approx(m, rel=0.1)


def test_integrate_constant_velocity_and_growth():
    c = torch.tensor([1.0, -2.0])
    net = Quadratic(torch.zeros(2, 2), torch.zeros(2))
    net.forward = lambda x, t: (x * c).sum(-1)  # ∇s = c, s(x) = c·x
    x0 = torch.randn(50, 2)
    for method in ("euler", "rk4"):
        x1, logw = integrate(net, x0, 0.0, 2.0, n_steps=400, lam=0.5, method=method)
        assert torch.allclose(x1, x0 + 2 * c, atol=1e-4)
        # log w = λ ∫ c·(x0 + c t) dt = λ (2 c·x0 + 2 |c|²)
        expected = 0.5 * (2 * (x0 * c).sum(-1) + 2 * c.square().sum())
        tol = 1e-3 if method == "rk4" else 0.05
        assert torch.allclose(logw, expected, atol=tol)
        back, _ = integrate(net, x1, 2.0, 0.0, n_steps=400, method=method)
        assert torch.allclose(back, x0, atol=1e-4)
    path, logws = integrate(net, x0, 0.0, 1.0, n_steps=10, save_path=True)
    assert path.shape == (11, 50, 2) and logws.shape == (11, 50)
    with pytest.raises(ValueError, match="n_steps"):
        integrate(net, x0, 0.0, 1.0, n_steps=0)


def test_integrate_sde_diffuses_with_sigma():
    net = Quadratic(torch.zeros(2, 2), torch.zeros(2))  # s = 0: pure noise
    x0 = torch.zeros(4000, 2)
    x1, _ = integrate(net, x0, 0.0, 2.0, n_steps=50, sigma=0.7, stochastic=True, generator=_gen())
    assert x1.var(0).numpy() == pytest.approx([0.98, 0.98], rel=0.1)  # σ² t
    again, _ = integrate(net, x0, 0.0, 2.0, n_steps=50, sigma=0.7, stochastic=True, generator=_gen())
    assert torch.equal(x1, again)
    with pytest.raises(ValueError, match="stochastic=False"):
        integrate(net, x0, 2.0, 0.0, sigma=0.7, stochastic=True)


def test_metrics_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    assert wasserstein(x, x + [3.0, 4.0]) == pytest.approx(5.0, rel=1e-6)
    assert wasserstein(x, x + [3.0, 4.0], p=2) == pytest.approx(5.0, rel=1e-6)
    assert wasserstein(np.zeros((1, 2)), np.ones((1, 2))) == pytest.approx(math.sqrt(2))
    # weights: all mass on the first point
    w = np.zeros(300)
    w[0] = 1.0
    assert wasserstein(x, x[:1], x_weights=w) == pytest.approx(0.0, abs=1e-9)
    assert mmd_rbf(x, x) == pytest.approx(0.0, abs=1e-9)
    assert mmd_rbf(x, x + 2) > mmd_rbf(x, x + 0.5) > 0
    with pytest.raises(ValueError, match="Weights"):
        wasserstein(x, x, x_weights=-np.ones(300))


def _train(n_iters, callback=None, lr=1e-3, val_every=5):
    marg = _snapshots(n=200)
    times = [0.0, 0.5, 1.0]
    interp = get_interpolant("ot").fit(marg, times, generator=_gen())
    torch.manual_seed(0)
    net = ActionNet(2, (16,))
    config = TrainConfig(n_iters=n_iters, batch_size=64, val_every=val_every, lr=lr)
    val = [m[:50] for m in marg]
    return train_action(
        net,
        interp,
        marg,
        times,
        None,
        config,
        val_marginals=val,
        generator=_gen(),
        progress_bar=False,
        callback=callback,
    )


def test_training_diverges_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="Lower the learning rate"):
        _train(20, lr=1e30)


def test_ctrl_c_keeps_the_best_model_so_far():
    def interrupt(i, stats):
        if i == 12:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match=r"training interrupted after 13 step\(s\); keeping the best model so far"):
        result = _train(100, callback=interrupt)
    assert result.interrupted and result.n_steps == 13
    assert result.history["val_iteration"][-1] == 13
    best = int(np.argmin(result.history["val_w1"]))
    assert result.best_iteration == result.history["val_iteration"][best]


def test_ctrl_c_inside_a_step_counts_the_finished_steps_only(monkeypatch):
    """An interrupt in step 4's loss or backward leaves 3 optimiser updates: not 4 (nor 1 for the untrained net)."""
    import scam.core.train as train

    calls, real = [], train._step_loss

    def step_loss(*args, **kwargs):
        calls.append(1)
        if len(calls) in (4, 104):  # the 4th step of the first run, the first of the second
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "_step_loss", step_loss)
    with pytest.warns(UserWarning, match=r"interrupted after 3 step\(s\)"):
        result = _train(100, val_every=0)
    assert result.n_steps == 3 and result.best_iteration == 3
    calls[:] = [1] * 103
    with pytest.warns(UserWarning, match=r"interrupted after 0 step\(s\)"):
        result = _train(100, val_every=0)
    assert result.n_steps == 0 and result.best_iteration == 0


def test_a_last_step_that_leaves_weights_no_numbers_is_an_error(monkeypatch):
    """The loss is checked before each step; a last update to NaN weights was returned (and written) as a model."""
    import scam.core.train as train

    real = train._adam

    def adam(params, **kwargs):
        optimizer = real(params, **kwargs)
        step = optimizer.step

        def poisoned_step(*a, **k):
            step(*a, **k)
            with torch.no_grad():
                params[0].fill_(float("nan"))

        optimizer.step = poisoned_step
        return optimizer

    monkeypatch.setattr(train, "_adam", adam)
    with pytest.raises(FloatingPointError, match=r"after 1 step\(s\) the network's weights are no longer finite"):
        _train(1, val_every=0)


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_sb_pairs_have_the_closed_form_entropic_covariance(sigma):
    """Entropic OT between N(0, 1) and N(0, 1) with P ∝ exp(−|x − y|²/(2σ²Δt)) has Cov(x, y) = (√(4 + s²) − s)/2,
    s = σ²Δt (Janati et al. 2020, 1-D)."""
    from scam.core.interpolants import SBInterpolant

    g = torch.Generator().manual_seed(0)
    x0, x1 = (
        torch.randn(4000, 1, generator=g, dtype=torch.float64),
        torch.randn(4000, 1, generator=g, dtype=torch.float64),
    )
    interp = SBInterpolant(sigma=sigma, batch_size=500).fit([x0, x1], [0.0, 1.0], generator=_gen())
    a, b = interp.x[interp.pair_a, 0].numpy(), interp.x[interp.pair_b, 0].numpy()
    s = sigma**2
    assert np.cov(a, b)[0, 1] == pytest.approx((np.sqrt(4 + s**2) - s) / 2, abs=0.05)


def test_fused_adam_is_torch_fused_adam_bit_for_bit():
    """:class:`FusedAdam` (no ``torch.optim``, so no ``torch._dynamo`` import) makes the update of
    ``torch.optim.Adam(fused=True)`` under the warm-up/cosine schedule: the same parameters after every step, bit for
    bit, with weight decay and with a parameter that has no gradient (skipped by both)."""
    from scam.core.train import FusedAdam, _lr_factor

    config = TrainConfig(n_iters=30, warmup=5)
    torch.manual_seed(0)
    ours = [
        torch.randn(4, 3, requires_grad=True),
        torch.randn(3, requires_grad=True),
        torch.randn(2, requires_grad=True),
    ]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    try:
        reference = torch.optim.Adam(theirs, lr=0.01, weight_decay=1e-3, fused=True)
    except RuntimeError:
        pytest.skip("this torch has no fused Adam on the CPU")
    optimizers = [FusedAdam(ours, lr=0.01, weight_decay=1e-3), reference]
    for i in range(config.n_iters):
        for params, opt in zip((ours, theirs), optimizers, strict=True):
            opt.zero_grad(set_to_none=True)
            (params[0].sin().sum() * (i + 1) + (params[1] ** 3).sum()).backward()  # params[2]: no gradient
            opt.param_groups[0]["lr"] = 0.01 * _lr_factor(i, config)
            opt.step()
        for a, b in zip(ours, theirs, strict=True):
            assert torch.equal(a, b)
    assert not torch.equal(ours[0], theirs[0].new_zeros(4, 3))  # they moved
    assert len(optimizers[0].state) == 2  # the parameter without a gradient has no state


def test_adam_falls_back_to_torch_optim_without_the_fused_kernel(monkeypatch):
    from scam.core import train

    params = [torch.zeros(3, requires_grad=True)]
    assert isinstance(train._adam(params, lr=0.1, weight_decay=0.0), train.FusedAdam)
    monkeypatch.delattr(torch, "_fused_adam_")
    fallback = train._adam(params, lr=0.1, weight_decay=0.0)
    assert isinstance(fallback, torch.optim.Adam)


def test_a_fit_does_not_import_torch_dynamo():
    """The first fit in a process does not pay for ``torch._dynamo`` (1.1 s): no ``torch.optim`` optimiser is built."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, scam, anndata as ad, pandas as pd\n"
        "rng = np.random.default_rng(0)\n"
        "obs = pd.DataFrame({'time': np.repeat([0.0, 1.0, 2.0], 40)}, index=[f'c{i}' for i in range(120)])\n"
        "a = ad.AnnData(obs=obs)\n"
        "a.obsm['X_pca'] = (rng.standard_normal((120, 2)) + a.obs['time'].to_numpy()[:, None]).astype('float32')\n"
        "scam.tl.fit(a, time_key='time', n_iters=5, progress_bar=False)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
