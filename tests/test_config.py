"""Tests of gantheory.config (the quick switch, sizes, seeds)."""

import numpy as np
import pytest
import torch

from gantheory import config


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("ON", True),
                                            ("0", False), ("", False), ("no", False)])
def test_quick_mode_values(monkeypatch, value, expected):
    monkeypatch.setenv(config.QUICK_ENV, value)
    assert config.quick_mode() is expected


def test_quick_mode_rejects_typos(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "yess")
    with pytest.raises(ValueError, match="GANTHEORY_QUICK"):
        config.quick_mode()


def test_pick_follows_mode(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")
    assert config.run_mode() == "quick"
    assert config.pick(quick=1, cpu=2, gpu=3) == 1
    assert "quick" in config.describe()
    monkeypatch.setenv(config.QUICK_ENV, "0")
    expected = config.device_kind()
    assert config.run_mode() == expected
    assert config.pick(quick=1, cpu=2, gpu=3) == (3 if expected == "gpu" else 2)
    assert config.pick(quick=1, cpu=2) == 2  # no GPU size given: CPU size
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.pick(quick=1, cpu=2, gpu=3) == 3
    assert "GPU" in config.describe()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "full CPU" in config.describe()


def test_derive_seed_is_stable_and_separates_streams():
    a = config.derive_seed(5, "samples", 10)
    assert a == config.derive_seed(5, "samples", 10)
    assert len({a, config.derive_seed(5, "observables", 10), config.derive_seed(5, "samples", 11),
                config.derive_seed(6, "samples", 10)}) == 4
    x = np.random.default_rng(config.derive_seed(1, "x")).standard_normal(1000)
    y = np.random.default_rng(config.derive_seed(1, "y")).standard_normal(1000)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.15  # independent streams
    for bad in ((-1,), (1, -2), (1, 2.5), (True,)):
        with pytest.raises(ValueError):
            config.derive_seed(*bad)


def test_seed_everything_is_reproducible():
    a = config.seed_everything(3)
    t1, n1 = torch.rand(3), np.random.rand(2)  # noqa: NPY002 - the legacy RNG is what is seeded
    b = config.seed_everything(3)
    assert torch.equal(t1, torch.rand(3))
    assert np.array_equal(n1, np.random.rand(2))  # noqa: NPY002
    assert a.random() == b.random()
    for bad in (-1, 1.5, "3"):
        with pytest.raises(ValueError):
            config.seed_everything(bad)


def test_torch_seeded_is_reproducible_and_restores_the_generator():
    state = torch.random.get_rng_state()
    with config.torch_seeded(4):
        a = torch.rand(3)
    assert torch.equal(state, torch.random.get_rng_state())
    with config.torch_seeded(4):
        assert torch.equal(a, torch.rand(3))


def test_progress_bar_follows_the_environment_and_the_switch(monkeypatch):
    from gantheory import config

    monkeypatch.setenv(config.PROGRESS_ENV, "0")
    assert config.progress_bar(range(3), desc="x").disable
    assert list(config.progress_bar(range(3), desc="x")) == [0, 1, 2]
    monkeypatch.setenv(config.PROGRESS_ENV, "1")
    bar = config.progress_bar(range(3), desc="x")
    assert not bar.disable
    bar.close()
    assert config.progress_bar(range(3), desc="x", show=False).disable
    monkeypatch.setenv(config.PROGRESS_ENV, "")
    bar = config.progress_bar(total=2, desc="x")  # not a terminal under pytest: hidden
    assert bar.disable
    monkeypatch.setenv(config.PROGRESS_ENV, "sometimes")
    with pytest.raises(ValueError, match="GANTHEORY_PROGRESS"):
        config.progress_bar(range(3), desc="x")
    monkeypatch.setenv(config.PROGRESS_ENV, "0")
    with pytest.raises(TypeError, match="show"):
        config.progress_bar(range(3), desc="x", show="yes")


def test_progress_bar_in_a_notebook_kernel_uses_the_widget(monkeypatch):
    from gantheory import config

    monkeypatch.delenv(config.PROGRESS_ENV, raising=False)
    monkeypatch.setattr(config, "_in_notebook_kernel", lambda: True)
    bar = config.progress_bar(range(2), desc="x")
    try:
        assert type(bar).__module__ in ("tqdm.notebook", "tqdm.std")
    finally:
        bar.close()
