"""The resolvent equivalent with its mean term, spikes for general covariances, and the
classifier predictions built on them (gantheory.rmt), each against simulation with a control
that the same check rejects."""

from __future__ import annotations

import numpy as np
import pytest

from gantheory import claims, rmt


def _draw(means, covs, sizes, rng):
    out = []
    for m, c, s in zip(means, covs, sizes, strict=True):
        c = np.asarray(c, dtype=np.float64)
        if c.ndim == 1:
            out.append(m + rng.standard_normal((s, m.size)) * np.sqrt(c))
        else:
            out.append(m + rng.standard_normal((s, m.size)) @ np.linalg.cholesky(c).T)
    return np.concatenate(out)


def _holds(**kw) -> bool:
    return claims.margin_of(kw["measured"], kw["reference"], kw["relation"],
                            kw["tolerance"]) >= 0


@pytest.fixture(scope="module")
def mixture():
    rng = np.random.default_rng(11)
    p, n = 200, 400
    c = np.array([0.3, 0.3, 0.4])
    covs = [rng.uniform(0.5, 2.0, p) for _ in range(3)]
    means = rng.standard_normal((3, p))
    means *= (np.array([1.5, 2.0, 2.5]) / np.linalg.norm(means, axis=1))[:, None]
    return means, covs, c, n


def _simulated_forms(means, covs, c, n, z, reps, seed):
    rng = np.random.default_rng(seed)
    sizes = rmt.class_sizes(n, c)
    lab = np.repeat(np.arange(len(c)), sizes)
    ind = np.stack([(lab == i) / np.sqrt(s) for i, s in enumerate(sizes)], axis=1)
    out = []
    for _ in range(reps):
        q = np.linalg.inv(rmt.gram(_draw(means, covs, sizes, rng)) - z * np.eye(n))
        out.append(_parts(np.trace(q) / n, ind.T @ q @ ind, z))
    return np.array(out)


def _parts(trace, forms, z):
    """Real numbers to compare: the trace and the upper triangle of the indicator forms (real
    and imaginary parts; real parts only on the real axis)."""
    iu = np.triu_indices(forms.shape[0])
    vals = np.concatenate([[trace], forms[iu]])
    return vals.real if complex(z).imag == 0 else np.concatenate([vals.real, vals.imag])


def _theory_forms(eq):
    return _parts(eq.trace(), eq.indicator_forms(), eq.z)


@pytest.mark.parametrize("z", [-1.0, 2.0 + 1.0j])
def test_resolvent_equivalent_matches_simulation_and_the_mean_term_is_needed(mixture, z):
    means, covs, c, n = mixture
    sim = _simulated_forms(means, covs, c, n, z, reps=12, seed=3)
    eq = rmt.resolvent_equivalent(means, covs, c, n, z)
    theory = _theory_forms(eq)
    forms = np.ones(theory.size, dtype=bool)
    forms[0] = False  # the trace
    if complex(z).imag != 0:
        forms[theory.size // 2] = False
    # bilinear forms of unit vectors: fluctuations O(p^-1/2) dominate, Student's t
    check = rmt.replicate_check(sim[:, forms], theory[forms])
    assert _holds(**check), check
    # the normalized trace: the rank-2k mean part moves it by at most 2k / (n dist(z, R+))
    # (interlacing), which the first-order equivalent does not resolve; fluctuations O(1/n)
    dist = abs(complex(z).imag) if complex(z).imag != 0 else abs(z)
    t_sim = sim[:, 0]
    se = t_sim.std(ddof=1) / np.sqrt(t_sim.size)
    assert abs(t_sim.mean() - theory[0]) <= 4 * se + 2 * len(c) / (n * dist)
    # control: the centred equivalent (no mean term) misses the class-indicator forms
    eq0 = rmt.resolvent_equivalent(np.zeros_like(means), covs, c, n, z)
    control = rmt.replicate_check(sim[:, forms], _theory_forms(eq0)[forms])
    assert not _holds(**control), control


def test_resolvent_equivalent_layout_and_identities(mixture):
    means, covs, c, n = mixture
    z = 1.0 + 0.5j
    eq = rmt.resolvent_equivalent(means, covs, c, n, z)
    mat = eq.matrix()
    assert mat.shape == (n, n) and eq.n == n
    assert np.trace(mat) / n == pytest.approx(eq.trace(), rel=1e-12)
    a = np.random.default_rng(0).standard_normal((n, 2))
    assert np.allclose(eq.bilinear(a), a.T @ mat @ a, rtol=1e-10, atol=1e-12)
    assert eq.bilinear(a[:, 0], a[:, 1]) == pytest.approx(a[:, 0] @ mat @ a[:, 1], rel=1e-10)
    # conjugate symmetry and the Stieltjes property (Im m > 0 above the axis)
    eqc = rmt.resolvent_equivalent(means, covs, c, n, np.conj(z))
    assert eqc.trace() == pytest.approx(np.conj(eq.trace()), rel=1e-9)
    assert eq.trace().imag > 0
    # the trace is the Stieltjes transform of the bulk law: without means it is the same law
    # as gram_spectral_density's (density = Im m / pi near the axis)
    x = 3.0
    eta = 1e-6
    dens = rmt.gram_spectral_density([x], covs, c, n, eta=eta * 200 / 400)[0]
    m_g = rmt.resolvent_equivalent(np.zeros_like(means), covs, c, n, x + 1j * eta).trace()
    assert m_g.imag / np.pi == pytest.approx(dens, rel=1e-3)


def test_resolvent_equivalent_commuting_and_dense_agree(mixture):
    means, covs, c, n = mixture
    p = means.shape[1]
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((p, p)))
    dense = [q @ np.diag(v) @ q.T for v in covs]
    z = -0.5 + 0.2j
    a = rmt.resolvent_equivalent(means @ q.T, dense, c, n, z)
    b = rmt.resolvent_equivalent(means, covs, c, n, z)
    assert np.allclose(a.omega, b.omega, rtol=1e-8) and np.allclose(a.delta, b.delta, rtol=1e-9)


