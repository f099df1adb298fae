"""Wasserstein GANs, neural IPMs and the geometry of 1-D latent generators: Part IV of the book.

Two threads (Biau, Sangnier, Tanielian 2021; Stéphanovitch, Tanielian, Cadre, Klutchnikoff,
Biau 2024):

- a WGAN critic is an integral probability metric :math:`d_{\\mathcal D}` over a class of neural
  critics; when every critic is 1-Lipschitz, :math:`d_{\\mathcal D}\\le W_1`. We compare the
  exact :math:`W_1` between samples (optimal transport with POT) with the neural IPM of a
  GroupSort critic whose linear layers are kept orthonormal by Björck iterations;
- with a univariate latent :math:`U\\sim\\mathcal U[0,1]` and a :math:`K`-Lipschitz generator,
  the best approximation of an empirical measure :math:`\\mu_n` is explicit in dimension 1 and is
  governed, in dimension ``D``, by paths through the points minimizing the sum of **squared**
  edge lengths.

Conventions
-----------
- Samples are **rows**: point clouds have shape ``(n, D)``; 1-D arrays are read as ``D = 1``.
- Empirical measures are uniform over rows (duplicates count with their multiplicity).
- The ground cost of :math:`W_1` is the Euclidean distance.
- Random draws take an explicit non-negative integer ``seed``.

Contents
--------
- :func:`wasserstein1`: exact :math:`W_1` between two empirical measures.
- :func:`semidiscrete_w1`: :math:`W_1(G_\\#U, \\mu_n)` for a generator of a uniform latent on
  ``[0, 1]``, by exact OT after discretizing the latent at ``m`` midpoints, with the rigorous
  discretization error ``K / (4 m)``.
- :func:`optimal_generator_1d`, :func:`optimal_cost_1d`: the optimal ``K``-Lipschitz generator in
  output dimension 1 and its cost :math:`\\sum_i d_i^2/(4K)`.
- :func:`min_squared_path`: the order of the points minimizing the sum of squared edge lengths
  of an open path (exact Held-Karp for ``n <= 15``, 2-opt/Or-opt heuristic above), optionally
  allowing revisits (``walks=True``).
- :func:`path_generator`: the ``K``-Lipschitz generator that follows a path or walk through the
  points at speed ``K``, of cost at most :math:`\\sum_e \\|e\\|^2/(4K)`, valid from
  :func:`path_threshold` on.
- :class:`GroupSortCritic` (with :class:`BjorckLinear` and :func:`bjorck`), :func:`neural_ipm`:
  a 1-Lipschitz GroupSort critic and the neural IPM it estimates.
- :class:`GroupSortGenerator`, :func:`train_wgan`: a generator that is ``K``-Lipschitz by
  construction, and WGAN training against an empirical target with a GroupSort critic, logging
  the critic's estimate next to the exact :math:`W_1`; :func:`train_wgans` runs several trainings
  in parallel processes, with the same results.
- Checks of the chapters' claims, shared by the chapters and the controls of the tests (each
  returns the keyword arguments of :func:`gantheory.claims.claim`):
  :func:`operator_norm_check`, :func:`gradient_norm_check` (1-Lipschitz critics),
  :func:`ipm_below_w1_check`, :func:`slope_check` (log-log slopes with their regression
  error), :func:`error_ratio_check` (values within a rigorous discretisation error),
  :func:`optimum_1d_check` (nobody beats :math:`G^\\star`).
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import ot
import pandas as pd
import scipy.sparse as sparse
import torch
from scipy.optimize import linprog
from scipy.sparse.csgraph import csgraph_from_dense, shortest_path
from scipy.spatial.distance import cdist
from torch import nn

from gantheory import config, training
from gantheory._cache import one_thread
from gantheory._checks import check_int
from gantheory._checks import check_positive as _check_positive
from gantheory.config import ConvergenceError, derive_seed, torch_seeded
from gantheory.training import stacked_linear

__all__ = [
    "wasserstein1",
    "semidiscrete_w1",
    "semidual_w1",
    "lipschitz_threshold_1d",
    "optimal_generator_1d",
    "optimal_cost_1d",
    "ExactCost1D",
    "optimal_cost_1d_exact",
    "exact_optimum_table",
    "path_cost",
    "min_squared_path",
    "path_generator",
    "path_threshold",
    "uniform_spacing_energy",
    "curve_w1_lower_bound",
    "mean_distance_to_path",
    "bjorck",
    "BjorckLinear",
    "MaxMin",
    "GroupSortCritic",
    "RowNormLinear",
    "GroupSortInfCritic",
    "inf_norm_bound",
    "ReLUCritic",
    "CRITIC_FAMILIES",
    "certified_lipschitz",
    "neural_ipm",
    "GroupSortGenerator",
    "sample_latent",
    "TrainedWGAN",
    "train_wgan",
    "train_wgans",
    "critic_lipschitz_bound",
    "critic_rounding",
    "gradient_norms",
    "operator_norm_check",
    "inf_norm_check",
    "gradient_norm_check",
    "ipm_below_w1_check",
    "loglog_slope",
    "slope_check",
    "slope_difference_check",
    "optimisation_error_check",
    "error_ratio_check",
    "optimum_1d_check",
    "bracket_check",
]

EXACT_PATH_MAX = 15  # Held-Karp by default up to this many points (n = 15: about 1 s)
_HELD_KARP_MAX = 18  # refuse larger exact problems: memory 2^n * n * 9 bytes


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------

def _as_cloud(x, name: str) -> np.ndarray:
    """``x`` as a finite float array of shape ``(n, D)``, ``n >= 1`` (1-D input: ``D = 1``)."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, D) or (n,), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _distances(x: np.ndarray, y: np.ndarray, squared: bool = False) -> np.ndarray:
    """Euclidean (or squared) distances ``(n, m)`` between the rows of ``x`` and ``y``, from the
    coordinate differences (``scipy.spatial.distance.cdist``): exact to rounding at any offset,
    unlike the expansion ``|x|^2 + |y|^2 - 2 x.y`` of ``ot.dist``, which loses every digit when
    the coordinates are large next to the distances (points near ``1e8``)."""
    return cdist(x, y, metric="sqeuclidean" if squared else "euclidean")


