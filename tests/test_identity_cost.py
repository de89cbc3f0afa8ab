"""What identity scoring costs: exact FLOPs of the full-size backbones, against a shot's render."""

from __future__ import annotations

import pytest

from resources.domain.registry import VIDEO_MODELS
from resources.qc.flops import forward_flops, scoring_flops, vbench_size
from resources.quote.flops import FlopCache, transformer_forward


def _vit_closed_form(tokens: int, width: int, mlp: int, layers: int, patch_inputs: int) -> int:
    """2 FLOPs per multiply-add: q/k/v/out projections, the MLP, attention, the patch embedding."""
    per_layer = 8 * tokens * width**2 + 4 * tokens * width * mlp + 4 * tokens**2 * width
    return layers * per_layer + 2 * (tokens - 1) * patch_inputs * width


def test_dinov2_base_flops_match_the_vit_closed_form():
    # 224 / 14 = 16 patches a side, plus the CLS token.
    expected = _vit_closed_form(257, 768, 3072, 12, 3 * 14 * 14)
    assert forward_flops("dinov2", 224, 224) == expected


def test_clip_vit_large_flops_match_the_closed_form_plus_its_projection():
    tower = _vit_closed_form(257, 1024, 4096, 24, 3 * 14 * 14)
    projection = 2 * 1024 * 768
    assert forward_flops("clip", 224, 224) == tower + projection


def test_a_shot_costs_one_dino_pass_per_frame_plus_k_of_both_backbones():
    cost = scoring_flops(81, 832, 480)
    h, w = vbench_size(832, 480)
    assert (h, w) == (224, 388)
    assert cost.temporal == 81 * forward_flops("dinov2", h, w)
    assert cost.identity == 8 * (
        forward_flops("dinov2", 224, 224) + forward_flops("clip", 224, 224)
    )


def test_scoring_is_under_5_percent_of_the_cheapest_final_render(tmp_path):
    # LTX-Video renders with the fewest FLOPs of the registry: the worst ratio.
    model = VIDEO_MODELS["ltx_video"]
    frames = model.valid_frame_count(5.0)
    forward = transformer_forward(
        FlopCache(tmp_path),
        model.name,
        width=model.native_width,
        height=model.native_height,
        frames=frames,
    )["flops"]
    render = forward * model.default_steps * 2  # two passes per step under CFG
    scoring = scoring_flops(frames, model.native_width, model.native_height).total
    assert scoring < 0.05 * render
    assert scoring < 0.01 * render


def test_the_quote_reads_each_backbone_count_from_its_cache_as_the_counter_makes_it(tmp_path):
    from resources.quote.flops import backbone_forward, forget_memory

    forget_memory()
    first = FlopCache(tmp_path, seeded=False)
    assert backbone_forward(first, "dinov2", 224, 388) == forward_flops("dinov2", 224, 388)
    assert (first.hits, first.misses) == (0, 1) and len(list(tmp_path.glob("*.json"))) == 1
    forget_memory()
    again = FlopCache(tmp_path, seeded=False)
    assert backbone_forward(again, "dinov2", 224, 388) == forward_flops("dinov2", 224, 388)
    assert (again.hits, again.misses) == (1, 0)
    forget_memory()
    seeded = FlopCache(None)  # the committed seed's count of the scoring crop is the counter's
    assert backbone_forward(seeded, "clip", 224, 224) == forward_flops("clip", 224, 224)
    assert (seeded.hits, seeded.misses) == (1, 0)
    with pytest.raises(ValueError, match="backbone='siglip': expected one of dinov2, clip"):
        backbone_forward(seeded, "siglip", 224, 224)
