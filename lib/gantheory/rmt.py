"""Gram matrices of concentrated mixtures: random matrix theory for Part II.

Conventions
-----------
The book's math writes the data as columns,
:math:`X = [x_1, \\dots, x_n] \\in \\mathbb R^{p\\times n}`, and studies
:math:`G = X^\\top X / p` (:math:`n\\times n`).
In code, samples are **rows**: a data array has shape ``(n, p)`` and ``gram(features)``
returns ``features @ features.T / p``.
Class ``l`` has proportion :math:`c_\\ell = n_\\ell / n`, mean :math:`m_\\ell` and covariance
:math:`C_\\ell`; covariances are given as ``(p, p)`` arrays or as ``(p,)`` arrays of diagonal
entries.

Main results implemented here:

- the limiting eigenvalue density of :math:`G` for a ``k``-class mixture
  (:func:`gram_spectral_density`), from the deterministic equivalent of the resolvent of
  :math:`S = XX^\\top/n`:
  :math:`\\bar Q(z) = (\\sum_\\ell c_\\ell C_\\ell/(1+\\delta_\\ell(z)) - zI_p)^{-1}`,
  :math:`\\delta_\\ell(z) = \\frac1n\\operatorname{tr} C_\\ell\\bar Q(z)`;
  the nonzero eigenvalues of :math:`G` are those of :math:`\\frac np S`;
- isolated eigenvalues ("spikes") and eigenvector alignments created by the class means, for
  isotropic noise (:func:`spike_theory`);
- the Gaussian-mixture surrogate with the same first two moments
  (:func:`gaussian_mixture_surrogate`), spectral distances and spectral clustering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.stats as st
from scipy.optimize import linear_sum_assignment

from gantheory._checks import as_labels, as_samples, check_int
from gantheory.config import ConvergenceError

__all__ = [
    "gram",
    "gram_spectral_density",
    "gram_zero_mass",
    "spectrum_grid",
    "marchenko_pastur_density",
    "GaussianMixtureSurrogate",
    "gaussian_mixture_surrogate",
    "class_sizes",
    "ResolventEquivalent",
    "resolvent_equivalent",
    "SpikeTheory",
    "spike_theory",
    "ks_distance",
    "ks_against_density",
    "ks_check",
    "replicate_check",
    "prediction_check",
    "rate_check",
    "edge_check",
    "null_alignment_check",
    "top_eigenvectors",
    "indicator_alignment",
    "spectral_clustering",
    "clustering_accuracy",
    "ClusteringTheory",
    "spectral_clustering_theory",
    "CentroidTheory",
    "centroid_classifier",
    "centroid_classifier_theory",
    "SurrogateComparison",
    "compare_with_surrogate",
    "downstream_accuracies",
]


# --------------------------------------------------------------------------- validation


def _check_proportions(proportions, k: int) -> np.ndarray:
    c = np.asarray(proportions, dtype=np.float64)
    if c.shape != (k,):
        raise ValueError(f"proportions must have shape ({k},) (one per class), got {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0) or abs(c.sum() - 1.0) > 1e-8:
        raise ValueError(f"proportions must be non-negative and sum to 1, got {c}")
    return c


def _check_covariances(covariances) -> tuple[list[np.ndarray], bool, int]:
    """List of covariances, whether all are given as diagonals, and the dimension p."""
    covs = list(covariances)  # a sequence, or a stacked (k, p) / (k, p, p) array
    if not covs:
        raise ValueError("at least one covariance is needed")
    covs = [np.asarray(c, dtype=np.float64) for c in covs]
    diag = all(c.ndim == 1 for c in covs)
    p = covs[0].shape[0]
    for i, c in enumerate(covs):
        if not np.all(np.isfinite(c)):
            raise ValueError(f"covariance {i} contains NaN or infinite entries")
        if c.ndim == 1:
            if c.shape != (p,):
                raise ValueError(f"covariance {i} has shape {c.shape}, expected ({p},)")
            if np.any(c < 0):
                raise ValueError(f"covariance {i} has negative diagonal entries (not PSD)")
        elif c.ndim == 2:
            if c.shape != (p, p):
                raise ValueError(f"covariance {i} has shape {c.shape}, expected ({p}, {p})")
            if not np.allclose(c, c.T, atol=1e-10 * max(1.0, np.abs(c).max())):
                raise ValueError(f"covariance {i} is not symmetric")
            lam_min = np.linalg.eigvalsh(c)[0]
            if lam_min < -1e-8 * max(1.0, np.abs(c).max()):
                raise ValueError(f"covariance {i} is not positive semi-definite "
                                 f"(smallest eigenvalue {lam_min:.3g})")
        else:
            raise ValueError(f"covariance {i} must be (p, p) or (p,), got shape {c.shape}")
    return covs, diag, p


# --------------------------------------------------------------------------- Gram matrices


def gram(features) -> np.ndarray:
    """Gram matrix :math:`G = X^\\top X / p` of ``features`` ``(n, p)`` (rows are samples).

    Returns ``(n, n)``."""
    x = as_samples(features, "features")
    return x @ x.T / x.shape[1]


def marchenko_pastur_density(x, ratio: float, variance: float = 1.0, *,
                             eta: float = 0.0) -> np.ndarray:
    """Closed-form Marchenko-Pastur density of :math:`S = XX^\\top/n` for i.i.d. entries.

    ``ratio`` is :math:`p/n \\in (0, 1]`, ``variance`` the entries' variance; the law is supported
    on :math:`\\sigma^2(1\\pm\\sqrt{ratio})^2`. Used to test :func:`gram_spectral_density`.
    With ``eta > 0``, returns instead :math:`\\operatorname{Im} m(x + i\\eta)/\\pi`, the density
    smoothed by a Cauchy kernel of width ``eta``, from the closed-form Stieltjes transform (the
    root with positive imaginary part of :math:`\\sigma^2\\gamma z m^2 - (\\sigma^2(1-\\gamma) - z)m
    + 1 = 0`): what :func:`gram_spectral_density` computes at the same ``eta``.
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    if not math.isfinite(eta) or eta < 0:
        raise ValueError(f"eta must be finite and >= 0, got {eta}")
    x = np.asarray(x, dtype=np.float64)
    if eta > 0:
        z = x + 1j * eta
        a2, b1 = variance * ratio * z, variance * (1 - ratio) - z
        root = np.sqrt(b1 * b1 - 4 * a2)
        m = np.where(((b1 + root) / (2 * a2)).imag > 0, (b1 + root) / (2 * a2),
                     (b1 - root) / (2 * a2))
        return np.maximum(m.imag, 0.0) / math.pi
    a, b = variance * (1 - math.sqrt(ratio)) ** 2, variance * (1 + math.sqrt(ratio)) ** 2
    inside = (x > a) & (x < b)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = np.sqrt((b - xi) * (xi - a)) / (2 * math.pi * variance * ratio * xi)
    return out


def _reduce_to_spectra(covs: list[np.ndarray], diag: bool) -> np.ndarray | None:
    """``(k, p)`` eigenvalues in a common eigenbasis, or ``None`` if the covariances do not
    commute."""
    reduced = _reduce_with_basis(covs, diag)
    return None if reduced is None else reduced[0]


class _DiagonalSolver:
    """Fixed-point equations when the covariances share an eigenbasis: O(k p) per step.

    ``step`` returns ``T(delta)``, its Jacobian, the Stieltjes transform ``m`` and ``dm/ddelta``.
    All sums over eigenvalues are two matrix-vector products with precomputed weights.
    """

    def __init__(self, lam: np.ndarray, c: np.ndarray, n: int) -> None:
        keep = lam.max(axis=0) > 0  # directions outside every covariance's range carry nothing
        lam = lam[:, keep]
        # identical eigenvalue profiles contribute identical terms: merge them (exact)
        profiles, counts = np.unique(lam, axis=1, return_counts=True)
        k = profiles.shape[0]
        self.lam, self.c, self.n, self.k = profiles, c, n, k
        self.p_eff = int(keep.sum())
        self.eye = np.eye(k)
        w = counts.astype(np.float64)
        self.iu = np.triu_indices(k)
        # rows: sum_j w_j (.)_j, then sum_j w_j lam_lj (.)_j        -> m and T from q
        self.lu = np.vstack([w, profiles * w]).astype(np.complex128)
        # rows: sum_j w_j lam_lj (.)_j, then sum_j w_j lam_lj lam_mj (.)_j (l <= m) -> from q^2
        pairs = profiles[self.iu[0]] * profiles[self.iu[1]]
        self.lv = np.vstack([profiles * w, pairs * w]).astype(np.complex128)
        self.lam_c = profiles.astype(np.complex128)

    def step(self, delta: np.ndarray, z: complex, jacobian: bool):
        coef = self.c / (1 + delta)
        q = 1.0 / (coef @ self.lam_c - z)
        sums = self.lu @ q
        m, t = sums[0] / self.p_eff, sums[1:] / self.n
        if not jacobian:
            return t, None, m, None
        r = self.lv @ (q * q)
        dcoef = self.c / (1 + delta) ** 2
        jac = np.empty((self.k, self.k), dtype=np.complex128)
        jac[self.iu] = r[self.k:]
        jac[self.iu[1], self.iu[0]] = r[self.k:]
        return t, jac * (dcoef / self.n), m, r[: self.k] * dcoef / self.p_eff


class _DenseSolver:
    """Fixed-point equations for general covariances: O(k p^3) per step."""

    def __init__(self, covs: list[np.ndarray], c: np.ndarray, n: int) -> None:
        mats = np.stack([np.diag(m) if m.ndim == 1 else m for m in covs])
        total = np.tensordot(c, mats, axes=1)
        evals, basis = np.linalg.eigh(total)
        keep = evals > 1e-12 * max(1.0, evals.max())
        basis = basis[:, keep]  # restrict to the range of sum_l c_l C_l
        self.mats = np.einsum("ij,ljk,km->lim", basis.T, mats, basis)
        self.c, self.n, self.p_eff = c, n, int(keep.sum())
        self.eye_p = np.eye(self.p_eff)
        self.eye = np.eye(len(covs))

    def step(self, delta: np.ndarray, z: complex, jacobian: bool):
        coef = self.c / (1 + delta)
        q = np.linalg.inv(np.tensordot(coef, self.mats, axes=1) - z * self.eye_p)
        a = self.mats @ q  # C_l Q, shape (k, p, p)
        t = np.einsum("lii->l", a) / self.n
        m = np.trace(q) / self.p_eff
        if not jacobian:
            return t, None, m, None
        k = a.shape[0]
        dcoef = self.c / (1 + delta) ** 2
        jac = a.reshape(k, -1) @ a.transpose(0, 2, 1).reshape(k, -1).T  # tr(C_l Q C_m Q)
        grad_m = np.einsum("ij,lji->l", q, a) * dcoef / self.p_eff  # tr(Q C_l Q)
        return t, jac / self.n * dcoef, m, grad_m


