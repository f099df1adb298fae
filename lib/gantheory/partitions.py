"""Latent partitions of push-forward generators: Part III of the book.

A generator :math:`G:\\mathbb R^d\\to\\mathbb R^D`, :math:`L`-Lipschitz, pushes the latent
:math:`\\gamma_d = N(0, I_d)` towards a target made of ``m`` modes at pairwise distance
:math:`\\ge D`. The latent sets :math:`A_i = G^{-1}(M_i)` are then :math:`\\varepsilon`-separated,
:math:`\\varepsilon = D/L`, and the precision :math:`\\alpha = \\gamma_d(\\cup_i A_i)` is limited by
Gaussian isoperimetry (Issenhuth, Tanielian, Mary, Picard 2022/23; Milman & Neeman 2022).

Conventions
-----------
- Samples are **rows**: a latent array ``z`` has shape ``(N, d)``; labels have shape ``(N,)``.
- ``m >= 2`` is the number of modes (cells), ``eps = D / L >= 0`` the latent separation.
- :math:`\\Phi, \\varphi` are the standard normal cdf and density; :math:`P_m` is the Gaussian
  perimeter of the equal-mass simplicial cluster (:func:`simplicial_perimeter`).
- Random draws take an explicit non-negative integer ``seed`` (or a ``numpy.random.Generator``).

Contents
--------
- :func:`expected_max_gaussian`, :func:`simplicial_perimeter`: :math:`E\\max_{i\\le m} g_i` and
  :math:`P_m = E\\max_i g_i/\\sqrt2` by quadrature.
- :func:`simplex_centres`, :func:`simplicial_cells`: the simplicial cluster with ``m`` equal-mass
  convex-cone cells in any dimension ``d >= m - 1`` and the exact distance to the cell boundary.
- Precision bounds: :func:`precision_upper_bound` (isoperimetry, equal-mass cells) and
  :func:`simplicial_precision` (what the simplicial cluster achieves), their first-order forms
  and a Monte Carlo check (:func:`simplicial_precision_mc`).
- Checks for the claims ledger: :func:`precision_expansion` (second-order expansions with a
  rigorous remainder bound, from :func:`max_gaussian_expectation`), :func:`expansion_check`,
  :func:`agreement_check` (Bonferroni z test of a Monte Carlo table) and
  :func:`strip_mass_mc` (Gaussian mass of a strip around a boundary).
- Latent-geometry metrics of the paper's experiments: :func:`linear_separability`,
  :func:`convexity`, :func:`prdc` (Naeem et al. 2020).
- Samplers: :func:`simplicial_truncation_sample` (the authors' simplicial truncation) and
  :func:`truncation_sample` (plain truncation).
- Toy GANs on disconnected targets: :func:`mode_centres` and :class:`DisconnectedTarget`
  (``m`` uniform balls, precision, mode masses, the gap ``D``), :class:`LipschitzGenerator`
  (spectrally normalized MLP times a learned gain, with a rigorous
  :meth:`~LipschitzGenerator.lipschitz_bound`), :func:`train_toy_gan` (seeded WGAN-GP on one
  CPU thread, weights cached in ``$GANTHEORY_CACHE`` like :mod:`gantheory.digits`),
  :func:`generate` and :func:`latent_partition` (the mode each latent is sent to).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ot
import scipy.special as sp
import scipy.stats as st
import torch
from scipy import integrate
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gantheory import _cache, training
from gantheory._checks import as_labels, as_samples, check_int
from gantheory._checks import check_positive as _check_positive
from gantheory.config import ConvergenceError, derive_seed, torch_seeded

__all__ = [
    "expected_max_gaussian",
    "simplicial_perimeter",
    "simplex_centres",
    "simplicial_cells",
    "interface_rays",
    "simplicial_softmax",
    "precision_upper_bound",
    "precision_upper_bound_first_order",
    "simplicial_precision",
    "simplicial_precision_first_order",
    "simplicial_precision_mc",
    "simplicial_generator",
    "mode_hits",
    "measure_simplicial_generator",
    "max_gaussian_expectation",
    "precision_expansion",
    "expansion_check",
    "agreement_check",
    "strip_mass_mc",
    "linear_separability",
    "convexity",
    "prdc",
    "simplicial_truncation_sample",
    "truncation_sample",
    "mode_centres",
    "DisconnectedTarget",
    "LipschitzGenerator",
    "ToyCritic",
    "TrainedToyGAN",
    "train_toy_gan", "train_toy_gans",
    "generate",
    "latent_partition",
    "isoperimetric_check",
    "isoperimetric_check_worst",
    "heldout_precision_check",
    "seed_interval",
    "paired_difference_check",
]

#: Largest number of cells accepted by the quadratures: the integrands vanish outside
#: [-15, 15] to double precision as long as m * phi(15) (about m * 5e-50) is negligible.
MAX_CELLS = 10**12
_LO, _HI = -15.0, 15.0
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_BATCH_ELEMENTS = 2**22  # floats per batch in the Monte Carlo helpers (32 MiB)


# --------------------------------------------------------------------------- validation


def _check_m(m, minimum: int = 2) -> int:
    m = check_int(m, "m", minimum)
    if m > MAX_CELLS:
        raise ValueError(f"m must be <= {MAX_CELLS} (quadrature range), got {m}")
    return m


def _as_eps(eps) -> tuple[np.ndarray, bool]:
    """``eps`` as a float array and whether it was a scalar; finite and >= 0."""
    arr = np.asarray(eps, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"eps must be finite, got {eps!r}")
    if np.any(arr < 0):
        raise ValueError(f"eps = D / L must be >= 0, got {eps!r}")
    return arr, arr.ndim == 0


def _out(values: np.ndarray, scalar: bool):
    return float(values) if scalar else values


def _as_samples(x, name: str) -> np.ndarray:
    return as_samples(x, name, "(N, d)")


def _as_labels(labels, n: int) -> np.ndarray:
    return as_labels(labels, n, " (one per row of z)")


def _check_dim(d, m: int, minimum_offset: int = -1) -> int:
    d = check_int(d, "d", 1)
    if d < m + minimum_offset:
        need = "m - 1" if minimum_offset == -1 else "m"
        raise ValueError(f"latent dimension d = {d} is too small for m = {m} cells: "
                         f"need d >= {need} = {m + minimum_offset}")
    return d


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _quad(f, points) -> float:
    pts = sorted({float(p) for p in points if _LO < p < _HI})
    val, _ = integrate.quad(f, _LO, _HI, points=pts or None, limit=400,
                            epsabs=1e-15, epsrel=1e-12)
    return float(val)


def _max_location(m: int) -> float:
    """Approximate location of the maximum of m iid N(0, 1): Phi^{-1}(1 - 1/m)."""
    return float(-sp.ndtri(1.0 / m))


# --------------------------------------------------------------------------- perimeter


def expected_max_gaussian(m: int) -> float:
    """:math:`E[\\max_{i\\le m} g_i]` for ``m`` iid standard normals, by quadrature.

    :math:`E = \\int x\\, m\\varphi(x)\\Phi(x)^{m-1}dx`, with the integrand evaluated as
    ``exp(log m + log phi(x) + (m-1) log_ndtr(x))`` (no underflow of :math:`\\Phi^{m-1}`) on
    ``[-15, 15]`` with break points around the mode. Relative accuracy about 1e-12 for
    ``1 <= m <= MAX_CELLS``; ``m = 1`` gives 0. Values: ``m = 2``: :math:`1/\\sqrt\\pi`;
    ``m = 3``: :math:`3/(2\\sqrt\\pi)`; ``m = 100``: 2.5075936364.
    """
    m = _check_m(m, 1)
    if m == 1:
        return 0.0
    log_m = math.log(m)

    def integrand(x: float) -> float:
        return x * math.exp(log_m - 0.5 * x * x - _LOG_SQRT_2PI + (m - 1) * sp.log_ndtr(x))

    mode = _max_location(m)
    return _quad(integrand, [mode - 3, mode - 1, mode, mode + 1, mode + 3, 0.0])


def simplicial_perimeter(m: int) -> float:
    """Gaussian perimeter :math:`P_m` of the equal-mass simplicial cluster with ``m`` cells.

    :math:`P_m = \\sum_{i<j}\\gamma^{d-1}(\\text{interface}_{ij}) = E[\\max_i g_i]/\\sqrt 2`
    (independent of ``d >= m - 1``): :math:`P_2 = 1/\\sqrt{2\\pi}` (a hyperplane through 0),
    :math:`P_3 = 3/(2\\sqrt{2\\pi})` (the tripod), :math:`P_m\\sim\\sqrt{\\log m}`.
    """
    m = _check_m(m)
    return expected_max_gaussian(m) / math.sqrt(2.0)


# --------------------------------------------------------------------------- simplicial cells


def simplex_centres(m: int, d: int) -> np.ndarray:
    """Centres ``(m, d)`` of the equal-mass simplicial cluster with ``m`` cells in
    :math:`\\mathbb R^d`, ``d >= m - 1``.

    The centres are unit vectors with :math:`\\sum_i c_i = 0` and
    :math:`\\langle c_i, c_j\\rangle = -1/(m-1)` for :math:`i\\ne j`: the projections of
    :math:`e_1,\\dots,e_m\\in\\mathbb R^m` on the hyperplane :math:`\\sum_k x_k = 0`, normalised.

    - ``d >= m``: the projections themselves, :math:`(e_i - \\mathbf 1/m)/\\sqrt{1-1/m}`, in the
      first ``m`` coordinates (zeros after). The cells are then exactly the coordinate cells
      :math:`\\{z: z_i\\ge z_j,\\ j<m\\}`.
    - ``d = m - 1`` (minimal dimension): the same vectors written in the orthonormal Helmert basis
      :math:`h_k = (1,\\dots,1,-k,0,\\dots)/\\sqrt{k(k+1)}` of the hyperplane. For ``m = 3`` this is
      the tripod with centres at angles 30, 150 and 270 degrees.

    The two cases differ by an isometry of the span of the centres, so cell masses (1/m),
    perimeters and distance laws agree.
    """
    m = _check_m(m)
    d = _check_dim(d, m)
    scale = math.sqrt(1.0 - 1.0 / m)
    out = np.zeros((m, d))
    if d >= m:
        out[:, :m] = (np.eye(m) - 1.0 / m) / scale
    else:
        helmert = np.zeros((m - 1, m))
        for k in range(1, m):
            helmert[k - 1, :k] = 1.0
            helmert[k - 1, k] = -k
            helmert[k - 1] /= math.sqrt(k * (k + 1))
        out[:, :] = helmert.T / scale
    return out


def _centre_gap(m: int) -> float:
    """:math:`\\|c_i - c_j\\|` for the unit simplex centres: :math:`\\sqrt{2m/(m-1)}`."""
    return math.sqrt(2.0 * m / (m - 1))


def interface_rays(m: int, d: int | None = None) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """The rays where the cells of the simplicial cluster meet: ``(cells, r)`` for each
    ``k = 0..m-1``, with the unit ray :math:`r = -c_k` ``(d,)`` and ``cells`` the ``m - 1``
    cells other than ``k``, which all tie on it.

    With the centres :math:`c_i` of :func:`simplex_centres` (unit, :math:`\\sum_i c_i = 0`,
    :math:`\\langle c_i, c_j\\rangle = -1/(m-1)`), on :math:`z = -t c_k`, ``t >= 0``, the scores are
    :math:`\\langle z, c_j\\rangle = t/(m-1)` for :math:`j \\ne k` and :math:`-t` for ``k``: every
    cell but ``k`` ties and ``k`` loses. For ``m = 3`` the interface of cells ``a`` and ``b`` is
    the ray along :math:`-c_c = c_a + c_b`, pointing *away* from the third centre (along
    :math:`-(c_a + c_b) = c_c` the third cell wins). For ``m = 4``, ``d = 3``, the interface of
    ``a`` and ``b`` is the planar wedge spanned by the two rays whose ``cells`` hold both.
    ``d`` defaults to ``m - 1`` (the minimal dimension).
    """
    m = _check_m(m, 3)
    d = m - 1 if d is None else _check_dim(d, m)
    c = simplex_centres(m, d)
    return [(tuple(j for j in range(m) if j != k), -c[k] / np.linalg.norm(c[k]))
            for k in range(m)]


def simplicial_cells(z, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell labels and distance to the cell boundary for the equal-mass simplicial cluster.

    ``z`` has shape ``(N, d)`` with ``d >= m - 1``. With the centres ``c`` of
    :func:`simplex_centres`, cell ``i`` is the Voronoi cell
    :math:`C_i = \\{z: \\langle z, c_i\\rangle \\ge \\langle z, c_j\\rangle\\ \\forall j\\}`,
    a convex cone of Gaussian mass ``1/m`` (ties go to the smallest index). For ``d >= m`` this is
    :math:`\\{z: z_i\\ge z_j,\\ j<m\\}`.

    Returns ``(labels, distance)``, both ``(N,)``: ``labels`` in ``0..m-1`` and
    :math:`\\operatorname{dist}(z, \\partial C_i) = \\min_{j\\ne i}
    \\langle z, c_i - c_j\\rangle/\\|c_i - c_j\\| = (s_{(1)} - s_{(2)})/\\|c_1 - c_2\\|` with
    :math:`s_j = \\langle z, c_j\\rangle`; for ``d >= m`` this equals
    :math:`(z_{(1)} - z_{(2)})/\\sqrt 2` over the first ``m`` coordinates.

    Exactness: :math:`C_i` is an intersection of the half-spaces
    :math:`H_j = \\{\\langle x, c_i - c_j\\rangle \\ge 0\\}`, so for :math:`z\\in C_i` the
    complement is :math:`\\cup_j H_j^c` and
    :math:`\\operatorname{dist}(z, \\partial C_i) = \\operatorname{dist}(z, C_i^c)
    = \\min_j \\operatorname{dist}(z, H_j^c)`, the minimum of the distances to the hyperplanes.
    This holds for any convex polyhedron and any point inside it (the distance to a single facet
    *as a face* can be larger than to its hyperplane, but the minimum over all facets is exact).
    """
    m = _check_m(m)
    x = _as_samples(z, "z")
    _check_dim(x.shape[1], m)
    scores = x @ simplex_centres(m, x.shape[1]).T
    labels = np.argmax(scores, axis=1)
    top2 = np.partition(scores, m - 2, axis=1)[:, -2:]
    distance = (top2[:, 1] - top2[:, 0]) / _centre_gap(m)
    return labels, distance


