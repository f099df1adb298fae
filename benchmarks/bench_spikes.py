"""Benchmark: the resolvent equivalent with means and the spike theory, against one simulation.

    python benchmarks/bench_spikes.py

For n = 2000 and 4000, p = n / 2, k = 3 classes with diagonal covariances (entries uniform in
[0.5, 2], seeded) and means of norm 1.5 to 2.5, it times ``resolvent_equivalent`` at 50 points
``z``, ``spike_theory`` (bulk edge, spikes, alignments) and, for a dense non-commuting case
(the same covariances rotated by three different random orthogonal matrices, p = 200 and 400),
``spike_theory`` again; next to it ``numpy.linalg.eigh`` of one simulated ``G`` (n x n), best
of ``--repeat`` runs (default 3). Diagonal covariances cost O(k p) per point; dense ones one
``p x p`` inverse per Newton step. Run by hand (not a timed test): timings are noisy on a shared
machine.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
from bench_gram_density import best_of  # run as a script: benchmarks/ is on sys.path

from gantheory import rmt


def resolvents(means, covs, props, n, zs):
    return [rmt.resolvent_equivalent(means, covs, props, n, z) for z in zs]


def setting(n: int, rng):
    p = n // 2
    covs = [rng.uniform(0.5, 2.0, p) for _ in range(3)]
    means = rng.standard_normal((3, p))
    means *= (np.array([1.5, 2.0, 2.5]) / np.linalg.norm(means, axis=1))[:, None]
    return p, covs, means


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000])
    parser.add_argument("--dense", type=int, nargs="+", default=[200, 400])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    props = np.array([0.3, 0.3, 0.4])
    zs = (-np.geomspace(0.01, 10, 25)).tolist() + [complex(x, 0.5) for x in np.linspace(0, 10, 25)]
    print(f"{'case':>22} {'n':>6} {'p':>6} {'theory':>10} {'eigh(G)':>10}")
    for n in args.sizes:
        p, covs, means = setting(n, rng)
        x = np.concatenate([m + rng.standard_normal((s, p)) * np.sqrt(c) for m, c, s in
                            zip(means, covs, rmt.class_sizes(n, props), strict=True)])
        g = rmt.gram(x)
        t_sim = best_of(lambda g=g: np.linalg.eigh(g), args.repeat)
        t_res = best_of(functools.partial(resolvents, means, covs, props, n, zs), args.repeat)
        t_spk = best_of(functools.partial(rmt.spike_theory, means, props, n, covariances=covs),
                        args.repeat)
        print(f"{'resolvent, 50 z, diag':>22} {n:>6} {p:>6} {t_res:>8.3f} s {t_sim:>8.3f} s")
        print(f"{'spike_theory, diag':>22} {n:>6} {p:>6} {t_spk:>8.3f} s {t_sim:>8.3f} s")
    for p in args.dense:
        n = 2 * p
        _, covs, means = setting(n, rng)
        dense = []
        for c in covs:
            q, _ = np.linalg.qr(rng.standard_normal((p, p)))
            dense.append(q @ np.diag(c) @ q.T)
        t_spk = best_of(functools.partial(rmt.spike_theory, means, props, n, covariances=dense),
                        1)
        print(f"{'spike_theory, dense':>22} {n:>6} {p:>6} {t_spk:>8.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
