"""3D convolutions of one clip on the CPU through oneDNN, not PyTorch's reference kernel.

PyTorch picks a CPU convolution's kernel by shape: a 3D convolution of one sample (batch 1, one
group) whose kernel is at most 3 wide, and whose batch x channels x frames x height is at most
20480, goes to its reference kernel (`slow_conv3d`: unfold, then one matrix product per sample)
instead of oneDNN (aten/src/ATen/native/Convolution.cpp, `ConvParams::use_mkldnn`, "for some
case, native is faster"). Every 3x3x3 convolution of the video VAEs' decoders on small frames is
such a case, and there oneDNN is about 7x faster on the 2-core test machine
(`benchmarks/cpu_conv3d.py`, one thread: a (1, 8, 19, 66, 114) input 81.0 ms -> 11.6 ms; the
tiny HunyuanVideo VAE's decode 5.7x), which makes a tiny-profile render of a 2.45 s brief ~2.3 s
shorter (conv3d 2.73 s -> 0.44 s). The kernel changes the float sums' order, not what is computed: a
clip's bytes are fixed per kernel like any other (one thread, `threads.CPU_THREADS`), and every
process that loads a video pipeline on the CPU takes this path.

Routed: the video VAE (encoding stills for LoRA training, decoding clips) and LTX-2's latent
upsampler, and only where no gradient is kept; a convolution whose input or weight trains keeps
PyTorch's own choice. On a GPU nothing changes.
"""

from __future__ import annotations

import types

import torch


def _forward(self: torch.nn.Conv3d, input: torch.Tensor, weight, bias) -> torch.Tensor:
    if (
        input.device.type == "cpu"
        and input.dtype == torch.float32
        and self.padding_mode == "zeros"
        and not isinstance(self.padding, str)
        and not (torch.is_grad_enabled() and (input.requires_grad or weight.requires_grad))
    ):
        return torch.mkldnn_convolution(
            input, weight, bias, self.padding, self.stride, self.dilation, self.groups
        )
    return torch.nn.Conv3d._conv_forward(self, input, weight, bias)


def onednn_conv3d(module: torch.nn.Module) -> int:
    """Route `module`'s 3D convolutions through oneDNN whenever they run on the CPU with no
    gradient to keep; how many convolutions it has."""
    layers = [layer for layer in module.modules() if isinstance(layer, torch.nn.Conv3d)]
    for layer in layers:
        layer._conv_forward = types.MethodType(_forward, layer)
    return len(layers)


def onednn_conv3d_on_cpu(module: torch.nn.Module, device: str) -> None:
    """`onednn_conv3d` for a video VAE (or latent upsampler) placed on the CPU.

    Only these: the transformer keeps PyTorch's kernels, so LoRA training, which loads it alone
    when it resumes from its latent cache, computes as a first run does."""
    if str(device) == "cpu":
        onednn_conv3d(module)
