"""Input validation shared by the modules of :mod:`gantheory`."""

from __future__ import annotations

import numpy as np


def check_int(value, name: str, minimum: int) -> int:
    """``value`` as an ``int`` >= ``minimum``; ``TypeError`` for non-integers (bools included),
    ``ValueError`` below the minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive(value, name: str) -> float:
    """``value`` as a positive finite ``float``; ``TypeError`` for anything but a real number
    (bools, strings and arrays included), ``ValueError`` for zero, negatives, NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def as_samples(x, name: str, shape: str = "(n, p)") -> np.ndarray:
    """``x`` as a finite float64 array with samples as rows, shape ``(N, dim)``, both >= 1;
    ``shape`` names the expected shape in the error message."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{name} must have shape {shape} with samples as rows, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def as_labels(labels, n: int, hint: str = "") -> np.ndarray:
    """``labels`` as an integer array of shape ``(n,)``; ``hint`` is appended to the shape
    error message."""
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ValueError(f"labels must have shape ({n},){hint}, got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    return lab
