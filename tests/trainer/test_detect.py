"""Architecture detection from keys and shapes, on full-size public layouts (meta tensors, no
compute), and the errors for weights that fit nothing."""

import pytest
import torch

from uprez.trainer.archs import build_generator
from uprez.trainer.archs.detect import DetectionError, detect

from .weight_layouts import to_esrgan_new, to_esrgan_old


def full_size_state_dict(arch: str, **hparams) -> dict:
    with torch.device("meta"):
        return build_generator(arch, **hparams).state_dict()


@pytest.mark.parametrize("scale, conv_first_in", [(4, 3), (2, 12), (1, 48)])
def test_real_esrgan_rrdbnet_x4plus_x2plus_and_x1_are_recognised(scale, conv_first_in):
    state = full_size_state_dict("rrdbnet", scale=scale)  # RealESRGAN_x4plus / x2plus shapes
    assert state["conv_first.weight"].shape[1] == conv_first_in
    found = detect(state)
    assert (found.arch, found.hparams) == ("rrdbnet", dict(
        num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=scale))


@pytest.mark.parametrize("num_conv, name", [(32, "realesr-general-x4v3"), (16, "animevideov3")])
def test_real_esrgan_compact_models_are_recognised(num_conv, name):
    found = detect(full_size_state_dict("compact", num_feat=64, num_conv=num_conv, scale=4))
    assert found.arch == "compact", name
    assert found.hparams == dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=num_conv,
                                 scale=4, act_type="prelu")


@pytest.mark.parametrize("scale, stages", [(4, 2), (8, 3)])
def test_original_esrgan_layouts_are_renamed_to_rrdbnet(scale, stages):
    ours = full_size_state_dict("rrdbnet", scale=scale)
    for layout in (to_esrgan_old(ours, stages), to_esrgan_new(ours)):
        found = detect(layout)
        assert found.hparams["scale"] == scale and found.hparams["num_block"] == 23
        assert set(found.state_dict) == set(ours)
        for key, value in found.state_dict.items():
            assert value.shape == ours[key].shape, key


def test_original_esrgan_x4_old_layout_keys_are_where_the_original_code_puts_them():
    old = to_esrgan_old(full_size_state_dict("rrdbnet", scale=4), stages=2)
    assert {"model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight", "model.1.sub.23.weight",
            "model.3.weight", "model.6.weight", "model.8.weight", "model.10.weight"} <= set(old)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_srresnet_scale_and_blocks_are_read_from_the_weights(scale):
    found = detect(full_size_state_dict("srresnet", scale=scale, num_block=16, batch_norm=True))
    assert found.hparams == dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=16,
                                 scale=scale, batch_norm=True)


def test_old_esrgan_x1_layout_is_named_as_unsupported():
    old = to_esrgan_old(full_size_state_dict("rrdbnet", scale=4), stages=2)
    one_x = {k: v for k, v in old.items() if not k.startswith(("model.3.", "model.6."))}
    one_x = {k.replace("model.8.", "model.2.").replace("model.10.", "model.4."): v
             for k, v in one_x.items()}
    with pytest.raises(DetectionError, match="only the x4 and x8"):
        detect(one_x)


def test_compact_without_prelu_weights_asks_for_the_uprez_checkpoint():
    state = full_size_state_dict("compact", num_feat=16, num_conv=4, act_type="relu")
    with pytest.raises(DetectionError, match="activation .* cannot be read"):
        detect(state)


def test_classifier_weights_are_rejected_naming_every_layout_tried():
    with torch.device("meta"):
        classifier = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(),
                                         torch.nn.Flatten(), torch.nn.Linear(16 * 30 * 30, 10))
    with pytest.raises(DetectionError) as error:
        detect(classifier.state_dict())
    message = str(error.value)
    for tried in ("RRDBNet", "ESRGAN old layout", "SRVGGNetCompact", "SRResNet"):
        assert tried in message
    assert "0.weight" in message


def test_grayscale_model_is_refused_as_not_rgb():
    with pytest.raises(DetectionError, match="maps 1 to 1 channels"):
        detect(full_size_state_dict("compact", num_in_ch=1, num_out_ch=1, scale=2))


def test_rrdbnet_with_an_impossible_first_conv_is_explained():
    state = full_size_state_dict("rrdbnet", scale=4)
    state["conv_first.weight"] = torch.empty(64, 7, 3, 3, device="meta")
    with pytest.raises(DetectionError, match="conv_first takes 7 channels"):
        detect(state)
