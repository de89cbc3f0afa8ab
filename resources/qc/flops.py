"""Exact FLOPs of identity scoring, counted on full-size backbones built on the meta device.

The configs are those of the production checkpoints' config.json (facebook/dinov2-base,
openai/clip-vit-large-patch14 vision tower); nothing is downloaded and no weight is allocated.
torch's FlopCounterMode counts every matmul and attention of one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from resources.qc.identity import FRAMES_PER_SHOT

# The published configs' fields that shape the forward pass, as plain data: the quote keys its
# cached counts by their digest, and importing this module loads no model library.
BACKBONE_CONFIGS = {
    "dinov2": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,  # the position grid it was trained with; inputs are interpolated
    ),
    "clip": dict(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        patch_size=14,
        image_size=224,
        projection_dim=768,
    ),
}

# What counts one image through a backbone: (backbone, height, width) -> FLOPs.
Forward = Callable[[str, int, int], int]


def backbone_config(backbone: str) -> dict[str, int]:
    """`backbone`'s config fields; an unknown backbone is refused by name."""
    if backbone not in BACKBONE_CONFIGS:
        raise ValueError(f"backbone={backbone!r}: expected one of {', '.join(BACKBONE_CONFIGS)}")
    return BACKBONE_CONFIGS[backbone]


@cache
def forward_flops(backbone: str, height: int, width: int) -> int:
    """FLOPs of one image of `height` x `width` through `backbone` ("dinov2" | "clip")."""
    config = backbone_config(backbone)
    from transformers import (
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        Dinov2Config,
        Dinov2Model,
    )

    with torch.device("meta"):
        if backbone == "dinov2":
            model = Dinov2Model(Dinov2Config(**config))
        else:
            model = CLIPVisionModelWithProjection(CLIPVisionConfig(**config))
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
    num_frames: int,
    width: int,
    height: int,
    k: int = FRAMES_PER_SHOT,
    forward: Forward = forward_flops,
) -> ScoringFlops:
    """FLOPs to score one shot of `num_frames` frames rendered at `width` x `height`; each
    image's count from `forward` (the quote's: read from its FLOP cache, counted when missing)."""
    h, w = vbench_size(width, height)
    sampled = min(k, num_frames)
    return ScoringFlops(
        temporal=num_frames * forward("dinov2", h, w),
        identity=sampled * (forward("dinov2", 224, 224) + forward("clip", 224, 224)),
        frames=num_frames,
    )
