"""Transport plans and plan sampling (scam.core.couplings) against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scam.core import couplings
from scam.core.couplings import (
    _relaxed_plan,
    bridge_plan,
    entropic_plan,
    exact_plan,
    growth_plans,
    growth_rates,
    relative_cost,
    sample_pairs,
    semi_relaxed_plan,
    semi_relaxed_plans,
    transport_map,
    transport_shift,
    unbalanced_mass_factors,
    unbalanced_plan,
    uniform_masses,
)


def _points(n=12, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_exact_plan_of_permuted_copy_is_the_permutation():
    x = _points()
    perm = np.random.default_rng(1).permutation(len(x))
    plan = exact_plan(x, x[perm])
    # x[i] sits at position j of x[perm] where perm[j] == i
    np.testing.assert_array_equal(plan.argmax(1), np.argsort(perm))
    np.testing.assert_allclose(plan.sum(), 1.0)
    assert np.count_nonzero(plan) == len(x)


@pytest.mark.parametrize("relative", [False, True])
def test_entropic_plan_marginals_are_uniform(relative):
    xa, xb = _points(10, seed=2), _points(14, seed=3)
    plan = entropic_plan(xa, xb, 0.5, relative=relative)
    np.testing.assert_allclose(plan.sum(1), np.full(10, 1 / 10), atol=1e-6)
    np.testing.assert_allclose(plan.sum(0), np.full(14, 1 / 14), atol=1e-6)


def test_bridge_plan_concentrates_as_noise_vanishes():
    x = _points(8, seed=4)
    perm = np.random.default_rng(5).permutation(len(x))
    wide, sharp = bridge_plan(x, x[perm], sigma=3.0, dt=1.0), bridge_plan(x, x[perm], sigma=0.1, dt=1.0)
    np.testing.assert_array_equal(sharp.argmax(1), np.argsort(perm))
    assert sharp.max(1).sum() > 0.99 and wide.max(1).sum() < 0.5


def test_unbalanced_mass_factors_give_the_masses_in_expectation():
    xa, xb = _points(9, seed=6), _points(11, seed=7) + 1.0
    ma, mb = 1.0, 2.5
    a, b = uniform_masses(len(xa), ma), uniform_masses(len(xb), mb)
    plan = unbalanced_plan(xa, xb, a, b, epsilon=0.1, reg_m=1.0)
    assert not np.allclose(plan.sum(), ma) and not np.allclose(plan.sum(), mb)  # really unbalanced
    ia, ib = np.meshgrid(np.arange(len(xa)), np.arange(len(xb)), indexing="ij")
    wa, wb = unbalanced_mass_factors(plan, a, b, ia, ib)
    p = plan / plan.sum()  # the probability of drawing each pair
    np.testing.assert_allclose((p * wa).sum(), ma, rtol=1e-10)
    np.testing.assert_allclose((p * wb).sum(), mb, rtol=1e-10)
    wa1, _ = unbalanced_mass_factors(plan, a, b, ia, ib, total=1.0)
    np.testing.assert_allclose(wa, plan.sum() * wa1, rtol=1e-12)


def test_growth_plans_hold_the_target_and_rates_follow_the_source():
    # two far clusters, five source cells in each; eight target cells in the first, two in the second
    shift = np.array([10.0, 0.0, 0.0])
    xa = np.concatenate([_points(5, seed=8), _points(5, seed=9) + shift])
    xb = np.concatenate([_points(8, seed=10), _points(2, seed=11) + shift])
    a, b = uniform_masses(10, 1.0), uniform_masses(10, 1.0)
    growth, pair = growth_plans(
        xa, xb, a, b, growth_epsilon=0.2, growth_reg_m=3.0, pair_epsilon=0.01, pair_reg_m=1.0, reg_m_target=50.0
    )
    for plan in (growth, pair):
        assert np.all(np.isfinite(plan))
        np.testing.assert_allclose(plan.sum(0), b, rtol=0.2)  # target (nearly) held
    rho = growth_rates(growth, a)
    np.testing.assert_allclose(rho, growth.sum(1) / a)
    assert rho[:5].min() > 1.1 and rho[5:].max() < 0.9  # the first cluster grows, the second shrinks


def test_semi_relaxed_plan_stops_close_to_the_converged_plan():
    """The loosened stopping threshold moves growth rates and plan rows by far less than a minibatch's noise."""
    import ot

    rng = np.random.default_rng(3)
    xa, xb = rng.standard_normal((300, 5)), rng.standard_normal((300, 5)) + 0.5
    a, b = rng.random(300) + 0.5, uniform_masses(300, 1.0)
    a = a / a.sum()
    cost = relative_cost(xa, xb)
    plan = semi_relaxed_plan(a, b, cost, epsilon=0.01, reg_m=(3.0, 50.0))
    tight = ot.unbalanced.sinkhorn_unbalanced(
        a,
        b,
        cost,
        reg=0.01,
        reg_m=(3.0, 50.0),
        method="sinkhorn_translation_invariant",
        numItermax=10_000,
        stopThr=1e-9,
    )
    np.testing.assert_allclose(growth_rates(plan, a), growth_rates(tight, a), rtol=0.01)
    rows = plan / plan.sum(1, keepdims=True) - tight / tight.sum(1, keepdims=True)
    assert np.abs(rows).sum(1).max() < 0.03