def simplicial_softmax(z, m: int) -> np.ndarray:
    """Soft assignments ``(N, m)`` of the simplicial truncation of Issenhuth et al.

    Centres :math:`c_i = \\sqrt d\\, e_i` on the first ``m`` coordinates (``d >= m``); returns
    :math:`\\operatorname{softmax}_i \\langle z/\\|z\\|, c_i\\rangle = \\operatorname{softmax}_i
    (\\sqrt d\\, z_i/\\|z\\|)`. ``z = 0`` gives the uniform vector.
    """
    m = _check_m(m)
    x = _as_samples(z, "z")
    d = _check_dim(x.shape[1], m, 0)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    logits = math.sqrt(d) * x[:, :m] / np.maximum(norms, np.finfo(np.float64).tiny)
    return sp.softmax(logits, axis=1)


# --------------------------------------------------------------------------- precision bounds


def _upper_slope(m: int) -> float:
    return 0.5 * m * float(st.norm.pdf(sp.ndtri(1.0 / m)))


def precision_upper_bound(m: int, eps):
    """Largest precision of a generator whose ``m`` latent cells have equal mass.

    With :math:`\\gamma(A_i) = \\alpha/m` and disjoint :math:`\\varepsilon/2`-enlargements,
    Gaussian isoperimetry gives :math:`m\\Phi(\\Phi^{-1}(\\alpha/m) + \\varepsilon/2)\\le 1`, i.e.
    :math:`\\alpha\\le m\\Phi(\\Phi^{-1}(1/m) - \\varepsilon/2)`. ``m = 2`` gives the half-space
    value :math:`2\\Phi(-\\varepsilon/2)`. ``eps`` is a scalar or an array (same shape returned).
    """
    m = _check_m(m)
    e, scalar = _as_eps(eps)
    return _out(m * sp.ndtr(sp.ndtri(1.0 / m) - e / 2), scalar)


def precision_upper_bound_first_order(m: int, eps):
    """First-order form of :func:`precision_upper_bound`:
    :math:`1 - \\varepsilon\\,(m/2)\\,\\varphi(\\Phi^{-1}(1/m))`; the slope grows like
    :math:`\\sqrt{\\log m/2}`. Not clipped: it becomes negative for large ``eps``."""
    m = _check_m(m)
    e, scalar = _as_eps(eps)
    return _out(1.0 - e * _upper_slope(m), scalar)


def _simplicial_loss_and_precision(m: int, eps: float) -> float:
    """:math:`\\alpha` of the simplicial cluster, computed from the side that has no
    cancellation: the loss :math:`1 - \\alpha` by quadrature while it is below 1/2, else
    :math:`\\alpha` directly."""
    if eps == 0.0:
        return 1.0
    delta = eps / math.sqrt(2.0)
    log_m = math.log(m)
    mode = _max_location(m)
    points = [mode - 2, mode, mode + 2, mode + delta, 0.0]

    def loss_integrand(x: float) -> float:
        a = (m - 1) * sp.log_ndtr(x)
        b = (m - 1) * sp.log_ndtr(x - delta)
        # m phi(x) [Phi(x)^{m-1} - Phi(x - delta)^{m-1}], without cancellation
        return -math.exp(log_m - 0.5 * x * x - _LOG_SQRT_2PI + a) * math.expm1(b - a)

    loss = _quad(loss_integrand, points)
    if loss <= 0.5:
        return 1.0 - loss

    def precision_integrand(x: float) -> float:
        return math.exp(log_m - 0.5 * x * x - _LOG_SQRT_2PI + (m - 1) * sp.log_ndtr(x - delta))

    return _quad(precision_integrand, points)


def simplicial_precision(m: int, eps, d: int | None = None):
    """Precision achieved by the simplicial cluster: the Gaussian mass of the points at
    distance :math:`\\ge\\varepsilon/2` from the boundary of their cell.

    Keeping those points in :math:`A_i` makes the :math:`A_i` :math:`\\varepsilon`-separated: a
    segment from :math:`a\\in A_i` to :math:`b\\in A_j` runs a length :math:`\\ge\\varepsilon/2`
    before it leaves :math:`C_i`, and another :math:`\\ge\\varepsilon/2` after it enters
    :math:`C_j`. With :math:`D = (g_{(1)} - g_{(2)})/\\sqrt2`
    for ``m`` iid normals,

    .. math:: \\alpha = P(D > \\varepsilon/2) = m\\int\\varphi(x)\\,
              \\Phi(x - \\varepsilon/\\sqrt2)^{m-1}dx

    (cell 1 wins by more than :math:`\\varepsilon/\\sqrt2`, times ``m`` symmetric cells),
    computed by quadrature; the loss :math:`1-\\alpha` is integrated directly, so small ``eps``
    keep full relative accuracy. The value does not depend on ``d``; passing ``d`` only checks
    that the cluster exists (``d >= m - 1``). ``eps`` is a scalar or an array.
    """
    m = _check_m(m)
    if d is not None:
        _check_dim(d, m)
    e, scalar = _as_eps(eps)
    vals = np.array([_simplicial_loss_and_precision(m, float(v)) for v in e.ravel()])
    return _out(vals.reshape(e.shape), scalar)


def simplicial_precision_first_order(m: int, eps):
    """First-order form of :func:`simplicial_precision`: :math:`1 - \\varepsilon P_m`."""
    m = _check_m(m)
    e, scalar = _as_eps(eps)
    return _out(1.0 - e * simplicial_perimeter(m), scalar)


