"""Concentration of measure and the Lipschitz calculus of neural networks (Part I).

Conventions
-----------
- Samples are **rows**: an array of ``N`` points of :math:`\\mathbb{R}^d` has shape ``(N, d)``
  (the book's math writes samples as columns; the code transposes).
- "Observable" means a real function of a sample; the observables returned by
  :func:`lipschitz_observables` are 1-Lipschitz for the Euclidean norm.
- Networks are ``torch.nn`` modules acting on batches ``(N, *input_shape)``; Lipschitz constants
  are for the Euclidean norm on the flattened input and output.
- Every random draw takes an explicit integer ``seed``.

The two facts the chapter checks numerically are

- *Gaussian concentration* (Tsirelson-Ibragimov-Sudakov): for :math:`Z\\sim\\mathcal N(0,I_d)` and
  :math:`f` :math:`L`-Lipschitz,
  :math:`\\mathbb P(|f(Z)-\\mathbb E f(Z)|\\ge t)\\le 2e^{-t^2/(2L^2)}`;
- the *Gaussian Poincare inequality*: :math:`\\operatorname{Var} f(Z)\\le L^2`,

whatever the dimension ``d``; and, by composition, the same for ``f(F(Z))`` with ``L`` replaced by
``L * Lip(F)``, where :func:`lipschitz_upper_bound` bounds ``Lip(F)`` layer by layer.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse.linalg as spla
import torch
from torch import nn

from gantheory._checks import check_int as _check_int
from gantheory.config import ConvergenceError, torch_seeded

Observable = Callable[[np.ndarray], np.ndarray]

__all__ = [
    "Residual",
    "gaussian_samples",
    "student_t_samples",
    "elliptical_samples",
    "lipschitz_observables",
    "spread",
    "spread_with_error",
    "observable_spreads",
    "tail_probabilities",
    "gaussian_tail_bound",
    "operator_norm",
    "layer_lipschitz_constants",
    "lipschitz_upper_bound",
    "spectral_normalize",
    "jacobian_norms",
    "network_outputs",
    "random_mlp",
    "random_convnet",
    "spread_bound_check",
    "spread_law_check",
    "tail_bound_pvalue",
    "tail_bound_check",
    "spread_decrease_check",
    "spread_growth_check",
]


# --------------------------------------------------------------------------- validation


def _check_positive(value, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _as_values(values, name: str = "values") -> np.ndarray:
    """A finite 1-D float64 array of at least two observations."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per sample), got shape {arr.shape}")
    if arr.size < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def _as_samples(x, name: str = "x") -> np.ndarray:
    """A finite 2-D float64 array of shape (N, d)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d) (samples as rows), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def _check_input_shape(input_shape) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                        for s in shape):
        raise ValueError(f"input_shape must be a non-empty tuple of positive integers "
                         f"(without the batch dimension), got {input_shape!r}")
    return tuple(int(s) for s in shape)


# --------------------------------------------------------------------------- samples


def gaussian_samples(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` draws of :math:`\\mathcal N(0, I_d)`, shape ``(n, d)``, float64."""
    n, d = _check_int(n, "n", 1), _check_int(d, "d", 1)
    return np.random.default_rng(seed).standard_normal((n, d))


def elliptical_samples(n: int, d: int, df: float, seed: int) -> np.ndarray:
    r"""``n`` vectors :math:`\sqrt{w}\, g` with :math:`g \sim \mathcal N(0, I_d)` and one random
    radius per vector, :math:`w = (df - 2)/\chi^2_{df}` (so :math:`\mathbb E w = 1`), shape
    ``(n, d)``: multivariate Student-t scaled to identity covariance. Needs ``df > 2``. The
    entries are uncorrelated but dependent (they share the radius), and :math:`\|x\|/\sqrt d`
    does not concentrate: it stays spread like :math:`\sqrt w` whatever ``d``."""
    n, d = _check_int(n, "n", 1), _check_int(d, "d", 1)
    df = float(df)
    if not math.isfinite(df) or df <= 2:
        raise ValueError(f"df must be a finite number > 2 (finite variance), got {df}")
    rng = np.random.default_rng(seed)
    w = (df - 2.0) / rng.chisquare(df, size=n)
    return rng.standard_normal((n, d)) * np.sqrt(w)[:, None]


