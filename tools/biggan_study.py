"""Run the BigGAN chapter's experiment from the command line and save its results.

    python tools/biggan_study.py                 # the size the device allows (gpu or cpu)
    python tools/biggan_study.py --mode gpu      # the paper's setting; writes
                                                 # artifacts/biggan_study_gpu.{npz,json}
    python tools/biggan_study.py --mode quick --out /tmp/study   # seconds, for a smoke test

The chapter ``notebooks/04_biggan_mixtures`` runs the same function
(:func:`gantheory.gandata.run_study`) at its device's size and, when the book is built without
a GPU, shows the committed GPU artifact next to its own reduced run. The artifact holds the
spectra, top eigenvectors, bootstrap statistics, accuracies and full provenance (well under
1 MB); the features themselves are not kept (1500 x 4096 floats per network would be 25 MB).
Set ``GANTHEORY_WEIGHTS`` (or have the network) for pretrained weights; otherwise the
seeded-random fallback is used and recorded.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from gantheory import config, gandata  # noqa: E402


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(gandata.STUDY_CONFIGS),
                        default=config.device_kind())
    parser.add_argument("--out", type=Path, default=None,
                        help="output path without suffix (default artifacts/biggan_study_<mode>)")
    parser.add_argument("--weights", choices=["auto", "pretrained", "random"], default="auto")
    parser.add_argument("--resolution", type=int, choices=sorted(gandata.BIGGAN_NAMES),
                        default=128)
    parser.add_argument("--truncation", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.mode == "gpu" and config.device_kind() != "gpu":
        parser.error("--mode gpu needs a CUDA device (the full setting takes hours on a CPU)")
    out = args.out or ROOT / "artifacts" / f"biggan_study_{args.mode}"
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _, studies = gandata.run_study(args.mode, weights=args.weights, resolution=args.resolution,
                                   truncation=args.truncation, seed=args.seed)
    elapsed = time.perf_counter() - start
    for study in studies.values():
        study.provenance["wall_seconds"] = round(elapsed, 1)
    path = gandata.save_study(studies, out)
    print(f"{args.mode} study in {elapsed:.0f} s -> {path} ({path.stat().st_size / 1e3:.0f} kB)")
    for name, study in studies.items():
        prov = study.provenance
        print(f"\n{name} (p = {prov['feature_dim']}, weights: BigGAN {prov['generator_weights']},"
              f" {name} {prov['extractor_weights']}; device {prov['device']})")
        for row in study.comparison.table():
            print(f"  {row['statistic']:>20}: observed {row['observed']:.4f}, null "
                  f"{row['null_mean']:.4f} +- {row['null_sd']:.4f}, excess {row['excess']:+.2f}")
    return path


if __name__ == "__main__":
    main()
