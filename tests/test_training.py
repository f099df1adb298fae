"""gantheory.training: the one trainer, its losses, ensembles and the cache checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gantheory import _cache, training
from gantheory import partitions as pt
from gantheory import wasserstein as ws
from gantheory.config import ConvergenceError, torch_seeded

# Float32 rounding of one batched step: the members' weights are O(1) and one Adam step moves
# each by at most lr = 1e-3, so reordering the float32 sums of a batched product changes a weight
# by a few units of 2^-24 * |w| (1e-7 measured); 1e-6 allows ten.
ONE_STEP_ROUNDING = 1e-6


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(_cache.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_divergence_error_is_both_kinds():
    assert issubclass(training.DivergenceError, ConvergenceError)
    assert issubclass(training.DivergenceError, FloatingPointError)


def test_linear_decay_holds_then_decays():
    f = [training.linear_decay(s, 10, 0.5) for s in range(1, 11)]
    assert f[:6] == [1.0] * 6 and f[-1] == pytest.approx(0.2)
    assert np.all(np.diff(f) <= 0)
    assert [training.linear_decay(s, 10, 0.0) for s in range(1, 11)] == [1.0] * 10


def test_restart_seed():
    assert training.restart_seed(7, 0) == 7
    assert len({training.restart_seed(7, k) for k in range(5)}) == 5


def test_stacked_linear_is_member_wise():
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(3, 5, 4, generator=g), torch.randn(3, 2, 4, generator=g), \
        torch.randn(3, 2, generator=g)
    out = training.stacked_linear(x, w, b)
    for e in range(3):
        torch.testing.assert_close(out[e], torch.nn.functional.linear(x[e], w[e], b[e]))


def test_pad_columns_keeps_the_map_exactly():
    w = torch.randn(4, 2)
    z = torch.randn(6, 2)
    padded = training.pad_columns(w, 5)
    zp = torch.cat([z, torch.zeros(6, 3)], 1)
    assert torch.equal(zp @ padded.T, z @ w.T)  # adding exact zeros changes no float
    with pytest.raises(ValueError, match="pad"):
        training.pad_columns(w, 1)


def test_streams_are_per_member_and_independent_of_the_others():
    a = training.Streams([3, 4], "t")
    b = training.Streams([4], "t", stacked=False)
    assert torch.equal(a.randn(5, 2)[1], b.randn(5, 2))
    assert not torch.equal(training.Streams([3], "t").randn(5), training.Streams([3], "u")
                           .randn(5))
    with pytest.raises(ValueError, match="one member"):
        training.Streams([1, 2], "t", stacked=False)


def test_gradient_penalty_of_a_stack_is_the_sum_of_the_members():
    with torch_seeded(0):
        critics = [pt.ToyCritic(2, hidden=8, depth=2) for _ in range(3)]
    stacked = pt._StackedToyCritic(critics)
    real, fake = torch.randn(3, 16, 2), torch.randn(3, 16, 2)
    loss = training.WGANGP(10.0)
    together = loss.critic_loss(stacked, real, fake, [], training.Streams([0, 1, 2], "gp"))
    alone = [loss.critic_loss(c, real[e], fake[e], [],
                              training.Streams([e], "gp", stacked=False))
             for e, c in enumerate(critics)]
    torch.testing.assert_close(together, torch.stack(alone), rtol=1e-5, atol=1e-6)
    assert training.WGANGP(0.0).critic_loss(critics[0], real[0], fake[0], [], None).ndim == 0


def test_fit_validates():
    with torch_seeded(0):
        g, c = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    kwargs = dict(draw_real=lambda: (torch.zeros(2, 1),), draw_latent=lambda: torch.zeros(2, 1),
                  streams=training.Streams([0], "x", stacked=False),
                  opt_g=torch.optim.Adam(g.parameters()), opt_c=torch.optim.Adam(c.parameters()))
    with pytest.raises(ValueError, match="share_batch"):
        training.fit(g, c, training.NonSaturating(), steps=1, n_critic=2, share_batch=True,
                     **kwargs)
    with pytest.raises(ValueError, match="log_steps"):
        training.fit(g, c, training.NonSaturating(), steps=1, n_critic=1, log_steps=[5],
                     **kwargs)


# ------------------------------------------------------------------ ensembles vs one at a time


def _tripods():
    t3 = pt.DisconnectedTarget.regular(3, D=2, spacing=4.0, radius=0.25)
    t4 = pt.DisconnectedTarget.regular(4, D=2, spacing=4.0, radius=0.25)
    return [dict(target=t3, latent_dim=2, seed=0), dict(target=t4, latent_dim=3, seed=1),
            dict(target=t3, latent_dim=3, seed=2, latent_tau=0.5)]


def _max_state_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


def test_toy_gan_ensemble_members_are_their_one_at_a_time_runs():
    members = _tripods()  # different targets, mode counts, latent dims (padded) and laws
    for steps in (1, 2):
        together = pt.train_toy_gans(members, steps=steps, cache=False)
        alone = [pt.train_toy_gans([m], steps=steps, cache=False)[0] for m in members]
        for a, b in zip(together, alone, strict=True):
            assert _max_state_difference(a.generator, b.generator) <= ONE_STEP_ROUNDING
            np.testing.assert_allclose(np.array(a.history)[:, 1:], np.array(b.history)[:, 1:],
                                       rtol=1e-5, atol=1e-5)
            assert a.generator.latent_dim == b.generator.latent_dim
    # the control: a member trained with another seed is far from its one-at-a-time run
    other = pt.train_toy_gans([{**members[0], "seed": 9}], steps=1, cache=False)[0]
    assert _max_state_difference(other.generator, alone[0].generator) > 100 * ONE_STEP_ROUNDING


def test_toy_gan_ensemble_is_deterministic_and_cached_as_one_file(cache):
    members = _tripods()[:2]
    first = pt.train_toy_gans(members, steps=3)
    again = pt.train_toy_gans(members, steps=3)
    assert all(r.from_cache for r in again) and len(list(cache.iterdir())) == 1
    for a, b in zip(first, again, strict=True):
        assert _max_state_difference(a.generator, b.generator) == 0.0
        assert a.history == b.history
    fresh = pt.train_toy_gans(members, steps=3, cache=False)
    assert all(_max_state_difference(a.generator, b.generator) == 0.0
               for a, b in zip(first, fresh, strict=True))


def test_toy_gan_ensemble_cache_rejects_nan_weights(cache):
    members = _tripods()[:2]
    first = pt.train_toy_gans(members, steps=2)
    payload = torch.load(first[0].path, weights_only=True)
    payload["state_dict"][1] = {k: v * float("nan") if v.is_floating_point() else v
                                for k, v in payload["state_dict"][1].items()}
    torch.save(payload, first[0].path)
    with pytest.warns(RuntimeWarning, match="non-finite weights"):
        again = pt.train_toy_gans(members, steps=2)
    assert not again[0].from_cache
    assert pt.train_toy_gans(members, steps=2)[1].from_cache


def test_toy_gan_ensemble_validates_members():
    t3 = pt.DisconnectedTarget.regular(3, D=2)
    t3d = pt.DisconnectedTarget.regular(3, D=3)
    with pytest.raises(ValueError, match="non-empty"):
        pt.train_toy_gans([], steps=1)
    with pytest.raises(ValueError, match="one dimension"):
        pt.train_toy_gans([dict(target=t3, latent_dim=2), dict(target=t3d, latent_dim=2)],
                          steps=1)
    with pytest.raises(ValueError, match=r"members\[1\].*keys"):
        pt.train_toy_gans([dict(target=t3, latent_dim=2), dict(target=t3, dim=2)], steps=1)
    with pytest.raises(TypeError, match=r"members\[0\]: target"):
        pt.train_toy_gans([dict(target="t3", latent_dim=2), dict(target=t3, latent_dim=2)],
                          steps=1)


def _groupsort_jobs(n: int, steps: int) -> list[dict]:
    pts = np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]])
    jobs = []
    for k in range(n):
        with torch_seeded(k):
            gen = ws.GroupSortGenerator(1, 2, lipschitz=4.0 + k, width=8, depth=2, iters=5)
        jobs.append(dict(target=pts[: 2 + k % 2], generator=gen, latent="uniform", steps=steps,
                         n_critic=2, critic_width=8, critic_depth=2, n_log=2, n_eval=64, seed=k))
    return jobs


def test_wgan_ensemble_members_are_their_one_at_a_time_runs():
    jobs = _groupsort_jobs(3, steps=1)  # targets of 2 and 3 points, different K
    together = ws.train_wgans(jobs, processes=1)
    alone = [ws.train_wgan(**j) for j in jobs]
    for a, b in zip(together, alone, strict=True):
        assert _max_state_difference(a.generator, b.generator) <= ONE_STEP_ROUNDING
        assert _max_state_difference(a.critic, b.critic) <= ONE_STEP_ROUNDING
        pd.testing.assert_frame_equal(a.history, b.history, rtol=1e-5, atol=1e-6)
    with torch_seeded(5):  # the control: another initial generator
        jobs[0]["generator"] = ws.GroupSortGenerator(1, 2, lipschitz=4.0, width=8, depth=2,
                                                     iters=5)
    other = ws.train_wgan(**jobs[0])
    assert _max_state_difference(other.generator, alone[0].generator) > 100 * ONE_STEP_ROUNDING


def test_wgan_ensemble_groups_by_architecture():
    jobs = _groupsort_jobs(2, steps=2)
    with torch_seeded(7):
        jobs.append(dict(jobs[0], generator=ws.GroupSortGenerator(1, 2, lipschitz=4.0, width=4,
                                                                  depth=1, iters=5)))
    out = ws.train_wgans(jobs, processes=1)
    assert [r.generator.width for r in out] == [8, 8, 4]
    assert out[0].seconds == out[1].seconds != out[2].seconds  # one stack, then one alone
    with pytest.raises(ValueError, match="empty"):
        ws.train_wgans([])


def test_batched_bjorck_is_the_matrix_by_matrix_one():
    w = torch.randn(3, 6, 4)
    torch.testing.assert_close(ws.bjorck(w, 10), torch.stack([ws.bjorck(m, 10) for m in w]))


def test_fakes_at_once_gives_the_same_training(monkeypatch):
    jobs = _groupsort_jobs(1, steps=3)
    batched = ws.train_wgan(**jobs[0])  # GroupSort generator: fakes_at_once
    fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **k: fit(*a, **{**k, "fakes_at_once": False}))
    one_by_one = ws.train_wgan(**jobs[0])
    assert _max_state_difference(batched.generator, one_by_one.generator) <= ONE_STEP_ROUNDING
    pd.testing.assert_frame_equal(batched.history, one_by_one.history, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="exclude"):
        fit(None, None, None, steps=1, n_critic=1, draw_real=None, draw_latent=None,
            streams=training.Streams([0], "x", stacked=False), opt_g=None, opt_c=None,
            share_batch=True, fakes_at_once=True)


def test_streams_with_explicit_torch_seeds():
    s = training.Streams([5], "t", stacked=False, torch_seeds=[123])
    assert torch.equal(s.randn(4), torch.randn(4, generator=torch.Generator().manual_seed(123)))
    with pytest.raises(ValueError, match="one seed per member"):
        training.Streams([1, 2], "t", torch_seeds=[3])
