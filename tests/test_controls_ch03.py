"""Controls of chapter 3's claims: the chapter's checks, fed an input that breaks their
hypothesis or a wrong formula, must reject it (see ``tests/conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gantheory import claims, gandata, rmt
from gantheory import concentration as conc


def _ledger():
    return claims.Ledger("ch03", mode="quick")


@pytest.fixture(scope="module")
def mixture():
    """A 3-class Gaussian mixture in p = 200 (diagonal covariances), its data (n = 600) and an
    independent surrogate draw: the setting of the chapter's spectral checks, in miniature."""
    rng = np.random.default_rng(3)
    p, n, k = 200, 600, 3
    means = rng.standard_normal((k, p)) * 0.6
    diag = rng.uniform(0.5, 1.5, (k, p))
    sur = rmt.GaussianMixtureSurrogate(np.arange(k), means, np.stack([np.diag(d) for d in diag]),
                                       np.full(k, 1 / k), np.full(k, 2000))
    x, y = sur.sample(n, seed=1)
    xs, ys = sur.sample(n, seed=2)
    r = np.sqrt(1 / rng.chisquare(3, size=(n, 1)))  # E r^2 = 1: same two moments, heavy tails
    heavy = means[y] + (x - means[y]) * r
    return dict(sur=sur, diag=diag, x=x, y=y, xs=xs, ys=ys, heavy=heavy, n=n, k=k)


@pytest.mark.control("ch03-poincare")
def test_poincare_rejects_latents_of_twice_the_scale(reject):
    net = conc.random_mlp(8, 16, 2, seed=0)
    obs = gandata.torch_lipschitz_observables(16, seed=1)  # random_mlp: output width 16
    z = conc.gaussian_samples(2000, 8, seed=2)
    good = _ledger().evaluate("ch03-poincare", statement="control",
                              **gandata.poincare_check(*gandata.observable_gradients(net, z, obs)))
    assert good.holds, good.line()
    wide = gandata.observable_gradients(net, 2 * z, obs)
    rec = _ledger().evaluate("ch03-poincare", statement="control",
                             **gandata.poincare_check(*wide))
    reject(rec, "latents N(0, 4 I) taken for N(0, I)")


@pytest.mark.control("ch03-poincare")
def test_poincare_rejects_a_bimodal_latent(reject):
    rng = np.random.default_rng(0)
    z = rng.choice([-1.0, 1.0], size=(2000, 4)) + 0.1 * rng.standard_normal((2000, 4))
    net = torch.nn.Tanh()  # coordinatewise: g = tanh(5 z_1), flat inside each mode
    obs = {"first coordinate": lambda x: x[:, 0]}
    values, grad_sq = gandata.observable_gradients(torch.nn.Sequential(_Scale(5.0), net), z, obs)
    rec = _ledger().evaluate("ch03-poincare", statement="control",
                             **gandata.poincare_check(values, grad_sq))
    reject(rec, "latent with two modes (unit variance, not Gaussian)")


