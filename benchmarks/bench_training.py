"""Benchmark: 8 toy GANs trained one at a time against the same 8 as one batched ensemble.

    python benchmarks/bench_training.py            # 300 generator steps each
    python benchmarks/bench_training.py --quick    # 10 steps: seconds, checks the machinery

The 8 GANs are chapter 7's (``notebooks/07_trained_latents.md``, CPU sizes): WGAN-GPs with
the default widths (64, depth 3), batch 256, two critic steps per generator step, on the
three-mode target with ``d = 2`` and the four-mode target with ``d = 3``, and three seeds of the
three-mode target with ``d = 3`` under the Gaussian and the simplicially truncated latent. It
times ``partitions.train_toy_gan`` on each in turn (one CPU thread, as the book ran them before
the ensembles) and ``partitions.train_toy_gans`` on all 8 at once, with ``--threads`` torch
threads (default: 1, then the cores found), and prints the ratio; the time per generator step
does not depend on the number of steps, so a few hundred steps give the ratio of chapter 7's
3000. It also times the 2 GroupSort WGANs of one architecture as a stacked pair (Part IV) against
one after the other. Run by hand (not a timed test): timings are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import numpy as np
import torch

from gantheory import _cache, config
from gantheory import partitions as pt
from gantheory import wasserstein as ws


def chapter7_members() -> list[dict]:
    t3 = pt.DisconnectedTarget.regular(3, D=2, spacing=4.0, radius=0.25)
    t4 = pt.DisconnectedTarget.regular(4, D=2, spacing=4.0, radius=0.25)
    members = [dict(target=t3, latent_dim=2, seed=0), dict(target=t4, latent_dim=3, seed=0)]
    for s in range(3):
        members += [dict(target=t3, latent_dim=3, seed=s + 1),
                    dict(target=t3, latent_dim=3, seed=s + 1, latent_tau=0.5)]
    return members


@contextmanager
def threads(n: int):
    """Make the trainer's one-thread rule use ``n`` threads instead."""
    original = _cache.one_thread

    @contextmanager
    def n_threads():
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(old)

    _cache.one_thread = n_threads
    try:
        yield
    finally:
        _cache.one_thread = original


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="10 steps")
    parser.add_argument("--threads", type=int, nargs="+", default=None)
    args = parser.parse_args()
    steps = 10 if args.quick else args.steps
    thread_counts = args.threads or sorted({1, config.cpu_cores()})
    members = chapter7_members()
    pt.train_toy_gans(members[:1], steps=2, cache=False)  # warm up torch
    alone = timed(lambda: [pt.train_toy_gan(**m, steps=steps, cache=False) for m in members])
    print(f"8 toy GANs, {steps} steps: one at a time {alone:.2f} s "
          f"({1000 * alone / (8 * steps):.2f} ms per GAN step)")
    for n in thread_counts:
        with threads(n):
            together = timed(lambda: pt.train_toy_gans(members, steps=steps, cache=False))
        print(f"  ensemble, {n} thread(s): {together:.2f} s, {alone / together:.1f}x less wall "
              f"time")

    pts = np.array([[0.0], [1.0], [3.0], [4.0], [7.0]])
    jobs = []
    for k in range(2):
        with config.torch_seeded(k):
            gen = ws.GroupSortGenerator(1, 1, lipschitz=12.0, width=32, depth=3, iters=5)
        jobs.append(dict(target=pts, generator=gen, latent="uniform", steps=steps, seed=k))
    alone = timed(lambda: [ws.train_wgan(**j) for j in jobs])
    together = timed(lambda: ws.train_wgans(jobs, processes=1))
    print(f"2 GroupSort WGANs, {steps} steps: one at a time {alone:.2f} s, stacked "
          f"{together:.2f} s ({alone / together:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