@pytest.mark.filterwarnings("ignore:Numerical errors:UserWarning", "ignore:divide by zero:RuntimeWarning")
def test_batched_semi_relaxed_plans_are_pots_plans():
    """The batched torch iteration (the chains' solver on a GPU) gives POT's plan for each problem of a batch.

    The problems stop at different iterations (different sizes of drift and weights). The third one has a target
    cell no source reaches (its kernel column underflows): POT stops there at once and returns its unscaled kernel
    (total mass 0.05, the target marginal 99.9 % off); every solver now solves it in the log domain instead.
    """
    rng = np.random.default_rng(4)
    xa = rng.standard_normal((3, 60, 4))
    xb = rng.standard_normal((3, 60, 4)) + np.array([0.0, 1.0, 0.3])[:, None, None]
    xb[2, 0] = 40.0  # unreachable at ε = 0.01
    a = rng.random((3, 60)) + 0.2
    a = a / a.sum(1, keepdims=True)
    b = np.full((3, 60), 1 / 60)
    cost = np.stack([relative_cost(xa[i], xb[i]) for i in range(3)])
    expected = np.stack([semi_relaxed_plan(a[i], b[i], cost[i], epsilon=0.01, reg_m=(3.0, 50.0)) for i in range(3)])
    args = [torch.as_tensor(v) for v in (a, b, cost)]
    logged = couplings._log_domain_plans(*[v[2:] for v in args], epsilon=0.01, reg_m=(3.0, 50.0), stop_thr=1e-4)
    for solver in ("torch", "pot", "auto"):
        plans = semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), solver=solver).numpy()
        np.testing.assert_allclose(plans[:2], expected[:2], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(plans[2], logged[0].numpy(), rtol=1e-9, atol=1e-15)
    # the log-domain plan holds the target at every reachable cell (POT's stopped plan misses it by 99.9 %)
    np.testing.assert_allclose(logged[0].numpy().sum(0)[1:], b[2, 1:], rtol=0.01)
    assert np.abs(expected[2].sum(0)[1:] / b[2, 1:] - 1).max() > 0.9
    assert not np.allclose(growth_rates(expected[0], a[0]), 1.0, atol=0.05)  # not a trivial plan
    with pytest.raises(ValueError, match="'auto', 'torch' or 'pot'"):
        semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), solver="cuda")


