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


@pytest.mark.parametrize("m, d, seed, lipschitz", [
    pytest.param(3, 2, 0, 25.0, marks=pytest.mark.control("ch07-isoperimetric-m3"), id="m3"),
    pytest.param(4, 3, 1, 40.0, marks=pytest.mark.control("ch07-isoperimetric-m4"), id="m4"),
])
def test_isoperimetric_check_rejects_a_discontinuous_map(reject, m, d, seed, lipschitz):
    n = 20_000
    masses = _cluster_masses(m, d, n, seed=seed)
    led = claims.Ledger("ch07", mode="quick")
    rec = led.evaluate(f"ch07-isoperimetric-m{m}", statement="control",
                       **pt.isoperimetric_check(masses, n, GAP / lipschitz))
    reject(rec, f"nearest-cone map of the {m}-cell cluster (precision 1) claimed "
                f"{lipschitz:g}-Lipschitz")


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


@pytest.mark.control("ch07-isoperimetric-m6")
def test_isoperimetric_check_rejects_a_discontinuous_sector_map(reject):
    """m = 6 in the plane (no simplicial cluster): the map that sends each of six equal sectors
    to its mode has precision 1 and is discontinuous; claimed 25-Lipschitz, it must fail."""
    n = 20_000
    z = np.random.default_rng(6).standard_normal((n, 2))
    sector = np.floor((np.arctan2(z[:, 1], z[:, 0]) + np.pi) / (2 * np.pi / 6)).astype(int) % 6
    masses = np.bincount(sector, minlength=6) / n
    led = claims.Ledger("ch07", mode="quick")
    rec = led.evaluate("ch07-isoperimetric-m6", statement="control",
                       **pt.isoperimetric_check(masses, n, GAP / 25.0))
    reject(rec, "nearest-sector map of six equal sectors (precision 1) claimed 25-Lipschitz")
    assert pt.DisconnectedTarget.regular(6, D=2).gap == pytest.approx(GAP)


@pytest.mark.control("ch07-isoperimetric-dims")
def test_worst_isoperimetric_check_rejects_one_discontinuous_map_among_gans(reject):
    """Honest masses of three 3-separated cluster maps, plus the nearest-cone map (precision 1,
    discontinuous) claimed 40-Lipschitz: the worst-of check must fail on the one bad run."""
    n = 20_000
    runs = []
    for seed in range(3):
        z = np.random.default_rng(10 + seed).standard_normal((n, 3))
        cells, dist = pt.simplicial_cells(z, 4)
        runs.append((np.bincount(cells[dist > 0.5], minlength=4) / n, n, 1.0))
    led = claims.Ledger("ch07", mode="quick")
    ok = led.evaluate("ch07-isoperimetric-dims", statement="control",
                      **pt.isoperimetric_check_worst(runs))
    assert ok.holds, ok.line()
    runs.append((_cluster_masses(4, 3, n, seed=4), n, GAP / 40.0))
    rec = led.evaluate("ch07-isoperimetric-dims", statement="control",
                       **pt.isoperimetric_check_worst(runs))
    reject(rec, "one discontinuous nearest-cone map (precision 1) among the runs, claimed "
                "40-Lipschitz")
