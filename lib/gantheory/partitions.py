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
- Latent-geometry metrics of the paper's experiments: :func:`linear_separability`,
  :func:`convexity`, :func:`prdc` (Naeem et al. 2020).
- Samplers: :func:`simplicial_truncation_sample` (the authors' simplicial truncation) and
  :func:`truncation_sample` (plain truncation).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import scipy.special as sp
import scipy.stats as st
from scipy import integrate

from gantheory._checks import check_int
from gantheory.config import ConvergenceError

__all__ = [
    "expected_max_gaussian",
    "simplicial_perimeter",
    "simplex_centres",
    "simplicial_cells",
    "simplicial_softmax",
    "precision_upper_bound",
    "precision_upper_bound_first_order",
    "simplicial_precision",
    "simplicial_precision_first_order",
    "simplicial_precision_mc",
    "linear_separability",
    "convexity",
    "prdc",
    "simplicial_truncation_sample",
    "truncation_sample",
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
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{name} must have shape (N, d) with samples as rows, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def _as_labels(labels, n: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) (one per row of z), got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    return lab


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