def test_over_relaxed_plans_reach_the_same_plan_in_fewer_iterations():
    """ω = 1.5 (the chains' setting): rows and relative growth rates as close to the converged plan as POT's
    stopping point, in fewer iterations; the NumPy and the batched torch iterations give the same plans."""
    import ot

    rng = np.random.default_rng(5)
    xa, xb = rng.standard_normal((3, 200, 5)), rng.standard_normal((3, 200, 5)) + 0.4
    a = rng.random((3, 200)) + 0.5
    a = a / a.sum(1, keepdims=True)
    b = np.full((3, 200), 1 / 200)
    cost = np.stack([relative_cost(xa[i], xb[i]) for i in range(3)])
    for i in range(3):
        tight = ot.unbalanced.sinkhorn_unbalanced(
            a[i],
            b[i],
            cost[i],
            reg=0.01,
            reg_m=(3.0, 50.0),
            method="sinkhorn_translation_invariant",
            numItermax=10_000,
            stopThr=1e-10,
        )
        plain, n_plain, _ = _relaxed_plan(
            a[i], b[i], cost[i], epsilon=0.01, reg_m=(3.0, 50.0), stop_thr=1e-4, relaxation=1.0
        )
        np.testing.assert_allclose(
            plain, semi_relaxed_plan(a[i], b[i], cost[i], epsilon=0.01, reg_m=(3.0, 50.0)), rtol=1e-9, atol=1e-15
        )  # ω = 1 is POT's iteration
        plan, n_relaxed, failed = _relaxed_plan(
            a[i], b[i], cost[i], epsilon=0.01, reg_m=(3.0, 50.0), stop_thr=1e-4, relaxation=1.5
        )
        assert not failed and n_relaxed < 0.6 * n_plain
        rho, rho_tight = growth_rates(plan, a[i]), growth_rates(tight, a[i])
        np.testing.assert_allclose(rho / rho.mean(), rho_tight / rho_tight.mean(), rtol=0.01)
        assert abs(plan.sum() / tight.sum() - 1) < 0.03
        rows = plan / plan.sum(1, keepdims=True) - tight / tight.sum(1, keepdims=True)
        assert np.abs(rows).sum(1).max() < 0.03
    args = [torch.as_tensor(v) for v in (a, b, cost)]
    on_host = semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), relaxation=1.5).numpy()
    batched = semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), relaxation=1.5, solver="torch").numpy()
    np.testing.assert_allclose(batched, on_host, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match=r"\[1, 2\)"):
        semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), relaxation=2.0)


@pytest.mark.filterwarnings("ignore:Numerical errors:UserWarning", "ignore:divide by zero:RuntimeWarning")
def test_an_unreachable_cell_is_solved_in_the_log_domain():
    """An unreachable target cell makes the scaling iterations fail at once; both solvers solve it in the log domain.

    The log-domain iteration has the same fixed point: on a problem without underflow it gives POT's plan up to the
    solvers' tolerances.
    """
    rng = np.random.default_rng(6)
    xa, xb = rng.standard_normal((2, 50, 3)), rng.standard_normal((2, 50, 3))
    xb[1, 0] = 40.0  # unreachable at ε = 0.01
    a = np.full((2, 50), 1 / 50)
    cost = np.stack([relative_cost(xa[i], xb[i]) for i in range(2)])
    expected = np.stack([semi_relaxed_plan(a[i], a[i], cost[i], epsilon=0.01, reg_m=(3.0, 50.0)) for i in range(2)])
    assert _relaxed_plan(a[1], a[1], cost[1], epsilon=0.01, reg_m=(3.0, 50.0), stop_thr=1e-4, relaxation=1.5)[2]
    args = [torch.as_tensor(v) for v in (a, a, cost)]
    logged = couplings._log_domain_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), stop_thr=1e-4).numpy()
    for solver in ("torch", "pot"):
        plans = semi_relaxed_plans(*args, epsilon=0.01, reg_m=(3.0, 50.0), relaxation=1.5, solver=solver).numpy()
        np.testing.assert_allclose(plans[1], logged[1], rtol=1e-9, atol=1e-15)
        assert np.isfinite(plans).all()
    np.testing.assert_allclose(logged[1].sum(0)[1:], a[1, 1:], rtol=0.01)  # the reachable target cells held
    # without underflow, the same fixed point as POT's iteration (both stop at a tolerance of 1e-4)
    assert np.abs(logged[0] - expected[0]).sum() < 0.01 * expected[0].sum()
    np.testing.assert_allclose(logged[0].sum(1), expected[0].sum(1), rtol=0.02)


