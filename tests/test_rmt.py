"""Unit and property tests of gantheory.rmt."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from gantheory import ConvergenceError, rmt


def _sample_mixture(covs, proportions, n, seed, means=None):
    rng = np.random.default_rng(seed)
    sizes = rmt.class_sizes(n, proportions)
    p = np.asarray(covs[0]).shape[0]
    blocks, labels = [], []
    for i, (s, c) in enumerate(zip(sizes, covs, strict=True)):
        c = np.asarray(c, dtype=float)
        z = rng.standard_normal((s, p))
        x = z * np.sqrt(c) if c.ndim == 1 else z @ np.linalg.cholesky(c + 1e-12 * np.eye(p)).T
        blocks.append(x + (0 if means is None else means[i]))
        labels.append(np.full(s, i))
    return np.concatenate(blocks), np.concatenate(labels)


# ----------------------------------------------------------------------------- density


@pytest.mark.parametrize("p,n", [(200, 600), (300, 500)])
def test_marchenko_pastur_identity_case_p_below_n(p, n):
    x = np.linspace(0.01, 6, 300)
    got = rmt.gram_spectral_density(x, [np.ones(p)], [1.0], n)
    # nonzero eigenvalues of G are (n/p) times those of S, whose law is MP(p/n)
    expected = rmt.marchenko_pastur_density(x * p / n, p / n) * (p / n) ** 2
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_marchenko_pastur_identity_case_p_above_n():
    p, n = 900, 300  # G = X^T X / p is then an n x n sample covariance with ratio n / p
    x = np.linspace(0.01, 3, 300)
    got = rmt.gram_spectral_density(x, [np.ones(p)], [1.0], n)
    np.testing.assert_allclose(got, rmt.marchenko_pastur_density(x, n / p), atol=2e-5)


def test_density_against_simulation_three_classes():
    p, n = 300, 900
    covs = [np.ones(p), np.r_[np.full(p // 2, 0.5), np.full(p - p // 2, 2.0)], np.full(p, 3.0)]
    c = [0.3, 0.3, 0.4]
    grid = np.linspace(0, 16, 3000)
    dens = rmt.gram_spectral_density(grid, covs, c, n)
    x, _ = _sample_mixture(covs, c, n, seed=1)
    ks = rmt.ks_against_density(np.linalg.eigvalsh(rmt.gram(x)), grid, dens, atom=1 - p / n)
    assert ks < 0.02


@settings(max_examples=12, deadline=None)
@given(p=hst.integers(20, 200), ratio=hst.sampled_from([0.25, 0.5, 2.0, 3.0]),
       scale=hst.floats(0.2, 5.0), seed=hst.integers(0, 1000))
def test_mass_is_min_p_n_over_n(p, ratio, scale, seed):
    n = max(5, int(p / ratio))
    rng = np.random.default_rng(seed)
    covs = [scale * rng.uniform(0.5, 2.0, p), scale * rng.uniform(0.5, 2.0, p)]
    top = scale * 2.0 * (1 + np.sqrt(max(n / p, p / n))) ** 2 * max(1, p / n) * 1.5
    grid = np.concatenate([np.geomspace(1e-6 * top, 0.05 * top, 400),
                           np.linspace(0.05 * top, top, 2000)[1:]])
    dens = rmt.gram_spectral_density(grid, covs, [0.4, 0.6], n)
    assert np.trapezoid(dens, grid) == pytest.approx(min(p, n) / n, abs=5e-3)


@settings(max_examples=8, deadline=None)
@given(perm=hst.permutations([0, 1, 2]), seed=hst.integers(0, 1000))
def test_invariant_under_permutation_of_classes(perm, seed):
    rng = np.random.default_rng(seed)
    p, n = 60, 150
    covs = [rng.uniform(0.1, 3.0, p) for _ in range(3)]
    c = rng.dirichlet(np.ones(3))
    grid = np.linspace(0.05, 10, 60)
    base = rmt.gram_spectral_density(grid, covs, c, n)
    permuted = rmt.gram_spectral_density(grid, [covs[i] for i in perm], c[list(perm)], n)
    np.testing.assert_allclose(base, permuted, atol=1e-8)


def test_commuting_matrices_take_the_fast_path_and_agree():
    rng = np.random.default_rng(2)
    p, n = 80, 200
    basis = np.linalg.qr(rng.standard_normal((p, p)))[0]
    diags = [rng.uniform(0.5, 2, p), rng.uniform(0.2, 1, p)]
    mats = [basis @ np.diag(d) @ basis.T for d in diags]
    grid = np.linspace(0.05, 6, 80)
    fast = rmt.gram_spectral_density(grid, diags, [0.5, 0.5], n)
    assert rmt._reduce_to_spectra(mats, False) is not None
    np.testing.assert_allclose(rmt.gram_spectral_density(grid, mats, [0.5, 0.5], n), fast,
                               atol=1e-7)


def test_non_commuting_covariances_against_simulation():
    rng = np.random.default_rng(3)
    p, n = 120, 360
    a = rng.standard_normal((p, p)) / np.sqrt(p)
    covs = [np.diag(np.linspace(0.5, 2.0, p)), a @ a.T + 0.2 * np.eye(p)]
    assert rmt._reduce_to_spectra(covs, False) is None  # dense path
    grid = np.linspace(0, 16, 400)
    dens = rmt.gram_spectral_density(grid, covs, [0.5, 0.5], n)
    x, _ = _sample_mixture(covs, [0.5, 0.5], n, seed=4)
    ks = rmt.ks_against_density(np.linalg.eigvalsh(rmt.gram(x)), grid, dens, atom=1 - p / n)
    assert ks < 0.04


def test_singular_covariances_reduce_the_rank():
    p, n = 100, 400
    cov = np.r_[np.ones(60), np.zeros(40)]  # rank 60
    grid = np.linspace(1e-4, 10, 3000)
    dens = rmt.gram_spectral_density(grid, [cov], [1.0], n)
    assert np.trapezoid(dens, grid) == pytest.approx(60 / n, abs=3e-3)
    dense = rmt.gram_spectral_density(grid[::50], [np.diag(cov) + 0.0], [1.0], n)
    np.testing.assert_allclose(dense, dens[::50], atol=1e-6)
    assert np.all(rmt.gram_spectral_density(grid[:5], [np.zeros(p)], [1.0], n) == 0)


def test_density_validation():
    ok = [np.ones(5)]
    with pytest.raises(ValueError, match="sum to 1"):
        rmt.gram_spectral_density([1.0], [np.ones(5), np.ones(5)], [0.5, 0.6], 10)
    with pytest.raises(ValueError, match="one per class"):
        rmt.gram_spectral_density([1.0], ok, [0.5, 0.5], 10)
    with pytest.raises(ValueError, match="NaN"):
        rmt.gram_spectral_density([1.0], [np.array([1.0, np.nan])], [1.0], 10)
    with pytest.raises(ValueError, match="negative"):
        rmt.gram_spectral_density([1.0], [np.array([1.0, -1.0])], [1.0], 10)
    with pytest.raises(ValueError, match="positive semi-definite"):
        rmt.gram_spectral_density([1.0], [np.diag([1.0, -1.0])], [1.0], 10)
    with pytest.raises(ValueError, match="symmetric"):
        rmt.gram_spectral_density([1.0], [np.array([[1.0, 0.5], [0.0, 1.0]])], [1.0], 10)
    with pytest.raises(ValueError, match="expected"):
        rmt.gram_spectral_density([1.0], [np.ones(3), np.ones(4)], [0.5, 0.5], 10)
    with pytest.raises(ValueError, match="expected"):
        rmt.gram_spectral_density([1.0], [np.eye(3), np.eye(4)], [0.5, 0.5], 10)
    with pytest.raises(ValueError, match=r"\(p, p\)"):
        rmt.gram_spectral_density([1.0], [np.ones((2, 2, 2))], [1.0], 10)
    with pytest.raises(ValueError, match="at least one"):
        rmt.gram_spectral_density([1.0], [], [], 10)
    with pytest.raises(ValueError, match="n must"):
        rmt.gram_spectral_density([1.0], ok, [1.0], 0)
    with pytest.raises(ValueError, match="x must"):
        rmt.gram_spectral_density([np.nan], ok, [1.0], 10)
    with pytest.raises(ValueError, match="eta"):
        rmt.gram_spectral_density([1.0], ok, [1.0], 10, eta=-1.0)


def test_non_convergence_is_an_error(monkeypatch):
    monkeypatch.setattr(rmt, "_newton", lambda *a, **k: None)
    with pytest.raises(ConvergenceError, match="did not converge"):
        rmt.gram_spectral_density([1.0], [np.ones(50)], [1.0], 100, max_iter=2)


def test_fixed_point_fallback_agrees_with_newton(monkeypatch):
    grid = np.array([0.5, 1.0, 2.0])
    newton = rmt.gram_spectral_density(grid, [np.ones(50)], [1.0], 100)
    monkeypatch.setattr(rmt, "_newton", lambda *a, **k: None)
    slow = rmt.gram_spectral_density(grid, [np.ones(50)], [1.0], 100, eta=1e-3, tol=1e-12,
                                     max_iter=200_000)
    np.testing.assert_allclose(slow, newton, atol=2e-3)


def test_marchenko_pastur_validation():
    with pytest.raises(ValueError):
        rmt.marchenko_pastur_density([1.0], 1.5)


# ----------------------------------------------------------------------------- surrogate


def test_surrogate_moments_and_sampling():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 1, (300, 4)), rng.normal(3, 2, (100, 4))])
    y = np.r_[np.zeros(300, int), np.ones(100, int)]
    gm = rmt.gaussian_mixture_surrogate(x, y)
    np.testing.assert_allclose(gm.proportions, [0.75, 0.25])
    np.testing.assert_allclose(gm.means[1], x[300:].mean(axis=0))
    np.testing.assert_allclose(gm.covariances[0], np.cov(x[:300].T))
    xs, ys = gm.sample(40_000, seed=1)
    assert xs.shape == (40_000, 4) and np.bincount(ys).tolist() == [30_000, 10_000]
    np.testing.assert_allclose(xs[ys == 1].mean(axis=0), gm.means[1], atol=0.06)
    np.testing.assert_allclose(np.cov(xs[ys == 1].T), gm.covariances[1], atol=0.15)
    np.testing.assert_array_equal(gm.sample(10, seed=3)[0], gm.sample(10, seed=3)[0])
    assert np.bincount(gm.sample(10, seed=0, proportions=[0.5, 0.5])[1]).tolist() == [5, 5]
    with pytest.raises(ValueError):
        gm.sample(0, seed=0)


def test_surrogate_validation():
    with pytest.raises(ValueError, match="at least 2"):
        rmt.gaussian_mixture_surrogate(np.zeros((3, 2)), np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="labels"):
        rmt.gaussian_mixture_surrogate(np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        rmt.gaussian_mixture_surrogate(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        rmt.gaussian_mixture_surrogate(np.full((3, 2), np.nan), np.array([0, 1, 1]))


@settings(max_examples=30, deadline=None)
@given(n=hst.integers(1, 500), weights=hst.lists(hst.floats(0.01, 1), min_size=1, max_size=6))
def test_class_sizes_sum_and_proportionality(n, weights):
    c = np.array(weights) / np.sum(weights)
    sizes = rmt.class_sizes(n, c)
    assert sizes.sum() == n and np.all(np.abs(sizes - n * c) < 1)


# ----------------------------------------------------------------------------- spikes


def test_spikes_against_simulation():
    p, n, mu = 400, 1200, 1.6
    means = np.zeros((2, p))
    means[0, 0], means[1, 0] = mu, -mu
    c = [0.5, 0.5]
    theory = rmt.spike_theory(means, c, n)
    assert theory.theta[0] > theory.threshold
    vals, vecs = [], []
    for seed in range(3):
        x, y = _sample_mixture([np.ones(p)] * 2, c, n, seed=seed, means=means)
        v, u = rmt.top_eigenvectors(rmt.gram(x), 1)
        vals.append(v[0])
        vecs.append(rmt.indicator_alignment(u, y)[0])
    assert np.mean(vals) == pytest.approx(theory.eigenvalues[0], rel=0.03)
    assert np.mean(vecs) == pytest.approx(theory.alignments[0], abs=0.05)


def test_spikes_below_threshold_and_p_above_n():
    p, n = 900, 300
    means = np.zeros((2, p))
    means[0, 0] = 0.1
    below = rmt.spike_theory(means, [0.5, 0.5], n)
    assert below.eigenvalues.size == 0 and below.alignments.size == 0
    gamma = n / p
    assert below.bulk_edge == pytest.approx((1 + np.sqrt(gamma)) ** 2 * p / p, rel=1e-8)
    means[0, 0], means[1, 0] = 4.0, -4.0
    above = rmt.spike_theory(means, [0.5, 0.5], n)
    x, y = _sample_mixture([np.ones(p)] * 2, [0.5, 0.5], n, seed=0, means=means)
    v, u = rmt.top_eigenvectors(rmt.gram(x), 1)
    assert v[0] == pytest.approx(above.eigenvalues[0], rel=0.05)
    assert rmt.indicator_alignment(u, y)[0] == pytest.approx(above.alignments[0], abs=0.06)


def test_spike_validation():
    with pytest.raises(ValueError):
        rmt.spike_theory(np.zeros((2, 3)), [0.5, 0.5], 0)
    with pytest.raises(ValueError):
        rmt.spike_theory(np.zeros((2, 3)), [0.5, 0.5], 10, noise_variance=0)


# ----------------------------------------------------------------------------- distances etc.


def test_ks_check_drops_the_atom_and_uses_the_critical_value_for_the_nonzero_part():
    import scipy.stats as st

    grid = np.linspace(0, 1, 101)
    uniform = np.ones(101)
    pts = (np.arange(400) + 0.5) / 400
    with_atom = np.r_[np.zeros(600), 1e-13 * np.ones(3), pts]  # rounding noise in the atom
    out = rmt.ks_check(with_atom, 0.4 * uniform, x=grid, mass=0.4, level=0.05)
    assert set(out) == {"measured", "reference", "relation", "tolerance", "basis"}
    assert out["measured"] < 2e-3 and out["reference"] == 0.0 and out["relation"] == "<="
    assert out["tolerance"] == pytest.approx(st.kstwo.ppf(0.95, 400))  # m = 400, not 1003
    assert "m = 400" in out["basis"]
    # the same statistic from a CDF; a shifted law misses by its shift
    assert rmt.ks_check(with_atom, cdf=lambda t: np.clip(t, 0, 1))["measured"] < 2e-3
    shifted = rmt.ks_check(with_atom, cdf=lambda t: np.clip(t - 0.2, 0, 1))
    assert shifted["measured"] == pytest.approx(0.2, abs=3e-3)
    # the diluted statistic over all eigenvalues would be 0.4 times smaller
    assert rmt.ks_against_density(np.r_[np.zeros(600), pts + 0.2], grid, 0.4 * uniform,
                                  atom=0.6) == pytest.approx(0.4 * 0.2, abs=3e-3)
    two = rmt.ks_check(with_atom, sample=np.r_[np.zeros(10), pts[::2]])
    assert two["measured"] < 0.01
    assert two["tolerance"] == pytest.approx(
        st.kstwobign.ppf(0.99) * np.sqrt((400 + 200) / (400 * 200)))
    with pytest.raises(ValueError, match="mass"):
        rmt.ks_check(pts, 0.4 * uniform, x=grid, mass=1.0)
    with pytest.raises(ValueError, match="exactly one"):
        rmt.ks_check(pts)
    with pytest.raises(ValueError, match="exactly one"):
        rmt.ks_check(pts, uniform, x=grid, cdf=lambda t: t)
    with pytest.raises(ValueError, match="together"):
        rmt.ks_check(pts, uniform)
    with pytest.raises(ValueError, match="level"):
        rmt.ks_check(pts, uniform, x=grid, level=1.0)
    with pytest.raises(ValueError, match="non-zero"):
        rmt.ks_check(np.r_[np.zeros(10), 1.0], uniform, x=grid)
    with pytest.raises(ValueError, match="finite"):
        rmt.ks_check(np.r_[pts, np.nan], uniform, x=grid)


def test_ks_check_rejects_marchenko_pastur_with_the_wrong_ratio():
    p, n = 200, 600
    x = np.random.default_rng(3).standard_normal((n, p))
    eigs = np.linalg.eigvalsh(rmt.gram(x))
    grid = rmt.spectrum_grid(8.0, 1500)
    right = rmt.ks_check(eigs, rmt.gram_spectral_density(grid, [np.ones(p)], [1.0], n), x=grid,
                         mass=p / n)
    assert right["measured"] <= right["tolerance"] / 3
    wrong = rmt.ks_check(eigs, rmt.gram_spectral_density(grid, [np.ones(p)], [1.0], 2 * n),
                         x=grid)
    assert wrong["measured"] > 2 * wrong["tolerance"]


def test_ks_distances():
    a = np.random.default_rng(0).standard_normal(500)
    assert rmt.ks_distance(a, a) == 0.0
    assert rmt.ks_distance(a, a + 10) == 1.0
    zeros_a, zeros_b = np.r_[1e-14, -1e-14, 5.0], np.r_[-1e-14, 1e-14, 5.0]
    assert rmt.ks_distance(zeros_a, zeros_b) == 0.0  # rounding noise in the atom is ignored
    with pytest.raises(ValueError):
        rmt.ks_distance([], a)
    grid = np.linspace(0, 1, 101)
    uniform = np.ones(101)
    pts = (np.arange(1000) + 0.5) / 1000
    assert rmt.ks_against_density(pts, grid, uniform) < 1e-3
    with_atom = np.r_[np.zeros(500), pts[::2]]
    assert rmt.ks_against_density(with_atom, grid, 0.5 * uniform, atom=0.5) < 2e-3
    with pytest.raises(ValueError, match="mass"):
        rmt.ks_against_density(pts, grid, 0.5 * uniform)
    with pytest.raises(ValueError, match="increasing"):
        rmt.ks_against_density(pts, grid[::-1], uniform)
    with pytest.raises(ValueError, match="atom"):
        rmt.ks_against_density(pts, grid, uniform, atom=2.0)
    with pytest.raises(ValueError, match="eigs"):
        rmt.ks_against_density([np.nan], grid, uniform)


def test_top_eigenvectors_lanczos_matches_dense():
    a = np.random.default_rng(1).standard_normal((300, 300))
    g = a @ a.T
    vals, vecs = rmt.top_eigenvectors(g, 3)  # Lanczos path
    dense_vals, dense_vecs = np.linalg.eigh(g)
    np.testing.assert_allclose(vals, dense_vals[::-1][:3], rtol=1e-9)
    np.testing.assert_allclose(np.abs(vecs.T @ dense_vecs[:, ::-1][:, :3]), np.eye(3), atol=1e-6)


def test_top_eigenvectors_and_alignment():
    g = np.diag([3.0, 1.0, 2.0])
    vals, vecs = rmt.top_eigenvectors(g, 2)
    np.testing.assert_allclose(vals, [3.0, 2.0])
    assert vecs[0, 0] == 1.0 and vecs[2, 1] == 1.0
    h = np.array([[1.0, -1.0], [-1.0, 1.0]])  # top eigenvector sums to zero: sign by first entry
    _, v = rmt.top_eigenvectors(h, 1)
    assert v[0, 0] > 0
    labels = np.array([0, 0, 1, 1])
    ind = np.array([[1.0, 1.0, 0, 0]]).T / np.sqrt(2)
    assert rmt.indicator_alignment(ind, labels)[0] == pytest.approx(1.0)
    assert rmt.indicator_alignment(np.array([[1.0, -1, 0, 0]]).T / np.sqrt(2), labels)[0] == \
        pytest.approx(0.0)
    with pytest.raises(ValueError):
        rmt.top_eigenvectors(np.ones((2, 3)), 1)
    with pytest.raises(ValueError):
        rmt.top_eigenvectors(g, 4)


def test_spectral_clustering_recovers_separated_classes():
    p = 50
    means = np.zeros((3, p))
    means[0, 0], means[1, 1], means[2, 2] = 6.0, 6.0, 6.0
    x, y = _sample_mixture([np.ones(p)] * 3, [1 / 3] * 3, 300, seed=0, means=means)
    pred = rmt.spectral_clustering(x, 3, seed=0)
    assert rmt.clustering_accuracy(pred, y) == 1.0


def test_clustering_accuracy_matches_permuted_labels():
    assert rmt.clustering_accuracy([2, 2, 0, 0, 1], [0, 0, 1, 1, 2]) == 1.0
    assert rmt.clustering_accuracy([0, 0, 0, 1], [0, 0, 1, 1]) == 0.75
    with pytest.raises(ValueError):
        rmt.clustering_accuracy([0, 1], [0])


def test_gram():
    x = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]])
    np.testing.assert_allclose(rmt.gram(x), x @ x.T / 2)
    with pytest.raises(ValueError):
        rmt.gram(np.zeros(3))


def test_zero_mass_and_grid_complete_the_law():
    p, n = 100, 400
    cov = np.r_[np.ones(60), np.zeros(40)]
    assert rmt.gram_zero_mass([cov], [1.0], n) == pytest.approx(1 - 60 / n)
    assert rmt.gram_zero_mass([np.ones(p)], [1.0], 50) == 0.0
    grid = rmt.spectrum_grid(10.0, 500)
    assert grid[0] == 0 and grid[-1] == 10.0 and np.all(np.diff(grid) > 0)
    dens = rmt.gram_spectral_density(grid, [cov], [1.0], n)
    total = rmt.gram_zero_mass([cov], [1.0], n) + np.trapezoid(dens, grid)
    assert total == pytest.approx(1, abs=3e-3)
    with pytest.raises(ValueError):
        rmt.spectrum_grid(-1.0)
    with pytest.raises(ValueError):
        rmt.gram_zero_mass([cov], [1.0], 0)


def _two_class_surrogate(p=60, count=200, seed=0):
    rng = np.random.default_rng(seed)
    means = np.stack([np.full(p, 0.6), np.full(p, -0.6)])
    covs = np.stack([np.diag(rng.uniform(0.5, 2.0, p)) for _ in range(2)])
    return rmt.GaussianMixtureSurrogate(np.array([0, 1]), means, covs, np.array([0.5, 0.5]),
                                        np.array([count, count]))


def test_compare_with_surrogate_accepts_the_mixture_and_rejects_heavy_tails():
    sur = _two_class_surrogate()
    x, y = sur.sample(200, seed=11)
    ok = rmt.compare_with_surrogate(x, y, sur, n_boot=12, seed=1)
    assert ok.eig_data.shape == (200,) and ok.vec_data.shape == (200, 2)
    assert set(ok.observed) == set(rmt.SurrogateComparison.STATISTICS)
    assert all(v.shape == (12,) for v in ok.null.values())
    assert max(ok.excess().values()) < 3.5
    assert [row["statistic"] for row in ok.table()] == list(rmt.SurrogateComparison.STATISTICS)
    # same two moments, not concentrated: a Student-t(3) radial factor of variance one
    rng = np.random.default_rng(2)
    r = np.sqrt(1 / rng.chisquare(3, size=(200, 1)))  # E r^2 = 1 for 3 degrees of freedom
    heavy = sur.means[y] + (x - sur.means[y]) * r
    bad = rmt.compare_with_surrogate(heavy, y, sur, n_boot=12, seed=1)
    assert bad.excess()["ks"] > 5


def test_compare_with_surrogate_is_seeded_and_validates():
    sur = _two_class_surrogate(p=20, count=30)
    x, y = sur.sample(40, seed=0)
    a = rmt.compare_with_surrogate(x, y, sur, n_boot=3, seed=4)
    b = rmt.compare_with_surrogate(x, y, sur, n_boot=3, seed=4)
    np.testing.assert_array_equal(a.null["ks"], b.null["ks"])
    with pytest.raises(ValueError, match="p ="):
        rmt.compare_with_surrogate(x[:, :10], y, sur)
    with pytest.raises(ValueError, match="classes"):
        rmt.compare_with_surrogate(x, y + 5, sur)
    with pytest.raises(ValueError):
        rmt.compare_with_surrogate(x, y, sur, n_boot=1)
    few = rmt.GaussianMixtureSurrogate(sur.classes, sur.means, sur.covariances,
                                       sur.proportions, np.array([1, 30]))
    with pytest.raises(ValueError, match="counts"):
        rmt.compare_with_surrogate(x, y, few)


def test_resampled_draw_has_the_sample_covariance_law():
    # mean + g Y / sqrt(N-1) is Gaussian with the sample covariance of N = 4 draws Y: its
    # draws span an affine space of dimension N - 1 = 3, and that covariance is unbiased
    sur = _two_class_surrogate(p=8, count=4)
    rng = np.random.default_rng(0)
    covs = []
    for _ in range(300):
        d = rmt._resampled_surrogate_draw(sur, [400, 2], rng)
        assert d.shape == (402, 8) and np.all(np.isfinite(d))
        centred = d[:400] - d[:400].mean(axis=0)
        assert np.linalg.matrix_rank(centred, tol=1e-8 * np.abs(centred).max()) == 3
        covs.append(np.cov(d[:400], rowvar=False))
    np.testing.assert_allclose(np.diag(np.mean(covs, axis=0)), np.diag(sur.covariances[0]),
                               rtol=0.25)


def test_marchenko_pastur_smoothed_density_matches_the_solver():
    p, n = 100, 250
    x = np.linspace(0.01, 6.0, 400)  # the solver sets the density to 0 at t <= 0
    solver = rmt.gram_spectral_density(x, [np.ones(p)], [1.0], n, eta=1e-4)
    closed = rmt.marchenko_pastur_density(x * p / n, p / n, eta=1e-4) * (p / n) ** 2
    np.testing.assert_allclose(solver, closed, atol=1e-7)
    inside = np.linspace(0.3, 2.5, 9)
    np.testing.assert_allclose(rmt.marchenko_pastur_density(inside, 0.4, eta=1e-10),
                               rmt.marchenko_pastur_density(inside, 0.4), rtol=1e-6)
    with pytest.raises(ValueError, match="eta"):
        rmt.marchenko_pastur_density(inside, 0.4, eta=-1.0)


def test_replicate_check_one_and_two_samples():
    import scipy.stats as st

    rng = np.random.default_rng(0)
    sim = 1.0 + 0.1 * rng.standard_normal((6, 3))
    one = rmt.replicate_check(sim, [1.0, 1.0, 1.0])
    assert one["tolerance"] == pytest.approx(st.t.ppf(1 - 0.01 / 6, 5))
    assert one["measured"] <= one["tolerance"]
    t_stat = (sim.mean(0) - 1.0) / (sim.std(0, ddof=1) / np.sqrt(6))
    assert one["measured"] == pytest.approx(np.abs(t_stat).max())
    assert rmt.replicate_check(sim, [1.3, 1.0, 1.0])["measured"] > one["tolerance"]
    two = rmt.replicate_check(sim, 1.0 + 0.1 * rng.standard_normal((4, 3)))
    assert two["tolerance"] == pytest.approx(st.t.ppf(1 - 0.01 / 6, 3))
    with pytest.raises(ValueError, match="reference"):
        rmt.replicate_check(sim, [1.0, 1.0])
    with pytest.raises(ValueError, match="vary"):
        rmt.replicate_check(np.ones((3, 2)), [1.0, 1.0])
    with pytest.raises(ValueError, match="R >= 2"):
        rmt.replicate_check(sim[:1], [1.0, 1.0, 1.0])


def test_edge_check_on_gaussian_data():
    p, n = 200, 600
    x = np.random.default_rng(1).standard_normal((n, p))
    edge = (n / p) * (1 + np.sqrt(p / n)) ** 2
    eigs = np.linalg.eigvalsh(rmt.gram(x))
    inside = rmt.edge_check(eigs, edge, lipschitz=1 / np.sqrt(p))
    assert inside["measured"] <= inside["reference"]
    assert inside["reference"] == pytest.approx(np.sqrt(edge) + np.sqrt(2 * np.log(100) / p))
    outside = rmt.edge_check(eigs, edge, lipschitz=1 / np.sqrt(p), expect="outside")
    assert outside["relation"] == ">=" and outside["measured"] < outside["reference"]
    with pytest.raises(ValueError, match="expect"):
        rmt.edge_check(eigs, edge, lipschitz=0.1, expect="near")
    with pytest.raises(ValueError, match="edge"):
        rmt.edge_check(eigs, -1.0, lipschitz=0.1)


def test_null_alignment_check_is_the_beta_quantile():
    import scipy.stats as st

    rng = np.random.default_rng(2)
    n, k = 500, 2
    v = rng.standard_normal((n, 20))
    v /= np.linalg.norm(v, axis=0)
    align = np.sum(v[:k] ** 2, axis=0)  # projection on the first k coordinates
    out = rmt.null_alignment_check(align, n, k)
    assert out["reference"] == pytest.approx(st.beta.isf(0.01 / 20, 1, 249))
    assert out["measured"] <= out["reference"]
    assert rmt.null_alignment_check([0.5], n, k)["measured"] > out["reference"]
    with pytest.raises(ValueError, match="k must be below n"):
        rmt.null_alignment_check(align, 2, 2)
    with pytest.raises(ValueError, match="alignments"):
        rmt.null_alignment_check([1.5], n, k)
