"""Unit tests of the ledger helpers of gantheory.partitions used by chapters 5 and 6:
max_gaussian_expectation, precision_expansion, expansion_check, agreement_check and
strip_mass_mc."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from gantheory import partitions as pt


@pytest.mark.parametrize("m", [2, 3, 10, 1000])
def test_max_expectation_matches_known_moments(m):
    assert pt.max_gaussian_expectation(m, lambda x: 1.0) == pytest.approx(1.0, rel=1e-12)
    assert pt.max_gaussian_expectation(m, lambda x: x) == pytest.approx(
        pt.expected_max_gaussian(m), rel=1e-12)


def test_max_expectation_second_moment_of_two():
    # max(g1, g2)^2 and min(g1, g2)^2 have the same law and add up to g1^2 + g2^2
    assert pt.max_gaussian_expectation(2, lambda x: x * x) == pytest.approx(1.0, rel=1e-12)
    rng = np.random.default_rng(1)
    mx = rng.standard_normal((200_000, 5)).max(axis=1)
    est = np.abs(mx**3 - 3 * mx)
    val = pt.max_gaussian_expectation(5, lambda x: abs(x**3 - 3 * x),
                                      kinks=(0.0, math.sqrt(3), -math.sqrt(3)))
    assert abs(est.mean() - val) < 5 * est.std() / math.sqrt(est.size)


@pytest.mark.parametrize("name,exact", [("upper", pt.precision_upper_bound),
                                        ("simplicial", pt.simplicial_precision)])
@pytest.mark.parametrize("m", [2, 3, 7, 100, 10**5])
def test_expansion_holds_with_its_remainder(name, exact, m):
    eps = np.array([0.4, 0.1, 0.03, 0.01])
    e = pt.precision_expansion(m, eps, name)
    assert e["remainder"].shape == eps.shape and np.all(e["remainder"] > 0)
    rec = pt.expansion_check(exact(m, eps), eps, **e)
    assert rec["relation"] == "<=" and rec["reference"] == 1.0
    assert rec["measured"] <= 1.0 + rec["tolerance"]


def test_expansion_slopes_and_curvature():
    m = 10
    up = pt.precision_expansion(m, 0.05, "upper")
    assert isinstance(up["remainder"], float)
    assert up["slope"] == pytest.approx(m / 2 * st.norm.pdf(st.norm.ppf(1 / m)), rel=1e-12)
    simp = pt.precision_expansion(m, 0.05, "simplicial")
    assert simp["slope"] == pytest.approx(pt.simplicial_perimeter(m), rel=1e-12)
    # the curvature by a central second difference of the exact forms
    for name, f, e in [("upper", pt.precision_upper_bound, up),
                       ("simplicial", pt.simplicial_precision, simp)]:
        h = 1e-3
        second = (f(m, 2 * h) - 2 * f(m, h) + f(m, 0.0)) / h**2  # one-sided, O(h) accurate
        assert second / 2 == pytest.approx(e["curvature"], rel=0.05), name


def test_expansion_check_rejects_a_wrong_slope():
    eps = np.array([0.1, 0.05])
    e = pt.precision_expansion(5, eps, "simplicial")
    bad = pt.expansion_check(pt.simplicial_precision(5, eps), eps, e["slope"] * 1.01,
                             e["curvature"], e["remainder"])
    assert bad["measured"] > 1.0


def test_expansion_validation():
    with pytest.raises(ValueError, match="bound"):
        pt.precision_expansion(3, 0.1, "lower")
    with pytest.raises(ValueError, match="remainder"):
        pt.expansion_check(0.9, 0.1, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="abs_error"):
        pt.expansion_check(0.9, 0.1, 1.0, 0.0, 1.0, abs_error=-1)
    with pytest.raises(TypeError):
        pt.max_gaussian_expectation(3, 2.0)


def test_agreement_check_quantile_and_bias():
    rec = pt.agreement_check(0.5, 0.1, 0.3, level=0.05)
    assert rec["reference"] == pytest.approx(1.959964, abs=1e-5)
    assert rec["measured"] == pytest.approx(2.0)
    assert pt.agreement_check(0.5, 0.1, 0.3, bias=0.05)["measured"] == pytest.approx(1.5)
    assert pt.agreement_check(0.5, 0.1, 0.3, bias=0.5)["measured"] == 0.0
    k4 = pt.agreement_check([0.0] * 4, 1.0, 0.0, level=0.05)
    assert k4["reference"] == pytest.approx(st.norm.ppf(1 - 0.05 / 8))
    assert k4["tolerance"] == 0.0 and "Bonferroni" in k4["basis"]


def test_agreement_check_validation():
    with pytest.raises(ValueError, match="standard errors"):
        pt.agreement_check([1.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="bias"):
        pt.agreement_check([1.0], [1.0], [1.0], bias=-1)
    with pytest.raises(ValueError, match="level"):
        pt.agreement_check([1.0], [1.0], [1.0], level=1.5)
    with pytest.raises(ValueError, match="at least one"):
        pt.agreement_check([], [], [])


def test_strip_mass_of_a_half_space_and_seeding():
    a, h, n = -0.5, 0.1, 200_000
    est, se = pt.strip_mass_mc(lambda z: np.abs(z[:, 1] - a), 3, h, n, seed=3)
    assert abs(est - st.norm.pdf(a)) < 5 * se + h**2 * st.norm.pdf(0) / 24
    assert se == pytest.approx(math.sqrt(est * h * (1 - est * h) / n) / h)
    assert pt.strip_mass_mc(lambda z: np.abs(z[:, 1] - a), 3, h, 1000, seed=3) == \
        pt.strip_mass_mc(lambda z: np.abs(z[:, 1] - a), 3, h, 1000, seed=3)


def test_strip_mass_validation():
    with pytest.raises(TypeError):
        pt.strip_mass_mc(1.0, 2, 0.1, 10, seed=0)
    with pytest.raises(ValueError, match="shape"):
        pt.strip_mass_mc(lambda z: z[:5, 0], 2, 0.1, 10, seed=0)
    with pytest.raises(ValueError, match="shape"):
        pt.strip_mass_mc(lambda z: z[:, :, None], 2, 0.1, 10, seed=0)


def test_strip_mass_of_several_boundaries_on_the_same_draws():
    a = np.array([-1.0, 0.0, 0.5])
    est, se = pt.strip_mass_mc(lambda z: np.abs(z[:, :1] - a[None, :]), 2, 0.1, 5000, seed=4)
    assert est.shape == se.shape == (3,)
    for k in range(3):
        one = pt.strip_mass_mc(lambda z, k=k: np.abs(z[:, 0] - a[k]), 2, 0.1, 5000, seed=4)
        assert one == (pytest.approx(est[k]), pytest.approx(se[k]))
    with pytest.raises(ValueError):
        pt.strip_mass_mc(lambda z: z[:, 0], 2, 0.0, 10, seed=0)


def test_isoperimetric_check_worst_takes_the_worst_run_and_validates():
    from gantheory import partitions as pt

    good = (np.array([0.2, 0.2, 0.2]), 10_000, 0.5)
    bad = (np.array([0.5, 0.5, 0.0]), 10_000, 3.0)
    one = pt.isoperimetric_check(*good)
    worst = pt.isoperimetric_check_worst([good])
    assert worst["measured"] == pytest.approx(one["measured"] - one["tolerance"])
    assert pt.isoperimetric_check_worst([good, bad])["measured"] > 0
    with pytest.raises(ValueError, match="runs"):
        pt.isoperimetric_check_worst([])
