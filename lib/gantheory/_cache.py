"""Weights cache and training helpers shared by the modules that train small networks
(:mod:`gantheory.training` and the part modules that call it).

Trained weights live in the folder named by the environment variable ``GANTHEORY_CACHE``
(default ``~/.cache/gantheory``), one file per training run, under a name holding a hash of

- the source text of the training module (a code change retrains),
- the training arguments ``params`` (a new argument retrains),
- torch's ``major.minor`` version (a new torch retrains),
- any ``extra`` key the module adds (e.g. a digest of its data).

Files are written atomically and read with ``weights_only=True``; an unreadable or unfitting
file, one with NaN or infinite weights, or one whose metadata fail the caller's check is
ignored with a warning, and the caller retrains and overwrites it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

CACHE_ENV = "GANTHEORY_CACHE"


def cache_dir() -> Path:
    """Folder of cached weights: ``$GANTHEORY_CACHE`` or ``~/.cache/gantheory``."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "gantheory"


@lru_cache(maxsize=16)
def source_digest(source_file: str | os.PathLike) -> str:
    """SHA-256 (hex) of the bytes of ``source_file`` (read once per process)."""
    return hashlib.sha256(Path(source_file).read_bytes()).hexdigest()


def torch_version() -> str:
    """torch's ``major.minor`` version, e.g. ``"2.14"`` (local build tags dropped)."""
    return ".".join(torch.__version__.split("+")[0].split(".")[:2])


def weights_path(prefix: str, kind: str, params: dict, source_file: str | os.PathLike,
                 extra: dict | None = None, *, digest: str | None = None) -> Path:
    """Cache file ``<cache_dir>/<prefix>-<kind>-<hash16>.pt`` for one training run.

    The hash covers ``kind``, ``params`` (JSON-serializable), the SHA-256 of ``source_file``,
    torch's ``major.minor`` version and the entries of ``extra`` (a JSON-serializable dict whose
    keys are not ``kind``, ``params``, ``source`` or ``torch``; None adds nothing). ``digest``
    replaces the hash of ``source_file`` when the caller already has it (a module's own
    ``_source_digest``, which tests patch to simulate an edit of the source).
    """
    key = {"kind": kind, "params": params,
           "source": source_digest(source_file) if digest is None else digest,
           "torch": torch_version()}
    if extra:
        clash = sorted(set(extra) & set(key))
        if clash:
            raise ValueError(f"extra must not redefine the keys {clash}")
        key.update(extra)
    text = json.dumps(key, sort_keys=True)
    return cache_dir() / f"{prefix}-{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.pt"


def _non_finite(state: dict) -> list[str]:
    """Names of the floating-point tensors of ``state`` holding a NaN or an infinity."""
    return [name for name, t in state.items()
            if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all())]


def load(path: Path, model, keys: tuple[str, ...], validate=None) -> dict | None:
    """Load the weights cached at ``path`` into ``model``; return the payload.

    ``model`` is a module (``payload["state_dict"]`` its state) or a list of modules (an
    ensemble: ``payload["state_dict"]`` a list of states, one per module). Returns None when
    there is no such file, or (with a ``RuntimeWarning`` naming the reason) when it cannot be
    read, lacks ``"state_dict"`` or one of ``keys``, does not fit ``model``, holds a NaN or
    infinite weight, or fails ``validate(payload)`` (a callable raising on bad metadata, e.g. a
    history of the wrong shape or with non-finite losses): the caller then retrains and
    overwrites it. The warning points at the caller's caller.
    """
    if not path.is_file():
        return None
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict):
            raise TypeError(f"payload is a {type(payload).__name__}, not a dict")
        missing = [k for k in ("state_dict", *keys) if k not in payload]
        if missing:
            raise KeyError(f"missing {missing}")
        states = payload["state_dict"] if isinstance(model, (list, tuple)) \
            else [payload["state_dict"]]
        if not isinstance(states, list) or len(states) != len(models):
            raise ValueError(f"expected {len(models)} state dicts")
        for state in states:
            bad = _non_finite(state)
            if bad:
                raise ValueError(f"non-finite weights in {bad[:3]}")
        if validate is not None:
            validate(payload)
        for m, state in zip(models, states, strict=True):  # a failed load leaves m untouched
            copy.deepcopy(m).load_state_dict(state)
        for m, state in zip(models, states, strict=True):
            m.load_state_dict(state)
    except Exception as exc:  # any unusable file means "retrain"
        warnings.warn(f"ignoring unusable cached weights {path} ({exc!r}); retraining",
                      RuntimeWarning, stacklevel=3)
        return None
    return payload


def save(path: Path, payload: dict) -> None:
    """Write ``payload`` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


@contextmanager
def one_thread():
    """Run torch on one CPU thread, restoring the previous setting afterwards.

    These networks are too small to gain from more threads (about 5 ms a GAN step either way
    on an idle machine), while two OpenMP threads on a busy 2-core machine ran 20-30 times
    slower; a fixed thread count also makes the trained weights independent of torch's thread
    setting.
    """
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def inference_chunks(model: nn.Module, fn, n: int, batch_size: int) -> list:
    """``[fn(slice(i, i + batch_size)) for i in range(0, n, batch_size)]`` computed under
    ``torch.inference_mode`` with ``model`` in eval mode (its previous mode is restored): the
    batched evaluation of a small network on ``n`` rows."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return [fn(slice(i, i + batch_size)) for i in range(0, n, batch_size)]
    finally:
        model.train(was_training)
