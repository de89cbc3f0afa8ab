"""What a video model family is to the code: the conventions its pipeline and transformer follow.

The registry (`resources/domain/registry.py`) says which checkpoint a model is and what it costs;
a `Family` says how its pipeline turns a caption and a still into the transformer's inputs, how
its transformer is called, and which tiny pipeline stands in for it. Every function here takes the
pipeline or module it works on: no family module imports a model library at the top.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.domain.registry import VideoModel

TextInputs = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Family:
    """One family's conventions. A module of this package defines one, named `FAMILY`."""

    name: str  # the registry's `VideoModel.family`
    # The diffusers transformer classes of its checkpoints (the quote's forward is by class).
    transformer_classes: tuple[str, ...]
    # LoRA training: (pipe, caption, device) -> the transformer's text keyword arguments.
    encode_text: Callable[[Any, str, str], TextInputs]
    # LoRA training: (pipe, raw VAE latents) -> latents normalised as the pipeline's decode
    # expects them.
    normalise_latents: Callable[[Any, torch.Tensor], torch.Tensor]
    # LoRA training: (pipe, model, transformer, noisy, timestep, text) -> the model's output in
    # the flow target's sign and layout (B, C, F, h, w).
    predict: Callable[..., torch.Tensor]
    # The quote: (model name, architecture, latent, meta module) -> one forward's keywords.
    forward_inputs: Callable[[str, Architecture, Latent, torch.nn.Module], dict[str, Any]]
    # Its tiny pipeline builder, "module:function" taking the VideoModel, imported when a tiny
    # model is built (the tiny profile: the real classes with small random weights).
    tiny: str
    # The quote: a forward that is not `module(**kwargs)` on meta tensors (None: that call).
    meta_forward: Callable[[torch.nn.Module, dict[str, Any]], Any] | None = None
    # The quote: what its forward (and backward) needs patched to run on meta (None: nothing).
    on_meta: Callable[[], AbstractContextManager[None]] | None = None
    # The quote: what its VAE's decode takes beside the latent, given the meta VAE (None: nothing).
    meta_decode_keywords: Callable[[torch.nn.Module], dict[str, Any]] | None = None
    # Rendering: (pipe, model, call keywords) -> the keywords the family's pipeline takes.
    call_keywords: Callable[[Any, VideoModel, dict[str, Any]], None] | None = None
    # Whether the pipeline calls `callback_on_step_end` (else the steps are reported at the end).
    step_callback: bool = True
    # Guidance embedded in the transformer (one pass a step, the negative prompt unused).
    embedded_guidance: bool = False
    # The kohya backend: the KohyaJob fields naming musubi-tuner's script family, --task, flow
    # shift and expert boundary for a model (None: musubi-tuner has no trainer for the family).
    musubi: Callable[[VideoModel], dict[str, Any]] | None = None
    # Components LoRA training loads although it needs no encoder from them.
    training_keeps: tuple[str, ...] = ()
    # A tier's own checkpoint (a distilled transformer) in small, "module:function" (None: the
    # family has no tier checkpoint).
    tiny_checkpoint: str | None = None
    # Models saved beside the tiny pipeline, "module:function" returning {folder: model} (None:
    # nothing beside it).
    tiny_extras: str | None = None

    def tiny_builder(self) -> Callable[[VideoModel], Any]:
        return _resolve(self.tiny)

    def tiny_checkpoint_builder(self) -> Callable[[VideoModel], torch.nn.Module]:
        if self.tiny_checkpoint is None:
            raise ValueError(f"family {self.name!r} has no tiny tier checkpoint")
        return _resolve(self.tiny_checkpoint)

    def tiny_extras_builder(self) -> Callable[[], dict[str, Any]]:
        if self.tiny_extras is None:
            raise ValueError(f"family {self.name!r} saves nothing beside its tiny pipeline")
        return _resolve(self.tiny_extras)


def _resolve(path: str) -> Callable[..., Any]:
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


def musubi_task(model: VideoModel) -> dict[str, Any]:
    """musubi-tuner's fields for a family whose script is named after it and takes --task."""
    return {"family": model.family, "task": model.musubi_task, "flow_shift": model.flow_shift}


def meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A tensor of `shape` on the meta device: a shape, no storage."""
    return torch.empty(*shape, device="meta", dtype=dtype)


def meta_mask(tokens: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A prompt mask of `tokens` valid tokens on the meta device."""
    return torch.ones(1, tokens, device="meta", dtype=dtype)


def scaled_latents(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
    """Latents times the VAE's scaling factor: pipelines that decode latents / scaling_factor."""
    return latents * pipe.vae.config.scaling_factor


def standardised_latents(pipe: Any, latents: torch.Tensor, *, scaled: bool) -> torch.Tensor:
    """(latents - mean) / std with the VAE config's per-channel statistics, times its scaling
    factor when `scaled`."""
    config = pipe.vae.config
    mean = torch.tensor(config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(config.latents_std).view(1, -1, 1, 1, 1)
    if scaled:
        return (latents - mean) * config.scaling_factor / std
    return (latents - mean) / std
