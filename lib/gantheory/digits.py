"""GAN data offline: a conditional GAN and a CNN classifier on scikit-learn's 8x8 digits (Part II).

scikit-learn ships the UCI handwritten digits (1797 grey-level images of 8x8 pixels, 10
classes) inside the package, so everything here runs without a network: a small
class-conditional GAN produces *GAN data*, a small CNN trained on the real digits gives a
*representation network* (its penultimate layer), and the real digits are the data to compare
against.

Conventions
-----------
- Images are float32 arrays of shape ``(N, 1, 8, 8)`` with values in ``[0, 1]`` (the raw pixel
  intensities 0..16 divided by 16); labels are int64 arrays of shape ``(N,)`` with values in
  ``0..9``. Samples are **rows** (the first axis).
- Features (:func:`embed`) are float64 arrays of shape ``(N, 256)``: the CNN's penultimate
  activations, after the ReLU.
- Every random draw takes an explicit integer ``seed``; training is deterministic on a given
  machine (same seed and arguments give identical weights). The global RNGs of Python, NumPy and
  torch are left as they were.
- Trained weights are cached in the folder named by the environment variable
  ``GANTHEORY_CACHE`` (default ``~/.cache/gantheory``), under a file name holding a hash of this
  module's source text, the training arguments, the data and torch's ``major.minor`` version:
  a code change, a new argument or a new torch retrains; a second identical call loads.
- Training runs on the CPU with one torch thread (restored afterwards): the networks are too
  small to gain from more, and a fixed thread count keeps the weights reproducible.

Sizes measured on 2 CPU cores: ``train_classifier(epochs=20)`` takes about 4 s (held-out
accuracy 0.98); ``train_gan(steps=3000)`` about 15-20 s, after which the CNN recognises the
requested class in about 99% of GAN samples. For tests, ``epochs=3`` (about 1 s, accuracy about
0.9) and ``steps=500`` (about 3 s) suffice.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gantheory import _cache, training
from gantheory._cache import CACHE_ENV, cache_dir
from gantheory._cache import one_thread as _one_thread
from gantheory._checks import check_int as _check_int
from gantheory.config import derive_seed, progress_bar, torch_seeded

__all__ = [
    "N_CLASSES",
    "IMAGE_SHAPE",
    "LATENT_DIM",
    "FEATURE_DIM",
    "CACHE_ENV",
    "DigitsCNN",
    "ConditionalGenerator",
    "ConditionalDiscriminator",
    "TrainedClassifier",
    "TrainedGAN",
    "cache_dir",
    "load_digits_data",
    "train_test_split_indices",
    "train_classifier",
    "train_gan",
    "sample_gan",
    "embed",
    "predict",
    "gan_class_accuracy",
]

N_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)
LATENT_DIM = 32
FEATURE_DIM = 256
_N_LOG = 5  # lines of training history kept by train_gan


# --------------------------------------------------------------------------- validation


def _as_labels(labels, name: str = "labels") -> torch.Tensor:
    """A 1-D int64 tensor of class labels in 0..9 (from an integer array or tensor)."""
    if isinstance(labels, torch.Tensor):
        t = labels.detach().cpu()
        is_int = not t.dtype.is_floating_point and not t.dtype.is_complex and t.dtype != torch.bool
    else:
        arr = np.asarray(labels)
        is_int = np.issubdtype(arr.dtype, np.integer)
        t = torch.as_tensor(arr) if is_int else None
    if not is_int:
        dtype = labels.dtype if isinstance(labels, torch.Tensor) else np.asarray(labels).dtype
        raise TypeError(f"{name} must hold integers (int64 class indices), got dtype {dtype}")
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per sample), got shape {tuple(t.shape)}")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= N_CLASSES):
        raise ValueError(f"{name} must lie in 0..{N_CLASSES - 1}, got values in "
                         f"{int(t.min())}..{int(t.max())}")
    return t.to(torch.int64)


def _as_images(images, name: str = "images") -> torch.Tensor:
    """A finite float32 tensor of shape ``(N, 1, 8, 8)`` (values are not clipped)."""
    if isinstance(images, torch.Tensor):
        t = images.detach().cpu().to(torch.float32)
    else:
        t = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if t.ndim != 4 or tuple(t.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"{name} must have shape (N, 1, 8, 8), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contain NaN or infinite entries")
    return t


def _check_truncation(truncation) -> float | None:
    if truncation is None:
        return None
    value = float(truncation)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"truncation must be None or a positive finite number, got {truncation}")
    return value


# --------------------------------------------------------------------------- data


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / np.float32(16.0)).reshape(-1, *IMAGE_SHAPE)
    labels = bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits, offline.

    Returns ``(images, labels)``: ``images`` float32 of shape ``(1797, 1, 8, 8)`` with values in
    ``[0, 1]`` (pixel / 16), ``labels`` int64 of shape ``(1797,)`` in ``0..9``. Fresh, writable
    copies on every call.
    """
    images, labels = _digits_arrays()
    return images.copy(), labels.copy()


