"""Controls of chapter 8's claims (WGANs as neural IPMs): the same checks as the chapter, fed a
network that is not Lipschitz, a wrong rate or two different laws, must reject them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gantheory import claims, config
from gantheory import wasserstein as ws
from gantheory.config import torch_seeded

D = 8  # the chapter's dimension for the sample-size rates
N_GRID = (32, 64, 128, 256)
N_REP = 3


def _ledger():
    return claims.Ledger("ch08", mode="quick")


def _unconstrained(dim=2, width=16, depth=3, scale=2.0, seed=0):
    """A GroupSort critic whose Björck layers are replaced by plain linear layers with the same
    raw weights times ``scale``: no orthonormalization, so no Lipschitz guarantee."""
    with torch_seeded(seed):
        critic = ws.GroupSortCritic(dim, width, depth)
    for k, layer in enumerate(critic.body):
        if isinstance(layer, ws.BjorckLinear):
            lin = nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                lin.weight.copy_(scale * layer.weight)
                lin.bias.zero_()
            critic.body[k] = lin
    return critic


def _mixture_points(seed=0, n=200):
    g = np.random.default_rng(seed)
    return 3 * g.standard_normal((n, 2))


@pytest.mark.control("ch08-random-critic-operator-norm", "ch08-trained-critic-operator-norm")
def test_operator_norm_check_rejects_a_network_without_bjorck(reject):
    critic = _unconstrained()
    for cid in ("ch08-random-critic-operator-norm", "ch08-trained-critic-operator-norm"):
        rec = _ledger().evaluate(cid, statement="control", kind="exact",
                                 **ws.operator_norm_check([ws.GroupSortCritic(2, 16, 3), critic]))
        reject(rec, "GroupSort network without Björck orthonormalization (raw weights x 2)")


@pytest.mark.control("ch08-trained-critic-gradient")
def test_gradient_check_rejects_a_network_without_bjorck(reject):
    rec = _ledger().evaluate("ch08-trained-critic-gradient", statement="control", kind="exact",
                             **ws.gradient_norm_check([_unconstrained()], _mixture_points()))
    reject(rec, "GroupSort network without Björck orthonormalization (raw weights x 2)")


@pytest.mark.control("ch08-ipm-below-w1", "ch08-wgan-critics-below-w1", "ch08-families-below-w1")
def test_ipm_check_rejects_a_3_lipschitz_critic(reject):
    g = np.random.default_rng(0)
    x = 0.5 * g.standard_normal((100, 2))
    y = 0.5 * g.standard_normal((100, 2)) + [3.0, 0.0]
    d = ws.neural_ipm(x, y, width=8, depth=1, steps=100, lr=1e-2)
    w1 = ws.wasserstein1(x, y)
    for cid in ("ch08-ipm-below-w1", "ch08-wgan-critics-below-w1", "ch08-families-below-w1"):
        rec = _ledger().evaluate(cid, statement="control", kind="exact",
                                 **ws.ipm_below_w1_check([d, 3 * d], w1))
        reject(rec, "the critic 3f (3-Lipschitz) between two separated blobs")


@pytest.fixture(scope="module")
def rates():
    """W1 and d_D (width-8 depth-1 critics) between two Gaussian samples in R^8, same law and
    shifted laws, at small sizes: ``(n, W1, W1_other_pair, W1_shifted, d_D)``."""
    rows = []
    for n in N_GRID:
        for r in range(N_REP):
            g = np.random.default_rng(config.derive_seed(1, "ctl", n, r))
            a, b, c = (g.standard_normal((n, D)) for _ in range(3))
            shift = np.r_[5.0, np.zeros(D - 1)]
            rows.append((n, ws.wasserstein1(a, b), ws.wasserstein1(a, c),
                         ws.wasserstein1(a, b + shift),
                         ws.neural_ipm(a, b, width=8, depth=1, steps=200, lr=1e-2, seed=r)))
    return np.array(rows)


@pytest.mark.control("ch08-rate-w1")
def test_rate_w1_rejects_the_parametric_rate(rates, reject):
    rec = _ledger().evaluate("ch08-rate-w1", statement="control",
                             **ws.slope_check(rates[:, 0], rates[:, 1], -0.5, "equals"))
    reject(rec, "W1 data against the wrong rate n^(-1/2)")


@pytest.mark.control("ch08-rate-w1")
def test_rate_w1_rejects_two_different_laws(rates, reject):
    rec = _ledger().evaluate("ch08-rate-w1", statement="control",
                             **ws.slope_check(rates[:, 0], rates[:, 3], -1 / D, "equals"))
    reject(rec, "W1 between N(0, I) and N(5 e1, I): not the same law")


@pytest.mark.control("ch08-rate-ipm")
def test_rate_ipm_rejects_the_w1_rate(rates, reject):
    rec = _ledger().evaluate("ch08-rate-ipm", statement="control",
                             **ws.slope_check(rates[:, 0], rates[:, 4], -1 / D, "equals"))
    reject(rec, "d_D data against the wrong rate n^(-1/D)")


@pytest.mark.control("ch08-ipm-faster-than-w1")
def test_faster_than_w1_rejects_w1_against_itself(rates, reject):
    rec = _ledger().evaluate("ch08-ipm-faster-than-w1", statement="control",
                             **ws.slope_check(rates[:, 0], rates[:, 2] / rates[:, 1], 0.0, "below"))
    reject(rec, "W1 of an independent pair in place of d_D (same rate as W1)")