def _newton(solver, z: complex, delta: np.ndarray, tol: float, max_iter: int = 40):
    """Newton's method on delta - T(delta) = 0; returns (delta, m) or None if it fails.

    Newton converges quadratically, so once a step is below ``sqrt(tol)`` the new iterate is
    within about ``tol`` of the solution: it is accepted without a further step, and ``m`` is
    carried to it to first order (error of order ``tol``).
    """
    for _ in range(max_iter):
        t, jac, m, grad_m = solver.step(delta, z, True)
        try:
            change = -_solve_small(solver.eye - jac, delta - t)
        except np.linalg.LinAlgError:
            return None
        new = delta + change
        size = np.abs(change).max()
        if not math.isfinite(size):
            return None
        if size * size <= tol * (1.0 + np.abs(new).max()):
            m = m + grad_m @ change
            # the Stieltjes transform of a measure maps C+ to C+: reject the other branch
            if m.imag < -1e-10 * abs(m) or np.any(new.imag < -1e-8 * (1 + np.abs(new))):
                return None
            return new, m
        delta = new
    return None


def _fixed_point(solver, z: complex, delta: np.ndarray, tol: float, max_iter: int):
    """Damped fixed-point iteration (slow near the real axis, but stays in C+)."""
    for _ in range(max_iter):
        t, _, m, _ = solver.step(delta, z, False)
        new = 0.5 * delta + 0.5 * t
        if np.max(np.abs(new - delta)) <= tol * (1.0 + np.max(np.abs(new))):
            return new, solver.step(new, z, False)[2]
        delta = new
    return None


def _solve(solver, z: complex, warm: np.ndarray | None, scale: float, tol: float,
           max_iter: int) -> tuple[np.ndarray, complex]:
    if warm is not None:
        out = _newton(solver, z, warm, tol)
        if out is not None:
            return out
    # continuation from far above the real axis, where the fixed point is easy
    delta = np.zeros(solver.c.size, dtype=np.complex128)
    etas = np.geomspace(max(scale, z.imag), z.imag, 12)
    for eta in etas:
        zz = complex(z.real, eta)
        out = _newton(solver, zz, delta, tol)
        if out is None:
            out = _fixed_point(solver, zz, delta, tol, max_iter)
        if out is None:
            raise ConvergenceError(
                f"the fixed point did not converge at z = {zz:.6g} within {max_iter} "
                "iterations; try a larger eta or max_iter")
        delta = out[0]
    return out


def _make_solver(covariances, proportions, n: int):
    """Validated inputs and the solver for them: ``(solver, covariances, proportions, p)``."""
    n = check_int(n, "n", 1)
    covs, diag, p = _check_covariances(covariances)
    c = _check_proportions(proportions, len(covs))
    spectra = _reduce_to_spectra(covs, diag)
    solver = _DiagonalSolver(spectra, c, n) if spectra is not None else _DenseSolver(covs, c, n)
    return solver, covs, c, p


def _predict(history: list[tuple[float, np.ndarray]], s: float) -> np.ndarray | None:
    """Warm start at ``s``: Lagrange extrapolation through the last (up to 3) solutions."""
    if len(history) == 3:
        (s0, d0), (s1, d1), (s2, d2) = history
        if s0 < s1 < s2 < s:
            return (d0 * ((s - s1) * (s - s2) / ((s0 - s1) * (s0 - s2)))
                    + d1 * ((s - s0) * (s - s2) / ((s1 - s0) * (s1 - s2)))
                    + d2 * ((s - s0) * (s - s1) / ((s2 - s0) * (s2 - s1))))
    if len(history) >= 2:
        (s1, d1), (s2, d2) = history[-2:]
        if s1 < s2 < s:
            return d2 + (d2 - d1) * ((s - s2) / (s2 - s1))
    return history[-1][1] if history else None


def _solve_small(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve a x = b for the k x k Newton systems (closed form for k <= 2: no LAPACK overhead)."""
    if a.shape[0] == 1:
        return b / a[0, 0]
    if a.shape[0] == 2:
        det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
        return np.array([a[1, 1] * b[0] - a[0, 1] * b[1], a[0, 0] * b[1] - a[1, 0] * b[0]]) / det
    if a.shape[0] == 3:  # adjugate formula on Python scalars
        (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = a.tolist()
        b0, b1, b2 = b.tolist()
        c00, c01, c02 = a11 * a22 - a12 * a21, a12 * a20 - a10 * a22, a10 * a21 - a11 * a20
        c10, c11, c12 = a02 * a21 - a01 * a22, a00 * a22 - a02 * a20, a01 * a20 - a00 * a21
        c20, c21, c22 = a01 * a12 - a02 * a11, a02 * a10 - a00 * a12, a00 * a11 - a01 * a10
        det = a00 * c00 + a01 * c01 + a02 * c02
        if det == 0:
            raise np.linalg.LinAlgError("singular Newton system")
        return np.array([c00 * b0 + c10 * b1 + c20 * b2, c01 * b0 + c11 * b1 + c21 * b2,
                         c02 * b0 + c12 * b1 + c22 * b2]) / det
    return np.linalg.solve(a, b)


def gram_spectral_density(x, covariances, proportions, n: int, *, eta: float | None = None,
                          tol: float = 1e-8, max_iter: int = 20_000) -> np.ndarray:
    """Limiting eigenvalue density of :math:`G = X^\\top X/p` for a ``k``-class mixture.

    Parameters
    ----------
    x : array ``(m,)``
        Points (eigenvalues of :math:`G`) where the density is evaluated; any order.
    covariances : sequence of ``k`` arrays, each ``(p, p)`` or ``(p,)`` (diagonal entries)
        Class covariances :math:`C_\\ell` (PSD). The class means do not enter the bulk density.
    proportions : array ``(k,)``
        Class proportions :math:`c_\\ell` (non-negative, summing to 1).
    n : int
        Number of samples (columns of :math:`X`); :math:`p` is the covariances' dimension.
    eta : float, optional
        Distance to the real axis at which the Stieltjes transform is evaluated, in units of
        :math:`S`'s eigenvalues (default ``1e-7`` times the mean population eigenvalue). The
        result is the density smoothed by a Cauchy kernel of that width.

    Returns
    -------
    array ``(m,)``
        Density of the absolutely continuous part. Its integral is :math:`\\min(r, n)/n` with
        :math:`r` the rank of :math:`\\sum_\\ell c_\\ell C_\\ell` (``p`` for nonsingular
        covariances); the rest is the atom of :math:`G` at 0.

    The fixed point is solved by Newton's method, warm-started from the previous grid point (the
    grid is visited in increasing order), with a continuation in ``eta`` from far above the real
    axis when Newton fails. When the covariances are diagonal or commute, the traces are sums
    over their common eigenvalues: O(k p) per iteration (O(k p^3) otherwise). Raises
    :class:`~gantheory.ConvergenceError` when the equations cannot be solved to ``tol``.
    """
    pts = np.asarray(x, dtype=np.float64)
    if pts.ndim != 1 or pts.size == 0 or not np.all(np.isfinite(pts)):
        raise ValueError("x must be a non-empty 1-D array of finite points")
    solver, covs, c, p = _make_solver(covariances, proportions, n)
    p_eff = solver.p_eff
    if p_eff == 0:
        return np.zeros_like(pts)
    scale = float(sum(cl * (np.sum(m) if m.ndim == 1 else np.trace(m)) for cl, m in
                      zip(c, covs, strict=True)) / p_eff)
    eta = 1e-7 * scale if eta is None else float(eta)
    if not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be positive, got {eta}")
    atom = max(0.0, 1.0 - n / p_eff)  # mass of S's eigenvalue 0
    out = np.zeros_like(pts)
    order = np.argsort(pts)
    history: list[tuple[float, np.ndarray]] = []  # last solutions, for a polynomial predictor
    for idx in order:
        t = pts[idx]
        if t <= 0:
            continue
        s = t * p / n  # eigenvalue of S = (p/n) * eigenvalue of G
        delta, m = _solve(solver, complex(s, eta), _predict(history, s), scale, tol, max_iter)
        history = [*history[-2:], (s, delta)]
        dens_s = m.imag / math.pi - atom * eta / (math.pi * (s * s + eta * eta))
        out[idx] = max(0.0, dens_s) * p_eff * p / n**2
    return out


def gram_zero_mass(covariances, proportions, n: int) -> float:
    """Mass of the atom at 0 of the limiting spectrum of :math:`G` (normalized by ``n``):
    :math:`1 - \\min(r, n)/n`, with :math:`r` the rank of :math:`\\sum_\\ell c_\\ell C_\\ell` as
    :func:`gram_spectral_density` computes it (so the two add up to one)."""
    solver = _make_solver(covariances, proportions, n)[0]
    return 1.0 - min(solver.p_eff, n) / n


def spectrum_grid(top: float, points: int = 400) -> np.ndarray:
    """Increasing grid on ``(0, top]`` for limiting densities: geometric near 0 (where spectra
    of ill-conditioned covariances pile up) and uniform above ``0.02 * top``."""
    if not math.isfinite(top) or top <= 0 or points < 20:
        raise ValueError("top must be positive and points >= 20")
    low = np.geomspace(1e-7 * top, 0.02 * top, points // 3, endpoint=False)
    return np.concatenate([[0.0], low, np.linspace(0.02 * top, top, points - points // 3 - 1)])


# --------------------------------------------------------------------------- surrogate


@dataclass(frozen=True)
class GaussianMixtureSurrogate:
    """Gaussian mixture with given per-class moments.

    ``classes`` ``(k,)`` labels, ``means`` ``(k, p)``, ``covariances`` ``(k, p, p)``,
    ``proportions`` ``(k,)``, ``counts`` ``(k,)`` samples the moments were estimated from.
    """

    classes: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    proportions: np.ndarray
    counts: np.ndarray

    def sample(self, n: int, seed: int, proportions=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` samples ``(n, p)`` and their labels ``(n,)``, classes in blocks.

        Class sizes are ``n * proportions`` rounded by largest remainder (so they sum to ``n``);
        ``x = m_l + C_l^{1/2} g`` with ``g ~ N(0, I_p)`` and the PSD square root.
        """
        n = check_int(n, "n", 1)
        c = self.proportions if proportions is None else \
            _check_proportions(proportions, self.classes.size)
        sizes = class_sizes(n, c)
        rng = np.random.default_rng(seed)
        xs, ys = [], []
        for label, mean, root, size in zip(self.classes, self.means, self.roots, sizes,
                                           strict=True):
            xs.append(mean + rng.standard_normal((size, mean.size)) @ root.T)
            ys.append(np.full(size, label))
        return np.concatenate(xs), np.concatenate(ys)

    @cached_property
    def roots(self) -> np.ndarray:
        """PSD square roots ``(k, p, p)`` of the covariances (computed once, by ``eigh``)."""
        out = np.empty_like(self.covariances, dtype=np.float64)
        for i, cov in enumerate(self.covariances):
            evals, evecs = np.linalg.eigh(cov)
            out[i] = evecs * np.sqrt(np.clip(evals, 0, None))
        return out


def class_sizes(n: int, proportions) -> np.ndarray:
    """Integer class sizes summing to ``n``, proportional to ``proportions`` (largest remainder)."""
    c = np.asarray(proportions, dtype=np.float64)
    raw = n * c
    sizes = np.floor(raw).astype(int)
    sizes[np.argsort(-(raw - sizes), kind="stable")[: n - sizes.sum()]] += 1
    return sizes


