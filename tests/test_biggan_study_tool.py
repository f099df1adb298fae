"""The command-line run of the BigGAN chapter's study (tools/biggan_study.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gantheory import config, gandata

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    path = ROOT / "tools" / "biggan_study.py"
    spec = importlib.util.spec_from_file_location("biggan_study", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_writes_a_small_artifact_with_provenance(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTHEORY_OFFLINE", "1")
    tiny = dict(networks=("resnet18",), n_per_class=8, n_moments_per_class=10, batch_size=8,
                n_boot=3, n_seeds=1, project=4)
    monkeypatch.setitem(gandata.STUDY_CONFIGS, "quick", tiny)
    path = _tool().main(["--mode", "quick", "--out", str(tmp_path / "study")])
    assert path.exists() and path.stat().st_size < 200_000
    summary = json.loads(path.with_suffix(".json").read_text())
    prov = summary["resnet18"]["provenance"]
    assert set(gandata.PROVENANCE_KEYS) <= set(prov)
    assert prov["mode"] == "quick" and prov["generator_weights"] == "random"
    assert prov["n_per_class"] == 8 and prov["projected_to"] == 4 and prov["wall_seconds"] > 0
    study = gandata.load_study(path)["resnet18"]
    assert study.comparison.eig_data.shape == (24,)
    assert "excess" in capsys.readouterr().out


@pytest.mark.skipif(config.device_kind() == "gpu", reason="the refusal is for CPU machines")
def test_tool_refuses_the_gpu_mode_without_a_gpu(tmp_path):
    with pytest.raises(SystemExit):
        _tool().main(["--mode", "gpu", "--out", str(tmp_path / "x")])
