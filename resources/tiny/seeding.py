"""What every tiny builder shares: the seed, seeded initialisation, the flow-matching scheduler,
and HunyuanVideo's tiny VAE (Kandinsky 5 decodes with HunyuanVideo's VAE).

Kept apart from the family builders (video.py, ltx2.py, sdxl.py) so each imports it one way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers import AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler

from resources.domain.registry import VideoModel

SEED = 0


@contextmanager
def seeded(seed: int = SEED) -> Iterator[None]:
    """Seed torch for one module's init without disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def flow_match_scheduler(model: VideoModel) -> FlowMatchEulerDiscreteScheduler:
    if model.flow_shift is not None:
        return FlowMatchEulerDiscreteScheduler(shift=model.flow_shift)
    # No fixed shift: LTX-Video's own resolution-dependent schedule (its scheduler_config.json),
    # which LTX-2 keeps.
    return FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    )


def hunyuan_video_vae() -> AutoencoderKLHunyuanVideo:
    """HunyuanVideo's VAE layout (8x space, 4x time, its scaling factor), tiny widths."""
    with seeded():
        return AutoencoderKLHunyuanVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=("HunyuanVideoDownBlock3D",) * 4,
            up_block_types=("HunyuanVideoUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            act_fn="silu",
            norm_num_groups=4,
            scaling_factor=0.476986,
            spatial_compression_ratio=8,
            temporal_compression_ratio=4,
            mid_block_add_attention=True,
        )