def test_resolvent_equivalent_rejects_bad_input(mixture):
    means, covs, c, n = mixture
    with pytest.raises(ValueError, match="z must"):
        rmt.resolvent_equivalent(means, covs, c, n, 1.0)
    with pytest.raises(ValueError, match="z must"):
        rmt.resolvent_equivalent(means, covs, c, n, complex("nan"))
    with pytest.raises(ValueError, match="one entry per class"):
        rmt.resolvent_equivalent(means, covs[:2], c, n, -1.0)
    with pytest.raises(ValueError, match="means have p"):
        rmt.resolvent_equivalent(means[:, :10], covs, c, n, -1.0)
    with pytest.raises(ValueError, match="proportions"):
        rmt.resolvent_equivalent(means, covs, [0.5, 0.5], n, -1.0)
    with pytest.raises(ValueError, match="positive proportion"):
        rmt.resolvent_equivalent(means, covs, [0.5, 0.5, 0.0], n, -1.0)
    with pytest.raises(ValueError, match="n must"):
        rmt.resolvent_equivalent(means, covs, c, 0, -1.0)


# --------------------------------------------------------------------------- spikes


@pytest.mark.parametrize("p, n", [(200, 400), (600, 300)])
def test_spike_theory_isotropic_is_the_closed_form(p, n):
    """The general equation, for isotropic noise, gives Benaych-Georges & Nadakuditi's closed
    form (rank 2, p < n and p > n)."""
    means = np.zeros((2, p))
    means[0, 0], means[1, 0] = 1.6, -1.6
    means[:, 1] += 0.9
    c = np.array([0.4, 0.6])
    for var in (1.0, 2.5):
        th = rmt.spike_theory(means, c, n, noise_variance=var)
        theta, threshold = th.theta, th.threshold
        gamma, big = min(p, n) / max(p, n), max(p, n)
        above = theta > threshold
        t2 = theta[above] ** 2
        eig = var * big / p * (1 + t2) * (gamma + t2) / t2
        if p <= n:
            align = 1 - (gamma + t2) / (t2 * (t2 + 1))
        else:
            align = 1 - gamma * (1 + t2) / (t2 * (t2 + gamma))
        assert th.eigenvalues == pytest.approx(eig, rel=1e-8)
        assert th.alignments == pytest.approx(align, rel=1e-6, abs=1e-8)
        assert th.bulk_edge == pytest.approx(var * big / p * (1 + np.sqrt(gamma)) ** 2, rel=1e-8)
        assert np.sum(th.margins < 0) == above.sum()


def _spike_simulation(means, covs, c, n, reps, seed, r):
    rng = np.random.default_rng(seed)
    sizes = rmt.class_sizes(n, c)
    lab = np.repeat(np.arange(len(c)), sizes)
    out = []
    for _ in range(reps):
        vals, vecs = np.linalg.eigh(rmt.gram(_draw(means, covs, sizes, rng)))
        vals, vecs = vals[::-1][:r], vecs[:, ::-1][:, :r]
        out.append(np.concatenate([vals, rmt.indicator_alignment(vecs, lab)]))
    return np.array(out)