def simplicial_precision_mc(m: int, eps: float, n: int, seed,
                            d: int | None = None) -> tuple[float, float]:
    """Monte Carlo estimate of :func:`simplicial_precision`: ``(estimate, standard error)``.

    Draws ``n`` latents :math:`z\\sim N(0, I_d)` (``d = m - 1`` by default), computes the
    distance to the boundary of their cell with :func:`simplicial_cells` and returns the
    fraction at distance :math:`\\ge\\varepsilon/2` with its binomial standard error
    :math:`\\sqrt{\\hat p(1-\\hat p)/n}`. Works in batches (bounded memory).
    """
    m = _check_m(m)
    e, scalar = _as_eps(eps)
    if not scalar:
        raise ValueError("eps must be a scalar for the Monte Carlo estimate")
    n = check_int(n, "n", 1)
    d = m - 1 if d is None else _check_dim(d, m)
    rng = _rng(seed)
    batch = max(1, _BATCH_ELEMENTS // max(d, m))
    kept = 0
    for start in range(0, n, batch):
        size = min(batch, n - start)
        _, dist = simplicial_cells(rng.standard_normal((size, d)), m)
        kept += int(np.count_nonzero(dist >= float(e) / 2))
    p = kept / n
    return p, math.sqrt(p * (1 - p) / n)


def simplicial_generator(m: int, eps: float, gap: float = 1.0,
                         d: int | None = None) -> tuple[Callable[[np.ndarray], np.ndarray],
                                                      np.ndarray]:
    """An explicit generator of :prf:ref:`thm-precision-simplicial`: ``(G, modes)``.

    ``modes`` ``(m, m)`` are the points :math:`x_i = (\\Delta/\\sqrt2)\\,e_i`, at pairwise
    distance :math:`\\Delta` = ``gap``; ``G`` maps latents ``(N, d)`` (``d >= m - 1``, default
    ``m - 1``) to ``(N, m)``:

    .. math:: G(z) = \\frac{\\Delta}{\\sqrt 2}\\,\\Pi\\Big(\\frac1m\\mathbf 1 + a\\,Cz\\Big),
       \\qquad a = \\frac{2}{\\varepsilon\\,\\|c_i - c_j\\|},

    with :math:`C` ``(m, d)`` the centres of :func:`simplex_centres` as rows and :math:`\\Pi`
    the Euclidean projection on the probability simplex (``ot.utils.proj_simplex``).

    Exactly: :math:`G^{-1}(x_i) = A_i = \\{z\\in C_i: \\operatorname{dist}(z,\\partial C_i)\\ge
    \\varepsilon/2\\}`, so each mode gets mass :math:`\\alpha_{\\mathrm{simp}}/m` and the
    precision is :func:`simplicial_precision` ``(m, eps)``; and
    :math:`\\operatorname{Lip}(G) = \\Delta/\\varepsilon`. Proof: :math:`\\Pi(u) = e_i` iff
    :math:`u_i - u_j\\ge1` for all :math:`j\\ne i`, i.e. :math:`a(s_i - s_j)\\ge1` with
    :math:`s = Cz`, i.e. :math:`\\operatorname{dist}(z,\\partial C_i) = \\min_j (s_i - s_j)/
    \\|c_i - c_j\\|\\ge\\varepsilon/2`. :math:`\\Pi` is 1-Lipschitz and
    :math:`C^\\top C = \\frac m{m-1}P` (the centres are a tight frame of their span, :math:`P`
    its orthogonal projection), so :math:`\\operatorname{Lip}(G)\\le\\frac{\\Delta}{\\sqrt2}\\,a
    \\sqrt{\\tfrac m{m-1}} = \\Delta/\\varepsilon`; equality, because :math:`A_i` and
    :math:`A_j` come within :math:`\\varepsilon` of each other while their images are
    :math:`\\Delta` apart. No extension theorem and no symmetrization are needed.
    """
    m = _check_m(m)
    e, scalar = _as_eps(eps)
    if not scalar or float(e) <= 0:
        raise ValueError(f"eps must be a positive scalar, got {eps!r}")
    delta = _check_positive(gap, "gap")
    d = m - 1 if d is None else _check_dim(d, m)
    centres = simplex_centres(m, d)
    a = 2.0 / (float(e) * _centre_gap(m))
    scale = delta / math.sqrt(2.0)
    modes = scale * np.eye(m)
    modes.setflags(write=False)

    def G(z) -> np.ndarray:
        x = _as_samples(z, "z")
        if x.shape[1] != d:
            raise ValueError(f"z must have {d} columns (the latent dimension), got {x.shape}")
        u = 1.0 / m + a * (x @ centres.T)  # (N, m)
        return scale * np.asarray(ot.utils.proj_simplex(u.T)).T

    return G, modes


def mode_hits(x, modes, atol: float = 1e-9) -> np.ndarray:
    """Which point mode each sample hits: labels ``(N,)`` in ``0..m-1``, ``-1`` for a sample
    farther than ``atol`` from every mode. ``x`` is ``(N, D)``, ``modes`` ``(m, D)``."""
    pts = as_samples(x, "x", "(N, D)")
    mo = as_samples(modes, "modes", "(m, D)")
    if pts.shape[1] != mo.shape[1]:
        raise ValueError(f"x and modes must have the same number of columns, got {pts.shape} "
                         f"and {mo.shape}")
    tol = _check_positive(atol, "atol")
    dist = np.sqrt(((pts[:, None, :] - mo[None, :, :]) ** 2).sum(axis=2))
    labels = np.argmin(dist, axis=1)
    return np.where(dist[np.arange(len(pts)), labels] <= tol, labels, -1)


def measure_simplicial_generator(G, modes, m: int, d: int, eps: float, gap: float, n: int,
                                 seed) -> dict:
    """Measure a generator ``G`` from :func:`simplicial_generator` ``(m, eps, gap, d)`` against
    its proposition: a dict with

    - ``masses`` ``(m,)``: the fractions of ``n`` Gaussian latents it sends onto each mode,
      ``expected`` (:math:`\\alpha_{\\mathrm{simp}}/m`) and ``se`` (its binomial standard error);
    - ``max_quotient``: the largest difference quotient :math:`\\|G(z + h) - G(z)\\|/\\|h\\|` over
      the ``n`` latents with random steps ``h`` of norm about ``1e-3`` (at most
      :math:`\\Delta/\\varepsilon` if the proposition holds);
    - ``attained``: the smallest quotient over the pairs :math:`z_\\pm = y\\pm\\frac\\varepsilon2
      (1 + 10^{-9})(c_i - c_j)/\\|c_i - c_j\\|` of its proof, one per pair of cells, with ``y``
      on their interface 5 units from the origin (:math:`\\Delta/(\\varepsilon(1 + 10^{-9}))` if
      the constant is attained); ``ValueError`` if a pair does not land on its two modes.

    Deterministic for a given ``seed``; cost: three evaluations of ``G`` on ``n`` latents.
    """
    m = _check_m(m)
    d = _check_dim(d, m)
    n = check_int(n, "n", 1)
    rng = _rng(seed)
    z = rng.standard_normal((n, d))
    hits = mode_hits(G(z), modes)
    masses = np.bincount(hits[hits >= 0], minlength=m) / n
    expected = simplicial_precision(m, eps) / m
    h = 1e-3 * rng.standard_normal((n, d)) / math.sqrt(d)
    quotients = np.linalg.norm(G(z + h) - G(z), axis=1) / np.linalg.norm(h, axis=1)
    c = simplex_centres(m, d)
    g = _centre_gap(m)
    attained = []
    for i in range(m):
        for j in range(i + 1, m):
            y = 5 * (c[i] + c[j]) / np.linalg.norm(c[i] + c[j])
            step = (eps / 2) * (1 + 1e-9) * (c[i] - c[j]) / g  # just inside A_i and A_j
            zp, zm = (y + step)[None], (y - step)[None]
            if mode_hits(G(zp), modes)[0] != i or mode_hits(G(zm), modes)[0] != j:
                raise ValueError(f"the pair of cells {i}, {j} does not land on its modes")
            attained.append(float(np.linalg.norm(G(zp) - G(zm)) / np.linalg.norm(zp - zm)))
    return dict(masses=masses, expected=expected, se=math.sqrt(expected * (1 - expected) / n),
                max_quotient=float(quotients.max()), attained=min(attained), n=n)


# --------------------------------------------------------------------------- checks (Part III)


def max_gaussian_expectation(m: int, f: Callable[[float], float],
                             kinks: Sequence[float] = ()) -> float:
    """:math:`E[f(M)]` for :math:`M = \\max_{i\\le m} g_i`, ``m`` iid standard normals, by
    quadrature.

    ``f`` maps a float to a float (it is called on scalars); ``kinks`` are points where ``f`` is
    not smooth (e.g. the zeros of ``x**3 - 3*x`` for ``abs(x**3 - 3*x)``), passed to the
    quadrature as break points. The density of :math:`M` is :math:`m\\varphi\\Phi^{m-1}`,
    evaluated in log form as in :func:`expected_max_gaussian`; relative accuracy about 1e-12
    for smooth, polynomially growing ``f``. ``f = lambda x: x`` gives
    :func:`expected_max_gaussian`.
    """
    m = _check_m(m, 1)
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    log_m = math.log(m)

    def integrand(x: float) -> float:
        return float(f(x)) * math.exp(log_m - 0.5 * x * x - _LOG_SQRT_2PI
                                      + (m - 1) * sp.log_ndtr(x))

    mode = _max_location(m)
    return _quad(integrand, [mode - 3, mode - 1, mode, mode + 1, mode + 3, 0.0, *kinks])


def _phi2_abs_max(lo: float, hi: float) -> float:
    """:math:`\\max_{[lo, hi]}|\\varphi''|`, :math:`\\varphi''(x) = (x^2-1)\\varphi(x)`: between the
    zeros 0 and :math:`\\pm\\sqrt3` of :math:`\\varphi'''` it is monotone, so the maximum is at an
    endpoint or at one of those zeros inside the interval."""
    pts = [lo, hi] + [c for c in (0.0, math.sqrt(3.0), -math.sqrt(3.0)) if lo < c < hi]
    return max(abs(x * x - 1.0) * math.exp(-0.5 * x * x - _LOG_SQRT_2PI) for x in pts)


def precision_expansion(m: int, eps, bound: str = "simplicial") -> dict:
    """Second-order expansion in ``eps`` of an exact precision bound, with a rigorous bound on
    the remainder:

    .. math:: \\alpha(\\varepsilon) = 1 - s\\,\\varepsilon + c\\,\\varepsilon^2 + R(\\varepsilon),
              \\qquad |R(\\varepsilon)|\\le r(\\varepsilon).

    - ``bound="upper"`` (:func:`precision_upper_bound`, :math:`m\\Phi(q-\\varepsilon/2)`,
      :math:`q = \\Phi^{-1}(1/m)`): :math:`s = \\tfrac m2\\varphi(q)`,
      :math:`c = -\\tfrac m8 q\\varphi(q)` and, by Taylor-Lagrange,
      :math:`R = -\\tfrac m{48}\\varphi''(\\xi)\\varepsilon^3` for some
      :math:`\\xi\\in[q-\\varepsilon/2, q]`, so :math:`r = \\tfrac m{48}\\varepsilon^3
      \\max_{[q-\\varepsilon/2,q]}|\\varphi''|` (computed exactly, see :func:`_phi2_abs_max`).
    - ``bound="simplicial"`` (:func:`simplicial_precision`): with :math:`\\delta =
      \\varepsilon/\\sqrt2`, :math:`\\alpha = m\\int\\varphi(y+\\delta)\\Phi(y)^{m-1}dy`, so the
      :math:`k`-th derivative in :math:`\\delta` at 0 is :math:`E[\\varphi^{(k)}(M)/\\varphi(M)]`
      for the maximum :math:`M` of ``m`` normals: :math:`s = E M/\\sqrt2 = P_m`,
      :math:`c = (E M^2 - 1)/4`, and since :math:`\\Phi(y)\\le\\Phi(y+\\xi)` for :math:`\\xi\\ge0`,
      :math:`|\\alpha'''|\\le E|M^3 - 3M|`, so :math:`r = E|M^3-3M|\\,\\delta^3/6`.

    Returns ``dict(slope=s, curvature=c, remainder=r)``; ``remainder`` has the shape of ``eps``
    (a float for a scalar). The moments of :math:`M` come from
    :func:`max_gaussian_expectation`, a code path independent of the precision quadratures.
    """
    m = _check_m(m)
    e, scalar = _as_eps(eps)
    if bound == "upper":
        q = float(sp.ndtri(1.0 / m))
        phi_q = math.exp(-0.5 * q * q - _LOG_SQRT_2PI)
        rem = np.array([m / 48.0 * v ** 3 * _phi2_abs_max(q - v / 2, q) for v in e.ravel()])
        return dict(slope=0.5 * m * phi_q, curvature=-m * q * phi_q / 8.0,
                    remainder=_out(rem.reshape(e.shape), scalar))
    if bound == "simplicial":
        second = max_gaussian_expectation(m, lambda x: x * x)
        third = max_gaussian_expectation(m, lambda x: abs(x ** 3 - 3.0 * x),
                                         kinks=(0.0, math.sqrt(3.0), -math.sqrt(3.0)))
        rem = third / 6.0 * (e / math.sqrt(2.0)) ** 3
        return dict(slope=simplicial_perimeter(m), curvature=(second - 1.0) / 4.0,
                    remainder=_out(rem, scalar))
    raise ValueError(f"bound must be 'upper' or 'simplicial', got {bound!r}")


def expansion_check(exact, eps, slope, curvature, remainder, *,
                    abs_error: float = 1e-13) -> dict:
    """The numbers of the claim "``exact`` = 1 - slope eps + curvature eps^2 up to the
    remainder bound", for the claims ledger.

    All arguments broadcast together (e.g. ``(K,)`` arrays over a table of ``m`` and ``eps``);
    ``remainder > 0``. ``measured`` is the worst ratio
    ``|exact - (1 - slope eps + curvature eps^2)| / remainder``, which a correct expansion with
    a valid remainder bound keeps ``<= 1``; ``tolerance`` is ``abs_error`` (the absolute
    quadrature and rounding error of the values) over the smallest remainder bound. Returns
    ``dict(measured, reference=1.0, relation="<=", tolerance, basis)``.
    """
    x, e, s, c, r = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                          for v in (exact, eps, slope, curvature, remainder)))
    if x.size == 0:
        raise ValueError("expansion_check needs at least one value")
    if not (np.all(np.isfinite(r)) and np.all(r > 0)):
        raise ValueError("remainder bounds must be finite and > 0")
    if not (math.isfinite(abs_error) and abs_error >= 0):
        raise ValueError(f"abs_error must be finite and >= 0, got {abs_error}")
    ratio = np.abs(x - (1.0 - s * e + c * e ** 2)) / r
    return dict(measured=float(np.max(ratio)), reference=1.0, relation="<=",
                tolerance=float(abs_error / np.min(r)),
                basis=f"Taylor-Lagrange bound on the third-order remainder over {x.size} "
                      f"values; tolerance: absolute quadrature/rounding error {abs_error:g} "
                      "relative to the smallest remainder bound")


