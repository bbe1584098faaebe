"""ResNet-50/152 perceptual features: torchvision's layout, weights from a file or the hub cache,
the offline error, gradients, the config, and a gan phase trained with them."""

from __future__ import annotations

import json

import pytest
import torch

from uprez.trainer import config_io
from uprez.trainer.backbone import BackboneWeightsError
from uprez.trainer.config import Config
from uprez.trainer.perceptual import PerceptualLoss, load_backbone
from uprez.trainer.resnet import ResNetFeatures, layer_names
from uprez.trainer.run import run_training

from .conftest import tiny_config, write_images

# torchvision's parameter counts (ResNet50_Weights / ResNet152_Weights meta "num_params"), less
# the 1000-class classifier (2048 x 1000 weights + 1000 biases), which the features leave out
TORCHVISION_FEATURE_PARAMS = {"resnet50": 25_557_032 - 2_049_000,
                              "resnet152": 60_192_808 - 2_049_000}


def torchvision_style_state(name: str, deepest: str) -> dict:
    """A state dict as torchvision writes it (random weights and BatchNorm statistics: the
    loader is under test), with the layers up to `deepest` and a classifier entry."""
    torch.manual_seed(0)
    model = ResNetFeatures(name, [deepest])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for key in state:
        if key.endswith("running_var"):
            state[key] = torch.rand_like(state[key]) + 0.5
        elif key.endswith("running_mean"):
            state[key] = torch.randn_like(state[key]) * 0.1
    state["fc.weight"] = torch.zeros(2, 2)
    return state


@pytest.fixture(scope="module")
def resnet50_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("resnet") / "resnet50.pth"
    torch.save(torchvision_style_state("resnet50", "layer2"), path)
    return path


@pytest.mark.parametrize("name", ["resnet50", "resnet152"])
def test_the_layout_is_torchvisions(name):
    model = ResNetFeatures(name, ["layer4"])
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_FEATURE_PARAMS[name]
    keys = model.state_dict().keys()
    for key in ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
                "layer1.0.downsample.0.weight", "layer1.0.downsample.1.bias",
                "layer2.0.conv2.weight", "layer4.2.bn3.running_var"):
        assert key in keys
    blocks = {"resnet50": "layer3.5.conv3.weight", "resnet152": "layer3.35.conv3.weight"}
    assert blocks[name] in keys and "layer2.1.downsample.0.weight" not in keys
    assert model.layer2[0].conv2.stride == (2, 2)  # v1.5: the stride in the 3x3 conv


def test_only_the_stages_needed_are_built_and_features_have_their_sizes():
    model = ResNetFeatures("resnet50", ["stem", "layer1_2", "layer2"])
    assert not hasattr(model, "layer3")
    features = model(torch.rand(1, 3, 64, 64))
    assert features["stem"].shape == (1, 64, 32, 32)
    assert features["layer1_2"].shape == (1, 256, 16, 16)
    assert features["layer2"].shape == (1, 512, 8, 8)
    assert layer_names("resnet152").index("layer3") == layer_names("resnet152").index(
        "layer3_36") + 1


def test_a_torchvision_state_dict_loads_and_the_loss_has_gradients(resnet50_weights):
    backbone = load_backbone("resnet50", ["layer1", "layer2_3"], str(resnet50_weights))
    saved = torch.load(resnet50_weights, weights_only=True)
    assert torch.equal(backbone.layer2[3].conv3.weight, saved["layer2.3.conv3.weight"])
    assert torch.equal(backbone.bn1.running_var, saved["bn1.running_var"])
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training  # BatchNorm keeps the ImageNet statistics

    loss_fn = PerceptualLoss(backbone, {"layer1": 1.0, "layer2_3": 0.5})
    target = torch.rand(2, 3, 32, 32)
    output = target.clone().requires_grad_(True)
    assert loss_fn(output, target).item() == 0
    loss = loss_fn(output + 0.1 * torch.rand_like(output), target)
    loss.backward()
    assert loss.item() > 0 and output.grad.abs().sum() > 0
    assert all(p.grad is None for p in backbone.parameters())


def test_weights_that_do_not_fit_are_explained(tmp_path, resnet50_weights):
    with pytest.raises(BackboneWeightsError, match="has no layer3.0.conv1.weight: not a "
                                                   "torchvision resnet50 state dict"):
        load_backbone("resnet50", ["layer3"], str(resnet50_weights))
    state = torch.load(resnet50_weights, weights_only=True)
    state["layer1.0.conv2.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(BackboneWeightsError, match=r"layer1.0.conv2.weight has shape "
                                                   r"\(64, 64, 1, 1\), expected \(64, 64, 3, 3\)"):
        load_backbone("resnet50", ["layer1"], str(tmp_path / "odd.pth"))
    with pytest.raises(BackboneWeightsError, match="ResNet-152 weights .*nothing.pth do not exist"):
        load_backbone("resnet152", ["layer1"], str(tmp_path / "nothing.pth"))


def test_offline_without_weights_the_error_says_how_to_supply_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(BackboneWeightsError) as info:
        load_backbone("resnet152", ["layer1"], allow_download=False)
    message = str(info.value)
    assert "ImageNet ResNet-152 weights" in message and "downloads are off" in message
    assert "https://download.pytorch.org/models/resnet152-394f9c45.pth" in message
    assert "--set gan.resnet_weights=PATH" in message
    assert str(tmp_path / "hub" / "checkpoints" / "resnet152-394f9c45.pth") in message


def test_weights_in_the_hub_cache_are_found(tmp_path, monkeypatch):
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    state = torchvision_style_state("resnet152", "layer2_2")
    torch.save(state, tmp_path / "hub" / "checkpoints" / "resnet152-394f9c45.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    backbone = load_backbone("resnet152", ["layer2_2"], allow_download=False)
    assert torch.equal(backbone.layer1[2].conv1.weight, state["layer1.2.conv1.weight"])


@pytest.mark.parametrize("settings, message", [
    (["gan.perceptual_backbone=resnet50"],  # the default layers are VGG19's
     "gan.perceptual_layers: unknown resnet50 layer.s. conv5_4; names are stem, layer1 .. layer4"),
    (["gan.perceptual_backbone=resnet50", "gan.perceptual_layers={ layer2_5 = 1.0 }"],
     "unknown resnet50 layer.s. layer2_5"),  # resnet50's layer2 has 4 blocks
    (["gan.perceptual_backbone=resnet51"], "unknown gan.perceptual_backbone 'resnet51'"),
])
def test_backbone_and_layers_are_checked_together(settings, message):
    config = config_io.apply_overrides(Config(), ["train.phases=['psnr', 'gan']", *settings])
    with pytest.raises(config_io.ConfigError, match=message):
        config_io.validate(config)


@pytest.mark.slow
def test_a_gan_phase_trains_with_resnet_features(tmp_path, resnet50_weights):
    hr = write_images(tmp_path / "hr", [(32, 32)])
    config = tiny_config(hr, None, "train.phases=['gan']", "gan.steps=2",
                         "gan.perceptual_backbone='resnet50'",
                         "gan.perceptual_layers={ layer1 = 1.0, layer2 = 0.5 }",
                         f'gan.resnet_weights="{resnet50_weights}"')
    run_training(config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    perceptual = [r["loss_perceptual"] for r in records if r["kind"] == "train"]
    assert len(perceptual) == 2 and all(v > 0 for v in perceptual)
