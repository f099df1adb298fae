"""One GAN trainer for the whole book: the loop, the losses, ensembles, restarts and the cache.

Every GAN of the book trains through :func:`fit`: the digits GAN of Part II
(:func:`gantheory.digits.train_gan`, non-saturating loss), the toy WGAN-GPs of Part III
(:func:`gantheory.partitions.train_toy_gans`) and the GroupSort WGANs of Part IV
(:func:`gantheory.wasserstein.train_wgans`). The part modules keep their models, targets and
result types; this module writes once what they share:

- the alternating loop (``n_critic`` critic steps, then one generator step), with the learning
  rates held and then decayed linearly (:func:`linear_decay`), loss averages logged at chosen
  steps and an evaluation hook;
- the losses, as pluggable parts: :class:`NonSaturating`, :class:`WGANGP` and
  :class:`LipschitzWGAN` (a critic that is 1-Lipschitz by construction needs no penalty);
- **ensembles**: ``E`` generator/critic pairs of one architecture trained as one batched
  computation. A stacked model maps ``(E, N, ...)`` inputs to ``(E, N, ...)`` outputs, member
  ``e`` using only its own weights (batched matrix products, :func:`stacked_linear`); every
  loss is a sum over members of per-member means, so each member's gradient, and hence its
  Adam step (elementwise), is the one it would get alone. Each member draws from its own seeded
  random streams (:class:`Streams`), so member ``e`` reproduces its one-at-a-time run up to
  the rounding of the batched products (measured in ``tests/test_training.py`` and
  ``benchmarks/bench_training.py``);
- seeded random streams, restarts under derived seeds (:func:`restart_seed`), the divergence
  error (:class:`DivergenceError`) and the weights cache that refuses non-finite weights
  (:func:`gantheory._cache.load`).

Conventions: a *member axis* is the leading axis of size ``E`` of a stacked model's inputs and
outputs; a plain (unstacked) model is the case without that axis, and :func:`fit` treats it as
one member. Training runs on one CPU thread (:func:`gantheory._cache.one_thread`): these
networks are small, and a fixed thread count makes the weights independent of the machine's
thread setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gantheory import _cache
from gantheory._checks import check_int
from gantheory.config import ConvergenceError, derive_seed, progress_bar

__all__ = [
    "DivergenceError", "LipschitzWGAN", "NonSaturating", "Streams", "WGANGP", "fit",
    "linear_decay", "member_mean", "pad_columns", "restart_seed", "stacked_linear",
    "trainer_digest", "with_restarts",
]


class DivergenceError(ConvergenceError, FloatingPointError):
    """A GAN's loss or output became NaN or infinite during training.

    Both a :class:`~gantheory.config.ConvergenceError` (the training did not converge) and a
    ``FloatingPointError`` (what went wrong), so code catching either sees it."""


def trainer_digest() -> str:
    """SHA-256 of this module's source: part of every cached GAN's key, since the loop that
    produced the weights lives here."""
    return _cache.source_digest(__file__)


def restart_seed(seed: int, attempt: int) -> int:
    """Seed of training attempt ``attempt`` (0-based) of a run seeded ``seed``: ``seed`` itself
    for the first, ``derive_seed(seed, "restart", attempt)`` for each restart."""
    return seed if attempt == 0 else derive_seed(seed, "restart", attempt)


def with_restarts(train_round: Callable[[list[int], list[int]], tuple[list, float]],
                  seeds: Sequence[int], restarts: Sequence[int],
                  score: Callable[[int, object], float], thresholds: Sequence[float | None],
                  what: str = "GAN") -> tuple[list, list[int], list[int], float]:
    """Train members until each reaches its threshold or runs out of restarts.

    ``train_round(members, round_seeds)`` trains the members (indices) under the given seeds,
    together, and returns ``(results, seconds)``; ``score(member, result)`` is the criterion
    (e.g. a final precision) compared with ``thresholds[member]`` (None: accept the first
    attempt). A member below its threshold is retrained in the next round under
    :func:`restart_seed` ``(seeds[member], attempt)``, up to ``restarts[member]`` times.
    Returns ``(results, seeds used, attempts, seconds of all rounds)``, one entry per member.
    Raises :class:`~gantheory.config.ConvergenceError` naming the member (when there are
    several), the threshold and the scores of its attempts when its restarts run out.
    """
    n = len(seeds)
    results: list = [None] * n
    used, attempts = [0] * n, [0] * n
    scores: list[list[float]] = [[] for _ in range(n)]
    pending, seconds = list(range(n)), 0.0
    while pending:
        round_seeds = [restart_seed(seeds[k], attempts[k]) for k in pending]
        out, secs = train_round(pending, round_seeds)
        seconds += secs
        retry = []
        for k, seed, result in zip(pending, round_seeds, out, strict=True):
            value = score(k, result)
            scores[k].append(round(value, 4))
            if thresholds[k] is None or value >= thresholds[k]:
                results[k], used[k], attempts[k] = result, seed, attempts[k] + 1
            elif attempts[k] < restarts[k]:
                attempts[k] += 1
                retry.append(k)
            else:
                member = f" (ensemble member {k})" if n > 1 else ""
                raise ConvergenceError(
                    f"no {what} reached precision {thresholds[k]} in {attempts[k] + 1} attempts "
                    f"(final precisions {scores[k]}){member}; train longer")
        pending = retry
    return results, used, attempts, seconds


def linear_decay(step: int, steps: int, fraction: float) -> float:
    """Learning-rate factor at ``step`` (1-based) of ``steps``: 1, then a linear decay over the
    last ``fraction`` of the steps, reaching ``1 / max(1, fraction * steps)`` at the last step
    (``fraction = 0``: constant)."""
    decay_steps = max(1.0, fraction * steps)
    return min(1.0, (steps - step + 1) / decay_steps)


def member_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean over the last (sample) axis: ``(E, N) -> (E,)`` for a stacked model, ``(N,) -> ()``
    for a plain one."""
    return values.mean(dim=-1)


