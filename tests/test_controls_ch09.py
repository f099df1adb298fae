"""Controls of chapter 9's claims (a one-dimensional latent): the same checks as the chapter, fed
a generator that breaks the Lipschitz hypothesis, a wrong cost formula or a quantity that grows
with n, must reject them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gantheory import claims, config
from gantheory import wasserstein as ws

M = 4000  # latent midpoints, as in the chapter's quick mode


def _ledger():
    return claims.Ledger("ch09", mode="quick")


def _points(n=5, seed=0):
    return np.sort(np.random.default_rng(seed).uniform(0, 10, n))


@pytest.mark.control("ch09-nobody-beats-optimum")
def test_optimum_check_rejects_a_generator_with_twice_the_budget(reject):
    pts = _points()
    K = 2 * ws.lipschitz_threshold_1d(pts)
    G = ws.optimal_generator_1d(pts, 2 * K)  # 2K-Lipschitz: outside the class Lip_K
    value, err = ws.semidiscrete_w1(G, pts[:, None], M, lipschitz=2 * K)
    rec = _ledger().evaluate("ch09-nobody-beats-optimum", statement="control",
                             **ws.optimum_1d_check(value, err, pts, K))
    reject(rec, "the optimal 2K-Lipschitz generator against the K-Lipschitz optimum")


@pytest.mark.control("ch09-nobody-beats-optimum")
def test_optimum_check_rejects_a_shifted_optimum(reject):
    pts = _points(seed=1)
    K = 2 * ws.lipschitz_threshold_1d(pts)
    value, err = ws.semidiscrete_w1(ws.optimal_generator_1d(pts, K), pts[:, None], M,
                                    lipschitz=K)
    check = ws.optimum_1d_check(value, err, pts, K)
    check["reference"] *= 1.5  # a wrong optimum, 50% above the true one
    rec = _ledger().evaluate("ch09-nobody-beats-optimum", statement="control", **check)
    reject(rec, "G* itself against an optimum shifted up by 50%")


@pytest.mark.control("ch09-transit-cost")
def test_transit_cost_check_rejects_a_wrong_constant(reject):
    rows = []
    for n, seed in ((5, 2), (7, 3)):
        pts = _points(n, seed)
        K = 1.5 * ws.lipschitz_threshold_1d(pts)
        value, err = ws.semidiscrete_w1(ws.optimal_generator_1d(pts, K), pts[:, None], M,
                                        lipschitz=K)
        rows.append((value, np.sum(np.diff(pts) ** 2) / (8 * K), err))  # 1/(8K): one half-transit
    v, f, e = map(np.array, zip(*rows, strict=True))
    rec = _ledger().evaluate("ch09-transit-cost", statement="control", kind="exact",
                             **ws.error_ratio_check(v, f, e, "=="))
    reject(rec, "cost formula sum d^2/(8K), one half-transit per gap instead of two")


def _paths(D, grid=(8, 16, 32, 64), reps=3):
    """Heuristic/exact least squared paths through uniform points in [0, 1]^D: rows
    ``(n, points, order, S)``."""
    rows = []
    for n in grid:
        for r in range(reps):
            p = np.random.default_rng(config.derive_seed(9, "ctl-grow", D, n, r)).uniform(0, 1,
                                                                                          (n, D))
            order, S = ws.min_squared_path(p)
            rows.append((n, p, order, S))
    return rows


@pytest.mark.control("ch09-path-energy-slope-d2", "ch09-path-energy-slope-d3")
def test_energy_slope_check_rejects_the_sum_of_lengths(reject):
    for D in (2, 3):
        rows = _paths(D)
        n_all = [n for n, *_ in rows]
        lengths = [np.linalg.norm(np.diff(p[o], axis=0), axis=1).sum() for _, p, o, _ in rows]
        rec = _ledger().evaluate(f"ch09-path-energy-slope-d{D}", statement="control",
                                 **ws.slope_check(n_all, lengths, 1 - 2 / D, "equals"))
        reject(rec, f"the sum of (unsquared) lengths, which grows like n^(1 - 1/{D})")


@pytest.mark.control("ch09-spacing-energy-d1")
def test_spacing_energy_rejects_the_mean_without_its_factor_2(reject):
    ratios = []
    for n in (16, 64, 256):
        for r in range(10):
            g = np.random.default_rng(config.derive_seed(9, "ctl-gap", n, r))
            x = np.sort(g.uniform(size=n))
            ratios.append(np.sum(np.diff(x) ** 2) / ((n - 1) / ((n + 1) * (n + 2))))
    ratios = np.array(ratios)
    rec = _ledger().evaluate("ch09-spacing-energy-d1", statement="control",
                             measured=float(ratios.mean()), reference=1.0, relation="==",
                             tolerance=float(stats.t.ppf(0.995, len(ratios) - 1)
                                             * ratios.std(ddof=1) / np.sqrt(len(ratios))),
                             basis="control")
    reject(rec, "E S = (n-1)/((n+1)(n+2)), the exact mean without its factor 2")


@pytest.mark.control("ch09-generator-rate-d1")
def test_generator_rate_rejects_a_target_the_sample_does_not_come_from(reject):
    u = (np.arange(4000) + 0.5) / 4000
    n_all, w1 = [], []
    for n in (16, 64, 256, 1024):
        for r in range(4):
            x = np.random.default_rng(config.derive_seed(9, "ctl-rate", n, r)).uniform(size=n)
            G = ws.optimal_generator_1d(x, ws.lipschitz_threshold_1d(x))
            n_all.append(n)
            w1.append(np.mean(np.abs(np.ravel(G(u)) - 1.2 * u)))  # W1 to U[0, 1.2]
    rec = _ledger().evaluate("ch09-generator-rate-d1", statement="control",
                             **ws.slope_check(n_all, w1, -0.5, "equals"))
    reject(rec, "W1 to U[0, 1.2], a law the sample was not drawn from (no decay)")


@pytest.mark.control("ch09-curve-lower-bound")
def test_curve_lower_bound_rejects_the_sampling_rate_as_a_bound(reject):
    ratios = []
    for D in (2, 3):
        for n, p, order, _ in _paths(D, grid=(16, 64), reps=2):
            K0 = ws.path_threshold(p, order)
            X = np.random.default_rng(n).uniform(0, 1, (2000, D))
            dist, se = ws.mean_distance_to_path(p, order, X)
            ratios.append((dist - 2.33 * se) / K0 ** (-1 / D))  # wrong: K^(-1/D), not K^(-1/(D-1))
    rec = _ledger().evaluate("ch09-curve-lower-bound", statement="control",
                             measured=min(ratios), reference=1.0, relation=">=", basis="control")
    reject(rec, "a 'lower bound' K^(-1/D) in place of the bound of order K^(-1/(D-1))")


@pytest.mark.control("ch09-star-walk-at-bound")
def test_at_bound_check_rejects_the_star_path(reject):
    """The star's Hamiltonian path: its leaf-to-leaf edge passes closer to the centre than to its
    ends, so its W1 lies below S/(4K) by more than the discretisation error."""
    angles = np.deg2rad([90, 210, 330])
    star = np.vstack([[0.0, 0.0], np.c_[np.cos(angles), np.sin(angles)]])
    K = 40.0
    order, cost = ws.min_squared_path(star, walks=False)
    value, err = ws.semidiscrete_w1(ws.path_generator(star, order, K), star, 40_000, lipschitz=K)
    rec = _ledger().evaluate("ch09-star-walk-at-bound", statement="control", kind="exact",
                             **ws.error_ratio_check([value], [cost / (4 * K)], [err], "=="))
    reject(rec, "the star's Hamiltonian path generator, whose W1 lies below its bound")


@pytest.mark.control("ch09-semidual-meets-primal")
def test_semidual_rejects_a_wrong_dual_potential(reject):
    """The semi-dual at a perturbed potential g is a valid but loose lower bound: the check that
    it meets the primal must fail."""
    pts = np.sort(np.random.default_rng(5).uniform(0, 10, 7))
    K = 1.5 * ws.lipschitz_threshold_1d(pts)
    G = ws.optimal_generator_1d(pts, K)
    value, err = ws.semidiscrete_w1(G, pts[:, None], 4000, lipschitz=K)
    _, _, g = ws.semidual_w1(G, pts[:, None], 4000, lipschitz=K)
    g_wrong = g + np.random.default_rng(0).normal(0, 1.0, g.shape)
    dual, dual_err, _ = ws.semidual_w1(G, pts[:, None], 4000, lipschitz=K, g=g_wrong)
    assert dual - dual_err <= value + err  # weak duality still holds
    rec = claims.Ledger("ch09", mode="quick").evaluate(
        "ch09-semidual-meets-primal", statement="control", kind="exact",
        **ws.error_ratio_check([dual], [value], [err + dual_err], "=="))
    reject(rec, "a dual potential perturbed by N(0, 1) noise")
    good, good_err, _ = ws.semidual_w1(G, pts[:, None], 4000, lipschitz=K)
    assert abs(good - value) <= err + good_err
