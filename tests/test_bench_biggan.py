"""The BigGAN throughput benchmark runs end to end at tiny sizes and writes its JSON."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_biggan_throughput.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("bench_biggan_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_both_configs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANTHEORY_OFFLINE", "1")  # never try the network for weights
    out = tmp_path / "bench.json"
    bench = _load_script()
    rc = bench.main(["--quick", "--network", "resnet18", "--device", "cpu",
                     "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "naive" in printed and "optimized" in printed and "GFLOP" in printed
    result = json.loads(out.read_text())
    assert result["generator_weights"] == "random" and result["extractor_weights"] == "random"
    assert result["extractor"] == "resnet18" and result["regime"] == "quick"
    assert result["flops_per_image"] > 0 and math.isfinite(result["flops_per_image"])
    assert result["generator_flops_per_image"] > result["extractor_flops_per_image"] > 0
    configs = {c["config"]: c for c in result["configs"]}
    assert set(configs) == {"naive", "optimized"}
    for c in configs.values():
        assert c["images"] >= 4 and c["images"] % c["batch"] == 0
        assert math.isfinite(c["images_per_s"]) and c["images_per_s"] > 0
        assert c["seconds"] > 0 and c["tflops"] > 0
        assert c["peak_fraction"] is None  # no bf16 peak on a CPU
    assert configs["naive"]["speedup"] == 1.0
    assert configs["optimized"]["channels_last"] and not configs["naive"]["channels_last"]


def test_peak_table_matches_device_names():
    bench = _load_script()
    assert bench.peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989
    assert bench.peak_bf16_tflops("NVIDIA H100 PCIe") == 756
    assert bench.peak_bf16_tflops("NVIDIA H200") == 989
    assert bench.peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert bench.peak_bf16_tflops("NVIDIA L4") == 121
    assert bench.peak_bf16_tflops("NVIDIA L40S") is None
    assert bench.peak_bf16_tflops("Tesla T4") is None
