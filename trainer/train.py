"""The training loop. `train_phase` is one phase top to bottom; `run_training` chains the phases.

Under torchrun every process runs this; only rank 0 writes files and prints progress.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from uprez.runtime import console, interrupts

from . import checkpoint as ckpt
from .archs import build_discriminator, build_generator
from .config import Config
from .data import PatchDataset, make_loader
from .distributed import Dist, all_agree, any_says
from .ema import EMA
from .losses import discriminator_loss, generator_adversarial_loss, pixel_loss
from .runlog import RunLog
from .schedule import Clock, lr_factor
from .setup import TrainingError, autocast, format_duration
from .validate import ValImage, validate
from .vgg import PerceptualLoss, VGG19Features


class TrainingInterrupted(Exception):
    """Ctrl-C: the state at `step` was saved."""

    def __init__(self, phase: str, step: int):
        super().__init__(f"interrupted in phase {phase} at step {step}")
        self.phase, self.step = phase, step


@dataclass
class Run:
    """What every phase of a run shares."""

    config: Config
    run_dir: Path
    dist: Dist
    device: torch.device
    dataset: PatchDataset
    val_images: list[ValImage]
    bicubic: dict
    log: RunLog | None  # rank 0 only
    clock: Clock
    vgg: VGG19Features | None  # for the perceptual loss of the gan phase


def train_phase(run: Run, name: str, *, init: dict | None, resume: dict | None) -> dict:
    """Train phase `name` ("psnr" or "gan"); return its generator checkpoint (CPU tensors)."""
    config, device, dist = run.config, run.device, run.dist
    phase, gan, train = config.phase(name), config.gan, config.train
    is_gan = name == "gan"

    # --- models, losses, optimisers
    torch.manual_seed(train.seed)
    generator = build_generator(config.model.arch, scale=config.model.scale, **config.model.hparams)
    if init is not None:
        generator.load_state_dict(init)
    generator.to(device).train()
    ema = EMA(generator, train.ema_decay) if train.ema_decay > 0 else None
    opt_g = torch.optim.Adam(generator.parameters(), lr=phase.lr, betas=tuple(phase.betas),
                             weight_decay=phase.weight_decay)
    disc = opt_d = perceptual = None
    if is_gan:
        disc = build_discriminator(gan.disc_arch, **gan.disc_hparams).to(device).train()
        opt_d = torch.optim.Adam(disc.parameters(), lr=gan.lr_d, betas=tuple(gan.betas_d))
        if run.vgg is not None:
            perceptual = PerceptualLoss(run.vgg, gan.perceptual_layers, gan.perceptual_loss).to(device)
    scaler = torch.amp.GradScaler(device.type, enabled=train.amp == "fp16")

    # --- resume: weights, optimiser moments, EMA, loss scale, RNG, clock
    start = 0
    if resume is not None:
        generator.load_state_dict(resume["params"])
        if ema is not None:
            ema.load_state_dict(resume["ema"], resume["params_ema"] or resume["params"])
        opt_g.load_state_dict(resume["optimizers"]["g"])
        if is_gan:
            disc.load_state_dict(resume["disc_params"])
            opt_d.load_state_dict(resume["optimizers"]["d"])
        scaler.load_state_dict(resume["scaler"])
        ckpt.set_rng_state(resume["rng"])
        start = resume["step"]
    run.clock.start_phase(resume["phase_start_s"] if resume is not None else None)

    g_train, d_train = generator, disc
    if dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        g_train = DistributedDataParallel(generator, device_ids=ids)
        d_train = DistributedDataParallel(disc, device_ids=ids) if is_gan else None
    if train.compile:
        g_train = torch.compile(g_train)
        d_train = torch.compile(d_train) if is_gan else None

    def state_dict(step: int) -> dict:
        """The training-state checkpoint: the contract's generator fields plus what resumes."""
        state = ckpt.generator_checkpoint(generator, ema.model if ema else None, step=step,
                                          phase=name, config=_config_dict(config))
        state.update(
            optimizers={"g": opt_g.state_dict(), **({"d": opt_d.state_dict()} if is_gan else {})},
            schedulers={"kind": phase.schedule, "stateless": True},  # lr = f(step, clock)
            scaler=scaler.state_dict(), ema=ema.state_dict() if ema else None,
            rng=ckpt.rng_state(), elapsed_s=run.clock.elapsed_s, phase_start_s=run.clock.phase_start_s,
        )
        if is_gan:
            state.update(disc_arch=gan.disc_arch, disc_hparams=dict(disc.hparams),
                         disc_params={k: v.detach().cpu() for k, v in disc.state_dict().items()})
        return state

    def save(step: int) -> None:
        if dist.is_main:
            ckpt.save_atomic(state_dict(step), ckpt.checkpoint_path(run.run_dir, name, step))
            ckpt.prune(run.run_dir, train.keep_checkpoints)

    def run_validation(step: int, loss: float | None) -> None:
        if not (dist.is_main and run.val_images):
            return
        result = validate(ema.model if ema else generator, run.val_images, config.model.scale, device,
                          samples_dir=run.run_dir / "samples", num_samples=config.val.num_samples,
                          tag=f"{name}_{step:08d}")
        run.log.append({"kind": "val", "phase": name, "step": step, **run.bicubic, **result})
        run.log.plot()
        bar.clear()
        console.info(f"{name} {step}/{phase.steps}: PSNR-Y {result['psnr_y']:.2f} dB "
                     f"(bicubic {run.bicubic['bicubic_psnr_y']:.2f}), SSIM-Y {result['ssim_y']:.4f}"
                     + (f", loss {loss:.4g}" if loss is not None else "") + timing(step))

    def timing(step: int) -> str:
        """", 4m10s elapsed, 15m50s to go" (to the end of the phase or of the time budget)."""
        text = f", {format_duration(run.clock.elapsed_s)} elapsed"
        if step > start and step < phase.steps:
            rate = (step - start) / max(time.monotonic() - loop_started, 1e-9)
            left = min((phase.steps - step) / rate, run.clock.time_left(name))
            text += f", {format_duration(left)} to go" if left >= 1 else ""
        return text

    # --- the loop
    loader = make_loader(run.dataset, start=start, end=phase.steps, batch_size=config.data.batch_size,
                         num_workers=config.data.num_workers, rank=dist.rank, world=dist.world,
                         pin_memory=device.type == "cuda")
    bar = console.progress(total=phase.steps, desc=name, unit="step", position=None)
    bar.n = bar.last_print_n = start
    loop_started = time.monotonic()
    if start == 0:
        run_validation(0, None)
        loop_started = time.monotonic()
    running: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=device))
    counted, bad_in_a_row, step, last_saved, last_validated = 0, 0, start, start, start
    last_loss: float | None = None
    last_log_time, last_log_step = time.monotonic(), start
    try:
        for lr_img, hr_img in loader:
            interrupts.check()  # a Ctrl-C that a finaliser swallowed still stops here
            if any_says(run.clock.phase_over(name), dist, device):
                break
            lr_img = lr_img.to(device, non_blocking=True)
            hr_img = hr_img.to(device, non_blocking=True)
            factor = lr_factor(phase, step, max(step / phase.steps, run.clock.time_progress(name)))
            for group in opt_g.param_groups:
                group["lr"] = phase.lr * factor
            for group in opt_d.param_groups if is_gan else ():
                group["lr"] = gan.lr_d * factor

            # generator: pixel (+ perceptual + adversarial) loss
            with autocast(device, train.amp):
                sr = g_train(lr_img)
                losses = {"pixel": phase.pixel_weight * pixel_loss(phase.pixel_loss, sr.float(), hr_img)}
                if is_gan:
                    if perceptual is not None:
                        losses["perceptual"] = gan.perceptual_weight * perceptual(sr, hr_img)
                    disc.requires_grad_(False)  # D is a fixed critic in this step (no DDP sync)
                    real_logits, fake_logits = disc(torch.cat([hr_img, sr])).float().chunk(2)
                    losses["adversarial"] = gan.gan_weight * generator_adversarial_loss(
                        gan.gan_type, real_logits, fake_logits)
            loss_g = sum(losses.values())
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(loss_g).backward()
            finite = bool(torch.isfinite(loss_g))

            # discriminator: real HR against the generator's (detached) output
            if is_gan:
                disc.requires_grad_(True)
                with autocast(device, train.amp):
                    real_logits, fake_logits = d_train(torch.cat([hr_img, sr.detach()])).float().chunk(2)
                    loss_d = discriminator_loss(gan.gan_type, real_logits, fake_logits)
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(loss_d).backward()
                losses["disc"] = loss_d
                finite = finite and bool(torch.isfinite(loss_d))

            if train.grad_clip > 0:
                for opt, module in ((opt_g, generator), (opt_d, disc)):
                    if opt is not None:
                        scaler.unscale_(opt)
                        norm = torch.nn.utils.clip_grad_norm_(module.parameters(), train.grad_clip)
                        # with fp16 an inf norm is the scaler's business (it skips and rescales)
                        finite = finite and (scaler.is_enabled() or bool(torch.isfinite(norm)))

            step += 1
            bar.update(1)
            if not all_agree(finite, dist, device):
                # NaN/Inf guard: drop this update; stop if it keeps happening
                bad_in_a_row += 1
                opt_g.zero_grad(set_to_none=True)
                if is_gan:
                    opt_d.zero_grad(set_to_none=True)
                if scaler.is_enabled():
                    scaler.update(scaler.get_scale() / 2)
                if bad_in_a_row >= train.max_bad_steps:
                    raise TrainingError(
                        f"{bad_in_a_row} steps in a row had a non-finite loss or gradient "
                        f"(phase {name}, step {step}); the model diverged. Lower {name}.lr, set "
                        f"train.grad_clip (e.g. 1.0), or use train.amp = 'none'; --resume restarts "
                        f"from the last checkpoint")
                continue
            bad_in_a_row = 0
            scaler.step(opt_g)
            if is_gan:
                scaler.step(opt_d)
            scaler.update()
            if ema is not None:
                ema.update(generator)

            for key, value in losses.items():
                running[key] += value.detach().float()
            counted += 1
            if step % train.log_every == 0 or step == phase.steps:
                means = {key: (value / counted).item() for key, value in running.items()}
                now = time.monotonic()
                record = {"kind": "train", "phase": name, "step": step, "lr": phase.lr * factor,
                          "loss": sum(v for k, v in means.items() if k != "disc"),
                          **({f"loss_{k}": v for k, v in means.items()} if is_gan else {}),
                          "steps_per_s": (step - last_log_step) / max(now - last_log_time, 1e-9),
                          "elapsed_s": run.clock.elapsed_s}
                if dist.is_main:
                    run.log.append(record)
                    postfix = {k.removeprefix("loss_"): f"{v:.4g}" for k, v in record.items()
                               if k.startswith("loss")} | {"lr": f"{record['lr']:.2e}"}
                    if run.clock.budget_s > 0:  # tqdm's ETA counts steps; the budget may end first
                        postfix["time_left"] = format_duration(run.clock.time_left(name))
                    bar.set_postfix(postfix, refresh=False)
                running.clear()
                counted, last_log_time, last_log_step, last_loss = 0, now, step, record["loss"]
            if step % train.checkpoint_every == 0:
                save(step)
                last_saved = step
                if not run.val_images and dist.is_main:
                    bar.clear()
                    loss = "" if last_loss is None else f": loss {last_loss:.4g}"  # none logged yet
                    console.info(f"{name} {step}/{phase.steps}{loss}" + timing(step))
            if step % config.val.every == 0:
                run_validation(step, last_loss)
                last_validated = step
    except KeyboardInterrupt:
        bar.close()
        save(step)
        raise TrainingInterrupted(name, step) from None
    bar.close()

    # --- end of phase (all steps done, or out of time): save, validate, hand on the generator
    if step != last_saved:
        save(step)
    if step != last_validated:
        run_validation(step, last_loss)
    final = ckpt.generator_checkpoint(generator, ema.model if ema else None, step=step, phase=name,
                                      config=_config_dict(config))
    if dist.is_main:
        ckpt.save_atomic(final, run.run_dir / f"generator_{name}.pth")
    return final


def _config_dict(config: Config) -> dict:
    from .config_io import to_dict

    return to_dict(config)