def gaussian_mixture_surrogate(features, labels) -> GaussianMixtureSurrogate:
    """Per-class means, covariances and proportions of ``features`` ``(N, p)`` with ``labels``
    ``(N,)``: the Gaussian mixture "with the same first two moments".

    Covariances are the unbiased sample covariances (``ddof=1``); each class needs at least two
    samples. Draw from it with :meth:`GaussianMixtureSurrogate.sample`.
    """
    x = as_samples(features, "features")
    lab = as_labels(labels, x.shape[0])
    classes, counts = np.unique(lab, return_counts=True)
    if np.any(counts < 2):
        found = dict(zip(classes.tolist(), counts.tolist(), strict=True))
        raise ValueError(f"every class needs at least 2 samples, got counts {found}")
    means = np.stack([x[lab == k].mean(axis=0) for k in classes])
    covs = np.stack([np.cov(x[lab == k], rowvar=False, ddof=1).reshape(x.shape[1], x.shape[1])
                     for k in classes])
    return GaussianMixtureSurrogate(classes, means, covs, counts / counts.sum(), counts)


# --------------------------------------------------------------------------- resolvent with means


def _reduce_with_basis(covs: list[np.ndarray], diag: bool):
    """``(spectra (k, p), basis (p, p) or None)`` for diagonal (``basis`` None) or commuting
    covariances, or ``None`` when they do not commute."""
    if diag:
        return np.stack(covs), None
    mats = [np.diag(c) if c.ndim == 1 else c for c in covs]
    weights = np.random.default_rng(0).uniform(1.0, 2.0, len(mats))
    _, basis = np.linalg.eigh(sum(w * m for w, m in zip(weights, mats, strict=True)))
    spectra = []
    for m in mats:
        rotated = basis.T @ m @ basis
        off = rotated - np.diag(np.diag(rotated))
        if np.linalg.norm(off) > 1e-8 * max(1.0, np.linalg.norm(m)):
            return None
        spectra.append(np.diag(rotated).copy())
    return np.stack(spectra), basis


class _MeanModel:
    """A mixture (means, covariances, proportions, n) prepared for the resolvent with means.

    Holds the bulk solver (for the ``delta_l``) and what is needed to evaluate the ``k x k``
    matrix :math:`A(z) = M^\\top \\bar{\\mathcal Q}_0(z) M` of the class means against the
    ``p x p`` deterministic equivalent of the centred part: the means rotated once into the
    covariances' common eigenbasis (O(k p) per ``z`` afterwards), or, for covariances that do
    not commute, the covariance matrices themselves (one ``p x p`` solve per ``z``).
    """

    def __init__(self, means, covariances, proportions, n: int, noise_variance: float = 1.0):
        m = as_samples(means, "means")
        k, p = m.shape
        n = check_int(n, "n", 1)
        if covariances is None:
            if not math.isfinite(noise_variance) or noise_variance <= 0:
                raise ValueError(f"noise_variance must be positive, got {noise_variance}")
            covariances = [np.full(p, float(noise_variance))] * k
        elif noise_variance != 1.0:
            raise ValueError("noise_variance is only used when covariances is None")
        covs, diag, p_cov = _check_covariances(covariances)
        if len(covs) != k:
            raise ValueError(f"covariances must have one entry per class ({k} means), "
                             f"got {len(covs)}")
        if p_cov != p:
            raise ValueError(f"means have p = {p}, covariances p = {p_cov}")
        c = _check_proportions(proportions, k)
        if np.any(c == 0):
            raise ValueError("every class needs a positive proportion")
        self.means, self.covs, self.c, self.n, self.p, self.k = m, covs, c, n, p, k
        reduced = _reduce_with_basis(covs, diag)
        if reduced is not None:
            spectra, basis = reduced
            self.spectra = spectra
            self.rotated = m if basis is None else m @ basis  # (k, p)
            self.solver = _DiagonalSolver(spectra, c, n)
            self.dense = None
        else:
            self.spectra = None
            self.dense = np.stack([np.diag(x) if x.ndim == 1 else x for x in covs])
            self.solver = _DenseSolver(covs, c, n)
        self.scale = float(sum(cl * (np.sum(x) if x.ndim == 1 else np.trace(x)) for cl, x in
                               zip(c, covs, strict=True)) / max(self.solver.p_eff, 1))

    def complex_delta(self, s: float, warm=None) -> np.ndarray:
        """``delta`` at ``s + i eta`` with ``eta = 1e-10`` times the mean population
        eigenvalue: the physical branch (the limit from the upper half-plane), by the same
        Newton solver with continuation in ``eta`` as :func:`gram_spectral_density`. A
        warm-started solution with some ``Im delta_l <= 0`` is another root (on the physical
        branch every ``Im delta_l > 0`` when ``eta > 0``): it is solved again from far above
        the axis."""
        z = complex(s, 1e-10 * self.scale)
        d = _solve(self.solver, z, warm, self.scale, 1e-13, 20_000)[0]
        if warm is not None and np.any(d.imag <= 0):
            d = _solve(self.solver, z, None, self.scale, 1e-13, 20_000)[0]
        return d

    def real_delta(self, s: float) -> np.ndarray:
        """``delta`` at a real ``s`` right of the bulk (S's scale): the physical branch
        (:meth:`complex_delta`), polished by Newton in real numbers.
        ``ConvergenceError`` if ``s`` is inside the bulk."""
        d = self.complex_delta(s)  # no warm start: near the edge the two real roots are close
        if np.abs(d.imag).max() > 1e-5:
            raise ConvergenceError(f"s = {s:.6g} is inside the bulk (Im delta = "
                                   f"{np.abs(d.imag).max():.2g})")
        polished = self._valid(s, d.real.astype(np.complex128))
        return d.real.astype(np.complex128) if polished is None else polished

    def _valid(self, s: float, warm: np.ndarray):
        """Newton's solution at the real ``s`` from ``warm`` (at most 12 steps: the predictor
        is close) if it is a real solution with ``1 + delta > 0`` and ``det(I - dT/ddelta) > 0``,
        else ``None``."""
        out = _newton(self.solver, complex(s, 0.0), warm, 1e-14, max_iter=12)
        if out is None:
            return None
        d = out[0]
        if np.any(1 + d.real <= 0) or np.any(np.abs(d.imag) > 1e-8 * (1 + np.abs(d))):
            return None
        _, jac, _, _ = self.solver.step(d, complex(s, 0.0), True)
        if np.linalg.det(self.solver.eye - jac.real) <= 0:
            return None
        return d.real.astype(np.complex128)

    def delta(self, s: complex, tol: float = 1e-12, warm=None) -> np.ndarray:
        """``delta_l`` at ``s`` (the scale of :math:`S = XX^\\top/n`, ``s = z p / n``) for
        ``Im s > 0`` or ``s < 0``; ``Im s < 0`` by conjugation."""
        if self.solver.p_eff == 0:
            return np.zeros(self.k, dtype=np.complex128)
        if s.imag < 0:
            return np.conj(self.delta(np.conj(s), tol, warm))
        if s.imag == 0:
            start = np.zeros(self.k, dtype=np.complex128) if warm is None else warm
            out = _newton(self.solver, complex(s.real, 0.0), start, tol)
            if out is None:
                out = _fixed_point(self.solver, complex(s.real, 0.0), start, tol, 20_000)
            if out is None:
                raise ConvergenceError(f"the fixed point did not converge at s = {s:.6g}")
            return out[0]
        return _solve(self.solver, complex(s), warm, self.scale, tol, 20_000)[0]

    def mean_matrix(self, s: complex, delta: np.ndarray) -> np.ndarray:
        """:math:`A = M^\\top \\bar{\\mathcal Q}_0 M` ``(k, k)``, with
        :math:`\\bar{\\mathcal Q}_0 = \\frac pn(\\sum_l c_l C_l/(1+\\delta_l) - s I_p)^{-1}`."""
        coef = self.c / (1 + delta)
        if self.spectra is not None:
            q = 1.0 / (coef @ self.spectra - s)  # (p,) eigenvalues of the p x p inverse
            a = (self.rotated * q) @ self.rotated.T
        else:
            mat = np.tensordot(coef, self.dense, axes=1) - s * np.eye(self.p)
            a = self.means @ np.linalg.solve(mat, self.means.T)
        return a * (self.p / self.n)


@dataclass(frozen=True)
class ResolventEquivalent:
    """Deterministic equivalent :math:`\\bar Q(z)` of :math:`\\mathbb E[(G - zI_n)^{-1}]` for a
    ``k``-class mixture, with the samples ordered by class in blocks (see
    :func:`resolvent_equivalent`):

    .. math:: \\bar Q(z) = -\\frac1z \\operatorname{diag}
        \\Big(\\frac{1_{n_\\ell}}{1+\\delta_\\ell(z)}\\Big)_{\\ell}
        + \\frac1{pz} J \\Omega(z) J^\\top .

    ``z`` complex; ``sizes`` ``(k,)`` integer class sizes (the block layout of :meth:`matrix`);
    ``p``; ``delta`` ``(k,)``; ``diagonal`` ``(k,)`` the values :math:`-1/(z(1+\\delta_\\ell))`;
    ``omega`` ``(k, k)`` the matrix :math:`\\Omega(z)`. The formulas use the real class sizes
    :math:`n c_\\ell`; ``sizes`` rounds them (largest remainder) for the block layout.
    """

    z: complex
    sizes: np.ndarray
    p: int
    delta: np.ndarray
    diagonal: np.ndarray
    omega: np.ndarray

    @property
    def n(self) -> int:
        return int(self.sizes.sum())

    def _labels(self) -> np.ndarray:
        return np.repeat(np.arange(self.sizes.size), self.sizes)

    def matrix(self) -> np.ndarray:
        """The ``(n, n)`` complex matrix :math:`\\bar Q(z)` (classes in blocks)."""
        lab = self._labels()
        return (np.diag(self.diagonal[lab])
                + self.omega[np.ix_(lab, lab)] / (self.p * self.z))

    def bilinear(self, a, b=None) -> complex | np.ndarray:
        """:math:`a^\\top \\bar Q(z) b` for ``a`` ``(n,)`` or ``(n, r)`` and ``b`` likewise
        (``b`` defaults to ``a``): a scalar, or the ``(r, r2)`` matrix of forms. O(n r) work."""
        a = np.asarray(a, dtype=np.complex128)
        b = a if b is None else np.asarray(b, dtype=np.complex128)
        if a.shape[0] != self.n or b.shape[0] != self.n or a.ndim > 2 or b.ndim > 2:
            raise ValueError(f"a and b must have {self.n} rows (one per sample), got "
                             f"{a.shape} and {b.shape}")
        lab = self._labels()
        a2 = a.reshape(self.n, -1)
        b2 = b.reshape(self.n, -1)
        ja = np.stack([a2[lab == i].sum(axis=0) for i in range(self.sizes.size)])
        jb = np.stack([b2[lab == i].sum(axis=0) for i in range(self.sizes.size)])
        out = (a2 * self.diagonal[lab][:, None]).T @ b2 + ja.T @ self.omega @ jb / (self.p * self.z)
        return complex(out[0, 0]) if a.ndim == 1 and b.ndim == 1 else out

    def trace(self) -> complex:
        """Normalized trace :math:`\\frac1n \\operatorname{tr}\\bar Q(z)`, the Stieltjes
        transform of the limiting spectrum of :math:`G` at ``z``."""
        sizes = self.sizes.astype(np.float64)
        return complex((sizes @ self.diagonal + sizes @ np.diag(self.omega) / (self.p * self.z))
                       / self.n)

    def indicator_forms(self) -> np.ndarray:
        """``(k, k)`` forms :math:`j_a^\\top \\bar Q(z) j_b/\\sqrt{n_a n_b}` of the normalized
        class indicators."""
        lab = self._labels()
        ind = np.stack([(lab == i) / math.sqrt(s) for i, s in enumerate(self.sizes)], axis=1)
        return self.bilinear(ind, ind)


