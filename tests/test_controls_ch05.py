"""Controls of chapter 5's theory-versus-simulation claims: the same checks, fed an input that
breaks the hypothesis, must reject it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from gantheory import claims
from gantheory import partitions as part

LEVEL = 1e-3  # as in the chapter


def _ledger():
    return claims.Ledger("ch05", mode="quick")


@pytest.mark.control("ch05-cell-masses")
def test_cell_masses_reject_a_non_regular_simplex(reject):
    """Voronoi cones of three unit vectors at 0, 100 and 220 degrees (not equidistant) have
    masses 120/360, 110/360 and 130/360; the check against 1/m must reject them."""
    rng = np.random.default_rng(501)
    angles = np.deg2rad([0.0, 100.0, 220.0])
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    z = rng.standard_normal((50_000, 2))
    labels = np.argmax(z @ centres.T, axis=1)
    freq = np.bincount(labels, minlength=3) / labels.size
    se = math.sqrt((1 / 3) * (2 / 3) / labels.size)
    rec = _ledger().evaluate("ch05-cell-masses", statement="control",
                             **part.agreement_check(freq, se, 1 / 3, level=LEVEL))
    reject(rec, "Voronoi cells of a non-regular triangle of centres")


@pytest.mark.control("ch05-half-space-perimeter")
def test_half_space_perimeter_rejects_balls(reject):
    """A centred ball of the same mass is not a half-space: its perimeter exceeds the
    isoperimetric minimum phi(Phi^{-1}(a)), and the strip check must see it."""
    d, h, n = 10, 0.1, 100_000
    est, se, ref = [], [], []
    for k, mass in enumerate((0.05, 0.3, 0.5, 0.9)):
        rho = math.sqrt(st.chi2.ppf(mass, d))
        e, s = part.strip_mass_mc(lambda z, rho=rho: np.abs(np.linalg.norm(z, axis=1) - rho),
                                  d, h, n, seed=510 + k)
        est.append(e)
        se.append(s)
        ref.append(st.norm.pdf(st.norm.ppf(mass)))
    rec = _ledger().evaluate("ch05-half-space-perimeter", statement="control",
                             **part.agreement_check(est, se, ref, bias=h**2 * st.norm.pdf(0) / 24,
                                                    level=LEVEL))
    reject(rec, "balls of the same masses in d = 10")


@pytest.mark.control("ch05-strip-monte-carlo")
def test_strip_rejects_unnormalised_distance(reject):
    """A distance computed as the score gap s_(1) - s_(2) without dividing by |c_i - c_j|
    counts a narrower strip; the comparison with the quadrature must reject it."""
    eps, n = 0.02, 200_000
    est, se, ref = [], [], []
    for m in (3, 4):
        gap = math.sqrt(2 * m / (m - 1))
        e, s = part.strip_mass_mc(lambda z, m=m, gap=gap: part.simplicial_cells(z, m)[1] * gap,
                                  m - 1, eps, n, seed=520 + m)
        est.append(e)
        se.append(s)
        ref.append((1 - part.simplicial_precision(m, eps)) / eps)
    rec = _ledger().evaluate("ch05-strip-monte-carlo", statement="control",
                             **part.agreement_check(est, se, ref, level=LEVEL))
    reject(rec, "boundary distance not normalised by |c_i - c_j|")


@pytest.mark.control("ch05-strip-gap")
def test_strip_gap_rejects_a_missing_second_order_term(reject):
    """Without the known curvature c_m the strip's gap to P_m exceeds the Taylor remainder."""
    eps = 0.02
    ms = (2, 3, 4, 5, 8)
    exps = [part.precision_expansion(m, eps, "simplicial") for m in ms]
    rec = _ledger().evaluate(
        "ch05-strip-gap", statement="control", kind="exact",
        **part.expansion_check([part.simplicial_precision(m, eps) for m in ms], eps,
                               [e["slope"] for e in exps], 0.0, [e["remainder"] for e in exps]))
    reject(rec, "second-order term c_m dropped")
