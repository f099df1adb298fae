"""Controls of chapter 4's claims: the chapter's checks, fed an input that breaks their
hypothesis, must reject it (see ``tests/conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

from gantheory import claims, gandata, rmt


def _ledger():
    return claims.Ledger("ch04", mode="quick")


@pytest.mark.control("ch04-sampler-law")
def test_sampler_law_rejects_a_clipped_normal(reject):
    rng = np.random.default_rng(0)
    trunc = st.truncnorm(-2, 2)
    good = _ledger().evaluate("ch04-sampler-law", statement="control",
                              **gandata.sample_ks_check(trunc.rvs(20_000, random_state=rng),
                                                        trunc.cdf, level=0.001))
    assert good.holds, good.line()
    clipped = np.clip(rng.standard_normal(20_000), -2, 2)  # same support, atoms at +-2
    rec = _ledger().evaluate("ch04-sampler-law", statement="control",
                             **gandata.sample_ks_check(clipped, trunc.cdf, level=0.001))
    reject(rec, "standard normal clipped to [-2, 2] instead of conditioned on it")


@pytest.mark.control("ch04-gram-within-null", "ch04-gpu-gram-within-null")
def test_gram_null_rejects_heavy_tails_with_the_same_moments(reject):
    rng = np.random.default_rng(0)
    p, k, per, n_mom = 40, 3, 80, 400
    means = 0.5 * rng.standard_normal((k, p))
    covs = np.stack([np.diag(rng.uniform(0.5, 1.5, p)) for _ in range(k)])
    truth = rmt.GaussianMixtureSurrogate(np.arange(k), means, covs, np.full(k, 1 / k),
                                         np.full(k, n_mom))
    x, y = truth.sample(k * per, seed=1)
    sur = rmt.gaussian_mixture_surrogate(*truth.sample(k * n_mom, seed=2))  # estimated moments
    r = np.sqrt(1 / rng.chisquare(3, size=(x.shape[0], 1)))  # E r^2 = 1: same two moments

    def check(data):
        c = rmt.compare_with_surrogate(data, y, sur, n_boot=10, seed=3)
        return _ledger().evaluate("ch04-gram-within-null", statement="control",
                                  **gandata.null_excess_check(
                                      [(c.observed[q], c.null[q]) for q in c.STATISTICS]))

    good = check(x)
    assert good.holds, good.line()
    reject(check(means[y] + (x - means[y]) * r),
           "radial sqrt(1/chi2_3) heavy tails, same means and covariances")


# ch04-downstream-one-run: the same check as chapter 3's, controlled in test_controls_ch03.py
