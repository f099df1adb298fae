"""Tests of gantheory.gandata (streaming moments)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from gantheory import gandata, rmt
from gantheory.gandata import RunningMoments


@settings(max_examples=30, deadline=None)
@given(sizes=hst.lists(hst.integers(0, 40), min_size=1, max_size=6), dim=hst.integers(1, 6),
       seed=hst.integers(0, 10_000), offset=hst.sampled_from([0.0, 1e4]))
def test_equals_numpy_whatever_the_batches(sizes, dim, seed, offset):
    rng = np.random.default_rng(seed)
    batches = [offset + rng.standard_normal((s, dim)) for s in sizes]
    data = np.concatenate(batches)
    rm = RunningMoments(dim)
    for b in batches:
        rm.update(b)
    assert rm.count == data.shape[0]
    if data.shape[0] >= 1:
        np.testing.assert_allclose(rm.mean, data.mean(axis=0), rtol=1e-12, atol=1e-9)
    if data.shape[0] >= 2:
        expected = np.cov(data, rowvar=False).reshape(dim, dim)
        np.testing.assert_allclose(rm.covariance, expected, rtol=1e-9, atol=1e-8)


def test_merge_equals_single_stream_and_accepts_tensors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((70, 3)) + 2.0
    left = RunningMoments(3).update(torch.as_tensor(a, dtype=torch.float32))
    right = RunningMoments(3).update(b)
    whole = RunningMoments(3).update(np.concatenate([a.astype(np.float32), b]))
    left.merge(right)
    np.testing.assert_allclose(left.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(left.covariance, whole.covariance, rtol=1e-10)
    empty = RunningMoments(3)
    empty.merge(left)
    np.testing.assert_allclose(empty.covariance, whole.covariance, rtol=1e-12)
    left.merge(RunningMoments(3))  # merging nothing changes nothing
    assert left.count == 120


def test_validation():
    with pytest.raises(ValueError):
        RunningMoments(0)
    rm = RunningMoments(2)
    with pytest.raises(ValueError, match="no data"):
        _ = rm.mean
    with pytest.raises(ValueError, match="shape"):
        rm.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        rm.update(np.array([[np.nan, 0.0]]))
    rm.update(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        _ = rm.covariance
    with pytest.raises(ValueError, match="same dimension"):
        rm.merge(RunningMoments(3))


# ----------------------------------------------------------------------------- BigGAN


@pytest.fixture(scope="module")
def random_biggan():
    return gandata.load_biggan(128, "random", seed=0)


def _images(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(2, 128, generator=g)
    y = torch.nn.functional.one_hot(torch.tensor([947, 933]), 1000).float()
    with torch.inference_mode():
        return model(z, y, 0.4)


def test_random_biggan_gives_finite_images_in_range(random_biggan):
    img = _images(random_biggan.model)
    assert img.shape == (2, 3, 128, 128)
    assert torch.isfinite(img).all() and img.abs().max() <= 1.0
    assert img.std() > 0.05  # not a constant image
    assert random_biggan.weights == "random" and "seed 0" in random_biggan.source
    assert random_biggan.notice is None and not random_biggan.model.training


def test_random_biggan_is_seeded(random_biggan):
    again = gandata.load_biggan(128, "random", seed=0)
    assert torch.equal(_images(again.model), _images(random_biggan.model))
    state = torch.random.get_rng_state()
    other = gandata.load_biggan(128, "random", seed=1)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert not torch.equal(_images(other.model), _images(random_biggan.model))


def test_pretrained_path_round_trips_through_a_local_folder(random_biggan, tmp_path):
    model = random_biggan.model
    torch.save(model.state_dict(), tmp_path / gandata.WEIGHTS_FILE)
    (tmp_path / gandata.CONFIG_FILE).write_text(model.config.to_json_string())
    loaded = gandata.load_biggan(128, "pretrained", weights_dir=tmp_path, allow_download=False)
    assert loaded.weights == "pretrained" and loaded.source == str(tmp_path)
    assert torch.equal(_images(loaded.model), _images(model))


def test_weights_from_the_environment_folder(random_biggan, tmp_path, monkeypatch):
    folder = tmp_path / "biggan-deep-128"
    folder.mkdir()
    state = random_biggan.model.state_dict()
    state.pop(next(iter(state)))  # a missing key must not pass silently
    torch.save(state, folder / gandata.WEIGHTS_FILE)
    (folder / gandata.CONFIG_FILE).write_text(random_biggan.model.config.to_json_string())
    monkeypatch.setenv(gandata.WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(gandata.WeightsUnavailable, match="does not hold"):
        gandata.load_biggan(128, "pretrained", allow_download=False)


def test_missing_weights_give_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    monkeypatch.delenv(gandata.WEIGHTS_ENV, raising=False)
    with pytest.raises(gandata.WeightsUnavailable) as err:
        gandata.load_biggan(128, "pretrained", weights_dir=tmp_path / "nowhere")
    message = str(err.value)
    assert "nowhere" in message and "download (skipped" in message and "weights_dir" in message


def test_auto_falls_back_to_random_with_a_notice(tmp_path, monkeypatch):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    with pytest.warns(RuntimeWarning, match="seeded random weights"):
        loaded = gandata.load_biggan(128, "auto", seed=3, weights_dir=tmp_path)
    assert loaded.weights == "random" and "pretrained weights unavailable" in loaded.notice


def test_biggan_arguments_validated():
    with pytest.raises(ValueError, match="resolution"):
        gandata.load_biggan(64, "random")
    with pytest.raises(ValueError, match="weights"):
        gandata.load_biggan(128, "imagenet")
    assert len(gandata._biggan_config(256).layers) == 12
    assert len(gandata._biggan_config(512).layers) == 14
    assert gandata._biggan_config(128).layers == [list(b) for b in gandata._LAYERS[128]]


# ----------------------------------------------------------------------------- feature networks


@pytest.fixture(scope="module")
def resnet18():
    return gandata.load_feature_extractor("resnet18", "random", seed=0)


def test_feature_extractor_random_is_seeded_and_shaped(resnet18):
    assert resnet18.feature_dim == 512 and resnet18.weights == "random"
    assert resnet18.input_size == (3, 224, 224) and not resnet18.model.training
    x = torch.rand(2, 3, 224, 224)
    again = gandata.load_feature_extractor("resnet18", "random", seed=0)
    with torch.inference_mode():
        assert torch.equal(resnet18.model(x), again.model(x))


@pytest.mark.parametrize("name,dim", [("vgg16", 4096), ("densenet201", 1920),
                                      ("resnet50", 2048)])
def test_feature_dimensions_of_the_papers_networks(name, dim):
    assert gandata.load_feature_extractor(name, "random").feature_dim == dim


def test_feature_extractor_local_weights_round_trip(resnet18, tmp_path):
    path = tmp_path / "resnet18.pth"
    state = dict(resnet18.model.state_dict())
    state["fc.weight"] = torch.zeros(1000, 512)  # a classifier in the file is ignored
    torch.save(state, path)
    loaded = gandata.load_feature_extractor("resnet18", "pretrained", seed=5, weights_file=path,
                                            allow_download=False)
    assert loaded.weights == "pretrained" and loaded.source == str(path)
    x = torch.rand(1, 3, 224, 224)
    with torch.inference_mode():
        assert torch.equal(loaded.model(x), resnet18.model(x))
    state.pop("conv1.weight")
    torch.save(state, path)
    with pytest.raises(gandata.WeightsUnavailable, match="does not hold"):
        gandata.load_feature_extractor("resnet18", "pretrained", weights_file=path,
                                       allow_download=False)


def test_feature_extractor_offline_messages(tmp_path, monkeypatch):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    monkeypatch.setenv(gandata.WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(gandata.WeightsUnavailable, match="resnet18.safetensors"):
        gandata.load_feature_extractor("resnet18", "pretrained")
    with pytest.warns(RuntimeWarning, match="seeded random weights"):
        auto = gandata.load_feature_extractor("resnet18", "auto")
    assert auto.weights == "random" and auto.notice
    with pytest.raises(ValueError, match="unknown timm model"):
        gandata.load_feature_extractor("not-a-network", "random")
    with pytest.raises(ValueError, match="weights"):
        gandata.load_feature_extractor("resnet18", "imagenet")


def test_prepare_images(resnet18):
    img = torch.full((2, 3, 128, 128), 1.0)  # white in [-1, 1]
    out = gandata.prepare_images(img, resnet18)
    assert out.shape == (2, 3, 224, 224)
    expected = (1 - torch.tensor(resnet18.mean)) / torch.tensor(resnet18.std)
    torch.testing.assert_close(out[0, :, 100, 100], expected)
    with pytest.raises(ValueError):
        gandata.prepare_images(torch.zeros(2, 1, 8, 8), resnet18)


# ----------------------------------------------------------------------------- pipeline


def test_stream_features_save_and_load(random_biggan, resnet18, tmp_path):
    out = gandata.stream_features(random_biggan, resnet18, [947, 963], 3,
                                  n_moments_per_class=4, truncation=0.4, seed=1, batch_size=2,
                                  progress=False, bf16=False)
    assert out.features.shape == (6, 512) and out.labels.tolist() == [947] * 3 + [963] * 3
    assert np.all(np.isfinite(out.features))
    assert out.means.shape == (2, 512) and out.covariances.shape == (2, 512, 512)
    assert out.counts.tolist() == [4, 4]
    prov = out.provenance
    assert set(gandata.PROVENANCE_KEYS) <= set(prov)
    assert prov["generator_weights"] == "random" and prov["extractor"] == "resnet18"
    assert prov["device"] == "cpu" and prov["versions"]["torch"]
    again = gandata.stream_features(random_biggan, resnet18, [947, 963], 3, seed=1,
                                    batch_size=3, progress=False, bf16=False)
    np.testing.assert_allclose(again.features, out.features, rtol=1e-4, atol=1e-5)  # seeded
    path = gandata.save_features(out, tmp_path / "biggan_resnet18")
    back = gandata.load_features(path)
    np.testing.assert_array_equal(back.features, out.features)
    assert back.provenance == json.loads(path.with_suffix(".json").read_text())
    assert back.provenance["classes"] == [947, 963]
    out.provenance.pop("seed")
    with pytest.raises(ValueError, match="incomplete"):
        gandata.save_features(out, tmp_path / "bad")


def test_stream_features_in_bf16_is_float32_up_to_bf16_rounding(random_biggan, resnet18):
    kw = dict(n_moments_per_class=4, seed=1, batch_size=3, progress=False)
    f32 = gandata.stream_features(random_biggan, resnet18, [947], 3, bf16=False, **kw)
    b16 = gandata.stream_features(random_biggan, resnet18, [947], 3, bf16=True, **kw)
    assert f32.provenance["precision"] == "float32, channels-last"
    assert b16.provenance["precision"] == "bf16 autocast, channels-last"
    assert b16.features.dtype == np.float32 and b16.covariances.dtype == np.float64
    err = np.linalg.norm(b16.features - f32.features) / np.linalg.norm(f32.features)
    assert 0 < err < 0.05  # bf16 keeps 8 bits: a relative error of a few 1e-3 per layer
    assert isinstance(gandata.cpu_has_bf16(), bool)


def test_optimized_generator_computes_the_same_function(random_biggan):
    model = random_biggan.model
    fast = gandata.optimize_generator(model)
    assert fast.generator.conv_to_rgb.out_channels == 3
    assert model.generator.conv_to_rgb.out_channels > 3  # a copy: the model is unchanged
    assert not any(hasattr(m, "weight_orig") for m in fast.modules())
    z = torch.randn(3, 128, generator=torch.Generator().manual_seed(0)) * 0.4
    y = torch.nn.functional.one_hot(torch.tensor([1, 947, 933]), 1000).float()
    with torch.no_grad():
        for truncation in (0.4, 0.43, 1.0):  # 0.43 interpolates the stored statistics
            torch.testing.assert_close(fast(z, y, truncation), model(z, y, truncation),
                                       rtol=1e-4, atol=1e-4)
        channels_last = fast.to(memory_format=torch.channels_last)
        torch.testing.assert_close(channels_last(z, y, 0.4), model(z, y, 0.4),
                                   rtol=1e-4, atol=1e-4)


def test_stream_features_validation(random_biggan, resnet18):
    with pytest.raises(ValueError, match="ImageNet ids"):
        gandata.stream_features(random_biggan, resnet18, [1000], 1)
    with pytest.raises(ValueError, match="truncation"):
        gandata.stream_features(random_biggan, resnet18, [1], 1, truncation=1.5)
    with pytest.raises(ValueError):
        gandata.stream_features(random_biggan, resnet18, [1], 0)


def test_stream_features_several_networks_share_the_images(random_biggan, resnet18):
    other = gandata.load_feature_extractor("resnet18", "random", seed=5)
    other.name = "resnet18-seed5"
    both = gandata.stream_features(random_biggan, [resnet18, other], [947, 963], 3,
                                   n_moments_per_class=4, seed=1, batch_size=2, progress=False,
                                   bf16=False)
    assert set(both) == {"resnet18", "resnet18-seed5"}
    alone = gandata.stream_features(random_biggan, resnet18, [947, 963], 3,
                                    n_moments_per_class=4, seed=1, batch_size=4, progress=False,
                                    bf16=False)
    np.testing.assert_allclose(both["resnet18"].features, alone.features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(both["resnet18"].means, alone.means, rtol=1e-4, atol=1e-5)
    assert not np.allclose(both["resnet18-seed5"].features, alone.features)
    assert both["resnet18-seed5"].provenance["extractor_source"].endswith("(seed 5)")
    with pytest.raises(TypeError):
        gandata.stream_features(random_biggan, [], [1], 1)
    with pytest.raises(ValueError, match="distinct"):
        gandata.stream_features(random_biggan, [resnet18, resnet18], [1], 1)


def test_gan_features_surrogate_has_the_streamed_moments():
    rng = np.random.default_rng(0)
    means = rng.standard_normal((2, 3))
    covs = np.stack([np.eye(3) * 4.0, np.diag([1.0, 9.0, 4.0])])
    feats = gandata.GanFeatures(
        features=rng.standard_normal((5, 3)), labels=np.array([7, 7, 7, 2, 2]), means=means,
        covariances=covs, counts=np.array([10, 30]), provenance={"classes": [7, 2]})
    scale = feats.scale
    assert scale == pytest.approx(np.sqrt((10 * 4 + 30 * 14 / 3) / 40))
    sur = feats.surrogate(scale)
    assert sur.classes.tolist() == [7, 2]
    np.testing.assert_allclose(sur.proportions, [0.6, 0.4])
    np.testing.assert_allclose(sur.covariances * scale**2, covs)
    np.testing.assert_allclose(sur.means * scale, means)
    with pytest.raises(ValueError, match="positive"):
        feats.surrogate(0.0)
    empty = gandata.GanFeatures(feats.features, feats.labels, np.zeros((0, 3)),
                                np.zeros((0, 3, 3)), np.zeros(0, dtype=int), {"classes": [7, 2]})
    with pytest.raises(ValueError, match="no moments"):
        empty.surrogate()
    with pytest.raises(ValueError, match="no moments"):
        _ = empty.scale


def test_folded_spectral_norms_compute_the_same_function(random_biggan):
    folded = gandata.fold_spectral_norms(random_biggan.model)
    assert not any(hasattr(m, "weight_orig") for m in folded.modules())
    assert any(hasattr(m, "weight_orig") for m in random_biggan.model.modules())  # a copy
    z = torch.randn(2, 128, generator=torch.Generator().manual_seed(0))
    y = torch.nn.functional.one_hot(torch.tensor([1, 947]), 1000).float()
    with torch.no_grad():
        torch.testing.assert_close(folded(z, y, 0.5), random_biggan.model(z, y, 0.5),
                                   rtol=1e-5, atol=1e-6)


def test_unreachable_hub_fails_fast_with_a_message(monkeypatch):
    monkeypatch.setattr(gandata, "_reachable", lambda host: False)
    with pytest.raises(gandata.WeightsUnavailable, match="unreachable"):
        gandata.load_feature_extractor("resnet18", "pretrained", allow_download=True)
    with pytest.raises(gandata.WeightsUnavailable, match="unreachable"):
        gandata.load_biggan(128, "pretrained", allow_download=True)


def _synthetic_features(p=40, n_per_class=30, count=120, seed=0):
    """GanFeatures of a known 3-class Gaussian mixture (moments estimated from count draws)."""
    rng = np.random.default_rng(seed)
    classes = [947, 963, 933]
    means = 3.0 + rng.standard_normal((3, p))  # a large common mean, like ReLU features
    xs, moments = [], []
    for k in range(3):
        xs.append(means[k] + rng.standard_normal((n_per_class, p)))
        moments.append(RunningMoments(p).update(means[k] + rng.standard_normal((count, p))))
    prov = {key: None for key in gandata.PROVENANCE_KEYS} | {"classes": classes,
                                                            "feature_dim": p}
    return gandata.GanFeatures(
        np.concatenate(xs).astype(np.float32), np.repeat(classes, n_per_class),
        np.stack([m.mean for m in moments]), np.stack([m.covariance for m in moments]),
        np.array([m.count for m in moments]), prov)


def test_gram_study_centres_projects_and_round_trips(tmp_path):
    feats = _synthetic_features()
    study = gandata.gram_study(feats, n_boot=6, n_seeds=2, project=16, seed=3)
    c = study.comparison
    assert c.eig_data.shape == (90,) and c.vec_data.shape == (90, 2)
    # centred: no giant common-mean eigenvalue left (uncentred it is about p * 9 / scale^2)
    uncentred = np.linalg.eigvalsh(rmt.gram(feats.features / feats.scale))[-1]
    assert c.eig_data[-1] < 0.2 * uncentred
    assert study.provenance["projected_to"] == 16 and study.provenance["centred"]
    assert max(c.excess().values()) < 4  # a Gaussian mixture passes its own test
    assert {r["method"] for r in study.accuracies} == {"logistic regression",
                                                      "spectral clustering"}
    path = gandata.save_study({"net": study}, tmp_path / "study")
    assert path.stat().st_size < 100_000
    back = gandata.load_study(path)["net"]
    np.testing.assert_allclose(back.comparison.eig_data, c.eig_data, rtol=1e-6)
    assert back.comparison.observed == c.observed and back.accuracies == study.accuracies
    assert back.comparison.excess() == pytest.approx(c.excess())
    with pytest.raises(ValueError, match="project"):
        gandata.gram_study(feats, project=40)
    incomplete = gandata.GramStudy(c, [], {"classes": [1]})
    with pytest.raises(ValueError, match="provenance"):
        gandata.save_study({"net": incomplete}, tmp_path / "bad")


def test_study_configs():
    assert gandata.study_config("gpu")["n_per_class"] * 3 == 1500  # the paper's n
    assert set(gandata.study_config("gpu")["networks"]) == set(gandata.FEATURE_NETWORKS)
    for mode in ("cpu", "quick"):
        cfg = gandata.study_config(mode)
        assert cfg["project"] < cfg["n_moments_per_class"]  # moments from more draws than q
    with pytest.raises(ValueError, match="mode"):
        gandata.study_config("tpu")


# --------------------------------------------------------------------------- checks (claims)


def test_torch_observables_equal_the_numpy_ones():
    from gantheory import concentration as conc

    x = np.random.default_rng(0).standard_normal((50, 12))
    ref = conc.lipschitz_observables(12, seed=5)
    got = gandata.torch_lipschitz_observables(12, seed=5)
    assert list(ref) == list(got)
    for name in ref:
        np.testing.assert_allclose(got[name](torch.as_tensor(x)).numpy(), ref[name](x),
                                   rtol=1e-12, atol=1e-12)


def test_observable_gradients_of_a_linear_map():
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 7).double()
    obs = gandata.torch_lipschitz_observables(7, seed=1)
    z = np.random.default_rng(2).standard_normal((30, 5))
    values, grad_sq = gandata.observable_gradients(net.float(), z, obs, batch_size=8)
    assert values.shape == grad_sq.shape == (4, 30)
    w = net.weight.detach().double().numpy()
    u = obs["projection"](torch.eye(7, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(grad_sq[1], np.full(30, np.sum((w.T @ u) ** 2)), rtol=1e-5)
    with pytest.raises(ValueError):
        gandata.observable_gradients(net, z[:1], obs)
    with pytest.raises(ValueError):
        gandata.observable_gradients(net, z, {})


def test_poincare_check_equality_case_and_validation():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4000, 3))
    w = np.array([1.0, -2.0, 0.5])
    values, grad_sq = z @ w, np.full(4000, w @ w)  # linear: equality in Poincaré
    out = gandata.poincare_check(values, grad_sq)
    assert out["relation"] == "<=" and abs(out["measured"]) < 4
    assert out["tolerance"] == pytest.approx(st_norm_ppf(0.99))
    worse = gandata.poincare_check(2 * values, grad_sq)
    assert worse["measured"] > 20
    with pytest.raises(ValueError):
        gandata.poincare_check(values, grad_sq[:10])
    with pytest.raises(ValueError):
        gandata.poincare_check(values, -grad_sq)


def st_norm_ppf(q):
    import scipy.stats as st

    return st.norm.ppf(q)


def test_resampled_surrogate_has_the_right_expectations():
    rng = np.random.default_rng(0)
    p = 4
    cov = np.diag([1.0, 2.0, 0.5, 0.0])  # rank-deficient, as features with dead units
    sur = rmt.GaussianMixtureSurrogate(np.array([0]), np.ones((1, p)), cov[None], np.ones(1),
                                       np.array([50]))
    draws = [gandata.resampled_surrogate(sur, rng) for _ in range(2000)]
    np.testing.assert_allclose(np.mean([d.covariances[0] for d in draws], axis=0), cov,
                               atol=0.05)  # E[sample covariance] = C
    np.testing.assert_allclose(np.var([d.means[0] for d in draws], axis=0),
                               np.diag(cov) / 50, rtol=0.15, atol=1e-12)
    small = rmt.GaussianMixtureSurrogate(np.array([0]), np.ones((1, p)), cov[None], np.ones(1),
                                         np.array([3]))
    with pytest.raises(ValueError):
        gandata.resampled_surrogate(small, rng)


def test_spike_statistics_match_the_gram_matrix():
    rng = np.random.default_rng(1)
    xa, xb = rng.standard_normal((40, 10)) + 2, rng.standard_normal((40, 10))
    xa[:20] += 3
    ya = yb = np.repeat([0, 1], 20)
    got = gandata.spike_statistics(xa, ya, xb, yb, 2)
    ea, va = rmt.top_eigenvectors(rmt.gram(xa), 2)
    eb, vb = rmt.top_eigenvectors(rmt.gram(xb), 2)
    assert got["top_eigenvalue_gap"] == pytest.approx(np.max(np.abs(ea / eb - 1)), rel=1e-9)
    assert got["alignment_gap"] == pytest.approx(np.max(np.abs(
        rmt.indicator_alignment(va, ya) - rmt.indicator_alignment(vb, yb))), abs=1e-9)
    null = gandata.spike_null(rmt.gaussian_mixture_surrogate(xb, yb), [20, 20], n_boot=3, seed=0)
    assert set(null) == set(got) and all(v.shape == (3,) for v in null.values())


def test_null_excess_check():
    null = np.array([1.0, 2.0, 3.0, 2.0])
    out = gandata.null_excess_check([(2.0 + 2 * np.std(null, ddof=1), null), (0.0, null)])
    assert out["measured"] == pytest.approx(2.0)
    import scipy.stats as st

    assert out["tolerance"] == pytest.approx(st.t.ppf(1 - 0.01 / 2, 3) * np.sqrt(1.25))
    with pytest.raises(ValueError):
        gandata.null_excess_check([])
    with pytest.raises(ValueError):
        gandata.null_excess_check([(1.0, [1.0, 2.0])])


def test_one_run_gap_check_and_welch():
    a, b = np.array([0.9, 1.0, 0.95]), np.array([0.9, 0.92, 0.88])
    out = gandata.one_run_gap_check([(a, b)])
    assert out["measured"] == pytest.approx((a.mean() - b.mean())
                                            / np.sqrt(a.var(ddof=1) + b.var(ddof=1)))
    assert gandata.one_run_gap_check([(np.ones(3), np.ones(3))])["measured"] == 0
    assert gandata.one_run_gap_check([(np.ones(3), np.zeros(3))])["measured"] == np.inf
    import scipy.stats as st

    ref = st.ttest_ind(a, b, equal_var=False)
    assert gandata.welch_test(a, b) == pytest.approx((ref.statistic, ref.pvalue))
    assert gandata.welch_test(np.ones(3), np.ones(4)) == (0.0, 1.0)
    with pytest.raises(ValueError):
        gandata.one_run_gap_check([(a[:1], b)])


def test_sample_ks_check_matches_scipy():
    import scipy.stats as st

    u = np.random.default_rng(0).standard_normal(500)
    out = gandata.sample_ks_check(u, st.norm.cdf, level=0.01)
    assert out["measured"] == pytest.approx(st.ks_1samp(u, st.norm.cdf).statistic)
    assert out["tolerance"] == pytest.approx(st.kstwo.ppf(0.99, 500))
    with pytest.raises(ValueError):
        gandata.sample_ks_check(u[:1], st.norm.cdf)


# ----------------------------------------------------------------------------- the pretrained path

# The published BigGAN-deep layer lists [upsample, in, out] (../shared/notes/pretrained-weights.md:
# the presets of pytorch-pretrained-biggan's convert_tf_to_pytorch.py; 128 and 256 matched byte
# for byte against published copies, 512 = the 256 list plus two blocks, not confirmed).
F, T = False, True
PUBLISHED_LAYERS = {
    128: [[F, 16, 16], [T, 16, 16], [F, 16, 16], [T, 16, 8], [F, 8, 8], [T, 8, 4], [F, 4, 4],
          [T, 4, 2], [F, 2, 2], [T, 2, 1]],
    256: [[F, 16, 16], [T, 16, 16], [F, 16, 16], [T, 16, 8], [F, 8, 8], [T, 8, 8], [F, 8, 8],
          [T, 8, 4], [F, 4, 4], [T, 4, 2], [F, 2, 2], [T, 2, 1]],
}
PUBLISHED_LAYERS[512] = PUBLISHED_LAYERS[256] + [[F, 1, 1], [T, 1, 1]]


@pytest.mark.parametrize("resolution", [128, 256, 512])
def test_random_biggan_architecture_is_the_published_configuration(resolution):
    config = gandata._biggan_config(resolution)
    assert config.layers == PUBLISHED_LAYERS[resolution]
    assert config.output_dim == resolution
    shared = dict(attention_layer_position=8, channel_width=128, class_embed_dim=128, eps=1e-4,
                  n_stats=51, num_classes=1000, z_dim=128)
    assert {k: getattr(config, k) for k in shared} == shared


def _biggan_folder(tmp_path, random_biggan, weights: bytes | None = None,
                   config: str | None = None):
    folder = tmp_path / "biggan-deep-128"
    folder.mkdir(exist_ok=True)
    if weights is None:
        torch.save(random_biggan.model.state_dict(), folder / gandata.WEIGHTS_FILE)
    else:
        (folder / gandata.WEIGHTS_FILE).write_bytes(weights)
    (folder / gandata.CONFIG_FILE).write_text(
        config if config is not None else random_biggan.model.config.to_json_string())
    return folder


@pytest.mark.parametrize("kind", ["fake", "truncated", "json", "not-a-dict"])
def test_unreadable_biggan_checkpoint_is_a_clear_error_or_the_fallback(
        random_biggan, tmp_path, monkeypatch, kind):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    monkeypatch.delenv(gandata.WEIGHTS_ENV, raising=False)
    if kind == "truncated":
        good = tmp_path / "good.bin"
        torch.save(random_biggan.model.state_dict(), good)
        data = good.read_bytes()[:4096]
    elif kind == "json":
        data = b'{"not": "a checkpoint"}'
    elif kind == "not-a-dict":
        buf = tmp_path / "list.bin"
        torch.save([torch.zeros(2)], buf)
        data = buf.read_bytes()
    else:
        data = b"this is not a torch checkpoint\n" * 10
    folder = _biggan_folder(tmp_path, random_biggan, weights=data)
    with pytest.raises(gandata.WeightsUnavailable) as err:
        gandata.load_biggan(128, "pretrained", weights_dir=folder)
    assert str(folder / gandata.WEIGHTS_FILE) in str(err.value)
    with pytest.warns(RuntimeWarning, match="seeded random weights"):
        auto = gandata.load_biggan(128, "auto", weights_dir=folder)
    assert auto.weights == "random" and gandata.WEIGHTS_FILE in auto.notice


def test_unreadable_biggan_config_names_the_file(random_biggan, tmp_path, monkeypatch):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    folder = _biggan_folder(tmp_path, random_biggan, config="{ not json")
    with pytest.raises(gandata.WeightsUnavailable, match="config.json is not a BigGAN"):
        gandata.load_biggan(128, "pretrained", weights_dir=folder)


def test_a_bad_folder_does_not_hide_a_good_one(random_biggan, tmp_path, monkeypatch):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bad = _biggan_folder(tmp_path / "a", random_biggan, weights=b"junk")
    _biggan_folder(tmp_path / "b", random_biggan)
    monkeypatch.setenv(gandata.WEIGHTS_ENV, str(tmp_path / "b"))
    loaded = gandata.load_biggan(128, "pretrained", weights_dir=bad)
    assert loaded.weights == "pretrained" and loaded.source.startswith(str(tmp_path / "b"))


def test_the_hub_mirror_is_the_second_download_source(monkeypatch, tmp_path):
    """Offline here: both sources are tried and reported (the downloads need a network)."""
    monkeypatch.delenv(gandata.OFFLINE_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv(gandata.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(gandata, "_reachable", lambda host, timeout=3.0: False)
    with pytest.raises(gandata.WeightsUnavailable) as err:
        gandata.load_biggan(128, "pretrained", weights_dir=tmp_path, allow_download=True)
    message = str(err.value)
    assert message.index(gandata.BIGGAN_HOST) < message.index("osanseviero/BigGAN-deep-128")
    with pytest.raises(gandata.WeightsUnavailable) as err:
        gandata.load_biggan(256, "pretrained", weights_dir=tmp_path, allow_download=True)
    assert "Hub mirror" not in str(err.value)  # no 256 mirror is known


def test_unreadable_feature_weights_name_the_file(resnet18, tmp_path, monkeypatch):
    monkeypatch.setenv(gandata.OFFLINE_ENV, "1")
    monkeypatch.delenv(gandata.WEIGHTS_ENV, raising=False)
    for suffix in (".pth", ".safetensors"):
        path = tmp_path / f"resnet18{suffix}"
        path.write_bytes(b"\x00\x01 fake weights")
        with pytest.raises(gandata.WeightsUnavailable, match="not a readable checkpoint"):
            gandata.load_feature_extractor("resnet18", "pretrained", weights_file=path)
        with pytest.warns(RuntimeWarning, match="seeded random weights"):
            auto = gandata.load_feature_extractor("resnet18", "auto", weights_file=path)
        assert auto.weights == "random" and str(path) in auto.notice


def test_covariance_profile_limits_and_lipschitz_bound():
    p = 8
    flat = gandata.covariance_profile(2.0 * np.eye(p))
    assert flat["spikiness"][0] == pytest.approx(1.0)
    assert flat["effective_rank"][0] == pytest.approx(p) and flat["rank"][0] == p
    u = np.ones(p) / np.sqrt(p)
    spiky = gandata.covariance_profile(np.stack([5.0 * np.outer(u, u),
                                                 np.diag([4.0, 1, 1, 1, 1, 1, 1, 1])]))
    assert spiky["spikiness"][0] == pytest.approx(p)
    assert spiky["effective_rank"][0] == pytest.approx(1)
    assert spiky["rank"][0] == 1 and spiky["top_fraction"][0] == pytest.approx(1.0)
    assert spiky["effective_rank"][1] == pytest.approx(11**2 / 23)
    # Poincare: x = A g with A L-Lipschitz (L = ||A||) has ||C|| <= L^2, in sample estimates too
    rng = np.random.default_rng(0)
    a = rng.standard_normal((p, 3))
    x = rng.standard_normal((20_000, 3)) @ a.T
    prof = gandata.covariance_profile(np.cov(x, rowvar=False))
    assert np.sqrt(prof["norm"][0]) <= np.linalg.norm(a, 2) * 1.02
    assert prof["rank"][0] == 3 and prof["effective_rank"][0] <= 3
    with pytest.raises(ValueError, match="positive semi-definite"):
        gandata.covariance_profile(-np.eye(3))
    with pytest.raises(ValueError, match="shape"):
        gandata.covariance_profile(np.ones(3))


def test_weights_summary_lists_each_model_once():
    prov = [dict(generator="biggan-deep-128", generator_weights="random", extractor="resnet18",
                 extractor_weights="pretrained"),
            dict(generator="biggan-deep-128", generator_weights="random", extractor="resnet50",
                 extractor_weights="random")]
    out = gandata.weights_summary(prov)
    assert out == {"pretrained": ["resnet18"], "random": ["biggan-deep-128", "resnet50"],
                   "all_pretrained": False}
    one = gandata.weights_summary([dict(prov[0], generator_weights="pretrained")])
    assert one["all_pretrained"]
    with pytest.raises(ValueError):
        gandata.weights_summary([])
