"""The benchmark networks: the shipped models, an SRVGG compact 64x16 and a 23-block RRDBNet.

The two larger ones are the architectures of Real-ESRGAN's realesr-general-x4v3 and
RealESRGAN_x4plus, built with seeded random weights (the speed of a network does not depend on
its weights) and exported by uprez's exporter, so they carry the metadata `sr-run` reads. They
are marked safe in reduced precision like the trained originals, so `--precision auto` picks
bf16/fp16 for them where the device has it. Needs torch and onnx (the dev extra).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"uprez-compact-x4": REPO / "runtime" / "models" / "uprez-compact-x4.onnx",
           "uprez-compact-x2": REPO / "runtime" / "models" / "uprez-compact-x2.onnx"}
BUILT = {
    "compact-64x16": ("compact", dict(num_feat=64, num_conv=16, scale=4), 1),
    "rrdbnet-23": ("rrdbnet", dict(num_feat=64, num_block=23, num_grow_ch=32, scale=4), 1),
}


def bench_models(folder: Path, names: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Paths of the benchmark models by name; the built ones are exported into `folder` once."""
    wanted = names or (*SHIPPED, *BUILT)
    paths = {}
    for name in wanted:
        if name in SHIPPED:
            paths[name] = SHIPPED[name]
        else:
            paths[name] = _export(folder, name)
    return paths


def _export(folder: Path, name: str) -> Path:
    import torch

    from uprez.export.onnx_export import annotate, export_onnx
    from uprez.runtime.metadata import ModelInfo
    from uprez.trainer.archs import build_generator

    target = folder / f"{name}.onnx"
    if target.exists():
        return target
    arch, hparams, multiple = BUILT[name]
    torch.manual_seed(0)
    model = build_generator(arch, **hparams).eval()
    proto = export_onnx(model, size_multiple=multiple)
    # receptive fields as sr-export measures them for these architectures (pad = min(field, 32))
    info = ModelInfo(scale=hparams["scale"], receptive_field=32, size_multiple=multiple,
                     fp16_safe=True, arch=arch, hparams=dict(model.hparams), name=name)
    annotate(proto, info.to_props(), doc=f"{name}: benchmark network with random weights")
    folder.mkdir(parents=True, exist_ok=True)
    import onnx

    onnx.save(proto, str(target))
    return target