@pytest.mark.parametrize("p, n, strength", [(300, 600, 1.6), (300, 600, 2.5), (600, 300, 2.5)])
def test_spike_theory_general_covariances_against_simulation(p, n, strength):
    """Diagonal, class-dependent covariances, close to and above the transition, p < n and
    p > n; the control is the isotropic formula with the average variance."""
    rng = np.random.default_rng(7)
    covs = [rng.uniform(0.5, 2.0, p), rng.uniform(0.2, 1.5, p)]
    u = rng.standard_normal((2, p))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    means = np.stack([strength * u[0], strength * (0.7 * u[1] - 0.6 * u[0])])
    c = np.array([0.4, 0.6])
    th = rmt.spike_theory(means, c, n, covariances=covs)
    r = th.eigenvalues.size
    assert r >= 1 and th.margins.min() < 0
    sim = _spike_simulation(means, covs, c, n, reps=8, seed=1, r=r)
    check = rmt.replicate_check(sim, np.concatenate([th.eigenvalues, th.alignments]))
    assert _holds(**check), check
    # control: the same check against the theory for covariances 20% too large
    wrong = rmt.spike_theory(means, c, n, covariances=[1.2 * cov for cov in covs])
    q = min(r, wrong.eigenvalues.size)  # the spikes both predict
    assert q >= 1
    control = rmt.replicate_check(sim[:, np.r_[0:q, r:r + q]],
                                  np.concatenate([wrong.eigenvalues[:q], wrong.alignments[:q]]))
    assert not _holds(**control), control


def test_spike_theory_dense_noncommuting_against_simulation():
    rng = np.random.default_rng(3)
    p, n = 120, 240

    def cov():
        w = rng.standard_normal((p, p)) / np.sqrt(p)
        return 0.5 * np.eye(p) + 0.5 * w @ w.T

    covs = [cov(), cov()]
    u = rng.standard_normal(p)
    u /= np.linalg.norm(u)
    means = np.stack([1.6 * u, -1.6 * u])
    c = np.array([0.5, 0.5])
    th = rmt.spike_theory(means, c, n, covariances=covs)
    assert th.eigenvalues.size == 1
    sim = _spike_simulation(means, covs, c, n, reps=10, seed=2, r=1)
    check = rmt.replicate_check(sim, np.concatenate([th.eigenvalues, th.alignments]))
    assert _holds(**check), check
    # the bulk edge: no eigenvalue of a mean-free draw is far beyond it
    vals = np.linalg.eigvalsh(rmt.gram(_draw(means * 0, covs, rmt.class_sizes(n, c), rng)))
    assert vals[-1] < th.bulk_edge * 1.1 and vals[-1] > th.bulk_edge * 0.85


def test_spike_theory_edge_matches_density_support():
    rng = np.random.default_rng(5)
    p, n = 150, 300
    covs = [rng.uniform(0.5, 2.0, p), rng.uniform(0.2, 1.5, p)]
    th = rmt.spike_theory(np.zeros((2, p)), [0.4, 0.6], n, covariances=covs)
    assert th.eigenvalues.size == 0 and np.all(th.margins > 0)
    x = th.bulk_edge * np.array([0.98, 1.02])
    dens = rmt.gram_spectral_density(x, covs, [0.4, 0.6], n)
    assert dens[0] > 1e-3 and dens[1] < 1e-6


def test_spike_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="n must"):
        rmt.spike_theory(np.zeros((2, 3)), [0.5, 0.5], 0)
    with pytest.raises(ValueError, match="noise_variance"):
        rmt.spike_theory(np.zeros((2, 3)), [0.5, 0.5], 10, noise_variance=0)
    with pytest.raises(ValueError, match="noise_variance is only used"):
        rmt.spike_theory(np.zeros((2, 3)), [0.5, 0.5], 10, covariances=[np.ones(3)] * 2,
                         noise_variance=2.0)
    with pytest.raises(ValueError, match="covariance 1"):
        rmt.spike_theory(np.zeros((2, 3)), [0.5, 0.5], 10, covariances=[np.ones(3), -np.ones(3)])
    with pytest.raises(ValueError, match="vanish"):
        rmt.spike_theory(np.ones((2, 3)), [0.5, 0.5], 10, covariances=[np.zeros(3)] * 2)


# --------------------------------------------------------------------------- classifiers


