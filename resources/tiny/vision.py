"""Tiny image backbones for identity scoring: DINOv2 and CLIP vision, small random weights.

The real transformers classes (`Dinov2Model`, `CLIPVisionModelWithProjection`) and the image
processors their checkpoints ship (`BitImageProcessor` for DINOv2, `CLIPImageProcessor` for CLIP),
built in code at a 32-pixel input so the production loading and embedding code runs on a CPU in
milliseconds. The weights are random: the scores they give test mechanics, not likeness.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from transformers import (
    BitImageProcessor,
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    Dinov2Config,
    Dinov2Model,
)

from resources.domain.registry import CLIP_VISION, DINOV2, VisionModel
from resources.tiny.seeding import seeded

TINY_IMAGE_SIZE = 32
_PATCH = 8
# The processors' statistics of the real checkpoints: ImageNet for DINOv2, CLIP's own for CLIP.
_IMAGENET_MEAN, _IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# Wider inits than the defaults: with them the random patch embeddings, not the shared CLS token,
# dominate the output, so different images get measurably different embeddings; wider still and
# H.264 rounding alone moves an embedding (a clip of the stills would no longer match them).
_DINO_INIT_RANGE = 0.3
_CLIP_INIT_FACTOR = 2.0


def _tiny_dinov2():
    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        mlp_ratio=2,
        image_size=TINY_IMAGE_SIZE,
        patch_size=_PATCH,
        initializer_range=_DINO_INIT_RANGE,
    )
    with seeded():
        model = Dinov2Model(config)
    # DINOv2's preprocessor_config.json (shortest edge 256, centre crop 224), scaled to 32 px.
    processor = BitImageProcessor(
        do_resize=True,
        size={"shortest_edge": TINY_IMAGE_SIZE * 256 // 224},
        do_center_crop=True,
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
        do_normalize=True,
        image_mean=_IMAGENET_MEAN,
        image_std=_IMAGENET_STD,
        do_convert_rgb=True,
    )
    return model, processor


def _tiny_clip_vision():
    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        projection_dim=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=TINY_IMAGE_SIZE,
        patch_size=_PATCH,
        initializer_factor=_CLIP_INIT_FACTOR,
    )
    with seeded():
        model = CLIPVisionModelWithProjection(config)
    processor = CLIPImageProcessor(
        do_resize=True,
        size={"shortest_edge": TINY_IMAGE_SIZE},
        do_center_crop=True,
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
        do_normalize=True,
        image_mean=_CLIP_MEAN,
        image_std=_CLIP_STD,
        do_convert_rgb=True,
    )
    return model, processor


_BUILDERS = {DINOV2.name: _tiny_dinov2, CLIP_VISION.name: _tiny_clip_vision}


def build_tiny_vision_model(model: VisionModel, out_dir: Path) -> None:
    """Build `model`'s tiny backbone and image processor and save both to `out_dir`."""
    backbone, processor = _BUILDERS[model.name]()
    out_dir = Path(out_dir)
    partial = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        backbone.save_pretrained(partial, safe_serialization=True)
        processor.save_pretrained(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(out_dir)