def stacked_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Member-wise affine map: ``x`` ``(E, N, in)``, ``weight`` ``(E, out, in)``, ``bias``
    ``(E, out)`` -> ``(E, N, out)`` with row ``n`` of member ``e`` equal to
    ``weight[e] @ x[e, n] + bias[e]`` (one batched matrix product)."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def pad_columns(weight: torch.Tensor, width: int) -> torch.Tensor:
    """``weight`` ``(out, in)`` with zero columns appended up to ``width`` inputs: the layer of a
    member whose input is zero-padded (a smaller latent dimension in an ensemble). The padded
    inputs are zero, so the padded columns get zero gradients and stay zero under Adam: the
    member computes exactly what its unpadded layer computes."""
    if weight.shape[1] > width:
        raise ValueError(f"cannot pad {weight.shape[1]} columns to {width}")
    return torch.cat([weight, weight.new_zeros(weight.shape[0], width - weight.shape[1])], 1)


# --------------------------------------------------------------------------- random streams


class Streams:
    """Seeded random streams of ``E`` ensemble members, one torch generator and one NumPy
    generator per member, seeded by ``derive_seed(seed_e, tag, "torch")`` and
    ``derive_seed(seed_e, tag, "numpy")``.

    ``torch_seeds`` replaces the torch seeds (a part module keeping the streams its trainer
    used before this module existed, so that the same arguments give the same GAN).
    ``stacked=False`` (one member, a plain model) returns draws without the member axis.
    Member ``e`` draws exactly what it would draw trained alone, whatever the other members.
    """

    def __init__(self, seeds: Sequence[int], tag: str, *, stacked: bool = True,
                 torch_seeds: Sequence[int] | None = None):
        if not stacked and len(seeds) != 1:
            raise ValueError(f"unstacked streams have one member, got {len(seeds)} seeds")
        self.seeds = [check_int(s, "seed", 0) for s in seeds]
        self.stacked = stacked
        if torch_seeds is None:
            torch_seeds = [derive_seed(s, tag, "torch") for s in self.seeds]
        elif len(torch_seeds) != len(self.seeds):
            raise ValueError(f"torch_seeds must have one seed per member ({len(self.seeds)}), "
                             f"got {len(torch_seeds)}")
        self.torch = [torch.Generator().manual_seed(int(s)) for s in torch_seeds]
        self.numpy = [np.random.default_rng(derive_seed(s, tag, "numpy")) for s in self.seeds]

    def __len__(self) -> int:
        return len(self.seeds)

    def stack(self, draws: list[torch.Tensor]) -> torch.Tensor:
        """Member draws stacked on a new leading axis (or the single draw when unstacked)."""
        return torch.stack(draws) if self.stacked else draws[0]

    def each(self, draw: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """``draw(e)`` for every member, stacked."""
        return self.stack([draw(e) for e in range(len(self.seeds))])

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal ``(E, *shape)`` (float32), member ``e`` from its torch stream."""
        return self.each(lambda e: torch.randn(*shape, generator=self.torch[e]))

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform on [0, 1) ``(E, *shape)`` (float32), member ``e`` from its torch stream."""
        return self.each(lambda e: torch.rand(*shape, generator=self.torch[e]))


# --------------------------------------------------------------------------- losses
# Each loss returns per-member values (shape (E,), or () for a plain model); fit() sums them for
# the backward pass, so member e's gradient is that of its own loss.


@dataclass(frozen=True)
class NonSaturating:
    """Non-saturating GAN loss (Goodfellow et al. 2014): the critic (discriminator) minimizes
    :math:`E\\,\\operatorname{softplus}(-D(x)) + E\\,\\operatorname{softplus}(D(G(z)))`, the
    generator :math:`E\\,\\operatorname{softplus}(-D(G(z)))`."""

    def critic_loss(self, critic, real, fake, cond, streams) -> torch.Tensor:
        softplus = nn.functional.softplus
        return (member_mean(softplus(-critic(real, *cond)))
                + member_mean(softplus(critic(fake, *cond))))

    def generator_loss(self, critic, fake, cond) -> torch.Tensor:
        return member_mean(nn.functional.softplus(-critic(fake, *cond)))


@dataclass(frozen=True)
class WGANGP:
    """WGAN-GP (Gulrajani et al. 2017): the critic minimizes
    :math:`E\\,C(G(z)) - E\\,C(x) + \\lambda E(\\|\\nabla C(\\hat x)\\| - 1)^2`, with
    :math:`\\hat x` uniform on the segments between paired real and fake points (the position
    drawn from each member's torch stream) and :math:`\\lambda` = ``weight``; the generator
    minimizes :math:`-E\\,C(G(z))`."""

    weight: float = 10.0

    def critic_loss(self, critic, real, fake, cond, streams) -> torch.Tensor:
        loss = member_mean(critic(fake, *cond)) - member_mean(critic(real, *cond))
        if self.weight == 0:
            return loss
        t = streams.rand(real.shape[-2], 1)
        x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat, *cond).sum(), x_hat, create_graph=True)
        return loss + self.weight * member_mean((grad.norm(dim=-1) - 1) ** 2)

    def generator_loss(self, critic, fake, cond) -> torch.Tensor:
        return -member_mean(critic(fake, *cond))