def _omega(model: _MeanModel, z: complex, delta: np.ndarray) -> np.ndarray:
    s = z * model.p / model.n
    a = model.mean_matrix(s, delta)
    lam = 1.0 / (1 + delta)
    b = model.n * model.c * lam / model.p  # diag of B = N Lambda / p
    # M^T Qbar M = A (I + B A)^{-1} = (I + A B)^{-1} A: no inverse of A (means may be
    # rank-deficient)
    mqm = np.linalg.solve(np.eye(model.k) + a * b[None, :], a)
    return lam[:, None] * mqm * lam[None, :]


def resolvent_equivalent(means, covariances, proportions, n: int, z) -> ResolventEquivalent:
    """Deterministic equivalent of the resolvent :math:`Q(z) = (G - zI_n)^{-1}` of
    :math:`G = X^\\top X/p` for a ``k``-class mixture, class means included.

    Parameters
    ----------
    means : array ``(k, p)``
        Class means :math:`m_\\ell` (rows).
    covariances : sequence of ``k`` arrays ``(p, p)`` or ``(p,)`` (diagonal entries)
        Class covariances :math:`C_\\ell`, as in :func:`gram_spectral_density`.
    proportions : array ``(k,)``
        Class proportions :math:`c_\\ell > 0`, summing to 1; class sizes :math:`n_\\ell = nc_\\ell`.
    n : int
        Number of samples.
    z : complex
        A point off the real half-line where the spectrum lives: ``Im z != 0`` or ``z < 0``.

    Returns
    -------
    ResolventEquivalent
        With :math:`\\delta_\\ell(z) = \\frac1p\\operatorname{tr} C_\\ell\\bar{\\mathcal Q}_0(z)`,
        :math:`\\bar{\\mathcal Q}_0(z) = (\\frac1p\\sum_\\ell n_\\ell C_\\ell/(1+\\delta_\\ell) -
        zI_p)^{-1}`, :math:`\\Lambda = \\operatorname{diag}(1/(1+\\delta_\\ell))`,
        :math:`N = \\operatorname{diag}(n_\\ell)`:

        .. math:: \\Omega(z) = \\Lambda M^\\top \\bar{\\mathcal Q}(z) M\\Lambda,\\qquad
            M^\\top\\bar{\\mathcal Q} M = (I_k + AB)^{-1}A,
            \\quad A = M^\\top \\bar{\\mathcal Q}_0 M, \\quad B = N\\Lambda/p,

        :math:`\\bar{\\mathcal Q} = (\\bar{\\mathcal Q}_0^{-1} + \\frac1p MN\\Lambda M^\\top)^{-1}`
        being the ``p x p`` equivalent with the means (Woodbury). Cost: O(k p) per ``z`` for
        diagonal or commuting covariances (after one rotation of the means), one ``p x p``
        solve per Newton step otherwise.
    """
    z = complex(z)
    if not (math.isfinite(z.real) and math.isfinite(z.imag)):
        raise ValueError(f"z must be finite, got {z}")
    if z.imag == 0 and z.real >= 0:
        raise ValueError(f"z must have a nonzero imaginary part or be a negative real, got {z}")
    model = _MeanModel(means, covariances, proportions, n)
    s = z * model.p / model.n
    delta = model.delta(s)
    return ResolventEquivalent(z=z, sizes=class_sizes(model.n, model.c), p=model.p, delta=delta,
                               diagonal=-1.0 / (z * (1 + delta)), omega=_omega(model, z, delta))


# --------------------------------------------------------------------------- spikes


@dataclass(frozen=True)
class SpikeTheory:
    """Isolated eigenvalues of :math:`G` and their eigenvectors (see :func:`spike_theory`).

    ``eigenvalues`` ``(r,)``: the limiting isolated eigenvalues, decreasing (``r <= k``, only
    those beyond the bulk); ``alignments`` ``(r,)``: the squared norm of the projection of the
    corresponding unit eigenvector of :math:`G` on the span of the class indicators;
    ``class_means`` ``(r, k)``: the eigenvector's mean entry on each class, times
    :math:`\\sqrt n` (signs: the first nonzero entry positive); ``bulk_edge``: the right edge
    of the bulk of :math:`G`; ``margins`` ``(k,)``: the eigenvalues of the ``k x k`` matrix
    :math:`H` at the edge (a negative one is a spike; near 0, the spike is at the transition).
    For isotropic noise (``covariances=None``) also ``theta`` ``(k,)`` and ``threshold``: the
    normalized singular values of the mean part and the Benaych-Georges-Nadakuditi transition
    value (``None`` otherwise).
    """

    eigenvalues: np.ndarray
    alignments: np.ndarray
    class_means: np.ndarray
    bulk_edge: float
    margins: np.ndarray
    theta: np.ndarray | None = None
    threshold: float | None = None


def _h_matrix(model: _MeanModel, rho: float):
    """``(H, delta)`` at the real point ``rho`` of :math:`G`'s scale right of the bulk:
    :math:`H = I_k + B^{1/2} A B^{1/2}`, symmetric real."""
    s = rho * model.p / model.n
    delta = model.real_delta(s)
    a = model.mean_matrix(complex(s, 0.0), delta).real
    b = np.sqrt(model.n * model.c / (model.p * (1 + delta.real)))
    h = np.eye(model.k) + b[:, None] * a * b[None, :]
    return (h + h.T) / 2, delta


def _edge(model: _MeanModel) -> tuple[float, np.ndarray]:
    """Right edge of the bulk of :math:`G` and ``delta`` there.

    At ``s + i eta`` with ``eta = 1e-10`` (relative), ``Im delta`` is of order ``eta`` right
    of the support and of order ``sqrt(distance)`` inside it: the edge is where it crosses
    ``1e-5 = sqrt(1e-10)``, located to about ``1e-9`` relative. A geometric scan (steps of 3%)
    from ``1.2 max ||C_l|| (1 + sqrt(p/n))^2`` (beyond the support) down finds the first point
    inside the bulk (warm-started; so the rightmost component, unless a gap narrower than 3%
    separates it), then bisection.
    """
    solver = model.solver
    if solver.p_eff == 0:
        return 0.0, np.zeros(model.k, dtype=np.complex128)
    ratio = solver.p_eff / model.n
    top = max(float(np.max(c)) if c.ndim == 1 else float(np.linalg.eigvalsh(c)[-1])
              for c in model.covs)
    def inside(d):
        return np.abs(d.imag).max() > 1e-5

    hi = 1.2 * top * (1 + math.sqrt(ratio)) ** 2  # beyond the support of S
    d_hi = model.complex_delta(hi)
    while inside(d_hi):  # pragma: no cover - the bound holds for PSD covariances
        hi *= 2
        d_hi = model.complex_delta(hi)
    lo = None
    for s in hi * np.geomspace(0.97, 1e-6, 460):
        d = model.complex_delta(s, d_hi)
        if inside(d):
            lo = s
            break
        hi, d_hi = s, d
    if lo is None:  # pragma: no cover - a nonzero covariance has a bulk
        raise ConvergenceError("no bulk found")
    while hi - lo > 1e-10 * hi:
        mid = 0.5 * (lo + hi)
        d = model.complex_delta(mid, d_hi)
        if inside(d):
            lo = mid
        else:
            hi, d_hi = mid, d
    return hi * model.n / model.p, d_hi.real.astype(np.complex128)


def _isotropic_reference(means, c, n, noise_variance):
    """Benaych-Georges & Nadakuditi (2012) for isotropic noise: ``(theta, threshold)``."""
    k, p = means.shape
    big, small = max(p, n), min(p, n)
    theta = np.linalg.svd(means.T * np.sqrt(n * c), compute_uv=False)
    return theta / math.sqrt(noise_variance * big), (small / big) ** 0.25


def spike_theory(means, proportions, n: int, covariances=None, noise_variance: float = 1.0
                 ) -> SpikeTheory:
    """Isolated eigenvalues of :math:`G = X^\\top X/p` and their eigenvectors' alignments with
    the class indicators, for a ``k``-class mixture with any class covariances.

    Parameters
    ----------
    means : array ``(k, p)``
        Class means (rows).
    proportions : array ``(k,)``
        Class proportions (positive, summing to 1).
    n : int
        Number of samples; ``p > n`` and ``p < n`` are both allowed.
    covariances : sequence of ``k`` arrays ``(p, p)`` or ``(p,)``, optional
        Class covariances as in :func:`gram_spectral_density` (diagonal, commuting or dense).
        Default: ``noise_variance`` times the identity for every class.

    Returns
    -------
    SpikeTheory

    Theory (derived in chapter 2 from :func:`resolvent_equivalent`). The poles of
    :math:`\\bar Q(z)` right of the bulk are the zeros of :math:`\\det H(\\rho)`,
    :math:`H = I_k + B^{1/2}AB^{1/2}` (``A``, ``B`` as in :func:`resolvent_equivalent`,
    real and symmetric there, increasing in :math:`\\rho`), so each negative eigenvalue of
    :math:`H` at the edge gives one isolated eigenvalue :math:`\\rho`. With :math:`v` the unit
    null vector of :math:`H(\\rho)` and :math:`h' = v^\\top H'(\\rho) v > 0`, the residue of
    :math:`\\bar Q` at :math:`\\rho` gives, for the unit eigenvector :math:`u`, the class sums
    :math:`J^\\top u = \\pm (N\\Lambda)^{1/2} v/\\sqrt{\\rho h'}`, hence the squared alignment
    :math:`v^\\top\\Lambda v/(\\rho h')` and ``class_means``. Spikes inside gaps of a bulk with
    several components are not searched for. For isotropic noise the result agrees with the
    closed form of Benaych-Georges & Nadakuditi (2012), whose ``theta`` and ``threshold`` are
    returned too.
    """
    model = _MeanModel(means, covariances, proportions, n, noise_variance)
    edge, d_edge = _edge(model)
    theta = threshold = None
    if covariances is None:
        theta, threshold = _isotropic_reference(model.means, model.c, model.n, noise_variance)
    if edge <= 0:
        raise ValueError("the covariances vanish: there is no bulk to stand out from")
    start = edge * (1 + 1e-9)
    h_edge, _ = _h_matrix(model, start)
    margins = np.linalg.eigvalsh(h_edge)
    r = int(np.sum(margins < 0))
    scale_hi = edge + 2 * model.n / model.p * float(
        np.linalg.norm(model.means.T * np.sqrt(model.c), 2) ** 2) + 1.0
    while np.linalg.eigvalsh(_h_matrix(model, scale_hi)[0])[0] <= 0:  # pragma: no cover
        scale_hi *= 2
    eigs, aligns, cmeans = [], [], []
    from scipy.optimize import brentq

    for i in range(r):
        def h_i(rho, i=i):
            return np.linalg.eigvalsh(_h_matrix(model, rho)[0])[i]

        rho = brentq(h_i, start, scale_hi, xtol=1e-11 * edge, rtol=1e-11, maxiter=300)
        h0, delta = _h_matrix(model, rho)
        w, vecs = np.linalg.eigh(h0)
        v = vecs[:, i]
        eps = 1e-6 * rho
        hp = (_h_matrix(model, rho + eps)[0] - _h_matrix(model, rho - eps)[0]) / (2 * eps)
        deriv = float(v @ hp @ v)
        lam = 1.0 / (1 + delta.real)
        eigs.append(rho)
        aligns.append(float(v @ (lam * v)) / (rho * deriv))
        sums = np.sqrt(model.c * lam) * v / math.sqrt(rho * deriv)  # J^T u / sqrt(n)
        cm = sums / model.c  # sqrt(n) x mean entry per class
        nz = np.flatnonzero(np.abs(cm) > 1e-12 * max(np.abs(cm).max(), 1e-300))
        if nz.size and cm[nz[0]] < 0:
            cm = -cm
        cmeans.append(cm)
    order = np.argsort(eigs)[::-1]
    return SpikeTheory(eigenvalues=np.asarray(eigs)[order], alignments=np.asarray(aligns)[order],
                       class_means=np.asarray(cmeans).reshape(r, model.k)[order],
                       bulk_edge=float(edge), margins=margins, theta=theta, threshold=threshold)