def train_test_split_indices(labels, *, test_fraction: float = 0.25,
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of the samples whose classes are ``labels`` (shape ``(N,)``).

    Returns ``(train_idx, test_idx)``, sorted int64 index arrays partitioning ``0..N-1``; each
    class keeps its proportion in both parts (scikit-learn's ``train_test_split`` with
    ``stratify``). ``test_fraction`` lies strictly between 0 and 1.
    """
    from sklearn.model_selection import train_test_split

    y = _as_labels(labels).numpy()
    frac = float(test_fraction)
    if not 0.0 < frac < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    seed = _check_int(seed, "seed", 0)
    idx = np.arange(y.size)
    train_idx, test_idx = train_test_split(idx, test_size=frac, stratify=y,
                                           random_state=seed % 2**32)
    return np.sort(train_idx).astype(np.int64), np.sort(test_idx).astype(np.int64)


# --------------------------------------------------------------------------- networks


def _one_hot(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, N_CLASSES).to(torch.float32)


class DigitsCNN(nn.Module):
    """Small CNN classifier of 8x8 digits.

    ``conv(1->32, 3x3, pad 1)-ReLU-conv(32->64, 3x3, pad 1)-ReLU-maxpool(2)-flatten(1024)
    -Linear(1024, 256)-ReLU-Linear(256, 10)``. Input ``(N, 1, 8, 8)`` in ``[0, 1]``;
    :meth:`features` gives the 256-d penultimate activations (after the ReLU), :meth:`forward`
    the 10 logits.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, N_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``(N, 256)`` of images ``x`` ``(N, 1, 8, 8)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 10)`` of images ``x`` ``(N, 1, 8, 8)``."""
        return self.head(self.body(x))


class ConditionalGenerator(nn.Module):
    """Class-conditional MLP generator.

    ``[z, one_hot(label)]`` (``latent_dim + 10``) ``-> 256 -> 256 -> 64`` with LeakyReLU(0.2)
    between layers, then a sigmoid, reshaped to images ``(N, 1, 8, 8)`` in ``[0, 1]``.
    ``forward(z, labels)`` takes ``z`` ``(N, latent_dim)`` and int64 ``labels`` ``(N,)``.
    """

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim = _check_int(latent_dim, "latent_dim", 1)
        hidden = _check_int(hidden, "hidden", 1)
        self.net = nn.Sequential(
            nn.Linear(self.latent_dim + N_CLASSES, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, math.prod(IMAGE_SHAPE)),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images ``(N, 1, 8, 8)`` for latents ``z`` ``(N, latent_dim)`` and ``labels`` ``(N,)``."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        y = _as_labels(labels).to(z.device)
        if y.shape[0] != z.shape[0]:
            raise ValueError(f"z has {z.shape[0]} rows but labels has {y.shape[0]}")
        h = torch.cat([z, _one_hot(y).to(z.dtype)], dim=1)
        return self.net(h).reshape(-1, *IMAGE_SHAPE)


class ConditionalDiscriminator(nn.Module):
    """Class-conditional MLP discriminator with a projection head (Miyato & Koyama, 2018).

    ``h = MLP(flatten(image))`` (``64 -> 256 -> 256``, LeakyReLU(0.2) after each layer), then
    ``logit = w^T h + b + <e_y, h>`` with a learned embedding ``e_y`` (256) of the label ``y``.
    ``forward(images, labels)`` takes images ``(N, 1, 8, 8)`` and int64 ``labels`` ``(N,)`` and
    returns logits ``(N,)`` (large means "real"). The projection makes the label matter from
    the first steps: a discriminator fed ``[image, one_hot(label)]`` trains a generator that
    ignores the label for the first ~2000 steps.
    """

    def __init__(self, hidden: int = 256) -> None:
        super().__init__()
        hidden = _check_int(hidden, "hidden", 1)
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(IMAGE_SHAPE), hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
        )
        self.out = nn.Linear(hidden, 1)
        self.embedding = nn.Embedding(N_CLASSES, hidden)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits ``(N,)`` of ``images`` ``(N, 1, 8, 8)`` with classes ``labels`` ``(N,)``."""
        if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"images must have shape (N, 1, 8, 8), got {tuple(images.shape)}")
        y = _as_labels(labels).to(images.device)
        if y.shape[0] != images.shape[0]:
            raise ValueError(f"images has {images.shape[0]} rows but labels has {y.shape[0]}")
        h = self.body(images)
        return self.out(h).squeeze(1) + (self.embedding(y) * h).sum(dim=1)


