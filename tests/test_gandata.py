"""Tests of gantheory.gandata (streaming moments)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from gantheory.gandata import RunningMoments


@settings(max_examples=30, deadline=None)
@given(sizes=hst.lists(hst.integers(0, 40), min_size=1, max_size=6), dim=hst.integers(1, 6),
       seed=hst.integers(0, 10_000), offset=hst.sampled_from([0.0, 1e4]))
def test_equals_numpy_whatever_the_batches(sizes, dim, seed, offset):
    rng = np.random.default_rng(seed)
    batches = [offset + rng.standard_normal((s, dim)) for s in sizes]
    data = np.concatenate(batches)
    rm = RunningMoments(dim)
    for b in batches:
        rm.update(b)
    assert rm.count == data.shape[0]
    if data.shape[0] >= 1:
        np.testing.assert_allclose(rm.mean, data.mean(axis=0), rtol=1e-12, atol=1e-9)
    if data.shape[0] >= 2:
        expected = np.cov(data, rowvar=False).reshape(dim, dim)
        np.testing.assert_allclose(rm.covariance, expected, rtol=1e-9, atol=1e-8)


def test_merge_equals_single_stream_and_accepts_tensors():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((70, 3)) + 2.0
    left = RunningMoments(3).update(torch.as_tensor(a, dtype=torch.float32))
    right = RunningMoments(3).update(b)
    whole = RunningMoments(3).update(np.concatenate([a.astype(np.float32), b]))
    left.merge(right)
    np.testing.assert_allclose(left.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(left.covariance, whole.covariance, rtol=1e-10)
    empty = RunningMoments(3)
    empty.merge(left)
    np.testing.assert_allclose(empty.covariance, whole.covariance, rtol=1e-12)
    left.merge(RunningMoments(3))  # merging nothing changes nothing
    assert left.count == 120


def test_validation():
    with pytest.raises(ValueError):
        RunningMoments(0)
    rm = RunningMoments(2)
    with pytest.raises(ValueError, match="no data"):
        _ = rm.mean
    with pytest.raises(ValueError, match="shape"):
        rm.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        rm.update(np.array([[np.nan, 0.0]]))
    rm.update(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        _ = rm.covariance
    with pytest.raises(ValueError, match="same dimension"):
        rm.merge(RunningMoments(3))