# --------------------------------------------------------------------------- distances


def ks_distance(eigs_a, eigs_b) -> float:
    """Two-sample Kolmogorov-Smirnov distance between two empirical spectra (1-D arrays).

    Eigenvalues below ``1e-9`` times the largest magnitude of either spectrum count as exact
    zeros: rounding noise (of either sign) in the atom at 0 would otherwise decide the distance.
    """
    a = np.asarray(eigs_a, dtype=np.float64)
    b = np.asarray(eigs_b, dtype=np.float64)
    for name, v in (("eigs_a", a), ("eigs_b", b)):
        if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be a non-empty finite 1-D array")
    floor = 1e-9 * max(np.abs(a).max(), np.abs(b).max(), 1e-300)
    a = np.where(np.abs(a) < floor, 0.0, a)
    b = np.where(np.abs(b) < floor, 0.0, b)
    return float(st.ks_2samp(a, b, method="asymp").statistic)


def ks_against_density(eigs, x, density, *, atom: float = 0.0) -> float:
    """Kolmogorov-Smirnov distance between an empirical spectrum and a limiting law.

    The law has an atom of mass ``atom`` at 0 and density ``density`` on the increasing grid
    ``x`` (its CDF is integrated by the trapezoid rule). The grid must carry the whole law:
    ``atom + integral`` must be 1 within 0.01 (else ``ValueError``). Eigenvalues below
    ``1e-9 * max(eigs)`` count as zeros.
    """
    e = np.sort(np.asarray(eigs, dtype=np.float64))
    xs = np.asarray(x, dtype=np.float64)
    f = np.asarray(density, dtype=np.float64)
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)):
        raise ValueError("eigs must be a non-empty finite 1-D array")
    if xs.ndim != 1 or xs.shape != f.shape or xs.size < 2 or np.any(np.diff(xs) <= 0):
        raise ValueError("x must be increasing and density must have the same shape")
    if not 0 <= atom <= 1:
        raise ValueError(f"atom must be in [0, 1], got {atom}")
    cdf = np.concatenate([[0.0], np.cumsum(np.diff(xs) * (f[1:] + f[:-1]) / 2)])
    total = atom + cdf[-1]
    if abs(total - 1) > 0.01:
        raise ValueError(f"the law has mass {total:.4f} on the grid, not 1: widen the grid "
                         "or refine it")
    e = np.where(np.abs(e) < 1e-9 * max(np.abs(e).max(), 1e-300), 0.0, e)
    values, counts = np.unique(e, return_counts=True)  # ties (the zeros) handled exactly
    emp_right = np.cumsum(counts) / e.size
    emp_left = emp_right - counts / e.size
    cont = np.interp(values, xs, cdf, left=0.0, right=cdf[-1])
    law_right = (atom * (values >= 0) + cont) / total
    law_left = (atom * (values > 0) + cont) / total
    return float(max(np.max(np.abs(emp_right - law_right)), np.max(np.abs(emp_left - law_left))))


def _continuous_part(eigs, name: str, zero_floor: float) -> np.ndarray:
    """The sorted eigenvalues of ``eigs`` whose magnitude exceeds ``zero_floor`` times the
    largest one (the others are the atom at 0, up to rounding)."""
    e = np.asarray(eigs, dtype=np.float64)
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)):
        raise ValueError(f"{name} must be a non-empty finite 1-D array")
    top = np.abs(e).max()
    kept = np.sort(e[np.abs(e) > zero_floor * top]) if top > 0 else e[:0]
    if kept.size < 2:
        raise ValueError(f"{name} has {kept.size} non-zero eigenvalue(s): nothing to test")
    return kept


