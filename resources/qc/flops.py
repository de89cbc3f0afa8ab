"""Exact FLOPs of identity scoring, counted on full-size backbones built on the meta device.

The configs are those of the production checkpoints' config.json (facebook/dinov2-base,
openai/clip-vit-large-patch14 vision tower); nothing is downloaded and no weight is allocated.
torch's FlopCounterMode counts every matmul and attention of one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    Dinov2Config,
    Dinov2Model,
)

from resources.qc.identity import FRAMES_PER_SHOT


def dinov2_base_config() -> Dinov2Config:
    return Dinov2Config(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,  # the position grid it was trained with; inputs are interpolated
    )


def clip_vit_large_config() -> CLIPVisionConfig:
    return CLIPVisionConfig(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        patch_size=14,
        image_size=224,
        projection_dim=768,
    )


@cache
def forward_flops(backbone: str, height: int, width: int) -> int:
    """FLOPs of one image of `height` x `width` through `backbone` ("dinov2" | "clip")."""
    with torch.device("meta"):
        if backbone == "dinov2":
            model = Dinov2Model(dinov2_base_config())
        elif backbone == "clip":
            model = CLIPVisionModelWithProjection(clip_vit_large_config())
        else:
            raise ValueError(f"backbone={backbone!r}: expected 'dinov2' or 'clip'")
        pixels = torch.empty(1, 3, height, width)
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(pixel_values=pixels)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class ScoringFlops:
    """What scoring one shot costs, by part."""

    temporal: int  # DINOv2 on every frame, shorter side 224 (VBench's preprocessing)
    identity: int  # DINOv2 + CLIP on k sampled frames, 224x224 crops
    frames: int

    @property
    def total(self) -> int:
        return self.temporal + self.identity


def vbench_size(width: int, height: int, side: int = 224) -> tuple[int, int]:
    """The (height, width) a frame is resized to for subject consistency: shorter side `side`."""
    scale = side / min(width, height)
    return max(side, round(height * scale)), max(side, round(width * scale))


def scoring_flops(
    num_frames: int, width: int, height: int, k: int = FRAMES_PER_SHOT
) -> ScoringFlops:
    """FLOPs to score one shot of `num_frames` frames rendered at `width` x `height`."""
    h, w = vbench_size(width, height)
    sampled = min(k, num_frames)
    return ScoringFlops(
        temporal=num_frames * forward_flops("dinov2", h, w),
        identity=sampled * (forward_flops("dinov2", 224, 224) + forward_flops("clip", 224, 224)),
        frames=num_frames,
    )
