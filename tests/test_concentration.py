"""Unit and property tests of gantheory.concentration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from torch import nn

from gantheory import ConvergenceError
from gantheory import concentration as conc

# ----------------------------------------------------------------------------- samples


def test_gaussian_samples_shape_seed_and_moments():
    x = conc.gaussian_samples(5000, 3, seed=1)
    assert x.shape == (5000, 3) and x.dtype == np.float64
    np.testing.assert_array_equal(x, conc.gaussian_samples(5000, 3, seed=1))
    np.testing.assert_allclose(np.cov(x.T), np.eye(3), atol=0.06)


def test_student_t_samples_have_unit_variance_and_heavy_tails():
    x = conc.student_t_samples(200_000, 1, df=5, seed=0)[:, 0]
    assert abs(x.var() - 1.0) < 0.05
    assert st.kurtosis(x) > 2.0  # Gaussian excess kurtosis is 0, t(5) has 6


@pytest.mark.parametrize("df", [2, 1.5, float("inf"), float("nan")])
def test_student_t_rejects_infinite_variance(df):
    with pytest.raises(ValueError, match="df"):
        conc.student_t_samples(10, 2, df=df, seed=0)


@pytest.mark.parametrize("bad", [0, -1])
def test_sample_sizes_validated(bad):
    with pytest.raises(ValueError):
        conc.gaussian_samples(bad, 2, seed=0)
    with pytest.raises(TypeError):
        conc.gaussian_samples(2.5, 2, seed=0)


# ----------------------------------------------------------------------------- observables


def test_observables_values():
    obs = conc.lipschitz_observables(3, seed=0)
    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -1.0]])
    np.testing.assert_allclose(obs["norm"](x), [5.0, 1.0])
    np.testing.assert_allclose(obs["max coordinate"](x), [4.0, 0.0])
    assert obs["projection"](np.zeros((1, 3)))[0] == 0.0
    # distance to the point a with ||a|| = sqrt(3): at the origin it equals ||a||
    np.testing.assert_allclose(obs["distance to a point"](np.zeros((1, 3))), [math.sqrt(3)])


@settings(max_examples=40, deadline=None)
@given(dim=hst.integers(1, 30), seed=hst.integers(0, 2**31 - 1))
def test_observables_are_one_lipschitz(dim, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, 50, dim)) * rng.uniform(0.01, 10)
    for f in conc.lipschitz_observables(dim, seed=seed).values():
        ratio = np.abs(f(x) - f(y)) / np.linalg.norm(x - y, axis=1)
        assert np.all(ratio <= 1.0 + 1e-12)


def test_observables_validate_dimension_and_nan():
    obs = conc.lipschitz_observables(4)
    with pytest.raises(ValueError, match="dimension 4"):
        obs["norm"](np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        obs["norm"](np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        obs["norm"](np.zeros(4))


def test_spread_and_standard_error_gaussian():
    v = np.random.default_rng(0).standard_normal(20_000) * 2.0
    s, se = conc.spread_with_error(v)
    assert abs(s - 2.0) < 4 * se
    assert se == pytest.approx(2.0 / math.sqrt(2 * v.size), rel=0.05)
    assert conc.spread(v) == pytest.approx(s)
    assert conc.spread_with_error(np.ones(5)) == (0.0, 0.0)


@pytest.mark.parametrize("bad", [[1.0], [[1.0, 2.0]], [1.0, np.nan], [np.inf, 1.0]])
def test_spread_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        conc.spread(bad)


def test_observable_spreads():
    x = conc.gaussian_samples(4000, 50, seed=3)
    out = conc.observable_spreads(x, conc.lipschitz_observables(50))
    assert set(out) == {"norm", "projection", "max coordinate", "distance to a point"}
    s, se = out["projection"]
    assert abs(s - 1.0) < 4 * se  # <u, Z> ~ N(0, 1) exactly


def test_tail_probabilities_against_exact():
    v = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # mean 0
    np.testing.assert_allclose(conc.tail_probabilities(v, [0.0, 0.5, 1.0, 2.0, 2.5]),
                               [1.0, 0.8, 0.8, 0.4, 0.0])
    with pytest.raises(ValueError):
        conc.tail_probabilities(v, [-1.0])
    with pytest.raises(ValueError):
        conc.tail_probabilities(v, [[1.0]])


def test_gaussian_tail_bound():
    np.testing.assert_allclose(conc.gaussian_tail_bound([0.0, 2.0]), [1.0, 2 * math.exp(-2)])
    assert conc.gaussian_tail_bound(4.0, lipschitz=2.0) == pytest.approx(2 * math.exp(-2))
    assert conc.gaussian_tail_bound(1.0, lipschitz=2.0) == 1.0  # capped at 1
    with pytest.raises(ValueError):
        conc.gaussian_tail_bound(1.0, lipschitz=0.0)
    with pytest.raises(ValueError):
        conc.gaussian_tail_bound([np.nan])


def test_gaussian_concentration_holds_empirically():
    """The theorem the chapter checks, in a small instance: max coordinate, d = 200."""
    x = conc.gaussian_samples(4000, 200, seed=7)
    values = x.max(axis=1)
    t = np.linspace(0, 4, 21)
    bound = conc.gaussian_tail_bound(t)
    emp = conc.tail_probabilities(values, t)
    assert np.all(emp <= bound + 4 * np.sqrt(bound * (1 - bound) / 4000) + 1 / 4000)
    assert conc.spread(values) < 1.0  # Poincare


# ----------------------------------------------------------------------------- operator norms


def test_operator_norm_linear_small_and_large():
    torch.manual_seed(0)
    for n in (20, 700):
        layer = nn.Linear(n, n + 3)
        expected = np.linalg.norm(layer.weight.detach().double().numpy(), 2)
        assert conc.operator_norm(layer, (n,)) == pytest.approx(expected, rel=1e-7)


def test_operator_norm_conv_matches_dense_matrix():
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    shape = (2, 6, 6)
    n_in = math.prod(shape)
    with torch.no_grad():
        eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *shape)
        dense = torch.nn.functional.conv2d(eye, conv.weight.double(), None, 2, 1)
    expected = np.linalg.norm(dense.reshape(n_in, -1).numpy(), 2)
    assert conc.operator_norm(conv, shape) == pytest.approx(expected, rel=1e-10)


def test_operator_norm_large_conv_uses_lanczos():
    torch.manual_seed(2)
    conv = nn.Conv2d(16, 16, 3, padding=1)
    shape = (16, 24, 24)  # 9216 inputs: beyond the dense limit
    sigma = conc.operator_norm(conv, shape)
    # Lanczos agrees with plain power iteration to its tolerance
    x = torch.randn(1, *shape, dtype=torch.float64)
    w = conv.weight.detach().double()
    for _ in range(300):
        y = torch.nn.functional.conv2d(x, w, padding=1)
        x = torch.nn.functional.conv_transpose2d(y, w, padding=1)
        x = x / x.norm()
    power = torch.nn.functional.conv2d(x, w, padding=1).norm().item()
    assert sigma == pytest.approx(power, rel=1e-4)
    assert sigma >= power * (1 - 1e-9)


def test_operator_norm_average_pooling():
    assert conc.operator_norm(nn.AvgPool2d(2), (5, 8, 8)) == pytest.approx(0.5)
    assert conc.operator_norm(nn.AvgPool2d(3), (1, 9, 9)) == pytest.approx(1 / 3)
    # degenerate spectrum (all singular values equal) on a large input: power-iteration path
    assert conc.operator_norm(nn.AvgPool1d(2), (1, 20_000)) == pytest.approx(1 / math.sqrt(2))


def test_operator_norm_validation():
    with pytest.raises(ValueError, match="input_shape"):
        conc.operator_norm(nn.Linear(3, 3), ())
    with pytest.raises(ValueError, match="input features"):
        conc.operator_norm(nn.Linear(3, 3), (4,))
    with pytest.raises(TypeError, match="no linear part"):
        conc.operator_norm(nn.ReLU(), (3,))
    with pytest.raises(ValueError, match="tol"):
        conc.operator_norm(nn.Linear(3, 3), (3,), tol=-1)


def test_power_iteration_reports_non_convergence():
    rng = np.random.default_rng(0)
    a = np.diag([1.0, 0.999999])
    with pytest.raises(ConvergenceError, match="power iteration"):
        conc._power_iteration_norm(lambda v: a @ v, lambda u: a.T @ u, 2, tol=1e-15, rng=rng,
                                   max_iter=3)
    assert conc._power_iteration_norm(lambda v: 0 * v, lambda u: 0 * u, 2, tol=1e-8,
                                      rng=rng) == 0.0


# ----------------------------------------------------------------------------- Lipschitz calculus


def test_layer_rules():
    rows = conc.layer_lipschitz_constants(
        nn.Sequential(nn.LeakyReLU(0.1), nn.ELU(2.0), nn.Sigmoid(), nn.Tanh(), nn.Identity(),
                      nn.Dropout(0.5).eval(), nn.MaxPool1d(3, 1), nn.Flatten()),
        (1, 10))
    assert [r[2] for r in rows] == [1.0, 2.0, 0.25, 1.0, 1.0, 1.0, math.sqrt(3), 1.0]


def test_batch_norm_eval_constant_and_training_refused():
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, -3.0, 0.5]))
        bn.running_var.copy_(torch.tensor([1.0, 4.0, 0.25]))
    with pytest.raises(ValueError, match="training mode"):
        conc.lipschitz_upper_bound(nn.Sequential(bn), (3,))
    bn.eval()
    expected = max(1 / math.sqrt(1 + bn.eps), 3 / math.sqrt(4 + bn.eps),
                   0.5 / math.sqrt(0.25 + bn.eps))
    assert conc.lipschitz_upper_bound(nn.Sequential(bn), (3,)) == pytest.approx(expected)
    plain = nn.BatchNorm1d(2, affine=False).eval()
    assert conc.lipschitz_upper_bound(nn.Sequential(plain), (2,)) == pytest.approx(
        1 / math.sqrt(1 + plain.eps))


def test_dropout_training_and_unknown_layers_refused():
    with pytest.raises(ValueError, match="dropout"):
        conc.lipschitz_upper_bound(nn.Sequential(nn.Dropout(0.1)), (3,))
    with pytest.raises(TypeError, match="no Lipschitz rule for LayerNorm"):
        conc.lipschitz_upper_bound(nn.Sequential(nn.LayerNorm(3)), (3,))
    with pytest.raises(ValueError, match="dilation"):
        conc.lipschitz_upper_bound(nn.Sequential(nn.MaxPool1d(2, dilation=2)), (1, 8))


def test_residual_rule_and_shape_check():
    torch.manual_seed(3)
    branch = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    lip_branch = conc.lipschitz_upper_bound(branch, (4,))
    res = nn.Sequential(conc.Residual(branch))
    rows = conc.layer_lipschitz_constants(res, (4,))
    assert len(rows) == 1 and rows[0][2] == pytest.approx(1 + lip_branch)
    with pytest.raises(ValueError, match="changes the shape"):
        conc.lipschitz_upper_bound(nn.Sequential(conc.Residual(nn.Linear(4, 5))), (4,))


def test_max_pool_rule_is_attained():
    pool = nn.Sequential(nn.MaxPool2d(3, stride=1))
    spike = np.zeros((1, 1, 7, 7))
    spike[0, 0, 3, 3] = 1.0
    assert conc.lipschitz_upper_bound(pool, (1, 7, 7)) == pytest.approx(3.0)
    assert conc.jacobian_norms(pool, spike)[0] == pytest.approx(3.0)


def _demo_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        conc.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Tanh())),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5))
    with torch.no_grad():
        net[1].running_var.uniform_(0.3, 3.0)
    return net.eval()


@settings(max_examples=8, deadline=None)
@given(seed=hst.integers(0, 10_000))
def test_upper_bound_dominates_jacobian_and_difference_quotients(seed):
    """Lip lower bounds (Jacobians, difference quotients) never exceed the layer-wise bound."""
    net = _demo_net(seed)
    upper = conc.lipschitz_upper_bound(net, (1, 8, 8))
    x = conc.gaussian_samples(32, 64, seed=seed).reshape(32, 1, 8, 8)
    y = x + 0.1 * conc.gaussian_samples(32, 64, seed=seed + 1).reshape(32, 1, 8, 8)
    assert conc.jacobian_norms(net, x).max() <= upper * (1 + 1e-9)
    fx, fy = conc.network_outputs(net, x), conc.network_outputs(net, y)
    quotients = np.linalg.norm(fx - fy, axis=1) / np.linalg.norm((x - y).reshape(32, -1), axis=1)
    assert quotients.max() <= upper * (1 + 1e-5)


def test_linear_network_bound_is_exact():
    """For a purely linear network, Lip = ||W2 W1|| <= ||W2|| ||W1||, and the Jacobian is exact."""
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(6, 6, bias=False)).eval()
    x = np.random.default_rng(0).standard_normal((3, 6))
    exact = np.linalg.norm(net[0].weight.detach().double().numpy(), 2)
    np.testing.assert_allclose(conc.jacobian_norms(net, x, n_iter=500), exact, rtol=1e-8)
    assert conc.lipschitz_upper_bound(net, (6,)) == pytest.approx(exact)


def test_spectral_normalize_returns_normalized_copy():
    torch.manual_seed(5)
    net = conc.random_convnet(3)
    before = [p.detach().clone() for p in net.parameters()]
    sn = conc.spectral_normalize(net, (1, 8, 8), target=2.0)
    for p, q in zip(before, net.parameters(), strict=True):
        assert torch.equal(p, q)  # input untouched
    for name, rule, const in conc.layer_lipschitz_constants(sn, (1, 8, 8)):
        if rule == "operator norm of W":
            assert const == pytest.approx(2.0, rel=1e-5), name
    assert conc.lipschitz_upper_bound(sn, (1, 8, 8)) == pytest.approx(2.0 * 2.0 * 0.5, rel=1e-5)
    with pytest.raises(ValueError, match="target"):
        conc.spectral_normalize(net, (1, 8, 8), target=0.0)


def test_random_networks_are_seeded_and_shaped():
    a, b = conc.random_mlp(5, 7, 3, seed=1), conc.random_mlp(5, 7, 3, seed=1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert conc.network_outputs(a, np.zeros((4, 5))).shape == (4, 7)
    conv = conc.random_convnet(6, in_channels=2, seed=0)
    assert conc.network_outputs(conv, np.zeros((3, 2, 8, 8)), batch_size=2).shape == (3, 6 * 4)
    state = torch.random.get_rng_state()
    conc.random_mlp(3, 3, 1, seed=9)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched


def test_network_outputs_validation():
    net = conc.random_mlp(2, 2, 1)
    with pytest.raises(ValueError, match="NaN"):
        conc.network_outputs(net, np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        conc.network_outputs(net, np.zeros(2))
    with torch.no_grad():
        net[0].weight.fill_(np.inf)
    with pytest.raises(FloatingPointError):
        conc.network_outputs(net, np.ones((1, 2)))


def test_jacobian_norms_validation_and_zero_map():
    with pytest.raises(ValueError):
        conc.jacobian_norms(nn.Sequential(nn.ReLU()), np.array([np.nan, 1.0]))
    relu = nn.Sequential(nn.ReLU())
    np.testing.assert_array_equal(conc.jacobian_norms(relu, -np.ones((2, 3))), [0.0, 0.0])


def test_poincare_for_spectrally_normalized_network():
    """The chapter's claim (b) in a small instance: spread of f(F(Z)) <= Lip bound."""
    net = conc.spectral_normalize(conc.random_mlp(32, 64, 3, seed=0), (32,))
    upper = conc.lipschitz_upper_bound(net, (32,))
    y = conc.network_outputs(net, conc.gaussian_samples(3000, 32, seed=1))
    for s, se in conc.observable_spreads(y, conc.lipschitz_observables(64)).values():
        assert s - 4 * se <= upper