def ks_check(eigenvalues, density=None, *, x=None, cdf=None, sample=None, level: float = 0.01,
             mass: float | None = None, zero_floor: float = 1e-9) -> dict:
    """Kolmogorov-Smirnov check of the continuous part of a spectrum, as a claim's numbers.

    The spectrum of :math:`G = X^\\top X/p` with ``n > p`` has an atom of ``n - p`` exact zeros;
    a KS distance over all ``n`` eigenvalues is diluted by it (the atom matches by
    construction). This check drops the atom and compares the ``m`` non-zero eigenvalues with
    the law's continuous part, renormalized to mass one, against the KS critical value for
    ``m`` points.

    Parameters
    ----------
    eigenvalues : array ``(n,)``
        The empirical spectrum. Eigenvalues of magnitude at most ``zero_floor`` times the
        largest are the atom at 0 and are dropped; ``m`` eigenvalues remain (at least 2).
    density : array ``(g,)``, with ``x``
        The law's continuous part on the increasing grid ``x`` ``(g,)`` (e.g. from
        :func:`gram_spectral_density`, which leaves the atom out); its CDF is integrated by
        the trapezoid rule and divided by its total. Give ``mass`` (the continuous mass the
        grid should carry, e.g. ``1 - gram_zero_mass(...)``) to have the grid's coverage
        checked: ``ValueError`` unless the integral is within 0.01 of it.
    cdf : callable, instead of ``density``
        CDF of the continuous part (a law on ``(0, inf)`` of mass one), vectorized.
    sample : array ``(n2,)``, instead of ``density``
        A second spectrum (e.g. of a surrogate); its atom is dropped too and the two-sample
        statistic is compared with the asymptotic two-sample critical value
        :math:`c_\\alpha\\sqrt{(m+m_2)/(m m_2)}`.
    level : float in (0, 1)
        Level of the critical value (default 1%).

    Returns
    -------
    dict
        ``measured`` (the KS statistic of the continuous parts), ``reference`` (``0.0``, the
        distance between the laws the claim asserts), ``relation`` (``"<="``), ``tolerance``
        (the critical value: ``scipy.stats.kstwo.ppf(1 - level, m)``, exact for ``m`` i.i.d.
        draws, or the two-sample value) and ``basis`` (saying so, with ``m`` and the level): the
        keywords of :func:`gantheory.claims.claim`, to be passed as ``**ks_check(...)``.

    The critical value is that of ``m`` independent draws. Eigenvalues of a random matrix
    repel each other and fluctuate much less than independent draws (bulk eigenvalues by
    about :math:`\\log n / n`, not :math:`n^{-1/2}`), so at a size where the limiting law is
    accurate the statistic lies well below it; a wrong law (a wrong ratio ``p/n``, a wrong
    covariance) misses by a constant and is rejected once ``m`` is a few hundred. A few
    isolated eigenvalues (spikes) outside the bulk move the statistic by at most their count
    over ``m``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not 0 <= zero_floor < 1:
        raise ValueError(f"zero_floor must be in [0, 1), got {zero_floor}")
    given = [density is not None, cdf is not None, sample is not None]
    if sum(given) != 1:
        raise ValueError("give exactly one of density (with x), cdf or sample")
    if (x is not None) != (density is not None):
        raise ValueError("x and density go together")
    e = _continuous_part(eigenvalues, "eigenvalues", zero_floor)
    m = e.size
    if sample is not None:
        s = _continuous_part(sample, "sample", zero_floor)
        stat = float(st.ks_2samp(e, s, method="asymp").statistic)
        crit = float(st.kstwobign.ppf(1 - level) * math.sqrt((m + s.size) / (m * s.size)))
        basis = (f"two-sample KS critical value at level {level:g} for the {m} and {s.size} "
                 "non-zero eigenvalues (atoms at 0 dropped; asymptotic c_alpha "
                 "sqrt((m1+m2)/(m1 m2)), i.i.d. draws: eigenvalues fluctuate less)")
        return dict(measured=stat, reference=0.0, relation="<=", tolerance=crit, basis=basis)
    if density is not None:
        xs = np.asarray(x, dtype=np.float64)
        f = np.asarray(density, dtype=np.float64)
        if (xs.ndim != 1 or xs.shape != f.shape or xs.size < 2 or np.any(np.diff(xs) <= 0)
                or not np.all(np.isfinite(f)) or np.any(f < 0)):
            raise ValueError("x must be increasing and density a non-negative finite array "
                             "of the same shape")
        cum = np.concatenate([[0.0], np.cumsum(np.diff(xs) * (f[1:] + f[:-1]) / 2)])
        total = cum[-1]
        if total <= 0:
            raise ValueError("the density has no mass on the grid")
        if mass is not None and abs(total - mass) > 0.01:
            raise ValueError(f"the density has mass {total:.4f} on the grid, not {mass:.4f}: "
                             "widen the grid or refine it")
        law = np.interp(e, xs, cum / total, left=0.0, right=1.0)
    else:
        law = np.asarray(cdf(e), dtype=np.float64)
        if law.shape != e.shape or not np.all(np.isfinite(law)):
            raise ValueError("cdf must map an array to finite values of the same shape")
    i = np.arange(1, m + 1)
    stat = float(max(np.max(i / m - law), np.max(law - (i - 1) / m)))
    crit = float(st.kstwo.ppf(1 - level, m))
    basis = (f"KS critical value at level {level:g} for the m = {m} non-zero eigenvalues "
             "against the law's continuous part renormalized (atom at 0 dropped; exact for "
             "i.i.d. draws, eigenvalues fluctuate less)")
    return dict(measured=stat, reference=0.0, relation="<=", tolerance=crit, basis=basis)


def replicate_check(simulated, reference, *, level: float = 0.01) -> dict:
    """Claim numbers for "replicated simulations agree with a reference", by Student's t.

    ``simulated`` ``(R, m)``: ``R >= 2`` independent replicates (seeds) of ``m`` quantities
    (e.g. a top eigenvalue at ``m`` signal strengths). ``reference`` is either ``(m,)``, the
    theory's values (one-sample t statistics :math:`(\\bar s_j - r_j)/(\\mathrm{sd}_j/\\sqrt R)`,
    ``R - 1`` degrees of freedom), or ``(R2, m)``, replicates of a second simulation (Welch's
    statistics, with the conservative ``min(R, R2) - 1`` degrees of freedom). The measured
    value is the largest ``|t_j|``; the tolerance is Student's two-sided critical value at
    ``level`` with a Bonferroni correction over the ``m`` quantities. Finite-size biases of
    order ``1/n`` are not in the tolerance: they are small next to fluctuations of order
    :math:`n^{-1/2}` over a handful of replicates. Returns the keywords of
    :func:`gantheory.claims.claim`.
    """
    a = np.asarray(simulated, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1 or not np.all(np.isfinite(a)):
        raise ValueError(f"simulated must be a finite (R, m) array with R >= 2, got {a.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    shape_ok = ref.shape == (a.shape[1],) or (ref.ndim == 2 and ref.shape[1] == a.shape[1]
                                              and ref.shape[0] >= 2)
    if not shape_ok or not np.all(np.isfinite(ref)):
        raise ValueError(f"reference must be finite, of shape ({a.shape[1]},) or "
                         f"(R2 >= 2, {a.shape[1]}), got {ref.shape}")
    r, m = a.shape
    var_a = a.var(axis=0, ddof=1) / r
    if ref.ndim == 1:
        se, diff, df = np.sqrt(var_a), a.mean(axis=0) - ref, r - 1
        what = f"one-sample t over {r} replicates"
    else:
        se = np.sqrt(var_a + ref.var(axis=0, ddof=1) / ref.shape[0])
        diff, df = a.mean(axis=0) - ref.mean(axis=0), min(r, ref.shape[0]) - 1
        what = f"Welch t, {r} and {ref.shape[0]} replicates, {df} degrees of freedom"
    if np.any(se <= 0):
        raise ValueError("the replicates do not vary: no standard error")
    crit = float(st.t.ppf(1 - level / (2 * m), df))
    return dict(measured=float(np.max(np.abs(diff) / se)), reference=0.0, relation="<=",
                tolerance=crit,
                basis=f"Student's critical value ({what}) at level {level:g}, Bonferroni over "
                      f"{m} quantities")


def prediction_check(simulated, predicted, predicted_se, *, level: float = 0.01) -> dict:
    r"""Claim numbers for "replicated simulations agree with a prediction that has its own
    Monte Carlo error": like :func:`replicate_check` with a one-sample reference, but the
    standard error of each difference adds the prediction's, :math:`\sqrt{s^2/R + e^2}`
    (``simulated`` ``(R, m)``, ``predicted`` and ``predicted_se`` ``(m,)``). The tolerance is
    Student's two-sided critical value with ``R - 1`` degrees of freedom at ``level``,
    Bonferroni over the ``m`` quantities (conservative: the prediction's error has many more
    degrees of freedom). Returns the keywords of :func:`gantheory.claims.claim`."""
    a = np.asarray(simulated, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    err = np.asarray(predicted_se, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"simulated must be a finite (R, m) array with R >= 2, got {a.shape}")
    m = a.shape[1]
    if pred.shape != (m,) or err.shape != (m,) or np.any(err < 0) or not (
            np.all(np.isfinite(pred)) and np.all(np.isfinite(err))):
        raise ValueError(f"predicted and predicted_se must be finite ({m},) arrays, "
                         "predicted_se >= 0")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    r = a.shape[0]
    se = np.sqrt(a.var(axis=0, ddof=1) / r + err**2)
    if np.any(se <= 0):
        raise ValueError("no standard error: the replicates do not vary and the prediction "
                         "is exact")
    crit = float(st.t.ppf(1 - level / (2 * m), r - 1))
    return dict(measured=float(np.max(np.abs(a.mean(axis=0) - pred) / se)), reference=0.0,
                relation="<=", tolerance=crit,
                basis=f"Student's critical value ({r} replicates, {r - 1} degrees of freedom, "
                      "standard error including the prediction's Monte Carlo error) at level "
                      f"{level:g}, Bonferroni over {m} quantities")


def rate_check(sizes, errors, slope: float, *, level: float = 0.01) -> dict:
    """Claim numbers for "the error decays like ``size ** slope``".

    ``sizes`` ``(m,)`` (at least 3 distinct values) and ``errors`` ``(m, R)``: ``R >= 1``
    replicate errors (positive) at each size. Least squares of ``log(error)`` on
    ``log(size)`` over all ``m R`` points; the measured value is the fitted slope, the
    reference ``slope``, and the tolerance Student's two-sided critical value at ``level``
    (``m R - 2`` degrees of freedom) times the slope's standard error from the residuals.
    Returns the keywords of :func:`gantheory.claims.claim` (relation ``"=="``).
    """
    n_ = np.asarray(sizes, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim == 1:
        e = e[:, None]
    if (n_.ndim != 1 or np.unique(n_).size < 3 or np.any(n_ <= 0) or e.shape[0] != n_.size
            or not np.all(np.isfinite(e)) or np.any(e <= 0)):
        raise ValueError("sizes must hold at least 3 distinct positive values and errors "
                         "positive finite values, one row per size")
    if not math.isfinite(slope):
        raise ValueError(f"slope must be finite, got {slope}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.repeat(np.log(n_), e.shape[1])
    y = np.log(e).ravel()
    if x.size < 3:  # pragma: no cover - guarded above
        raise ValueError("need at least 3 points")
    fit = st.linregress(x, y)
    df = x.size - 2
    crit = float(st.t.ppf(1 - level / 2, df))
    return dict(measured=float(fit.slope), reference=float(slope), relation="==",
                tolerance=crit * float(fit.stderr),
                basis=f"least-squares slope of log(error) on log(size) over {x.size} points, "
                      f"Student's critical value ({df} degrees of freedom, level {level:g}) "
                      "times its standard error")


def edge_check(eigenvalues, edge: float, *, lipschitz: float, level: float = 0.01,
               expect: str = "inside") -> dict:
    """Claim numbers for the largest eigenvalue of :math:`G` against the predicted right edge.

    For Gaussian data :math:`X = DZ` (``D`` fixed, ``Z`` standard Gaussian), the map
    :math:`Z \\mapsto \\sqrt{\\lambda_{\\max}(G)} = s_{\\max}(X)/\\sqrt p` is
    ``lipschitz``-Lipschitz with ``lipschitz`` :math:`= \\|D\\|/\\sqrt p` (the largest class
    standard deviation over :math:`\\sqrt p`), so by Gaussian concentration it exceeds its mean by
    :math:`t_\\alpha = L\\sqrt{2\\log(1/\\alpha)}` with probability at most ``level`` = α. Its mean
    is :math:`\\sqrt{\\text{edge}}` up to :math:`O(n^{-2/3})` (the Tracy-Widom mean is negative,
    so at finite size it lies below). The reference is :math:`\\sqrt{\\text{edge}} + t_\\alpha`;
    the measured value is :math:`\\sqrt{\\lambda_{\\max}}`. ``expect="inside"``: it is at most
    the reference; ``expect="outside"`` (data that are not concentrated): it is at least the
    reference, beyond anything Gaussian data with those covariances produce at this level.
    Returns the keywords of :func:`gantheory.claims.claim`.
    """
    e = np.asarray(eigenvalues, dtype=np.float64)
    if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)):
        raise ValueError("eigenvalues must be a non-empty finite 1-D array")
    for name, v in (("edge", edge), ("lipschitz", lipschitz)):
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if expect not in ("inside", "outside"):
        raise ValueError(f"expect must be 'inside' or 'outside', got {expect!r}")
    t_alpha = lipschitz * math.sqrt(2 * math.log(1 / level))
    return dict(measured=float(math.sqrt(max(e.max(), 0.0))),
                reference=math.sqrt(edge) + t_alpha,
                relation="<=" if expect == "inside" else ">=", tolerance=0.0,
                basis=f"Gaussian concentration of sqrt(lambda_max), {lipschitz:.3g}-Lipschitz, "
                      "about a mean at sqrt(edge) up to O(n^(-2/3)) (below it for i.i.d. "
                      "Gaussian entries, by Gordon's inequality): "
                      f"sqrt(edge) + {t_alpha:.3g} at level {level:.3g}")


def null_alignment_check(alignments, n: int, k: int, *, level: float = 0.01) -> dict:
    """Claim numbers for "the eigenvectors carry no information about the classes".

    ``alignments`` ``(R,)``: squared norms of the projections of ``R`` unit eigenvectors of
    :math:`\\mathbb R^n` on the ``k``-dimensional span of the class indicators
    (:func:`indicator_alignment`). For a direction independent of the classes (uniform on the
    sphere) that squared norm is Beta(k/2, (n-k)/2), of mean k/n. The measured value is the
    largest alignment; the reference is the Beta quantile at ``1 - level / R`` (Bonferroni over
    the ``R`` eigenvectors). Returns the keywords of :func:`gantheory.claims.claim`.
    """
    a = np.atleast_1d(np.asarray(alignments, dtype=np.float64))
    n, k = check_int(n, "n", 2), check_int(k, "k", 1)
    if k >= n:
        raise ValueError(f"k must be below n, got k = {k}, n = {n}")
    if (a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < -1e-12)
            or np.any(a > 1 + 1e-12)):
        raise ValueError("alignments must be a non-empty 1-D array of numbers in [0, 1]")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    q = float(st.beta.isf(level / a.size, k / 2, (n - k) / 2))
    return dict(measured=float(a.max()), reference=q, relation="<=", tolerance=0.0,
                basis=f"quantile of Beta({k}/2, ({n}-{k})/2), the squared projection of a "
                      f"uniform direction on a {k}-dimensional span, at level {level:g} "
                      f"(Bonferroni over {a.size} eigenvectors)")


# --------------------------------------------------------------------------- eigenvectors


def top_eigenvectors(g, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` eigenvalues ``(k,)`` (decreasing) and eigenvectors ``(n, k)`` of a symmetric
    ``(n, n)`` matrix. Signs are fixed so that each eigenvector has a positive sum (or, if the
    sum vanishes, a positive first nonzero entry): deterministic plots."""
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or not np.all(np.isfinite(g)):
        raise ValueError("g must be a finite square matrix")
    if not 1 <= k <= g.shape[0]:
        raise ValueError(f"k must be in [1, {g.shape[0]}], got {k}")
    if k <= 8 and g.shape[0] >= 200:  # Lanczos for a few top eigenpairs: much cheaper
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(0).standard_normal(g.shape[0])
        vals, vecs = eigsh(g, k=k, which="LA", v0=v0, tol=1e-12)
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
    else:
        vals, vecs = np.linalg.eigh(g)
        vals, vecs = vals[::-1][:k], vecs[:, ::-1][:, :k]
    return vals, _fix_signs(vecs)


def _fix_signs(vecs: np.ndarray) -> np.ndarray:
    """Flip each column of ``vecs`` ``(n, k)`` in place so that its sum is positive (or, if
    the sum vanishes, its first nonzero entry); returns ``vecs``."""
    for j in range(vecs.shape[1]):
        s = vecs[:, j].sum()
        if abs(s) < 1e-10:
            s = vecs[np.flatnonzero(np.abs(vecs[:, j]) > 1e-12)[0], j]
        vecs[:, j] *= np.sign(s)
    return vecs