def student_t_samples(n: int, d: int, df: float, seed: int) -> np.ndarray:
    """``n`` vectors of ``d`` iid Student-t(``df``) entries scaled to unit variance, ``(n, d)``.

    The scaling divides by :math:`\\sqrt{df/(df-2)}`, so it needs ``df > 2``: the vector then
    has identity covariance, like :math:`\\mathcal N(0, I_d)`, but heavy tails.
    """
    n, d = _check_int(n, "n", 1), _check_int(d, "d", 1)
    df = float(df)
    if not math.isfinite(df) or df <= 2:
        raise ValueError(f"df must be a finite number > 2 (finite variance), got {df}")
    t = np.random.default_rng(seed).standard_t(df, size=(n, d))
    return t / math.sqrt(df / (df - 2.0))


# --------------------------------------------------------------------------- observables


def observable_vectors(dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The fixed random vectors of :func:`lipschitz_observables`: a unit ``u`` (the projection)
    and ``a`` with :math:`\\|a\\| = \\sqrt{dim}` (the point), both of shape ``(dim,)``."""
    dim = _check_int(dim, "dim", 1)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    a = rng.standard_normal(dim)
    a *= math.sqrt(dim) / np.linalg.norm(a)
    return u, a


def lipschitz_observables(dim: int, seed: int = 0) -> dict[str, Observable]:
    """Four 1-Lipschitz observables of vectors in :math:`\\mathbb R^{dim}`.

    Each maps an array ``(N, dim)`` to ``(N,)``:

    - ``"norm"``: :math:`x\\mapsto\\|x\\|`;
    - ``"projection"``: :math:`x\\mapsto\\langle u, x\\rangle` for a fixed random unit ``u``;
    - ``"max coordinate"``: :math:`x\\mapsto\\max_i x_i`;
    - ``"distance to a point"``: :math:`x\\mapsto\\|x-a\\|` for a fixed random ``a`` with
      :math:`\\|a\\| = \\sqrt{dim}`.

    All four are 1-Lipschitz by the triangle and Cauchy-Schwarz inequalities (for the maximum:
    :math:`|\\max_i x_i-\\max_i y_i|\\le\\max_i|x_i-y_i|\\le\\|x-y\\|`).
    """
    dim = _check_int(dim, "dim", 1)
    u, a = observable_vectors(dim, seed)

    def _checked(x) -> np.ndarray:
        x = _as_samples(x)
        if x.shape[1] != dim:
            raise ValueError(f"observable expects vectors of dimension {dim}, got {x.shape[1]}")
        return x

    return {
        "norm": lambda x: np.linalg.norm(_checked(x), axis=1),
        "projection": lambda x: _checked(x) @ u,
        "max coordinate": lambda x: _checked(x).max(axis=1),
        "distance to a point": lambda x: np.linalg.norm(_checked(x) - a, axis=1),
    }


def spread(values) -> float:
    """Sample standard deviation (``ddof=1``) of the observations ``values`` (shape ``(N,)``)."""
    return float(np.std(_as_values(values), ddof=1))


def spread_with_error(values) -> tuple[float, float]:
    """Sample standard deviation and its standard error (delta method).

    With :math:`s^2` the sample variance and :math:`\\mu_4` the fourth central moment,
    :math:`\\operatorname{Var}(s^2)\\approx(\\mu_4-s^4)/N`, hence
    :math:`\\operatorname{se}(s)\\approx\\sqrt{\\mu_4-s^4}/(2s\\sqrt N)`. For Gaussian values this
    is :math:`s/\\sqrt{2N}`. Returns ``(s, se)``; ``se`` is 0 for constant values.
    """
    v = _as_values(values)
    s = float(np.std(v, ddof=1))
    if s == 0.0:
        return 0.0, 0.0
    c = v - v.mean()
    mu4 = float(np.mean(c**4))
    return s, math.sqrt(max(mu4 - s**4, 0.0)) / (2.0 * s * math.sqrt(v.size))


def observable_spreads(samples, observables: dict[str, Observable]
                       ) -> dict[str, tuple[float, float]]:
    """``{name: (spread, standard error)}`` of each observable over ``samples`` ``(N, d)``."""
    x = _as_samples(samples)
    return {name: spread_with_error(f(x)) for name, f in observables.items()}


def tail_probabilities(values, t) -> np.ndarray:
    """Empirical :math:`\\mathbb P(|f - \\bar f|\\ge t)` for each threshold in ``t``.

    ``values`` holds the observations ``f(x_1..x_N)`` (shape ``(N,)``), centred at their mean
    :math:`\\bar f`; ``t`` is a 1-D array of non-negative thresholds. Returns shape ``t.shape``.
    """
    v = _as_values(values)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must be a 1-D array of finite non-negative thresholds")
    dev = np.sort(np.abs(v - v.mean()))
    return 1.0 - np.searchsorted(dev, t, side="left") / v.size


def gaussian_tail_bound(t, lipschitz: float = 1.0) -> np.ndarray:
    """Gaussian concentration bound :math:`\\min(1, 2e^{-t^2/(2L^2)})` for an ``L``-Lipschitz
    observable of :math:`\\mathcal N(0, I_d)`, at thresholds ``t`` (any shape)."""
    lip = _check_positive(lipschitz, "lipschitz")
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must hold finite non-negative thresholds")
    return np.minimum(1.0, 2.0 * np.exp(-(t**2) / (2.0 * lip**2)))


# --------------------------------------------------------------------------- networks


class Residual(nn.Module):
    """Residual block :math:`x\\mapsto x + B(x)`; ``Lip <= 1 + Lip(B)``.

    ``branch`` must map its input to an output of the same shape.
    """

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x + self.branch(x)


def random_mlp(d_in: int, width: int, depth: int, *, seed: int = 0) -> nn.Sequential:
    """Random ReLU MLP ``d_in -> width -> ... -> width`` with ``depth`` linear layers.

    PyTorch's default initialization, seeded; float32; in eval mode. Output dimension ``width``.
    """
    d_in = _check_int(d_in, "d_in", 1)
    width = _check_int(width, "width", 1)
    depth = _check_int(depth, "depth", 1)
    with torch_seeded(seed):
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Linear(d_in if i == 0 else width, width))
            if i < depth - 1:
                layers.append(nn.ReLU())
        net = nn.Sequential(*layers)
    return net.eval()


def random_convnet(channels: int, *, in_channels: int = 1, seed: int = 0) -> nn.Sequential:
    """Small random conv net: conv3x3-ReLU-maxpool2-conv3x3-ReLU-avgpool2-flatten.

    On an input ``(in_channels, H, W)`` with ``H, W`` divisible by 4 the output has
    ``channels * H/4 * W/4`` entries. Seeded PyTorch default initialization; eval mode.
    """
    channels = _check_int(channels, "channels", 1)
    in_channels = _check_int(in_channels, "in_channels", 1)
    with torch_seeded(seed):
        net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
        )
    return net.eval()


def network_outputs(net: nn.Module, inputs, *, batch_size: int = 1024) -> np.ndarray:
    """Apply ``net`` to ``inputs`` (array ``(N, *input_shape)``) in batches; float64 ``(N, p)``.

    Runs under ``torch.inference_mode`` in the network's dtype; outputs are flattened.
    """
    batch_size = _check_int(batch_size, "batch_size", 1)
    x = np.asarray(inputs)
    if x.ndim < 2:
        raise ValueError(f"inputs must have shape (N, *input_shape), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("inputs contain NaN or infinite entries")
    param = next(net.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    chunks = []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            xb = torch.as_tensor(x[start:start + batch_size], dtype=dtype)
            chunks.append(net(xb).reshape(xb.shape[0], -1).double().numpy())
    out = np.concatenate(chunks)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("network produced NaN or infinite outputs")
    return out


# --------------------------------------------------------------------------- Lipschitz calculus

_LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOL_LINEAR_TYPES = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
                      nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
_ONE_LIPSCHITZ = (nn.ReLU, nn.Identity, nn.Flatten, nn.Unflatten, nn.Tanh, nn.Softplus,
                  nn.Hardtanh, nn.ReLU6)
_DENSE_LIMIT = 4_000_000  # build the dense matrix of an operator below this many entries


def _linear_part(layer: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The linear map of a layer, bias removed (float64)."""
    if isinstance(layer, nn.Linear):
        w = layer.weight.detach().double()
        return lambda x: x @ w.T
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        conv = copy.deepcopy(layer).double()
        w = conv.weight.detach()
        return lambda x: conv._conv_forward(x, w, None)
    if isinstance(layer, _POOL_LINEAR_TYPES):
        return layer
    raise TypeError(f"{type(layer).__name__} has no linear part")


def operator_norm(layer: nn.Module, input_shape: Sequence[int], *, tol: float = 1e-8,
                  seed: int = 0) -> float:
    """Operator (spectral) norm of the linear part of ``layer`` acting on ``input_shape``.

    ``layer`` is ``nn.Linear``, ``nn.Conv{1,2,3}d`` (any stride, padding, dilation, groups) or
    an average pool; the bias is ignored. ``input_shape`` excludes the batch dimension. Small
    operators are formed densely and the norm is exact (LAPACK SVD); larger ones use ARPACK's
    Lanczos method (``scipy.sparse.linalg.svds``) on the operator and its adjoint (computed by
    autograd), with relative tolerance ``tol`` and a seeded start vector, falling back to power
    iteration when ARPACK cannot proceed (a degenerate top singular value). Average pooling acts
    on each channel alike, so its norm is computed on one channel. Raises
    :class:`~gantheory.ConvergenceError` when no method reaches ``tol``.
    """
    shape = _check_input_shape(input_shape)
    tol = _check_positive(tol, "tol")
    if isinstance(layer, _POOL_LINEAR_TYPES) and len(shape) >= 2:
        shape = (1, *shape[1:])
    if isinstance(layer, nn.Linear):
        w = layer.weight.detach().double()
        if shape[-1] != w.shape[1]:
            raise ValueError(f"Linear layer expects {w.shape[1]} input features, "
                             f"input_shape is {shape}")
        if min(w.shape) <= 512:
            return float(torch.linalg.matrix_norm(w, ord=2))
    fwd = _linear_part(layer)
    n_in = math.prod(shape)
    with torch.no_grad():
        out_shape = tuple(fwd(torch.zeros((1, *shape), dtype=torch.float64)).shape[1:])
    n_out = math.prod(out_shape)

    if (n_in * n_out <= _DENSE_LIMIT or min(n_in, n_out) <= 2) and n_in <= 8192:
        with torch.no_grad():
            eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *shape)
            dense = fwd(eye).reshape(n_in, n_out).numpy()  # rows: images of basis vectors
        return float(np.linalg.norm(dense, ord=2))

    def matvec(v: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(1, *shape))
        with torch.no_grad():
            return fwd(x).reshape(-1).numpy()

    def rmatvec(u: np.ndarray) -> np.ndarray:
        x = torch.zeros((1, *shape), dtype=torch.float64, requires_grad=True)
        y = fwd(x)
        g = torch.as_tensor(np.asarray(u, dtype=np.float64).reshape(y.shape))
        (grad,) = torch.autograd.grad(y, x, grad_outputs=g)
        return grad.reshape(-1).numpy()

    op = spla.LinearOperator((n_out, n_in), matvec=matvec, rmatvec=rmatvec, dtype=np.float64)
    rng = np.random.default_rng(seed)
    try:
        sigma = spla.svds(op, k=1, tol=tol, v0=rng.standard_normal(min(n_in, n_out)),
                          return_singular_vectors=False, maxiter=20 * min(n_in, n_out))
        return float(sigma[0])
    except (spla.ArpackError, spla.ArpackNoConvergence):
        return _power_iteration_norm(matvec, rmatvec, n_in, tol=tol, rng=rng)


