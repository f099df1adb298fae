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