def test_clustering_theory_against_simulation():
    rng = np.random.default_rng(5)
    p, n = 300, 600
    c = np.array([0.4, 0.6])
    covs = [rng.uniform(0.5, 2.0, p), rng.uniform(0.2, 1.5, p)]
    u = rng.standard_normal((2, p))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    means = np.stack([1.7 * u[0], 1.7 * (0.7 * u[1] - 0.6 * u[0])])
    ct = rmt.spectral_clustering_theory(means, c, n, covs, n_sim=20, seed=0)
    r = ct.spikes.eigenvalues.size
    assert ct.masses.sum(axis=1) == pytest.approx(np.ones(r), abs=1e-4)
    sizes = rmt.class_sizes(n, c)
    lab = np.repeat([0, 1], sizes)
    acc, mass = [], []
    for s in range(10):
        x = _draw(means, covs, sizes, rng)
        acc.append(rmt.clustering_accuracy(rmt.spectral_clustering(x, 2, seed=s, n_vectors=r),
                                           lab))
        v = np.linalg.eigh(rmt.gram(x))[1][:, -1]
        mass.append(np.sum(v[lab == 0] ** 2))
    acc = np.array(acc)
    # Welch-type check: simulation replicates against the prediction's Monte Carlo error
    se = np.hypot(acc.std(ddof=1) / np.sqrt(acc.size), ct.accuracy_se)
    assert 0.6 < ct.accuracy < 0.99
    assert abs(acc.mean() - ct.accuracy) < 3.5 * se
    assert abs(np.mean(mass) - ct.masses[0, 0]) < 3.5 * np.std(mass, ddof=1) / np.sqrt(10)
    # control: the same check against the prediction for means 20% weaker
    weak = rmt.spectral_clustering_theory(0.8 * means, c, n, covs, n_sim=20, seed=0)
    assert abs(acc.mean() - weak.accuracy) > 3.5 * np.hypot(se, weak.accuracy_se)
    with pytest.raises(ValueError, match="no isolated eigenvalue"):
        rmt.spectral_clustering_theory(0.1 * means, c, n, covs)


@pytest.mark.parametrize("k", [2, 3])
def test_centroid_theory_against_simulation(k):
    rng = np.random.default_rng(k)
    p = 300
    covs = [rng.uniform(0.5, 2.0, p) for _ in range(k)]
    means = rng.standard_normal((k, p)) / np.sqrt(p) * 2.0
    n_train = np.array([20, 30, 25][:k])
    th = rmt.centroid_classifier_theory(means, covs, n_train)
    accs = []
    for _ in range(20):
        xtr = _draw(means, covs, n_train, rng)
        ytr = np.repeat(np.arange(k), n_train)
        xte = _draw(means, covs, [300] * k, rng)
        yte = np.repeat(np.arange(k), 300)
        accs.append(np.mean(rmt.centroid_classifier(xtr, ytr)(xte) == yte))
    accs = np.array(accs)
    se = np.hypot(accs.std(ddof=1) / np.sqrt(accs.size), th.accuracy_se)
    assert abs(accs.mean() - th.accuracy) < 3.5 * se
    # control: a theory that forgets the estimation noise of the centroids (n_train -> inf)
    naive = rmt.centroid_classifier_theory(means, covs, n_train * 10_000)
    assert abs(accs.mean() - naive.accuracy) > 3.5 * np.hypot(se, naive.accuracy_se)


def test_classifier_input_validation():
    with pytest.raises(ValueError, match="n_train"):
        rmt.centroid_classifier_theory(np.zeros((2, 3)), [np.ones(3)] * 2, [0, 3])
    with pytest.raises(ValueError, match="covariances"):
        rmt.centroid_classifier_theory(np.zeros((2, 3)), [np.ones(3)] * 3, [3, 3])
    predict = rmt.centroid_classifier(np.eye(4)[:, :3], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="test_x has p"):
        predict(np.ones((2, 4)))
    with pytest.raises(ValueError, match="n_vectors"):
        rmt.spectral_clustering(np.ones((10, 3)), 2, n_vectors=0)


def test_rate_and_prediction_checks():
    from gantheory import concentration as conc

    ok = rmt.rate_check([100, 200, 400, 800], [[1.0, 1.05], [0.71, 0.7], [0.5, 0.51],
                                               [0.35, 0.36]], -0.5)
    assert _holds(**ok)
    assert not _holds(**rmt.rate_check([100, 200, 400, 800], [[1.0, 1.05], [0.71, 0.7],
                                                               [0.5, 0.51], [0.35, 0.36]], -1.0))
    with pytest.raises(ValueError, match="sizes"):
        rmt.rate_check([100, 100, 200], [1.0, 0.9, 0.8], -0.5)
    good = rmt.prediction_check([[0.80, 0.50], [0.82, 0.52], [0.81, 0.49]], [0.81, 0.5],
                                [0.005, 0.0])
    assert _holds(**good)
    assert not _holds(**rmt.prediction_check([[0.80, 0.50], [0.82, 0.52], [0.81, 0.49]],
                                             [0.95, 0.5], [0.005, 0.0]))
    with pytest.raises(ValueError, match="predicted"):
        rmt.prediction_check([[0.8], [0.9]], [0.8, 0.9], [0.0, 0.0])
    x = conc.elliptical_samples(4000, 50, 5.0, seed=0)
    assert np.cov(x, rowvar=False).diagonal().mean() == pytest.approx(1.0, abs=0.08)
    with pytest.raises(ValueError, match="df"):
        conc.elliptical_samples(3, 3, 2.0, seed=0)
