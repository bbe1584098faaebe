"""`sr-train`: train a super-resolution generator."""

from __future__ import annotations

import os
import shlex
import sys
import typing
from pathlib import Path

import click

from uprez.runtime.base import console
from uprez.runtime.base.console import require_extra
from uprez.runtime.base.report import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE

from .config import Amp
from .presets import DEFAULT_PRESET, PRESETS

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
EXAMPLES = """
\b
Examples:
  # compact x4 on a CPU for 20 minutes, validating every 250 steps
  sr-train --preset compact-x4 --data train/ --val val/ --output runs/compact \\
           --max-minutes 20 --set val.every=250
  # ESRGAN: PSNR phase, then GAN phase from its EMA generator (VGG19 weights needed)
  sr-train --preset esrgan-x4 --data DIV2K_HR/ --val Set14/ --output runs/esrgan \\
           --vgg-weights vgg19-dcbb9e9d.pth
  # for real inputs (JPEG, noise, blur: the [degradation] section), as uprez-real-x4 was made
  sr-train --preset real-compact-x4 --data train/ --val val/ --output runs/real \\
           --max-minutes 115
  # SGD with Nesterov momentum instead of Adam; sr-compare draws runs side by side
  sr-train --preset compact-x4 --data train/ --val val/ --output runs/sgd \\
           --set psnr.optimizer=sgd --set psnr.lr=0.05 \\
           --set 'psnr.optimizer_settings={ momentum = 0.9, nesterov = true }'
  # continue a stopped run (its saved config; --set may change values)
  sr-train --output runs/compact --resume --set train.max_minutes=60
  # see the full config a command would run with
  sr-train --preset srgan-x4 --set gan.gan_weight=1e-2 --print-config
  # fine-tune a downloaded model on your own photos (architecture and sizes from the file)
  sr-train --preset real-compact-x4 --init realesr-general-x4v3.pth --data photos/ \\
           --output runs/mine --max-minutes 30
"""


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
               epilog=EXAMPLES)
@click.option("--preset", type=click.Choice(list(PRESETS)),
              help=f"Named config to start from (default {DEFAULT_PRESET}).")
@click.option("--config", "config_file", type=_FILE,
              help="TOML config file; over --preset if given, else over the built-in defaults.")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of HR training images; LR made on the fly (MATLAB bicubic).")
@click.option("--lr", "lr_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of LR images paired by name with --hr (instead of --data).")
@click.option("--hr", "hr_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of HR images paired with --lr.")
@click.option("--val", "val_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of HR validation images: Y-PSNR/SSIM vs bicubic every val.every steps.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: config.toml, checkpoints/, metrics, samples/, generator.pth "
                   "(needed unless --print-config).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --output from its latest checkpoint.")
@click.option("--max-minutes", type=click.FloatRange(min=0),
              help="Stop cleanly after this many minutes (the LR schedule ends on time).")
@click.option("--vgg-weights", type=_FILE,
              help="torchvision vgg19 state dict for the perceptual loss (default: torch hub "
                   "cache).")
@click.option("--init", "init_weights", type=_FILE,
              help="Start the generator from these weights: sr-train's generator.pth or any "
                   "file sr-export reads (Real-ESRGAN, ESRGAN, SPAN, SwinIR, HAT, DAT, OmniSR; "
                   ".pth or .safetensors). model.arch, model.scale and model.hparams come from "
                   "the file; values given with --set or --config must match it.")
@click.option("--device", help="auto (default), cpu, cuda, cuda:N or mps.")
@click.option("--amp", type=click.Choice(typing.get_args(Amp)),
              help="Mixed precision: bf16 (CPU/GPU) or fp16 (CUDA, with a GradScaler).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one config value (TOML syntax), e.g. --set psnr.steps=2000. "
                   "Repeatable.")