def test_log_domain_plans_take_a_weightless_source_cell():
    """A chain whose weight underflowed to 0 sends no mass; the log domain does not turn its row into NaN."""
    rng = np.random.default_rng(7)
    xa, xb = torch.as_tensor(rng.standard_normal((1, 50, 3))), torch.as_tensor(rng.standard_normal((1, 50, 3)))
    xb[0, 0] = 40.0  # unreachable: the plan is solved in the log domain
    a = torch.full((1, 50), 1 / 49, dtype=torch.float64)
    a[0, 3] = 0.0
    b = torch.full((1, 50), 1 / 50, dtype=torch.float64)
    plan = semi_relaxed_plans(a, b, couplings.relative_costs(xa, xb), epsilon=0.01, reg_m=(1.0, 50.0), solver="torch")
    assert bool(torch.isfinite(plan).all()) and float(plan[0, 3].sum()) < 1e-250
    np.testing.assert_allclose(plan[0].sum(0)[1:].numpy(), b[0, 1:].numpy(), rtol=0.01)


def test_transport_shift_keeps_drift_out_of_the_growth():
    """A cloud that only moves: the shift is its displacement, and the plan on the shifted cost grows no cell."""
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((200, 2)), rng.standard_normal((200, 2)) + [3.0, 0.0]
    a = b = uniform_masses(200, 1.0)
    shift = transport_shift(xa, xb, a, b, epsilon=0.01, reg_m=(3.0, 50.0))
    np.testing.assert_allclose(shift, xb.mean(0) - xa.mean(0), atol=0.05)
    raw, shifted = (
        np.log(growth_rates(semi_relaxed_plan(a, b, relative_cost(xa + c, xb), epsilon=0.01, reg_m=(3.0, 50.0)), a))
        for c in (np.zeros(2), shift)
    )
    # the raw cost grows the front and shrinks the back (measured: std 0.14, correlation 0.999 with x)
    assert raw.std() > 0.1 and np.corrcoef(raw, xa[:, 0])[0, 1] > 0.9
    assert shifted.std() < 0.04 and abs(np.corrcoef(shifted, xa[:, 0])[0, 1]) < 0.2  # measured 0.017, -0.03


