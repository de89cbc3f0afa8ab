"""Which approved reference still a shot conditioned on the still starts from.

The identity backbones here are image-only (DINOv2, and CLIP's vision tower without its text
side), so a shot's prompt is not embedded. The choice is made in two steps, both deterministic:

1. view: the stills whose view caption (what reference_images recorded for each still: "front
   view portrait", "left side profile", ...) shares the most words with the shot's prompt; all
   stills when no caption shares a word;
2. likeness: among those, the still the primary identity backbone (DINOv2) finds most typical of
   the whole approved set: the highest cosine to the set's mean embedding, so an off-model
   still is never the one a shot is conditioned on. Ties go to the earlier still.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from resources.qc.identity import PRIMARY

METHOD = (
    "the approved stills whose view caption shares the most words with the shot's prompt, then "
    f"the one most typical of the set ({PRIMARY} cosine to the set's mean embedding)"
)
# Words every caption or prompt may carry that say nothing about the view.
_COMMON = frozenset({"a", "an", "and", "at", "from", "in", "of", "on", "the", "to", "view", "with"})


@dataclass(frozen=True)
class ReferenceStill:
    """One approved still a shot may start from: its file, sha256 and recorded view."""

    path: Path
    sha256: str
    view: str
    caption: str


@dataclass(frozen=True)
class StillChoice:
    """The still chosen for one shot, and why."""

    still: ReferenceStill
    view_words: tuple[str, ...]  # the caption's words found in the prompt
    typicality: float  # primary-backbone cosine to the set's mean embedding

    def record(self) -> dict[str, Any]:
        """What the shot unit's manifest and the video_clips manifest say of the still."""
        return {
            "file": self.still.path.name,
            "sha256": self.still.sha256,
            "view": self.still.view,
            "view_words": list(self.view_words),
            "typicality": self.typicality,
            "method": METHOD,
        }


def words(text: str) -> set[str]:
    """The lower-case words of `text` that can say something about a view."""
    return {w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower()) if w not in _COMMON}


def typicality(embeddings: torch.Tensor) -> list[float]:
    """Each unit-norm still embedding's cosine to the set's (normalised) mean, 6 decimals: the
    rounding keeps the choice the same across devices whose float sums differ in the last bits."""
    centre = F.normalize(embeddings.mean(dim=0), dim=-1)
    return [round(float(v), 6) for v in embeddings @ centre]


def choose_still(
    prompt: str, stills: list[ReferenceStill], embeddings: torch.Tensor
) -> StillChoice:
    """The still shot `prompt` is conditioned on; `embeddings`: the stills' primary-backbone
    embeddings (n, d), in the order of `stills`."""
    if not stills:
        raise ValueError("no approved reference still to condition the shot on")
    if embeddings.shape[0] != len(stills):
        raise ValueError(f"{embeddings.shape[0]} embeddings for {len(stills)} reference stills")
    asked = words(prompt)
    shared = [tuple(sorted(words(s.caption) & asked)) for s in stills]
    typical = typicality(embeddings)
    best = min(range(len(stills)), key=lambda i: (-len(shared[i]), -typical[i], i))
    return StillChoice(stills[best], shared[best], typical[best])
