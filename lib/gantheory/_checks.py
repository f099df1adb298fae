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
