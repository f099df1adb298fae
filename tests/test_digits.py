"""Tests of gantheory.digits (offline digits data, CNN classifier, conditional GAN, cache)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gantheory import digits as dg

# Tiny trainings: the whole file runs in well under a minute on 2 CPU cores.
CNN_EPOCHS = 3
GAN_STEPS = 500
TINY_STEPS = 30


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier and a GAN trained once for the module, in a private cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(dg.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        cnn = dg.train_classifier(epochs=CNN_EPOCHS, seed=0)
        gan = dg.train_gan(steps=GAN_STEPS, seed=0)
    return cnn, gan


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dg.CACHE_ENV, str(tmp_path))
    return tmp_path


# ----------------------------------------------------------------------------- data


def test_load_digits_data_shapes_range_and_copies():
    x, y = dg.load_digits_data()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.unique(x * 16), np.arange(17))  # pixel / 16
    assert set(np.unique(y)) == set(range(10))
    x[0] = 5.0  # a fresh writable copy: the next call is untouched
    assert dg.load_digits_data()[0].max() == 1.0


def test_split_is_stratified_seeded_and_a_partition():
    _, y = dg.load_digits_data()
    tr, te = dg.train_test_split_indices(y, test_fraction=0.25, seed=3)
    assert tr.dtype == te.dtype == np.int64
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(y.size))
    assert te.size == math.ceil(0.25 * y.size)
    np.testing.assert_allclose(np.bincount(y[te]) / te.size, np.bincount(y) / y.size, atol=0.01)
    tr2, te2 = dg.train_test_split_indices(y, test_fraction=0.25, seed=3)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, dg.train_test_split_indices(y, seed=4)[1])


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_bad_fraction(frac):
    with pytest.raises(ValueError, match="test_fraction"):
        dg.train_test_split_indices(np.arange(20) % 10, test_fraction=frac)


# ----------------------------------------------------------------------------- networks


def test_network_shapes():
    x = torch.rand(5, 1, 8, 8)
    y = torch.arange(5)
    cnn = dg.DigitsCNN()
    assert cnn(x).shape == (5, 10)
    feats = cnn.features(x)
    assert feats.shape == (5, dg.FEATURE_DIM) and bool((feats >= 0).all())  # after the ReLU
    gen = dg.ConditionalGenerator()
    img = gen(torch.randn(5, dg.LATENT_DIM), y)
    assert img.shape == (5, 1, 8, 8) and bool(((img >= 0) & (img <= 1)).all())
    assert dg.ConditionalDiscriminator()(img, y).shape == (5,)


def test_network_input_validation():
    gen, disc = dg.ConditionalGenerator(), dg.ConditionalDiscriminator()
    with pytest.raises(ValueError, match=r"z must have shape \(N, 32\)"):
        gen(torch.randn(3, 7), torch.arange(3))
    with pytest.raises(ValueError, match="rows"):
        gen(torch.randn(3, 32), torch.arange(4))
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        disc(torch.rand(3, 64), torch.arange(3))
    with pytest.raises(ValueError, match="rows"):
        disc(torch.rand(3, 1, 8, 8), torch.arange(2))
    with pytest.raises(TypeError, match="integers"):
        disc(torch.rand(3, 1, 8, 8), torch.zeros(3))


# ----------------------------------------------------------------------------- classifier


def test_classifier_accuracy_cache_hit_and_indices(trained, monkeypatch):
    cnn, _ = trained
    assert cnn.test_accuracy >= 0.85 and not cnn.from_cache
    assert not cnn.model.training and cnn.epochs == CNN_EPOCHS and cnn.train_seconds > 0
    assert cnn.weights_path.is_file() and cnn.weights_path.parent.name.startswith("cache")
    _, y = dg.load_digits_data()
    assert np.intersect1d(cnn.train_indices, cnn.test_indices).size == 0
    pred = dg.predict(cnn.model, dg.load_digits_data()[0][cnn.test_indices])
    assert np.mean(pred == y[cnn.test_indices]) == pytest.approx(cnn.test_accuracy)

    monkeypatch.setenv(dg.CACHE_ENV, str(cnn.weights_path.parent))
    again = dg.train_classifier(epochs=CNN_EPOCHS, seed=0)
    assert again.from_cache and again.weights_path == cnn.weights_path
    assert _same_state(again.model, cnn.model) and not again.model.training
    assert again.test_accuracy == cnn.test_accuracy and again.train_seconds == cnn.train_seconds


def test_classifier_is_deterministic_across_caches(tmp_path, monkeypatch):
    monkeypatch.setenv(dg.CACHE_ENV, str(tmp_path / "a"))
    a = dg.train_classifier(epochs=1, seed=5)
    monkeypatch.setenv(dg.CACHE_ENV, str(tmp_path / "b"))
    b = dg.train_classifier(epochs=1, seed=5)
    assert not a.from_cache and not b.from_cache
    assert _same_state(a.model, b.model) and a.test_accuracy == b.test_accuracy
    assert a.weights_path.name == b.weights_path.name


def test_classifier_without_cache_writes_nothing(cache):
    out = dg.train_classifier(epochs=1, seed=0, cache=False)
    assert out.weights_path is None and not out.from_cache
    assert list(cache.iterdir()) == []


# ----------------------------------------------------------------------------- GAN


def test_gan_cache_hit_and_misses(cache):
    first = dg.train_gan(steps=TINY_STEPS, seed=0)
    assert not first.from_cache and first.weights_path.parent == cache
    assert not first.generator.training and first.steps == TINY_STEPS
    assert [h[0] for h in first.history] == [6, 12, 18, 24, 30]
    assert all(math.isfinite(v) for h in first.history for v in h[1:])
    hit = dg.train_gan(steps=TINY_STEPS, seed=0)
    assert hit.from_cache and _same_state(hit.generator, first.generator)
    assert hit.history == first.history and hit.train_seconds == first.train_seconds
    for kwargs in ({"steps": TINY_STEPS + 1}, {"seed": 1}, {"batch_size": 64}):
        miss = dg.train_gan(**{"steps": TINY_STEPS, "seed": 0, **kwargs})
        assert not miss.from_cache and miss.weights_path != first.weights_path
    assert len(list(cache.glob("digits-gan-*.pt"))) == 4


def test_gan_is_deterministic_across_caches(tmp_path, monkeypatch):
    monkeypatch.setenv(dg.CACHE_ENV, str(tmp_path / "a"))
    a = dg.train_gan(steps=TINY_STEPS, seed=7, batch_size=32)
    monkeypatch.setenv(dg.CACHE_ENV, str(tmp_path / "b"))
    b = dg.train_gan(steps=TINY_STEPS, seed=7, batch_size=32)
    assert not b.from_cache and _same_state(a.generator, b.generator)
    assert a.history == b.history


def test_source_change_changes_the_cache_file(cache, monkeypatch):
    first = dg.train_gan(steps=TINY_STEPS, seed=0)
    monkeypatch.setattr(dg, "_source_digest", lambda: "edited source")
    second = dg.train_gan(steps=TINY_STEPS, seed=0)
    assert not second.from_cache and second.weights_path != first.weights_path


def test_unusable_cache_file_is_retrained(cache):
    first = dg.train_gan(steps=TINY_STEPS, seed=0)
    first.weights_path.write_bytes(b"not a torch file")
    with pytest.warns(RuntimeWarning, match="unusable cached weights"):
        again = dg.train_gan(steps=TINY_STEPS, seed=0)
    assert not again.from_cache and _same_state(again.generator, first.generator)
    torch.save({"state_dict": first.generator.state_dict()}, first.weights_path)  # no history
    with pytest.warns(RuntimeWarning, match="missing"):
        assert not dg.train_gan(steps=TINY_STEPS, seed=0).from_cache
    assert dg.train_gan(steps=TINY_STEPS, seed=0).from_cache  # rewritten


def test_gan_divergence_is_reported(cache, monkeypatch):
    forward = dg.ConditionalDiscriminator.forward
    monkeypatch.setattr(dg.ConditionalDiscriminator, "forward",
                        lambda self, x, y: forward(self, x, y) * float("nan"))
    with pytest.raises(FloatingPointError, match="diverged.*step 1"):
        dg.train_gan(steps=1, seed=0)
    assert list(cache.iterdir()) == []


def test_cached_nan_weights_or_bad_history_are_retrained(cache):
    first = dg.train_gan(steps=TINY_STEPS, seed=0)
    payload = torch.load(first.weights_path, weights_only=True)
    good = {k: v.clone() for k, v in payload["state_dict"].items()}
    payload["state_dict"] = {k: v * float("nan") if v.is_floating_point() else v
                             for k, v in good.items()}
    torch.save(payload, first.weights_path)  # every key right, every value NaN
    with pytest.warns(RuntimeWarning, match="non-finite weights"):
        again = dg.train_gan(steps=TINY_STEPS, seed=0)
    assert not again.from_cache and _same_state(again.generator, first.generator)
    payload = torch.load(first.weights_path, weights_only=True)
    payload["history"] = [(1, float("nan"), 0.0)]
    torch.save(payload, first.weights_path)
    with pytest.warns(RuntimeWarning, match="history"):
        assert not dg.train_gan(steps=TINY_STEPS, seed=0).from_cache
    assert dg.train_gan(steps=TINY_STEPS, seed=0).from_cache


def test_gan_learns_the_classes(trained):
    cnn, gan = trained
    acc = dg.gan_class_accuracy(cnn.model, gan.generator, n_per_class=100, seed=1)
    assert acc.shape == (10,)
    assert acc.mean() >= 0.7, acc  # chance is 0.1; full-size training gives >= 0.98


def test_training_restores_the_thread_count(cache):
    before = torch.get_num_threads()
    dg.train_gan(steps=2, seed=0, cache=False, progress=True)
    assert torch.get_num_threads() == before


# ----------------------------------------------------------------------------- sampling


def test_sample_gan_is_seeded_batched_and_in_range(trained):
    _, gan = trained
    labels = np.repeat(np.arange(10), 3)
    a = dg.sample_gan(gan.generator, labels, seed=11)
    assert a.shape == (30, 1, 8, 8) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    # batching changes the images by float rounding only
    np.testing.assert_allclose(a, dg.sample_gan(gan.generator, labels, seed=11, batch_size=7),
                               rtol=0, atol=1e-6)
    np.testing.assert_array_equal(a, dg.sample_gan(gan.generator, torch.as_tensor(labels),
                                                   seed=11))
    assert not np.array_equal(a, dg.sample_gan(gan.generator, labels, seed=12))
    t = dg.sample_gan(gan.generator, labels, seed=11, truncation=0.5)
    assert t.shape == a.shape and not np.array_equal(t, a)
    assert dg.sample_gan(gan.generator, np.zeros(0, dtype=np.int64), seed=0).shape == (0, 1, 8, 8)


def test_sampling_keeps_the_module_mode():
    gen = dg.ConditionalGenerator().train()
    dg.sample_gan(gen, [1, 2], seed=0)
    assert gen.training


def test_truncated_latents_law():
    z = dg._latents(20000, 4, seed=0, truncation=1.0)
    assert z.dtype == torch.float32 and float(z.abs().max()) <= 1.0
    # N(0, 1) conditioned on |z| <= 1 has variance 1 - 2 phi(1) / (2 Phi(1) - 1) = 0.2911
    assert float(z.var()) == pytest.approx(0.2911, abs=0.01)
    assert float(dg._latents(20000, 4, seed=0, truncation=1e-3).abs().max()) <= 1e-3
    np.testing.assert_array_equal(dg._latents(5, 4, seed=3, truncation=None),
                                  dg._latents(5, 4, seed=3, truncation=None))


@pytest.mark.parametrize("truncation", [0.0, -1.0, float("nan"), float("inf")])
def test_sample_gan_rejects_bad_truncation(truncation):
    with pytest.raises(ValueError, match="truncation"):
        dg.sample_gan(dg.ConditionalGenerator(), [0, 1], seed=0, truncation=truncation)


@pytest.mark.parametrize("labels,error,match", [
    ([0.0, 1.0], TypeError, "integers"),
    ([True, False], TypeError, "integers"),
    (torch.tensor([True]), TypeError, "integers"),
    ([[0, 1]], ValueError, "1-D"),
    ([0, 10], ValueError, r"0\.\.9"),
    ([-1, 3], ValueError, r"0\.\.9"),
])
def test_label_validation(labels, error, match):
    with pytest.raises(error, match=match):
        dg.sample_gan(dg.ConditionalGenerator(), labels, seed=0)


# ----------------------------------------------------------------------------- features


def test_embed_shapes_batches_and_matches_features(trained):
    cnn, _ = trained
    x, _ = dg.load_digits_data()
    f = dg.embed(cnn.model, x[:50])
    assert f.shape == (50, dg.FEATURE_DIM) and f.dtype == np.float64 and f.min() >= 0
    np.testing.assert_allclose(f, dg.embed(cnn.model, torch.from_numpy(x[:50]), batch_size=8),
                               rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(f, cnn.model.features(torch.from_numpy(x[:50])).double())
    assert dg.embed(cnn.model, np.zeros((0, 1, 8, 8))).shape == (0, dg.FEATURE_DIM)
    assert dg.predict(cnn.model, np.zeros((0, 1, 8, 8))).shape == (0,)


def test_image_validation():
    cnn = dg.DigitsCNN()
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        dg.embed(cnn, np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        dg.embed(cnn, np.zeros((3, 1, 28, 28)))
    bad = np.zeros((2, 1, 8, 8))
    bad[1, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dg.embed(cnn, bad)


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("kwargs,error", [
    ({"epochs": 0}, ValueError), ({"epochs": -2}, ValueError), ({"epochs": 1.5}, TypeError),
    ({"epochs": True}, TypeError), ({"epochs": 1, "seed": -1}, ValueError),
    ({"epochs": 1, "lr": 0.0}, ValueError), ({"epochs": 1, "batch_size": 0}, ValueError),
])
def test_train_classifier_validates_arguments(kwargs, error, cache):
    with pytest.raises(error):
        dg.train_classifier(**kwargs)


@pytest.mark.parametrize("kwargs,error", [
    ({"steps": 0}, ValueError), ({"steps": 2.0}, TypeError),
    ({"steps": 1, "batch_size": 5000}, ValueError), ({"steps": 1, "lr": float("nan")}, ValueError),
])
def test_train_gan_validates_arguments(kwargs, error, cache):
    with pytest.raises(error):
        dg.train_gan(**kwargs)


def test_cache_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv(dg.CACHE_ENV, raising=False)
    assert dg.cache_dir() == dg.Path.home() / ".cache" / "gantheory"
    monkeypatch.setenv(dg.CACHE_ENV, str(tmp_path))
    assert dg.cache_dir() == tmp_path


def test_constructor_validation():
    with pytest.raises(ValueError):
        dg.ConditionalGenerator(latent_dim=0)
    with pytest.raises(TypeError):
        dg.ConditionalDiscriminator(hidden=2.5)
    with pytest.raises(ValueError):
        dg.gan_class_accuracy(dg.DigitsCNN(), dg.ConditionalGenerator(), n_per_class=0)