def agreement_check(estimates, ses, references, *, bias=0.0, level: float = 1e-3) -> dict:
    """The numbers of the claim "each Monte Carlo estimate agrees with its reference", for the
    claims ledger: a Bonferroni-corrected two-sided z test over the whole table.

    ``estimates``, ``ses`` (standard errors, > 0) and ``references`` broadcast to ``(K,)``;
    ``bias`` (>= 0, broadcast too) is a proven bound on ``|E estimate - reference|`` (e.g. the
    O(h^2) bias of a strip of width h), removed before dividing by the standard error.
    ``measured`` is the largest ``max(|estimate - reference| - bias, 0) / se``; the
    ``reference`` is the normal quantile ``Phi^{-1}(1 - level / (2K))``, so that a correct
    formula fails the whole table with probability at most ``level`` (normal approximation).
    Returns ``dict(measured, reference, relation="<=", tolerance=0.0, basis)``.
    """
    est, se, ref, b = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64).ravel()
                                            for v in (estimates, ses, references, bias)))
    k = est.size
    if k == 0:
        raise ValueError("agreement_check needs at least one estimate")
    if not (np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("standard errors must be finite and > 0")
    if np.any(b < 0) or not np.all(np.isfinite(b)):
        raise ValueError("bias bounds must be finite and >= 0")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    z = np.maximum(np.abs(est - ref) - b, 0.0) / se
    crit = float(sp.ndtri(1.0 - level / (2 * k)))
    extra = " after removing the proven bias bound" if np.any(b > 0) else ""
    return dict(measured=float(np.max(z)), reference=crit, relation="<=", tolerance=0.0,
                basis=f"largest |z| of {k} estimates{extra} against the Bonferroni "
                      f"two-sided normal quantile at family level {level:g}")


def strip_mass_mc(distance: Callable[[np.ndarray], np.ndarray], d: int, width: float, n: int,
                  seed) -> tuple[float, float]:
    """Monte Carlo Gaussian mass of a strip around a boundary, per unit width:
    ``(estimate, standard error)``.

    Draws ``n`` latents :math:`z\\sim N(0, I_d)` in batches, and counts those with
    ``distance(z) <= width / 2``, where ``distance`` maps an ``(N, d)`` array to the ``(N,)``
    distances to the boundary (e.g. ``lambda z: simplicial_cells(z, m)[1]``). Returns the
    fraction divided by ``width`` and its binomial standard error, also divided by ``width``.
    A ``distance`` that returns ``(N, K)`` (``K`` boundaries measured on the same draws) gives
    ``(K,)`` arrays of estimates and standard errors.
    As ``width -> 0`` the estimate's mean tends to the Gaussian perimeter of the boundary
    (:prf:ref:`def-gaussian-perimeter` in the book).
    """
    if not callable(distance):
        raise TypeError(f"distance must be callable, got {type(distance).__name__}")
    d = check_int(d, "d", 1)
    width = _check_positive(width, "width")
    n = check_int(n, "n", 2)
    rng = _rng(seed)
    batch = max(1, _BATCH_ELEMENTS // d)
    kept = None
    for start in range(0, n, batch):
        size = min(batch, n - start)
        dist = np.asarray(distance(rng.standard_normal((size, d))), dtype=np.float64)
        if dist.ndim not in (1, 2) or dist.shape[0] != size:
            raise ValueError(f"distance must return shape ({size},) or ({size}, K), "
                             f"got {dist.shape}")
        counts = np.count_nonzero(dist <= width / 2, axis=0)
        kept = counts if kept is None else kept + counts
    p = np.asarray(kept, dtype=np.float64) / n
    est, se = p / width, np.sqrt(p * (1 - p) / n) / width
    return (float(est), float(se)) if p.ndim == 0 else (est, se)


# --------------------------------------------------------------------------- latent metrics


def linear_separability(z, labels, seed, test_fraction: float = 0.2, *, C: float = 1e4,
                        max_iter: int = 10_000) -> float:
    """Held-out accuracy of a multinomial logistic regression ``z -> labels``.

    ``z`` is ``(N, d)``, ``labels`` integer ``(N,)``. A seeded random split keeps a fraction
    ``test_fraction`` of the rows for testing; the model (lbfgs, almost unpenalized: inverse
    regularization ``C``, default 1e4) is trained on the rest. Accuracy near 1 means the latent
    cells are (almost) separated by hyperplanes, as for a simplicial cluster.

    Raises :class:`~gantheory.config.ConvergenceError` if scikit-learn reports that lbfgs did
    not converge within ``max_iter`` iterations (raise ``max_iter`` or lower ``C``).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x = _as_samples(z, "z")
    y = _as_labels(labels, x.shape[0])
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if not (isinstance(C, (int, float)) and C > 0 and not math.isnan(C)):
        raise ValueError(f"C must be positive, got {C!r}")
    max_iter = check_int(max_iter, "max_iter", 1)
    n = x.shape[0]
    n_test = int(round(test_fraction * n))
    if n_test < 1 or n - n_test < 2:
        raise ValueError(f"{n} rows are too few for a train/test split with "
                         f"test_fraction={test_fraction}")
    rng = _rng(seed)
    perm = rng.permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    if np.unique(y[train]).size < 2:
        raise ValueError("the training split holds a single label; need at least two classes")
    model = LogisticRegression(C=float(C), max_iter=max_iter,
                               random_state=int(rng.integers(2**31)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            model.fit(x[train], y[train])
        except ConvergenceWarning as exc:
            raise ConvergenceError(f"logistic regression did not converge in {max_iter} "
                                   f"iterations (C={C}): {exc}") from exc
    return float(np.mean(model.predict(x[test]) == y[test]))


def convexity(z, labels, label_fn: Callable[[np.ndarray], np.ndarray], n_pairs: int, seed,
              ts: Sequence[float] = (0.25, 0.5, 0.75)) -> tuple[float, float]:
    """Latent convexity: how often interpolants of two same-label latents keep the label.

    Draws ``n_pairs`` pairs ``(z1, z2)`` of distinct rows of ``z`` ``(N, d)`` with the same label
    (first row uniform among rows whose label occurs at least twice, second uniform among the
    other rows with that label), forms :math:`t z_1 + (1-t) z_2` for each ``t`` in ``ts`` and
    labels them with ``label_fn`` (a callable mapping a ``(K, d)`` array to ``(K,)`` labels,
    called once with ``K = n_pairs * len(ts)``).

    Returns ``(fraction, standard_error)``: the fraction of interpolants whose label equals the
    pair's, and its standard error over pairs (the ``len(ts)`` interpolants of one pair are
    averaged first, since they are correlated). Convex cells give exactly 1.
    """
    x = _as_samples(z, "z")
    y = _as_labels(labels, x.shape[0])
    n_pairs = check_int(n_pairs, "n_pairs", 2)
    t = np.asarray(ts, dtype=np.float64)
    if t.ndim != 1 or t.size < 1 or not np.all((t >= 0) & (t <= 1)):
        raise ValueError(f"ts must be a non-empty 1-d sequence of values in [0, 1], got {ts!r}")
    if not callable(label_fn):
        raise ValueError("label_fn must be callable: (K, d) array -> (K,) labels")
    rng = _rng(seed)

    order = np.argsort(y, kind="stable")
    _, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
    position = np.empty(len(y), dtype=np.int64)
    position[order] = np.arange(len(y))
    group = np.searchsorted(starts, position, side="right") - 1  # group of each row
    eligible = np.flatnonzero(counts[group] >= 2)
    if eligible.size == 0:
        raise ValueError("no label occurs twice: cannot form same-label pairs")
    first = eligible[rng.integers(eligible.size, size=n_pairs)]
    g = group[first]
    offset = rng.integers(1, counts[g])  # 1..count-1: never the row itself
    second = order[starts[g] + (position[first] - starts[g] + offset) % counts[g]]

    z1, z2 = x[first], x[second]
    inter = t[:, None, None] * z1[None] + (1 - t)[:, None, None] * z2[None]  # (T, P, d)
    got = np.asarray(label_fn(inter.reshape(-1, x.shape[1])))
    if got.shape != (t.size * n_pairs,):
        raise ValueError(f"label_fn must return shape ({t.size * n_pairs},), got {got.shape}")
    kept = (got.reshape(t.size, n_pairs) == y[first][None]).mean(axis=0)
    return float(kept.mean()), float(kept.std(ddof=1) / math.sqrt(n_pairs))


def prdc(real, fake, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of Naeem et al. (2020).

    ``real`` ``(N, p)`` and ``fake`` ``(M, p)`` are feature vectors (rows); ``1 <= k < N`` and
    ``k < M``. With :math:`R_i` the distance from real :math:`x_i` to its ``k``-th nearest other
    real point and :math:`\\tilde R_j` the same for fake :math:`y_j`:

    - precision: fraction of fakes inside some real ball, :math:`\\exists i: |y_j-x_i|<R_i`;
    - recall: fraction of reals inside some fake ball, :math:`\\exists j: |x_i-y_j|<\\tilde R_j`;
    - density: :math:`\\frac1{kM}\\sum_j\\#\\{i: |y_j-x_i|<R_i\\}` (about 1 for equal laws);
    - coverage: fraction of reals whose nearest fake lies in their ball.

    Strict inequalities, as in the reference implementation. Radii come from scikit-learn's
    ``NearestNeighbors`` (a point is not its own neighbour); the ball counts are computed in
    chunks of the distance matrix. Returns a dict of floats.
    """
    from sklearn.metrics import pairwise_distances_chunked
    from sklearn.neighbors import NearestNeighbors

    x = _as_samples(real, "real")
    y = _as_samples(fake, "fake")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"real and fake must have the same feature dimension, got "
                         f"{x.shape[1]} and {y.shape[1]}")
    k = check_int(k, "k", 1)
    if k >= x.shape[0] or k >= y.shape[0]:
        raise ValueError(f"k = {k} must be smaller than the numbers of real ({x.shape[0]}) and "
                         f"fake ({y.shape[0]}) samples")
    r_real = NearestNeighbors(n_neighbors=k).fit(x).kneighbors()[0][:, -1]
    r_fake = NearestNeighbors(n_neighbors=k).fit(y).kneighbors()[0][:, -1]

    in_balls = np.concatenate([(block < r_real[None, :]).sum(axis=1)
                               for block in pairwise_distances_chunked(y, x, working_memory=64)])
    recalled = np.concatenate([(block < r_fake[None, :]).any(axis=1)
                               for block in pairwise_distances_chunked(x, y, working_memory=64)])
    nearest_fake = NearestNeighbors(n_neighbors=1).fit(y).kneighbors(x)[0][:, 0]
    return {
        "precision": float(np.mean(in_balls > 0)),
        "recall": float(np.mean(recalled)),
        "density": float(in_balls.sum() / (k * y.shape[0])),
        "coverage": float(np.mean(nearest_fake < r_real)),
    }


# --------------------------------------------------------------------------- samplers


