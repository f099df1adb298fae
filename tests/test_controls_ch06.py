"""Controls of chapter 6's claims: the same checks, fed a wrong formula, must reject it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gantheory import claims
from gantheory import partitions as part

LEVEL = 1e-3  # as in the chapter
EPS = 0.1


def _ledger():
    return claims.Ledger("ch06", mode="quick")


def _mc(ms, n=40_000):
    est, se = zip(*(part.simplicial_precision_mc(m, EPS, n, seed=600 + m) for m in ms),
                  strict=True)
    return np.array(est), np.array(se)


@pytest.mark.control("ch06-simplicial-monte-carlo")
def test_monte_carlo_rejects_the_isoperimetric_bound_as_reference(reject):
    """The simplicial construction does not attain the isoperimetric upper bound for m >= 3."""
    ms = (10, 100)
    est, se = _mc(ms)
    ref = [part.precision_upper_bound(m, EPS) for m in ms]
    rec = _ledger().evaluate("ch06-simplicial-monte-carlo", statement="control",
                             **part.agreement_check(est, se, ref, level=LEVEL))
    reject(rec, "reference = isoperimetric upper bound instead of alpha_simp")


@pytest.mark.control("ch06-simplicial-monte-carlo")
def test_monte_carlo_rejects_a_missing_sqrt2(reject):
    """alpha_simp with Phi(x - eps) in place of Phi(x - eps / sqrt 2)."""
    ms = (3, 10)
    est, se = _mc(ms)
    ref = [part.simplicial_precision(m, math.sqrt(2) * EPS) for m in ms]
    rec = _ledger().evaluate("ch06-simplicial-monte-carlo", statement="control",
                             **part.agreement_check(est, se, ref, level=LEVEL))
    reject(rec, "the sqrt(2) of delta = eps / sqrt(2) dropped")


EPS_SEQ = 0.2 / 2.0 ** np.arange(5)


def _expansion_record(name, exact, slope_factor=1.0, curvature_sign=1.0):
    ms = (3, 10, 100)
    exps = [part.precision_expansion(m, EPS_SEQ, name) for m in ms]
    return _ledger().evaluate(
        f"ch06-expansion-{name}", statement="control", kind="exact",
        **part.expansion_check(np.array([exact(m, EPS_SEQ) for m in ms]), EPS_SEQ[None, :],
                               np.array([[slope_factor * e["slope"]] for e in exps]),
                               np.array([[curvature_sign * e["curvature"]] for e in exps]),
                               np.array([e["remainder"] for e in exps])))


@pytest.mark.control("ch06-expansion-simplicial")
def test_expansion_rejects_e_max_as_slope(reject):
    """Slope E max g_i instead of P_m = E max g_i / sqrt(2)."""
    rec = _expansion_record("simplicial", part.simplicial_precision, slope_factor=math.sqrt(2))
    reject(rec, "slope E max g instead of P_m")


@pytest.mark.control("ch06-expansion-upper")
def test_expansion_rejects_a_flipped_curvature(reject):
    """The second-order term of the upper bound with the wrong sign."""
    rec = _expansion_record("upper", part.precision_upper_bound, curvature_sign=-1.0)
    reject(rec, "curvature -m q phi(q) / 8 with the wrong sign")


# --- the explicit simplicial generator (prop-explicit-simplicial-generator) -------------------

EPS_G, GAP_G = 0.3, 1.0


def _masses(m, d, eps_built, n=40_000):
    G, modes = part.simplicial_generator(m, eps_built, GAP_G, d=d)
    z = np.random.default_rng(660 + m).standard_normal((n, d))
    hits = part.mode_hits(G(z), modes)
    return np.bincount(hits[hits >= 0], minlength=m) / n


@pytest.mark.parametrize("m, d", [(3, 2), (4, 3)])
def test_explicit_generator_masses_hold(m, d):
    expected = part.simplicial_precision(m, EPS_G) / m
    se = np.sqrt(expected * (1 - expected) / 40_000)
    rec = _ledger().evaluate(f"ch06-explicit-generator-masses-m{m}", statement="positive",
                             **part.agreement_check(_masses(m, d, EPS_G), se, expected,
                                                    level=LEVEL))
    assert rec.holds, rec.line()


@pytest.mark.control("ch06-explicit-generator-masses-m3")
@pytest.mark.control("ch06-explicit-generator-masses-m4")
@pytest.mark.parametrize("m, d", [(3, 2), (4, 3)])
def test_explicit_generator_masses_reject_a_generator_with_wide_strips(m, d, reject):
    """A generator built for 2 eps (strips twice as wide) checked against alpha_simp(eps)."""
    expected = part.simplicial_precision(m, EPS_G) / m
    se = np.sqrt(expected * (1 - expected) / 40_000)
    rec = _ledger().evaluate(f"ch06-explicit-generator-masses-m{m}", statement="control",
                             **part.agreement_check(_masses(m, d, 2 * EPS_G), se, expected,
                                                    level=LEVEL))
    reject(rec, "the generator built with strips of width 2 eps")


@pytest.mark.control("ch06-explicit-generator-masses-m3")
def test_explicit_generator_masses_reject_the_isoperimetric_bound(reject):
    # alpha_up - alpha_simp = 0.015 at eps = 0.3: 0.005 a mode, about 5 standard errors at the
    # chapter's 400,000 latents (at 40,000 the check could not tell them apart)
    n = 400_000
    wrong = part.precision_upper_bound(3, EPS_G) / 3
    se = np.sqrt(wrong * (1 - wrong) / n)
    rec = _ledger().evaluate("ch06-explicit-generator-masses-m3", statement="control",
                             **part.agreement_check(_masses(3, 2, EPS_G, n), se, wrong,
                                                    level=LEVEL))
    reject(rec, "reference = alpha_up / m, which no generator with this partition reaches")


@pytest.mark.control("ch06-explicit-generator-lipschitz-m3")
@pytest.mark.control("ch06-explicit-generator-lipschitz-m4")
@pytest.mark.parametrize("m, d", [(3, 2), (4, 3)])
def test_explicit_generator_lipschitz_rejects_a_steeper_generator(m, d, reject):
    """Built for eps / 2, the generator is 2 Delta / eps-Lipschitz: the quotient check against
    Delta / eps must fail."""
    G, _ = part.simplicial_generator(m, EPS_G / 2, GAP_G, d=d)
    rng = np.random.default_rng(7)
    z = rng.standard_normal((40_000, d))
    h = 1e-3 * rng.standard_normal((40_000, d)) / math.sqrt(d)
    q = np.linalg.norm(G(z + h) - G(z), axis=1) / np.linalg.norm(h, axis=1)
    lip = GAP_G / EPS_G
    rec = _ledger().evaluate(f"ch06-explicit-generator-lipschitz-m{m}", statement="control",
                             kind="exact", measured=q.max(), reference=lip, relation="<=",
                             tolerance=1e-9 * lip, basis="control")
    reject(rec, "the generator built for eps / 2")
    G_ok, _ = part.simplicial_generator(m, EPS_G, GAP_G, d=d)
    q_ok = np.linalg.norm(G_ok(z + h) - G_ok(z), axis=1) / np.linalg.norm(h, axis=1)
    assert q_ok.max() <= lip * (1 + 1e-9)


def test_explicit_generator_preimages_are_the_cores_of_the_cells():
    """G(z) = x_i exactly when z is in cell i at distance >= eps / 2 from its boundary."""
    for m, d in [(3, 2), (4, 3), (4, 6), (6, 5)]:
        G, modes = part.simplicial_generator(m, EPS_G, GAP_G, d=d)
        z = np.random.default_rng(m).standard_normal((20_000, d))
        labels, dist = part.simplicial_cells(z, m)
        hits = part.mode_hits(G(z), modes)
        away = np.abs(dist - EPS_G / 2) > 1e-9  # off the boundary of A_i, where rounding decides
        want = np.where(dist >= EPS_G / 2, labels, -1)
        assert np.array_equal(hits[away], want[away])
        pairwise = np.linalg.norm(modes[:, None] - modes[None], axis=2)
        assert np.allclose(pairwise[~np.eye(m, dtype=bool)], GAP_G)


def test_simplicial_generator_rejects_bad_input():
    with pytest.raises(ValueError, match="eps"):
        part.simplicial_generator(3, 0.0)
    with pytest.raises(ValueError, match="gap"):
        part.simplicial_generator(3, 0.1, gap=-1.0)
    G, _ = part.simplicial_generator(3, 0.1)
    with pytest.raises(ValueError, match="z"):
        G(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="modes|columns"):
        part.mode_hits(np.zeros((2, 3)), np.zeros((3, 2)))


def test_measure_simplicial_generator_reports_the_proposition():
    G, modes = part.simplicial_generator(3, EPS_G, GAP_G, d=2)
    r = part.measure_simplicial_generator(G, modes, 3, 2, EPS_G, GAP_G, 20_000, seed=1)
    assert r["max_quotient"] <= GAP_G / EPS_G * (1 + 1e-9)
    assert r["attained"] == pytest.approx(GAP_G / EPS_G / (1 + 1e-9), rel=1e-8)
    assert np.all(np.abs(r["masses"] - r["expected"]) < 5 * r["se"])
    # a generator built for another eps does not send the proof's pairs onto their modes
    G_wide, _ = part.simplicial_generator(3, 2 * EPS_G, GAP_G, d=2)
    with pytest.raises(ValueError, match="pair of cells"):
        part.measure_simplicial_generator(G_wide, modes, 3, 2, EPS_G, GAP_G, 1000, seed=1)
