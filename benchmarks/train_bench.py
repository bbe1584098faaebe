"""Training throughput (samples/s) per architecture, float32 and with AMP autocast.

One training step as sr-train's PSNR phase does it: generator forward on a batch of LR patches,
L1 loss against the HR patches, backward, Adam step. bf16 autocast on CPU, and on CUDA also fp16
with a GradScaler. Sizes are the presets' (compact-x4 is the CPU-sized compact).

    python benchmarks/train_bench.py                 # CPU (and CUDA when there is one), ~1-2 min
    python benchmarks/train_bench.py --seconds 10 --batch 16 --archs compact,compact-64x16
    python benchmarks/train_bench.py --data ../shared/data/train   # + the data pipeline table

With --data, a second table times the patch pipeline on real photos: LR made with MATLAB bicubic
(the paper presets) against LR made with the degradation pipeline of the real-compact-x4 preset,
its chains run in the loader (numpy/OpenCV, `degradation.device = "loader"`) or in the step on the
training device (degrade_torch, "train"): first the loader alone (samples/s of one loader
process), then whole training steps of that preset with its loader (steps/s), as sr-train runs
them, on the CPU and on CUDA when there is one.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as sr-train does

import click  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from uprez.trainer.archs import build_generator  # noqa: E402

MODELS = {
    "compact": ("compact", dict(num_feat=32, num_conv=8)),  # compact-x4 preset
    "compact-64x16": ("compact", dict(num_feat=64, num_conv=16)),  # Real-ESRGAN animevideov3 size
    "srresnet": ("srresnet", dict(num_feat=64, num_block=16)),  # srgan-x4 preset (without BN)
    "rrdbnet": ("rrdbnet", dict(num_feat=64, num_block=23, num_grow_ch=32)),  # esrgan-x4 preset
}


def samples_per_second(model_name: str, device: torch.device, amp: str, batch: int, lr_patch: int,
                       seconds: float) -> float:
    arch, hparams = MODELS[model_name]
    torch.manual_seed(0)
    model = build_generator(arch, scale=4, **hparams).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    lr = torch.rand(batch, 3, lr_patch, lr_patch, device=device)
    hr = torch.rand(batch, 3, lr_patch * 4, lr_patch * 4, device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.l1_loss(model(lr).float(), hr)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up: allocator, kernel selection
    sync()
    steps, started = 0, time.perf_counter()
    while steps < 1 or time.perf_counter() - started < seconds:
        step()
        steps += 1
        sync()
    return steps * batch / (time.perf_counter() - started)


@click.command()
@click.option("--archs", default=",".join(MODELS), show_default=True,
              help="Comma-separated models.")
@click.option("--batch", default=4, show_default=True, help="Batch size (LR patches).")
@click.option("--patch", "lr_patch", default=32, show_default=True, help="LR patch side (HR = 4x).")
@click.option("--seconds", default=4.0, show_default=True, help="Timed seconds per cell.")
@click.option("--threads", type=int, help="torch.set_num_threads (default: torch's choice).")
@click.option("--all-cells", is_flag=True,
              help="Also time emulated bf16 on CPUs without native bf16 for the big models (slow).")
@click.option("--data", type=click.Path(exists=True, file_okay=False),
              help="Folder of HR photos: also time the data pipeline, bicubic vs degradations.")
@click.option("--data-only", is_flag=True, help="Only the data pipeline table (needs --data).")
def main(archs: str, batch: int, lr_patch: int, seconds: float, threads: int | None,
         all_cells: bool, data: str | None, data_only: bool) -> None:
    if threads:
        torch.set_num_threads(threads)
    if data_only:
        if not data:
            raise click.UsageError("--data-only needs --data")
        data_pipeline_table(data, seconds)
        return
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    native_bf16 = _cpu_has_bf16()
    print(f"training throughput, x4, batch {batch}, LR patch {lr_patch} px, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"native CPU bf16: {'yes' if native_bf16 else 'no'}")
    for device in devices:
        modes = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
        name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
        print(f"\n{name}: samples/s (higher is better)")
        print(f"| {'model':<14} | {'params':>7} | " + " | ".join(f"{m:>7}" for m in modes) + " |")
        print(f"|{'-' * 16}|{'-' * 9}|" + "|".join("-" * 9 for _ in modes) + "|")
        for model_name in archs.split(","):
            arch, hparams = MODELS[model_name]
            params = sum(p.numel() for p in build_generator(arch, scale=4, **hparams).parameters())
            cells = []
            for mode in modes:
                # emulated bf16 runs >10x slower than fp32: one RRDBNet step takes minutes
                if mode == "bf16" and device.type == "cpu" and not native_bf16 and params > 1e6 \
                        and not all_cells:
                    cells.append(f"{'skipped':>7}")
                    continue
                rate = samples_per_second(model_name, device, "none" if mode == "fp32" else mode,
                                          batch, lr_patch, seconds)
                cells.append(f"{rate:7.1f}")
            print(f"| {model_name:<14} | {params / 1e6:6.2f}M | " + " | ".join(cells) + " |",
                  flush=True)
    if data:
        data_pipeline_table(data, seconds)


def data_pipeline_table(data: str, seconds: float) -> None:
    """Loader samples/s and training steps/s: bicubic LR, degraded LR made in the loader, and
    degraded LR made in the step on the training device."""
    from uprez.trainer import config_io
    from uprez.trainer.config import Config
    from uprez.trainer.data import PatchDataset, data_spec
    from uprez.trainer.presets import preset_path

    preset = config_io.load_toml(Config(), preset_path("real-compact-x4"))
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"\ndata pipeline, real-compact-x4 preset (batch {preset.data.batch_size}, HR patch "
          f"{preset.data.patch_size} px), photos in {data}, {torch.get_num_threads()} threads")
    names = [torch.cuda.get_device_name() if d.type == "cuda" else "CPU" for d in devices]
    print("| LR made by           | chains run in | loader samples/s (1 process) | "
          + " | ".join(f"{name} steps/s" for name in names) + " |")
    print("|----------------------|---------------|-----------------------------:|"
          + "|".join("-" * (len(name) + 9) + ":" for name in names) + "|")
    rows = (("MATLAB bicubic", "false", "loader", "-"), ("degradation pipeline", "true", "loader",
            "loader"), ("degradation pipeline", "true", "train", "the step"))
    for label, enabled, where, shown in rows:
        config = config_io.apply_overrides(preset, [
            f'data.hr="{data}"', f"degradation.enabled={enabled}", f"degradation.device='{where}'"])
        dataset = PatchDataset(data_spec(config, 0))
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            dataset[count]
            count += 1
        loader_rate = count / (time.perf_counter() - started)
        cells = [f"{training_steps_per_second(config, dataset, seconds, d):{len(n) + 8}.2f}"
                 for d, n in zip(devices, names, strict=True)]
        print(f"| {label:<20} | {shown:<13} | {loader_rate:28.1f} | " + " | ".join(cells) + " |",
              flush=True)
        if where == "train":
            chains_alone(dataset, preset.data.batch_size, devices, names)


def chains_alone(dataset, batch: int, devices: list[torch.device], names: list[str]) -> None:
    """ms per batch of the degradation chains alone: numpy/OpenCV one sample after the other
    (one loader process), and degrade_torch's batch on each device; repeats alternate."""
    import numpy as np

    from uprez.trainer import degrade
    from uprez.trainer.data import Planned, make_planned

    planned = [item for item in (dataset[i][0] for i in range(4 * batch))
               if isinstance(item, Planned)][:batch]
    regions = [item.region.permute(1, 2, 0).numpy().astype(np.float32) / 255 for item in planned]
    times = {"numpy": [], **{name: [] for name in names}}
    for _ in range(5):
        started = time.perf_counter()
        for region, item in zip(regions, planned, strict=True):
            degrade.run(region, item.plan)
        times["numpy"].append(time.perf_counter() - started)
        for device, name in zip(devices, names, strict=True):
            started = time.perf_counter()
            make_planned(planned, device).sum().item()  # .item(): wait for the device
            times[name].append(time.perf_counter() - started)
    print(f"  the chains alone, {len(planned)} samples, median of 5 (ms): "
          + ", ".join(f"{key} {1000 * sorted(v)[2]:.0f}" for key, v in times.items()))


def training_steps_per_second(config, dataset, seconds: float, device: torch.device) -> float:
    """Steps/s of sr-train's loop: loader, `training_pair` (which runs planned chains on
    `device`), forward, backward, Adam; waiting for the device after each step as sr-train's
    finite-loss check does."""
    from uprez.trainer.data import make_loader
    from uprez.trainer.step import training_pair

    torch.manual_seed(0)
    model = build_generator(config.model.arch, scale=config.model.scale, **config.model.hparams)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = make_loader(dataset, start=0, end=100_000, batch_size=config.data.batch_size,
                         num_workers=config.data.num_workers, pin_memory=device.type == "cuda")
    steps, started = 0, None
    for batch in loader:
        lr, hr = training_pair(batch, device)
        loss = F.l1_loss(model(lr), hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        bool(torch.isfinite(loss))
        if started is None:  # the first batch pays for starting the loader process
            started = time.perf_counter()
            continue
        steps += 1
        if time.perf_counter() - started >= seconds:
            break
    return steps / (time.perf_counter() - started)


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


if __name__ == "__main__":
    main()
