"""DDP on CPU (gloo): two processes train on different patches and end with the same weights."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp

from uprez.trainer.run import run_training

from .conftest import tiny_config, write_images


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(rank: int, world: int, port: int, config, run_dir, out_dir) -> None:
    # what torchrun sets for each process
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    final = run_training(config, run_dir)
    torch.save({"params": final["params"], "params_ema": final["params_ema"]},
               out_dir / f"rank{rank}.pt")


def test_two_cpu_processes_keep_generator_weights_in_sync(tmp_path, vgg_weights):
    hr = write_images(tmp_path / "hr", [(40, 48), (48, 40), (36, 44), (44, 36)])
    config = tiny_config(hr, None, "train.phases=['psnr', 'gan']", "psnr.steps=3", "gan.steps=2",
                         f'gan.vgg_weights="{vgg_weights}"', "data.batch_size=2")
    mp.spawn(_train, args=(2, _free_port(), config, tmp_path / "run", tmp_path), nprocs=2,
             join=True)

    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in ("params", "params_ema"):
        for name, value in rank0[key].items():
            assert torch.equal(value, rank1[key][name]), f"{key}.{name} differs between ranks"
    written = torch.load(tmp_path / "run" / "generator.pth", weights_only=True)
    assert all(torch.equal(v, rank0["params"][k]) for k, v in written["params"].items())
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 3 + 2  # one writer: a record per step, not two