def _seeded_init(cls, seed: int, *args) -> nn.Module:
    """``cls(*args)`` with PyTorch's default initialization drawn under ``seed``."""
    with torch_seeded(seed):
        return cls(*args)


# --------------------------------------------------------------------------- weight cache
# The cache itself lives in gantheory._cache (shared with gantheory.partitions).


@lru_cache(maxsize=1)
def _source_digest() -> str:
    return _cache.source_digest(__file__)


@lru_cache(maxsize=1)
def _data_digest() -> str:
    images, labels = _digits_arrays()
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()


def _weights_path(kind: str, params: dict) -> Path:
    extra = {"data": _data_digest()}
    if kind == "gan":  # trained by gantheory.training's loop: its source is part of the key
        extra["trainer"] = training.trainer_digest()
    return _cache.weights_path("digits", kind, params, __file__, extra, digest=_source_digest())


def _check_metadata(payload: dict, history_width: int | None) -> None:
    """Raise on malformed cached metadata: a non-finite or negative ``train_seconds``, a
    ``test_accuracy`` outside [0, 1], or a history row that is not ``history_width`` finite
    numbers."""
    seconds = float(payload["train_seconds"])
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"train_seconds is {seconds}")
    if "test_accuracy" in payload and not 0 <= float(payload["test_accuracy"]) <= 1:
        raise ValueError(f"test_accuracy is {payload['test_accuracy']}")
    if history_width is not None:
        rows = payload["history"]
        if not rows or any(len(r) != history_width or not all(math.isfinite(float(v))
                                                              for v in r) for r in rows):
            raise ValueError("the history is empty, malformed or not finite")


# --------------------------------------------------------------------------- classifier


@dataclass
class TrainedClassifier:
    """A :class:`DigitsCNN` trained on the real digits.

    ``model`` is in eval mode; ``test_accuracy`` is measured on the held-out real digits
    ``test_indices`` (indices into :func:`load_digits_data`), the model being trained on
    ``train_indices``; ``train_seconds`` is the training time (of the original training when
    ``from_cache``); ``weights_path`` is the cache file (None when ``cache=False``).
    """

    model: DigitsCNN
    test_accuracy: float
    train_seconds: float
    from_cache: bool
    weights_path: Path | None
    epochs: int
    seed: int
    train_indices: np.ndarray = field(repr=False)
    test_indices: np.ndarray = field(repr=False)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        pred = torch.cat([model(x[i:i + 1024]).argmax(1) for i in range(0, x.shape[0], 1024)])
    return float((pred == y).double().mean())