def indicator_alignment(vectors, labels) -> np.ndarray:
    """Squared norm of the projection of each column of ``vectors`` ``(n, r)`` on the span of
    the class indicators of ``labels`` ``(n,)``: ``(r,)`` values in [0, 1] for unit vectors."""
    v = as_samples(vectors, "vectors")
    lab = as_labels(labels, v.shape[0])
    out = np.zeros(v.shape[1])
    for k in np.unique(lab):
        idx = lab == k
        out += v[idx].sum(axis=0) ** 2 / idx.sum()
    return out


def spectral_clustering(features, k: int, *, seed: int = 0, n_vectors: int | None = None
                        ) -> np.ndarray:
    """Cluster the rows of ``features`` ``(n, p)`` into ``k`` groups: k-means (scikit-learn,
    seeded, 10 restarts) on the top ``n_vectors`` (default ``k``) eigenvectors of
    :math:`G = X^\\top X/p`. Returns labels ``(n,)`` in ``0..k-1``."""
    from sklearn.cluster import KMeans

    k = check_int(k, "k", 1)
    n_vectors = k if n_vectors is None else check_int(n_vectors, "n_vectors", 1)
    _, vecs = top_eigenvectors(gram(features), n_vectors)
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vecs)


def clustering_accuracy(predicted, truth) -> float:
    """Accuracy of ``predicted`` cluster labels against ``truth`` under the best matching of
    clusters to classes (Hungarian algorithm)."""
    pred = np.asarray(predicted)
    true = np.asarray(truth)
    if pred.shape != true.shape or pred.ndim != 1 or pred.size == 0:
        raise ValueError("predicted and truth must be 1-D arrays of the same length")
    classes, true_idx = np.unique(true, return_inverse=True)
    clusters, pred_idx = np.unique(pred, return_inverse=True)
    table = np.zeros((clusters.size, classes.size))
    np.add.at(table, (pred_idx, true_idx), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / pred.size)


# --------------------------------------------------------------------------- classifiers


@dataclass(frozen=True)
class ClusteringTheory:
    """Predicted law of the spectral embedding and accuracy of :func:`spectral_clustering`
    (see :func:`spectral_clustering_theory`).

    ``spikes``: the :class:`SpikeTheory`; ``masses`` ``(r, k)``: the limiting mass
    :math:`\\sum_{i \\in \\ell} u_i^2` of each isolated eigenvector on each class;
    ``means`` ``(r, k)`` and ``variances`` ``(r, k)``: mean and variance of the entries of
    :math:`\\sqrt n\\, u` on each class; ``accuracy`` and ``accuracy_se``: the predicted
    clustering accuracy and its Monte Carlo standard error.
    """

    spikes: SpikeTheory
    masses: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    accuracy: float
    accuracy_se: float


def _class_masses(means, proportions, n, covariances, noise_variance, theory, rel=1e-4):
    """Mass of each isolated eigenvector on each class, by Hellmann-Feynman: scaling the
    samples of class ``l`` by :math:`\\sqrt{1+t}` (mean :math:`\\sqrt{1+t}\\,m_\\ell`, covariance
    :math:`(1+t)C_\\ell`) maps :math:`G` to :math:`D^{1/2}GD^{1/2}`, :math:`D = I + tD_\\ell`, and
    :math:`d\\rho/dt = \\rho\\, u^\\top D_\\ell u` at ``t = 0``."""
    m = np.asarray(means, dtype=np.float64)
    k, p = m.shape
    if covariances is None:
        covs = [np.full(p, float(noise_variance))] * k
    else:
        covs = [np.asarray(c, dtype=np.float64) for c in covariances]
    r = theory.eigenvalues.size
    out = np.empty((r, k))
    for cls in range(k):
        rhos = []
        for t in (rel, -rel):
            mm = m.copy()
            mm[cls] *= math.sqrt(1 + t)
            cc = list(covs)
            cc[cls] = covs[cls] * (1 + t)
            th = spike_theory(mm, proportions, n, covariances=cc)
            if th.eigenvalues.size != r:
                raise ValueError("a spike sits at the phase transition: its class masses are "
                                 "not defined (move the means away from it)")
            rhos.append(th.eigenvalues)
        out[:, cls] = (rhos[0] - rhos[1]) / (2 * rel * theory.eigenvalues)
    return out


def spectral_clustering_theory(means, proportions, n: int, covariances=None, *,
                               noise_variance: float = 1.0, n_sim: int = 20,
                               seed: int = 0) -> ClusteringTheory:
    """Predicted accuracy of :func:`spectral_clustering` on the isolated eigenvectors
    (``n_vectors = r``, the number of spikes) for a ``k``-class mixture, from
    :func:`spike_theory`.

    The ``r`` isolated eigenvectors carry the classes: on class :math:`\\ell`, the entries of
    :math:`\\sqrt n\\,u_j` have mean ``spikes.class_means[j, l]`` and a variance that follows
    from the eigenvector's mass on the class, :math:`\\sum_{i\\in\\ell} u_{ij}^2`, which the
    spike theory gives by a Hellmann-Feynman argument (:func:`_class_masses`; derived in
    chapter 2). The eigenvectors at the bulk edge carry no class information in the limit but
    some at finite size, and k-means on them adds noise: the prediction is for k-means on the
    ``r`` isolated eigenvectors only (``spectral_clustering(..., n_vectors=r)``). Assumed,
    not derived: the entries are Gaussian and, within a class, independent across eigenvectors
    (exact when all classes share one isotropic covariance). The accuracy of k-means on that
    ``r``-dimensional Gaussian mixture is computed by simulating it ``n_sim`` times with ``n``
    points (same k-means and matching as :func:`spectral_clustering` and
    :func:`clustering_accuracy`); ``accuracy_se`` is the Monte Carlo standard error.
    """
    from sklearn.cluster import KMeans

    n_sim = check_int(n_sim, "n_sim", 2)
    seed = check_int(seed, "seed", 0)
    theory = spike_theory(means, proportions, n, covariances=covariances,
                          noise_variance=noise_variance)
    c = np.asarray(proportions, dtype=np.float64)
    k = c.size
    r = theory.eigenvalues.size
    masses = _class_masses(means, proportions, n, covariances, noise_variance, theory)
    cm = theory.class_means  # sqrt(n) * mean entry
    variances = np.clip(masses / c[None, :] - cm**2, 0.0, None)
    sizes = class_sizes(int(n), c)
    lab = np.repeat(np.arange(k), sizes)
    if r == 0:
        raise ValueError("no isolated eigenvalue: the eigenvectors carry no class information "
                         "in the limit (accuracy of chance)")
    accs = []
    for s in range(n_sim):
        rng = np.random.default_rng(np.random.SeedSequence([seed, s]))
        emb = cm.T[lab] + rng.standard_normal((lab.size, r)) * np.sqrt(variances.T[lab])
        pred = KMeans(n_clusters=k, n_init=10, random_state=s).fit_predict(emb)
        accs.append(clustering_accuracy(pred, lab))
    accs = np.asarray(accs)
    return ClusteringTheory(spikes=theory, masses=masses, means=cm, variances=variances,
                            accuracy=float(accs.mean()),
                            accuracy_se=float(accs.std(ddof=1) / math.sqrt(n_sim)))


@dataclass(frozen=True)
class CentroidTheory:
    """Predicted test accuracy of the nearest-centroid classifier (see
    :func:`centroid_classifier_theory`): ``accuracy`` overall, ``per_class`` ``(k,)``,
    ``score_means`` ``(k, k)`` (row: true class, column: score) and ``score_covariances``
    ``(k, k, k)``, and ``accuracy_se`` (Monte Carlo standard error; 0 for two classes, where
    the accuracy is computed in closed form)."""

    accuracy: float
    per_class: np.ndarray
    score_means: np.ndarray
    score_covariances: np.ndarray
    accuracy_se: float


def centroid_classifier(train_x, train_y):
    """Fit the nearest-centroid classifier with scores
    :math:`s_b(x) = x^\\top\\hat m_b - \\|\\hat m_b\\|^2/2` (:math:`\\hat m_b` the class means of
    ``train_x`` ``(n, p)``); returns ``predict(x (m, p)) -> labels (m,)``. It is ridge
    regression on one-hot targets in the limit of infinite regularization (the weights become
    proportional to the class sums), up to the bias."""
    x = as_samples(train_x, "train_x")
    y = as_labels(train_y, x.shape[0])
    classes = np.unique(y)
    centroids = np.stack([x[y == cl].mean(axis=0) for cl in classes])
    half = 0.5 * np.sum(centroids**2, axis=1)

    def predict(test_x):
        t = as_samples(test_x, "test_x")
        if t.shape[1] != x.shape[1]:
            raise ValueError(f"test_x has p = {t.shape[1]}, the training data p = {x.shape[1]}")
        return classes[np.argmax(t @ centroids.T - half, axis=1)]

    return predict


def centroid_classifier_theory(means, covariances, n_train, *, proportions=None,
                               n_sim: int = 200_000, seed: int = 0) -> CentroidTheory:
    """Asymptotic test accuracy of :func:`centroid_classifier` trained on ``n_train[b]``
    samples of class ``b``, for a mixture with class ``means`` ``(k, p)`` and ``covariances``
    (``k`` arrays ``(p, p)`` or ``(p,)``).

    With :math:`\\hat m_b = m_b + e_b`, :math:`e_b` of covariance :math:`C_b/n_b`, the score of
    a test point :math:`x` of class :math:`a` is Gaussian given the training set when :math:`x`
    is, and as :math:`p` and the :math:`n_b` grow the quantities it depends on
    concentrate: :math:`\\hat m_b^\\top m_a \\to m_b^\\top m_a`,
    :math:`\\|\\hat m_b\\|^2 \\to \\|m_b\\|^2 + \\operatorname{tr}C_b/n_b` and
    :math:`\\hat m_b^\\top C_a\\hat m_c \\to m_b^\\top C_a m_c
    + [b=c]\\operatorname{tr}(C_aC_b)/n_b`
    (derived in chapter 2, proposition prop-centroid). So the scores of class :math:`a` are
    :math:`\\mathcal N(\\mu_a, \\Sigma_a)` with
    :math:`\\mu_{ab} = m_a^\\top m_b - (\\|m_b\\|^2 + \\operatorname{tr}C_b/n_b)/2` and
    :math:`(\\Sigma_a)_{bc}` the limit above, and the accuracy on class :math:`a` is the
    probability that coordinate :math:`a` is the largest: for two classes
    :math:`\\Phi(\\Delta/\\sigma)` in closed form, else by ``n_sim`` seeded Gaussian draws.
    ``proportions`` weight the classes in the overall accuracy (default: equal).
    """
    m = as_samples(means, "means")
    k, p = m.shape
    covs, _, p_cov = _check_covariances(covariances)
    if len(covs) != k or p_cov != p:
        raise ValueError(f"covariances must be {k} arrays of dimension p = {p}")
    nt = np.asarray(n_train, dtype=np.float64)
    if nt.shape != (k,) or np.any(nt < 1) or not np.all(np.isfinite(nt)):
        raise ValueError(f"n_train must be {k} class sizes >= 1, got {n_train}")
    w = np.full(k, 1 / k) if proportions is None else _check_proportions(proportions, k)
    n_sim = check_int(n_sim, "n_sim", 1000)
    mats = [np.diag(c) if c.ndim == 1 else c for c in covs]
    trace = np.array([np.trace(c) for c in mats])
    mu = m @ m.T - 0.5 * (np.sum(m**2, axis=1) + trace / nt)[None, :]
    sig = np.empty((k, k, k))
    for a in range(k):
        sig[a] = m @ mats[a] @ m.T + np.diag([np.sum(mats[a] * mats[b]) / nt[b]
                                              for b in range(k)])
    per = np.empty(k)
    se = 0.0
    if k == 2:
        for a in range(2):
            o = 1 - a
            diff = mu[a, a] - mu[a, o]
            sd = math.sqrt(max(sig[a, a, a] + sig[a, o, o] - 2 * sig[a, a, o], 1e-300))
            per[a] = st.norm.cdf(diff / sd)
    else:
        rng = np.random.default_rng(seed)
        var = 0.0
        for a in range(k):
            evals, evecs = np.linalg.eigh(sig[a])
            root = evecs * np.sqrt(np.clip(evals, 0, None))
            draws = mu[a] + rng.standard_normal((n_sim, k)) @ root.T
            hit = np.argmax(draws, axis=1) == a
            per[a] = hit.mean()
            var += w[a] ** 2 * per[a] * (1 - per[a]) / n_sim
        se = math.sqrt(var)
    return CentroidTheory(accuracy=float(w @ per), per_class=per, score_means=mu,
                          score_covariances=sig, accuracy_se=se)


