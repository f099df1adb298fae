"""Benchmark: limiting Gram spectrum (theory) vs one simulation of the same size.

    python benchmarks/bench_gram_density.py

For n = 2000 and 4000, p = n / 2, k = 3 classes with diagonal covariances (entries drawn
uniformly in [0.5, 2], all distinct, seeded), it times ``gram_spectral_density`` on a 400-point
grid against ``numpy.linalg.eigvalsh`` of one simulated ``G = X^T X / p`` (n x n), best of
``--repeat`` runs each (default 5), and prints the ratio. The book's target is a ratio >= 10.
Exit code 1 if a ratio falls short. Run by hand (not a timed test): timings are noisy on a
shared machine.
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

from gantheory import rmt


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    proportions = np.array([0.3, 0.3, 0.4])
    print(f"{'n':>6} {'p':>6} {'theory (400 pts)':>17} {'eigvalsh(G)':>12} {'ratio':>7}")
    ok = True
    for n in args.sizes:
        p = n // 2
        covs = [rng.uniform(0.5, 2.0, p) for _ in range(3)]
        sizes = rmt.class_sizes(n, proportions)
        x = np.concatenate([rng.standard_normal((s, p)) * np.sqrt(c)
                            for s, c in zip(sizes, covs, strict=True)])
        g = rmt.gram(x)
        edge = 1.2 * max(c.max() for c in covs) * (1 + np.sqrt(n / p)) ** 2 * p / n
        grid = np.linspace(edge / 400, edge, 400)
        t_theory = best_of(functools.partial(rmt.gram_spectral_density, grid, covs, proportions,
                                             n), args.repeat)
        t_sim = best_of(functools.partial(np.linalg.eigvalsh, g), args.repeat)
        density = rmt.gram_spectral_density(np.linspace(0, edge, 4000), covs, proportions, n)
        ks = rmt.ks_against_density(np.linalg.eigvalsh(g), np.linspace(0, edge, 4000), density,
                                    atom=max(0.0, 1 - p / n))
        ratio = t_sim / t_theory
        ok &= ratio >= 10
        print(f"{n:>6} {p:>6} {t_theory:>15.3f} s {t_sim:>10.3f} s {ratio:>6.1f}x"
              f"   (KS simulation vs theory: {ks:.4f})")
    print("target: theory >= 10x faster than the simulation:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
