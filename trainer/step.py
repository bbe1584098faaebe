"""One training step: the batch the generator learns from, the losses and their gradients, and
then the update, or, when a loss or gradient is not finite, no update at all."""

from __future__ import annotations

import torch

from .config import Config
from .data import Batch, make_planned
from .losses import discriminator_loss, generator_adversarial_loss, pixel_loss
from .phase import PhaseModels
from .setup import autocast


def training_pair(loaded: Batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The (LR, HR) batch one step trains on, on the training device.

    The loader made LR from HR (data.py: MATLAB bicubic, or Real-ESRGAN's pipeline of
    degrade.py), except for the samples it planned for the device (degradation.device): their
    chains run here, batched (degrade_torch). The rest of the step only sees the pair.
    """
    lr_img = loaded.lr.to(device, non_blocking=True)
    if loaded.planned:
        lr_img.index_copy_(0, loaded.planned_at.to(device, non_blocking=True),
                           make_planned(loaded.planned, device))
    return lr_img, loaded.hr.to(device, non_blocking=True)


def train_step(models: PhaseModels, config: Config, device: torch.device, lr_img: torch.Tensor,
               hr_img: torch.Tensor) -> tuple[dict[str, torch.Tensor], bool]:
    """Forward and backward passes; the losses, and whether all of them and the gradients are
    finite. The optimisers have not stepped yet: `apply_update` or `drop_update` does that."""
    amp = config.train.amp
    with autocast(device, amp):
        sr = models.g_train(lr_img)
        losses = _generator_losses(models, config, sr, hr_img)
    loss_g = sum(losses.values())
    models.opt_g.zero_grad(set_to_none=True)
    models.scaler.scale(loss_g).backward()
    finite = bool(torch.isfinite(loss_g))
    if models.is_gan:
        # discriminator: real HR against the generator's (detached) output
        models.disc.requires_grad_(True)
        with autocast(device, amp):
            real_logits, fake_logits = models.d_train(
                torch.cat([hr_img, sr.detach()])).float().chunk(2)
            loss_d = discriminator_loss(config.gan.gan_type, real_logits, fake_logits)
        models.opt_d.zero_grad(set_to_none=True)
        models.scaler.scale(loss_d).backward()
        losses["disc"] = loss_d
        finite = finite and bool(torch.isfinite(loss_d))
    if config.train.grad_clip > 0:
        finite = _clip_gradients(models, config.train.grad_clip) and finite
    return losses, finite


def _generator_losses(models: PhaseModels, config: Config, sr: torch.Tensor,
                      hr_img: torch.Tensor) -> dict[str, torch.Tensor]:
    """Pixel loss, and in the gan phase the perceptual and adversarial losses, weighted."""
    phase, gan = config.phase(models.name), config.gan
    losses = {"pixel": phase.pixel_weight * pixel_loss(phase.pixel_loss, sr.float(), hr_img)}
    if models.is_gan:
        if models.perceptual is not None:
            losses["perceptual"] = gan.perceptual_weight * models.perceptual(sr, hr_img)
        models.disc.requires_grad_(False)  # D is a fixed critic in this step (no DDP sync)
        real_logits, fake_logits = models.disc(torch.cat([hr_img, sr])).float().chunk(2)
        losses["adversarial"] = gan.gan_weight * generator_adversarial_loss(
            gan.gan_type, real_logits, fake_logits)
    return losses


def _clip_gradients(models: PhaseModels, max_norm: float) -> bool:
    """Clip each module's gradient norm; False when a norm is not finite."""
    finite = True
    for opt, module in ((models.opt_g, models.generator), (models.opt_d, models.disc)):
        if opt is not None:
            models.scaler.unscale_(opt)
            norm = torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm)
            # with fp16 an inf norm is the scaler's business (it skips and rescales)
            finite = finite and (models.scaler.is_enabled() or bool(torch.isfinite(norm)))
    return finite


def apply_update(models: PhaseModels) -> None:
    """Step the optimisers with the gradients of `train_step`, then the EMA."""
    models.scaler.step(models.opt_g)
    if models.is_gan:
        models.scaler.step(models.opt_d)
    models.scaler.update()
    if models.ema is not None:
        models.ema.update(models.generator)


def drop_update(models: PhaseModels) -> None:
    """The NaN/Inf guard: forget this step's gradients; with fp16, halve the loss scale."""
    models.opt_g.zero_grad(set_to_none=True)
    if models.is_gan:
        models.opt_d.zero_grad(set_to_none=True)
    if models.scaler.is_enabled():
        models.scaler.update(models.scaler.get_scale() / 2)