def test_transport_map_keeps_spreading_out_of_the_growth():
    """A cloud that moves and doubles its spread without growth: the map scales it by 2 (the Gaussian OT map), and
    the plan on the mapped cost grows no cell; the translation alone reads the spreading as growth of the outer
    cells. Each axis is scaled by its own spread's change, and a spread that only sampling changed is not."""
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((300, 2)), 2.0 * rng.standard_normal((300, 2)) + [3.0, 0.0]
    a = b = uniform_masses(300, 1.0)
    settings = {"epsilon": 0.01, "reg_m": (1.0, 50.0)}
    radius = np.linalg.norm(xa - xa.mean(0), axis=1)
    rates = {}
    for scale in (False, True):
        s, c = transport_map(xa, xb, a, b, scale=scale, **settings)
        rates[scale] = np.log(growth_rates(semi_relaxed_plan(a, b, relative_cost(s * xa + c, xb), **settings), a))
        if scale:
            np.testing.assert_allclose(s, [2.0, 2.0], atol=0.15)  # measured 1.92 and 1.94
            np.testing.assert_allclose(s * xa.mean(0) + c, xb.mean(0), atol=0.15)
        else:
            np.testing.assert_array_equal(s, [1.0, 1.0])
            np.testing.assert_array_equal(c, transport_shift(xa, xb, a, b, **settings))
    # the translation alone: std 0.15, correlation 0.96 with the distance from the centre; the map: 0.04, -0.36
    assert rates[False].std() > 0.1 and np.corrcoef(rates[False], radius)[0, 1] > 0.9
    assert rates[True].std() < 0.06 and abs(np.corrcoef(rates[True], radius)[0, 1]) < 0.5
    s, _ = transport_map(xa, xb * [1.0, 0.5], a, b, **settings)  # spreads along the first axis only
    np.testing.assert_allclose(s, [2.0, 1.0], atol=0.15)
    s, _ = transport_map(xa, rng.standard_normal((300, 2)) + [3.0, 0.0], a, b, **settings)
    np.testing.assert_array_equal(s, [1.0, 1.0])  # the spreads differ only by sampling: shrunk to none


def test_transport_map_scales_no_axis_it_cannot_measure():
    """A column constant in the source (rounding leaves it a spread of ~1e-16, which once gave a scale of 5e15) is
    shifted, not scaled, and a minibatch whose weight sits on a few cells is not scaled at all."""
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((50, 3)), 2.0 * rng.standard_normal((60, 3))
    xa[:, 1] = 2.0
    settings = {"epsilon": 0.01, "reg_m": (1.0, 50.0)}
    b = uniform_masses(60, 1.0)
    a = rng.dirichlet(np.ones(50))  # uneven weights: the constant column's weighted spread is not exactly 0
    s, c = transport_map(xa, xb, a, b, **settings)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(c)) and s[1] == 1.0
    np.testing.assert_allclose(s[[0, 2]], 2.0, atol=0.5)
    few = np.full(50, 1e-12)
    few[:3] = 1.0  # effective size 3
    s, c = transport_map(xa, xb, few / few.sum(), b, **settings)
    np.testing.assert_array_equal(s, np.ones(3))
    assert np.all(np.isfinite(c))


def test_sample_pairs_frequencies_follow_the_plan():
    plan = np.array([[0.1, 0.0, 0.2], [0.3, 0.05, 0.35]])
    n = 200_000
    for gen in (torch.Generator().manual_seed(0), np.random.default_rng(0)):
        i, j = sample_pairs(plan, n, gen)
        counts = np.zeros_like(plan)
        np.add.at(counts, (i, j), 1)
        np.testing.assert_allclose(counts / n, plan / plan.sum(), atol=5e-3)
        assert counts[0, 1] == 0


def test_sample_pairs_draws_as_the_generators_do():
    plan = np.random.default_rng(10).random((4, 5))
    i, j = sample_pairs(plan, 50, torch.Generator().manual_seed(3))
    p = torch.as_tensor(plan.ravel(), dtype=torch.float64)
    flat = torch.multinomial(p / p.sum(), 50, replacement=True, generator=torch.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(i * 5 + j, flat)
    i, j = sample_pairs(plan, 50, np.random.default_rng(3))
    flat = np.random.default_rng(3).choice(20, size=50, p=plan.ravel() / plan.sum())
    np.testing.assert_array_equal(i * 5 + j, flat)
    with pytest.raises(TypeError, match="generator"):
        sample_pairs(plan, 5, 3)


def test_solver_constants():
    assert couplings.EXACT_MAX_ITER == 1_000_000 and couplings.BASELINE_EXACT_MAX_ITER == 10_000_000
    assert couplings.SINKHORN_MAX_ITER == 1_000 and couplings.BASELINE_SINKHORN_MAX_ITER == 10_000
    assert couplings.UNBALANCED_MAX_ITER == 1_000 and couplings.MASS_FLOOR == 1e-300