def _fit_classifier(model: DigitsCNN, x: torch.Tensor, y: torch.Tensor, *, epochs: int,
                    batch_size: int, lr: float, gen: torch.Generator,
                    progress: bool | None) -> None:
    """Adam on cross-entropy, ``epochs`` passes over ``(x, y)`` in seeded random order."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    model.train()
    for _ in progress_bar(range(epochs), desc="CNN epochs", show=progress):
        order = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, order.numel(), batch_size):
            b = order[i:i + batch_size]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()


def train_classifier(*, epochs: int, seed: int = 0, batch_size: int = 64, lr: float = 1e-3,
                     test_fraction: float = 0.25, cache: bool = True,
                     progress: bool | None = None) -> TrainedClassifier:
    """Train :class:`DigitsCNN` with Adam on a stratified train split of the real digits.

    The split is :func:`train_test_split_indices` with ``test_fraction`` and ``seed``; each epoch
    visits the training images once in a seeded random order, by mini-batches of
    ``batch_size``, with cross-entropy loss and Adam(``lr``). Reports the accuracy on the
    held-out part. With ``cache`` the weights are saved to, and on a later identical call loaded
    from, :func:`cache_dir` (see the module docstring). ``progress`` is the ``show`` switch of
    :func:`gantheory.config.progress_bar` for the epoch bar (None: interactive runs only).
    """
    epochs = _check_int(epochs, "epochs", 1)
    seed = _check_int(seed, "seed", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    images, labels = load_digits_data()
    train_idx, test_idx = train_test_split_indices(labels, test_fraction=test_fraction,
                                                   seed=seed)
    model = _seeded_init(DigitsCNN, derive_seed(seed, "digits-cnn", "init"))
    params = {"epochs": epochs, "seed": seed, "batch_size": batch_size, "lr": lr,
              "test_fraction": float(test_fraction)}
    path = _weights_path("cnn", params) if cache else None
    payload = (_cache.load(path, model, ("test_accuracy", "train_seconds"),
                           validate=lambda p: _check_metadata(p, None)) if path else None)
    if payload is not None:
        return TrainedClassifier(model.eval(), float(payload["test_accuracy"]),
                                 float(payload["train_seconds"]), True, path, epochs, seed,
                                 train_idx, test_idx)

    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)
    gen = torch.Generator().manual_seed(derive_seed(seed, "digits-cnn", "batches"))
    start = time.perf_counter()
    with _one_thread():
        _fit_classifier(model, x[train_idx], y[train_idx], epochs=epochs,
                        batch_size=batch_size, lr=lr, gen=gen, progress=progress)
    seconds = time.perf_counter() - start
    accuracy = _accuracy(model, x[test_idx], y[test_idx])
    if path is not None:
        _cache.save(path, {"state_dict": model.state_dict(), "test_accuracy": accuracy,
                           "train_seconds": seconds})
    return TrainedClassifier(model.eval(), accuracy, seconds, False, path, epochs, seed,
                             train_idx, test_idx)


# --------------------------------------------------------------------------- GAN


@dataclass
class TrainedGAN:
    """A :class:`ConditionalGenerator` trained on all 1797 real digits.

    ``generator`` is in eval mode; ``history`` holds about five ``(step, d_loss, g_loss)``
    triples, each loss averaged over the steps since the previous entry; ``train_seconds`` is
    the training time (of the original training when ``from_cache``); ``weights_path`` is the
    cache file (None when ``cache=False``). The discriminator is not kept.
    """

    generator: ConditionalGenerator
    steps: int
    seed: int
    batch_size: int
    train_seconds: float
    from_cache: bool
    weights_path: Path | None
    history: list[tuple[int, float, float]]


def _fit_gan(generator: ConditionalGenerator, disc: ConditionalDiscriminator, x: torch.Tensor,
             y: torch.Tensor, *, steps: int, batch_size: int, lr: float, seed: int,
             progress: bool | None) -> list[tuple[int, float, float]]:
    """Non-saturating GAN training through :func:`gantheory.training.fit`; returns about five
    ``(step, d_loss, g_loss)`` averages."""
    # the stream of the trainer this loop replaced: the same arguments give the same GAN
    streams = training.Streams([seed], "digits-gan", stacked=False,
                               torch_seeds=[derive_seed(seed, "digits-gan", "train")])
    gen = streams.torch[0]
    state = {"order": torch.randperm(x.shape[0], generator=gen), "pos": 0}

    def draw_real():
        if state["pos"] + batch_size > state["order"].numel():  # new epoch: reshuffle, drop
            state["order"] = torch.randperm(x.shape[0], generator=gen)  # the partial batch
            state["pos"] = 0
        b = state["order"][state["pos"]:state["pos"] + batch_size]
        state["pos"] += batch_size
        return x[b], y[b]

    def draw_latent():
        return torch.randn(batch_size, generator.latent_dim, generator=gen)

    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999), foreach=True)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999), foreach=True)
    log_every = math.ceil(steps / _N_LOG)
    history = training.fit(generator, disc, training.NonSaturating(), steps=steps, n_critic=1,
                           draw_real=draw_real, draw_latent=draw_latent, streams=streams,
                           opt_g=opt_g, opt_c=opt_d, log_steps=range(log_every, steps + 1,
                                                                     log_every),
                           share_batch=True, progress=progress, desc="GAN steps")[0]
    return [(r["step"], r["critic_loss"], r["generator_loss"]) for r in history]


def train_gan(*, steps: int, seed: int = 0, batch_size: int = 128, lr: float = 2e-4,
              cache: bool = True, progress: bool | None = None) -> TrainedGAN:
    """Train a class-conditional GAN on all real digits (all 10 classes).

    :class:`ConditionalGenerator` against :class:`ConditionalDiscriminator` (projection
    head), with the non-saturating GAN loss (the discriminator minimizes
    :math:`\\operatorname{softplus}(-D(x,y)) + \\operatorname{softplus}(D(G(z,y),y))`, the
    generator :math:`\\operatorname{softplus}(-D(G(z,y),y))`), one discriminator and one
    generator Adam(``lr``, betas (0.5, 0.999)) step per iteration on a mini-batch of
    ``batch_size`` real images drawn in seeded random order (reshuffled each epoch); fake
    images use the labels of the real batch and :math:`z\\sim\\mathcal N(0, I_{32})`. With
    ``cache`` the generator is saved to, and on a later identical call loaded from,
    :func:`cache_dir`. ``progress`` is the ``show`` switch of
    :func:`gantheory.config.progress_bar` for the step bar (None: interactive runs only).
    """
    steps = _check_int(steps, "steps", 1)
    seed = _check_int(seed, "seed", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    n_digits = _digits_arrays()[1].size
    if batch_size > n_digits:
        raise ValueError(f"batch_size must be <= {n_digits} (the number of digits), "
                         f"got {batch_size}")
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    generator = _seeded_init(ConditionalGenerator, derive_seed(seed, "digits-gan", "G"))
    params = {"steps": steps, "seed": seed, "batch_size": batch_size, "lr": lr}
    path = _weights_path("gan", params) if cache else None
    payload = (_cache.load(path, generator, ("history", "train_seconds"),
                           validate=lambda p: _check_metadata(p, 3)) if path else None)
    if payload is not None:
        history = [(int(s), float(d), float(g)) for s, d, g in payload["history"]]
        return TrainedGAN(generator.eval(), steps, seed, batch_size,
                          float(payload["train_seconds"]), True, path, history)

    disc = _seeded_init(ConditionalDiscriminator, derive_seed(seed, "digits-gan", "D"))
    images, labels = load_digits_data()
    start = time.perf_counter()
    history = _fit_gan(generator, disc, torch.from_numpy(images), torch.from_numpy(labels),
                       steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    seconds = time.perf_counter() - start
    if path is not None:
        _cache.save(path, {"state_dict": generator.state_dict(), "history": history,
                           "train_seconds": seconds})
    return TrainedGAN(generator.eval(), steps, seed, batch_size, seconds, False, path, history)


def _latents(n: int, dim: int, seed: int, truncation: float | None) -> torch.Tensor:
    """``(n, dim)`` float32 standard normal latents, optionally truncated to ``[-t, t]``."""
    gen = torch.Generator().manual_seed(seed)
    if truncation is None:
        return torch.randn(n, dim, generator=gen)
    # Inverse-CDF sampling of N(0, 1) conditioned on |z| <= t: same law as resampling every
    # coordinate until it falls in [-t, t], without a loop.
    u = torch.rand(n, dim, generator=gen, dtype=torch.float64)
    lo = torch.special.ndtr(torch.tensor(-truncation, dtype=torch.float64))
    z = torch.special.ndtri(lo + u * (1.0 - 2.0 * lo))
    return z.clamp(-truncation, truncation).to(torch.float32)


def sample_gan(generator: ConditionalGenerator, labels, *, seed: int,
               truncation: float | None = None, batch_size: int = 4096) -> np.ndarray:
    """GAN images of the classes ``labels`` (int array ``(N,)``): float32 ``(N, 1, 8, 8)``.

    Latents :math:`z\\sim\\mathcal N(0, I)` are drawn from a ``torch.Generator`` seeded with
    ``seed`` (the same seed and labels give the same images; ``batch_size`` changes them by
    float rounding only). With ``truncation = t`` each latent coordinate is drawn from the
    standard normal conditioned on :math:`|z_i|\\le t` (the "truncation trick": resampling
    out-of-range coordinates, done exactly by inverse-CDF sampling), trading diversity for
    fidelity.
    Runs under ``torch.inference_mode`` in eval mode (the module's mode is restored).
    """
    y = _as_labels(labels)
    seed = _check_int(seed, "seed", 0)
    t = _check_truncation(truncation)
    batch_size = _check_int(batch_size, "batch_size", 1)
    z = _latents(y.numel(), generator.latent_dim, seed, t)
    chunks = _cache.inference_chunks(generator, lambda s: generator(z[s], y[s]), y.numel(),
                                     batch_size)
    if not chunks:
        return np.zeros((0, *IMAGE_SHAPE), dtype=np.float32)
    return torch.cat(chunks).numpy().astype(np.float32, copy=False)


# --------------------------------------------------------------------------- features


def _apply(model: nn.Module, fn, images, batch_size: int) -> torch.Tensor:
    x = _as_images(images)
    batch_size = _check_int(batch_size, "batch_size", 1)
    chunks = _cache.inference_chunks(model, lambda s: fn(x[s]), x.shape[0], batch_size)
    return torch.cat(chunks) if chunks else None


def embed(cnn: DigitsCNN, images, batch_size: int = 1024) -> np.ndarray:
    """Penultimate features of ``images`` ``(N, 1, 8, 8)``: float64 ``(N, 256)``.

    The activations after the ReLU of ``Linear(1024, 256)`` (so non-negative), computed in
    batches under ``torch.inference_mode`` in eval mode. ``images`` is a NumPy array or tensor;
    values are not clipped to ``[0, 1]``.
    """
    out = _apply(cnn, cnn.features, images, batch_size)
    if out is None:
        return np.zeros((0, FEATURE_DIM))
    return out.double().numpy()


def predict(cnn: DigitsCNN, images, batch_size: int = 1024) -> np.ndarray:
    """Predicted classes (int64 ``(N,)``) of ``images`` ``(N, 1, 8, 8)`` by ``cnn``."""
    out = _apply(cnn, cnn, images, batch_size)
    if out is None:
        return np.zeros(0, dtype=np.int64)
    return out.argmax(1).numpy().astype(np.int64)


def gan_class_accuracy(cnn: DigitsCNN, generator: ConditionalGenerator, *,
                       n_per_class: int = 200, seed: int = 0,
                       truncation: float | None = None) -> np.ndarray:
    """Per-class fidelity of a conditional GAN: float64 ``(10,)``.

    Entry ``c`` is the fraction of ``n_per_class`` GAN images of class ``c`` (seeded by
    ``seed``) that ``cnn`` classifies as ``c``.
    """
    n = _check_int(n_per_class, "n_per_class", 1)
    labels = np.repeat(np.arange(N_CLASSES, dtype=np.int64), n)
    pred = predict(cnn, sample_gan(generator, labels, seed=seed, truncation=truncation))
    return (pred == labels).reshape(N_CLASSES, n).mean(axis=1)
