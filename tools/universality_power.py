"""Measure the size and the power of the universality test (gantheory.rmt.universality_test).

    python tools/universality_power.py            # the study, a few minutes on 2 cores; writes
                                                  # artifacts/universality_power.json
    python tools/universality_power.py --quick    # seconds, for a smoke test; writes
                                                  # /tmp/universality_power_quick.json

Size: Gaussian mixtures (``k`` classes, means on a simplex with pairwise distance ``SEPARATION``,
near the spike phase transition; diagonal class covariances with eigenvalues spread over
``[0.25, 1.75]``, a different order per class). Power: the same means and covariances, not
concentrated, :math:`x = m_\\ell + \\sqrt w\\, C_\\ell^{1/2} g` with ``E w = 1`` (so the first two
moments of every class are those of the Gaussian mixture): ``w = (nu - 2) / chi2_nu`` (a Student-t
radius) and two-point scale mixtures ``w in {a, b}``. Each cell (a size, a law, a calibration) is
run over seeds; the artifact keeps the settings, every seed, the rejection counts per statistic
and of the combined decision, the combined p-values (as ranks out of ``n_boot + 1``, exact
integers), Clopper-Pearson intervals, the library versions and the wall time. Seeds run in
``--workers`` processes with one BLAS thread each (the results do not depend on the number).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import scipy
import scipy.stats as st
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

import gantheory  # noqa: E402
from gantheory._universality import STATISTICS, universality_test  # noqa: E402

ARTIFACT = ROOT / "artifacts" / "universality_power.json"
QUICK_OUT = Path("/tmp") / "universality_power_quick.json"
SEPARATION = 2.5  # ||m_a - m_b||
SPREAD = (0.25, 1.75)  # range of the eigenvalues of each class covariance (mean 1)
LEVEL = 0.05

#: The laws: Gaussian (H0) and non-concentrated laws with the same two moments per class.
LAWS = {
    "gaussian": dict(kind="gaussian"),
    "student-t nu=3": dict(kind="t", nu=3),
    "student-t nu=5": dict(kind="t", nu=5),
    "student-t nu=10": dict(kind="t", nu=10),
    "scale 0.5|2.5": dict(kind="scale", values=(0.5, 2.5)),
    "scale 0.8|1.4": dict(kind="scale", values=(0.8, 1.4)),
    "scale 0.95|1.1": dict(kind="scale", values=(0.95, 1.1)),
}

#: (name, n, p, k): the book's sizes (p < n at three ratios-preserving sizes, and p > n).
SIZES = {
    "full": [("n200-p100-k2", 200, 100, 2), ("n400-p200-k2", 400, 200, 2),
             ("n800-p400-k2", 800, 400, 2), ("n200-p400-k2", 200, 400, 2),
             ("n300-p150-k3", 300, 150, 3)],
    "quick": [("n60-p30-k2", 60, 30, 2), ("n40-p80-k2", 40, 80, 2)],
}

#: seeds per (size, law) cell: more for the size (a tight interval around the level).
SEEDS = {
    "full": {"gaussian": {"n200-p100-k2": 200, "n400-p200-k2": 100, "n800-p400-k2": 30,
                          "n200-p400-k2": 200, "n300-p150-k3": 100},
             "other": {"n200-p100-k2": 40, "n400-p200-k2": 30, "n800-p400-k2": 10,
                       "n200-p400-k2": 40, "n300-p150-k3": 20}},
    "quick": {"gaussian": {"n60-p30-k2": 10, "n40-p80-k2": 10},
              "other": {"n60-p30-k2": 5, "n40-p80-k2": 5}},
}
QUICK_LAWS = ("gaussian", "student-t nu=3", "scale 0.5|2.5")
#: the largest size (most of the time) runs the milder alternatives only
LARGE_LAWS = {"n800-p400-k2": ("gaussian", "student-t nu=10", "scale 0.8|1.4",
                               "scale 0.95|1.1")}
N_BOOT = {"full": 39, "quick": 19}
#: the parametric bootstrap (calibration="bootstrap"), for comparison: Gaussian data only
BOOTSTRAP_CELLS = {"full": {"n200-p100-k2": 40, "n400-p200-k2": 40},
                   "quick": {"n60-p30-k2": 10}}


def mixture(n: int, p: int, k: int, law: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples ``(n, p)`` and labels ``(n,)`` of the study's mixture under ``law``.

    Classes of sizes ``n // k`` (the first ``n % k`` one larger), in blocks. Means
    :math:`m_\\ell = (s/\\sqrt 2) e_\\ell` minus their average (pairwise distance ``s =
    SEPARATION``); covariance of class ``l``: diagonal, the eigenvalues ``linspace(*SPREAD, p)``
    rolled by ``l * p // k``. ``x = m + sqrt(w) C^{1/2} g`` with ``g`` standard Gaussian and ``w``
    independent of ``g``, ``E w = 1``: ``w = 1`` (Gaussian), ``(nu - 2) / chi2_nu``, or ``a``
    with probability ``(b - 1) / (b - a)`` and ``b`` otherwise.
    """
    spec = LAWS[law]
    rng = np.random.default_rng(seed)
    sizes = np.full(k, n // k)
    sizes[: n - sizes.sum()] += 1
    means = np.eye(k, p) * SEPARATION / math.sqrt(2)
    means -= means.mean(axis=0)
    base = np.linspace(*SPREAD, p)
    xs, ys = [], []
    for a, size in enumerate(sizes):
        sd = np.sqrt(np.roll(base, a * p // k))
        g = rng.standard_normal((size, p)) * sd
        if spec["kind"] == "t":
            w = (spec["nu"] - 2) / rng.chisquare(spec["nu"], size=(size, 1))
        elif spec["kind"] == "scale":
            lo, hi = spec["values"]
            w = np.where(rng.random((size, 1)) < (hi - 1) / (hi - lo), lo, hi)
        else:
            w = np.ones((size, 1))
        xs.append(means[a] + np.sqrt(w) * g)
        ys.append(np.full(size, a))
    return np.concatenate(xs), np.concatenate(ys)


def _one(task: dict) -> dict:
    """One seed of one cell: the test's p-values (as ranks out of n_boot + 1)."""
    x, y = mixture(task["n"], task["p"], task["k"], task["law"], task["data_seed"])
    res = universality_test(x, y, seed=task["test_seed"], n_boot=task["n_boot"], level=LEVEL,
                            calibration=task["calibration"])
    scale = task["n_boot"] + 1
    return dict(cell=task["cell"], ranks={s: int(round(res.p_values[s] * scale))
                                          for s in STATISTICS},
                combined=int(round(res.p_combined * scale)))


_LIMITS = []


def _one_blas_thread() -> None:
    """Pool initializer: one BLAS thread per worker (small matrices; the cores are the
    workers)."""
    _LIMITS.append(threadpool_limits(1, user_api="blas"))


def cells(mode: str) -> list[dict]:
    """The study's cells: size, law, calibration, seeds."""
    out = []
    laws = list(LAWS) if mode == "full" else list(QUICK_LAWS)
    for name, n, p, k in SIZES[mode]:
        for law in laws:
            if law not in LARGE_LAWS.get(name, laws):
                continue
            count = SEEDS[mode]["gaussian" if law == "gaussian" else "other"][name]
            out.append(dict(size=name, n=n, p=p, k=k, law=law, calibration="conditional",
                            seeds=count))
        if name in BOOTSTRAP_CELLS[mode]:
            out.append(dict(size=name, n=n, p=p, k=k, law="gaussian", calibration="bootstrap",
                            seeds=BOOTSTRAP_CELLS[mode][name]))
    for i, cell in enumerate(out):
        cell["id"] = i
        # data and test seeds: distinct integers for every cell and seed (a test seed shared
        # by cells would correlate their Monte Carlo errors), written in the artifact
        cell["data_seeds"] = [100_000 * (i + 1) + s for s in range(cell["seeds"])]
        cell["test_seeds"] = [100_000 * (i + 1) + 50_000 + s for s in range(cell["seeds"])]
    return out


def clopper_pearson(count: int, total: int, confidence: float = 0.95) -> list[float]:
    """Exact binomial confidence interval for a rate ``count / total``."""
    a = (1 - confidence) / 2
    lo = 0.0 if count == 0 else float(st.beta.ppf(a, count, total - count + 1))
    hi = 1.0 if count == total else float(st.beta.ppf(1 - a, count + 1, total - count))
    return [lo, hi]


def run(mode: str, workers: int) -> dict:
    n_boot = N_BOOT[mode]
    todo = cells(mode)
    tasks = [dict(cell=c["id"], n=c["n"], p=c["p"], k=c["k"], law=c["law"], n_boot=n_boot,
                  calibration=c["calibration"], data_seed=ds, test_seed=ts)
             for c in todo for ds, ts in zip(c["data_seeds"], c["test_seeds"], strict=True)]
    # the most expensive first, so that the pool ends together
    tasks.sort(key=lambda t: -t["n"] * min(t["n"], t["p"]) ** 2)
    start = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_one_blas_thread) as pool:
            results = list(pool.map(_one, tasks, chunksize=1))
    else:
        with threadpool_limits(1, user_api="blas"):
            results = [_one(t) for t in tasks]
    wall = time.perf_counter() - start
    by_cell: dict[int, list] = {c["id"]: [] for c in todo}
    for task, res in zip(tasks, results, strict=True):
        by_cell[res["cell"]].append((task["test_seed"], res))
    threshold = LEVEL * (n_boot + 1)  # p <= level  <=>  rank <= level * (n_boot + 1)
    for c in todo:
        rows = [r for _, r in sorted(by_cell[c["id"]], key=lambda t: t[0])]
        c["combined_ranks"] = [r["combined"] for r in rows]
        c["rejections"] = {s: int(sum(r["ranks"][s] <= threshold + 1e-9 for r in rows))
                           for s in STATISTICS}
        c["rejections"]["combined"] = int(sum(r["combined"] <= threshold + 1e-9 for r in rows))
        c["rate"] = c["rejections"]["combined"] / c["seeds"]
        c["ci95"] = clopper_pearson(c["rejections"]["combined"], c["seeds"])
    return dict(
        tool="tools/universality_power.py", mode=mode,
        settings=dict(level=LEVEL, n_boot=n_boot, n_reference=2, statistics=list(STATISTICS),
                      combination="min-p calibrated on the replicates (ties by the excess)",
                      separation=SEPARATION, covariance_spread=list(SPREAD), laws=LAWS,
                      sizes=[dict(name=a, n=b, p=c, k=d) for a, b, c, d in SIZES[mode]],
                      data=("mixture(n, p, k, law, data_seed) in tools/universality_power.py; "
                            "universality_test(x, y, seed=test_seed, n_boot, level, "
                            "calibration)"),
                      workers=workers),
        versions=dict(python=platform.python_version(), numpy=np.__version__,
                      scipy=scipy.__version__, gantheory=gantheory.__version__,
                      machine=platform.machine(), cpu_count=os.cpu_count()),
        wall_seconds=round(wall, 1), cells=todo)


def table(result: dict) -> str:
    head = (f"{'size':>13} {'law':>16} {'calibration':>11} {'seeds':>5} {'reject':>6} "
            f"{'95% CI':>13} | " + " ".join(f"{s[:10]:>10}" for s in STATISTICS))
    lines = [head, "-" * len(head)]
    for c in result["cells"]:
        lo, hi = c["ci95"]
        per = " ".join(f"{c['rejections'][s] / c['seeds']:>10.2f}" for s in STATISTICS)
        lines.append(f"{c['size']:>13} {c['law']:>16} {c['calibration']:>11} {c['seeds']:>5} "
                     f"{c['rate']:>6.2f} [{lo:.2f}, {hi:.2f}] | {per}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON to write (default {ARTIFACT.relative_to(ROOT)}, or "
                             f"{QUICK_OUT} with --quick)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    mode = "quick" if args.quick else "full"
    result = run(mode, args.workers)
    out = args.out or (QUICK_OUT if args.quick else ARTIFACT)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"\n{mode} study: level {LEVEL}, n_boot {result['settings']['n_boot']}, "
          f"{sum(c['seeds'] for c in result['cells'])} tests in {result['wall_seconds']:.0f} s "
          f"({args.workers} workers) -> {out}")
    return out


if __name__ == "__main__":
    main()