def _power_iteration_norm(matvec, rmatvec, n_in: int, *, tol: float,
                          rng: np.random.Generator, max_iter: int = 5000) -> float:
    """Top singular value by power iteration on A^T A; stops when the estimate is stable."""
    v = rng.standard_normal(n_in)
    v /= np.linalg.norm(v)
    sigma = 0.0
    for _ in range(max_iter):
        w = rmatvec(matvec(v))
        norm_w = float(np.linalg.norm(w))
        if norm_w == 0.0:
            return 0.0
        new = math.sqrt(norm_w)
        v = w / norm_w
        if abs(new - sigma) <= tol * new:
            return new
        sigma = new
    raise ConvergenceError(f"power iteration did not reach relative tolerance {tol} "
                           f"in {max_iter} iterations (last estimate {sigma:.6g})")


def _pool_overlap(layer: nn.Module) -> int:
    """Largest number of max-pool windows that contain one input entry."""
    def tup(v, n):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
    nd = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(layer)]
    k = tup(layer.kernel_size, nd)
    s = tup(layer.stride if layer.stride is not None else layer.kernel_size, nd)
    d = tup(layer.dilation, nd)
    if any(di != 1 for di in d):
        raise ValueError("max pooling with dilation != 1 is not supported")
    return math.prod(math.ceil(ki / si) for ki, si in zip(k, s, strict=True))