def _emd(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> dict:
    """POT's network simplex, its log (``cost``, dual potentials ``u``, ``v``);
    ``ConvergenceError`` if it stops early."""
    _, log = ot.emd(a, b, cost, numItermax=50_000_000, log=True)
    if log.get("warning") is not None or log.get("result_code") != 1:
        raise ConvergenceError(f"ot.emd did not reach the optimum: {log.get('warning')}")
    return log


def _emd_cost(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> float:
    """Exact OT cost by POT's network simplex; ``ConvergenceError`` if it stops early."""
    return float(_emd(a, b, cost)["cost"])


def _check_lipschitz(lipschitz) -> float:
    K = float(lipschitz)
    if not np.isfinite(K) or K < 0:
        raise ValueError(f"lipschitz must be a non-negative finite number, got {lipschitz!r}")
    return K


# --------------------------------------------------------------------------------------------
# Exact W1
# --------------------------------------------------------------------------------------------

def wasserstein1(x, y) -> float:
    """Exact :math:`W_1` between the uniform empirical measures on the rows of ``x`` and ``y``.

    ``x`` has shape ``(n, D)`` and ``y`` shape ``(m, D)`` (1-D arrays are read as ``D = 1``);
    the ground cost is the Euclidean distance. ``D = 1`` uses the exact quantile formula
    (``ot.wasserstein_1d``); otherwise POT's exact network simplex (``ot.emd``) on the dense
    ``(n, m)`` cost matrix. Raises ``ValueError`` for NaN/inf, empty inputs or mismatched ``D``.
    """
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape} and {y.shape}")
    if x.shape[1] == 1:
        return float(ot.wasserstein_1d(x[:, 0], y[:, 0], p=1))
    a = np.full(len(x), 1.0 / len(x))
    b = np.full(len(y), 1.0 / len(y))
    return _emd_cost(a, b, _distances(x, y))


def semidiscrete_w1(generator: Callable[[np.ndarray], np.ndarray], points, m: int = 20_000, *,
                    lipschitz: float) -> tuple[float, float]:
    """:math:`W_1(G_\\#U, \\mu_n)` for :math:`U\\sim\\mathcal U[0,1]` and ``mu_n`` uniform on the
    rows of ``points`` ``(n, D)``; returns ``(value, error_bound)``.

    The latent is discretized at the midpoints :math:`u_j = (j - 1/2)/m`, ``j = 1..m``, and the
    ``m x n`` transport problem between :math:`G_\\#U_m` (mass ``1/m`` at each :math:`G(u_j)`) and
    ``mu_n`` is solved exactly with POT. ``generator`` is vectorized: it maps ``u`` of shape
    ``(m,)`` to an array of shape ``(m, D)`` (or ``(m,)`` when ``D = 1``).

    Error bound: :math:`W_1(U, U_m) = 1/(4m)` on ``[0, 1]`` (each cell of length ``1/m`` sends its
    mass to its midpoint at mean distance ``1/(4m)``), and a ``K``-Lipschitz ``G`` gives
    :math:`W_1(G_\\#U, G_\\#U_m)\\le K\\,W_1(U, U_m)`; by the triangle inequality the returned value
    is within ``error_bound = K / (4 m)`` of the exact semi-discrete :math:`W_1`, with
    ``K = lipschitz`` the generator's Lipschitz constant (the caller's responsibility).
    m = 20,000 and n = 50 take a few seconds.
    """
    m = check_int(m, "m", 1)
    K = _check_lipschitz(lipschitz)
    pts = _as_cloud(points, "points")
    out = _generated(generator, m, pts.shape[1])
    a = np.full(m, 1.0 / m)
    b = np.full(len(pts), 1.0 / len(pts))
    value = _emd_cost(a, b, _distances(out, pts))
    return value, K / (4.0 * m)


def _generated(generator, m: int, D: int) -> np.ndarray:
    """``generator`` at the ``m`` latent midpoints ``(j - 1/2)/m``, checked: ``(m, D)``."""
    u = (np.arange(m) + 0.5) / m
    out = np.asarray(generator(u), dtype=float)
    if out.ndim == 1:
        out = out[:, None]
    if out.shape != (m, D):
        raise ValueError(f"generator(u) must have shape ({m}, {D}) (or ({m},) when D = 1), "
                         f"got {np.shape(out)}")
    if not np.all(np.isfinite(out)):
        raise ValueError("generator returned NaN or infinite values")
    return out


def semidual_w1(generator: Callable[[np.ndarray], np.ndarray], points, m: int = 20_000, *,
                lipschitz: float, g=None) -> tuple[float, float, np.ndarray]:
    """A certified **lower** bound on :math:`W_1(G_\\#U, \\mu_n)` from the semi-dual:
    ``(value, error_bound, g)``, with :math:`W_1\\ge` ``value - error_bound``.

    For every :math:`g\\in\\mathbb R^n`, weak duality gives
    :math:`W_1(G_\\#U,\\mu_n)\\ge\\Phi(g) = \\frac1n\\sum_i g_i + \\int_0^1\\min_i(\\|G(u) - x_i\\|
    - g_i)\\,du` (the overview's formula; equality at the optimal ``g``). The integrand is
    ``K``-Lipschitz in ``u`` (``K = lipschitz``, the caller's bound on the generator's
    constant), so the midpoint rule on ``4m`` cells computes :math:`\\Phi(g)` within
    ``error_bound = K / (16 m)``. ``g`` defaults to the optimal dual potential of the discrete
    problem solved by :func:`semidiscrete_w1` on ``m`` midpoints (POT's network simplex
    returns it), so that the bracket ``[value - error_bound, semidiscrete value + K/(4m)]``
    closes as ``m`` grows; pass another ``g`` ``(n,)`` to evaluate it. Shapes as in
    :func:`semidiscrete_w1`; cost: one ``m x n`` OT and one ``4m x n`` distance matrix.
    """
    m = check_int(m, "m", 1)
    K = _check_lipschitz(lipschitz)
    pts = _as_cloud(points, "points")
    n = len(pts)
    if g is None:
        out = _generated(generator, m, pts.shape[1])
        log = _emd(np.full(m, 1.0 / m), np.full(n, 1.0 / n), _distances(out, pts))
        g = np.asarray(log["v"], dtype=float)
    else:
        g = np.asarray(g, dtype=float)
        if g.shape != (n,) or not np.all(np.isfinite(g)):
            raise ValueError(f"g must be a finite array of shape ({n},), got {np.shape(g)}")
    fine = _generated(generator, 4 * m, pts.shape[1])
    inner = (_distances(fine, pts) - g[None, :]).min(axis=1)
    return float(g.mean() + inner.mean()), K / (16.0 * m), g


# --------------------------------------------------------------------------------------------
# Output dimension 1: the optimal K-Lipschitz generator
# --------------------------------------------------------------------------------------------

def _sorted_gaps(points) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(points, dtype=float)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"points must be a non-empty 1-D array of reals, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("points contains NaN or infinite values")
    xs = np.sort(x)
    return xs, np.diff(xs)


def lipschitz_threshold_1d(points) -> float:
    """The smallest ``K`` for which :func:`optimal_generator_1d` is valid:
    :math:`K_0 = (n/2)\\max_i (d_{i-1} + d_i)` with gaps :math:`d_i = x_{(i+1)} - x_{(i)}` of the
    sorted points and :math:`d_0 = d_n = 0` (every transit fits in its two half-cells)."""
    xs, d = _sorted_gaps(points)
    n = xs.size
    padded = np.concatenate([[0.0], d, [0.0]])
    return 0.5 * n * float(np.max(padded[:-1] + padded[1:]))


def _check_K(points, K) -> tuple[np.ndarray, np.ndarray, float]:
    K = _check_positive(K, "K")
    xs, d = _sorted_gaps(points)
    threshold = lipschitz_threshold_1d(xs)
    if K < threshold * (1 - 1e-12):
        raise ValueError(
            f"K = {K:g} is below the validity threshold K0 = (n/2) max_i (d_(i-1) + d_i) = "
            f"{threshold:g} for these {xs.size} points: the transits between consecutive points "
            "would not fit inside their quantile cells")
    return xs, d, K


def optimal_generator_1d(points, K: float) -> Callable[[np.ndarray], np.ndarray]:
    """The optimal ``K``-Lipschitz generator :math:`G^*` from ``U[0, 1]`` to the empirical measure
    of ``points`` (1-D array of ``n`` reals; duplicates allowed: they are points of mass ``k/n``).

    With the sorted points :math:`x_{(1)}\\le\\dots\\le x_{(n)}` and gaps
    :math:`d_i = x_{(i+1)} - x_{(i)}`, :math:`G^*` equals :math:`x_{(i)}` on the quantile cell
    :math:`[(i-1)/n, i/n)` except during transits: it moves from :math:`x_{(i)}` to
    :math:`x_{(i+1)}` at slope ``K`` on the latent interval of length :math:`d_i/K` centred on
    :math:`i/n`. Its cost is :func:`optimal_cost_1d`. Valid when ``K`` is at least
    :func:`lipschitz_threshold_1d` (else ``ValueError`` stating the threshold).

    Returns a vectorized numpy callable ``u -> G*(u)`` (same shape as ``u``; ``ValueError`` for
    values outside ``[0, 1]`` or NaN).
    """
    xs, d, K = _check_K(points, K)
    n = xs.size
    half = d / (2 * K)
    centres = np.arange(1, n) / n
    knots_u = np.concatenate([[0.0], np.ravel(np.column_stack([centres - half, centres + half])),
                              [1.0]])
    knots_x = np.concatenate([[xs[0]], np.ravel(np.column_stack([xs[:-1], xs[1:]])), [xs[-1]]])
    knots_u = np.clip(knots_u, 0.0, 1.0)
    knots_u = np.maximum.accumulate(knots_u)  # rounding at the threshold: keep knots sorted

    def generator(u):
        u = np.asarray(u, dtype=float)
        if np.any(~np.isfinite(u)) or np.any(u < 0) or np.any(u > 1):
            raise ValueError("the latent u must take values in [0, 1]")
        return np.interp(u, knots_u, knots_x)

    generator.lipschitz = K
    return generator


def optimal_cost_1d(points, K: float) -> float:
    """:math:`W_1(G^*_\\#U, \\mu_n) = \\sum_i d_i^2/(4K)` for :func:`optimal_generator_1d`:
    the smallest :math:`W_1` between a ``K``-Lipschitz push-forward of ``U[0, 1]`` and the
    empirical measure of the 1-D ``points`` (``ValueError`` when ``K`` is below
    :func:`lipschitz_threshold_1d`)."""
    _, d, K = _check_K(points, K)
    return float(np.sum(d**2) / (4 * K))


@dataclass(frozen=True)
class ExactCost1D:
    """Result of :func:`optimal_cost_1d_exact`: the optimal cost lies in ``[lower, upper]``.

    ``upper`` is the exact :math:`W_1` of the computed generator (its quantile function
    ``q`` at the latent nodes ``u``, both ``(N + 1,)``, piecewise linear in between): an
    achievable cost. ``lower`` is the discretized optimum minus its proven error ``K / (6N)``.
    ``value`` is ``upper``; ``cells`` is ``N``."""

    value: float
    lower: float
    upper: float
    u: np.ndarray
    q: np.ndarray
    cells: int


def _abs_integral(a: np.ndarray, b: np.ndarray, h: float) -> np.ndarray:
    """Exact integral over a cell of length ``h`` of ``|l|``, ``l`` linear from ``a`` to ``b``."""
    same = a * b >= 0
    out = np.empty_like(a)
    out[same] = h * np.abs(a[same] + b[same]) / 2
    aa, bb = a[~same], b[~same]
    out[~same] = h * (aa**2 + bb**2) / (2 * (np.abs(aa) + np.abs(bb)))
    return out


def optimal_cost_1d_exact(points, K: float, *, cells: int | None = None) -> ExactCost1D:
    """The smallest :math:`W_1` between a ``K``-Lipschitz push-forward of ``U[0, 1]`` and the
    empirical measure of the 1-D ``points`` (``n`` reals), for **every** ``K > 0``, with a
    proven error bracket; :func:`optimal_cost_1d` is its closed form for ``K >= K0``.

    Reduction (chapter 9, "the one-dimensional optimum"): the quantile function of a
    ``K``-Lipschitz push-forward of ``U[0, 1]`` is non-decreasing and ``K``-Lipschitz, and
    every such function is a generator with itself as quantile function; in 1-D,
    :math:`W_1(\\nu, \\mu_n) = \\int_0^1|Q_\\nu - Q_n|`. So the optimum is
    :math:`\\min\\{\\int_0^1|Q - Q_n| : Q \\text{ non-decreasing, } K\\text{-Lipschitz}\\}`.

    Discretization: ``Q`` is piecewise linear on ``N = cells`` equal latent cells (a multiple
    of ``n``, so that :math:`Q_n` is constant on each; default ``64 n``), with
    :math:`0\\le q_{k+1} - q_k\\le K/N`, and the integral is replaced by the midpoint rule; the
    problem is then a linear program (``scipy.optimize.linprog``, HiGHS) in ``2N + 1``
    variables. Error: by convexity the midpoint rule is below the exact integral on each cell;
    on a cell of length ``h`` the linear interpolant of a non-decreasing ``K``-Lipschitz ``Q``
    differs from it by at most ``K t (h - t) / h`` at ``t`` (the extreme ``Q`` rise at slope
    ``K`` then stay flat), so by ``K h^2 / 6`` in integral, ``K / (6N)`` in all. The LP value
    minus ``K/(6N)`` is therefore a lower bound on the optimum (``lower``), and the exact cost
    of the LP's solution, a feasible generator, an upper bound (``upper``);
    ``upper - lower <= 5K/(12N)``. Cost: one sparse LP,
    about a second at ``N = 10^4`` on one core; ``ValueError`` above ``N = 2 * 10^5``.
    """
    xs, _ = _sorted_gaps(points)
    K = _check_positive(K, "K")
    n = xs.size
    if cells is None:
        N = 64 * n
    else:
        N = check_int(cells, "cells", n)
        if N % n:
            raise ValueError(f"cells must be a multiple of the number of points n = {n}, got {N}")
    if N > 200_000:
        raise ValueError(f"cells = {N} is more than the 200,000 this LP is sized for; "
                         "use fewer points or cells")
    h = 1.0 / N
    c = np.repeat(xs, N // n)  # Q_n on each cell
    # variables: q_0..q_N, then t_0..t_{N-1}; minimize h * sum t
    rows = np.arange(N)
    pairs = (np.r_[rows, rows], np.r_[rows, rows + 1])
    D = sparse.csr_matrix((np.r_[-np.ones(N), np.ones(N)], pairs), shape=(N, N + 1))  # q' h
    M = sparse.csr_matrix((np.full(2 * N, 0.5), pairs), shape=(N, N + 1))  # midpoint values
    eye = sparse.identity(N, format="csr")
    zero = sparse.csr_matrix((N, N))
    A = sparse.vstack([sparse.hstack([-D, zero]),        # q_{k+1} - q_k >= 0
                       sparse.hstack([D, zero]),         # q_{k+1} - q_k <= K h
                       sparse.hstack([M, -eye]),         # mid - t <= c
                       sparse.hstack([-M, -eye])], format="csr")  # -mid - t <= -c
    b = np.r_[np.zeros(N), np.full(N, K * h), c, -c]
    cost = np.r_[np.zeros(N + 1), np.full(N, h)]
    bounds = [(None, None)] * (N + 1) + [(0, None)] * N
    res = linprog(cost, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise ConvergenceError(f"the LP of optimal_cost_1d_exact did not solve: {res.message}")
    q = np.asarray(res.x[:N + 1])
    q = np.maximum.accumulate(q)  # solver tolerance: keep the quantile function monotone
    upper = float(np.sum(_abs_integral(q[:-1] - c, q[1:] - c, h)))
    lower = float(res.fun) - K / (6 * N)
    return ExactCost1D(value=upper, lower=lower, upper=upper, u=np.linspace(0.0, 1.0, N + 1),
                       q=q, cells=N)


def exact_optimum_table(point_sets, factors, cells_per_point: int = 128) -> pd.DataFrame:
    """:func:`optimal_cost_1d_exact` against the closed form :math:`\\sum_i d_i^2/(4K)` over a
    grid: one row per point set (a sequence of 1-D arrays) and per ``K = factor * K0``
    (``factors`` positive; ``K0`` = :func:`lipschitz_threshold_1d` of the set), with columns
    ``n``, ``K_over_K0``, ``K``, ``lower``, ``upper`` (the proven bracket), ``formula`` and
    ``formula_vs_bracket`` (``"inside"``, ``"above"`` or ``"below"``, up to the LP's 1e-7
    tolerance), on ``cells_per_point * n`` latent cells."""
    rows = []
    for points in point_sets:
        xs, d = _sorted_gaps(points)
        K0 = lipschitz_threshold_1d(xs)
        for factor in np.atleast_1d(np.asarray(factors, dtype=float)):
            K = _check_positive(factor, "factor") * K0
            ex = optimal_cost_1d_exact(xs, K, cells=check_int(cells_per_point, "cells_per_point",
                                                              1) * xs.size)
            formula = float(np.sum(d**2) / (4 * K))
            tol = 1e-7 * (1 + abs(formula))
            where = ("above" if formula > ex.upper + tol else
                     "below" if formula < ex.lower - tol else "inside")
            rows.append(dict(n=xs.size, K_over_K0=float(factor), K=K, lower=ex.lower,
                             upper=ex.upper, formula=formula, formula_vs_bracket=where))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Minimum sum-of-squared-distances paths
# --------------------------------------------------------------------------------------------

def path_cost(points, order) -> float:
    """Sum of squared Euclidean lengths of the edges of the path visiting the rows of
    ``points`` ``(n, D)`` in ``order`` (integer array; repeats allowed)."""
    pts = _as_cloud(points, "points")
    order = np.asarray(order, dtype=int)
    if order.ndim != 1 or np.any(order < 0) or np.any(order >= len(pts)):
        raise ValueError("order must be a 1-D array of row indices of points")
    steps = np.diff(pts[order], axis=0)
    return float(np.sum(steps**2))


def _held_karp(C: np.ndarray) -> np.ndarray:
    """Exact minimum-cost open Hamiltonian path for the cost matrix ``C`` ``(n, n)``.

    ``dp[S, j]``: cheapest path through the set ``S`` (bitmask) ending at ``j``; the subsets of
    each size are processed together (vectorized over subsets and predecessors)."""
    n = C.shape[0]
    if n == 1:
        return np.zeros(1, dtype=int)
    N = 1 << n
    dp = np.full((N, n), np.inf)
    parent = np.full((N, n), -1, dtype=np.int8)
    masks = np.arange(N)
    popcount = np.zeros(N, dtype=np.int64)
    for j in range(n):
        popcount += (masks >> j) & 1
        dp[1 << j, j] = 0.0
    for k in range(2, n + 1):
        layer = masks[popcount == k]
        for j in range(n):
            S = layer[(layer >> j) & 1 == 1]
            cand = dp[S ^ (1 << j)] + C[:, j]  # predecessors i outside S\{j} are inf
            best = np.argmin(cand, axis=1)
            dp[S, j] = cand[np.arange(S.size), best]
            parent[S, j] = best
    S = N - 1
    j = int(np.argmin(dp[S]))
    order = [j]
    while parent[S, j] >= 0:
        i = int(parent[S, j])
        S ^= 1 << j
        j = i
        order.append(j)
    return np.array(order[::-1], dtype=int)


def _open_cost(C: np.ndarray, order: np.ndarray) -> float:
    return float(C[order[:-1], order[1:]].sum())


def _two_opt(C: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Best-improvement 2-opt for an open path (segment reversals, prefixes/suffixes included)."""
    n = order.size
    if n < 3:
        return order
    order = order.copy()
    while True:
        p = order
        # pad with a virtual endpoint of zero cost on both sides (an open path as a tour)
        Cp = np.zeros((n + 1, n + 1))
        Cp[:n, :n] = C
        t = np.concatenate([[n], p, [n]])  # t[1..n] the path
        i = np.arange(1, n + 1)[:, None]
        j = np.arange(1, n + 1)[None, :]
        delta = (Cp[t[i - 1], t[j]] + Cp[t[i], t[j + 1]]
                 - Cp[t[i - 1], t[i]] - Cp[t[j], t[j + 1]])
        delta = np.where(j > i, delta, 0.0)
        a, b = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[a, b] > -1e-12 * max(1.0, _open_cost(C, p)):
            return order
        # delta[a, b]: reverse path positions a..b (0-based; t positions a+1..b+1)
        order = np.concatenate([p[:a], p[a:b + 1][::-1], p[b + 1:]])


def _or_opt(C: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, bool]:
    """One first-improvement pass of Or-opt: move a segment of 1-3 points (possibly reversed)
    to the best other place of the open path. Returns ``(order, improved)``."""
    n = order.size
    base = _open_cost(C, order)
    for L in (1, 2, 3):
        if L >= n:
            break
        for s in range(n - L + 1):
            seg = order[s:s + L]
            rest = np.concatenate([order[:s], order[s + L:]])
            removed = _open_cost(C, rest)
            inner = _open_cost(C, seg) if L > 1 else 0.0
            # insertion slots: before rest[0], between rest[k-1] and rest[k], after rest[-1]
            first, last = seg[0], seg[-1]
            mid_fwd = C[rest[:-1], first] + C[last, rest[1:]] - C[rest[:-1], rest[1:]]
            mid_rev = C[rest[:-1], last] + C[first, rest[1:]] - C[rest[:-1], rest[1:]]
            add = np.concatenate([[min(C[last, rest[0]], C[first, rest[0]])],
                                  np.minimum(mid_fwd, mid_rev),
                                  [min(C[rest[-1], first], C[rest[-1], last])]])
            k = int(np.argmin(add))
            if removed + inner + add[k] < base - 1e-12 * max(1.0, base):
                if k == 0:
                    piece = seg if C[last, rest[0]] <= C[first, rest[0]] else seg[::-1]
                elif k == rest.size:
                    piece = seg if C[rest[-1], first] <= C[rest[-1], last] else seg[::-1]
                else:
                    piece = seg if mid_fwd[k - 1] <= mid_rev[k - 1] else seg[::-1]
                return np.concatenate([rest[:k], piece, rest[k:]]), True
    return order, False


def _local_search(C: np.ndarray, order: np.ndarray) -> np.ndarray:
    while True:
        order = _two_opt(C, order)
        order, improved = _or_opt(C, order)
        if not improved:
            return order


def _nearest_neighbour(C: np.ndarray, start: int) -> np.ndarray:
    n = C.shape[0]
    seen = np.zeros(n, dtype=bool)
    order = [start]
    seen[start] = True
    for _ in range(n - 1):
        row = np.where(seen, np.inf, C[order[-1]])
        nxt = int(np.argmin(row))
        order.append(nxt)
        seen[nxt] = True
    return np.array(order, dtype=int)


def _heuristic_path(C: np.ndarray, starts: int) -> np.ndarray:
    n = C.shape[0]
    firsts = np.unique(np.linspace(0, n - 1, min(starts, n)).round().astype(int))
    best, best_cost = None, np.inf
    for s in firsts:
        order = _local_search(C, _nearest_neighbour(C, int(s)))
        cost = _open_cost(C, order)
        if cost < best_cost - 1e-12:
            best, best_cost = order, cost
    return best


def min_squared_path(points, walks: bool = False, *, method: str = "auto",
                     starts: int = 20) -> tuple[np.ndarray, float]:
    """The order of the rows of ``points`` ``(n, D)`` minimizing the sum of **squared**
    Euclidean edge lengths of an open path (any endpoints); returns ``(order, cost)``.

    ``method``: ``"exact"`` is Held-Karp dynamic programming over subsets,
    :math:`O(2^n n^2)` time, vectorized in numpy (``n <= 18``; ``n = 15`` takes about a
    second); ``"heuristic"`` takes the best of ``starts`` nearest-neighbour paths (evenly spaced
    first points), each improved to a local optimum of 2-opt (segment reversals) and Or-opt
    (moving a segment of 1-3 points, possibly reversed); no optimality guarantee (squared
    costs are not a metric, so Christofides-type bounds do not apply); ``"auto"`` is exact for
    ``n <= 15`` and heuristic above.

    ``walks=True`` allows revisits: the cost matrix is replaced by its shortest-path closure
    (Floyd-Warshall on squared distances: with squared costs, ``a -> c -> b`` may be cheaper
    than ``a -> b``), the path problem is solved on the closure, and each step is expanded into
    the intermediate points of its shortest path. ``order`` (int array) may then repeat points;
    ``cost`` is the sum of squared lengths of the consecutive steps of ``order`` in both cases.
    """
    pts = _as_cloud(points, "points")
    n = len(pts)
    starts = check_int(starts, "starts", 1)
    if method not in ("auto", "exact", "heuristic"):
        raise ValueError(f"method must be 'auto', 'exact' or 'heuristic', got {method!r}")
    if method == "exact" and n > _HELD_KARP_MAX:
        raise ValueError(f"method='exact' is limited to n <= {_HELD_KARP_MAX} points, got {n}")
    C = _distances(pts, pts, squared=True)
    np.fill_diagonal(C, 0.0)
    if walks:
        # A dense graph given to csgraph reads entries within 1e-8 of 0 as missing edges (it
        # masks with np.ma.masked_values), which drops the edges between duplicate or very
        # close points; building the graph with inf as the null value keeps every edge.
        graph = csgraph_from_dense(C, null_value=np.inf)
        closure, pred = shortest_path(graph, method="FW", directed=False,
                                      return_predecessors=True)
    else:
        closure = C
    exact = method == "exact" or (method == "auto" and n <= EXACT_PATH_MAX)
    order = _held_karp(closure) if exact else _heuristic_path(closure, starts)
    if walks:
        walk = [int(order[0])]
        for a, b in zip(order[:-1], order[1:], strict=True):
            hops = []
            v = int(b)
            while v != a:
                hops.append(v)
                v = int(pred[a, v])
            walk.extend(hops[::-1])
        order = np.array(walk, dtype=int)
    return order, _open_cost(C, order)


def _check_order(order, n: int) -> np.ndarray:
    order = np.asarray(order)
    if order.ndim != 1 or not np.issubdtype(order.dtype, np.integer) or np.any(order < 0) \
            or np.any(order >= n):
        raise ValueError("order must be a 1-D integer array of row indices of points")
    if np.unique(order).size != n:
        raise ValueError("order must visit every point at least once")
    return order.astype(int)


def _edge_lengths(pts: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Lengths ``(len(order) - 1,)`` of the edges of the walk ``pts[order]``."""
    return np.linalg.norm(np.diff(pts[order], axis=0), axis=1)


def _transits_around(lengths: np.ndarray, order: np.ndarray, n: int) -> np.ndarray:
    """Per point ``(n,)``: the sum over its visits of the incoming plus outgoing edge lengths."""
    around = np.r_[lengths, 0.0] + np.r_[0.0, lengths]
    return np.bincount(order, weights=around, minlength=n)


def path_threshold(points, order) -> float:
    """The smallest ``K`` for which :func:`path_generator` ``(points, order, K)`` is valid:
    :math:`K_0 = \\frac n2\\max_i\\sum_{\\text{visits of }x_i}(\\text{in} + \\text{out})`, the
    edge lengths into and out of each visit (every point's latent mass ``1/n`` must hold half of
    each of its transits). For sorted points on a line it is :func:`lipschitz_threshold_1d`."""
    pts = _as_cloud(points, "points")
    order = _check_order(order, len(pts))
    return 0.5 * len(pts) * float(_transits_around(_edge_lengths(pts, order), order,
                                                   len(pts)).max())


def uniform_spacing_energy(n: int) -> float:
    """:math:`\\mathbb E\\sum_i d_i^2 = 2(n-1)/((n+1)(n+2))`, the expected sum of squared gaps
    between the sorted values of ``n >= 2`` independent uniform points on ``[0, 1]`` (each of the
    ``n - 1`` inner spacings is Beta(1, n), with second moment ``2 / ((n+1)(n+2))``): the
    expected least path energy ``S`` in dimension 1."""
    n = check_int(n, "n", 2)
    return 2.0 * (n - 1) / ((n + 1) * (n + 2))


def curve_w1_lower_bound(K: float, D: int) -> float:
    """A lower bound on :math:`W_1(G_\\#U, \\mathrm{Unif}[0,1]^D)` for **every** ``K``-Lipschitz
    :math:`G:[0,1]\\to\\mathbb R^D`:
    :math:`\\max_{\\varepsilon>0}\\varepsilon\\bigl(1-(K/\\varepsilon+2)\\,\\omega_D(3\\varepsilon/2)^D\\bigr)`,
    with :math:`\\omega_D` the volume of the unit ball (proof in chapter 9: the curve is covered
    by ``K/eps + 2`` balls of radius ``eps/2``, so the points within ``eps`` of it fill at most
    that volume, and the rest of the cube must travel at least ``eps``). Of order
    :math:`K^{-1/(D-1)}`; the maximum is taken on a log-spaced grid of 8000 values of ``eps`` in
    ``[1e-9, 1]`` (a valid bound at every grid point; fine enough for ``K`` up to about 1e7).
    ``D >= 1``; for ``D = 1`` it is 0 once ``K >= 1``."""
    K = _check_positive(K, "K")
    D = check_int(D, "D", 1)
    omega = math.pi ** (D / 2) / math.gamma(D / 2 + 1)
    eps = np.geomspace(1e-9, 1.0, 8000)
    return float(max(0.0, np.max(eps * (1 - (K / eps + 2) * omega * (1.5 * eps) ** D))))


def mean_distance_to_path(points, order, samples) -> tuple[float, float]:
    """Mean Euclidean distance from the rows of ``samples`` ``(M, D)`` to the polygonal curve
    ``points[order]`` (``points`` ``(n, D)``), with its standard error ``std / sqrt(M)``; returns
    ``(mean, se)``. With uniform ``samples`` on the cube this estimates
    :math:`\\mathbb E\\,\\mathrm{dist}(X,\\Gamma)`, a lower bound on the :math:`W_1` between the
    uniform law and any measure carried by the curve :math:`\\Gamma` (such as
    :func:`path_generator`'s). Cost ``O(M n D)`` in blocks of 64 segments."""
    pts = _as_cloud(points, "points")
    order = _check_order(order, len(pts))
    X = _as_cloud(samples, "samples")
    if X.shape[1] != pts.shape[1]:
        raise ValueError(f"samples must have {pts.shape[1]} columns, got {X.shape[1]}")
    curve = pts[order]
    a, ab = curve[:-1], np.diff(curve, axis=0)
    if len(a) == 0:
        best = np.linalg.norm(X - curve[0], axis=1)
    else:
        l2 = np.maximum((ab ** 2).sum(1), 1e-300)
        best = np.full(len(X), np.inf)
        for i in range(0, len(a), 64):
            A, AB, L = a[i:i + 64], ab[i:i + 64], l2[i:i + 64]
            rel = X[:, None, :] - A[None]
            t = np.clip((rel * AB[None]).sum(2) / L, 0.0, 1.0)
            d = np.linalg.norm(rel - t[..., None] * AB[None], axis=2)
            best = np.minimum(best, d.min(1))
    return float(best.mean()), float(best.std(ddof=1) / math.sqrt(len(best)))


def path_generator(points, order, K: float) -> Callable[[np.ndarray], np.ndarray]:
    """The ``K``-Lipschitz generator from ``U[0, 1]`` that follows the path (or walk)
    ``points[order]`` along straight segments at speed ``K``; returns ``u -> G(u)`` of shape
    ``(len(u), D)``.

    Each visit of a point gets a latent cell made of half of the incoming transit, a pause and
    half of the outgoing transit; the pauses are set so that the cells of each point's visits
    add up to ``1/n`` (a revisited point's remaining pause is split equally among its visits).
    Coupling each cell with its point costs :math:`\\sum_e \\|e\\|^2/(4K)` over the edges
    ``e`` of the walk, an upper bound on :math:`W_1(G_\\#U, \\mu_n)` that is exact in
    dimension 1 (:func:`optimal_generator_1d`). ``ValueError`` when ``K`` is too small for the
    transits to fit (some pause would be negative) or ``order`` misses a point.
    """
    pts = _as_cloud(points, "points")
    n = len(pts)
    K = _check_positive(K, "K")
    order = _check_order(order, n)
    lengths = _edge_lengths(pts, order)
    half = lengths / (2 * K)  # half-transits
    around = _transits_around(lengths, order, n)
    visits = np.bincount(order, minlength=n)
    spare = 1.0 / n - around / (2 * K)
    if np.any(spare < -1e-12):
        raise ValueError(f"K = {K:g} is too small: the transits around point "
                         f"{int(np.argmin(spare))} exceed its latent mass 1/n (the threshold "
                         f"is path_threshold = {0.5 * n * around.max():g})")
    pause = np.maximum(spare, 0.0)[order] / visits[order]
    # knots: arrive at visit k, pause, leave; transits of duration 2 * half between visits
    durations = np.ravel(np.c_[pause, np.r_[2 * half, 0.0]])[:-1]
    knots_u = np.r_[0.0, np.cumsum(durations)]
    knots_u = np.minimum(knots_u / knots_u[-1] if knots_u[-1] > 0 else knots_u, 1.0)
    knots_x = np.repeat(pts[order], 2, axis=0)

    def generator(u):
        u = np.asarray(u, dtype=float)
        if u.ndim != 1 or np.any(~np.isfinite(u)) or np.any(u < 0) or np.any(u > 1):
            raise ValueError("the latent u must be a 1-D array with values in [0, 1]")
        return np.column_stack([np.interp(u, knots_u, knots_x[:, k])
                                for k in range(pts.shape[1])])

    generator.lipschitz = K
    return generator


# --------------------------------------------------------------------------------------------
# 1-Lipschitz GroupSort critics and the neural IPM
# --------------------------------------------------------------------------------------------

def bjorck(weight: torch.Tensor, iters: int = 20, beta: float = 0.5) -> torch.Tensor:
    """Björck orthonormalization of ``weight`` ``(out, in)``: scale by
    :math:`\\sqrt{\\|W\\|_1\\|W\\|_\\infty}\\ge\\|W\\|_2`, then ``iters`` steps of the order-1
    iteration :math:`W \\leftarrow (1+\\beta)W - \\beta W W^\\top W` (``beta = 0.5``).

    Each singular value follows :math:`s \\mapsto 1.5 s - 0.5 s^3`, which maps ``[0, 1]`` into
    itself and drives every positive ``s`` to 1: after the scaling the spectral norm is at most
    1 after **any** number of steps (so the layer is 1-Lipschitz even before convergence), and
    singular values above about ``1.5^-iters`` reach 1 (an orthonormal matrix, an isometry when
    ``out >= in``). Differentiable. A stack ``(E, out, in)`` is orthonormalized matrix by
    matrix (the members of an ensemble).
    """
    iters = check_int(iters, "iters", 0)
    if weight.ndim < 2:
        raise ValueError(f"weight must be a matrix (out, in), got shape {tuple(weight.shape)}")
    # a stack (E, out, in) is E independent matrices (the members of an ensemble)
    norm1 = weight.abs().sum(dim=-2).amax(dim=-1)
    norminf = weight.abs().sum(dim=-1).amax(dim=-1)
    w = weight / torch.sqrt(norm1 * norminf).clamp_min(1e-12)[..., None, None]
    for _ in range(iters):
        w = (1 + beta) * w - beta * (w @ (w.mT @ w) if w.shape[-2] >= w.shape[-1]
                                     else (w @ w.mT) @ w)
    return w


class BjorckLinear(nn.Module):
    """Linear layer ``y = W x + b`` whose weight is orthonormalized by :func:`bjorck` in every
    forward pass (``iters`` steps): spectral norm <= 1, so the layer is 1-Lipschitz.

    Shapes: input ``(N, in_features)``, output ``(N, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, iters: int = 20):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        self.iters = check_int(iters, "iters", 0)
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.bias = nn.Parameter(torch.zeros(self.out_features))
        nn.init.orthogonal_(self.weight)

    def orthonormal_weight(self) -> torch.Tensor:
        return bjorck(self.weight, self.iters)

    @torch.no_grad()
    def orthonormalize_(self, iters: int = 50) -> BjorckLinear:
        """Replace the raw weight by its orthonormalization (``iters`` Björck steps)."""
        self.weight.copy_(bjorck(self.weight, iters))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.orthonormal_weight(), self.bias)


class MaxMin(nn.Module):
    """GroupSort with groups of 2: channels ``(a_1, b_1, a_2, b_2, ...)`` become
    ``(max(a_k, b_k)..., min(a_k, b_k)...)``; a permutation of each pair, hence 1-Lipschitz and
    gradient-norm preserving. Input ``(N, C)`` with ``C`` even."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2:
            raise ValueError(f"MaxMin needs an even number of channels, got {x.shape[-1]}")
        pairs = x.unflatten(-1, (x.shape[-1] // 2, 2))
        return torch.cat([pairs.amax(-1), pairs.amin(-1)], dim=-1)


def _groupsort_body(in_dim: int, width, depth, linear: Callable[[int, int, int], nn.Module]
                    ) -> tuple[nn.Sequential, int, int]:
    """``depth`` blocks ``linear -> MaxMin`` of width ``width`` (even) from ``in_dim`` inputs,
    block ``k`` built by ``linear(k, n_in, n_out)`` (a norm-constrained linear layer).
    Returns ``(body, width, depth)`` after validation."""
    width = check_int(width, "width", 2)
    depth = check_int(depth, "depth", 1)
    if width % 2:
        raise ValueError(f"width must be even (MaxMin pairs channels), got {width}")
    layers: list[nn.Module] = []
    for k in range(depth):
        layers += [linear(k, in_dim if k == 0 else width, width), MaxMin()]
    return nn.Sequential(*layers), width, depth


class GroupSortCritic(nn.Module):
    """1-Lipschitz (Euclidean) critic :math:`\\mathbb R^{D}\\to\\mathbb R`:
    ``depth`` blocks ``BjorckLinear -> MaxMin`` of width ``width`` (even), then a final linear
    layer to 1 output whose row weight is divided by its Euclidean norm.

    Every block has spectral norm <= 1 (:func:`bjorck`) and MaxMin is 1-Lipschitz, so
    :math:`|f(x) - f(y)|\\le\\|x - y\\|` for any weights (Anil, Lucas, Grosse 2019). Input
    ``(N, in_dim)``, output ``(N,)``.
    """

    def __init__(self, in_dim: int, width: int = 32, depth: int = 3, iters: int = 20):
        super().__init__()
        in_dim = check_int(in_dim, "in_dim", 1)
        self.body, width, depth = _groupsort_body(
            in_dim, width, depth, lambda k, a, b: BjorckLinear(a, b, iters))
        self.head = nn.Parameter(torch.randn(width) / width**0.5)
        self.head_bias = nn.Parameter(torch.zeros(()))
        self.in_dim, self.width, self.depth = in_dim, width, depth

    def head_weight(self) -> torch.Tensor:
        return self.head / self.head.norm().clamp_min(1e-12)

    @torch.no_grad()
    def orthonormalize_(self, iters: int = 50) -> GroupSortCritic:
        """Orthonormalize every raw weight in place (and normalize the head)."""
        for layer in self.body:
            if isinstance(layer, BjorckLinear):
                layer.orthonormalize_(iters)
        self.head.copy_(self.head_weight())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"input must have shape (N, {self.in_dim}), got {tuple(x.shape)}")
        return self.body(x) @ self.head_weight() + self.head_bias


#: The critic families of :func:`neural_ipm` (Biau, Sangnier and Tanielian compare such classes).
CRITIC_FAMILIES = ("groupsort", "groupsort-inf", "relu-bjorck", "relu-spectral", "relu-clip")

#: Weight-clipping bound of the ``relu-clip`` family (the WGAN value).
CLIP = 0.01


class ReLUCritic(nn.Module):
    """ReLU critic :math:`\\mathbb R^{D}\\to\\mathbb R`: ``depth`` blocks ``linear -> ReLU`` of
    width ``width``, then a linear head to 1 output, under one of three weight constraints:

    - ``"bjorck"``: :class:`BjorckLinear` blocks (spectral norm <= 1) and a unit-norm head, so
      1-Lipschitz for any raw weights, as :class:`GroupSortCritic` but with ReLU;
    - ``"spectral"``: ``nn.Linear`` layers (head included) under torch's ``spectral_norm``
      parametrization (Miyato et al.: one power iteration per training forward), whose estimate
      of each norm can be low, so the network is only about 1-Lipschitz: use
      :func:`certified_lipschitz` for its exact bound;
    - ``"clip"``: ``nn.Linear`` layers whose weights :func:`neural_ipm` clips to ``[-CLIP, CLIP]``
      after every step (the original WGAN); the class is ``K``-Lipschitz with
      ``K = prod_k CLIP sqrt(n_in n_out)`` (attained by the constant matrices).

    Input ``(N, in_dim)``, output ``(N,)``.
    """

    def __init__(self, in_dim: int, width: int = 32, depth: int = 3, constraint: str = "bjorck",
                 iters: int = 20):
        super().__init__()
        in_dim = check_int(in_dim, "in_dim", 1)
        width = check_int(width, "width", 1)
        depth = check_int(depth, "depth", 1)
        if constraint not in ("bjorck", "spectral", "clip"):
            raise ValueError(f"constraint must be 'bjorck', 'spectral' or 'clip', got "
                             f"{constraint!r}")
        self.constraint, self.in_dim, self.width, self.depth = constraint, in_dim, width, depth
        dims = [in_dim] + [width] * depth
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            if constraint == "bjorck":
                layers.append(BjorckLinear(a, b, iters))
            else:
                lin = nn.Linear(a, b)
                if constraint == "spectral":
                    lin = nn.utils.parametrizations.spectral_norm(lin)
                else:
                    with torch.no_grad():
                        lin.weight.clamp_(-CLIP, CLIP)
                layers += [lin]
            layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        head = nn.Linear(width, 1)
        if constraint == "spectral":
            head = nn.utils.parametrizations.spectral_norm(head)
        self.head = head

    def weights(self) -> list[torch.Tensor]:
        """The effective weight matrices, input to output (after each constraint)."""
        out = []
        for layer in [*self.body, self.head]:
            if isinstance(layer, BjorckLinear):
                out.append(layer.orthonormal_weight())
            elif isinstance(layer, nn.Linear):
                out.append(layer.weight)
        if self.constraint == "bjorck":  # unit-norm head
            out[-1] = out[-1] / out[-1].norm().clamp_min(1e-12)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"input must have shape (N, {self.in_dim}), got {tuple(x.shape)}")
        h = self.body(x)
        if self.constraint == "bjorck":
            w = self.head.weight / self.head.weight.norm().clamp_min(1e-12)
            return (h @ w.T + self.head.bias)[:, 0]
        return self.head(h)[:, 0]

    @torch.no_grad()
    def clip_(self) -> ReLUCritic:
        """Clip every weight to ``[-CLIP, CLIP]`` (the ``clip`` constraint; no-op otherwise)."""
        if self.constraint == "clip":
            for layer in [*self.body, self.head]:
                if isinstance(layer, nn.Linear):
                    layer.weight.clamp_(-CLIP, CLIP)
        return self


class RowNormLinear(nn.Module):
    """Linear layer ``y = W x + b`` whose weight has each row divided by ``max(1, ||row||_p)``
    in every forward pass, so every row has ``l_p`` norm at most 1: with ``p = 2`` the matrix
    norm :math:`\\|W\\|_{2,\\infty}=\\max_i\\|w_i\\|_2\\le1` (a map from
    :math:`(\\mathbb R^{n},\\|\\cdot\\|_2)` to :math:`(\\mathbb R^{m},\\|\\cdot\\|_\\infty)`
    of norm <= 1); with ``p = 1`` the induced norm :math:`\\|W\\|_\\infty` (largest absolute row
    sum) is at most 1. Shapes: input ``(N, in_features)``, output ``(N, out_features)``."""

    def __init__(self, in_features: int, out_features: int, p: int):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p!r}")
        self.p = p
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.bias = nn.Parameter(torch.zeros(self.out_features))
        nn.init.orthogonal_(self.weight)

    def constrained_weight(self) -> torch.Tensor:
        norms = self.weight.norm(p=self.p, dim=-1, keepdim=True)
        return self.weight / norms.clamp_min(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.constrained_weight(), self.bias)


class GroupSortInfCritic(nn.Module):
    """The GroupSort class of Anil, Lucas and Grosse's universality theorem,
    :math:`\\mathbb R^{D}\\to\\mathbb R`: a first layer with
    :math:`\\|W_1\\|_{2,\\infty}\\le1` (rows of Euclidean norm <= 1), ``depth - 1`` further
    layers with :math:`\\|W_k\\|_\\infty\\le1` (rows of ``l_1`` norm <= 1), MaxMin after each
    (1-Lipschitz for the max norm), and a head row of ``l_1`` norm <= 1 (:class:`RowNormLinear`).

    Then :math:`|f(x)-f(y)|\\le\\|W_1(x-y)\\|_\\infty\\le\\|x-y\\|_2`: 1-Lipschitz for the
    Euclidean norm, for any raw weights, but a different class from :class:`GroupSortCritic`'s
    spectral-norm layers (neither contains the other beyond the first layer).
    Input ``(N, in_dim)``, output ``(N,)``.
    """

    def __init__(self, in_dim: int, width: int = 32, depth: int = 3):
        super().__init__()
        in_dim = check_int(in_dim, "in_dim", 1)
        self.body, width, depth = _groupsort_body(
            in_dim, width, depth, lambda k, a, b: RowNormLinear(a, b, p=2 if k == 0 else 1))
        self.head = RowNormLinear(width, 1, p=1)
        with torch.no_grad():
            self.head.weight.normal_(0.0, width**-0.5)
        self.in_dim, self.width, self.depth = in_dim, width, depth

    def weights(self) -> list[torch.Tensor]:
        """The constrained weight matrices, input to output (head last, ``(1, width)``)."""
        return [layer.constrained_weight() for layer in [*self.body, self.head]
                if isinstance(layer, RowNormLinear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"input must have shape (N, {self.in_dim}), got {tuple(x.shape)}")
        return self.head(self.body(x))[:, 0]


def _inf_class_matrices(critic: nn.Module) -> list[torch.Tensor]:
    """The matrices a :class:`GroupSortInfCritic` or a :class:`GroupSortCritic` applies, input
    to output, the head last as a ``(1, width)`` row."""
    if isinstance(critic, GroupSortInfCritic):
        return critic.weights()
    if isinstance(critic, GroupSortCritic):
        return _critic_matrices(critic)
    raise TypeError(f"critic must be a GroupSortInfCritic or a GroupSortCritic, got "
                    f"{type(critic).__name__}")


def inf_norm_bound(critic: nn.Module) -> float:
    """The Lipschitz bound of Anil, Lucas and Grosse's norms for the Euclidean input norm:
    :math:`\\|W_1\\|_{2,\\infty}\\prod_{k\\ge2}\\|W_k\\|_\\infty` (the head included as a row),
    in float64, for a :class:`GroupSortInfCritic` or a :class:`GroupSortCritic` (whose
    spectral-norm layers need not satisfy it: the two classes differ)."""
    with torch.no_grad():
        w = [m.detach().double() for m in _inf_class_matrices(critic)]
        bound = float(w[0].norm(dim=1).max())
        for m in w[1:]:
            bound *= float(m.abs().sum(dim=1).max())
    return bound


def certified_lipschitz(critic: nn.Module) -> float:
    """A certified upper bound on the Lipschitz constant of a critic of :func:`neural_ipm`: the
    product of the exact spectral norms (float64 SVD) of its effective weights (1-Lipschitz
    activations: MaxMin, ReLU); for a :class:`GroupSortInfCritic`, :func:`inf_norm_bound`. For
    the ``relu-clip`` family the class constant ``prod_k CLIP sqrt(n_in n_out)`` is returned
    instead (the bound for every clipped network), so that dividing by it gives a 1-Lipschitz
    class."""
    if isinstance(critic, GroupSortInfCritic):
        return inf_norm_bound(critic)
    if isinstance(critic, GroupSortCritic):
        mats = [layer.orthonormal_weight() for layer in critic.body
                if isinstance(layer, BjorckLinear)] + [critic.head_weight()[None, :]]
    elif isinstance(critic, ReLUCritic):
        if critic.constraint == "clip":
            dims = [critic.in_dim] + [critic.width] * critic.depth + [1]
            return float(np.prod([CLIP * math.sqrt(a * b) for a, b in zip(dims[:-1], dims[1:],
                                                                           strict=True)]))
        with torch.no_grad():
            mats = critic.weights()
    else:
        raise TypeError(f"critic must be a GroupSortCritic, GroupSortInfCritic or ReLUCritic, got "
                        f"{type(critic).__name__}")
    with torch.no_grad():
        return float(np.prod([np.linalg.norm(w.detach().double().numpy(), 2) for w in mats]))


def neural_ipm(x, y, *, width: int = 32, depth: int = 3, steps: int = 500, lr: float = 5e-3,
               seed: int = 0, batch_size: int | None = None, return_critic: bool = False,
               family: str = "groupsort"):
    """Neural IPM :math:`d_{\\mathcal D}(\\mu_x, \\mu_y)` between the empirical measures of ``x``
    ``(n, D)`` and ``y`` ``(m, D)`` over :class:`GroupSortCritic` ``(D, width, depth)``.

    The critic is trained with Adam (``steps`` steps, learning rate ``lr``) to maximize
    :math:`\\frac1n\\sum_i f(x_i) - \\frac1m\\sum_j f(y_j)`, full batch by default or on seeded
    minibatches of ``batch_size`` rows of each sample; the returned estimate is that difference
    evaluated on all the samples after training, in float64, in absolute value: the class is
    closed under ``f -> -f`` (negating the last layer keeps its row of unit norm), so the
    absolute difference is attained by a member of the class, and the estimate is >= 0, as an
    IPM is. It is a lower bound on :math:`d_{\\mathcal D}` (training may stop short of the sup)
    and, the critic being 1-Lipschitz, on ``wasserstein1(x, y)`` (up to rounding).
    Deterministic for a given ``seed`` (initialization under
    :func:`~gantheory.config.torch_seeded`; one CPU thread).
    Returns a float, or ``(float, critic)`` with ``return_critic=True``.

    ``family`` (one of :data:`CRITIC_FAMILIES`) picks the class: ``"groupsort"`` (the default,
    above), ``"groupsort-inf"`` (:class:`GroupSortInfCritic`, the norms of Anil, Lucas and
    Grosse's universality theorem), or a :class:`ReLUCritic` with Björck, spectrally normalized
    or clipped weights. For
    the Björck and spectral ReLU families the estimate is divided by :func:`certified_lipschitz`
    of the trained critic when that exceeds 1; for ``relu-clip`` always by the class constant
    (the clipped class divided by it is a class of 1-Lipschitz functions). So every family's
    estimate is that of a 1-Lipschitz critic, comparable with :func:`wasserstein1`.
    """
    if family not in CRITIC_FAMILIES:
        raise ValueError(f"family must be one of {CRITIC_FAMILIES}, got {family!r}")
    xa = _as_cloud(x, "x")
    ya = _as_cloud(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {xa.shape} and {ya.shape}")
    steps = check_int(steps, "steps", 0)
    lr = _check_positive(lr, "lr")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    with torch_seeded(derive_seed(int(seed), "neural_ipm", "init")):
        if family == "groupsort":
            critic = GroupSortCritic(xa.shape[1], width, depth)
        elif family == "groupsort-inf":
            critic = GroupSortInfCritic(xa.shape[1], width, depth)
        else:
            critic = ReLUCritic(xa.shape[1], width, depth, constraint=family.split("-")[1])
    with one_thread():  # tiny networks: one CPU thread is fastest and deterministic
        xt = torch.as_tensor(xa, dtype=torch.float32)
        yt = torch.as_tensor(ya, dtype=torch.float32)
        opt = torch.optim.Adam(critic.parameters(), lr=lr, foreach=True)
        gen = torch.Generator().manual_seed(derive_seed(int(seed), "neural_ipm", "batches"))
        for _ in range(steps):
            if batch_size is None:
                xb, yb = xt, yt
            else:
                xb = xt[torch.randint(len(xt), (batch_size,), generator=gen)]
                yb = yt[torch.randint(len(yt), (batch_size,), generator=gen)]
            scores = critic(torch.cat([yb, xb]))  # one pass: one Björck per layer
            loss = scores[:len(yb)].mean() - scores[len(yb):].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if family == "relu-clip":
                critic.clip_()
        critic.eval()
        with torch.no_grad():
            c64 = copy.deepcopy(critic).double()
            value = abs(float(c64(xt.double()).mean() - c64(yt.double()).mean()))
            if family == "relu-clip":  # the class constant: the clipped class divided by it
                value /= certified_lipschitz(c64)  # is a class of 1-Lipschitz functions
            elif family != "groupsort":  # certify: divide by the exact bound when above 1
                # (for groupsort-inf the bound is <= 1 by construction, up to rounding)
                value /= max(1.0, certified_lipschitz(c64))
    return (value, critic) if return_critic else value


# --------------------------------------------------------------------------------------------
# K-Lipschitz GroupSort generators and WGAN training with a GroupSort critic
# --------------------------------------------------------------------------------------------

class GroupSortGenerator(nn.Module):
    """Generator :math:`\\mathbb R^{d}\\to\\mathbb R^{D}` that is ``lipschitz``-Lipschitz for
    **any** weights: :math:`G(z) = K\\,W_{\\rm out}\\,h(z) + b`, where ``h`` is ``depth`` blocks
    ``BjorckLinear -> MaxMin`` of width ``width`` (even) and :math:`W_{\\rm out}` ``(D, width)``
    is Björck-orthonormalized (spectral norm <= 1), so :math:`\\operatorname{Lip}(G)\\le K`
    (:math:`K` = ``lipschitz``, fixed, not learned). ``bias`` ``(D,)`` is learned.

    MaxMin preserves gradient norms, so :math:`G` can move at the full speed :math:`K` and also
    stand still (where :math:`W_{\\rm out}` kills the direction of motion): the two regimes of
    the optimal generators of the chapter on a one-dimensional latent. ``forward`` maps latents
    ``(N, latent_dim)`` to points ``(N, out_dim)``.
    """

    def __init__(self, latent_dim: int, out_dim: int, *, lipschitz: float, width: int = 32,
                 depth: int = 3, iters: int = 20):
        super().__init__()
        self.latent_dim = check_int(latent_dim, "latent_dim", 1)
        self.out_dim = check_int(out_dim, "out_dim", 1)
        self.body, width, depth = _groupsort_body(
            self.latent_dim, width, depth, lambda k, a, b: BjorckLinear(a, b, iters))
        self.lipschitz = _check_positive(lipschitz, "lipschitz")
        self.out = BjorckLinear(width, self.out_dim, iters)
        self.width, self.depth = width, depth

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        out = self.out
        return self.lipschitz * nn.functional.linear(self.body(z), out.orthonormal_weight()) \
            + out.bias

    def numpy(self) -> Callable[[np.ndarray], np.ndarray]:
        """The generator as a vectorized numpy callable (float64 copy, eval mode):
        ``u`` ``(N,)`` or ``(N, latent_dim)`` -> points ``(N, out_dim)``; the form
        :func:`semidiscrete_w1` takes for a uniform latent on ``[0, 1]``."""
        g64 = copy.deepcopy(self).double().eval()

        def generator(u):
            z = np.asarray(u, dtype=np.float64).reshape(-1, self.latent_dim)
            with torch.no_grad():
                return g64(torch.from_numpy(z)).numpy()

        return generator


class _StackedGroupSort(nn.Module):
    """``E`` GroupSort networks of one architecture (:class:`GroupSortCritic` or
    :class:`GroupSortGenerator`) as one batched module: inputs ``(E, N, in)`` -> outputs
    ``(E, N)`` (critics) or ``(E, N, out_dim)`` (generators), member ``e`` computing its own
    network with :func:`bjorck` on its own weights. :meth:`write_back` copies the state into
    the member modules."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        first = members[0]
        self.kind = "critic" if isinstance(first, GroupSortCritic) else "generator"
        bodies = [[m for m in net.body if isinstance(m, BjorckLinear)] for net in members]
        self.iters = [layer.iters for layer in bodies[0]]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([b[k].weight.detach() for b in bodies]).clone())
            for k in range(len(self.iters)))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([b[k].bias.detach() for b in bodies]).clone())
            for k in range(len(self.iters)))
        if self.kind == "critic":
            self.head = nn.Parameter(torch.stack([m.head.detach() for m in members]).clone())
            self.head_bias = nn.Parameter(torch.stack([m.head_bias.detach() for m in members])
                                          .clone())
        else:
            self.latent_dim = first.latent_dim
            self.out_iters = first.out.iters
            self.out_weight = nn.Parameter(torch.stack([m.out.weight.detach() for m in members])
                                           .clone())
            self.out_bias = nn.Parameter(torch.stack([m.out.bias.detach() for m in members])
                                         .clone())
            self.register_buffer("lipschitz", torch.tensor([m.lipschitz for m in members],
                                                           dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for w, b, iters in zip(self.weights, self.biases, self.iters, strict=True):
            h = _MAXMIN(stacked_linear(h, bjorck(w, iters), b))
        if self.kind == "critic":
            head = self.head / self.head.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            return (h @ head.unsqueeze(-1)).squeeze(-1) + self.head_bias.unsqueeze(-1)
        out = stacked_linear(h, bjorck(self.out_weight, self.out_iters),
                             torch.zeros_like(self.out_bias))
        return self.lipschitz.to(h.dtype)[:, None, None] * out + self.out_bias.unsqueeze(1)

    @torch.no_grad()
    def write_back(self, members: list[nn.Module]) -> None:
        for e, net in enumerate(members):
            for k, layer in enumerate(m for m in net.body if isinstance(m, BjorckLinear)):
                layer.weight.copy_(self.weights[k][e])
                layer.bias.copy_(self.biases[k][e])
            if self.kind == "critic":
                net.head.copy_(self.head[e])
                net.head_bias.copy_(self.head_bias[e])
            else:
                net.out.weight.copy_(self.out_weight[e])
                net.out.bias.copy_(self.out_bias[e])


_MAXMIN = MaxMin()


_LATENTS = ("gaussian", "uniform")


def sample_latent(kind: str, n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """Latents ``(n, dim)``: standard Gaussian (``"gaussian"``) or uniform on
    :math:`[0,1]^{\\rm dim}` (``"uniform"``), drawn from the torch ``generator``."""
    if kind == "gaussian":
        return torch.randn(n, dim, generator=generator)
    if kind == "uniform":
        return torch.rand(n, dim, generator=generator)
    raise ValueError(f"latent must be one of {_LATENTS}, got {kind!r}")


@dataclass
class TrainedWGAN:
    """Result of :func:`train_wgan`.

    ``generator`` and ``critic`` are trained copies in eval mode. ``history`` has one row per
    checkpoint (about ``n_log``, the first at step 0) with columns ``step``, ``critic`` (the
    training critic's objective: mean of ``f`` on the evaluation target rows minus its mean on
    the generated evaluation points, float64; negative when an untrained critic points the
    wrong way), ``ipm_lower`` (``|critic|``: the GroupSort class is closed under ``f -> -f``,
    so this is a lower bound on the neural IPM of the two samples, and >= 0 as an IPM is) and
    ``w1`` (exact :func:`wasserstein1` between the same two samples). The critic is
    1-Lipschitz, so ``ipm_lower <= w1`` on every row up to rounding. ``eval_latents``
    ``(n_eval, latent_dim)`` and ``eval_target`` ``(min(n_eval, n), D)`` are those samples;
    ``seconds`` the training time; ``params`` the training arguments.
    """

    generator: nn.Module
    critic: GroupSortCritic
    history: pd.DataFrame
    eval_latents: np.ndarray
    eval_target: np.ndarray
    seconds: float
    params: dict = field(default_factory=dict)


def _check_wgan_job(target, generator, *, latent: str = "gaussian", steps: int = 1000,
                    n_critic: int = 5, critic_width: int = 16, critic_depth: int = 2,
                    critic_iters: int = 5, lr: float = 5e-4, critic_lr: float = 1e-2,
                    batch_size: int = 256, decay: float = 0.5, n_eval: int = 512,
                    n_log: int = 10, seed: int = 0, progress: bool | None = None) -> dict:
    """One :func:`train_wgan` call's arguments, validated: ``dict(target, generator, params,
    progress)`` with ``params`` the training arguments."""
    xa = _as_cloud(target, "target")
    if not isinstance(generator, nn.Module) or not hasattr(generator, "latent_dim"):
        raise TypeError("generator must be a torch module with a latent_dim attribute")
    d = check_int(generator.latent_dim, "generator.latent_dim", 1)
    if latent not in _LATENTS:
        raise ValueError(f"latent must be one of {_LATENTS}, got {latent!r}")
    decay = float(decay)
    if not 0 <= decay <= 1:
        raise ValueError(f"decay must lie in [0, 1], got {decay}")
    params = dict(latent=latent, steps=check_int(steps, "steps", 0),
                  n_critic=check_int(n_critic, "n_critic", 1),
                  critic_width=critic_width, critic_depth=critic_depth,
                  critic_iters=critic_iters, lr=_check_positive(lr, "lr"),
                  critic_lr=_check_positive(critic_lr, "critic_lr"),
                  batch_size=check_int(batch_size, "batch_size", 1), decay=decay,
                  n_eval=check_int(n_eval, "n_eval", 1), n_log=check_int(n_log, "n_log", 1),
                  seed=check_int(seed, "seed", 0))
    with torch.no_grad():
        was_training = generator.training
        dummy = generator.eval()(torch.zeros(1, d))  # eval: no side effect (power iterations)
        generator.train(was_training)
    if dummy.ndim != 2 or dummy.shape[1] != xa.shape[1]:
        raise ValueError(f"generator outputs shape {tuple(dummy.shape)} for one latent; the "
                         f"target has dimension {xa.shape[1]}")
    return dict(target=xa, generator=generator, params=params, progress=progress)


def _stack_signature(job: dict):
    """Jobs with equal signatures train as one ensemble (None: this job trains alone)."""
    g = job["generator"]
    if type(g) is not GroupSortGenerator or not all(
            isinstance(m, (BjorckLinear, MaxMin)) for m in g.body):
        return None
    p = {k: v for k, v in job["params"].items() if k != "seed"}
    shape = tuple((m.in_features, m.out_features, m.iters) for m in g.body
                  if isinstance(m, BjorckLinear))
    return (g.latent_dim, g.out_dim, shape, g.out.iters, job["target"].shape[1],
            tuple(sorted(p.items())))


def _train_wgan_group(jobs: list[dict], stacked: bool) -> list[TrainedWGAN]:
    """Train the validated ``jobs`` (one signature when ``stacked``) in one :func:`fit`."""
    p = jobs[0]["params"]
    seeds = [j["params"]["seed"] for j in jobs]
    gens = [copy.deepcopy(j["generator"]).train() for j in jobs]
    critics = []
    for j, seed in zip(jobs, seeds, strict=True):
        with torch_seeded(derive_seed(seed, "train_wgan", "critic")):
            critics.append(GroupSortCritic(j["target"].shape[1], p["critic_width"],
                                           p["critic_depth"], p["critic_iters"]))
    gen = _StackedGroupSort(gens) if stacked else gens[0]
    critic = _StackedGroupSort(critics) if stacked else critics[0]
    streams = training.Streams(seeds, "train_wgan", stacked=stacked)
    d, batch, latent = gens[0].latent_dim, p["batch_size"], p["latent"]
    z_eval, x_eval = [], []
    for j, seed in zip(jobs, seeds, strict=True):
        ev = torch.Generator().manual_seed(derive_seed(seed, "train_wgan", "eval"))
        z_eval.append(sample_latent(latent, p["n_eval"], d, ev))
        xa = j["target"]
        x_eval.append(xa if len(xa) <= p["n_eval"] else
                      xa[torch.randperm(len(xa), generator=ev)[:p["n_eval"]].numpy()])
    xts = [torch.as_tensor(j["target"], dtype=torch.float32) for j in jobs]
    x_eval_t = [torch.as_tensor(x, dtype=torch.float64) for x in x_eval]

    def draw_real():
        return (streams.each(lambda e: xts[e][torch.randint(len(xts[e]), (batch,),
                                                            generator=streams.torch[e])]),)

    def draw_latent():
        return streams.each(lambda e: sample_latent(latent, batch, d, streams.torch[e]))

    def evaluate(step: int) -> list[dict]:
        with torch.no_grad():
            g64 = copy.deepcopy(gen).double().eval()
            c64 = copy.deepcopy(critic).double().eval()
            z = streams.stack([zz.double() for zz in z_eval])
            fake = g64(z)
            if not torch.isfinite(fake).all():
                raise training.DivergenceError(
                    f"WGAN training diverged: non-finite generator output at step {step}; "
                    f"lower the learning rates")
            if not stacked:
                est = float(c64(x_eval_t[0]).mean() - c64(fake).mean())
                return [dict(critic=est, w1=wasserstein1(fake.numpy(), x_eval[0]))]
            c_fake = c64(fake).mean(dim=-1)  # (E,): each member's critic on its own points
            if len({len(x) for x in x_eval}) == 1:
                c_real = c64(torch.stack(x_eval_t)).mean(dim=-1)
            else:  # targets of different sizes: member e's critic on its own target rows
                c_real = torch.stack([c64(x.expand(len(jobs), -1, -1))[e].mean()
                                      for e, x in enumerate(x_eval_t)])
            rows = [dict(critic=float(c_real[e] - c_fake[e]),
                         w1=wasserstein1(fake[e].numpy(), x_eval[e])) for e in range(len(jobs))]
        return rows

    # foreach: one fused pass over the parameters, the same numbers as the per-tensor loop
    opt_c = torch.optim.Adam(critic.parameters(), lr=p["critic_lr"], betas=(0.5, 0.9),
                             foreach=True)
    opt_g = torch.optim.Adam(gen.parameters(), lr=p["lr"], betas=(0.5, 0.9), foreach=True)
    steps = p["steps"]
    log_at = np.unique(np.linspace(0, steps, p["n_log"] + 1).round().astype(int)).tolist()
    t0 = time.perf_counter()
    histories = training.fit(gen, critic, training.LipschitzWGAN(), steps=steps,
                             n_critic=p["n_critic"], draw_real=draw_real,
                             draw_latent=draw_latent, streams=streams, opt_g=opt_g, opt_c=opt_c,
                             decay=p["decay"], log_steps=log_at, evaluate=evaluate,
                             fakes_at_once=stacked or type(gens[0]) is GroupSortGenerator,
                             progress=jobs[0]["progress"], desc="WGAN steps")
    seconds = time.perf_counter() - t0
    if stacked:
        gen.write_back(gens)
        critic.write_back(critics)
    out = []
    for e, j in enumerate(jobs):
        hist = pd.DataFrame([{k: r[k] for k in ("step", "critic", "w1")} for r in histories[e]])
        hist.insert(2, "ipm_lower", hist.critic.abs())
        out.append(TrainedWGAN(gens[e].eval(), critics[e].eval(), hist, z_eval[e].numpy(),
                               x_eval[e], seconds, dict(j["params"])))
    return out


def train_wgan(target, generator: nn.Module, *, latent: str = "gaussian", steps: int = 1000,
               n_critic: int = 5, critic_width: int = 16, critic_depth: int = 2,
               critic_iters: int = 5, lr: float = 5e-4, critic_lr: float = 1e-2,
               batch_size: int = 256, decay: float = 0.5, n_eval: int = 512, n_log: int = 10,
               seed: int = 0, progress: bool | None = None) -> TrainedWGAN:
    """Train ``generator`` (a module mapping latents ``(N, d)`` to points ``(N, D)``, with an
    integer attribute ``latent_dim``) against the uniform empirical measure on ``target``
    ``(n, D)`` with the WGAN objective and a 1-Lipschitz
    ``GroupSortCritic(D, critic_width, critic_depth, critic_iters)``: no weight clipping, no
    gradient penalty (:class:`gantheory.training.LipschitzWGAN` through
    :func:`gantheory.training.fit`). Few Björck steps (``critic_iters = 5``) keep the critic
    1-Lipschitz (:func:`bjorck` bounds the spectral norm after any number of steps) and make a
    step about twice as fast as 20.

    Each of ``steps`` generator steps follows ``n_critic`` critic steps (Adam, learning rates
    ``lr`` for the generator and ``critic_lr`` for the critic, betas (0.5, 0.9), both constant
    and then decaying linearly to 0 over the last ``decay`` fraction of the steps). Every step
    draws ``batch_size`` target rows with replacement and ``batch_size`` latents of kind
    ``latent`` (:func:`sample_latent`). The generator passed in is not modified: a deep copy
    is trained. The critic is initialized from ``seed``, all draws come from torch generators
    seeded by ``seed``, and training runs on one CPU thread: the result is deterministic.
    ``history`` is logged on ``n_eval`` fixed latents and ``min(n_eval, n)`` fixed target rows
    (all of them when ``n <= n_eval``) at about ``n_log + 1`` evenly spaced steps.

    Raises ``ValueError`` for a bad target or argument, ``TypeError`` for a generator without
    ``latent_dim``, and :class:`~gantheory.training.DivergenceError` (a
    :class:`~gantheory.config.ConvergenceError`) when the generator's output or a loss becomes
    non-finite. Returns a :class:`TrainedWGAN`. Several runs: :func:`train_wgans`.
    """
    job = _check_wgan_job(target, generator, latent=latent, steps=steps, n_critic=n_critic,
                          critic_width=critic_width, critic_depth=critic_depth,
                          critic_iters=critic_iters, lr=lr, critic_lr=critic_lr,
                          batch_size=batch_size, decay=decay, n_eval=n_eval, n_log=n_log,
                          seed=seed, progress=progress)
    return _train_wgan_group([job], stacked=False)[0]


def _run_group(task: tuple[list[dict], bool]) -> list[TrainedWGAN]:
    return _train_wgan_group(*task)


def train_wgans(jobs: list[dict], processes: int | None = None) -> list[TrainedWGAN]:
    """Run several :func:`train_wgan` calls: ``jobs`` is a list of keyword dictionaries, each
    with ``target`` and ``generator`` and any other argument of :func:`train_wgan`; returns
    their results in the same order.

    Jobs whose generators are :class:`GroupSortGenerator` of one architecture, with targets of
    one dimension and the same training arguments except ``seed`` (and the target and the
    generator's weights and ``lipschitz``), train together as one batched ensemble
    (:mod:`gantheory.training`): each member is its one-at-a-time run up to the rounding of
    batched matrix products. Different groups run in ``processes`` worker processes (default
    ``min(groups, cores)``; 1 runs them here, one after another), each on one thread, so that
    the workers never use more threads than the machine has cores. Workers are started with
    ``spawn`` (safe with torch and in notebooks) and import ``gantheory`` afresh, which costs a
    few seconds; a single group runs here.
    """
    if not isinstance(jobs, (list, tuple)) or not all(isinstance(j, dict) for j in jobs):
        raise TypeError("jobs must be a list of keyword dictionaries for train_wgan")
    if not jobs:
        raise ValueError("jobs must hold at least one keyword dictionary, got an empty list")
    checked = []
    for k, job in enumerate(jobs):
        missing = {"target", "generator"} - set(job)
        if missing:
            raise ValueError(f"jobs[{k}] lacks {sorted(missing)}")
        job = dict(job)
        checked.append(_check_wgan_job(job.pop("target"), job.pop("generator"), **job))
    groups: dict = {}
    for k, job in enumerate(checked):
        sig = _stack_signature(job)
        groups.setdefault(("alone", k) if sig is None else sig, []).append(k)
    tasks = [([checked[k] for k in ks], len(ks) > 1) for ks in groups.values()]
    if processes is None:
        processes = min(len(tasks), config.cpu_cores())
    processes = check_int(processes, "processes", 1)
    if processes == 1 or len(tasks) == 1:
        results = [_run_group(t) for t in tasks]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(processes, len(tasks)),
                                 mp_context=context) as pool:
            results = list(pool.map(_run_group, tasks))
    out: list = [None] * len(jobs)
    for ks, res in zip(groups.values(), results, strict=True):
        for k, r in zip(ks, res, strict=True):
            out[k] = r
    return out


# --------------------------------------------------------------------------------------------
# Checks of the book's claims (chapters 8 and 9): each returns the keyword arguments of
# gantheory.claims.claim (measured, reference, relation, tolerance, basis), so that the chapter
# and its control in the tests run the same check.
# --------------------------------------------------------------------------------------------

_U32 = 2.0**-24  # unit roundoff of float32


def _critic_matrices(critic: GroupSortCritic) -> list[torch.Tensor]:
    """The matrices the critic applies, in order: each body layer's weight (after Björck for a
    :class:`BjorckLinear`, raw for a plain ``nn.Linear``) and the head as a ``(1, width)`` row."""
    if not isinstance(critic, GroupSortCritic):
        raise TypeError(f"critic must be a GroupSortCritic, got {type(critic).__name__}")
    mats = []
    with torch.no_grad():
        for layer in critic.body:
            if isinstance(layer, BjorckLinear):
                mats.append(layer.orthonormal_weight())
            elif isinstance(layer, nn.Linear):
                mats.append(layer.weight.detach())
        mats.append(critic.head_weight().detach()[None, :])
    return mats


def critic_lipschitz_bound(critic: GroupSortCritic) -> float:
    """Upper bound on the critic's Lipschitz constant: the product of the spectral norms
    (float64 SVD) of the matrices it applies (:func:`_critic_matrices`). MaxMin is 1-Lipschitz,
    so :math:`\\operatorname{Lip}(f)\\le\\prod_k\\|W_k\\|_2\\,\\|a\\|_2`. At most 1 up to float32
    rounding for a :class:`GroupSortCritic` (any raw weights); a body of plain ``nn.Linear``
    layers (the control) has no such guarantee."""
    bound = 1.0
    for w in _critic_matrices(critic):
        bound *= float(torch.linalg.matrix_norm(w.double(), ord=2))
    return bound


def critic_rounding(critic: GroupSortCritic) -> float:
    """Float32 rounding allowance of a 1-Lipschitz bound for ``critic``: ``(L + 1) (w + 2) u``
    with ``L`` = depth, ``w`` = the largest dimension of its matrices and ``u = 2^-24``.

    Basis: a float32 matrix product of inner dimension ``w`` has relative error at most
    :math:`\\gamma_w\\approx w u` (Higham, *Accuracy and stability of numerical algorithms*,
    ch. 3); Björck's map :math:`s\\mapsto1.5s-0.5s^3` has derivative 0 at ``s = 1``, so the
    rounding of earlier steps does not accumulate and the last step's (two products and an
    axpy: ``(w + 2) u``) bounds each layer; ``L + 1`` matrices multiply the errors."""
    mats = _critic_matrices(critic)
    w = max(max(m.shape) for m in mats)
    return len(mats) * (w + 2) * _U32


def gradient_norms(critic: nn.Module, points) -> np.ndarray:
    """Euclidean norms ``(N,)`` of the critic's input gradients at the rows of ``points``
    ``(N, D)`` (float32 autograd, the arithmetic the critic trains in)."""
    pts = _as_cloud(points, "points")
    x = torch.tensor(pts, dtype=torch.float32, requires_grad=True)
    (g,) = torch.autograd.grad(critic(x).sum(), x)
    return g.norm(dim=1).double().numpy()


def operator_norm_check(critics) -> dict:
    """The claim that every critic in ``critics`` (a list of :class:`GroupSortCritic`) is
    1-Lipschitz by construction, checked on the exact operator-norm bound
    :func:`critic_lipschitz_bound` (worst case over the list) against 1, with the float32
    rounding allowance :func:`critic_rounding`."""
    critics = list(critics)
    if not critics:
        raise ValueError("critics must be a non-empty list")
    return dict(measured=max(critic_lipschitz_bound(c) for c in critics), reference=1.0,
                relation="<=", tolerance=max(critic_rounding(c) for c in critics),
                basis="product of the layers' spectral norms (float64 SVD); tolerance: float32 "
                      "rounding of Björck's last step, (L+1)(w+2)·2^-24")


def inf_norm_check(critics, inside: bool = True) -> dict:
    """The claim that every critic in ``critics`` (a non-empty list) lies in the class of
    Anil, Lucas and Grosse's theorem (``inside=True``: the largest :func:`inf_norm_bound` is at
    most 1, up to float32 rounding of the row scaling, ``(L+1)(w+2) 2^-24``), or that every one
    lies outside it (``inside=False``: the smallest bound is above 1 + that rounding)."""
    critics = list(critics)
    if not critics:
        raise ValueError("critics must be a non-empty list")
    bounds = [inf_norm_bound(c) for c in critics]
    mats = [_inf_class_matrices(c) for c in critics]
    rounding = max(len(m) * (max(max(w.shape) for w in m) + 2) * _U32 for m in mats)
    basis = ("||W_1||_{2,inf} prod_k ||W_k||_inf in float64; rounding allowance of the float32 "
             "row scaling, (L+1)(w+2)·2^-24")
    if inside:
        return dict(measured=max(bounds), reference=1.0, relation="<=", tolerance=rounding,
                    basis=basis)
    return dict(measured=min(bounds), reference=1.0 + rounding, relation=">", tolerance=0.0,
                basis=basis + " (reference: 1 plus the allowance)")


def gradient_norm_check(critics, points) -> dict:
    """The claim that the critics are 1-Lipschitz, checked on the largest input-gradient norm
    over ``points`` ``(N, D)`` and over the critics (a list of :class:`GroupSortCritic`), with
    the float32 rounding allowance :func:`critic_rounding`. It has power only where the
    gradients come close to 1 (trained critics): report the median alongside."""
    critics = list(critics)
    if not critics:
        raise ValueError("critics must be a non-empty list")
    return dict(measured=max(float(gradient_norms(c, points).max()) for c in critics),
                reference=1.0, relation="<=",
                tolerance=max(critic_rounding(c) for c in critics),
                basis="largest float32 autograd gradient norm; tolerance: float32 rounding, "
                      "(L+1)(w+2)·2^-24")


def ipm_below_w1_check(estimates, w1) -> dict:
    """The claim :math:`d_{\\mathcal D}\\le W_1`: worst ratio ``max(estimates / w1)`` against 1.

    ``estimates`` and ``w1`` are arrays of the same shape (or ``w1`` a scalar): critic estimates
    and the exact :func:`wasserstein1` between the same two samples. The estimates are computed
    in float64 (the critic's float64 copy recomputes Björck) and W1 by POT's exact simplex, so
    the tolerance is float64 rounding, 1e-9 relative (the rounding itself is near 1e-14)."""
    est = np.asarray(estimates, dtype=float)
    w = np.broadcast_to(np.asarray(w1, dtype=float), est.shape)
    if est.size == 0 or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("estimates must be non-empty and w1 positive and finite")
    return dict(measured=float(np.max(est / w)), reference=1.0, relation="<=", tolerance=1e-9,
                basis="float64 critic (Björck recomputed in float64) against POT's exact "
                      "simplex: rounding, 1e-9 relative")


def loglog_slope(n, values) -> tuple[float, float, int]:
    """Least-squares slope of ``log(values)`` on ``log(n)`` over all rows (replicates
    included); returns ``(slope, standard_error, degrees_of_freedom)``, the standard error
    from the residuals (``df = len - 2``). ``n`` and ``values`` are positive arrays ``(k,)``,
    ``k >= 3``, with at least two distinct ``n``."""
    n = np.asarray(n, dtype=float)
    values = np.asarray(values, dtype=float)
    if n.shape != values.shape or n.ndim != 1 or n.size < 3 \
            or not np.all(np.isfinite(n) & np.isfinite(values) & (n > 0) & (values > 0)):
        raise ValueError("n and values must be positive 1-D arrays of the same length >= 3")
    x, y = np.log(n), np.log(values)
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        raise ValueError("n must take at least two distinct values")
    slope = float(xc @ (y - y.mean()) / sxx)
    resid = y - y.mean() - slope * xc
    df = x.size - 2
    return slope, float(np.sqrt(resid @ resid / df / sxx)), df


def slope_check(n, values, reference: float, test: str = "equals", level: float = 0.99) -> dict:
    """A log-log slope claim with its regression error (:func:`loglog_slope`).

    ``test="equals"``: the slope agrees with ``reference`` within ``t · SE`` (``t`` the
    two-sided Student quantile at ``level`` with ``df`` degrees of freedom); ``"above"``
    / ``"below"``: the one-sided confidence bound ``slope -/+ t · SE`` (measured) lies strictly
    above / below ``reference``."""
    from scipy import stats

    if test not in ("equals", "above", "below"):
        raise ValueError(f"test must be 'equals', 'above' or 'below', got {test!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    slope, se, df = loglog_slope(n, values)
    where = f"OLS slope {slope:.3f}, SE {se:.3f} over {df + 2} points (replicates pooled)"
    if test == "equals":
        t = float(stats.t.ppf(0.5 + level / 2, df))
        return dict(measured=slope, reference=float(reference), relation="==",
                    tolerance=t * se,
                    basis=f"{where}; two-sided {level:.0%} Student t ({df} df): t·SE")
    t = float(stats.t.ppf(level, df))
    bound = slope - t * se if test == "above" else slope + t * se
    side = "lower" if test == "above" else "upper"
    return dict(measured=bound, reference=float(reference),
                relation=">" if test == "above" else "<", tolerance=0.0,
                basis=f"measured: the one-sided {level:.0%} {side} confidence bound of the "
                      f"slope, {where}, Student t ({df} df)")


def slope_difference_check(n_a, values_a, n_b, values_b, level: float = 0.99) -> dict:
    """The claim that the log-log slope of ``values_a`` on ``n_a`` lies strictly above that of
    ``values_b`` on ``n_b`` (two independent regressions, :func:`loglog_slope`): measured, the
    one-sided ``level`` lower confidence bound of the difference, ``(s_a - s_b) - t SE`` with
    :math:`SE=\\sqrt{SE_a^2+SE_b^2}` and Student ``t`` on ``df_a + df_b`` degrees of freedom;
    the claim holds when that bound is above 0."""
    from scipy import stats

    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    sa, ea, fa = loglog_slope(n_a, values_a)
    sb, eb, fb = loglog_slope(n_b, values_b)
    se = math.hypot(ea, eb)
    t = float(stats.t.ppf(level, fa + fb))
    return dict(measured=sa - sb - t * se, reference=0.0, relation=">", tolerance=0.0,
                basis=f"measured: one-sided {level:.0%} lower bound of the slope difference "
                      f"{sa:.3f} - ({sb:.3f}) = {sa - sb:.3f}, SE {se:.3f} (independent fits), "
                      f"Student t ({fa + fb} df)")


def optimisation_error_check(w1, estimates) -> dict:
    """The bound of the optimisation error over a finite generator family:
    :math:`W_1(\\hat\\theta)-\\min_\\theta W_1(\\theta)\\le\\hat T` with
    :math:`\\hat\\theta=\\arg\\min_\\theta\\hat d(\\theta)` and
    :math:`\\hat T=\\max_\\theta(W_1(\\theta)-\\hat d(\\theta))`.

    ``w1`` and ``estimates`` are arrays ``(k,)`` over the ``k`` generators of the family: the
    exact :func:`wasserstein1` to the target and a critic estimate of each. The bound holds
    whenever every estimate is at most its W1 (a 1-Lipschitz class: check that separately, as
    with :func:`ipm_below_w1_check`); it can fail for a class that exceeds W1. Tolerance:
    float64 rounding, 1e-9 of the largest W1."""
    w = np.asarray(w1, dtype=float)
    d = np.asarray(estimates, dtype=float)
    if w.ndim != 1 or w.shape != d.shape or w.size < 2:
        raise ValueError(f"w1 and estimates must be 1-D arrays of the same length >= 2, got "
                         f"shapes {w.shape} and {d.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(d))) or np.any(w < 0):
        raise ValueError("w1 must be finite and non-negative, and estimates finite")
    best = int(np.argmin(d))
    T = float(np.max(w - d))
    return dict(measured=float(w[best] - w.min()), reference=T, relation="<=",
                tolerance=1e-9 * float(w.max()),
                basis=f"generator {best} of {w.size} minimises the estimate; T = max(W1 - d) "
                      f"= {T:.4f} over the family (attained at generator "
                      f"{int(np.argmax(w - d))}); tolerance: float64 rounding")


def error_ratio_check(values, references, errors, relation: str = "==") -> dict:
    """Computed values against references, each within a rigorous error bound (such as the
    discretisation error ``K / (4 m)`` of :func:`semidiscrete_w1`), worst case over the rows.

    ``"=="``: ``max |v - r| / e <= 1``; ``"<="`` (``v <= r + e``): ``max (v - r) / e <= 1``;
    ``">="`` (``v >= r - e``): ``min (v - r) / e >= -1``. The tolerance, 1e-6 of the error
    bound, covers float64 rounding of the exact OT costs (about 1e-12 relative)."""
    v = np.asarray(values, dtype=float)
    r = np.broadcast_to(np.asarray(references, dtype=float), v.shape)
    e = np.broadcast_to(np.asarray(errors, dtype=float), v.shape)
    if v.size == 0 or np.any(e <= 0) or not np.all(np.isfinite(e)):
        raise ValueError("values must be non-empty and errors positive and finite")
    basis = "rigorous discretisation error bound e (K/(4m)); tolerance 1e-6·e: float64 rounding"
    if relation == "==":
        return dict(measured=float(np.max(np.abs(v - r) / e)), reference=1.0, relation="<=",
                    tolerance=1e-6, basis="max |value - reference| / e; " + basis)
    if relation == "<=":
        return dict(measured=float(np.max((v - r) / e)), reference=1.0, relation="<=",
                    tolerance=1e-6, basis="max (value - bound) / e; " + basis)
    if relation == ">=":
        return dict(measured=float(np.min((v - r) / e)), reference=-1.0, relation=">=",
                    tolerance=1e-6, basis="min (value - bound) / e; " + basis)
    raise ValueError(f"relation must be '==', '<=' or '>=', got {relation!r}")


def optimum_1d_check(value: float, error_bound: float, points, K: float) -> dict:
    """The claim that no ``K``-Lipschitz generator beats :math:`G^\\star` (Stéphanovitch et
    al.): ``value`` (a :func:`semidiscrete_w1` of a ``K``-Lipschitz generator, within
    ``error_bound`` of the exact value) is at least :func:`optimal_cost_1d` ``(points, K)``
    up to ``error_bound``."""
    error_bound = float(error_bound)
    if not np.isfinite(error_bound) or error_bound < 0:
        raise ValueError(f"error_bound must be finite and >= 0, got {error_bound}")
    return dict(measured=float(value), reference=optimal_cost_1d(points, K), relation=">=",
                tolerance=error_bound,
                basis="semi-discrete W1 within its rigorous discretisation error K/(4m)")


def bracket_check(values, lower, upper, side: str = "inside") -> dict:
    """The claim that each value lies in its proven bracket ``[lower, upper]``
    (``side="inside"``, e.g. a closed form against :func:`optimal_cost_1d_exact`), or that some
    value lies above its bracket (``"above"``: the value is not a lower bound of what the
    bracket encloses) or below it (``"below"``: not an upper bound). All broadcast to ``(k,)``.

    ``measured`` is the largest excursion: ``max(lower - v, v - upper)`` (``<= 0`` inside),
    ``max(v - upper)`` or ``max(lower - v)``; the tolerance ``1e-7 (1 + |v|)`` covers the LP
    solver's feasibility tolerance (HiGHS, 1e-7), which moves the computed bracket by that
    much."""
    v, lo, up = np.broadcast_arrays(*(np.asarray(a, dtype=float).ravel()
                                      for a in (values, lower, upper)))
    if v.size == 0 or not (np.all(np.isfinite(v)) and np.all(np.isfinite(lo))
                           and np.all(np.isfinite(up))):
        raise ValueError("values and brackets must be non-empty and finite")
    if np.any(lo > up + 1e-12):
        raise ValueError("every bracket must have lower <= upper")
    tol = float(1e-7 * (1 + np.max(np.abs(v))))
    basis = ("proven bracket of the exact optimum (LP over quantile functions, midpoint rule "
             "below, exact cost of the LP's generator above); tolerance: LP feasibility 1e-7")
    if side == "inside":
        return dict(measured=float(np.maximum(lo - v, v - up).max()), reference=0.0,
                    relation="<=", tolerance=tol,
                    basis="largest excursion outside the bracket; " + basis)
    if side in ("above", "below"):
        excursion = (v - up) if side == "above" else (lo - v)
        return dict(measured=float(excursion.max()), reference=0.0, relation=">",
                    tolerance=tol, basis=f"largest excursion {side} the bracket (must be "
                                         "positive); " + basis)
    raise ValueError(f"side must be 'inside', 'above' or 'below', got {side!r}")
