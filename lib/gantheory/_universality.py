"""A calibrated test of "the Gram matrix of these data behaves as that of their Gaussian mixture".

Re-exported as :func:`gantheory.rmt.universality_test`. Conventions of :mod:`gantheory.rmt`:
samples are rows, ``features`` is ``(n, p)``, :math:`G = XX^\\top/p` is ``(n, n)``.

Why the surrogate is fitted on one half and compared with the other
-------------------------------------------------------------------
The non-zero spectrum of :math:`G` is that of :math:`X^\\top X/p =
\\sum_\\ell [(n_\\ell-1)\\hat C_\\ell + n_\\ell \\hat m_\\ell\\hat m_\\ell^\\top]/p`, and the
projection of a top eigenvector :math:`u = Xv/\\sqrt{p\\lambda}` on the indicator of class
:math:`\\ell` is :math:`n_\\ell\\hat m_\\ell^\\top v/\\sqrt{p\\lambda}`: the spectrum, the spikes
and the indicator alignments of the whole sample are functions of its own class means
:math:`\\hat m_\\ell` and covariances :math:`\\hat C_\\ell`, whatever the law of the data. Compared
with a Gaussian mixture fitted to the same sample, they can only measure how far
:math:`\\hat C_\\ell` is from its own Gaussian resample (with :math:`p/n_\\ell` of order one a
sample covariance is far from its population, so a Gaussian resample from :math:`\\hat C_\\ell`
has a visibly wider spectrum), not whether the data are Gaussian. So the statistics are
computed on a *test half* of each class against a surrogate fitted on the other (*fit*) half,
as the book compares GAN features with a surrogate estimated from further draws.

Calibration
-----------
Under H0 the data are a Gaussian mixture (any means, any covariances). Given the class means and
the class scatter matrices (the sufficient statistic), the centred samples of class
:math:`\\ell` are then :math:`O\\tilde Y_\\ell` with :math:`O` a uniformly random orthogonal
:math:`n_\\ell\\times n_\\ell` matrix fixing the all-ones vector (the Gaussian law is invariant
under it). ``calibration="conditional"`` (the default) draws ``n_boot`` such rotations:
the Gaussian mixture with exactly the data's fitted moments, whose re-fitted surrogate is the
data's, so the effect of estimating the moments is in the null exactly. The data and the
replicates are exchangeable under H0, and the p-values (and the min-p combination) are exact
at every ``n`` and ``p`` (Monte Carlo test, Barnard 1963; conditioning on a sufficient
statistic, Lehmann & Romano, ch. 4). ``calibration="bootstrap"`` is the parametric bootstrap:
``n`` Gaussian draws from the fitted surrogate, re-fitted; it replaces the unknown moments by
estimates that are far from them when ``p/n_l`` is of order one, and its size can be far from
the level (``tools/universality_power.py`` measures it); it is kept for comparison. Exact means
over the Monte Carlo draws: the rejection probability, averaged over ``seed``, is the level.

What carries the power
----------------------
Against laws with the same two moments per class that are not concentrated (a random radius,
:math:`x = m + \\sqrt w\\,C^{1/2}g`), the spectral statistics have little power even half
against half: the spectrum of such data is that of Gaussian data with another covariance, and
the surrogate fitted on the fit half reproduces it. Their heavy tails show in the spikes and
the top of the bulk (``spike_gap``, ``edge_gap``) and above all in the diagonal of the Gram
matrix (``norm_spread``), which decides most rejections (``artifacts/universality_power.json``
has the rates per statistic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import eigh, helmert

from gantheory._checks import as_labels, as_samples, check_int

__all__ = ["STATISTICS", "UniversalityTest", "universality_test", "universality_power_table",
           "multisplit_p_value"]

#: The statistics, in the order of :attr:`UniversalityTest.statistics` and of the table.
STATISTICS = ("bulk_ks", "spike_gap", "edge_gap", "alignment_gap", "norm_spread")
CALIBRATIONS = ("conditional", "bootstrap")
MIN_BOOT = 19  # the smallest n_boot whose p-values reach 0.05
ZERO_FLOOR = 1e-9  # eigenvalues below ZERO_FLOOR * largest are the atom at 0 (as in rmt.ks_check)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class UniversalityTest:
    """Result of :func:`universality_test`.

    ``statistics``: the names used, a subset of :data:`STATISTICS`; ``observed`` maps each to its
    value on the data, ``null`` to its ``(n_boot,)`` values on the null replicates, ``p_values``
    to :math:`(1 + \\#\\{\\text{null} \\ge \\text{observed}\\})/(1 + n_{boot})`. ``p_combined``:
    the min-p combination of the statistics, calibrated on the same replicates; ``reject`` is
    ``p_combined <= level``. ``atom``: the fraction of zero eigenvalues of the data's ``(n, n)``
    Gram matrix (``1 - rank/n``, dropped from ``bulk_ks``), ``atom_surrogate`` that of ``n``
    draws of the Gaussian mixture fitted to all the data; ``atom_test`` and
    ``atom_reference`` the same for the test half and its reference draws (the spectra that
    ``bulk_ks`` compares). ``class_sizes`` ``(k,)``, ``fit_sizes`` ``(k,)`` (the rest of each
    class is the test half), ``classes`` ``(k,)`` in the order of the sizes.
    """

    statistics: tuple
    observed: dict
    null: dict
    p_values: dict
    p_combined: float
    reject: bool
    level: float
    atom: float
    atom_surrogate: float
    atom_test: float
    atom_reference: float
    n: int
    p: int
    classes: np.ndarray
    class_sizes: np.ndarray
    fit_sizes: np.ndarray
    n_boot: int
    n_reference: int
    calibration: str
    seed: int

    def restricted(self, statistics) -> UniversalityTest:
        """The test whose decision combines only ``statistics`` (a subset of
        :attr:`statistics`), on the same null replicates: equal to
        ``universality_test(..., statistics=statistics)`` with the same inputs and seed (every
        statistic is computed on every replicate whatever the selection), without recomputing
        them. One call with all the statistics thus gives both a decision on some and the
        p-values of the others."""
        stats = _check_statistics(statistics)
        missing = [s for s in stats if s not in self.statistics]
        if missing:
            raise ValueError(f"{missing} are not among this test's statistics {self.statistics}")
        observed = {s: self.observed[s] for s in stats}
        null = {s: self.null[s] for s in stats}
        p_combined = _min_p(observed, null, stats)
        return replace(self, statistics=stats, observed=observed, null=null,
                       p_values={s: self.p_values[s] for s in stats}, p_combined=p_combined,
                       reject=bool(p_combined <= self.level))

    def table(self) -> list[dict]:
        """One row per statistic (``statistic``, ``observed``, ``null_mean``, ``null_sd``,
        ``null_q95``, ``p_value``), then a ``"combined (min-p)"`` row with ``p_value`` =
        :attr:`p_combined`; every row has ``reject`` (its p-value at most :attr:`level`)."""
        rows = []
        for s in self.statistics:
            null = self.null[s]
            rows.append(dict(statistic=s, observed=self.observed[s],
                             null_mean=float(np.mean(null)), null_sd=float(np.std(null, ddof=1)),
                             null_q95=float(np.quantile(null, 0.95)), p_value=self.p_values[s],
                             reject=bool(self.p_values[s] <= self.level)))
        rows.append(dict(statistic="combined (min-p)", observed=math.nan, null_mean=math.nan,
                         null_sd=math.nan, null_q95=math.nan, p_value=self.p_combined,
                         reject=self.reject))
        return rows


# --------------------------------------------------------------------------- pieces


def _fit(x: np.ndarray, blocks: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per class: the mean ``(r,)`` and the centred samples over ``sqrt(N_a - 1)``
    ``(N_a, r)``, whose Gram ``factor.T @ factor`` is the unbiased sample covariance (never
    formed)."""
    out = []
    for idx in blocks:
        xa = x[idx]
        mean = xa.mean(axis=0)
        out.append((mean, (xa - mean) / math.sqrt(idx.size - 1)))
    return out