# --------------------------------------------------------------------------- data vs surrogate


@dataclass(frozen=True)
class SurrogateComparison:
    """Gram spectra and top eigenvectors of data and of its Gaussian-mixture surrogate, with a
    parametric-bootstrap null distribution of their distances (see
    :func:`compare_with_surrogate`).

    ``eig_data``, ``eig_surrogate`` ``(n,)`` increasing; ``vec_data``, ``vec_surrogate``
    ``(n, 2)`` top two eigenvectors; ``labels_data``, ``labels_surrogate`` ``(n,)``;
    ``observed`` maps each statistic in :data:`SurrogateComparison.STATISTICS` to its value,
    ``null`` to its ``(n_boot,)`` values when the data are themselves drawn from the surrogate.
    """

    eig_data: np.ndarray
    eig_surrogate: np.ndarray
    vec_data: np.ndarray
    vec_surrogate: np.ndarray
    labels_data: np.ndarray
    labels_surrogate: np.ndarray
    observed: dict = field(default_factory=dict)
    null: dict = field(default_factory=dict)

    STATISTICS = ("ks", "top_eigenvalue_gap", "alignment_gap")

    def excess(self) -> dict:
        """``(observed - mean(null)) / sd(null)`` per statistic: how many null standard
        deviations the data's distance lies above what sampling alone produces."""
        out = {}
        for key in self.STATISTICS:
            null = self.null[key]
            sd = max(float(np.std(null, ddof=1)), 1e-12)
            out[key] = (self.observed[key] - float(np.mean(null))) / sd
        return out

    def table(self) -> list[dict]:
        """One row per statistic: observed, null mean, null sd, null max, excess."""
        exc = self.excess()
        return [dict(statistic=k, observed=self.observed[k], null_mean=float(np.mean(self.null[k])),
                     null_sd=float(np.std(self.null[k], ddof=1)),
                     null_max=float(np.max(self.null[k])), excess=exc[k])
                for k in self.STATISTICS]


def _distances(xa, ya, xb, yb, n_top: int) -> tuple[dict, tuple]:
    ea, va = np.linalg.eigh(gram(xa))  # one dense eigendecomposition per matrix
    eb, vb = np.linalg.eigh(gram(xb))
    va, vb = va[:, ::-1][:, :2], vb[:, ::-1][:, :2]
    top_a, top_b = ea[::-1][:n_top], eb[::-1][:n_top]
    stats = {
        "ks": ks_distance(ea, eb),
        "top_eigenvalue_gap": float(np.max(np.abs(top_a / top_b - 1))),
        "alignment_gap": float(np.max(np.abs(indicator_alignment(va, ya)
                                             - indicator_alignment(vb, yb)))),
    }
    return stats, (ea, eb, va, vb)


def _resampled_surrogate_draw(surrogate: GaussianMixtureSurrogate, sizes, rng) -> np.ndarray:
    """Estimate each class's moments from ``counts`` draws of ``surrogate`` and draw ``sizes``
    Gaussian vectors with those estimated moments. A Gaussian with the sample covariance of
    centred draws ``Y`` (``N x p``) is ``mean + g Y / sqrt(N - 1)``, ``g ~ N(0, I_N)``: no
    ``p x p`` factorization is needed."""
    out = []
    for mean, root, count, size in zip(surrogate.means, surrogate.roots, surrogate.counts, sizes,
                                       strict=True):
        count = int(count)
        y = mean + rng.standard_normal((count, mean.size)) @ root.T
        m_hat = y.mean(axis=0)
        out.append(m_hat + rng.standard_normal((size, count)) @ (y - m_hat) / math.sqrt(count - 1))
    return np.concatenate(out)


def compare_with_surrogate(features, labels, surrogate: GaussianMixtureSurrogate, *,
                           n_boot: int = 20, seed: int = 0) -> SurrogateComparison:
    """Compare the Gram matrix of ``features`` ``(n, p)`` (labels ``(n,)``) with that of ``n``
    draws from ``surrogate`` (same class sizes), and calibrate the comparison.

    Statistics: ``ks``, the Kolmogorov-Smirnov distance between the two spectra;
    ``top_eigenvalue_gap``, the largest relative gap between the ``k`` top eigenvalues (``k``
    classes: the spikes); ``alignment_gap``, the largest gap between the squared projections
    of the top two eigenvectors on the class indicators.

    Null distribution (parametric bootstrap): ``n_boot`` times, the "data" are ``n`` draws from
    ``surrogate`` and the "surrogate" is re-estimated from ``surrogate.counts`` further draws per
    class, exactly as the real surrogate was estimated from further GAN draws; the same
    statistics are recorded. If the data behave as the Gaussian mixture, their statistics look
    like draws from this null; :meth:`SurrogateComparison.excess` measures how far they are
    above it. The surrogate's classes must be those of ``labels``; ``counts >= 2``.
    """
    x = as_samples(features, "features")
    lab = as_labels(labels, x.shape[0])
    n_boot = check_int(n_boot, "n_boot", 2)
    if x.shape[1] != surrogate.means.shape[1]:
        raise ValueError(f"features have p = {x.shape[1]}, the surrogate "
                         f"p = {surrogate.means.shape[1]}")
    classes, sizes_found = np.unique(lab, return_counts=True)
    if sorted(classes.tolist()) != sorted(np.asarray(surrogate.classes).tolist()):
        raise ValueError(f"labels have classes {classes.tolist()}, the surrogate "
                         f"{np.asarray(surrogate.classes).tolist()}")
    if np.any(np.asarray(surrogate.counts) < 2):
        raise ValueError("the surrogate's moments need counts >= 2 per class")
    sizes = np.array([sizes_found[classes.tolist().index(c)] for c in surrogate.classes])
    n, n_top = x.shape[0], int(classes.size)
    seed_of = [int(s.generate_state(1)[0])
               for s in np.random.SeedSequence(seed).spawn(2 * n_boot + 1)]
    props = sizes / n
    xs, ys = surrogate.sample(n, seed=seed_of[0], proportions=props)
    observed, (ea, eb, va, vb) = _distances(x, lab, xs, ys, n_top)
    va, vb = _fix_signs(va.copy()), _fix_signs(vb.copy())  # deterministic signs, for figures
    null = {k: np.empty(n_boot) for k in SurrogateComparison.STATISTICS}
    for b in range(n_boot):
        rng = np.random.default_rng(seed_of[n_boot + 1 + b])
        x1, y1 = surrogate.sample(n, seed=seed_of[b + 1], proportions=props)
        x2 = _resampled_surrogate_draw(surrogate, sizes, rng)
        stats, _ = _distances(x1, y1, x2, y1, n_top)
        for k, v in stats.items():
            null[k][b] = v
    return SurrogateComparison(ea, eb, va, vb, lab, ys, observed, null)


def downstream_accuracies(features, labels, surrogate: GaussianMixtureSurrogate, *,
                          n_train_per_class: int = 5, n_seeds: int = 10, seed: int = 0,
                          regularization: float = 0.1) -> list[dict]:
    """Accuracy of two Gram-based learners on ``features`` ``(n, p)`` and on ``n`` draws of
    ``surrogate``, over ``n_seeds`` seeds: rows ``dict(seed, data, method, accuracy)``.

    - ``"logistic regression"``: scikit-learn's multinomial logistic regression (inverse
      regularization ``regularization``) trained on ``n_train_per_class`` samples per class and
      tested on the rest. For the data, each seed is a new random split; for the surrogate, a
      new draw with the data's class sizes.
    - ``"spectral clustering"``: :func:`spectral_clustering` of the test samples, scored by
      :func:`clustering_accuracy`.

    If the data behave as the Gaussian mixture, the two sources give the same accuracies up to
    sampling error (compare the means with their confidence intervals over seeds).
    """
    from sklearn.linear_model import LogisticRegression

    x = as_samples(features, "features")
    lab = as_labels(labels, x.shape[0])
    n_train_per_class = check_int(n_train_per_class, "n_train_per_class", 1)
    n_seeds = check_int(n_seeds, "n_seeds", 1)
    classes, sizes = np.unique(lab, return_counts=True)
    if np.any(sizes <= n_train_per_class):
        raise ValueError(f"every class needs more than n_train_per_class = {n_train_per_class} "
                         f"samples, got {sizes.tolist()}")
    sur_sizes = np.array([sizes[classes.tolist().index(c)] for c in surrogate.classes])
    rows = []
    for s in range(n_seeds):
        rng = np.random.default_rng(np.random.SeedSequence([seed, s]))
        xs, ys = surrogate.sample(x.shape[0], seed=int(rng.integers(2**63)),
                                  proportions=sur_sizes / sur_sizes.sum())
        for source, (xx, yy) in {"GAN features": (x, lab), "Gaussian surrogate": (xs, ys)}.items():
            train = np.concatenate([rng.choice(np.flatnonzero(yy == c), n_train_per_class,
                                               replace=False) for c in classes])
            test = np.setdiff1d(np.arange(yy.size), train)
            clf = LogisticRegression(C=regularization, max_iter=5000).fit(xx[train], yy[train])
            rows.append(dict(seed=s, data=source, method="logistic regression",
                             accuracy=float(clf.score(xx[test], yy[test]))))
            pred = spectral_clustering(xx[test], classes.size, seed=s)
            rows.append(dict(seed=s, data=source, method="spectral clustering",
                             accuracy=clustering_accuracy(pred, yy[test])))
    return rows


# --------------------------------------------------------------------------- calibrated test

from gantheory._universality import STATISTICS as UNIVERSALITY_STATISTICS  # noqa: E402
from gantheory._universality import (  # noqa: E402
    UniversalityTest,
    multisplit_p_value,
    universality_power_table,
    universality_test,
)

__all__ += ["UNIVERSALITY_STATISTICS", "UniversalityTest", "universality_test",
            "universality_power_table", "multisplit_p_value"]
