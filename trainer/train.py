"""The training loop. `train_phase` is one phase top to bottom: build, resume, then per step the
batch, the learning rate, the step, the update, logging, checkpoints and validation.

Under torchrun every process runs this; only rank 0 writes files and prints progress.
"""

from __future__ import annotations

import shlex

from uprez.runtime.base import interrupts

from . import checkpoint as ckpt
from .config_io import to_dict
from .data import make_loader
from .distributed import all_agree, any_says
from .phase import PhaseModels, Run, build_phase, set_learning_rates, wrap_for_training
from .progress import PhaseProgress
from .schedule import lr_factor
from .setup import TrainingFailed
from .step import apply_update, drop_update, train_step, training_pair


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM: the state at `step` was saved, unless a second Ctrl-C cut a step."""

    def __init__(self, phase: str, step: int, *, saved: bool = True):
        super().__init__(f"{interrupts.received()} in phase {phase} at step {step}")
        self.phase, self.step, self.saved = phase, step, saved


def train_phase(run: Run, name: str, *, init: dict | None, resume: dict | None) -> dict:
    """Train phase `name` ("psnr" or "gan"); return its generator checkpoint (CPU tensors)."""
    config, device, dist = run.config, run.device, run.dist
    phase, train = config.phase(name), config.train
    models = build_phase(run, name, init)
    if resume is not None:
        start = ckpt.restore_training_state(models, resume, run.clock, config)
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
    step = last_validated = start
    last_saved = start if resume is not None else -1  # a fresh phase has no checkpoint yet
    bad_in_a_row = 0
    in_step = False  # inside a step's updates, which only a second Ctrl-C can cut
    try:
        for loaded in loader:
            interrupts.check()  # a Ctrl-C that a finaliser swallowed still stops here
            if any_says(run.clock.phase_over(name), dist, device):
                progress.out_of_time()
                break
            lr_img, hr_img = training_pair(loaded, device)
            factor = lr_factor(phase, step, max(step / phase.steps, run.clock.time_progress(name)))
            set_learning_rates(models, config, factor)
            # One step is done whole or not at all, so a checkpoint of step k holds exactly k
            # updates: the forward passes change state too (BatchNorm statistics, spectral-norm
            # vectors), then the optimisers, the loss scale and the EMA; a Ctrl-C or SIGTERM
            # that lands inside waits for the end of the step.
            with interrupts.held():
                in_step = True
                losses, finite = train_step(models, config, device, lr_img, hr_img)
                finite = all_agree(finite, dist, device)
                if finite:
                    apply_update(models)
                else:  # NaN/Inf: no update; stop if it goes on
                    drop_update(models)
                step += 1
                in_step = False
            progress.step_taken()
            if not finite:
                bad_in_a_row += 1
                if bad_in_a_row >= train.max_bad_steps:
                    raise TrainingFailed(_diverged(run, name, step, bad_in_a_row))
                continue
            bad_in_a_row = 0

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
        progress.close()
        # end of phase (all steps done, or out of time): save, validate, hand on the generator
        if step != last_saved:
            _save(run, models, step)
            last_saved = step
        if step != last_validated:
            progress.validate(step, models.eval_generator)
    except KeyboardInterrupt:
        progress.close()
        if in_step:  # a second Ctrl-C inside a step: its state is torn, keep the last checkpoint
            raise TrainingInterrupted(name, step, saved=False) from None
        if step != last_saved:
            _save(run, models, step)
        raise TrainingInterrupted(name, step) from None

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


def _diverged(run: Run, name: str, step: int, bad_in_a_row: int) -> str:
    """What happened and what to do; --resume only when there is a checkpoint to go on from."""
    text = (f"{bad_in_a_row} steps in a row had a non-finite loss or gradient (phase {name}, "
            f"step {step}); the model diverged. Lower {name}.lr, set train.grad_clip (e.g. 1.0) "
            "or use train.amp = 'none'")
    last = ckpt.latest(run.run_dir)
    if last is None:
        return text + "; no checkpoint was saved yet, so start the run again with the change"
    return (text + f", then go on from {last.relative_to(run.run_dir)} with: sr-train --output "
            f"{shlex.quote(str(run.run_dir))} --resume --set KEY=VALUE")