@dataclass(frozen=True)
class LipschitzWGAN:
    """The WGAN objective with a critic that is 1-Lipschitz by construction (GroupSort with
    Björck-orthonormal weights): no clipping, no penalty. The critic minimizes
    :math:`E\\,C(G(z)) - E\\,C(x)`; fake and real rows go through one critic call (one Björck
    orthonormalization per layer and step)."""

    def critic_loss(self, critic, real, fake, cond, streams) -> torch.Tensor:
        n = fake.shape[-2]
        scores = critic(torch.cat([fake, real], dim=-2), *cond)
        return member_mean(scores[..., :n]) - member_mean(scores[..., n:])

    def generator_loss(self, critic, fake, cond) -> torch.Tensor:
        return -member_mean(critic(fake, *cond))


# --------------------------------------------------------------------------- the loop


def fit(generator: nn.Module, critic: nn.Module, loss, *, steps: int, n_critic: int,
        draw_real: Callable[[], tuple], draw_latent: Callable[[], torch.Tensor],
        streams: Streams, opt_g: torch.optim.Optimizer, opt_c: torch.optim.Optimizer,
        decay: float = 0.0, log_steps: Sequence[int] = (),
        evaluate: Callable[[int], list[dict]] | None = None, share_batch: bool = False,
        fakes_at_once: bool = False, progress: bool | None = None,
        desc: str = "GAN steps") -> list[list[dict]]:
    """Train ``generator`` against ``critic`` with ``loss``; return one history per member.

    Each of the ``steps`` iterations runs ``n_critic`` critic steps, each on a fresh real batch
    ``(real, *cond) = draw_real()`` and fake batch ``generator(draw_latent(), *cond)`` (no
    gradient to the generator), then one generator step on fresh latents. With
    ``share_batch`` (needs ``n_critic = 1``; conditional models) the generator step reuses the
    critic step's latents and conditions, and the fake batch is computed once. With
    ``fakes_at_once`` (unconditional models whose forward pass has no side effect, e.g. the
    GroupSort generators: not a spectral norm's power iteration) the ``n_critic`` real and
    latent batches are drawn first, in the same order, and the generator, whose weights do not
    change during the critic steps, maps all the latents in one call: the same fake batches
    for a fraction of the cost (the Björck orthonormalization of its weights runs once). Before each
    iteration every parameter group's learning rate is set to its initial value times
    :func:`linear_decay` ``(step, steps, decay)``.

    The models are plain (outputs ``(N,)``; one member) or stacked (outputs ``(E, N)``);
    ``loss`` is :class:`NonSaturating`, :class:`WGANGP`, :class:`LipschitzWGAN` or any object
    with the same two methods, returning per-member values. ``streams`` are the members' random
    streams (the penalty's interpolation points come from them).

    At each step of ``log_steps`` (0 = before training) a row
    ``{"step", "critic_loss", "generator_loss", **evaluate(step)[e]}`` is appended to member
    ``e``'s history: the losses averaged over the steps since the previous row (NaN at step 0)
    and whatever ``evaluate`` returns (a list of one dict per member; None: nothing). The models
    are in train mode during the steps; ``evaluate`` sets the modes it needs and the loop
    restores train mode after it. Raises :class:`DivergenceError`, naming the member and the
    step, when a member's averaged loss is not finite at a logged step or at the end.
    Runs on one CPU thread; ``progress`` is the ``show`` switch of
    :func:`gantheory.config.progress_bar` (None: interactive runs only).
    """
    steps = check_int(steps, "steps", 0)
    n_critic = check_int(n_critic, "n_critic", 1)
    if share_batch and n_critic != 1:
        raise ValueError(f"share_batch needs n_critic = 1, got {n_critic}")
    if share_batch and fakes_at_once:
        raise ValueError("share_batch and fakes_at_once exclude each other")
    log_at = sorted({check_int(s, "log_steps entry", 0) for s in log_steps} | {steps})
    if log_at[-1] > steps:
        raise ValueError(f"log_steps must lie in [0, steps = {steps}], got {log_at[-1]}")
    n_members = len(streams)
    histories: list[list[dict]] = [[] for _ in range(n_members)]
    bases = [(group, group["lr"]) for opt in (opt_g, opt_c) for group in opt.param_groups]
    c_sum = torch.zeros(n_members, dtype=torch.float64)
    g_sum = torch.zeros(n_members, dtype=torch.float64)
    n_sum = 0

    def log(step: int) -> None:
        nonlocal n_sum
        if n_sum:
            c_avg, g_avg = (c_sum / n_sum).tolist(), (g_sum / n_sum).tolist()
            for e in range(n_members):
                if not (math.isfinite(c_avg[e]) and math.isfinite(g_avg[e])):
                    member = f" (ensemble member {e})" if streams.stacked else ""
                    raise DivergenceError(
                        f"{desc.replace(' steps', '')} training diverged{member}: non-finite "
                        f"loss by step {step} (critic {c_avg[e]}, generator {g_avg[e]}); "
                        f"lower the learning rates")
        else:
            c_avg = g_avg = [float("nan")] * n_members
        extra = evaluate(step) if evaluate is not None else [{}] * n_members
        generator.train()
        critic.train()
        for e in range(n_members):
            histories[e].append({"step": step, "critic_loss": c_avg[e],
                                 "generator_loss": g_avg[e], **extra[e]})
        c_sum.zero_()
        g_sum.zero_()
        n_sum = 0

    with _cache.one_thread():
        generator.train()
        critic.train()
        if log_at[0] == 0:
            log(0)
        for step in progress_bar(range(1, steps + 1), desc=desc, show=progress,
                                 mininterval=1.0):
            factor = linear_decay(step, steps, decay)
            for group, base in bases:
                group["lr"] = base * factor
            batches = [(*draw_real(), draw_latent()) for _ in range(n_critic)] \
                if fakes_at_once else None
            if fakes_at_once:  # one generator call for the n_critic fake batches
                with torch.no_grad():
                    fakes = generator(torch.cat([b[-1] for b in batches], dim=-2)).split(
                        batches[0][-1].shape[-2], dim=-2)
            for k in range(n_critic):
                if fakes_at_once:
                    real, *cond = batches[k][:-1]
                    fake = fakes[k]
                    c_loss = loss.critic_loss(critic, real, fake, cond, streams)
                elif share_batch:
                    real, *cond = draw_real()
                    fake = generator(draw_latent(), *cond)
                    c_loss = loss.critic_loss(critic, real, fake.detach(), cond, streams)
                else:
                    real, *cond = draw_real()
                    z = draw_latent()
                    with torch.no_grad():
                        fake = generator(z, *cond)
                    c_loss = loss.critic_loss(critic, real, fake, cond, streams)
                opt_c.zero_grad(set_to_none=True)
                c_loss.sum().backward()
                opt_c.step()
                c_sum += c_loss.detach().double().reshape(-1) / n_critic
            if not share_batch:
                fake = generator(draw_latent())
                cond = []
            g_loss = loss.generator_loss(critic, fake, cond)
            opt_g.zero_grad(set_to_none=True)
            g_loss.sum().backward()
            opt_g.step()
            g_sum += g_loss.detach().double().reshape(-1)
            n_sum += 1
            if step in log_at:
                log(step)
        for group, base in bases:
            group["lr"] = base
    generator.eval()
    critic.eval()
    return histories
