"""Training-time sampling of flow-matching sigmas, as each family's recipe names it."""

from __future__ import annotations

import torch

from resources.domain.lora_recipes import TimestepSampling


def sample_sigma(
    sampling: TimestepSampling, shift: float, generator: torch.Generator
) -> torch.Tensor:
    """One training sigma in (0, 1): logit-normal, optionally shifted toward noise.

    "shift" is musubi-tuner's `--timestep_sampling shift`: a logit-normal draw mapped through
    the same shift the sampler uses (sigma' = s*sigma / (1 + (s-1)*sigma)). "logit_normal" is
    the SD3 paper's logit-normal(0, 1) draw without a shift.
    """
    u = torch.sigmoid(torch.randn((1,), generator=generator))
    if sampling == "logit_normal":
        return u
    if sampling == "shift":
        return shift * u / (1 + (shift - 1) * u)
    raise ValueError(f"unknown timestep sampling {sampling!r}; use 'shift' or 'logit_normal'")