def _layer_constant(layer: nn.Module, shape: tuple[int, ...]) -> tuple[str, float]:
    """(rule, Lipschitz constant) of one non-container layer on inputs of ``shape``."""
    if isinstance(layer, _LINEAR_TYPES):
        return "operator norm of W", operator_norm(layer, shape)
    if isinstance(layer, _POOL_LINEAR_TYPES):
        return "operator norm (linear pooling)", operator_norm(layer, shape)
    if isinstance(layer, _ONE_LIPSCHITZ):
        return "1-Lipschitz", 1.0
    if isinstance(layer, nn.LeakyReLU):
        return "max(1, |slope|)", max(1.0, abs(layer.negative_slope))
    if isinstance(layer, nn.ELU):
        return "max(1, alpha)", max(1.0, float(layer.alpha))
    if isinstance(layer, nn.Sigmoid):
        return "sup of sigmoid' = 1/4", 0.25
    if isinstance(layer, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        overlap = _pool_overlap(layer)
        return f"sqrt(windows per entry = {overlap})", math.sqrt(overlap)
    if isinstance(layer, (nn.Dropout, nn.Dropout1d, nn.Dropout2d)):
        if layer.training:
            raise ValueError("dropout in training mode is random; call net.eval() first")
        return "identity in eval mode", 1.0
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        if layer.training or layer.running_var is None:
            raise ValueError("batch norm in training mode couples the samples of a batch and "
                             "has no per-sample Lipschitz constant; call net.eval() first")
        gamma = (layer.weight.detach().abs() if layer.affine
                 else torch.ones_like(layer.running_var))
        scale = gamma / torch.sqrt(layer.running_var + layer.eps)
        return "max |gamma| / sqrt(var + eps)", float(scale.max())
    raise TypeError(
        f"no Lipschitz rule for {type(layer).__name__}; supported: Sequential, Residual, "
        "Linear, Conv1d/2d/3d, average and max pooling, batch norm (eval), dropout (eval), "
        "ReLU, LeakyReLU, ELU, Tanh, Sigmoid, Softplus, Identity, Flatten")


def _walk(module: nn.Module, shape: tuple[int, ...], prefix: str,
          rows: list[tuple[str, str, float]], normalize_to: float | None) -> tuple[int, ...]:
    """Append (name, rule, constant) rows for ``module``; return its output shape."""
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            shape = _walk(child, shape, f"{prefix}.{name}" if prefix else name, rows, normalize_to)
        return shape
    if isinstance(module, Residual):
        inner: list[tuple[str, str, float]] = []
        out = _walk(module.branch, shape, f"{prefix}.branch", inner, normalize_to)
        if out != shape:
            raise ValueError(f"residual branch {prefix} changes the shape {shape} -> {out}")
        lip_branch = math.prod(r[2] for r in inner)
        rows.append((prefix, "residual: 1 + Lip(branch)", 1.0 + lip_branch))
        return shape
    if normalize_to is not None and isinstance(module, _LINEAR_TYPES):
        sigma = operator_norm(module, shape)
        if sigma > 0:
            with torch.no_grad():
                module.weight.mul_(normalize_to / sigma)
        rule, const = "spectrally normalized", normalize_to
    else:
        rule, const = _layer_constant(module, shape)
    rows.append((prefix or type(module).__name__, rule, const))
    with torch.no_grad():
        param = next(module.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        out = module(torch.zeros((1, *shape), dtype=dtype))
    return tuple(out.shape[1:])


def layer_lipschitz_constants(net: nn.Module, input_shape: Sequence[int]
                              ) -> list[tuple[str, str, float]]:
    """Per-layer Lipschitz constants of a sequential network, as ``(name, rule, constant)``.

    ``net`` is an ``nn.Sequential`` (nested ones and :class:`Residual` blocks allowed) whose
    layers have a rule (see :func:`lipschitz_upper_bound`); ``input_shape`` excludes the batch
    dimension. A residual block gives one row, ``1 + prod(branch constants)``.
    """
    rows: list[tuple[str, str, float]] = []
    _walk(net, _check_input_shape(input_shape), "", rows, None)
    return rows


def lipschitz_upper_bound(net: nn.Module, input_shape: Sequence[int]) -> float:
    """Upper bound on :math:`\\operatorname{Lip}(net)`: the product of per-layer constants.

    Rules (Euclidean norms): linear and convolution layers, their operator norm (see
    :func:`operator_norm`); ReLU, Tanh, Softplus, identity, flatten, dropout (eval), 1; LeakyReLU
    ``max(1, |slope|)``; Sigmoid 1/4; max pooling ``sqrt`` of the largest number of windows an
    entry belongs to (1 without overlap); average pooling, its operator norm; batch norm in eval
    mode ``max |gamma| / sqrt(running_var + eps)``; residual block ``1 + Lip(branch)``.
    Unknown layers raise ``TypeError``; batch norm or dropout in training mode raise
    ``ValueError``.
    """
    return math.prod(row[2] for row in layer_lipschitz_constants(net, input_shape))


def spectral_normalize(net: nn.Module, input_shape: Sequence[int], target: float = 1.0
                       ) -> nn.Module:
    """A copy of ``net`` whose linear and convolution layers have operator norm ``target``.

    Unlike ``torch.nn.utils.spectral_norm`` (one power-iteration step per forward pass, and the
    norm of the reshaped kernel rather than of the convolution), the operator norm of each layer
    is computed on the actual input shape it sees (:func:`operator_norm`). ``net`` is unchanged.
    """
    target = _check_positive(target, "target")
    out = copy.deepcopy(net)
    _walk(out, _check_input_shape(input_shape), "", [], target)
    return out


def jacobian_norms(net: nn.Module, inputs, *, n_iter: int = 60, seed: int = 0) -> np.ndarray:
    """Spectral norm of the Jacobian of ``net`` at each input, by batched power iteration.

    ``inputs`` has shape ``(N, *input_shape)``; returns shape ``(N,)``. The network must act
    on each sample separately (eval mode). Every iterate is a *lower* bound
    :math:`\\|J v\\|\\le\\|J\\|` with :math:`\\|v\\|=1`, so ``max(jacobian_norms(...))`` is a lower
    bound on :math:`\\operatorname{Lip}(net)` (where the network is differentiable).
    """
    n_iter = _check_int(n_iter, "n_iter", 1)
    x = np.asarray(inputs)
    if x.ndim < 2 or not np.all(np.isfinite(x)):
        raise ValueError("inputs must be a finite array of shape (N, *input_shape)")
    net = copy.deepcopy(net).double().eval()
    xt = torch.as_tensor(x, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(xt.shape, generator=gen, dtype=torch.float64)
    dims = tuple(range(1, xt.ndim))

    def unit(t: torch.Tensor) -> torch.Tensor:
        norms = t.flatten(1).norm(dim=1).clamp_min(1e-300)
        return t / norms.reshape(-1, *([1] * (t.ndim - 1)))

    _, vjp_fn = torch.func.vjp(net, xt)
    sigma = torch.zeros(xt.shape[0], dtype=torch.float64)
    v = unit(v)
    with warnings.catch_warnings():
        # the first forward-mode call imports torch's jvp decompositions, which use the
        # deprecated torch.jit.script internally (a FutureWarning about torch, not about us)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                category=FutureWarning)
        torch.func.jvp(net, (xt[:1],), (v[:1],))
    for _ in range(n_iter):
        jv = torch.func.jvp(net, (xt,), (v,))[1]
        sigma = torch.maximum(sigma, jv.flatten(1).norm(dim=1))
        (w,) = vjp_fn(jv)
        if torch.all(w.abs().amax(dim=dims) == 0):
            break
        v = unit(w)
    return sigma.detach().numpy()


# --------------------------------------------------------------------------- checks (claims)


def _paired(spreads, stderrs, name_ref, ref) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.atleast_1d(np.asarray(spreads, dtype=np.float64))
    se = np.atleast_1d(np.asarray(stderrs, dtype=np.float64))
    r = np.broadcast_to(np.asarray(ref, dtype=np.float64), s.shape)
    if s.ndim != 1 or s.size == 0 or se.shape != s.shape:
        raise ValueError("spreads and stderrs must be 1-D arrays of the same non-zero length")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(se)) and np.all(np.isfinite(r))):
        raise ValueError(f"spreads, stderrs and {name_ref} must be finite")
    if np.any(se <= 0):
        raise ValueError("stderrs must be positive (a constant observable has no error bar)")
    return s, se, r


def _check_z(z) -> float:
    z = float(z)
    if not math.isfinite(z) or z <= 0:
        raise ValueError(f"z must be a positive number of standard errors, got {z}")
    return z


def spread_bound_check(spreads, stderrs, bounds=1.0, *, z: float = 4.0) -> dict:
    """Claim numbers for "every spread is at most its Lipschitz bound", up to Monte Carlo error.

    ``spreads`` ``(m,)`` are standard deviations of observables, ``stderrs`` ``(m,)`` their
    standard errors (:func:`spread_with_error`), ``bounds`` the bound each must obey (a scalar
    or ``(m,)``: ``L`` for an ``L``-Lipschitz observable of :math:`\\mathcal N(0, I)`, by the
    Poincare inequality). The measured value is the largest standardized excess
    :math:`\\max_j (s_j - L_j)/\\mathrm{se}_j`; the claim is that it is at most ``z`` (a
    one-sided test at ``z`` standard errors per spread). An observable that attains the bound
    (a projection, of variance exactly 1) sits at 0 on this scale, so the check is tight.
    Returns the keywords ``measured, reference, relation, tolerance, basis`` of
    :func:`gantheory.claims.claim`.
    """
    s, se, r = _paired(spreads, stderrs, "bounds", bounds)
    z = _check_z(z)
    one_sided = 0.5 * math.erfc(z / math.sqrt(2))
    return dict(measured=float(np.max((s - r) / se)), reference=0.0, relation="<=",
                tolerance=z,
                basis=f"{z:g} standard errors of each of the {s.size} spreads: one-sided false "
                      f"alarm {one_sided:.1g} each for an approximately normal sample standard "
                      f"deviation, at most {s.size * one_sided:.1g} for the family (Bonferroni, "
                      "valid although spreads of one sample are correlated)")


def spread_law_check(spreads, stderrs, exact, *, z: float = 4.0) -> dict:
    """Claim numbers for "the spreads equal their exact values" (e.g. the standard deviation of
    a :math:`\\chi_d` law), within ``z`` standard errors: measured
    :math:`\\max_j |s_j - \\sigma_j|/\\mathrm{se}_j`, reference 0, tolerance ``z``. Arguments
    as in :func:`spread_bound_check`, ``exact`` a scalar or ``(m,)``."""
    s, se, r = _paired(spreads, stderrs, "exact", exact)
    z = _check_z(z)
    two_sided = math.erfc(z / math.sqrt(2))
    return dict(measured=float(np.max(np.abs(s - r) / se)), reference=0.0, relation="<=",
                tolerance=z,
                basis=f"{z:g} standard errors of each of the {s.size} spreads: two-sided false "
                      f"alarm {two_sided:.1g} each, at most {s.size * two_sided:.1g} for the "
                      "family (Bonferroni union bound)")


def tail_bound_pvalue(values, t, *, lipschitz: float = 1.0) -> tuple[float, int]:
    """Smallest exact binomial p-value of the empirical tails against the Gaussian bound.

    ``values`` is one array ``(N,)`` of observations ``f(x_1..x_N)`` or a sequence of them
    (several observables); ``t`` ``(g,)`` the thresholds. For each observable and threshold,
    the number ``k`` of samples with :math:`|f-\\bar f|\\ge t` is, if the bound
    :math:`b(t)=\\min(1, 2e^{-t^2/(2L^2)})` holds, stochastically at most Binomial(``N``,
    ``b(t)``); its p-value is :math:`\\mathbb P(\\mathrm{Bin}(N, b)\\ge k)`. Returns the smallest
    p-value and the number of (observable, threshold) pairs tested (thresholds where the bound
    is 1 cannot be exceeded and are not counted). Centring at the sample mean instead of
    :math:`\\mathbb E f` shifts ``t`` by :math:`O(L/\\sqrt N)`.
    """
    import scipy.stats as st

    groups = [values] if np.ndim(values) == 1 else list(values)
    if not groups:
        raise ValueError("values must hold at least one array of observations")
    t = np.asarray(t, dtype=np.float64)
    bound = gaussian_tail_bound(t, lipschitz)
    live = bound < 1.0
    if not np.any(live):
        raise ValueError("the bound is 1 at every threshold: take larger thresholds")
    p_min, count = 1.0, 0
    for v in groups:
        v = _as_values(v)
        k = np.round(tail_probabilities(v, t[live]) * v.size)
        p = st.binom.sf(k - 1, v.size, bound[live])
        p_min = min(p_min, float(p.min()))
        count += int(live.sum())
    return p_min, count


def tail_bound_check(values, t, *, lipschitz: float = 1.0, level: float = 0.01,
                     expect: str = "holds") -> dict:
    """Claim numbers for the Gaussian concentration bound on empirical tails.

    ``expect="holds"`` (Gaussian data): the smallest binomial p-value of
    :func:`tail_bound_pvalue` is at least ``level`` divided by the number of tests (Bonferroni,
    so the claim holds with probability at least ``1 - level`` when the bound does).
    ``expect="violated"`` (a counter-example): the smallest p-value is at most that threshold,
    i.e. the tails exceed the bound significantly. Returns the keywords of
    :func:`gantheory.claims.claim`.
    """
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if expect not in ("holds", "violated"):
        raise ValueError(f"expect must be 'holds' or 'violated', got {expect!r}")
    p_min, count = tail_bound_pvalue(values, t, lipschitz=lipschitz)
    basis = (f"exact binomial tail test of the counts above each threshold, Bonferroni over "
             f"{count} (observable, threshold) pairs at level {level:g}")
    return dict(measured=p_min, reference=level / count,
                relation=">=" if expect == "holds" else "<=", tolerance=0.0, basis=basis)


def spread_decrease_check(first, first_se, last, last_se, *, z: float = 4.0) -> dict:
    """Claim numbers for "the spread decreased from ``first`` to ``last``" (two independent
    estimates with standard errors): measured :math:`(s_1 - s_2)/\\sqrt{se_1^2 + se_2^2}`, at
    least ``z`` (a one-sided test at ``z`` standard errors). Returns the keywords of
    :func:`gantheory.claims.claim`."""
    s, se, _ = _paired([first, last], [first_se, last_se], "spreads", 0.0)
    z = _check_z(z)
    one_sided = 0.5 * math.erfc(z / math.sqrt(2))
    return dict(measured=float((s[0] - s[1]) / math.hypot(se[0], se[1])), reference=z,
                relation=">=", tolerance=0.0,
                basis=f"one-sided test at {z:g} standard errors of the difference of two "
                      f"independent spreads (level {one_sided:.1g} for approximately normal "
                      "estimates)")


def spread_growth_check(values_first, values_last, *, batches: int = 10,
                        level: float = 0.01) -> dict:
    """Claim numbers for "the spread of an observable grows from the first to the last
    dimension", valid for heavy-tailed values.

    ``values_first`` and ``values_last`` ``(N,)`` are independent observations of the
    observable at two dimensions. Each is split into ``batches`` consecutive batches; the
    log-ratios :math:`\\log(s_{last,b}/s_{first,b})` of the batch standard deviations are
    independent with finite variance (a sample standard deviation has finite variance as soon
    as the values have a finite second moment, even when the fourth moment, which the delta
    method of :func:`spread_with_error` needs, is infinite). The measured value is their
    one-sample t statistic; the claim is that it is at least Student's one-sided critical value
    at ``level`` with ``batches - 1`` degrees of freedom. Returns the keywords of
    :func:`gantheory.claims.claim`.
    """
    import scipy.stats as st

    a, b = _as_values(values_first, "values_first"), _as_values(values_last, "values_last")
    batches = _check_int(batches, "batches", 2)
    if min(a.size, b.size) < 2 * batches:
        raise ValueError(f"need at least {2 * batches} values per dimension for {batches} "
                         "batches")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    sa = np.array([np.std(c, ddof=1) for c in np.array_split(a, batches)])
    sb = np.array([np.std(c, ddof=1) for c in np.array_split(b, batches)])
    if np.any(sa <= 0) or np.any(sb <= 0):
        raise ValueError("a batch of values is constant")
    logs = np.log(sb / sa)
    sd = float(np.std(logs, ddof=1))
    if sd == 0:
        raise ValueError("the batch log-ratios do not vary")
    crit = float(st.t.ppf(1 - level, batches - 1))
    return dict(measured=float(logs.mean() / (sd / math.sqrt(batches))), reference=crit,
                relation=">=", tolerance=0.0,
                basis=f"one-sided t test at level {level:g} on the log-ratios of the spreads "
                      f"over {batches} batches ({batches - 1} degrees of freedom)")
