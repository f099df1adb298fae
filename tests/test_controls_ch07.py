"""Controls of chapter 7's theory-versus-simulation claims: the isoperimetric inequality
checked on the raw measured masses of a trained generator must reject masses that no
L-Lipschitz generator can produce."""

from __future__ import annotations

import numpy as np
import pytest

from gantheory import claims
from gantheory import partitions as pt

GAP = 3.5  # distance between the modes of the chapter's targets (spacing 4, radius 0.25)


def _cluster_masses(m: int, d: int, n: int, seed: int) -> np.ndarray:
    """Masses of the nearest-cone map of the simplicial cluster: precision 1, equal cells.

    This map is discontinuous (its Lipschitz constant is infinite), so claiming it is
    L-Lipschitz for a finite L breaks the theorem's hypothesis."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    cells = pt.simplicial_cells(z, m)[0]
    return np.bincount(cells, minlength=m) / n


@pytest.mark.control("ch07-isoperimetric-m3")
def test_isoperimetric_check_rejects_a_discontinuous_map_m3(reject):
    n = 20_000
    masses = _cluster_masses(3, 2, n, seed=0)
    led = claims.Ledger("ch07", mode="quick")
    rec = led.evaluate("ch07-isoperimetric-m3", statement="control",
                       **pt.isoperimetric_check(masses, n, GAP / 25.0))
    reject(rec, "nearest-cone map of the 3-cell cluster (precision 1) claimed 25-Lipschitz")


@pytest.mark.control("ch07-isoperimetric-m4")
def test_isoperimetric_check_rejects_a_discontinuous_map_m4(reject):
    n = 20_000
    masses = _cluster_masses(4, 3, n, seed=1)
    led = claims.Ledger("ch07", mode="quick")
    rec = led.evaluate("ch07-isoperimetric-m4", statement="control",
                       **pt.isoperimetric_check(masses, n, GAP / 40.0))
    reject(rec, "nearest-cone map of the 4-cell cluster (precision 1) claimed 40-Lipschitz")


@pytest.mark.control("ch07-isoperimetric-m3")
def test_isoperimetric_check_rejects_an_understated_constant(reject):
    # the 3-cell cluster with strips of half-width 0.125 removed: 0.25-separated cells (what a
    # generator with L = Delta / 0.25 can produce), claimed at eps = 1 (L four times too small)
    n = 20_000
    z = np.random.default_rng(2).standard_normal((n, 2))
    cells, dist = pt.simplicial_cells(z, 3)
    masses = np.bincount(cells[dist > 0.125], minlength=3) / n
    led = claims.Ledger("ch07", mode="quick")
    ok = led.evaluate("ch07-isoperimetric-m3", statement="control",
                      **pt.isoperimetric_check(masses, n, 0.25))
    assert ok.holds, ok.line()  # at the right separation the check accepts these masses
    rec = led.evaluate("ch07-isoperimetric-m3", statement="control",
                       **pt.isoperimetric_check(masses, n, 1.0))
    reject(rec, "0.25-separated cluster cells claimed 1-separated (L four times too small)")