def simplicial_truncation_sample(n: int, d: int, m: int, tau: float, seed,
                                 max_draws: int | None = None) -> tuple[np.ndarray, float]:
    """Simplicial truncation (Issenhuth et al.): latents far from the simplicial cell boundaries.

    Draws :math:`z\\sim N(0, I_d)` and accepts it when
    :math:`\\max_i \\operatorname{softmax}_i\\langle z/\\|z\\|, c_i\\rangle > \\tau` with centres
    :math:`c_i = \\sqrt d\\, e_i`, ``i < m`` (so ``d >= m``; see :func:`simplicial_softmax`),
    redrawing the rejected ones (vectorized rejection in batches). ``tau`` is in ``[1/m, 1)``:
    the maximum of a softmax over ``m`` entries is at least ``1/m``, so ``tau = 1/m`` keeps
    almost everything.

    Returns ``(z, acceptance_rate)``: ``z`` ``(n, d)`` in order of acceptance and the fraction of
    all draws that were accepted. Raises :class:`~gantheory.config.ConvergenceError` when more
    than ``max_draws`` latents (default ``max(10**6, 1000 n)``) would be needed.
    """
    n = check_int(n, "n", 1)
    m = _check_m(m)
    d = _check_dim(d, m, 0)
    if not (isinstance(tau, (int, float, np.floating)) and 1.0 / m <= tau < 1.0):
        raise ValueError(f"tau must be in [1/m, 1) = [{1.0 / m:.6g}, 1), got {tau!r}")
    max_draws = max(10**6, 1000 * n) if max_draws is None else check_int(max_draws,
                                                                          "max_draws", 1)
    rng = _rng(seed)
    cap = max(1024, _BATCH_ELEMENTS // d)
    accepted: list[np.ndarray] = []
    have = drawn = hits = 0
    while have < n:
        if drawn >= max_draws:
            raise ConvergenceError(
                f"simplicial truncation accepted {have} of {n} latents in {drawn} draws "
                f"(acceptance rate {hits / max(drawn, 1):.3g}, tau={tau}, m={m}, d={d}); "
                "raise max_draws or lower tau")
        rate = hits / drawn if hits else (1.0 / drawn if drawn else 1.0)
        size = int(min(cap, max_draws - drawn, max(256, 1.2 * (n - have) / rate + 64)))
        z = rng.standard_normal((size, d))
        keep = simplicial_softmax(z, m).max(axis=1) > tau
        drawn += size
        hits += int(np.count_nonzero(keep))
        accepted.append(z[keep][: n - have])
        have += accepted[-1].shape[0]
    return np.concatenate(accepted), hits / drawn


def truncation_sample(n: int, d: int, psi: float, seed) -> np.ndarray:
    """Plain truncation trick: ``(n, d)`` latents with iid coordinates
    :math:`N(0,1)` conditioned on :math:`|z_i|\\le\\psi` (``scipy.stats.truncnorm``), ``psi > 0``
    finite."""
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    if not (isinstance(psi, (int, float, np.floating)) and math.isfinite(psi) and psi > 0):
        raise ValueError(f"psi must be a finite positive number, got {psi!r}")
    return st.truncnorm.rvs(-psi, psi, size=(n, d), random_state=_rng(seed))


# --------------------------------------------------------------------------- disconnected targets


def mode_centres(m: int, D: int = 2, spacing: float = 4.0) -> np.ndarray:
    """``m`` mode centres in :math:`\\mathbb R^D` whose smallest pairwise distance is ``spacing``.

    Returns a float64 array ``(m, D)``, centred at the origin:

    - ``D = 1``: the points ``(k - (m-1)/2) * spacing``, ``k < m``;
    - ``D = 2``: a regular ``m``-gon (first vertex on the positive second axis) of circumradius
      ``spacing / (2 sin(pi/m))``, so adjacent centres are ``spacing`` apart (farther pairs are
      farther apart);
    - ``D >= 3`` and ``m <= D + 1``: a regular simplex, every pair exactly ``spacing`` apart
      (:func:`simplex_centres` rescaled);
    - ``D >= 3`` and ``m > D + 1``: the regular ``m``-gon in the first two coordinates.
    """
    m = check_int(m, "m", 2)
    D = check_int(D, "D", 1)
    spacing = _check_positive(spacing, "spacing")
    out = np.zeros((m, D))
    if D == 1:
        out[:, 0] = (np.arange(m) - (m - 1) / 2) * spacing
    elif D >= 3 and m <= D + 1:
        out[:] = simplex_centres(m, D) * (spacing / _centre_gap(m))
    else:
        radius = spacing / (2 * math.sin(math.pi / m))
        angle = math.pi / 2 + 2 * math.pi * np.arange(m) / m
        out[:, 0] = radius * np.cos(angle)
        out[:, 1] = radius * np.sin(angle)
    return out


def _pairwise_distances(c: np.ndarray) -> np.ndarray:
    diff = c[:, None, :] - c[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


#: Relative slack of the ball membership test: a point at distance <= r (1 + 1e-9) from a centre
#: is inside (absorbs the rounding of points sampled on the sphere of radius r).
_BALL_SLACK = 1e-9


@dataclass(frozen=True, eq=False)
class DisconnectedTarget:
    """``m`` disjoint modes of weight :math:`1/m`: uniform laws on balls of :math:`\\mathbb R^D`.

    ``centres`` is ``(m, D)`` (``m >= 2``; stored as a read-only float64 copy) and ``radius``
    the common radius ``r > 0`` of the closed balls :math:`M_i = \\bar B(c_i, r)`; the balls must
    be disjoint (:attr:`gap` > 0). The support is :math:`M = \\cup_i M_i`; the distance between
    two modes is at least :attr:`gap` :math:`= \\min_{i\\ne j}\\|c_i - c_j\\| - 2r`, the
    :math:`D` of the precision bounds (:math:`\\varepsilon = D/L`).
    Build the usual configuration with :meth:`regular`.
    """

    centres: np.ndarray
    radius: float

    def __post_init__(self) -> None:
        c = np.array(self.centres, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] < 2 or c.shape[1] < 1:
            raise ValueError(f"centres must have shape (m, D) with m >= 2 modes and D >= 1, "
                             f"got {c.shape}")
        if not np.all(np.isfinite(c)):
            raise ValueError("centres contain NaN or infinite entries")
        r = _check_positive(self.radius, "radius")
        dist = _pairwise_distances(c)
        np.fill_diagonal(dist, np.inf)
        if dist.min() - 2 * r <= 0:
            raise ValueError(f"the balls must be disjoint: smallest centre distance "
                             f"{dist.min():.6g} <= 2 * radius = {2 * r:.6g}")
        c.setflags(write=False)
        object.__setattr__(self, "centres", c)
        object.__setattr__(self, "radius", r)

    @classmethod
    def regular(cls, m: int, D: int = 2, spacing: float = 4.0,
                radius: float = 0.25) -> DisconnectedTarget:
        """The target with centres :func:`mode_centres` ``(m, D, spacing)`` and ``radius``."""
        return cls(mode_centres(m, D, spacing), radius)

    @property
    def m(self) -> int:
        """Number of modes."""
        return int(self.centres.shape[0])

    @property
    def dim(self) -> int:
        """Ambient dimension ``D`` of the samples."""
        return int(self.centres.shape[1])

    @property
    def weights(self) -> np.ndarray:
        """Mode weights ``(m,)``, all equal to ``1/m``."""
        return np.full(self.m, 1.0 / self.m)

    @property
    def gap(self) -> float:
        """Smallest distance between two modes: min pairwise centre distance minus ``2 r``."""
        dist = _pairwise_distances(self.centres)
        np.fill_diagonal(dist, np.inf)
        return float(dist.min() - 2 * self.radius)

    @property
    def equidistant(self) -> bool:
        """Whether every two centres are at the same distance (relative tolerance 1e-9): the
        hypothesis of the simplicial lower bound (:func:`simplicial_precision`), whose
        construction sends adjacent cells to modes at distance :attr:`gap`. The regular targets
        with ``m <= D + 1`` are equidistant; the square (``m = 4``, ``D = 2``) is not."""
        dist = _pairwise_distances(self.centres)[np.triu_indices(self.m, 1)]
        return bool(dist.max() - dist.min() <= 1e-9 * dist.max())

    def sample(self, n: int, seed) -> tuple[np.ndarray, np.ndarray]:
        """``n`` iid samples: ``(x, labels)``, float64 ``(n, D)`` and int64 ``(n,)``.

        The mode ``labels`` are uniform on ``0..m-1``; given its mode, a point is uniform on the
        ball (Gaussian direction normalized, radius :math:`rU^{1/D}`). ``seed`` is a
        non-negative integer or a ``numpy.random.Generator`` (advanced in place).
        """
        n = check_int(n, "n", 0)
        rng = _rng(seed)
        labels = rng.integers(self.m, size=n)
        g = rng.standard_normal((n, self.dim))
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), np.finfo(np.float64).tiny)
        rad = self.radius * rng.random(n) ** (1.0 / self.dim)
        return self.centres[labels] + rad[:, None] * g, labels.astype(np.int64)

    def assign(self, x) -> np.ndarray:
        """Mode of each row of ``x`` ``(N, D)``: int64 ``(N,)``, ``-1`` off the support.

        A point belongs to mode ``i`` when :math:`\\|x - c_i\\|\\le r(1 + 10^{-9})` (closed
        balls; the slack absorbs rounding). The balls are disjoint, so the label is unique.
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(f"x must have shape (N, {self.dim}) (samples as rows), "
                             f"got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("x contains NaN or infinite entries")
        out = np.full(arr.shape[0], -1, dtype=np.int64)
        limit = (self.radius * (1 + _BALL_SLACK)) ** 2
        batch = max(1, _BATCH_ELEMENTS // (self.m * self.dim))
        for start in range(0, arr.shape[0], batch):
            diff = arr[start:start + batch, None, :] - self.centres[None]
            d2 = np.einsum("nmk,nmk->nm", diff, diff)
            nearest = np.argmin(d2, axis=1)
            inside = d2[np.arange(nearest.size), nearest] <= limit
            out[start:start + batch][inside] = nearest[inside]
        return out

    def precision(self, x) -> float:
        """Fraction of the rows of ``x`` ``(N, D)``, ``N >= 1``, inside the support."""
        labels = self.assign(x)
        if labels.size == 0:
            raise ValueError("x has no rows: the precision of an empty sample is undefined")
        return float(np.mean(labels >= 0))

    def mode_masses(self, x) -> np.ndarray:
        """Fraction of the rows of ``x`` ``(N, D)``, ``N >= 1``, in each mode: float64 ``(m,)``.

        Sums to :meth:`precision`; mode coverage means every entry is near ``1/m``.
        """
        labels = self.assign(x)
        if labels.size == 0:
            raise ValueError("x has no rows: the mode masses of an empty sample are undefined")
        return np.bincount(labels[labels >= 0], minlength=self.m) / labels.size


# --------------------------------------------------------------------------- toy GANs


class LipschitzGenerator(nn.Module):
    """MLP generator :math:`\\mathbb R^d\\to\\mathbb R^D` with a certified Lipschitz bound.

    ``z -> scale * N(z) + bias`` where ``N`` is ``depth`` hidden layers of width ``hidden``
    with ReLU, then a linear output layer, every linear layer wrapped in
    ``torch.nn.utils.parametrizations.spectral_norm`` (weight divided by a power-iteration
    estimate of its top singular value); ``scale`` is a learnable positive scalar gain and
    ``bias`` a learnable vector ``(D,)``. The gain is stored as ``log_scale``
    (:math:`\\mathrm{scale} = e^{\\mathrm{log\\_scale}}`, initialized to ``init_scale``): it stays
    positive and Adam can grow it by orders of magnitude, which training needs (the precision
    of a generator is limited by its Lipschitz constant).

    ReLU is 1-Lipschitz, so :math:`\\operatorname{Lip}(G)\\le\\mathrm{scale}\\prod_k\\|W_k\\|_2`,
    which :meth:`lipschitz_bound` evaluates with exact singular values: the spectral-norm
    estimate is only approximate, so :math:`\\|W_k\\|_2` may exceed 1 slightly.

    ``forward`` takes latents ``(N, latent_dim)`` and returns points ``(N, out_dim)``. In
    training mode every forward pass runs one power-iteration step per layer (changing the
    normalized weights a little); in eval mode the weights are fixed.
    """

    def __init__(self, latent_dim: int, out_dim: int = 2, *, hidden: int = 64, depth: int = 3,
                 init_scale: float = 1.0) -> None:
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        self.out_dim = check_int(out_dim, "out_dim", 1)
        hidden = check_int(hidden, "hidden", 1)
        depth = check_int(depth, "depth", 0)
        init_scale = _check_positive(init_scale, "init_scale")
        sizes = [self.latent_dim] + [hidden] * depth + [self.out_dim]
        layers: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(spectral_norm(nn.Linear(sizes[k], sizes[k + 1])))
            if k < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.bias = nn.Parameter(torch.zeros(self.out_dim))

    @property
    def scale(self) -> torch.Tensor:
        """The gain :math:`e^{\\mathrm{log\\_scale}} > 0` (a 0-d tensor, differentiable)."""
        return self.log_scale.exp()

    def linear_layers(self) -> list[nn.Linear]:
        """The spectrally normalized linear layers, input to output."""
        return [layer for layer in self.net if isinstance(layer, nn.Linear)]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Points ``(N, out_dim)`` for latents ``z`` ``(N, latent_dim)``."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.scale * self.net(z) + self.bias

    def layer_norms(self) -> np.ndarray:
        """Exact operator norms ``(depth + 1,)`` of the normalized weights used in eval mode
        (float64 SVD of each weight)."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return np.array([float(torch.linalg.matrix_norm(layer.weight.double(), ord=2))
                                 for layer in self.linear_layers()])
        finally:
            self.train(was_training)

    def lipschitz_bound(self) -> float:
        """Rigorous upper bound on the Lipschitz constant (Euclidean norms) of the eval-mode map:
        :math:`\\mathrm{scale}\\prod_k\\|W_k\\|_2` with exact operator norms
        (:meth:`layer_norms`). Exact arithmetic; float32 evaluation adds relative rounding of
        order 1e-6."""
        return float(self.scale.detach().double()) * float(np.prod(self.layer_norms()))


