"""Benchmark: images per second of generate (BigGAN-deep) + embed (one feature network).

    python benchmarks/bench_biggan_throughput.py [--network resnet50] [--resolution 128]
        [--device cuda] [--compile] [--json results.json] [--quick]

Seeded truncated latents of random ImageNet classes go through the full pipeline of
``gantheory.gandata``: BigGAN -> ``prepare_images`` -> pooled features, in two configurations:

- ``naive``: float32, small batch (8), contiguous NCHW, ``torch.no_grad``, no compile;
- ``optimized``: BigGAN as chapter 4 runs it (``gandata.optimize_generator``: spectral norms
  folded into the weights, the last convolution cut to the 3 channels it keeps, one-pass batch
  norms; the same function up to rounding), channels-last for both networks,
  ``torch.inference_mode``; on CUDA also bf16 autocast and a large batch (256) (and
  ``torch.compile`` with ``--compile``); on a CPU float32 and batch 8 (chapter 4's
  ``gandata.stream_features`` also uses bf16 on CPUs with native bf16, resizing in float32;
  this benchmark does not).

Each configuration embeds the same ``--images`` images (2048 on a GPU, 32 on a CPU; rounded up
to whole batches) after ``--warmup`` untimed batches; clocks are read with
``time.perf_counter`` after ``torch.cuda.synchronize()``. The table gives images/s and the
speed-up over ``naive``; the FLOPs of one image (matmuls and convolutions of both forwards,
counted by ``torch.utils.flop_counter.FlopCounterMode``) turn that into TFLOP/s, and on a GPU
into a fraction of the device's dense bf16 peak. Weights follow ``--weights`` (default
``auto``: pretrained if available, else seeded random, which has the same cost). Raises if an
output is not finite. ``--quick`` (or ``GANTHEORY_QUICK=1``) runs tiny sizes, for the tests.
Run by hand: timings are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from gantheory.config import derive_seed, quick_mode
from gantheory.gandata import (
    load_biggan,
    load_feature_extractor,
    optimize_generator,
    prepare_images,
)

# Dense (no sparsity) bf16 tensor-core peak in TFLOP/s, matched in order against the device name.
PEAK_BF16_TFLOPS = [(r"H100.*NVL", None), (r"H100.*PCIe", 756.0), (r"H100", 989.0),
                    (r"H200", 989.0), (r"A100", 312.0), (r"\bL4\b", 121.0)]
# (images, naive batch, optimized batch, warm-up batches) per size regime
# (on 2 CPU cores a batch of 8 is faster than 32: the CPU gains nothing from large batches)
SIZES = {"quick": (4, 2, 4, 1), "cpu": (32, 8, 8, 1), "gpu": (2048, 8, 256, 3)}


def peak_bf16_tflops(device_name: str) -> float | None:
    for pattern, peak in PEAK_BF16_TFLOPS:
        if re.search(pattern, device_name):
            return peak
    return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward(gen, net, extractor, z, classes, truncation, channels_last):
    """One batch through the pipeline: (images, features)."""
    y = torch.nn.functional.one_hot(classes, 1000).to(z.dtype)
    images = gen(z, y, truncation)
    x = prepare_images(images, extractor)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return images, net(x)


def count_flops(gen, net, extractor, z, classes, truncation) -> tuple[float, float]:
    """FLOPs per image of the generator and of the extractor (one float32 batch)."""
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            images = gen(z, torch.nn.functional.one_hot(classes, 1000).to(z.dtype), truncation)
        gen_flops = counter.get_total_flops()
        with FlopCounterMode(display=False) as counter:
            net(prepare_images(images, extractor))
    return gen_flops / len(z), counter.get_total_flops() / len(z)


def run_config(cfg, gen, net, extractor, z, classes, truncation, warmup, device) -> float:
    """Seconds to push all of ``z`` through the pipeline in batches of ``cfg['batch']``."""
    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    if cfg["optimize_generator"]:
        gen = optimize_generator(gen)  # a copy: the naive run keeps the original
    gen, net = gen.to(memory_format=fmt), net.to(memory_format=fmt)
    if cfg["compile"]:
        gen, net = torch.compile(gen), torch.compile(net)
    bf16 = cfg["dtype"] == "bf16 autocast"
    grad_off = torch.inference_mode() if cfg["inference_mode"] else torch.no_grad()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    batch = cfg["batch"]
    with grad_off, autocast:
        ok = torch.ones((), dtype=torch.bool, device=device)
        for _ in range(warmup):
            forward(gen, net, extractor, z[:batch], classes[:batch], truncation,
                    cfg["channels_last"])
        sync(device)
        start = time.perf_counter()
        for i in range(0, len(z), batch):
            images, feats = forward(gen, net, extractor, z[i:i + batch], classes[i:i + batch],
                                    truncation, cfg["channels_last"])
            ok &= torch.isfinite(images).all() & torch.isfinite(feats).all()  # no host sync
        sync(device)
        seconds = time.perf_counter() - start
    if not bool(ok):
        raise FloatingPointError(f"{cfg['config']}: non-finite images or features")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet50")
    parser.add_argument("--resolution", type=int, default=128, choices=[128, 256, 512])
    parser.add_argument("--weights", default="auto", choices=["auto", "pretrained", "random"])
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--images", type=int, default=None, help="images per configuration")
    parser.add_argument("--naive-batch", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None, help="batch of the optimized config")
    parser.add_argument("--warmup", type=int, default=None, help="untimed batches per config")
    parser.add_argument("--truncation", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the optimized run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    regime = "quick" if args.quick or quick_mode() else ("gpu" if on_gpu else "cpu")
    n_images, naive_batch, opt_batch, warmup = SIZES[regime]
    n_images, warmup = args.images or n_images, args.warmup if args.warmup is not None else warmup
    naive_batch, opt_batch = args.naive_batch or naive_batch, args.batch or opt_batch
    if not 0 < args.truncation <= 1:
        parser.error("--truncation must be in (0, 1]")
    device_name = torch.cuda.get_device_name(device) if on_gpu else "cpu"
    peak = peak_bf16_tflops(device_name) if on_gpu else None

    with warnings.catch_warnings():  # the "auto" fallback notice: reported below instead
        warnings.simplefilter("ignore", RuntimeWarning)
        generator = load_biggan(args.resolution, args.weights, seed=args.seed)
        extractor = load_feature_extractor(args.network, args.weights, seed=args.seed)
    gen, net = generator.model.to(device).eval(), extractor.model.to(device).eval()
    for notice in (generator.notice, extractor.notice):
        if notice:
            print("note:", notice.split(". ")[0])

    from pytorch_pretrained_biggan import truncated_noise_sample

    n_total = max(math.ceil(n_images / b) * b for b in (naive_batch, opt_batch))  # whole batches
    z = torch.from_numpy(truncated_noise_sample(
        n_total, 128, args.truncation, seed=derive_seed(args.seed, "latents") % 2**32))
    classes = torch.randint(0, 1000, (n_total,), generator=torch.Generator().manual_seed(
        derive_seed(args.seed, "classes")))
    z, classes = z.to(device), classes.to(device)

    gen_flops, net_flops = count_flops(gen, net, extractor, z[:naive_batch],
                                       classes[:naive_batch], args.truncation)
    flops = gen_flops + net_flops
    configs = [
        {"config": "naive", "batch": naive_batch, "dtype": "float32", "channels_last": False,
         "inference_mode": False, "optimize_generator": False, "compile": False},
        {"config": "optimized", "batch": opt_batch,
         "dtype": "bf16 autocast" if on_gpu else "float32",
         "channels_last": True, "inference_mode": True, "optimize_generator": True,
         "compile": args.compile},
    ]
    for cfg in configs:
        images = math.ceil(n_images / cfg["batch"]) * cfg["batch"]
        seconds = run_config(cfg, gen, net, extractor, z[:images], classes[:images],
                             args.truncation, warmup, device)
        tflops = flops * images / seconds / 1e12
        cfg.update(images=images, seconds=seconds, images_per_s=images / seconds,
                   tflops=tflops, peak_fraction=tflops / peak if peak else None)
    for cfg in configs:
        cfg["speedup"] = cfg["images_per_s"] / configs[0]["images_per_s"]

    print(f"device: {device_name} ({device}); torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"generator: {generator.name} ({generator.weights} weights); extractor: "
          f"{extractor.name} ({extractor.weights} weights, {extractor.feature_dim} features)")
    print(f"FLOPs per image (FlopCounterMode): {flops / 1e9:.2f} GFLOP = generator "
          f"{gen_flops / 1e9:.2f} + {extractor.name} {net_flops / 1e9:.2f}")
    peak_text = f"{peak:.0f} TFLOP/s" if peak else "unknown"
    print(f"dense bf16 peak: {peak_text if on_gpu else 'n/a (CPU)'}; warm-up: {warmup} batches"
          f" per config; compile: {args.compile}")
    print(f"{'config':<10} {'batch':>5} {'dtype':>13} {'images':>6} {'seconds':>8} "
          f"{'images/s':>9} {'speed-up':>8} {'TFLOP/s':>8} {'of peak':>8}")
    for c in configs:
        frac = f"{c['peak_fraction']:.1%}" if c["peak_fraction"] is not None else "n/a"
        print(f"{c['config']:<10} {c['batch']:>5} {c['dtype']:>13} {c['images']:>6} "
              f"{c['seconds']:>8.2f} {c['images_per_s']:>9.2f} {c['speedup']:>7.2f}x "
              f"{c['tflops']:>8.3f} {frac:>8}")

    if args.json is not None:
        result = {
            "device": str(device), "device_name": device_name, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "regime": regime,
            "generator": generator.name, "generator_weights": generator.weights,
            "extractor": extractor.name, "extractor_weights": extractor.weights,
            "resolution": args.resolution, "truncation": args.truncation, "seed": args.seed,
            "warmup": warmup, "flops_per_image": flops, "generator_flops_per_image": gen_flops,
            "extractor_flops_per_image": net_flops, "peak_bf16_tflops": peak,
            "configs": configs,
        }
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
