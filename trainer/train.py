"""The training loop. `train_phase` is one phase top to bottom: build, resume, then per step the
batch, the learning rate, the step, the update, logging, checkpoints and validation.

Under torchrun every process runs this; only rank 0 writes files and prints progress.
"""

from __future__ import annotations

from uprez.runtime.base import interrupts

from . import checkpoint as ckpt
from .config_io import to_dict
from .data import make_loader
from .distributed import all_agree, any_says
from .phase import PhaseModels, Run, build_phase, set_learning_rates, wrap_for_training
from .progress import PhaseProgress
from .schedule import lr_factor
from .setup import TrainingError
from .step import apply_update, drop_update, train_step, training_pair


class TrainingInterrupted(Exception):
    """Ctrl-C: the state at `step` was saved."""

    def __init__(self, phase: str, step: int):
        super().__init__(f"interrupted in phase {phase} at step {step}")
        self.phase, self.step = phase, step


def train_phase(run: Run, name: str, *, init: dict | None, resume: dict | None) -> dict:
    """Train phase `name` ("psnr" or "gan"); return its generator checkpoint (CPU tensors)."""
    config, device, dist = run.config, run.device, run.dist
    phase, train = config.phase(name), config.train
    models = build_phase(run, name, init)
    if resume is not None:
        start = ckpt.restore_training_state(models, resume, run.clock)
    else:
        start = 0
        run.clock.start_phase()
    wrap_for_training(models, run)

    loader = make_loader(run.dataset, start=start, end=phase.steps,
                         batch_size=config.data.batch_size, num_workers=config.data.num_workers,
                         rank=dist.rank, world=dist.world, pin_memory=device.type == "cuda")
    progress = PhaseProgress(run, name, start)
    if start == 0:
        progress.validate(0, models.eval_generator)
        progress.restart_clock()
    step = last_saved = last_validated = start
    bad_in_a_row = 0
    try:
        for loaded in loader:
            interrupts.check()  # a Ctrl-C that a finaliser swallowed still stops here
            if any_says(run.clock.phase_over(name), dist, device):
                break
            lr_img, hr_img = training_pair(loaded, device)
            factor = lr_factor(phase, step, max(step / phase.steps, run.clock.time_progress(name)))
            set_learning_rates(models, config, factor)
            losses, finite = train_step(models, config, device, lr_img, hr_img)
            step += 1
            progress.step_taken()
            if not all_agree(finite, dist, device):  # NaN/Inf: no update; stop if it goes on
                bad_in_a_row += 1
                drop_update(models)
                if bad_in_a_row >= train.max_bad_steps:
                    raise TrainingError(_diverged(name, step, bad_in_a_row))
                continue
            bad_in_a_row = 0
            apply_update(models)

            progress.add(losses)
            if step % train.log_every == 0 or step == phase.steps:
                progress.log(step, phase.lr * factor)
            if step % train.checkpoint_every == 0:
                _save(run, models, step)
                last_saved = step
                progress.saved(step)
            if step % config.val.every == 0:
                progress.validate(step, models.eval_generator)
                last_validated = step
    except KeyboardInterrupt:
        progress.close()
        _save(run, models, step)
        raise TrainingInterrupted(name, step) from None
    progress.close()

    # end of phase (all steps done, or out of time): save, validate, hand on the generator
    if step != last_saved:
        _save(run, models, step)
    if step != last_validated:
        progress.validate(step, models.eval_generator)
    final = ckpt.generator_checkpoint(models.generator, models.ema.model if models.ema else None,
                                      step=step, phase=name, config=to_dict(config))
    if dist.is_main:
        ckpt.save_atomic(final, run.run_dir / f"generator_{name}.pth")
    return final


def _save(run: Run, models: PhaseModels, step: int) -> None:
    """The training state at `step` (rank 0), and only the newest checkpoints kept."""
    if run.dist.is_main:
        state = ckpt.training_state(models, step=step, config=run.config, clock=run.clock)
        ckpt.save_atomic(state, ckpt.checkpoint_path(run.run_dir, models.name, step))
        ckpt.prune(run.run_dir, run.config.train.keep_checkpoints)


def _diverged(name: str, step: int, bad_in_a_row: int) -> str:
    return (f"{bad_in_a_row} steps in a row had a non-finite loss or gradient (phase {name}, "
            f"step {step}); the model diverged. Lower {name}.lr, set train.grad_clip (e.g. 1.0), "
            "or use train.amp = 'none'; --resume restarts from the last checkpoint")