@click.option("--print-config", is_flag=True, help="Print the resolved config as TOML and exit.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
def cli(preset, config_file, data, lr_dir, hr_dir, val_dir, output, resume, max_minutes,
        vgg_weights, init_weights, device, amp, overrides, print_config, quiet) -> None:
    """Train a super-resolution generator (SRResNet, RRDBNet, compact) on a folder of images.

    --init FILE fine-tunes an existing generator instead of starting from random weights: ours
    or one sr-export reads, whose architecture, scale and sizes are read from the file (pickled
    code is never executed); --preset then only chooses the training recipe.

    A run is one or two phases (train.phases): "psnr" trains on the pixel loss; "gan" adds the
    perceptual loss (gan.perceptual_backbone: VGG19, ResNet-50 or ResNet-152 features) and the
    adversarial loss, and starts from the PSNR phase's EMA generator. Each phase's optimizer is
    <phase>.optimizer (adam, adamw, sgd, adagrad, rmsprop; gan.optimizer_d for the
    discriminator), its own settings in <phase>.optimizer_settings. The
    config is the preset, then --config, then these options and --set; the resolved config is
    saved as RUN/config.toml. The result is RUN/generator.pth, ready for sr-export.

    Ctrl-C or SIGTERM saves the training state (exit 130); --resume goes on from it, to the
    same weights as a run never stopped. Exit codes: 0 done, 1 the run failed (diverged, disk
    full), 2 usage (bad config, missing folder, no usable images, no checkpoint), 130 stopped.

    Under torchrun every process runs the same command (data.batch_size is per process).
    """
    from . import config_io
    from .config import Config

    console.set_quiet(quiet)
    if output is None and (resume or not print_config):
        raise click.UsageError("missing --output DIR (the run folder)")
    try:
        config = _resolve_config(preset, config_file, output, resume)
        cli_values = {
            "data.hr": data or hr_dir, "data.lr": lr_dir, "val.dir": val_dir,
            "train.max_minutes": max_minutes, "gan.vgg_weights": vgg_weights,
            "model.init": init_weights, "train.device": device, "train.amp": amp,
        }
        if data and (lr_dir or hr_dir):
            raise click.UsageError("use either --data or --lr/--hr, not both")
        if bool(lr_dir) != bool(hr_dir):
            raise click.UsageError("--lr and --hr go together")
        settings = [f"{key}={config_io.toml_value(str(v) if isinstance(v, Path) else v)}"
                    for key, v in cli_values.items() if v is not None]
        config = config_io.apply_overrides(config, settings + list(overrides))
        if config.model.init and not resume:  # a resumed run's config.toml has the file's model
            config = _model_from_init(config, config_file, list(overrides))
        config_io.validate(config)
    except config_io.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if print_config:
        console.result(config_io.to_toml(config).rstrip())
        return
    if not config.data.hr:
        raise click.UsageError("no training data: give --data DIR (or --lr DIR --hr DIR)")
    assert isinstance(config, Config)
    sys.exit(_train(config, output, resume))


def _model_from_init(config, config_file: Path | None, overrides: list[str]):
    """The config with the model of the file model.init names; a file that cannot be read is a
    usage error (exit 2) without a traceback, a conflict with a value the user set too."""
    from uprez.runtime.base.weights import CheckpointError

    from . import config_io
    from .init_weights import model_from_init

    set_by = config_io.where_set(config_file, overrides)
    try:
        return model_from_init(config, set_by)
    except CheckpointError as exc:
        _fail(f"{'model.init' if 'model.init' in set_by else '--init'} {exc}", EXIT_USAGE)


def _train(config, output: Path, resume: bool) -> int:
    """Run the training; the exit code: 0 done, 1 failed on the way (diverged, a full disk),
    2 what was asked for cannot be done (data, weights, device, checkpoints), 130 stopped by
    Ctrl-C or SIGTERM. Errors are one line, with what to do."""
    from uprez.runtime.base.weights import CheckpointError

    from .run import run_training
    from .setup import TrainingError
    from .train import TrainingInterrupted

    go_on = f"sr-train --output {shlex.quote(str(output))} --resume"
    try:
        run_training(config, output, resume=resume)
    except TrainingInterrupted as exc:
        if exc.saved:
            console.error(f"{exc}; state saved, continue with: {go_on}")
        else:
            console.error(f"{exc}, in the middle of a step: its state was not saved"
                          + (f"; continue from the last checkpoint with: {go_on}"
                             if _has_checkpoint(output) else ""))
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # outside the training loop: setting up, between phases
        console.error("interrupted" + (f"; continue from the last checkpoint with: {go_on}"
                                       if _has_checkpoint(output) else ""))
        return EXIT_INTERRUPTED
    except TrainingError as exc:
        _fail(str(exc), exc.exit_code)
    except CheckpointError as exc:
        _fail(str(exc), EXIT_USAGE)
    except OSError as exc:  # a full disk, a folder gone: every write is atomic, nothing is torn
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}" + (f"; the checkpoints already saved are whole, "
                                                 f"continue with: {go_on}"
                                                 if _has_checkpoint(output) else ""),
              EXIT_SOME_FAILED)
    return EXIT_OK


def _has_checkpoint(output: Path) -> bool:
    return any((output / "checkpoints").glob("*.pth"))


def _fail(message: str, exit_code: int) -> None:
    error = click.ClickException(message)
    error.exit_code = exit_code
    raise error


def _resolve_config(preset: str | None, config_file: Path | None, output: Path, resume: bool):
    from . import config_io
    from .config import Config
    from .presets import preset_path

    if resume:
        if preset or config_file:
            raise click.UsageError("--resume uses the run's saved config.toml; change values "
                                   "with --set")
        saved = output / "config.toml"
        if not saved.is_file():
            raise click.UsageError(f"--resume: {saved} does not exist (is {output} a run folder?)")
        return config_io.load_toml(Config(), saved)
    if config_file and not preset:
        return config_io.load_toml(Config(), config_file)
    config = config_io.load_toml(Config(), preset_path(preset or DEFAULT_PRESET))
    return config_io.load_toml(config, config_file) if config_file else config


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else list(args)
    # OpenMP threads that spin while waiting collapse CPU training ~3x when another process
    # shares the cores; sleeping costs next to nothing for conv-sized work. Set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if not {"-h", "--help"} & set(argv):
        try:  # before click parses: without torch, the install hint beats "missing --output"
            require_extra("sr-train", "train", "torch", "matplotlib")
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
    cli.main(args=argv, prog_name="sr-train")


if __name__ == "__main__":  # torchrun -m uprez.trainer.cli ...
    main()
