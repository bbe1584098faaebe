"""Reading checkpoints: wrappers and prefixes peeled off; bad, foreign and unsafe files refused
with one clear reason, and pickled code never executed."""

import os
import pickle
from pathlib import Path

import pytest
import torch

from uprez.runtime.base.weights import CheckpointError
from uprez.trainer.weights_file import load_checkpoint

from .weight_layouts import tiny_model

MARKER = "uprez-weights-test-pwned"


class ExecutesOnLoad:
    """Unpickling this calls os.mkdir(path): proof that code ran."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def _weights():
    return tiny_model("compact", 2).state_dict()


@pytest.mark.parametrize("writer", ["torch.save", "plain pickle"])
def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, writer):
    proof = tmp_path / MARKER
    payload = {"params": _weights(), "extra": ExecutesOnLoad(proof)}
    path = tmp_path / "evil.pth"
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        # tensors in a plain pickle are refused by name first; leave only the payload
        path.write_bytes(pickle.dumps({"extra": ExecutesOnLoad(proof)}, protocol=2))
    with pytest.raises(CheckpointError,
                       match=r"refused: the file pickles Python objects \((posix|nt)\.mkdir\)"):
        load_checkpoint(path)
    assert not proof.exists()


def test_whole_pickled_module_is_refused_with_a_hint_to_save_the_state_dict(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(tiny_model("compact", 2), path)
    with pytest.raises(CheckpointError, match="re-save it as a plain state_dict"):
        load_checkpoint(path)


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"),
    (b"model weights go here\n", "it looks like a text file"),
    (bytes(range(256)) * 4, "unknown binary format"),
])
def test_files_that_are_no_checkpoint_are_named_as_such(tmp_path, content, reason):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=reason):
        load_checkpoint(path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_checkpoint_is_reported_as_truncated_or_corrupt(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    if suffix == ".pth":
        torch.save(_weights(), path)
    else:
        from safetensors.torch import save_file

        save_file(_weights(), str(path))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_pickle_of_something_else_than_weights_is_refused(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(path)
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(CheckpointError, match="no weight tensors found .*epoch"):
        load_checkpoint(path)


def test_weights_with_nan_are_refused(tmp_path):
    weights = _weights()
    weights["body.0.weight"][0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(weights, path)
    with pytest.raises(CheckpointError, match="NaN or Inf .*body.0.weight"):
        load_checkpoint(path)


def test_wrappers_and_module_prefix_are_peeled_and_half_weights_become_float32(tmp_path):
    weights = {f"module.{k}": v.half() for k, v in _weights().items()}
    path = tmp_path / "wrapped.pth"
    torch.save({"model": {"state_dict": weights}, "epoch": 7}, path)
    loaded = load_checkpoint(path)
    assert set(loaded.state_dict) == set(_weights())
    assert all(v.dtype == torch.float32 for v in loaded.state_dict.values())
    assert loaded.weights == "model/state_dict"


def test_uprez_checkpoint_prefers_ema_and_falls_back_to_params_when_ema_is_none(tmp_path):
    model = tiny_model("compact", 2)
    base = {"format": "uprez-checkpoint", "format_version": 1, "arch": "compact",
            "hparams": model.hparams, "params": model.state_dict(), "step": 1}
    path = tmp_path / "g.pth"
    torch.save({**base, "params_ema": None}, path)
    loaded = load_checkpoint(path)
    assert (loaded.arch, loaded.hparams, loaded.weights) == ("compact", model.hparams, "params")
    torch.save({**base, "params_ema": model.state_dict()}, path)
    assert load_checkpoint(path).weights == "params_ema (EMA)"
    assert load_checkpoint(path, prefer_ema=False).weights == "params"


def test_uprez_checkpoint_from_a_newer_format_asks_for_an_update(tmp_path):
    path = tmp_path / "g.pth"
    torch.save({"format": "uprez-checkpoint", "format_version": 99, "arch": "compact",
                "hparams": {}, "params": _weights()}, path)
    with pytest.raises(CheckpointError, match="newer than this uprez"):
        load_checkpoint(path)


@pytest.mark.parametrize("start", [b"", b"\x80\x3e", b"\x80\x02", b"PK\x03\x04"],
                         ids=["random", "0x80-then-random", "pickle-protocol-then-random",
                              "zip-magic-then-random"])
def test_random_bytes_are_not_called_a_pickle_and_print_no_torch_warning(tmp_path, start):
    import warnings

    import numpy as np

    path = tmp_path / "random.pth"
    noise = np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path.write_bytes(start + noise[:5000 - len(start)])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(path)
    assert "pickles Python objects" not in str(refused.value)
    assert "could run code" not in str(refused.value)
    assert not [w for w in seen if "torch" in str(w.filename)], [str(w.message) for w in seen]
