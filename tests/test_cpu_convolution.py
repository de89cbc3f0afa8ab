"""A video pipeline loaded on the CPU runs its 3D convolutions through oneDNN, not PyTorch's
reference kernel, and keeps PyTorch's own choice wherever a gradient is kept."""

from __future__ import annotations

import os

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from resources.domain.registry import video_model
from resources.models.model_store import ModelStore
from resources.runtime.cpu_convolution import onednn_conv3d
from resources.video.generator import load_video_pipeline

REFERENCE = "aten::slow_conv3d_forward"  # PyTorch's CPU kernel for small single-sample shapes
ONEDNN = "aten::mkldnn_convolution"


def kernels(call) -> set[str]:
    """The convolution operators torch ran for `call()`."""
    with profile(activities=[ProfilerActivity.CPU]) as run:
        call()
    return {event.key for event in run.key_averages() if "conv" in event.key}


def conv(**kw) -> torch.nn.Conv3d:
    torch.manual_seed(0)
    return torch.nn.Conv3d(4, 6, 3, **kw)


@pytest.mark.parametrize("options", [{"padding": 1}, {"padding": (0, 1, 1), "stride": (1, 2, 2)}])
def test_a_routed_convolution_runs_on_onednn_and_computes_the_same(options):
    x = torch.randn(1, 4, 5, 12, 16, generator=torch.Generator().manual_seed(1))
    layer = conv(**options)
    with torch.no_grad():
        reference = layer(x)
        assert ONEDNN not in kernels(lambda: layer(x))
        assert onednn_conv3d(layer) == 1
        assert kernels(lambda: layer(x)) == {ONEDNN}
        routed, again = layer(x), layer(x)
    assert routed.shape == reference.shape
    torch.testing.assert_close(routed, reference, rtol=1e-5, atol=1e-5)
    assert torch.equal(routed, again)  # the same bytes each time


def test_a_convolution_that_trains_keeps_pytorchs_kernel_and_its_gradient():
    x = torch.randn(1, 4, 5, 12, 16, generator=torch.Generator().manual_seed(1))
    plain, routed = conv(padding=1), conv(padding=1)
    onednn_conv3d(routed)
    assert kernels(lambda: routed(x)) == kernels(lambda: plain(x))  # weight.requires_grad
    assert REFERENCE in kernels(lambda: routed(x))
    routed(x).square().sum().backward()
    plain(x).square().sum().backward()
    assert torch.equal(routed.weight.grad, plain.weight.grad)
    inputs = x.clone().requires_grad_()
    routed.requires_grad_(False)
    assert REFERENCE in kernels(lambda: routed(inputs))  # the input's gradient is kept
    with torch.no_grad():
        assert kernels(lambda: routed(x)) == {ONEDNN}


def test_a_padding_mode_other_than_zeros_keeps_pytorchs_kernel():
    layer = conv(padding=1, padding_mode="replicate")
    onednn_conv3d(layer)
    with torch.no_grad():
        assert REFERENCE in kernels(lambda: layer(torch.randn(1, 4, 5, 12, 16)))


def test_the_video_vae_of_a_pipeline_loaded_on_the_cpu_decodes_with_onednn_only():
    model = video_model("hunyuan_video")
    store = ModelStore(profile="tiny", models_dir=os.environ["CHARACTER_VIDEO_MODELS"])
    pipe = load_video_pipeline(store.video_model_dir(model), model, device="cpu")
    vae = pipe.vae
    latents = torch.randn(
        1, vae.config.latent_channels, 2, 8, 8, generator=torch.Generator().manual_seed(3)
    )
    with torch.no_grad():
        used = kernels(lambda: vae.decode(latents))
    assert ONEDNN in used and REFERENCE not in used, used
