"""gantheory: the small, tested package behind *The Theory of GANs, Executed*.

One module per part of the book:

- :mod:`gantheory.config` -- run sizes (the ``GANTHEORY_QUICK`` switch), device, seeds.
- :mod:`gantheory.concentration` -- concentration of measure and Lipschitz calculus of networks.
- :mod:`gantheory.wasserstein` -- Part IV: exact W1, 1-D latent generators, GroupSort critics.
- :mod:`gantheory.plotting` -- plotly figures that work in the static, offline site.

Conventions: arrays of samples have shape ``(N, d)`` (samples are rows); every random draw takes
an explicit integer ``seed`` or a :class:`numpy.random.Generator`.
"""

from gantheory.config import ConvergenceError

__version__ = "0.1.0"
__all__ = ["ConvergenceError", "__version__"]
