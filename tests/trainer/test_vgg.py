"""VGG19 perceptual features: torchvision-format weights, layer names, clear weight errors."""

from __future__ import annotations

import pytest
import torch

from uprez.trainer.perceptual import BackboneWeightsError, PerceptualLoss, load_backbone
from uprez.trainer.vgg import VGG19Features, layer_names


def load_vgg19(layers, weights="", **options):
    return load_backbone("vgg19", layers, weights, **options)


def test_layer_names_follow_torchvision_indices():
    names = layer_names()
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names.index("conv5_4") == 34 and len(names) == 37  # features.34 in torchvision


def test_loader_reads_a_torchvision_state_dict(vgg_weights):
    model = load_vgg19(["conv5_4", "relu2_2"], str(vgg_weights))
    state = torch.load(vgg_weights, weights_only=True)
    assert torch.equal(model.features[34].weight, state["features.34.weight"])
    assert torch.equal(model.features[0].bias, state["features.0.bias"])
    features = model(torch.rand(1, 3, 32, 32))
    assert (features["conv5_4"].shape == (1, 512, 2, 2)
            and features["relu2_2"].shape == (1, 128, 16, 16))
    assert (features["relu2_2"] >= 0).all() and (features["conv5_4"] < 0).any()  # pre-activation
    assert not any(p.requires_grad for p in model.parameters())


def test_only_the_layers_needed_are_built():
    assert len(VGG19Features(["relu1_2"]).features) == 4


def test_perceptual_loss_is_zero_for_equal_images_and_has_gradients(vgg_weights):
    loss_fn = PerceptualLoss(load_vgg19(["conv2_2"], str(vgg_weights)), {"conv2_2": 1.0})
    target = torch.rand(1, 3, 16, 16)
    output = target.clone().requires_grad_(True)
    assert loss_fn(output, target).item() == 0
    loss = loss_fn(output + 0.1 * torch.rand_like(output), target)
    loss.backward()
    assert loss.item() > 0 and output.grad.abs().sum() > 0


def test_wrong_weights_are_explained(tmp_path, vgg_weights):
    state = torch.load(vgg_weights, weights_only=True)
    state["features.2.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(BackboneWeightsError, match=r"features.2.weight has shape \(64, 64, 1, 1\)"):
        load_vgg19(["conv5_4"], str(tmp_path / "odd.pth"))
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "short.pth")
    with pytest.raises(BackboneWeightsError, match="has no features.0.bias"):
        load_vgg19(["conv1_1"], str(tmp_path / "short.pth"))
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        VGG19Features(["conv6_1"])


def test_without_weights_and_without_download_the_error_says_how_to_supply_them(
        tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(BackboneWeightsError) as info:
        load_vgg19(["conv5_4"], allow_download=False)
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message and "--vgg-weights" in message
    assert str(tmp_path / "hub" / "checkpoints") in message


def test_weights_in_the_hub_cache_are_found(tmp_path, monkeypatch, vgg_weights):
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth").write_bytes(vgg_weights.read_bytes())
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    model = load_vgg19(["conv1_1"], allow_download=False)
    saved = torch.load(vgg_weights, weights_only=True)
    assert torch.equal(model.features[0].weight, saved["features.0.weight"])
