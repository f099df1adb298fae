"""gantheory: the small, tested package behind *The Theory of GANs, Executed*.

One module per part of the book:

- :mod:`gantheory.config` -- run sizes (the ``GANTHEORY_QUICK`` switch), device, seeds.
- :mod:`gantheory.concentration` -- concentration of measure and Lipschitz calculus of networks.
- :mod:`gantheory.rmt`, :mod:`gantheory.digits`, :mod:`gantheory.gandata` -- Part II: Gram
  matrices of mixtures, the digits GAN, BigGAN and ImageNet features.
- :mod:`gantheory.partitions` -- Part III: simplicial clusters, precision bounds, toy GANs.
- :mod:`gantheory.wasserstein` -- Part IV: exact W1, 1-D latent generators, GroupSort critics.
- :mod:`gantheory.plotting` -- plotly figures that work in the static, offline site.
- :mod:`gantheory.claims` -- the claims ledger every chapter checks its numerical claims through.

Conventions: arrays of samples have shape ``(N, d)`` (samples are rows); every random draw takes
an explicit integer ``seed`` or a :class:`numpy.random.Generator`.
"""

from gantheory.config import ConvergenceError

__version__ = "0.1.0"
__all__ = ["ConvergenceError", "__version__"]
