"""GAN data at scale (Part II): streaming statistics of generated features.

This module grows with the BigGAN chapter. It holds what does not depend on the pretrained
model packages: :class:`RunningMoments`, the streaming mean and covariance used to estimate the
moments of a feature distribution from many more draws than fit in memory at once.

Conventions: samples are rows, a batch has shape ``(B, dim)``; statistics are accumulated in
float64 on the device of the first batch (a GPU keeps them there: no host transfer per batch).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["RunningMoments"]


class RunningMoments:
    """Streaming mean and covariance of vectors of dimension ``dim``, in float64.

    ``update(batch)`` adds a batch ``(B, dim)`` (NumPy array or tensor); ``mean`` ``(dim,)``,
    ``covariance`` ``(dim, dim)`` (unbiased, ``ddof=1``) and ``count`` describe everything seen
    so far; ``merge(other)`` adds the statistics of another accumulator (for instance one per
    worker or per GPU). Batches are combined with the pairwise formulas of Chan, Golub and
    LeVeque (1979): the result equals, up to rounding, ``np.mean`` and ``np.cov`` of the
    concatenated data, whatever the batch sizes, and is stable when the mean is large compared
    with the spread (no sum-of-squares cancellation).
    """

    def __init__(self, dim: int) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.count = 0
        self._mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None  # sum of outer products of deviations

    def _as_batch(self, batch) -> torch.Tensor:
        x = batch if isinstance(batch, torch.Tensor) else torch.as_tensor(np.asarray(batch))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"batch must have shape (B, {self.dim}), got {tuple(x.shape)}")
        x = x.detach().to(torch.float64)
        if self._mean is not None:
            x = x.to(self._mean.device)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("batch contains NaN or infinite entries")
        return x

    def _combine(self, count: int, mean: torch.Tensor, m2: torch.Tensor) -> None:
        if count == 0:
            return
        if self.count == 0:
            self.count, self._mean, self._m2 = count, mean.clone(), m2.clone()
            return
        total = self.count + count
        delta = mean - self._mean
        self._mean = self._mean + delta * (count / total)
        self._m2 = self._m2 + m2 + torch.outer(delta, delta) * (self.count * count / total)
        self.count = total

    def update(self, batch) -> RunningMoments:
        """Add a batch ``(B, dim)``; returns ``self``."""
        x = self._as_batch(batch)
        if x.shape[0] == 0:
            return self
        mean = x.mean(dim=0)
        centred = x - mean
        self._combine(x.shape[0], mean, centred.T @ centred)
        return self

    def merge(self, other: RunningMoments) -> RunningMoments:
        """Add the statistics of ``other`` (same ``dim``); returns ``self``."""
        if not isinstance(other, RunningMoments) or other.dim != self.dim:
            raise ValueError("can only merge RunningMoments of the same dimension")
        if other.count:
            device = self._mean.device if self._mean is not None else other._mean.device
            self._combine(other.count, other._mean.to(device), other._m2.to(device))
        return self

    @property
    def mean(self) -> np.ndarray:
        """Mean ``(dim,)`` of everything seen (needs at least one vector)."""
        if self.count == 0:
            raise ValueError("no data yet: call update() first")
        return self._mean.cpu().numpy()

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased covariance ``(dim, dim)`` (needs at least two vectors)."""
        if self.count < 2:
            raise ValueError(f"the covariance needs at least 2 vectors, got {self.count}")
        cov = self._m2 / (self.count - 1)
        return ((cov + cov.T) / 2).cpu().numpy()
