import pytest
import torch

from uprez.trainer.archs import ARCHS, SCALES, build_discriminator, build_generator

SMALL = {
    "srresnet": dict(num_feat=8, num_block=2),
    "rrdbnet": dict(num_feat=8, num_block=1, num_grow_ch=4),
    "compact": dict(num_feat=8, num_conv=2),
}


@pytest.mark.parametrize("arch, scale", [(a, s) for a in ARCHS for s in SCALES[a]])
def test_generator_output_is_input_times_scale(arch, scale):
    model = build_generator(arch, scale=scale, **SMALL[arch]).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 12, 16))
    assert out.shape == (2, 3, 12 * scale, 16 * scale)
    assert model.hparams["scale"] == scale
    rebuilt = build_generator(arch, **model.hparams)
    rebuilt.load_state_dict(model.state_dict())


def test_unsupported_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="srresnet supports scales"):
        build_generator("srresnet", scale=5)
    with pytest.raises(ValueError, match="unknown architecture 'edsr'"):
        build_generator("edsr")


def test_compact_starts_near_nearest_upsampling_of_the_input():
    # the skip connection means an untrained net already outputs roughly the upsampled input
    model = build_generator("compact", scale=2, num_feat=8, num_conv=2)
    x = torch.rand(1, 3, 8, 8)
    out = model(x)
    nearest = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
    assert (out - nearest).abs().mean() < 0.5


@pytest.mark.parametrize("size", [32, 48, 96])
def test_vgg_discriminator_works_at_any_patch_size(size):
    disc = build_discriminator("vgg", num_feat=8)
    assert disc(torch.rand(2, 3, size, size)).shape == (2, 1)


def test_unet_discriminator_scores_every_pixel():
    disc = build_discriminator("unet", num_feat=8)
    assert disc(torch.rand(2, 3, 32, 40)).shape == (2, 1, 32, 40)