class _Scale(torch.nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


@pytest.mark.control("ch03-ks-surrogate")
def test_ks_surrogate_rejects_heavy_tails_with_the_same_moments(reject, mixture):
    eig = lambda a: np.linalg.eigvalsh(rmt.gram(a))  # noqa: E731
    good = _ledger().evaluate("ch03-ks-surrogate", statement="control",
                              **rmt.ks_check(eig(mixture["x"]), sample=eig(mixture["xs"])))
    assert good.holds, good.line()
    rec = _ledger().evaluate("ch03-ks-surrogate", statement="control",
                             **rmt.ks_check(eig(mixture["heavy"]), sample=eig(mixture["xs"])))
    reject(rec, "radial sqrt(1/chi2_3) heavy tails, same means and covariances")


@pytest.mark.control("ch03-ks-law")
def test_ks_law_rejects_a_wrong_covariance(reject, mixture):
    m = mixture
    e = np.linalg.eigvalsh(rmt.gram(m["x"]))
    grid = rmt.spectrum_grid(2.5 * e[-m["k"] - 1], 300)
    props = m["sur"].proportions
    good = rmt.gram_spectral_density(grid, m["diag"], props, m["n"])
    atom = rmt.gram_zero_mass(m["diag"], props, m["n"])
    ok = _ledger().evaluate("ch03-ks-law", statement="control",
                            **rmt.ks_check(e, good, x=grid, mass=1 - atom))
    assert ok.holds, ok.line()
    wrong = rmt.gram_spectral_density(grid, 1.5 * m["diag"], props, m["n"])
    rec = _ledger().evaluate("ch03-ks-law", statement="control",
                             **rmt.ks_check(e, wrong, x=grid, mass=1 - atom))
    reject(rec, "limiting law of covariances 1.5 C")


@pytest.mark.control("ch03-spikes-within-null")
def test_spikes_reject_shifted_means(reject):
    rng = np.random.default_rng(3)
    p, n, k = 60, 300, 3
    means = 0.6 * rng.standard_normal((k, p))
    covs = np.stack([np.diag(rng.uniform(0.5, 1.5, p)) for _ in range(k)])
    sur = rmt.GaussianMixtureSurrogate(np.arange(k), means, covs, np.full(k, 1 / k),
                                       np.full(k, 2000))
    x, y = sur.sample(n, seed=1)
    xs, ys = sur.sample(n, seed=2)
    m = dict(sur=sur, x=x, y=y, xs=xs, ys=ys, n=n, k=k)
    null = gandata.spike_null(sur, rmt.class_sizes(n, sur.proportions), n_boot=10, seed=4)
    ok = gandata.spike_statistics(m["x"], m["y"], m["xs"], m["ys"], m["k"])
    good = _ledger().evaluate("ch03-spikes-within-null", statement="control",
                              **gandata.null_excess_check([(ok[q], null[q]) for q in ok]))
    assert good.holds, good.line()
    shifted = m["x"] + 0.5 * m["sur"].means[m["y"]]  # class means 1.5 times the surrogate's
    bad = gandata.spike_statistics(shifted, m["y"], m["xs"], m["ys"], m["k"])
    rec = _ledger().evaluate("ch03-spikes-within-null", statement="control",
                             **gandata.null_excess_check([(bad[q], null[q]) for q in bad]))
    reject(rec, "data whose class means are 1.5 times the surrogate's")


@pytest.mark.control("ch03-downstream-one-run", "ch04-downstream-one-run")
def test_one_run_gap_rejects_a_surrogate_with_shrunk_means(reject):
    """Chapters 3 and 4 make the same one-run claim with the same check
    (``gandata.one_run_gap_check``): one control serves both."""
    rng = np.random.default_rng(7)
    p, k = 20, 3
    means = 0.8 * rng.standard_normal((k, p))
    covs = np.stack([np.eye(p)] * k)
    data = rmt.GaussianMixtureSurrogate(np.arange(k), means, covs, np.full(k, 1 / k),
                                        np.full(k, 1000))
    x, y = data.sample(90, seed=1)
    shrunk = rmt.GaussianMixtureSurrogate(np.arange(k), 0.4 * means, covs, np.full(k, 1 / k),
                                          np.full(k, 1000))

    def pairs(sur):
        rows = rmt.downstream_accuracies(x, y, sur, n_seeds=5, seed=0)
        out = []
        for method in ("logistic regression", "spectral clustering"):
            acc = {d: np.array([r["accuracy"] for r in rows
                                if r["method"] == method and r["data"] == d])
                   for d in ("GAN features", "Gaussian surrogate")}
            out.append((acc["GAN features"], acc["Gaussian surrogate"]))
        return out

    honest, control = gandata.one_run_gap_check(pairs(data)), \
        gandata.one_run_gap_check(pairs(shrunk))
    for chapter in ("ch03", "ch04"):
        led = claims.Ledger(chapter, mode="quick")
        good = led.evaluate(f"{chapter}-downstream-one-run", statement="control", **honest)
        assert good.holds, good.line()
        rec = led.evaluate(f"{chapter}-downstream-one-run", statement="control", **control)
        reject(rec, "surrogate whose class means are shrunk to 0.4 times the data's")


@pytest.fixture(scope="module")
def near_setting():
    """Dense (non-commuting) class covariances in q = 40, three classes near the transition,
    and replicated draws: the setting of the chapter's predictions, in miniature."""
    rng = np.random.default_rng(7)
    q, n, k = 40, 600, 3
    covs = []
    for _ in range(k):
        w = rng.standard_normal((q, q)) / np.sqrt(q)
        covs.append(0.3 * np.eye(q) + w @ w.T)
    means = rng.standard_normal((k, q))
    means *= 3.0 / np.linalg.norm(means, axis=1, keepdims=True)
    sur = rmt.GaussianMixtureSurrogate(np.arange(k), means, np.stack(covs), np.full(k, 1 / k),
                                       np.full(k, 1000))
    th = rmt.spike_theory(means, np.full(k, 1 / k), n, covariances=covs)
    rr = th.eigenvalues.size
    assert rr >= 1
    stats = []
    for r in range(6):
        x, y = sur.sample(n, seed=100 + r)
        xtr, ytr = sur.sample(30, seed=200 + r)
        val, vec = rmt.top_eigenvectors(rmt.gram(x), rr)
        stats.append(np.r_[val, rmt.indicator_alignment(vec, y),
                           rmt.clustering_accuracy(rmt.spectral_clustering(x, k, seed=r,
                                                                           n_vectors=rr), y),
                           np.mean(rmt.centroid_classifier(xtr, ytr)(x) == y)])
    return dict(sur=sur, covs=covs, means=means, n=n, k=k, r=rr, stats=np.array(stats))


@pytest.mark.control("ch03-near-spikes")
def test_near_spikes_reject_covariances_50_percent_too_large(reject, near_setting):
    s, k = near_setting, near_setting["k"]
    wrong = rmt.spike_theory(s["means"], np.full(k, 1 / k), s["n"],
                             covariances=[1.5 * c for c in s["covs"]])
    q = min(wrong.eigenvalues.size, s["r"])
    sim = s["stats"][:, np.r_[0:q, s["r"]:s["r"] + q]]
    rec = _ledger().evaluate("ch03-near-spikes", statement="control",
                             **rmt.replicate_check(sim, np.r_[wrong.eigenvalues[:q],
                                                              wrong.alignments[:q]], level=0.01))
    reject(rec, "spike theory with covariances 1.5 times too large")


@pytest.mark.control("ch03-near-clustering")
def test_near_clustering_rejects_means_20_percent_weaker(reject, near_setting):
    s, k = near_setting, near_setting["k"]
    weak = rmt.spectral_clustering_theory(0.8 * s["means"], np.full(k, 1 / k), s["n"], s["covs"],
                                          n_sim=20, seed=0)
    acc = s["stats"][:, [-2]]
    rec = _ledger().evaluate("ch03-near-clustering", statement="control",
                             **rmt.prediction_check(acc, [weak.accuracy], [weak.accuracy_se],
                                                    level=0.01))
    reject(rec, "clustering accuracy predicted for means 20% weaker")


@pytest.mark.control("ch03-near-centroid")
def test_near_centroid_rejects_noiseless_centroids(reject, near_setting):
    s = near_setting
    naive = rmt.centroid_classifier_theory(s["means"], s["covs"], [10_000] * s["k"])
    rec = _ledger().evaluate("ch03-near-centroid", statement="control",
                             **rmt.prediction_check(s["stats"][:, [-1]], [naive.accuracy],
                                                    [naive.accuracy_se], level=0.01))
    reject(rec, "centroid accuracy predicted without the centroids' estimation noise")


@pytest.mark.control("ch03-universality-test", "ch04-universality-test")
def test_universality_test_rejects_non_concentrated_data(reject, near_setting):
    s, k = near_setting, near_setting["k"]
    n = 1500  # the chapter's size (n = 1500 in its CPU mode); the test's power grows with n
    x, y = s["sur"].sample(n, seed=5)
    w = 0.2 / np.random.default_rng(6).chisquare(2.2, size=n)  # Student radius, 2.2 d.o.f.
    heavy = s["means"][y] + (x - s["means"][y]) * np.sqrt(w)[:, None]  # same two moments
    spectral = ("bulk_ks", "spike_gap", "edge_gap", "alignment_gap")
    tests = [rmt.universality_test(heavy, y, seed=r, n_boot=39, statistics=spectral)
             for r in range(3)]  # the chapter's check: p-values of random splits aggregated
    t = tests[0]
    rec = _ledger().evaluate("ch03-universality-test", statement="control",
                             measured=rmt.multisplit_p_value([q.p_combined for q in tests]),
                             reference=t.level, relation=">", tolerance=0.0, basis="control")
    reject(rec, "Student radius (2.2 degrees of freedom, E w = 1) with the same two moments, "
                "n = 1500")
    assert k == 3
