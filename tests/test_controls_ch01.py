"""Controls of chapter 1's claims: the chapter's checks, fed inputs that break their
hypothesis, must reject them (see tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gantheory import claims
from gantheory import concentration as conc

T_GRID = np.linspace(0.0, 6.0, 61)


def _ledger():
    return claims.Ledger("ch01", mode="quick")


def _spreads(values_list):
    out = [conc.spread_with_error(v) for v in values_list]
    return np.array([s for s, _ in out]), np.array([se for _, se in out])


def _t3(n, d, seed):
    return conc.student_t_samples(n, d, df=3, seed=seed)


@pytest.mark.control("ch01-poincare-gaussian")
def test_poincare_check_rejects_a_1_5_lipschitz_observable(reject):
    z = conc.gaussian_samples(400, 100, seed=1)
    obs = conc.lipschitz_observables(100, seed=2)
    values = [f(z) for f in obs.values()] + [1.5 * obs["projection"](z)]
    s, se = _spreads(values)
    rec = _ledger().evaluate("ch01-poincare-gaussian", statement="control",
                             **conc.spread_bound_check(s, se, 1.0))
    reject(rec, "1.5 <u, Z> (a 1.5-Lipschitz observable) against the bound 1")


@pytest.mark.control("ch01-poincare-gaussian")
def test_poincare_check_rejects_student_t_max_coordinate(reject):
    x = _t3(400, 1000, seed=3)
    s, se = _spreads([x.max(axis=1)])
    rec = _ledger().evaluate("ch01-poincare-gaussian", statement="control",
                             **conc.spread_bound_check(s, se, 1.0))
    reject(rec, "max coordinate of Student-t(3) vectors (same covariance, not concentrated)")


@pytest.mark.control("ch01-projection-attains-bound")
def test_projection_law_check_rejects_a_wrong_variance(reject):
    z = conc.gaussian_samples(2000, 100, seed=4)
    u = conc.lipschitz_observables(100, seed=5)["projection"]
    s, se = _spreads([0.9 * u(z)])
    rec = _ledger().evaluate("ch01-projection-attains-bound", statement="control",
                             **conc.spread_law_check(s, se, 1.0))
    reject(rec, "0.9 <u, Z> (standard deviation 0.9) against the value 1")


@pytest.mark.control("ch01-norm-chi-law")
def test_chi_law_check_rejects_student_t_norms(reject):
    import scipy.stats as st

    x = _t3(400, 100, seed=6)
    s, se = _spreads([np.linalg.norm(x, axis=1)])
    rec = _ledger().evaluate("ch01-norm-chi-law", statement="control",
                             **conc.spread_law_check(s, se, st.chi(100).std()))
    reject(rec, "norms of Student-t(3) vectors (same covariance) against the chi_100 law")


@pytest.mark.control("ch01-max-coordinate-decreases")
def test_decrease_check_rejects_student_t_max_coordinate(reject):
    lo, hi = _t3(400, 10, seed=7).max(axis=1), _t3(400, 1000, seed=8).max(axis=1)
    (s0, s1), (e0, e1) = _spreads([lo, hi])
    rec = _ledger().evaluate("ch01-max-coordinate-decreases", statement="control",
                             **conc.spread_decrease_check(s0, e0, s1, e1))
    reject(rec, "max coordinate of Student-t(3) vectors, d = 10 -> 1000 (it grows)")


@pytest.mark.control("ch01-gaussian-tails")
def test_tail_check_rejects_student_t_observables(reject):
    x = _t3(400, 1000, seed=9)
    obs = conc.lipschitz_observables(1000, seed=10)
    rec = _ledger().evaluate("ch01-gaussian-tails", statement="control",
                             **conc.tail_bound_check([f(x) for f in obs.values()], T_GRID))
    reject(rec, "the four observables of Student-t(3) vectors against 2 exp(-t^2/2)")


@pytest.mark.control("ch01-poincare-networks")
def test_network_check_rejects_a_network_that_is_not_1_lipschitz(reject):
    import torch

    net = conc.spectral_normalize(conc.random_mlp(64, 64, depth=3, seed=11), (64,))
    with torch.no_grad():
        net[-1].weight.mul_(50.0)  # Lipschitz constant up to 50, checked against the bound 1
    z = conc.gaussian_samples(300, 64, seed=12)
    y = conc.network_outputs(net, z)
    obs = conc.lipschitz_observables(64, seed=13)
    s, se = _spreads([f(y) for f in obs.values()])
    rec = _ledger().evaluate("ch01-poincare-networks", statement="control",
                             **conc.spread_bound_check(s, se, 1.0))
    reject(rec, "spectrally normalized MLP with its last layer scaled by 50, bound 1")


@pytest.mark.control("ch01-heavy-tail-spread-grows")
def test_growth_check_rejects_gaussian_max_coordinate(reject):
    lo = conc.gaussian_samples(400, 10, seed=14).max(axis=1)
    hi = conc.gaussian_samples(400, 1000, seed=15).max(axis=1)
    rec = _ledger().evaluate("ch01-heavy-tail-spread-grows", statement="control",
                             **conc.spread_growth_check(lo, hi))
    reject(rec, "max coordinate of Gaussian vectors, d = 10 -> 1000 (concentrated)")


@pytest.mark.control("ch01-heavy-tail-exceeds-bound")
def test_exceedance_check_rejects_gaussian_max_coordinate(reject):
    values = conc.gaussian_samples(400, 1000, seed=16).max(axis=1)
    rec = _ledger().evaluate("ch01-heavy-tail-exceeds-bound", statement="control",
                             **conc.tail_bound_check(values, T_GRID, expect="violated"))
    reject(rec, "max coordinate of Gaussian vectors (the bound holds)")