# ----------------------------------------------------------------------------- claim checks


def test_spread_bound_and_law_checks():
    out = conc.spread_bound_check([0.9, 1.01], [0.01, 0.01], 1.0, z=4.0)
    assert set(out) == {"measured", "reference", "relation", "tolerance", "basis"}
    assert out["measured"] == pytest.approx(1.0) and out["tolerance"] == 4.0
    assert out["relation"] == "<=" and out["reference"] == 0.0
    per_bound = conc.spread_bound_check([0.5, 2.0], [0.1, 0.1], [1.0, 3.0])
    assert per_bound["measured"] == pytest.approx(-5.0)
    law = conc.spread_law_check([0.7, 0.75], [0.01, 0.01], [0.71, 0.70])
    assert law["measured"] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="same"):
        conc.spread_bound_check([1.0, 1.0], [0.1], 1.0)
    with pytest.raises(ValueError, match="positive"):
        conc.spread_bound_check([1.0], [0.0], 1.0)
    with pytest.raises(ValueError, match="z"):
        conc.spread_law_check([1.0], [0.1], 1.0, z=-1)


def test_tail_bound_check_accepts_gaussian_and_rejects_heavy_tails():
    t = np.linspace(0, 6, 61)
    z = conc.gaussian_samples(2000, 1, seed=0)[:, 0]
    p_min, count = conc.tail_bound_pvalue([z, 2 * z[::-1]], t)
    assert count == 2 * int(np.sum(conc.gaussian_tail_bound(t) < 1))
    holds = conc.tail_bound_check(z, t)
    assert holds["relation"] == ">=" and holds["measured"] >= holds["reference"]
    assert holds["reference"] == pytest.approx(0.01 / np.sum(conc.gaussian_tail_bound(t) < 1))
    assert p_min < 1e-6  # 2 z is 2-Lipschitz: its tails exceed the bound for 1-Lipschitz maps
    assert conc.tail_bound_check(2 * z, t, lipschitz=2.0)["measured"] > 0.01
    heavy = conc.tail_bound_check(conc.student_t_samples(2000, 1, 3, seed=1)[:, 0] * 3, t,
                                  expect="violated")
    assert heavy["relation"] == "<=" and heavy["measured"] <= heavy["reference"]
    with pytest.raises(ValueError, match="expect"):
        conc.tail_bound_check(z, t, expect="maybe")
    with pytest.raises(ValueError, match="bound is 1"):
        conc.tail_bound_pvalue(z, [0.0, 0.5])


def test_spread_decrease_and_growth_checks():
    dec = conc.spread_decrease_check(1.0, 0.03, 0.8, 0.04)
    assert dec["measured"] == pytest.approx(4.0) and dec["relation"] == ">="
    lo = conc.gaussian_samples(1000, 1, seed=2)[:, 0]
    hi = 3 * conc.gaussian_samples(1000, 1, seed=3)[:, 0]
    grow = conc.spread_growth_check(lo, hi)
    assert grow["measured"] > grow["reference"] > 0
    same = conc.spread_growth_check(lo, conc.gaussian_samples(1000, 1, seed=4)[:, 0])
    assert same["measured"] < same["reference"]
    with pytest.raises(ValueError, match="batches"):
        conc.spread_growth_check(lo[:10], hi[:10])
