"""Run configuration shared by every chapter: problem sizes, device and seeds.

The book has three size regimes:

- ``quick``: tiny sizes for the test suite, selected by the environment variable
  ``GANTHEORY_QUICK=1`` (any of ``1, true, yes, on``);
- ``cpu``: the sizes of the published book, used when no GPU is found;
- ``gpu``: larger sizes, used when CUDA is available (falls back to ``cpu`` sizes when a
  chapter gives none).
"""

from __future__ import annotations

import contextlib
import os
import random
import zlib
from typing import TypeVar

import numpy as np

QUICK_ENV = "GANTHEORY_QUICK"
PROGRESS_ENV = "GANTHEORY_PROGRESS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


class ConvergenceError(RuntimeError):
    """An iterative solver stopped before reaching its tolerance."""


def quick_mode() -> bool:
    """True when ``GANTHEORY_QUICK`` asks for small problem sizes.

    Raises ``ValueError`` for a value that is neither true-like nor false-like, so a typo
    never silently runs the wrong sizes.
    """
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{QUICK_ENV}={raw!r} is not understood; use 1 or 0")


def _in_notebook_kernel() -> bool:
    """True inside a Jupyter (or Colab) kernel."""
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "ZMQ" in type(shell).__name__ or "google.colab" in sys.modules


def progress_bar(iterable=None, *, desc: str, total: int | None = None,
                 show: bool | None = None, **kwargs):
    """A progress bar over ``iterable`` (or a manual bar of ``total`` steps): tqdm's.

    ``show=None`` (the default of every ``progress`` argument in the book) shows the bar in an
    interactive run: a widget in Jupyter and Colab (``tqdm.auto``; a text bar when ipywidgets is
    missing), a text bar on a terminal, nothing when stderr is not a terminal. The environment
    variable ``GANTHEORY_PROGRESS`` overrides that: ``0`` hides every bar, which is what the book
    build and the test suite set (built pages carry no progress-bar output), ``1`` shows them.
    ``show=True`` or ``False`` overrides both. Extra keyword arguments go to tqdm.
    """
    import sys

    if show is None:
        raw = os.environ.get(PROGRESS_ENV, "").strip().lower()
        if raw in _TRUE:
            show = True
        elif raw in _FALSE - {""}:
            show = False
        elif raw:
            raise ValueError(f"{PROGRESS_ENV}={raw!r} is not understood; use 1 or 0")
    if show is not None and not isinstance(show, bool):
        raise TypeError(f"show must be True, False or None, got {show!r}")
    kwargs.setdefault("leave", False)
    kwargs.setdefault("mininterval", 0.5)
    if show is False:
        from tqdm.std import tqdm
        return tqdm(iterable, desc=desc, total=total, disable=True, **kwargs)
    if _in_notebook_kernel():
        try:
            import ipywidgets  # noqa: F401  (tqdm.auto's widget bar needs it)
            from tqdm.notebook import tqdm
        except ImportError:
            from tqdm.std import tqdm
            kwargs.setdefault("file", sys.stdout)
        return tqdm(iterable, desc=desc, total=total, **kwargs)
    from tqdm.std import tqdm
    return tqdm(iterable, desc=desc, total=total, disable=None if show is None else False,
                **kwargs)


#: Environment variable with this process's share of the cores (a positive integer), set by
#: ``tools/build_book.py`` for chapters that execute side by side.
CORES_ENV = "GANTHEORY_CORES"


def machine_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else
    ``os.cpu_count()``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def cpu_cores() -> int:
    """The budget of threads and worker processes of this process: its share of the cores,
    ``$GANTHEORY_CORES`` when set (the book build sets it when chapters execute side by side),
    else :func:`machine_cores`. Never more than :func:`machine_cores`.

    Raises ``ValueError`` when ``$GANTHEORY_CORES`` is set to anything but a positive integer.
    """
    found = machine_cores()
    share = os.environ.get(CORES_ENV, "").strip()
    if not share:
        return found
    if not share.isdigit() or int(share) < 1:
        raise ValueError(f"${CORES_ENV} must be a positive integer (cores), got {share!r}")
    return min(int(share), found)


def device_kind() -> str:
    """``"gpu"`` when CUDA is available to torch, else ``"cpu"``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def run_mode() -> str:
    """The size regime in force: ``"quick"``, ``"cpu"`` or ``"gpu"``."""
    return "quick" if quick_mode() else device_kind()


def pick(*, quick: T, cpu: T, gpu: T | None = None) -> T:
    """Choose a problem size for the current run mode (see module docstring)."""
    mode = run_mode()
    if mode == "quick":
        return quick
    if mode == "gpu" and gpu is not None:
        return gpu
    return cpu


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a fresh NumPy ``Generator`` for this seed."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import torch

    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002 - legacy global RNG of third-party code
    torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


@contextlib.contextmanager
def torch_seeded(seed: int):
    """Run a block with torch's CPU random generator seeded by ``seed``, then restore its state:
    seeded model construction that leaves the global generator as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def derive_seed(base: int, *tags: int | str) -> int:
    """An independent seed for the stream named by ``tags`` under the seed ``base``.

    Reusing one seed for two draws correlates them (the same Gaussian numbers come out twice);
    offsets such as ``seed + d`` collide across loops. ``derive_seed(seed, "samples", d)``
    hashes its arguments with NumPy's ``SeedSequence`` instead: distinct tags give independent
    streams, and the same arguments give the same seed on every run and machine.
    """
    if isinstance(base, bool) or not isinstance(base, (int, np.integer)) or base < 0:
        raise ValueError(f"base must be a non-negative integer, got {base!r}")
    words = [int(base)]
    for tag in tags:
        if isinstance(tag, str):
            words.append(zlib.crc32(tag.encode()))
        elif isinstance(tag, (int, np.integer)) and not isinstance(tag, bool) and tag >= 0:
            words.append(int(tag))
        else:
            raise ValueError(f"tags must be non-negative integers or strings, got {tag!r}")
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def describe() -> str:
    """One line saying which sizes and device this run uses (printed by each chapter)."""
    import torch

    mode = run_mode()
    text = {
        "quick": f"quick sizes ({QUICK_ENV}=1, for tests)",
        "cpu": "full CPU sizes (no GPU found)",
        "gpu": "GPU sizes",
    }[mode]
    threads = torch.get_num_threads()
    return f"gantheory run mode: {text}; torch {torch.__version__}, {threads} CPU threads"
