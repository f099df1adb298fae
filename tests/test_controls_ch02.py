"""Controls of chapter 2's claims: the chapter's checks, fed a wrong law or data that break
the hypothesis (not concentrated, wrong moments), must reject them (see tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gantheory import claims, rmt
from gantheory import concentration as conc

P, N = 200, 600
PROPS = np.array([0.3, 0.3, 0.4])


def _ledger():
    return claims.Ledger("ch02", mode="quick")


def _mixture(covs, proportions, n, seed, means=None):
    rng = np.random.default_rng(seed)
    sizes = rmt.class_sizes(n, proportions)
    x = np.concatenate([rng.standard_normal((s, c.size)) * np.sqrt(c)
                        for s, c in zip(sizes, covs, strict=True)])
    labels = np.repeat(np.arange(len(covs)), sizes)
    if means is not None:
        x += np.asarray(means)[labels]
    return x, labels


def _elliptical(n, p, seed):
    """Rows r_i z_i with r_i^2 = 0.25 (probability 0.8) or 4 (0.2): E r^2 = 1, so identity
    covariance, but the norms do not concentrate."""
    rng = np.random.default_rng(seed)
    r = np.sqrt(rng.choice([0.25, 4.0], p=[0.8, 0.2], size=n))
    return r[:, None] * rng.standard_normal((n, p))


def _eigs(x):
    return np.linalg.eigvalsh(rmt.gram(x))


def _mp(n_law):
    grid = rmt.spectrum_grid(6 * (N / P) * (1 + np.sqrt(P / N)) ** 2, 2000)
    return grid, rmt.gram_spectral_density(grid, [np.ones(P)], [1.0], n_law)


@pytest.mark.control("ch02-marchenko-pastur-ks")
def test_mp_ks_rejects_the_law_with_n_doubled(reject):
    grid, dens = _mp(2 * N)
    rec = _ledger().evaluate("ch02-marchenko-pastur-ks", statement="control",
                             **rmt.ks_check(_eigs(_mixture([np.ones(P)], [1.0], N, 1)[0]), dens,
                                            x=grid))
    reject(rec, "Marchenko-Pastur with n doubled (p/n halved)")


@pytest.mark.control("ch02-marchenko-pastur-ks", "ch02-universality-theory-ks")
def test_mp_ks_rejects_elliptical_data_with_identity_covariance(reject):
    grid, dens = _mp(N)
    eigs = _eigs(_elliptical(N, P, 2))
    for claim_id in ("ch02-marchenko-pastur-ks", "ch02-universality-theory-ks"):
        rec = _ledger().evaluate(claim_id, statement="control",
                                 **rmt.ks_check(eigs, dens, x=grid, mass=P / N))
        reject(rec, "elliptical data r z (identity covariance, not concentrated) against the "
                    "deterministic equivalent of its covariance")


@pytest.mark.control("ch02-three-class-ks")
def test_three_class_ks_rejects_the_law_with_n_doubled(reject):
    covs = [np.ones(P), np.r_[np.full(P // 2, 0.5), np.full(P - P // 2, 2.0)], np.full(P, 3.0)]
    grid = rmt.spectrum_grid(1.2 * 3.0 * (N / P) * (1 + np.sqrt(P / N)) ** 2, 1500)
    wrong = rmt.gram_spectral_density(grid, covs, PROPS, 2 * N)
    rec = _ledger().evaluate("ch02-three-class-ks", statement="control",
                             **rmt.ks_check(_eigs(_mixture(covs, PROPS, N, 3)[0]), wrong, x=grid))
    reject(rec, "three-class law with n doubled (p/n halved)")


def _spike_draws(mu_over_c, reps=6, p=150, n=450, seed=4):
    gamma = min(p, n) / max(p, n)
    mu_c = gamma**0.25 * np.sqrt(max(p, n) / n)
    eig, align, theory = [], [], []
    for mu in np.atleast_1d(mu_over_c) * mu_c:
        means = np.zeros((2, p))
        means[0, 0], means[1, 0] = mu, -mu
        e, a = [], []
        for r in range(reps):
            x, y = _mixture([np.ones(p)] * 2, [0.5, 0.5], n, seed + 1000 * r + int(100 * mu),
                            means=means)
            val, vec = rmt.top_eigenvectors(rmt.gram(x), 1)
            e.append(val[0])
            a.append(rmt.indicator_alignment(vec, y)[0])
        eig.append(e)
        align.append(a)
        theory.append(means)
    return np.array(eig).T, np.array(align).T, theory, mu_c


@pytest.mark.control("ch02-spike-eigenvalue", "ch02-spike-alignment")
def test_spike_checks_reject_the_theory_with_p_over_n_doubled(reject):
    eig, align, means, _ = _spike_draws([1.5, 2.0, 2.5, 3.0])
    wrong = [rmt.spike_theory(m, [0.5, 0.5], 450 // 2) for m in means]  # n halved in theory
    rec = _ledger().evaluate("ch02-spike-eigenvalue", statement="control",
                             **rmt.replicate_check(eig, [t.eigenvalues[0] for t in wrong]))
    reject(rec, "spike theory with n halved (p/n doubled)")
    rec = _ledger().evaluate("ch02-spike-alignment", statement="control",
                             **rmt.replicate_check(align, [t.alignments[0] for t in wrong]))
    reject(rec, "alignment theory with n halved (p/n doubled)")


@pytest.mark.control("ch02-spike-below-edge", "ch02-spike-below-alignment")
def test_below_transition_checks_reject_a_supercritical_signal(reject):
    eig, align, means, _ = _spike_draws([2.0])
    edge = rmt.spike_theory(means[0] * 0, [0.5, 0.5], 450).bulk_edge
    rec = _ledger().evaluate("ch02-spike-below-edge", statement="control",
                             **rmt.edge_check(eig.ravel(), edge, lipschitz=1 / np.sqrt(150),
                                              level=0.01 / eig.size))
    reject(rec, "draws at mu = 2 mu_c (a spike) against the bulk edge")
    rec = _ledger().evaluate("ch02-spike-below-alignment", statement="control",
                             **rmt.null_alignment_check(align.ravel(), 450, 2))
    reject(rec, "alignments at mu = 2 mu_c against a uniform direction")


@pytest.mark.control("ch02-universality-surrogate-ks")
def test_two_sample_ks_rejects_elliptical_data_against_its_gaussian_surrogate(reject):
    gauss = _eigs(_mixture([np.ones(P)], [1.0], N, 5)[0])
    rec = _ledger().evaluate("ch02-universality-surrogate-ks", statement="control",
                             **rmt.ks_check(_eigs(_elliptical(N, P, 6)), sample=gauss))
    reject(rec, "elliptical data r z against Gaussian data with the same covariance")


def _top_draws(mean_scale, reps=6, seed=7):
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((3, P)) * 1.5
    out = []
    for r in range(reps):
        x, y = _mixture([np.ones(P)] * 3, PROPS, N, seed + 100 * r, means=mean_scale * means)
        vals, vecs = rmt.top_eigenvectors(rmt.gram(x), 3)
        out.append(np.r_[vals, rmt.indicator_alignment(vecs[:, :2], y)])
    return np.array(out)


@pytest.mark.control("ch02-universality-spikes", "ch02-universality-alignments")
def test_universality_replicate_checks_reject_a_surrogate_with_wrong_means(reject):
    data, wrong = _top_draws(1.0), _top_draws(0.6, seed=8)
    rec = _ledger().evaluate("ch02-universality-spikes", statement="control",
                             **rmt.replicate_check(data[:, :3], wrong[:, :3]))
    reject(rec, "surrogate with the means scaled by 0.6 (spikes)")
    rec = _ledger().evaluate("ch02-universality-alignments", statement="control",
                             **rmt.replicate_check(data[:, 3:], wrong[:, 3:]))
    reject(rec, "surrogate with the means scaled by 0.6 (alignments)")


def _heavy_edge_inputs():
    scales = [np.ones(P), np.full(P, 2.0), np.full(P, 3.0)]
    grid = np.linspace(0, 1.5 * 3.0 * (N / P) * (1 + np.sqrt(P / N)) ** 2, 2000)
    dens = rmt.gram_spectral_density(grid, scales, PROPS, N)
    edge = grid[np.flatnonzero(dens > 1e-6)[-1]]
    sizes = rmt.class_sizes(N, PROPS)
    t3 = np.concatenate([conc.student_t_samples(s, P, df=3, seed=10 + k) * np.sqrt(c)
                         for k, (s, c) in enumerate(zip(sizes, scales, strict=True))])
    gauss = _mixture(scales, PROPS, N, 9)[0]
    return edge, _eigs(t3), _eigs(gauss)


@pytest.mark.control("ch02-gaussian-within-edge", "ch02-heavy-tails-beyond-edge")
def test_edge_checks_reject_the_other_law(reject):
    edge, eig_t3, eig_g = _heavy_edge_inputs()
    lip = np.sqrt(3 / P)
    rec = _ledger().evaluate("ch02-gaussian-within-edge", statement="control",
                             **rmt.edge_check(eig_t3, edge, lipschitz=lip))
    reject(rec, "Student-t(3) data (same covariances) against the Gaussian edge")
    rec = _ledger().evaluate("ch02-heavy-tails-beyond-edge", statement="control",
                             **rmt.edge_check(eig_g, edge, lipschitz=lip, expect="outside"))
    reject(rec, "Gaussian data expected beyond the edge")


# --------------------------------------------------------------------------- with the means


def _draw(means, covs, sizes, rng):
    return np.concatenate([m + rng.standard_normal((s, m.size)) * np.sqrt(c)
                           for m, c, s in zip(means, covs, sizes, strict=True)])


@pytest.mark.control("ch02-resolvent-rate")
def test_rate_check_rejects_the_equivalent_without_its_mean_term(reject):
    sizes_p, errs = [60, 120, 240], []
    for p in sizes_p:
        n = 2 * p
        t = (np.arange(p) + 0.5) / p
        covs = [0.5 + 1.5 * t, 2.0 - 1.2 * t, np.where(t < 0.5, 0.6, 1.6)]
        g = np.random.default_rng(p).standard_normal((3, p))
        means = 1.6 * g / np.linalg.norm(g, axis=1, keepdims=True)
        sizes = rmt.class_sizes(n, PROPS)
        lab = np.repeat(np.arange(3), sizes)
        ind = np.stack([(lab == i) / np.sqrt(s) for i, s in enumerate(sizes)], axis=1)
        wrong = rmt.resolvent_equivalent(np.zeros_like(means), covs, PROPS, n, -1.0)
        rng = np.random.default_rng(p + 1)
        e = []
        for _ in range(3):
            q = np.linalg.inv(rmt.gram(_draw(means, covs, sizes, rng)) + np.eye(n))
            e.append(np.sqrt(np.mean((ind.T @ q @ ind - wrong.bilinear(ind).real) ** 2)))
        errs.append(e)
    rec = _ledger().evaluate("ch02-resolvent-rate", statement="control",
                             **rmt.rate_check(sizes_p, errs, -0.5, level=0.01))
    reject(rec, "equivalent without the mean term (error does not decay)")


def _two_class_setting(p, seed=0):
    rng = np.random.default_rng(seed)
    covs = [rng.uniform(0.5, 2.0, p), rng.uniform(0.2, 1.2, p)]
    u = rng.standard_normal((2, p))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return covs, np.stack([u[0], 0.8 * u[1] - 0.5 * u[0]])


@pytest.mark.control("ch02-general-spike-eigenvalues", "ch02-general-spike-alignments")
def test_general_spike_checks_reject_covariances_50_percent_too_large(reject):
    p, n, props = 200, 400, np.array([0.4, 0.6])
    covs, base = _two_class_setting(p)
    sizes = rmt.class_sizes(n, props)
    lab = np.repeat([0, 1], sizes)
    rng = np.random.default_rng(1)
    eig, align, th_e, th_a = [], [], [], []
    for s in (2.0, 2.5, 3.0):
        wrong = rmt.spike_theory(s * base, props, n, covariances=[1.5 * c for c in covs])
        draws = []
        for _ in range(8):
            val, vec = rmt.top_eigenvectors(rmt.gram(_draw(s * base, covs, sizes, rng)), 1)
            draws.append([val[0], rmt.indicator_alignment(vec, lab)[0]])
        draws = np.array(draws)
        eig.append(draws[:, 0])
        align.append(draws[:, 1])
        th_e.append(wrong.eigenvalues[0])
        th_a.append(wrong.alignments[0])
    rec = _ledger().evaluate("ch02-general-spike-eigenvalues", statement="control",
                             **rmt.replicate_check(np.array(eig).T, th_e, level=0.01))
    reject(rec, "spike theory with covariances 1.5 times too large")
    rec = _ledger().evaluate("ch02-general-spike-alignments", statement="control",
                             **rmt.replicate_check(np.array(align).T, th_a, level=0.01))
    reject(rec, "alignment theory with covariances 1.5 times too large")


@pytest.mark.control("ch02-clustering-prediction", "ch02-centroid-prediction")
def test_classifier_predictions_reject_wrong_theories(reject):
    p, n, props = 200, 400, np.array([0.4, 0.6])
    covs, base = _two_class_setting(p, seed=2)
    means = 1.7 * base
    n_train = np.array([20, 30])
    sizes = rmt.class_sizes(n, props)
    lab = np.repeat([0, 1], sizes)
    weak = rmt.spectral_clustering_theory(0.8 * means, props, n, covs, n_sim=20, seed=0)
    naive = rmt.centroid_classifier_theory(means, covs, n_train * 10_000, proportions=props)
    rng = np.random.default_rng(3)
    acc = []
    for rep in range(8):
        x = _draw(means, covs, sizes, rng)
        pred = rmt.spectral_clustering(x, 2, seed=rep, n_vectors=weak.spikes.eigenvalues.size)
        xtr = _draw(means, covs, n_train, rng)
        ytr = np.repeat([0, 1], n_train)
        acc.append([rmt.clustering_accuracy(pred, lab),
                    np.mean(rmt.centroid_classifier(xtr, ytr)(x) == lab)])
    acc = np.array(acc)
    rec = _ledger().evaluate("ch02-clustering-prediction", statement="control",
                             **rmt.prediction_check(acc[:, :1], [weak.accuracy],
                                                    [weak.accuracy_se], level=0.01))
    reject(rec, "clustering accuracy predicted for means 20% weaker")
    rec = _ledger().evaluate("ch02-centroid-prediction", statement="control",
                             **rmt.prediction_check(acc[:, 1:], [naive.accuracy],
                                                    [naive.accuracy_se], level=0.01))
    reject(rec, "centroid accuracy predicted without the centroids' estimation noise")


def _three_class_heavy(kind, seed):
    scales = [np.ones(P), np.full(P, 2.0), np.full(P, 3.0)]
    sizes = rmt.class_sizes(N, PROPS)
    parts = []
    for k, (s, c) in enumerate(zip(sizes, scales, strict=True)):
        if kind == "elliptical":
            z = conc.elliptical_samples(s, P, df=3, seed=seed + k)
        else:
            z = np.random.default_rng(seed + k).standard_normal((s, P))
        parts.append(z * np.sqrt(c))
    grid = np.linspace(0, 1.5 * 3.0 * (N / P) * (1 + np.sqrt(P / N)) ** 2, 2000)
    return _eigs(np.concatenate(parts)), grid, rmt.gram_spectral_density(grid, scales, PROPS, N)


@pytest.mark.control("ch02-heavy-bulk-ks")
def test_bulk_ks_rejects_elliptical_data(reject):
    eigs, grid, dens = _three_class_heavy("elliptical", 10)
    rec = _ledger().evaluate("ch02-heavy-bulk-ks", statement="control",
                             **rmt.ks_check(eigs, dens, x=grid, mass=min(P, N) / N))
    reject(rec, "elliptical data (dependent entries) against the bulk law")


@pytest.mark.control("ch02-elliptical-bulk-rejected")
def test_elliptical_rejection_claim_fails_on_gaussian_data(reject):
    eigs, grid, dens = _three_class_heavy("gaussian", 20)
    ks = rmt.ks_check(eigs, dens, x=grid, mass=min(P, N) / N)
    rec = _ledger().evaluate("ch02-elliptical-bulk-rejected", statement="control",
                             measured=ks["measured"], reference=ks["tolerance"], relation=">=",
                             tolerance=0.0, basis=ks["basis"])
    reject(rec, "Gaussian data, which follow the bulk law, do not pass as a rejection")
