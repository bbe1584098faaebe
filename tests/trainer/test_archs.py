import pytest
import torch

from uprez.trainer.archs import ARCHS, SCALES, build_discriminator, build_generator

SMALL = {
    "srresnet": dict(num_feat=8, num_block=2),
    "rrdbnet": dict(num_feat=8, num_block=1, num_grow_ch=4),
    "compact": dict(num_feat=8, num_conv=2),
    "span": dict(feature_channels=8),
    "swinir": dict(embed_dim=12, depths=[2], num_heads=[2], window_size=4, img_size=8,
                   upsampler="pixelshuffledirect"),
    "hat": dict(embed_dim=12, depths=[2], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8),
    "dat": dict(embed_dim=32, split_size=[2, 4], depth=[3], num_heads=[2], expansion_factor=1.0,
                img_size=8, upsampler="pixelshuffledirect"),
    "omnisr": dict(num_feat=8, res_num=1, window_size=8),
}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads; on the shared 2-core machine they cost seconds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


@pytest.mark.parametrize("arch", ["span", "swinir", "hat", "dat", "omnisr"])
def test_community_architectures_train_every_weight_they_compute_with(arch):
    # DAT's position-bias MLP is embed_dim / 32 wide: at 32 its LayerNorm over one value
    # passes no gradient back, so it gets 64 here; HAT's channel attention squeezes the tiny
    # model's 4 channels to 1 behind a ReLU, which a random init leaves dead for every input
    # about one time in six, so it keeps all 4
    wider = {"dat": {"embed_dim": 64}, "hat": {"squeeze_factor": 1}}.get(arch, {})
    torch.manual_seed(0)
    model = build_generator(arch, scale=2, **{**SMALL[arch], **wider}).train()
    model(torch.rand(2, 3, 16, 16)).square().mean().backward()
    # SPAN's eval_conv only holds the fused kernel for inference
    untrained = [n for n, p in model.named_parameters()
                 if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert untrained == []


def test_span_computes_the_same_function_in_training_and_inference():
    model = build_generator("span", scale=2, **SMALL["span"])
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    x = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        trained_path = model.train()(x)
        inference_path = model.eval()(x)
    torch.testing.assert_close(trained_path, inference_path, atol=1e-4, rtol=1e-4)
