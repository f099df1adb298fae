"""Tests of the toy-GAN part of gantheory.partitions: disconnected targets, the Lipschitz
generator, seeded and cached WGAN-GP training, latent partitions; and of gantheory._cache."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from gantheory import _cache
from gantheory import partitions as pt
from gantheory.concentration import jacobian_norms
from gantheory.config import ConvergenceError, derive_seed

TINY_STEPS = 20  # machinery only: a few tenths of a second
REAL_STEPS = 1500  # the one test that trains to a real result (about 9 s)


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv(_cache.CACHE_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def tripod():
    return pt.DisconnectedTarget.regular(3, 2, spacing=4.0, radius=0.25)


# ----------------------------------------------------------------------------- centres


@pytest.mark.parametrize("m,D", [(2, 1), (5, 1), (2, 2), (3, 2), (4, 2), (7, 2), (3, 3), (4, 3),
                                 (6, 3), (4, 5), (10, 4)])
def test_mode_centres_min_distance_is_the_spacing(m, D):
    c = pt.mode_centres(m, D, spacing=2.5)
    assert c.shape == (m, D) and c.dtype == np.float64
    dist = [np.linalg.norm(c[i] - c[j]) for i, j in itertools.combinations(range(m), 2)]
    assert min(dist) == pytest.approx(2.5, rel=1e-12)
    np.testing.assert_allclose(c.mean(axis=0), 0.0, atol=1e-12)
    if D >= 3 and m <= D + 1:  # regular simplex: all pairs at the spacing
        np.testing.assert_allclose(dist, 2.5, rtol=1e-12)


def test_mode_centres_polygon_and_validation():
    c = pt.mode_centres(4, 2, spacing=4.0)  # a square of side 4: circumradius 2 sqrt 2
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2 * math.sqrt(2))
    with pytest.raises(ValueError, match="m must be >= 2"):
        pt.mode_centres(1)
    with pytest.raises(ValueError, match="D must be >= 1"):
        pt.mode_centres(3, 0)
    with pytest.raises(ValueError, match="spacing"):
        pt.mode_centres(3, 2, spacing=0.0)
    with pytest.raises(TypeError, match="spacing"):
        pt.mode_centres(3, 2, spacing="4")


# ----------------------------------------------------------------------------- target


def test_target_sampling_assignment_and_masses(tripod):
    x, labels = tripod.sample(30_000, seed=1)
    assert x.shape == (30_000, 2) and labels.shape == (30_000,) and labels.dtype == np.int64
    np.testing.assert_array_equal(tripod.assign(x), labels)
    assert tripod.precision(x) == 1.0
    masses = tripod.mode_masses(x)
    assert masses.shape == (3,) and masses.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(masses, 1 / 3, atol=0.015)  # 5 standard errors
    # uniform on the ball: P(|x - c| <= r / 2) = 1 / 4 in the plane
    rad = np.linalg.norm(x - tripod.centres[labels], axis=1)
    assert rad.max() <= tripod.radius
    assert np.mean(rad <= tripod.radius / 2) == pytest.approx(0.25, abs=0.015)
    np.testing.assert_array_equal(tripod.sample(10, seed=1)[0], tripod.sample(10, seed=1)[0])
    assert tripod.weights.tolist() == [1 / 3] * 3 and tripod.m == 3 and tripod.dim == 2


def test_target_points_off_the_support():
    t = pt.DisconnectedTarget([[0.0, 0.0], [3.0, 0.0]], 1.0)
    x = np.array([[0.0, 0.0], [1.0, 0.0], [1.01, 0.0], [1.5, 0.0], [2.0, 0.0], [3.0, 0.99],
                  [10.0, 10.0]])
    np.testing.assert_array_equal(t.assign(x), [0, 0, -1, -1, 1, 1, -1])
    assert t.precision(x) == pytest.approx(4 / 7)
    np.testing.assert_allclose(t.mode_masses(x), [2 / 7, 2 / 7])
    assert t.gap == pytest.approx(1.0)
    assert pt.DisconnectedTarget.regular(4, 2, spacing=4.0, radius=0.25).gap == pytest.approx(3.5)


def test_target_is_frozen_and_copies_its_centres():
    centres = np.array([[0.0, 0.0], [4.0, 0.0]])
    t = pt.DisconnectedTarget(centres, 0.5)
    centres[0, 0] = 100.0
    assert t.centres[0, 0] == 0.0
    with pytest.raises(ValueError):
        t.centres[0, 0] = 1.0  # read-only
    with pytest.raises(AttributeError):
        t.radius = 2.0


@pytest.mark.parametrize("centres,radius,error,match", [
    ([[0.0, 0.0], [1.0, 0.0]], 0.5, ValueError, "disjoint"),
    ([[0.0, 0.0]], 0.1, ValueError, "m >= 2"),
    ([0.0, 1.0], 0.1, ValueError, r"\(m, D\)"),
    ([[0.0, np.nan], [4.0, 0.0]], 0.1, ValueError, "NaN"),
    ([[0.0, 0.0], [4.0, 0.0]], 0.0, ValueError, "radius"),
    ([[0.0, 0.0], [4.0, 0.0]], float("inf"), ValueError, "radius"),
    ([[0.0, 0.0], [4.0, 0.0]], None, TypeError, "radius"),
])
def test_target_validation(centres, radius, error, match):
    with pytest.raises(error, match=match):
        pt.DisconnectedTarget(centres, radius)


def test_target_input_validation(tripod):
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        tripod.assign(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        tripod.assign(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="empty"):
        tripod.precision(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="empty"):
        tripod.mode_masses(np.zeros((0, 2)))
    assert tripod.assign(np.zeros((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match="n must be >= 0"):
        tripod.sample(-1, seed=0)


# ----------------------------------------------------------------------------- generator


@pytest.mark.parametrize("d,D", [(2, 2), (3, 2), (5, 3)])
def test_lipschitz_bound_dominates_jacobians_and_quotients(d, D):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(d)
        gen = pt.LipschitzGenerator(d, D, hidden=32, depth=2, init_scale=7.0)
        # a few training-mode passes make the power-iteration estimates differ from exact
        for _ in range(3):
            gen(torch.randn(8, d))
        with torch.no_grad():  # and some larger, random-looking weights
            for p in gen.parameters():
                p.add_(0.3 * torch.randn_like(p))
    gen.eval()
    bound = gen.lipschitz_bound()
    norms = gen.layer_norms()
    assert norms.shape == (3,)
    assert bound == pytest.approx(float(gen.scale.detach()) * np.prod(norms))
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, d))
    jac = jacobian_norms(gen, z, n_iter=30)
    assert jac.max() <= bound * (1 + 1e-6)
    assert jac.max() >= 1e-3 * bound  # not vacuous
    w = z + 0.05 * rng.standard_normal(z.shape)
    gz = pt.generate(gen, z)
    gw = pt.generate(gen, w)
    quotients = np.linalg.norm(gz - gw, axis=1) / np.linalg.norm(z - w, axis=1)
    assert quotients.max() <= bound * (1 + 1e-5)


def test_generator_shapes_modes_and_validation():
    gen = pt.LipschitzGenerator(3, 2, hidden=16, depth=1, init_scale=2.0).train()
    assert float(gen.scale.detach()) == pytest.approx(2.0) and len(gen.linear_layers()) == 2
    out = pt.generate(gen, np.zeros((5, 3)), batch_size=2)
    assert out.shape == (5, 2) and out.dtype == np.float64
    assert gen.training  # generate restores the mode
    gen.lipschitz_bound()
    assert gen.training
    assert pt.generate(gen, np.zeros((0, 3))).shape == (0, 2)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        gen(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        pt.generate(gen, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="floating"):
        pt.generate(gen, np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="NaN"):
        pt.generate(gen, np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="init_scale"):
        pt.LipschitzGenerator(2, init_scale=-1.0)
    with pytest.raises(ValueError, match="latent_dim"):
        pt.LipschitzGenerator(0)
    with pytest.raises(TypeError, match="hidden"):
        pt.LipschitzGenerator(2, hidden=8.0)


# ----------------------------------------------------------------------------- training


def test_training_is_seeded_and_cached(cache, tripod):
    first = pt.train_toy_gan(tripod, 2, steps=TINY_STEPS, seed=3, progress=False)
    assert not first.from_cache and first.path.parent == cache and first.path.is_file()
    assert first.path.name.startswith("partitions-toygans-")
    assert not first.generator.training
    assert [h[0] for h in first.history] == list(range(2, TINY_STEPS + 1, 2))
    assert all(math.isfinite(v) for h in first.history for v in h[1:3])
    assert all(0.0 <= h[3] <= 1.0 for h in first.history)
    assert first.params["steps"] == TINY_STEPS and first.target is tripod

    again = pt.train_toy_gan(tripod, 2, steps=TINY_STEPS, seed=3)
    assert again.from_cache and again.path == first.path
    assert _same_state(again.generator, first.generator) and not again.generator.training
    assert again.history == first.history and again.train_seconds == first.train_seconds
    z = np.random.default_rng(0).standard_normal((100, 2))
    np.testing.assert_array_equal(pt.generate(again.generator, z),
                                  pt.generate(first.generator, z))

    fresh = pt.train_toy_gan(tripod, 2, steps=TINY_STEPS, seed=3, cache=False)
    assert fresh.path is None and not fresh.from_cache
    assert _same_state(fresh.generator, first.generator) and fresh.history == first.history

    other = pt.train_toy_gan(tripod, 2, steps=TINY_STEPS, seed=4)
    assert not other.from_cache and other.path != first.path
    assert not _same_state(other.generator, first.generator)
    moved = pt.DisconnectedTarget(tripod.centres + 1.0, tripod.radius)
    assert pt.train_toy_gan(moved, 2, steps=TINY_STEPS, seed=3).path != first.path
    assert len(list(cache.glob("partitions-toygans-*.pt"))) == 3


def test_training_leaves_global_state_alone(cache, tripod):
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    pt.train_toy_gan(tripod, 2, steps=2, seed=0, cache=False)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert list(cache.iterdir()) == []


def test_unusable_cache_file_is_retrained(cache, tripod):
    first = pt.train_toy_gan(tripod, 2, steps=4, seed=0)
    first.path.write_bytes(b"not a torch file")
    with pytest.warns(RuntimeWarning, match="unusable cached weights"):
        again = pt.train_toy_gan(tripod, 2, steps=4, seed=0)
    assert not again.from_cache and _same_state(again.generator, first.generator)
    assert pt.train_toy_gan(tripod, 2, steps=4, seed=0).from_cache


def test_divergence_is_reported(cache, tripod, monkeypatch):
    forward = pt._StackedToyCritic.forward

    def poisoned(self, x):  # the last member's scores are NaN
        out = forward(self, x)
        return torch.cat([out[:-1], out[-1:] * float("nan")])

    monkeypatch.setattr(pt._StackedToyCritic, "forward", poisoned)
    with pytest.raises(FloatingPointError, match="diverged"):
        pt.train_toy_gan(tripod, 2, steps=1)
    with pytest.raises(FloatingPointError, match=r"diverged \(ensemble member 1\)"):
        pt.train_toy_gans([dict(target=tripod, latent_dim=2), dict(target=tripod, latent_dim=2,
                                                                    seed=1)], steps=1)
    assert list(cache.iterdir()) == []


def test_restarts_until_the_precision_criterion(cache, tripod, monkeypatch):
    finals, seeds = [], []

    def fake_round(specs, round_seeds, shared, progress):
        seeds.extend(round_seeds)
        gens = [pt._new_generator(s, seed, shared)
                for s, seed in zip(specs, round_seeds, strict=True)]
        return gens, [[(1, 0.0, 0.0, finals.pop(0))] for _ in specs], 0.0

    monkeypatch.setattr(pt, "_train_round", fake_round)
    finals[:] = [0.40, 0.60, 0.90]
    gan = pt.train_toy_gan(tripod, 2, steps=1, seed=5, min_precision=0.8, restarts=3)
    assert gan.attempts == 3 and gan.history[-1][3] == 0.90 and finals == []
    assert seeds == [5, derive_seed(5, "restart", 1), derive_seed(5, "restart", 2)]
    assert gan.params["seed"] == seeds[-1]
    # the attempts are cached: the same call trains nothing and gives the same result
    again = pt.train_toy_gan(tripod, 2, steps=1, seed=5, min_precision=0.8, restarts=3)
    assert again.from_cache and again.attempts == 3 and len(seeds) == 3
    finals[:] = [0.1, 0.2]
    with pytest.raises(ConvergenceError, match=r"0\.99 in 2 attempts \(final precisions "
                                               r"\[0\.1, 0\.2\]\)"):
        pt.train_toy_gan(tripod, 2, steps=1, seed=6, min_precision=0.99, restarts=1)
    finals[:] = [0.85]
    assert pt.train_toy_gan(tripod, 2, steps=1, seed=7, min_precision=0.8).attempts == 1


@pytest.mark.parametrize("kwargs,error,match", [
    ({"min_precision": 1.5}, ValueError, "min_precision"),
    ({"min_precision": 0.0}, ValueError, "min_precision"),
    ({"restarts": 2}, ValueError, "restarts needs min_precision"),
    ({"min_precision": 0.5, "restarts": -1}, ValueError, "restarts"),
    ({"steps": 0}, ValueError, "steps"),
    ({"steps": 1.5}, TypeError, "steps"),
    ({"latent_dim": 0}, ValueError, "latent_dim"),
    ({"seed": -1}, ValueError, "seed"),
    ({"batch_size": 1}, ValueError, "batch_size"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"critic_lr": float("nan")}, ValueError, "critic_lr"),
    ({"n_critic": 0}, ValueError, "n_critic"),
    ({"gp_weight": -1.0}, ValueError, "gp_weight"),
    ({"gp_weight": "10"}, TypeError, "gp_weight"),
    ({"hidden": 0}, ValueError, "hidden"),
    ({"init_scale": 0.0}, ValueError, "init_scale"),
    ({"target": "tripod"}, TypeError, "DisconnectedTarget"),
])
def test_train_toy_gan_validates_arguments(kwargs, error, match, tripod, cache):
    args = {"target": tripod, "latent_dim": 2, "steps": 1, **kwargs}
    with pytest.raises(error, match=match):
        pt.train_toy_gan(args.pop("target"), args.pop("latent_dim"), **args)
    assert list(cache.iterdir()) == []


def test_latent_partition_matches_assign(tripod):
    gen = pt.LipschitzGenerator(2, 2, hidden=16, depth=2, init_scale=30.0).eval()
    z = np.random.default_rng(1).standard_normal((500, 2))
    labels = pt.latent_partition(gen, tripod, z, batch_size=64)
    assert labels.shape == (500,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, tripod.assign(pt.generate(gen, z)))
    np.testing.assert_array_equal(labels, pt.latent_partition(gen, tripod, torch.as_tensor(z)))
    assert pt.latent_partition(gen, tripod, np.zeros((0, 2))).shape == (0,)
    with pytest.raises(TypeError, match="DisconnectedTarget"):
        pt.latent_partition(gen, tripod.centres, z)


def test_small_training_learns_the_tripod(cache, tripod):
    """A real (short) training: the three modes are found and the latent plane is cut into
    three cells; the precision respects the isoperimetric bound at eps = gap / Lip bound."""
    out = pt.train_toy_gan(tripod, 2, steps=REAL_STEPS, seed=0, progress=False)
    z = np.random.default_rng(7).standard_normal((20_000, 2))
    labels = pt.latent_partition(out.generator, tripod, z)
    precision = np.mean(labels >= 0)
    masses = np.bincount(labels[labels >= 0], minlength=3) / labels.size
    assert precision >= 0.6, (precision, out.history)
    assert np.all(masses >= 0.5 / 3) and np.all(masses <= 1.5 / 3), masses
    assert precision == pytest.approx(out.history[-1][3], abs=0.03)
    bound = out.generator.lipschitz_bound()
    # equal cells of mass precision / 3 approximately: the isoperimetric bound (with slack
    # for unequal masses and sampling) must hold
    assert precision <= pt.precision_upper_bound(3, tripod.gap / bound) + 0.02
    # the cells are almost linearly separable in the latent plane (a tripod)
    keep = labels >= 0
    assert pt.linear_separability(z[keep], labels[keep], seed=0) >= 0.95


# ----------------------------------------------------------------------------- cache module


def test_cache_weights_path_keys(cache, tmp_path):
    src = tmp_path / "module.py"
    src.write_text("a = 1\n")
    p = _cache.weights_path("pre", "kind", {"x": 1}, src)
    assert p.parent == cache and p.name.startswith("pre-kind-") and p.suffix == ".pt"
    assert _cache.weights_path("pre", "kind", {"x": 1}, src) == p
    assert _cache.weights_path("pre", "kind", {"x": 2}, src) != p
    assert _cache.weights_path("pre", "other", {"x": 1}, src) != p
    assert _cache.weights_path("pre", "kind", {"x": 1}, src, {"data": "d"}) != p
    assert _cache.weights_path("pre", "kind", {"x": 1}, src, digest="edited") != p
    with pytest.raises(ValueError, match="redefine"):
        _cache.weights_path("pre", "kind", {"x": 1}, src, {"torch": "0.1"})
    assert _cache.torch_version().count(".") == 1


def test_training_with_simplicial_truncation(cache, tripod):
    out = pt.train_toy_gan(tripod, 3, steps=20, seed=0, latent_tau=0.5, progress=False)
    assert out.params["latent_tau"] == 0.5 and len(out.history) >= 1
    plain = pt.train_toy_gan(tripod, 3, steps=20, seed=0, progress=False)
    assert "latent_tau" not in plain.params and plain.path != out.path  # a separate cache entry
    z = torch.zeros(1, 3)
    assert not torch.equal(out.generator(z), plain.generator(z))  # other latents, other weights
    again = pt.train_toy_gan(tripod, 3, steps=20, seed=0, latent_tau=0.5, progress=False)
    assert again.from_cache
    with pytest.raises(ValueError, match="latent_tau"):
        pt.train_toy_gan(tripod, 3, steps=2, latent_tau=0.2)  # below 1/m
    with pytest.raises(ValueError, match="latent_dim >= m"):
        pt.train_toy_gan(tripod, 2, steps=2, latent_tau=0.5)


# ----------------------------------------------------------------------------- chapter 7 checks


def test_isoperimetric_check_values_and_standard_error():
    # two half-spaces at distance eps: F(eps) = 1 exactly (equality case of the theorem)
    eps = 0.6
    a = np.full(2, st_norm_cdf(-eps / 2))
    out = pt.isoperimetric_check(a, 10**6, eps)
    assert out["relation"] == "<=" and out["reference"] == 0.0
    assert out["measured"] == pytest.approx(0.0, abs=1e-12)
    # the delta-method standard error against the spread of simulated multinomial masses
    rng = np.random.default_rng(0)
    n, masses = 5000, np.array([0.3, 0.25, 0.2])
    sims = [pt.isoperimetric_check(rng.multinomial(n, [*masses, 0.25])[:3] / n, n, 0.4)
            for _ in range(400)]
    spread = np.std([s["measured"] for s in sims])
    assert np.mean([s["tolerance"] for s in sims]) / 3 == pytest.approx(spread, rel=0.15)
    # an empty mode contributes nothing and keeps the standard error finite
    out = pt.isoperimetric_check([0.5, 0.3, 0.0], 1000, 0.2)
    assert math.isfinite(out["tolerance"]) and out["tolerance"] > 0
    with pytest.raises(ValueError, match="sum <= 1"):
        pt.isoperimetric_check([0.6, 0.6], 100, 0.1)
    with pytest.raises(ValueError, match="eps"):
        pt.isoperimetric_check([0.3, 0.3], 100, -0.1)
    with pytest.raises(ValueError, match="1-d"):
        pt.isoperimetric_check([0.3], 100, 0.1)


def st_norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def test_heldout_precision_check():
    out = pt.heldout_precision_check(0.80, 200_000, 0.81, 4096)
    se = math.sqrt(0.81 * 0.19 * (1 / 4096 + 1 / 200_000))
    assert out["tolerance"] == pytest.approx(3 * se)
    assert out["relation"] == ">=" and out["reference"] == 0.81
    from gantheory import claims
    led = claims.Ledger("ch07", mode="quick")
    assert led.evaluate("ch07-x-y", statement="t", **out).holds
    # a selection fluke: fresh precision far below the threshold is rejected
    bad = pt.heldout_precision_check(0.70, 200_000, 0.81, 4096)
    assert not led.evaluate("ch07-x-y", statement="t", **bad).holds
    with pytest.raises(ValueError, match="threshold"):
        pt.heldout_precision_check(0.8, 10, 0.0, 10)
    with pytest.raises(ValueError, match="precision"):
        pt.heldout_precision_check(1.2, 10, 0.5, 10)


def test_seed_interval_and_paired_difference_check():
    mean, half = pt.seed_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302652729749464 * 1.0 / math.sqrt(3))
    from gantheory import claims
    led = claims.Ledger("ch07", mode="quick")
    clear = pt.paired_difference_check([0.9, 0.88, 0.91], [0.8, 0.79, 0.82])
    assert clear["relation"] == ">" and led.evaluate("ch07-x-y", statement="t", **clear).holds
    noisy = pt.paired_difference_check([0.877, 0.85, 0.90], [0.864, 0.88, 0.85])
    assert not led.evaluate("ch07-x-y", statement="t", **noisy).holds
    same = pt.paired_difference_check([0.5, 0.6], [0.5, 0.6])  # zero difference never holds
    assert not led.evaluate("ch07-x-y", statement="t", **same).holds
    with pytest.raises(ValueError, match="same shape"):
        pt.paired_difference_check([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        pt.seed_interval([1.0])
