"""Unit and property tests of gantheory.partitions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst

from gantheory import ConvergenceError
from gantheory import partitions as pt

# E[max of m iid N(0,1)], 30-digit mpmath quadrature (m = 2, 3 also in closed form).
# Note: 2.5075860596, a value sometimes quoted for m = 100, is off by 3e-6 relative.
EMAX = {
    2: 1 / math.sqrt(math.pi),
    3: 3 / (2 * math.sqrt(math.pi)),
    4: 1.029375373003964132,
    5: 1.1629644736,
    7: 1.352178375606904399,
    10: 1.5387527308,
    20: 1.867475059798320485,
    100: 2.507593636441684373,
    1000: 3.241435769133440861,
    10**6: 4.862897486196462721,
}


# ----------------------------------------------------------------------------- perimeter


@pytest.mark.parametrize("m", sorted(EMAX))
def test_expected_max_known_values(m):
    assert pt.expected_max_gaussian(m) == pytest.approx(EMAX[m], rel=1e-8 if m in (5, 10)
                                                        else 1e-11)


def test_expected_max_one_and_monte_carlo():
    assert pt.expected_max_gaussian(1) == 0.0
    g = np.random.default_rng(0).standard_normal((100_000, 7)).max(axis=1)
    assert abs(g.mean() - pt.expected_max_gaussian(7)) < 4 * g.std() / math.sqrt(g.size)


def test_perimeter_values():
    assert pt.simplicial_perimeter(2) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-12)
    # the tripod: three rays, each of Gaussian length 1 / (2 sqrt(2 pi))
    assert pt.simplicial_perimeter(3) == pytest.approx(3 / (2 * math.sqrt(2 * math.pi)),
                                                       rel=1e-12)
    # m = 4 in R^3: six planar wedges of angle arccos(-1/3), each phi(0) * angle / (2 pi)
    wedge = math.acos(-1 / 3) / (2 * math.pi) / math.sqrt(2 * math.pi)
    assert pt.simplicial_perimeter(4) == pytest.approx(6 * wedge, rel=1e-12)
    for m, value in [(5, 0.8223), (10, 1.0881), (100, 1.7731)]:
        assert pt.simplicial_perimeter(m) == pytest.approx(value, abs=1e-4)


# ----------------------------------------------------------------------------- cells


@pytest.mark.parametrize("m,d", [(2, 1), (3, 2), (4, 3), (3, 3), (5, 9)])
def test_simplex_centres_geometry(m, d):
    c = pt.simplex_centres(m, d)
    assert c.shape == (m, d)
    gram = c @ c.T
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-12)
    np.testing.assert_allclose(gram[~np.eye(m, dtype=bool)], -1 / (m - 1), atol=1e-12)
    np.testing.assert_allclose(c.sum(axis=0), 0.0, atol=1e-12)


def test_cells_with_d_at_least_m_are_the_coordinate_cells():
    z = np.random.default_rng(1).standard_normal((20_000, 6))
    labels, dist = pt.simplicial_cells(z, 4)
    np.testing.assert_array_equal(labels, np.argmax(z[:, :4], axis=1))
    top = np.sort(z[:, :4], axis=1)
    np.testing.assert_allclose(dist, (top[:, -1] - top[:, -2]) / math.sqrt(2), atol=1e-12)


@pytest.mark.parametrize("m,d", [(3, 2), (4, 3), (5, 4), (3, 5)])
def test_cell_masses_are_equal(m, d):
    n = 200_000
    labels, dist = pt.simplicial_cells(np.random.default_rng(m * 10 + d).standard_normal((n, d)),
                                       m)
    freq = np.bincount(labels, minlength=m) / n
    assert np.all(np.abs(freq - 1 / m) < 4 * math.sqrt((1 / m) * (1 - 1 / m) / n))
    assert np.all(dist >= 0)


def _project_on_cone(z, a):
    """Euclidean projection of z on {x : a x >= 0} by enumerating active sets (exact, small)."""
    best, best_d = None, np.inf
    rows = range(a.shape[0])
    for r in range(a.shape[0] + 1):
        for active in itertools.combinations(rows, r):
            if active:
                aa = a[list(active)]
                x = z - aa.T @ np.linalg.lstsq(aa @ aa.T, aa @ z, rcond=None)[0]
            else:
                x = z
            if np.all(a @ x >= -1e-12) and np.linalg.norm(x - z) < best_d:
                best, best_d = x, np.linalg.norm(x - z)
    return best, best_d


@pytest.mark.parametrize("m,d", [(3, 2), (4, 3), (3, 4), (4, 5)])
def test_boundary_distance_is_exact(m, d):
    """dist(z, boundary of its cell) = min over the other cells of the distance to that cell
    (cells tile the space), each computed as an exact projection on a polyhedral cone."""
    c = pt.simplex_centres(m, d)
    z = np.random.default_rng(7).standard_normal((40, d)) * 2
    labels, dist = pt.simplicial_cells(z, m)
    for x, i, got in zip(z, labels, dist, strict=True):
        brute = min(_project_on_cone(x, np.array([c[j] - c[k] for k in range(m) if k != j]))[1]
                    for j in range(m) if j != i)
        assert got == pytest.approx(brute, abs=1e-10)


def test_tripod_distance_to_rays():
    """m = 3, d = 2: the boundary is three rays from 0 in the directions -c_k."""
    c = pt.simplex_centres(3, 2)
    z = np.random.default_rng(3).standard_normal((2000, 2))
    _, dist = pt.simplicial_cells(z, 3)
    rays = -c  # unit directions of the triple-junction rays
    proj = np.clip(z @ rays.T, 0, None)  # (N, 3)
    to_rays = np.linalg.norm(z[:, None, :] - proj[:, :, None] * rays[None], axis=2).min(axis=1)
    np.testing.assert_allclose(dist, to_rays, atol=1e-12)


def _push_into_cell(w, i, c):
    """Move w along c_i until it lies in cell i with a margin."""
    s = w @ c.T
    gap = np.max(s - s[i])  # <w, c_j - c_i> at worst
    m = c.shape[0]
    return w + (max(gap, 0.0) * (m - 1) / m + 0.1) * c[i]


@settings(max_examples=60, deadline=None)
@given(m=hst.integers(2, 6), extra=hst.integers(0, 2), i=hst.integers(0, 5),
       a=hst.floats(1e-3, 1e3), data=hst.data())
def test_cells_are_convex_cones(m, extra, i, a, data):
    d = m - 1 + extra
    i = i % m
    c = pt.simplex_centres(m, d)
    coords = hst.lists(hst.floats(-10, 10), min_size=d, max_size=d)
    z1 = _push_into_cell(np.array(data.draw(coords)), i, c)
    z2 = _push_into_cell(np.array(data.draw(coords)), i, c)
    labels, _ = pt.simplicial_cells(np.stack([z1, z2, a * z1, (z1 + z2) / 2]), m)
    assert labels.tolist() == [i, i, i, i]


# ----------------------------------------------------------------------------- precision


@pytest.mark.parametrize("m", [2, 5, 10, 100])
def test_first_order_expansions(m):
    """(1 - alpha(eps)) / eps -> slope with an O(eps) error (exact forms are O(eps^2) away from
    the first-order ones)."""
    slope_s = pt.simplicial_perimeter(m)
    slope_u = 1 - pt.precision_upper_bound_first_order(m, 1.0)
    for exact, first in [(pt.simplicial_precision, pt.simplicial_precision_first_order),
                         (pt.precision_upper_bound, pt.precision_upper_bound_first_order)]:
        err = [abs(exact(m, e) - first(m, e)) for e in (1e-2, 1e-3)]
        assert err[0] < 2 * 1e-4 * m ** 0.5  # C eps^2 with a mild constant
        assert err[1] < 0.02 * err[0] + 1e-13 or err[0] < 1e-12  # quadratic: /100
    assert (1 - pt.simplicial_precision(m, 1e-5)) / 1e-5 == pytest.approx(slope_s, rel=1e-4)
    assert slope_u <= slope_s + 1e-12


def test_simplicial_precision_reference_value():
    # 5 * int phi(x) Phi(x - 0.3 / sqrt 2)^4 dx, 30-digit mpmath quadrature
    assert pt.simplicial_precision(5, 0.3) == pytest.approx(0.77161212481182831, rel=1e-11)
    assert pt.simplicial_precision(3, 0.0) == 1.0


def test_m2_half_space_is_optimal():
    eps = np.linspace(0, 3, 13)
    half = 2 * st.norm.cdf(-eps / 2)
    np.testing.assert_allclose(pt.precision_upper_bound(2, eps), half, rtol=1e-12)
    np.testing.assert_allclose(pt.simplicial_precision(2, eps), half, rtol=1e-10)


def test_bounds_ordering_grid():
    eps = np.linspace(0.01, 1.0, 12)
    for m in [2, 3, 4, 5, 7, 10, 20, 50, 100]:
        upper = pt.precision_upper_bound(m, eps)
        simp = pt.simplicial_precision(m, eps)
        assert upper.shape == simp.shape == eps.shape
        assert np.all(upper >= simp - 1e-12)
        assert np.all((simp > 0) & (upper <= 1))
        assert np.all(np.diff(upper) < 0) and np.all(np.diff(simp) < 0)
        if m > 2:
            assert np.all(upper > simp)


def test_decay_like_sqrt_log_m():
    ms = [3, 10, 100, 10**4, 10**6]
    slope_s = np.array([pt.simplicial_perimeter(m) for m in ms])
    slope_u = np.array([1 - pt.precision_upper_bound_first_order(m, 1.0) for m in ms])
    root = np.sqrt(2 * np.log(ms))
    assert np.all(np.diff(slope_s) > 0) and np.all(np.diff(slope_u) > 0)
    # P_m / sqrt(2 log m) -> 1/sqrt 2 and (m/2) phi(Phi^-1(1/m)) / sqrt(2 log m) -> 1/2, slowly
    assert np.all((slope_s / root > 0.4) & (slope_s / root < 1 / math.sqrt(2)))
    assert np.all((slope_u / root > 0.35) & (slope_u / root < 0.5))
    ratio = slope_s / slope_u
    assert np.all(np.diff(ratio) > 0) and np.all((ratio > 1) & (ratio < math.sqrt(2)))
    # the same for the exact forms at a fixed small eps
    loss = np.array([1 - pt.simplicial_precision(m, 0.05) for m in ms]) / 0.05
    assert np.all(np.diff(loss) > 0) and np.all(loss / root < 1 / math.sqrt(2))


@pytest.mark.parametrize("m,eps,d", [(2, 0.3, None), (3, 0.2, None), (4, 0.5, 6),
                                     (10, 0.1, None), (10, 0.8, 12), (30, 0.2, None)])
def test_monte_carlo_precision_matches_quadrature(m, eps, d):
    est, se = pt.simplicial_precision_mc(m, eps, 100_000, seed=m, d=d)
    assert abs(est - pt.simplicial_precision(m, eps)) < 4 * se


@pytest.mark.parametrize("m,d", [(3, 2), (5, 5), (10, 9)])
def test_monte_carlo_strip_mass_matches_perimeter(m, d):
    """The eps/2-strip around the cell boundaries has mass 1 - alpha(eps) ~ eps P_m."""
    eps, n = 0.02, 400_000
    est, se = pt.simplicial_precision_mc(m, eps, n, seed=100 + m, d=d)
    strip = 1 - pt.simplicial_precision(m, eps)
    assert abs((1 - est) - strip) < 4 * se
    assert strip / eps == pytest.approx(pt.simplicial_perimeter(m), rel=0.02)


def test_monte_carlo_is_seeded():
    assert pt.simplicial_precision_mc(4, 0.3, 1000, 5) == pt.simplicial_precision_mc(4, 0.3,
                                                                                     1000, 5)


# ----------------------------------------------------------------------------- metrics


def _reference_prdc(x, y, k):
    dxx = np.linalg.norm(x[:, None] - x[None], axis=2)
    dyy = np.linalg.norm(y[:, None] - y[None], axis=2)
    dxy = np.linalg.norm(x[:, None] - y[None], axis=2)
    rx = np.sort(dxx, axis=1)[:, k]
    ry = np.sort(dyy, axis=1)[:, k]
    inside = dxy < rx[:, None]
    return {"precision": inside.any(axis=0).mean(),
            "recall": (dxy < ry[None, :]).any(axis=1).mean(),
            "density": inside.sum(axis=0).mean() / k,
            "coverage": (dxy.min(axis=1) < rx).mean()}


def test_prdc_against_direct_formula():
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((300, 4)), 0.8 * rng.standard_normal((250, 4)) + 0.3
    got = pt.prdc(x, y, k=5)
    for key, value in _reference_prdc(x, y, 5).items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_prdc_sanity():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((800, 3))
    same = pt.prdc(x, x, k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert 0.8 < same["density"] < 1.3
    far = pt.prdc(x, rng.standard_normal((500, 3)) + 50.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    fresh = pt.prdc(x, rng.standard_normal((800, 3)), k=5)
    assert all(v > 0.85 for v in fresh.values())


def test_linear_separability():
    rng = np.random.default_rng(13)
    z = rng.standard_normal((3000, 3))
    labels, _ = pt.simplicial_cells(z, 4)
    assert pt.linear_separability(z, labels, seed=0) > 0.97
    chance = pt.linear_separability(z, rng.integers(0, 3, 3000), seed=0)
    assert abs(chance - 1 / 3) < 0.08
    with pytest.raises(ConvergenceError):
        pt.linear_separability(z, labels, seed=0, max_iter=2)


def test_convexity():
    z = np.random.default_rng(14).standard_normal((3000, 3))
    labels, _ = pt.simplicial_cells(z, 3)
    frac, se = pt.convexity(z, labels, lambda q: pt.simplicial_cells(q, 3)[0], 500, seed=0)
    assert (frac, se) == (1.0, 0.0)

    def ring(q):
        return (np.abs(q[:, 0]) > 1).astype(int)

    frac, se = pt.convexity(z, ring(z), ring, 2000, seed=0)
    assert 0 < se < 0.05 and frac < 1 - 5 * se
    # pairs are distinct rows with the same label
    seen = []

    def record(q):
        seen.append(q)
        return np.zeros(len(q), dtype=int)

    labels = np.repeat([0, 1, 2], [1, 2, 30])
    pt.convexity(np.arange(33.0)[:, None], labels, record, 400, seed=1, ts=(0.0, 1.0))
    a, b = seen[0][:400, 0], seen[0][400:, 0]  # t = 0 gives z2, t = 1 gives z1
    assert np.all(a != b) and np.all(labels[a.astype(int)] == labels[b.astype(int)])
    assert not np.any(labels[b.astype(int)] == 0)


# ----------------------------------------------------------------------------- samplers


def test_simplicial_truncation_sample():
    z, rate = pt.simplicial_truncation_sample(3000, 8, 4, 0.5, seed=0)
    assert z.shape == (3000, 8) and 0 < rate < 1
    assert np.all(pt.simplicial_softmax(z, 4).max(axis=1) > 0.5)
    z2, rate2 = pt.simplicial_truncation_sample(3000, 8, 4, 0.5, seed=0)
    np.testing.assert_array_equal(z, z2)
    assert rate == rate2
    # the acceptance rate is the probability of the criterion under N(0, I)
    w = np.random.default_rng(1).standard_normal((100_000, 8))
    p = np.mean(pt.simplicial_softmax(w, 4).max(axis=1) > 0.5)
    assert rate == pytest.approx(p, abs=0.02)
    # accepted latents avoid the cell boundaries
    _, dist = pt.simplicial_cells(z, 4)
    _, dist_all = pt.simplicial_cells(w, 4)
    assert np.median(dist) > np.median(dist_all)
    everything, rate = pt.simplicial_truncation_sample(100, 5, 5, 0.2, seed=0)
    assert rate > 0.99
    with pytest.raises(ConvergenceError):
        pt.simplicial_truncation_sample(100, 128, 10, 0.9, seed=0, max_draws=20_000)


def test_truncation_sample():
    z = pt.truncation_sample(20_000, 3, 0.7, seed=2)
    assert z.shape == (20_000, 3) and np.all(np.abs(z) <= 0.7)
    np.testing.assert_array_equal(z, pt.truncation_sample(20_000, 3, 0.7, seed=2))
    assert z.var() == pytest.approx(st.truncnorm.var(-0.7, 0.7), rel=0.03)


# ----------------------------------------------------------------------------- validation


def _z(n=10, d=3):
    return np.random.default_rng(0).standard_normal((n, d))


@pytest.mark.parametrize("call", [
    lambda: pt.expected_max_gaussian(0),
    lambda: pt.simplicial_perimeter(1),
    lambda: pt.simplex_centres(4, 2),
    lambda: pt.simplicial_cells(_z(d=2), 4),
    lambda: pt.simplicial_cells(np.ones(5), 2),
    lambda: pt.simplicial_cells(np.array([[np.nan, 1.0]]), 2),
    lambda: pt.simplicial_cells(np.array([[np.inf, 1.0]]), 2),
    lambda: pt.precision_upper_bound(3, -0.1),
    lambda: pt.precision_upper_bound(1, 0.1),
    lambda: pt.precision_upper_bound_first_order(3, np.nan),
    lambda: pt.simplicial_precision(3, [0.1, -1.0]),
    lambda: pt.simplicial_precision(5, 0.1, d=3),
    lambda: pt.simplicial_precision_first_order(3, np.inf),
    lambda: pt.simplicial_precision_mc(3, 0.1, 100, seed=-1),
    lambda: pt.simplicial_precision_mc(3, [0.1, 0.2], 100, seed=0),
    lambda: pt.linear_separability(_z(), np.zeros(9, dtype=int), seed=0),
    lambda: pt.linear_separability(_z(), np.zeros(10), seed=0),
    lambda: pt.linear_separability(_z(), np.arange(10) % 2, seed=0, test_fraction=1.0),
    lambda: pt.linear_separability(_z(), np.zeros(10, dtype=int), seed=0),
    lambda: pt.convexity(_z(), np.arange(10), lambda q: q[:, 0] > 0, 5, seed=0),
    lambda: pt.convexity(_z(), np.zeros(10, dtype=int), lambda q: q[:, 0] > 0, 5, 0, ts=(1.5,)),
    lambda: pt.convexity(_z(), np.zeros(10, dtype=int), lambda q: q[:2, 0] > 0, 5, seed=0),
    lambda: pt.prdc(_z(), _z(d=4)),
    lambda: pt.prdc(_z(n=5), _z(), k=5),
    lambda: pt.prdc(_z(), _z(n=3), k=3),
    lambda: pt.simplicial_truncation_sample(10, 3, 4, 0.5, seed=0),
    lambda: pt.simplicial_truncation_sample(10, 4, 4, 0.2, seed=0),
    lambda: pt.simplicial_truncation_sample(10, 4, 4, 1.0, seed=0),
    lambda: pt.truncation_sample(10, 2, 0.0, seed=0),
    lambda: pt.truncation_sample(10, 2, math.inf, seed=0),
])
def test_validation_errors(call):
    with pytest.raises(ValueError):
        call()


def test_non_integer_counts_are_type_errors():
    with pytest.raises(TypeError):
        pt.expected_max_gaussian(2.0)
    with pytest.raises(TypeError):
        pt.simplicial_truncation_sample(10.5, 4, 2, 0.6, seed=0)


# --- issue 15, item 5: the interface rays of the figures --------------------------------------

def _ray_on_interface(ray, cells, m, d):
    """Whether points along ``ray`` lie on the common boundary of exactly ``cells``: distance 0
    to the boundary, and the top scores tie among ``cells``, every other cell strictly below."""
    t = np.linspace(0.1, 3.0, 30)[:, None]
    z = t * ray[None, :]
    _, dist = pt.simplicial_cells(z, m)
    scores = z @ pt.simplex_centres(m, d).T
    top = scores.max(axis=1, keepdims=True)
    tie = np.isclose(scores, top, atol=1e-12)
    want = np.zeros(m, bool)
    want[list(cells)] = True
    return bool(np.all(dist < 1e-12) and np.all(tie == want[None, :]))


@pytest.mark.parametrize("m, d", [(3, 2), (4, 3), (5, 4), (4, 5)])
def test_interface_rays_lie_between_their_cells(m, d):
    rays = pt.interface_rays(m, d)
    assert len(rays) == m
    for cells, ray in rays:
        assert ray.shape == (d,) and np.linalg.norm(ray) == pytest.approx(1.0)
        assert _ray_on_interface(ray, cells, m, d)


def test_tripod_ray_points_away_from_the_third_centre():
    """The figures of chapters 5 and 7 drew -(c_a + c_b): the ray into the third cell."""
    c = pt.simplex_centres(3, 2)
    for cells, ray in pt.interface_rays(3):
        a, b = cells
        assert np.allclose(ray, (c[a] + c[b]) / np.linalg.norm(c[a] + c[b]))
        # control: the old direction is inside the third cell, at positive distance
        wrong = -(c[a] + c[b]) / np.linalg.norm(c[a] + c[b])
        assert not _ray_on_interface(wrong, cells, 3, 2)
        (k,) = set(range(3)) - {a, b}
        labels, dist = pt.simplicial_cells(wrong[None, :], 3)
        assert labels[0] == k and dist[0] > 0.5


def test_interface_rays_reject_two_cells():
    with pytest.raises(ValueError, match="m"):
        pt.interface_rays(2)


def test_equidistant_targets():
    assert pt.DisconnectedTarget.regular(3, D=2).equidistant
    assert pt.DisconnectedTarget.regular(4, D=3).equidistant
    assert not pt.DisconnectedTarget.regular(4, D=2).equidistant  # the square of chapter 7
    assert not pt.DisconnectedTarget(np.array([[0, 0], [4, 0], [0, 4.001]]), 0.25).equidistant