class ToyCritic(nn.Module):
    """Plain MLP critic :math:`\\mathbb R^D\\to\\mathbb R` of the WGAN-GP: ``depth`` hidden
    layers of width ``hidden`` with LeakyReLU(0.2), then a linear output. ``forward`` maps
    points ``(N, in_dim)`` to scores ``(N,)``."""

    def __init__(self, in_dim: int = 2, *, hidden: int = 128, depth: int = 2) -> None:
        super().__init__()
        in_dim = check_int(in_dim, "in_dim", 1)
        hidden = check_int(hidden, "hidden", 1)
        depth = check_int(depth, "depth", 0)
        sizes = [in_dim] + [hidden] * depth + [1]
        layers: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(N,)`` of points ``x`` ``(N, in_dim)``."""
        return self.net(x).squeeze(1)


@dataclass
class TrainedToyGAN:
    """A :class:`LipschitzGenerator` trained by :func:`train_toy_gan` on ``target``.

    ``generator`` is in eval mode; ``history`` holds about ten
    ``(step, critic_loss, generator_loss, precision)`` tuples: the critic's objective (penalty
    included) and the generator's, averaged since the previous entry, and the precision of
    the generator (eval mode) on 4096 fixed latents at that step; ``train_seconds`` is the
    training time (of the original training when ``from_cache``); ``path`` is the cache file
    (None when ``cache=False``); ``params`` the training arguments (the cache key, with the
    seed actually used); ``attempts`` how many trainings :func:`train_toy_gan` ran (restarts).
    """

    generator: LipschitzGenerator
    target: DisconnectedTarget
    history: list[tuple[int, float, float, float]]
    train_seconds: float
    from_cache: bool
    path: Path | None
    params: dict = field(default_factory=dict)
    attempts: int = 1


_N_LOG = 10  # history entries of train_toy_gan
_N_EVAL = 4096  # fixed latents for the precision in the history
#: Number of fixed latents on which the history (and the restart criterion ``min_precision``) of
#: :func:`train_toy_gan` measures precision.
HISTORY_LATENTS = _N_EVAL
#: The generator's log-gain learns this many times faster than its weights: the gain must grow
#: from about 1 to 20-50 while the weights only turn.
_SCALE_LR_FACTOR = 30.0
#: Fraction of the steps, at the end, over which the learning rates decay linearly to zero.
_DECAY_FRACTION = 0.5


def _as_latents(z, d: int) -> torch.Tensor:
    t = z.detach().cpu() if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z))
    if t.ndim != 2 or t.shape[1] != d:
        raise ValueError(f"z must have shape (N, {d}) (latents as rows), got {tuple(t.shape)}")
    if not t.dtype.is_floating_point:
        raise ValueError(f"z must hold floating-point numbers, got dtype {t.dtype}")
    t = t.to(torch.float32)
    if not torch.isfinite(t).all():
        raise ValueError("z contains NaN or infinite entries")
    return t


def generate(generator: nn.Module, z, *, batch_size: int = 65536) -> np.ndarray:
    """``generator(z)`` for latents ``z`` ``(N, d)`` (array or tensor): float64 ``(N, D)``.

    Computed in float32 by batches of ``batch_size`` under ``torch.inference_mode`` in eval
    mode (the module's mode is restored).
    """
    d = check_int(getattr(generator, "latent_dim", 0), "generator.latent_dim", 1)
    zt = _as_latents(z, d)
    batch_size = check_int(batch_size, "batch_size", 1)
    chunks = _cache.inference_chunks(generator, lambda s: generator(zt[s]), zt.shape[0],
                                     batch_size)
    if not chunks:
        return np.zeros((0, int(getattr(generator, "out_dim", 0))))
    return torch.cat(chunks).double().numpy()


def latent_partition(generator: nn.Module, target: DisconnectedTarget, z, *,
                     batch_size: int = 65536) -> np.ndarray:
    """Mode reached by each latent: int64 ``(N,)`` for ``z`` ``(N, d)``, ``-1`` off the support.

    ``target.assign(generate(generator, z))``: the cells :math:`A_i = G^{-1}(M_i)` of the latent
    partition, evaluated without gradients in batches.
    """
    if not isinstance(target, DisconnectedTarget):
        raise TypeError(f"target must be a DisconnectedTarget, got {type(target).__name__}")
    x = generate(generator, z, batch_size=batch_size)
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return target.assign(x)


class _StackedLipschitzGenerator(nn.Module):
    """``E`` :class:`LipschitzGenerator` of one width and depth as one batched module:
    latents ``(E, N, d_max)`` -> points ``(E, N, D)``, member ``e`` computing exactly its own
    generator (latent dimensions below ``d_max`` are zero-padded, with zero weight columns:
    :func:`gantheory.training.pad_columns`). The spectral normalization is torch's, batched:
    in train mode each forward pass runs one power-iteration step per layer on the stored
    vectors ``u``, ``v`` and divides the raw weight by :math:`u^\\top W v`; eval mode uses the
    stored vectors. :meth:`write_back` copies the trained state into the member modules."""

    def __init__(self, generators: Sequence[LipschitzGenerator]) -> None:
        super().__init__()
        self.dims = [g.latent_dim for g in generators]
        self.latent_dim = max(self.dims)
        layers = [g.linear_layers() for g in generators]
        self.n_layers = len(layers[0])
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        with torch.no_grad():
            for k in range(self.n_layers):
                par = [ls[k].parametrizations.weight for ls in layers]
                w = [p.original for p in par]
                v = [p[0]._v for p in par]
                if k == 0:
                    w = [training.pad_columns(x, self.latent_dim) for x in w]
                    v = [torch.cat([x, x.new_zeros(self.latent_dim - x.numel())]) for x in v]
                self.weights.append(nn.Parameter(torch.stack(w).clone()))
                self.biases.append(nn.Parameter(torch.stack([ls[k].bias for ls in layers])
                                                .clone()))
                self.register_buffer(f"u{k}", torch.stack([p[0]._u for p in par]).clone())
                self.register_buffer(f"v{k}", torch.stack(v).clone())
            self.log_scale = nn.Parameter(torch.stack([g.log_scale for g in generators]).clone())
            self.bias = nn.Parameter(torch.stack([g.bias for g in generators]).clone())
        self.eps = layers[0][0].parametrizations.weight[0].eps

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for k in range(self.n_layers):
            w = self.weights[k]
            u, v = getattr(self, f"u{k}"), getattr(self, f"v{k}")
            if self.training:  # torch's _power_method, one step, per member
                with torch.no_grad():
                    u.copy_(nn.functional.normalize(torch.bmm(w, v.unsqueeze(2)).squeeze(2),
                                                    dim=1, eps=self.eps))
                    v.copy_(nn.functional.normalize(
                        torch.bmm(w.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1,
                        eps=self.eps))
            sigma = (u * torch.bmm(w, v.unsqueeze(2)).squeeze(2)).sum(dim=1)
            h = training.stacked_linear(h, w / sigma[:, None, None], self.biases[k])
            if k < self.n_layers - 1:
                h = torch.relu(h)
        return self.log_scale.exp()[:, None, None] * h + self.bias[:, None, :]

    @torch.no_grad()
    def write_back(self, generators: Sequence[LipschitzGenerator]) -> None:
        for e, g in enumerate(generators):
            for k, layer in enumerate(g.linear_layers()):
                par = layer.parametrizations.weight
                cols = par.original.shape[1]
                par.original.copy_(self.weights[k][e, :, :cols])
                layer.bias.copy_(self.biases[k][e])
                par[0]._u.copy_(getattr(self, f"u{k}")[e])
                par[0]._v.copy_(getattr(self, f"v{k}")[e, :cols])
            g.log_scale.copy_(self.log_scale[e])
            g.bias.copy_(self.bias[e])


class _StackedToyCritic(nn.Module):
    """``E`` :class:`ToyCritic` of one shape as one batched module: points ``(E, N, D)`` ->
    scores ``(E, N)``."""

    def __init__(self, critics: Sequence[ToyCritic]) -> None:
        super().__init__()
        layers = [[m for m in c.net if isinstance(m, nn.Linear)] for c in critics]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([ls[k].weight.detach() for ls in layers]).clone())
            for k in range(len(layers[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[k].bias.detach() for ls in layers]).clone())
            for k in range(len(layers[0])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = training.stacked_linear(h, w, b)
            if k < len(self.weights) - 1:
                h = nn.functional.leaky_relu(h, 0.2)
        return h.squeeze(-1)


def _check_shared(steps, batch_size, lr, critic_lr, n_critic, gp_weight, hidden, depth,
                  init_scale) -> dict:
    """The training arguments every member of an ensemble shares, validated."""
    if isinstance(gp_weight, bool) or not isinstance(gp_weight, (int, float, np.floating,
                                                                 np.integer)):
        raise TypeError(f"gp_weight must be a real number, got {type(gp_weight).__name__}")
    gp_weight = float(gp_weight)
    if not math.isfinite(gp_weight) or gp_weight < 0:
        raise ValueError(f"gp_weight must be a finite number >= 0, got {gp_weight}")
    return dict(steps=check_int(steps, "steps", 1),
                batch_size=check_int(batch_size, "batch_size", 2),
                lr=_check_positive(lr, "lr"), critic_lr=_check_positive(critic_lr, "critic_lr"),
                n_critic=check_int(n_critic, "n_critic", 1), gp_weight=gp_weight,
                hidden=check_int(hidden, "hidden", 1), depth=check_int(depth, "depth", 0),
                init_scale=_check_positive(init_scale, "init_scale"))


_MEMBER_KEYS = ("target", "latent_dim", "seed", "latent_tau", "min_precision", "restarts")


def _check_member(k: int, spec) -> dict:
    """One member of :func:`train_toy_gans`, validated (``k`` names it in the messages)."""
    where = "" if k < 0 else f"members[{k}]: "
    if not isinstance(spec, dict):
        raise TypeError(f"{where}a member must be a dict of {_MEMBER_KEYS}, "
                        f"got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(_MEMBER_KEYS))
    if unknown or "target" not in spec or "latent_dim" not in spec:
        raise ValueError(f"{where}a member needs 'target' and 'latent_dim' and may set "
                         f"{_MEMBER_KEYS[2:]}; got the keys {sorted(spec)}")
    target = spec["target"]
    if not isinstance(target, DisconnectedTarget):
        raise TypeError(f"{where}target must be a DisconnectedTarget, "
                        f"got {type(target).__name__}")
    out = dict(target=target, latent_dim=check_int(spec["latent_dim"], "latent_dim", 1),
               seed=check_int(spec.get("seed", 0), "seed", 0), latent_tau=spec.get("latent_tau"),
               min_precision=spec.get("min_precision"), restarts=spec.get("restarts", 0))
    if out["min_precision"] is not None or out["restarts"]:
        if out["min_precision"] is None:
            raise ValueError(f"{where}restarts needs min_precision (the criterion for a "
                             f"restart)")
        mp = _check_positive(out["min_precision"], "min_precision")
        if mp > 1:
            raise ValueError(f"{where}min_precision must lie in (0, 1], got {mp}")
        out["min_precision"] = mp
        out["restarts"] = check_int(out["restarts"], "restarts", 0)
    if out["latent_tau"] is not None:
        tau = float(out["latent_tau"])
        if not 1.0 / target.m <= tau < 1.0:
            raise ValueError(f"{where}latent_tau must be in [1/m, 1) = [{1 / target.m:.4g}, 1), "
                             f"got {tau}")
        if out["latent_dim"] < target.m:
            raise ValueError(f"{where}simplicial truncation needs latent_dim >= m = {target.m}, "
                             f"got {out['latent_dim']}")
        out["latent_tau"] = tau
    return out


def _member_params(spec: dict, seed: int, shared: dict) -> dict:
    """The training arguments of one member run (its seed the one actually used)."""
    target = spec["target"]
    params = {"centres": target.centres.tolist(), "radius": target.radius,
              "latent_dim": spec["latent_dim"], "seed": seed, **shared}
    if spec["latent_tau"] is not None:
        params["latent_tau"] = spec["latent_tau"]
    return params


def _new_generator(spec: dict, seed: int, shared: dict) -> LipschitzGenerator:
    with torch_seeded(derive_seed(seed, "toy-gan", "G")):
        return LipschitzGenerator(spec["latent_dim"], spec["target"].dim, hidden=shared["hidden"],
                                  depth=shared["depth"], init_scale=shared["init_scale"])


def _train_round(specs: list[dict], seeds: list[int], shared: dict,
                 progress: bool | None) -> tuple[list[LipschitzGenerator], list[list], float]:
    """One batched training of the members ``specs`` under ``seeds``: (generators, histories
    of ``(step, critic_loss, generator_loss, precision)`` tuples, seconds)."""
    generators = [_new_generator(s, seed, shared) for s, seed in zip(specs, seeds, strict=True)]
    critics = []
    for s, seed in zip(specs, seeds, strict=True):
        with torch_seeded(derive_seed(seed, "toy-gan", "C")):
            critics.append(ToyCritic(s["target"].dim, hidden=shared["hidden"],
                                     depth=shared["depth"]))
    gen = _StackedLipschitzGenerator(generators)
    critic = _StackedToyCritic(critics)
    streams = training.Streams(seeds, "toy-gan")
    d_max, batch = gen.latent_dim, shared["batch_size"]
    simplicial = [np.random.default_rng(derive_seed(seed, "toy-gan", "simplicial"))
                  for seed in seeds]

    def member_latents(e: int, n: int, torch_gen: torch.Generator,
                       rng: np.random.Generator) -> torch.Tensor:
        s = specs[e]
        if s["latent_tau"] is None:
            z = torch.randn(n, s["latent_dim"], generator=torch_gen)
        else:  # the simplicially truncated law, for training and evaluation
            z = torch.from_numpy(simplicial_truncation_sample(
                n, s["latent_dim"], s["target"].m, s["latent_tau"], rng)[0]).to(torch.float32)
        return training.pad_columns(z, d_max)  # zero latent coordinates up to d_max

    z_eval = torch.stack([
        member_latents(e, _N_EVAL, torch.Generator().manual_seed(
            derive_seed(seed, "toy-gan", "eval")),
            np.random.default_rng(derive_seed(seed, "toy-gan", "eval-simplicial")))
        for e, seed in enumerate(seeds)])

    def draw_real():
        return (streams.each(lambda e: torch.from_numpy(
            specs[e]["target"].sample(batch, streams.numpy[e])[0]).to(torch.float32)),)

    def draw_latent():
        return streams.each(lambda e: member_latents(e, batch, streams.torch[e], simplicial[e]))

    def evaluate(step: int) -> list[dict]:
        gen.eval()
        with torch.no_grad():
            x = gen(z_eval).double().numpy()
        return [{"precision": float(specs[e]["target"].precision(x[e]))
                 if np.all(np.isfinite(x[e])) else float("nan")} for e in range(len(specs))]

    lr = shared["lr"]
    opt_g = torch.optim.Adam(
        [{"params": [p for n, p in gen.named_parameters() if n != "log_scale"], "lr": lr},
         {"params": [gen.log_scale], "lr": lr * _SCALE_LR_FACTOR}], betas=(0.5, 0.9),
        foreach=True)
    opt_c = torch.optim.Adam(critic.parameters(), lr=shared["critic_lr"], betas=(0.5, 0.9),
                             foreach=True)
    steps = shared["steps"]
    log_every = math.ceil(steps / _N_LOG)
    start = time.perf_counter()
    histories = training.fit(
        gen, critic, training.WGANGP(shared["gp_weight"]), steps=steps,
        n_critic=shared["n_critic"], draw_real=draw_real, draw_latent=draw_latent,
        streams=streams, opt_g=opt_g, opt_c=opt_c, decay=_DECAY_FRACTION,
        log_steps=range(log_every, steps + 1, log_every), evaluate=evaluate,
        progress=progress, desc="toy GAN steps")
    seconds = time.perf_counter() - start
    gen.write_back(generators)
    for g in generators:
        g.eval()
    rows = [[(r["step"], r["critic_loss"], r["generator_loss"], r["precision"]) for r in h]
            for h in histories]
    return generators, rows, seconds


def _check_history(history) -> list[tuple[int, float, float, float]]:
    rows = [(int(s), float(c), float(g), float(p)) for s, c, g, p in history]
    if not rows or not all(math.isfinite(v) for row in rows for v in row[1:3]):
        raise ValueError("history is empty or holds a non-finite loss")
    return rows


def train_toy_gans(members: Sequence[dict], *, steps: int, batch_size: int = 256,
                   lr: float = 1e-3, critic_lr: float = 3e-3, n_critic: int = 2,
                   gp_weight: float = 10.0, hidden: int = 64, depth: int = 3,
                   init_scale: float = 1.0, cache: bool = True,
                   progress: bool | None = None) -> list[TrainedToyGAN]:
    """Train an ensemble of toy WGAN-GPs as one batched computation; one result per member.

    ``members`` is a list of dicts, one per GAN, with the keys ``target`` (a
    :class:`DisconnectedTarget`; all of one dimension ``D``), ``latent_dim``, and optionally
    ``seed`` (0), ``latent_tau`` (None), ``min_precision`` (None) and ``restarts`` (0), with
    the meanings of :func:`train_toy_gan`; the other arguments are shared by all members.
    Members may differ in target, number of modes, latent dimension (zero-padded, exactly),
    latent law and seed. Each member is the GAN :func:`train_toy_gan` would train alone, up to
    the rounding of batched matrix products (``tests/test_training.py`` measures the
    difference); 8 members at chapter 7's sizes train several times faster than one after the
    other (``benchmarks/bench_training.py``). Members below their ``min_precision`` are
    retrained together, under the seeds :func:`gantheory.training.restart_seed`, until they
    reach it or their restarts run out (:class:`~gantheory.config.ConvergenceError`, naming
    the member). A :class:`~gantheory.training.DivergenceError` (also a
    ``FloatingPointError``) names a member whose loss became non-finite.

    With ``cache`` the whole ensemble (every member's generator, history, seed used and
    attempts) is one file of :func:`gantheory._cache.cache_dir`, keyed on the members, the
    shared arguments, this module's and :mod:`gantheory.training`'s sources and torch's
    version; a file with NaN weights or a malformed history is retrained with a warning.
    ``train_seconds`` of every member is the wall time of the whole ensemble's training.
    """
    if not isinstance(members, (list, tuple)) or not members:
        raise ValueError("members must be a non-empty list of member dicts")
    specs = [_check_member(k if len(members) > 1 else -1, s) for k, s in enumerate(members)]
    dims = {s["target"].dim for s in specs}
    if len(dims) > 1:
        raise ValueError(f"the members' targets must share one dimension, got {sorted(dims)}")
    shared = _check_shared(steps, batch_size, lr, critic_lr, n_critic, gp_weight, hidden, depth,
                           init_scale)
    key = {"members": [{**_member_params(s, s["seed"], {}), "min_precision": s["min_precision"],
                        "restarts": s["restarts"]} for s in specs], **shared}
    path = (_cache.weights_path("partitions", "toygans", key, __file__,
                                {"trainer": training.trainer_digest()}) if cache else None)
    if path is not None:
        shells = [_new_generator(s, s["seed"], shared) for s in specs]
        payload = _cache.load(path, shells, ("histories", "seeds", "attempts", "train_seconds"),
                              validate=lambda p: [_check_history(h) for h in p["histories"]])
        if payload is not None:
            return [TrainedToyGAN(g.eval(), s["target"], _check_history(h),
                                  float(payload["train_seconds"]), True, path,
                                  _member_params(s, int(seed), shared), int(att))
                    for g, s, h, seed, att in zip(shells, specs, payload["histories"],
                                                  payload["seeds"], payload["attempts"],
                                                  strict=True)]

    def train_round(indices: list[int], seeds: list[int]) -> tuple[list, float]:
        gens, hists, secs = _train_round([specs[k] for k in indices], seeds, shared, progress)
        return list(zip(gens, hists, strict=True)), secs

    results, seeds, attempts, seconds = training.with_restarts(
        train_round, [s["seed"] for s in specs], [s["restarts"] for s in specs],
        lambda k, result: result[1][-1][3], [s["min_precision"] for s in specs], "toy GAN")
    results = [(g, h, seed, att) for (g, h), seed, att in zip(results, seeds, attempts,
                                                              strict=True)]
    if path is not None:
        _cache.save(path, {"state_dict": [r[0].state_dict() for r in results],
                           "histories": [r[1] for r in results],
                           "seeds": [r[2] for r in results],
                           "attempts": [r[3] for r in results], "train_seconds": seconds})
    return [TrainedToyGAN(g, s["target"], h, seconds, False, path,
                          _member_params(s, seed, shared), att)
            for (g, h, seed, att), s in zip(results, specs, strict=True)]


def train_toy_gan(target: DisconnectedTarget, latent_dim: int, *, steps: int, seed: int = 0,
                  batch_size: int = 256, lr: float = 1e-3, critic_lr: float = 3e-3,
                  n_critic: int = 2, gp_weight: float = 10.0, hidden: int = 64, depth: int = 3,
                  init_scale: float = 1.0, latent_tau: float | None = None,
                  min_precision: float | None = None, restarts: int = 0,
                  cache: bool = True, progress: bool | None = None) -> TrainedToyGAN:
    """Train a :class:`LipschitzGenerator` with latent :math:`N(0, I_d)` on a disconnected target.

    A one-member :func:`train_toy_gans`; several GANs train much faster as one ensemble.

    With ``latent_tau`` the latents are instead drawn from the simplicial truncation of the
    Gaussian (:func:`simplicial_truncation_sample` with ``m = target.m`` and threshold
    ``latent_tau``; needs ``latent_dim >= target.m``), for training and for the precision in
    the history: the method of Issenhuth et al., sample with the same law afterwards.

    WGAN-GP (:class:`gantheory.training.WGANGP`, Gulrajani et al. 2017) through
    :func:`gantheory.training.fit`: per generator step, ``n_critic`` critic steps minimizing
    :math:`E\\,C(G(z)) - E\\,C(x) + \\lambda E(\\|\\nabla C(\\hat x)\\|-1)^2` (``gp_weight``
    :math:`=\\lambda`, :math:`\\hat x` uniform on segments between real and fake points), then
    one generator step minimizing :math:`-E\\,C(G(z))`; fresh batches of ``batch_size`` target
    samples and latents each time. Adam with betas (0.5, 0.9): learning rate ``lr`` for the
    generator's weights and bias, ``30 * lr`` for its log-gain, ``critic_lr`` for the critic
    (a critic faster than the generator shortens the initial mode-finding phase); all rates
    decay linearly to zero over the second half of the ``steps`` (the last steps settle the
    modes). The critic is a :class:`ToyCritic` and the generator a
    :class:`LipschitzGenerator`, both of width ``hidden`` and ``depth`` hidden layers, the
    generator's gain starting at ``init_scale``; both are initialized under seeds derived from
    ``seed``; every random draw is seeded, and training runs on one CPU thread, so the same
    arguments give the same weights on a given machine. The history holds about ten
    ``(step, critic_loss, generator_loss, precision)`` rows, the precision measured on
    :data:`HISTORY_LATENTS` fixed latents.

    Cost measured on the project's 2-core machine with the defaults, ``D = 2``, spacing 4,
    radius 0.25 (gap 3.5), 2 December: about 12 ms per generator step alone, about 5 ms per
    member and step in an ensemble of eight (``benchmarks/bench_training.py``); chapter 7's
    eight GANs of 3000 steps train in about two minutes as one ensemble. Short runs can still be
    hunting for the modes; a few tens of steps suffice to test the machinery.

    With ``cache`` the generator is saved to, and on a later identical call loaded from,
    :func:`gantheory._cache.cache_dir` (``$GANTHEORY_CACHE``), under a name hashing this
    module's and the trainer's source, the target, the arguments and torch's version.
    ``progress`` is the ``show`` switch of :func:`gantheory.config.progress_bar` (None:
    interactive runs only). Raises :class:`gantheory.training.DivergenceError` (a
    ``FloatingPointError``) if a loss becomes NaN or infinite.

    GAN training is chaotic: the same seed can end well on one CPU and badly on another, whose
    floating-point paths differ in the last bits. With ``min_precision``, a run whose final
    precision (the last ``history`` entry) is below it is retrained, up to ``restarts`` times,
    under the seeds ``derive_seed(seed, "restart", k)``; the result records the seed used
    (``params["seed"]``) and ``attempts``. ``ConvergenceError`` when no attempt reaches it.
    """
    member = dict(target=target, latent_dim=latent_dim, seed=seed, latent_tau=latent_tau,
                  min_precision=min_precision, restarts=restarts)
    return train_toy_gans([member], steps=steps, batch_size=batch_size, lr=lr,
                          critic_lr=critic_lr, n_critic=n_critic, gp_weight=gp_weight,
                          hidden=hidden, depth=depth, init_scale=init_scale, cache=cache,
                          progress=progress)[0]


# --------------------------------------------------------------------------- checks (chapter 7)
# Small pure functions that return a claim's numbers as a dict (the keyword arguments
# ``measured, reference, relation, tolerance, basis`` of :func:`gantheory.claims.claim`), so that
# the chapter and the controls of the test suite run the same check.


def _check_fraction(value, name: str, *, open_left: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (0 <= value <= 1) or (open_left and value == 0):
        raise ValueError(f"{name} must lie in {'(0' if open_left else '[0'}, 1], got {value}")
    return value


def isoperimetric_check(masses, n: int, eps: float, *, n_se: float = 3.0) -> dict:
    """The isoperimetric inequality on measured latent masses, as a claim dict:
    :math:`F(\\varepsilon)=\\sum_i\\Phi(\\Phi^{-1}(a_i)+\\varepsilon/2)\\le 1`.

    ``masses`` ``(m,)``: the fractions ``a_i`` of ``n`` independent latents that the generator
    sends to mode ``i`` (``sum <= 1``); ``eps = Delta / L >= 0``, with ``L`` the Lipschitz
    constant the check is made at. Returns ``dict(measured=F(eps) - 1, reference=0.0,
    relation="<=", tolerance=n_se * se, basis=...)``: ``se`` is the delta-method standard
    error of :math:`F(\\varepsilon)` under the multinomial law of the masses,
    :math:`\\operatorname{Var}\\approx(\\sum_i g_i^2a_i-(\\sum_i g_ia_i)^2)/n` with
    :math:`g_i = \\partial_{a_i}F = \\varphi(x_i+\\varepsilon/2)/\\varphi(x_i)
    = e^{-x_i\\varepsilon/2-\\varepsilon^2/8}`, :math:`x_i=\\Phi^{-1}(a_i)` (masses clipped to
    ``[1/(2n), 1 - 1/(2n)]`` in the standard error only). The masses are the raw measured ones.
    """
    a = np.asarray(masses, dtype=np.float64)
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"masses must be a 1-d array of at least 2 fractions, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0) or a.sum() > 1 + 1e-12:
        raise ValueError(f"masses must be fractions >= 0 with sum <= 1, got {a}")
    n = check_int(n, "n", 1)
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be finite and >= 0, got {eps}")
    n_se = _check_positive(n_se, "n_se")
    lhs = float(np.sum(st.norm.cdf(st.norm.ppf(np.minimum(a, 1.0)) + eps / 2))) - 1.0
    ac = np.clip(a, 0.5 / n, 1 - 0.5 / n)
    g = np.exp(-st.norm.ppf(ac) * eps / 2 - eps**2 / 8)
    var = max(float(np.sum(g**2 * ac) - np.sum(g * ac) ** 2), 0.0) / n
    se = math.sqrt(var)
    return dict(measured=lhs, reference=0.0, relation="<=", tolerance=n_se * se,
                basis=f"{n_se:g} delta-method standard errors of the left side, from the "
                      f"multinomial law of the raw masses of {n} latents (se {se:.2g})")


def heldout_precision_check(precision: float, n: int, threshold: float, n_select: int, *,
                            n_se: float = 3.0) -> dict:
    """A precision measured on ``n`` fresh latents against the restart threshold, as a claim dict.

    :func:`train_toy_gan` with ``min_precision=threshold`` keeps a run whose precision on
    ``n_select`` fixed latents (4096) reached ``threshold``: that selection is a training
    policy, not a check. This check asks whether the selection was a fluke of those latents:
    the precision ``precision`` on ``n`` new, independent latents must reach ``threshold`` within
    ``n_se`` standard errors of the difference of two binomial estimates,
    :math:`\\sqrt{t(1-t)(1/n_{\\mathrm{select}}+1/n)}` at :math:`t` = ``threshold``. Returns
    ``dict(measured=precision, reference=threshold, relation=">=", tolerance=..., basis=...)``.
    """
    precision = _check_fraction(precision, "precision")
    threshold = _check_fraction(threshold, "threshold", open_left=True)
    n = check_int(n, "n", 1)
    n_select = check_int(n_select, "n_select", 1)
    n_se = _check_positive(n_se, "n_se")
    se = math.sqrt(threshold * (1 - threshold) * (1 / n_select + 1 / n))
    return dict(measured=precision, reference=threshold, relation=">=", tolerance=n_se * se,
                basis=f"{n_se:g} binomial standard errors of the difference between the "
                      f"selection estimate ({n_select} latents) and this fresh one ({n} "
                      f"latents), se {se:.2g}")


def isoperimetric_check_worst(runs, *, n_se: float = 3.0) -> dict:
    """:func:`isoperimetric_check` over several GANs at once, as one claim dict: ``runs`` is a
    non-empty list of ``(masses, n, eps)``, one per GAN. Measured: the largest
    ``F(eps) - 1 - n_se se`` over the runs (each run's left side less its own tolerance),
    against 0 with no further tolerance; the claim holds when every run's check holds."""
    runs = list(runs)
    if not runs:
        raise ValueError("runs must be a non-empty list of (masses, n, eps)")
    margins = []
    for masses, n, eps in runs:
        c = isoperimetric_check(masses, n, eps, n_se=n_se)
        margins.append(c["measured"] - c["tolerance"])
    worst = int(np.argmax(margins))
    return dict(measured=float(margins[worst]), reference=0.0, relation="<=", tolerance=0.0,
                basis=f"worst of {len(runs)} GANs (run {worst}) of the left side minus 1 less "
                      f"{n_se:g} delta-method standard errors of that run")


def seed_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of ``values`` ``(n,)``, n >= 2
    (one value per seed): ``t_{(1+level)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (ddof 1)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"values must be a finite 1-d array of at least 2 numbers, got {x}")
    if not (isinstance(level, float) and 0 < level < 1):
        raise ValueError(f"level must be a float in (0, 1), got {level!r}")
    half = float(st.t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return float(x.mean()), half


def paired_difference_check(a, b, level: float = 0.95) -> dict:
    """``mean(a - b) > 0`` over paired seeds, by a Student-t interval, as a claim dict.

    ``a``, ``b`` ``(n,)``, n >= 2: one value per seed of two methods. The claim holds when the
    mean difference exceeds the half-width of its two-sided ``level`` Student-t interval
    (``n - 1`` degrees of freedom), that is, when the interval lies above 0. Returns
    ``dict(measured=mean, reference=half_width, relation=">", tolerance=0.0, basis=...)``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    mean, half = seed_interval(a - b, level)
    t = float(st.t.ppf((1 + level) / 2, a.size - 1))
    return dict(measured=mean, reference=half, relation=">", tolerance=0.0,
                basis=f"paired difference over {a.size} seeds: its mean must exceed the "
                      f"half-width of the {100 * level:g}% Student-t interval "
                      f"(t = {t:.3g}, {a.size - 1} degrees of freedom), i.e. the interval "
                      f"excludes 0")