def _gaussian_draw(fit, sizes, rng) -> np.ndarray:
    """``sizes[a]`` draws of class ``a`` of the fitted Gaussian mixture, classes in blocks:
    ``mean + g @ factor`` with ``g ~ N(0, I)`` has the sample covariance as its covariance
    (no ``p x p`` factorization)."""
    return np.concatenate([mean + rng.standard_normal((size, factor.shape[0])) @ factor
                           for (mean, factor), size in zip(fit, sizes, strict=True)])


def _eig(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All eigenvalues (decreasing) of the symmetric ``a`` ``(s, s)`` and its top ``k``
    eigenvectors ``(s, k)``. Above ``s = 128``, all eigenvalues without vectors and the top
    ``k`` vectors alone (LAPACK ``syevr`` on an index range) cost less than a full ``eigh``."""
    s = a.shape[0]
    if s <= 128 or k >= s // 4:
        vals, vecs = np.linalg.eigh(a)
        return vals[::-1], vecs[:, ::-1][:, :k]
    vals = np.linalg.eigvalsh(a)[::-1]
    _, vecs = eigh(a, subset_by_index=[s - k, s - 1], driver="evr", check_finite=False)
    return vals, vecs[:, ::-1]


def _spectrum(x: np.ndarray, p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero eigenvalues (decreasing) of :math:`G = xx^\\top/p` for ``x`` ``(m, r)``, and
    its top ``k`` unit eigenvectors ``(m, k)``, from the smaller of :math:`xx^\\top` and
    :math:`x^\\top x` (same non-zero eigenvalues)."""
    m, r = x.shape
    if r < m:
        vals, vecs = _eig(x.T @ x / p, k)
        top = x @ vecs / np.sqrt(p * np.maximum(vals[:k], 1e-300))
    else:
        vals, top = _eig(x @ x.T / p, k)
    return vals[vals > ZERO_FLOOR * max(vals[0], 1e-300)], top


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance of two samples (1-D)."""
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, both, "right") / a.size
                               - np.searchsorted(b, both, "right") / b.size)))


def _statistics(x, layout, rng, n_reference: int) -> tuple[dict, float, float]:
    """The statistics of ``x`` (rows in class blocks), the test half's atom and its
    references' mean atom."""
    p, k = layout["p"], layout["k"]
    fit = _fit(x, layout["fit_blocks"])
    xt = x[layout["test_rows"]]
    lab_t = layout["test_labels"]
    ev, vec = _spectrum(xt, p, k)
    ref_bulk, ref_top, ref_edge, ref_align, ref_rank = [], [], [], [], []
    for _ in range(n_reference):
        e, v = _spectrum(_gaussian_draw(fit, layout["test_sizes"], rng), p, k)
        ref_bulk.append(e[k:])
        ref_top.append(e[:k] if e.size >= k else np.pad(e[:k], (0, k - e.size)))
        ref_edge.append(e[k] if e.size > k else 0.0)
        ref_align.append(layout["alignment"](v, lab_t))
        ref_rank.append(e.size)
    top = ev[:k] if ev.size >= k else np.pad(ev[:k], (0, k - ev.size))
    top_ref = np.mean(ref_top, axis=0)
    edge_ref = float(np.mean(ref_edge))
    pooled = np.concatenate(ref_bulk)
    stats = {
        "bulk_ks": _ks(ev[k:], pooled) if ev.size > k and pooled.size else 0.0,
        "spike_gap": float(np.max(np.abs(top / np.maximum(top_ref, 1e-300) - 1))),
        "edge_gap": (float(ev[k] / edge_ref - 1) if ev.size > k and edge_ref > 0 else 0.0),
        "alignment_gap": float(np.max(np.abs(layout["alignment"](vec, lab_t)
                                             - np.mean(ref_align, axis=0)))),
    }
    spread = 0.0
    for idx in layout["blocks"]:
        xa = x[idx]
        d = np.einsum("ij,ij->i", xa - xa.mean(axis=0), xa - xa.mean(axis=0))
        spread = max(spread, float(np.std(d) / max(np.mean(d), 1e-300)))
    stats["norm_spread"] = spread
    m = xt.shape[0]
    return stats, 1 - ev.size / m, float(1 - np.mean(ref_rank) / m)


class _Rotations:
    """Draws of the Gaussian mixture conditioned on the data's class means and scatter
    matrices: per class, ``mean + F @ (H @ x_a)``, with ``H`` the ``(N_a - 1, N_a)`` Helmert
    basis of the vectors orthogonal to the all-ones vector and ``F`` ``(N_a, N_a - 1)`` the
    orthonormal factor (signs fixed by ``R``'s diagonal) of the QR decomposition of a centred
    Gaussian matrix. ``F H`` is then a uniformly random rotation of the centred vectors (its law
    is invariant under the rotations fixing the all-ones vector, which act on such isometries
    simply transitively; Mezzadri 2007 for the sign fix)."""

    def __init__(self, x, blocks):
        self.parts = []
        for idx in blocks:
            self.parts.append((x[idx].mean(axis=0), helmert(idx.size) @ x[idx]))

    def draw(self, rng) -> np.ndarray:
        out = []
        for mean, w in self.parts:
            g = rng.standard_normal((w.shape[0] + 1, w.shape[0]))
            q, r = np.linalg.qr(g - g.mean(axis=0))
            q *= np.sign(np.diag(r))
            out.append(mean + q @ w)
        return np.concatenate(out)


def _check_statistics(statistics) -> tuple:
    if isinstance(statistics, str):
        statistics = (statistics,)
    stats = tuple(statistics)
    unknown = [s for s in stats if s not in STATISTICS]
    if not stats or unknown or len(set(stats)) != len(stats):
        raise ValueError(f"statistics must be distinct names among {STATISTICS}, got {stats}")
    return stats


def _min_p(observed: dict, null: dict, stats: tuple) -> float:
    """Min-p combination calibrated on the replicates (single-step minP of Westfall & Young).

    Each of the ``n_boot + 1`` samples (data first) gets, per statistic, its p-value among all
    of them (the fraction of values at least as large) and the smallest over the statistics;
    the combined p-value is the fraction of samples whose smallest p-value is at most the
    data's. With a few statistics and ``n_boot`` of order 100, several samples share the
    smallest possible p-value ``1 / (n_boot + 1)``: such ties are broken by the standardized
    excess ``(T - mean) / sd`` (over the ``n_boot + 1`` values) of the statistic attaining the
    minimum, so that the combined p-value can reach ``1 / (n_boot + 1)``. Every score is a
    symmetric function of the samples: exact when they are exchangeable."""
    pmin, excess = None, None
    for s in stats:
        v = np.concatenate([[observed[s]], null[s]])
        ps = (v.size - np.searchsorted(np.sort(v), v, "left")) / v.size
        z = (v - v.mean()) / max(float(v.std()), 1e-300)
        if pmin is None:
            pmin, excess = ps, z
        else:
            better = (ps < pmin) | ((ps == pmin) & (z > excess))
            pmin, excess = np.where(better, ps, pmin), np.where(better, z, excess)
    beaten = (pmin < pmin[0]) | ((pmin == pmin[0]) & (excess >= excess[0]))
    return float(np.mean(beaten))


# --------------------------------------------------------------------------- the test


def universality_test(features, labels, *, seed: int, n_boot: int = 99, level: float = 0.05,
                      n_reference: int = 2, statistics=STATISTICS,
                      calibration: str = "conditional") -> UniversalityTest:
    """Test whether the Gram matrix of ``features`` behaves as that of their Gaussian mixture.

    Parameters
    ----------
    features : array ``(n, p)``
        Samples as rows; :math:`G = XX^\\top/p`.
    labels : integer array ``(n,)``
        Class of each sample; ``k`` classes, each with at least 4 samples (2 to fit, 2 to test).
    seed : int
        Everything random (the split, the reference draws, the null replicates) comes from
        ``np.random.SeedSequence(seed)``; the result is a deterministic function of the inputs.
    n_boot : int, at least 19
        Null replicates; the p-values are multiples of ``1 / (n_boot + 1)``.
    level : float in (0, 1)
        Level of :attr:`UniversalityTest.reject` (default 0.05).
    n_reference : int, at least 1
        Gaussian draws from the fitted surrogate whose spectra are pooled into the reference.
    statistics : names among :data:`STATISTICS`
        The statistics combined into the decision (all by default).
    calibration : ``"conditional"`` (exact, default) or ``"bootstrap"``
        See the module's docstring.

    The data are split, per class and at random (seeded), into a fit half (``floor(N_a/2)``
    samples) and a test half. The Gaussian mixture fitted to the fit half (class means and
    unbiased covariances) is drawn ``n_reference`` times with the test half's class sizes; the
    statistics compare the Gram matrix of the test half (``m`` samples) with those draws:

    - ``bulk_ks``: Kolmogorov-Smirnov distance between the test half's non-zero eigenvalues
      below the ``k`` largest and the pooled ones of the draws (zero eigenvalues, the atom at 0
      when ``m > p`` or the covariances are singular, are dropped and reported as
      :attr:`~UniversalityTest.atom_test`, :attr:`~UniversalityTest.atom_reference`);
    - ``spike_gap``: :math:`\\max_{j\\le k}|\\lambda_j/\\bar\\lambda_j - 1|`, the isolated
      eigenvalues against the draws' mean ones;
    - ``edge_gap``: :math:`\\lambda_{k+1}/\\bar\\lambda_{k+1} - 1` (one-sided): heavy tails push
      the top of the bulk out;
    - ``alignment_gap``: :math:`\\max_{j\\le k}|a_j - \\bar a_j|`, with ``a_j`` the squared
      projection of the ``j``-th eigenvector on the class indicators
      (:func:`~gantheory.rmt.indicator_alignment`);
    - ``norm_spread``: on all the data, the largest over classes of the coefficient of
      variation of :math:`\\|x_i - \\hat m_\\ell\\|^2`: the concentration of the Gram matrix's
      (centred) diagonal that concentrated vectors have, :math:`O(p^{-1/2})`.

    Each p-value is :math:`(1 + \\#\\{b: T_b \\ge T\\})/(1 + n_{boot})` over the null replicates
    :math:`T_b`, each computed exactly as for the data (split, fit, draws). The decision
    combines the chosen statistics by their minimum p-value, itself calibrated on the same
    replicates; with the conditional calibration its size is at most ``level`` exactly.

    Returns a :class:`UniversalityTest`. For ``p > n`` the samples are first written in an
    orthonormal basis of their span (an exact rotation: every draw lies in that span), so the
    cost is that of ``n x min(n, p)`` matrices: per replicate, ``1 + n_reference`` symmetric
    eigendecompositions of size ``min(m, p)``.
    """
    # imported here, not at the top: gantheory.rmt re-exports this module
    from gantheory.rmt import indicator_alignment

    x = as_samples(features, "features")
    n, p = x.shape
    lab = as_labels(labels, n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    n_boot = check_int(n_boot, "n_boot", MIN_BOOT)
    n_reference = check_int(n_reference, "n_reference", 1)
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) \
            or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    stats = _check_statistics(statistics)
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    classes, inverse, sizes = np.unique(lab, return_inverse=True, return_counts=True)
    if np.any(sizes < 4):
        found = dict(zip(classes.tolist(), sizes.tolist(), strict=True))
        raise ValueError(f"labels: every class needs at least 4 samples (2 to fit the "
                         f"surrogate, 2 to test), got counts {found}")
    k = classes.size
    seeds = np.random.SeedSequence(int(seed)).spawn(n_boot + 3)
    split_rng = np.random.default_rng(seeds[0])
    order = np.argsort(inverse, kind="stable")
    x = x[order]
    if p > n:  # write the samples in an orthonormal basis of their row space (exact)
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        x = u * s
    starts = np.concatenate([[0], np.cumsum(sizes)])
    blocks = [np.arange(starts[a], starts[a + 1]) for a in range(k)]
    fit_sizes = sizes // 2
    fit_blocks, test_rows, test_labels = [], [], []
    for a, idx in enumerate(blocks):
        perm = split_rng.permutation(idx)
        fit_blocks.append(np.sort(perm[: fit_sizes[a]]))
        test_rows.append(np.sort(perm[fit_sizes[a]:]))
        test_labels.append(np.full(sizes[a] - fit_sizes[a], a))
    layout = dict(p=p, k=k, alignment=indicator_alignment, blocks=blocks, fit_blocks=fit_blocks,
                  test_rows=np.concatenate(test_rows), test_labels=np.concatenate(test_labels),
                  test_sizes=sizes - fit_sizes)
    observed, atom_test, atom_ref = _statistics(x, layout, np.random.default_rng(seeds[1]),
                                                n_reference)
    null = {s: np.empty(n_boot) for s in STATISTICS}
    if calibration == "conditional":
        rotations = _Rotations(x, blocks)
    else:
        full_fit = _fit(x, blocks)
    for b in range(n_boot):
        rng = np.random.default_rng(seeds[b + 2])
        xb = rotations.draw(rng) if calibration == "conditional" else \
            _gaussian_draw(full_fit, sizes, rng)
        values, _, _ = _statistics(xb, layout, rng, n_reference)
        for s, v in values.items():
            null[s][b] = v
    p_values = {s: float((1 + np.sum(null[s] >= observed[s])) / (1 + n_boot)) for s in stats}
    p_combined = _min_p(observed, null, stats)
    atom = 1 - _spectrum(x, p, 1)[0].size / n
    draw = _gaussian_draw(_fit(x, blocks), sizes, np.random.default_rng(seeds[-1]))
    atom_surrogate = 1 - _spectrum(draw, p, 1)[0].size / n
    return UniversalityTest(
        statistics=stats, observed={s: observed[s] for s in stats},
        null={s: null[s] for s in stats}, p_values=p_values, p_combined=p_combined,
        reject=bool(p_combined <= level), level=float(level), atom=float(atom),
        atom_surrogate=float(atom_surrogate), atom_test=float(atom_test),
        atom_reference=float(atom_ref), n=n, p=p, classes=classes, class_sizes=sizes,
        fit_sizes=fit_sizes, n_boot=n_boot, n_reference=n_reference, calibration=calibration,
        seed=int(seed))


# --------------------------------------------------------------------------- the saved study


def multisplit_p_value(p_values, gamma: float = 0.5) -> float:
    """Aggregate the p-values of one test repeated over several random splits of the same
    data (Meinshausen, Meier and Bühlmann 2009, quantile aggregation): with ``R`` p-values,
    ``min(1, p_(j) / gamma)`` where ``p_(j)`` is the ``j = ceil(gamma R)``-th smallest.

    It is a valid p-value whatever the dependence between the splits: if it is at most
    ``alpha``, at least ``gamma R`` of the ``p_r`` are at most ``gamma alpha``, and by Markov's
    inequality that has probability at most
    :math:`\\mathbb E[\\#\\{r: p_r\\le\\gamma\\alpha\\}]/(\\gamma R)\\le\\alpha`. It removes the
    dependence of a single split's p-value on the split seed. ``p_values``: a non-empty 1-D
    array of numbers in ``[0, 1]``; ``gamma`` in ``(0, 1]``."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must be a non-empty 1-D array of numbers in [0, 1], got "
                         f"{p_values!r}")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating)) \
            or not 0 < gamma <= 1:
        raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
    j = int(np.ceil(gamma * p.size))
    return float(min(1.0, np.sort(p)[j - 1] / gamma))


def universality_power_table(path, *, n: int = 400, p: int = 200, k: int = 2):
    """Rejection rates of the saved size-and-power study (``tools/universality_power.py``,
    ``artifacts/universality_power.json``) for one size: a pandas DataFrame with one row per
    law (``gaussian`` first: the size) and one column per statistic plus ``combined`` and
    ``seeds``, conditional calibration only. ``attrs`` holds ``size`` (the combined rate on
    Gaussian data), ``spectral_max`` (the largest rate of a spectral statistic, ``bulk_ks``,
    ``spike_gap``, ``edge_gap`` or ``alignment_gap``, against a non-Gaussian law) and
    ``norm_spread_min`` (the smallest rate of ``norm_spread`` against one). ``ValueError`` when
    the file has no such cell."""
    import json
    from pathlib import Path

    import pandas as pd

    data = json.loads(Path(path).read_text())
    rows = {}
    for cell in data["cells"]:
        if (cell["n"], cell["p"], cell["k"]) != (n, p, k) or cell["calibration"] != "conditional":
            continue
        rows[cell["law"]] = {s: cell["rejections"][s] / cell["seeds"]
                             for s in (*STATISTICS, "combined")} | {"seeds": cell["seeds"]}
    if "gaussian" not in rows or len(rows) < 2:
        raise ValueError(f"{path} has no conditional cells for n = {n}, p = {p}, k = {k}")
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "law"
    alt = table.drop(index="gaussian")
    table.attrs.update(size=float(table.loc["gaussian", "combined"]),
                       spectral_max=float(alt[list(STATISTICS[:4])].to_numpy().max()),
                       norm_spread_min=float(alt["norm_spread"].min()))
    return table
