"""Identity scoring: how well rendered frames keep the character of the reference stills.

Two backbones embed images, loaded through transformers from folders the model store resolves:
DINOv2 (`Dinov2Model`, the layer-normed CLS token) and CLIP vision
(`CLIPVisionModelWithProjection`, the projected image embedding). Every embedding is L2-normed,
so a dot product is a cosine similarity. Definitions (docs/identity.md):

* identity of a clip, per backbone: k frames sampled evenly over the clip; for each, the best
  cosine to any reference still; the mean of those k values.
* subject consistency (VBench's definition, vbench/subject_consistency.py at commit 45e79ec1):
  DINO features of every frame; for each frame i >= 1, the mean of max(0, cos(f_i, f_{i-1})) and
  max(0, cos(f_i, f_0)); the average over the n - 1 frames. Frames are resized so their shorter
  side is the backbone's input side, without cropping, then normalized, as VBench does.
* cross-shot consistency of two clips: the identity of each clip's samples against the other's
  samples (as if they were the references), averaged over both directions.

Frames are decoded in batches (`read_video`): memory holds one batch plus k sampled embeddings,
whatever the clip's length.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from resources.domain.registry import CLIP_VISION, DINOV2, VisionModel
from resources.media.video_io import probe_video, read_frames, read_video

FRAMES_PER_SHOT = 8  # k: frames sampled evenly over a clip for its identity score
BATCH_FRAMES = 16  # frames decoded and embedded at once
PRIMARY = DINOV2.name  # the backbone the thresholds apply to (docs/identity.md says why)


@dataclass(frozen=True)
class Backbone:
    """One loaded image backbone: the registry entry, the module and its image processor."""

    model: VisionModel
    module: torch.nn.Module
    processor: Any

    @property
    def input_side(self) -> int:
        crop = getattr(self.processor, "crop_size", None) or {}
        return int(crop.get("height") or self.model.image_size)


def load_backbone(
    folder: Path, model: VisionModel, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> Backbone:
    """Load `model` and its image processor from the local folder `folder`."""
    import transformers  # here, not at import: importing the code location loads no model

    cls = getattr(transformers, model.model_class, None)
    if cls is None:
        raise ValueError(
            f"registry entry {model.name!r} names {model.model_class!r}, which transformers "
            f"{transformers.__version__} does not provide"
        )
    if not (Path(folder) / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} is not a transformers model folder (no config.json) for {model.name}; "
            f"resolve it through the model store first"
        )
    module = cls.from_pretrained(folder, dtype=dtype, local_files_only=True).to(device).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    return Backbone(model, module, processor)


def sample_indices(frame_count: int, k: int = FRAMES_PER_SHOT) -> list[int]:
    """k frame indices spread evenly from the first frame to the last (all frames if fewer)."""
    if frame_count < 1:
        raise ValueError(f"frame_count={frame_count}: a clip has at least one frame")
    if k < 1:
        raise ValueError(f"k={k}: at least one frame must be sampled")
    if frame_count <= k:
        return list(range(frame_count))
    if k == 1:
        return [frame_count // 2]
    return sorted({round(i * (frame_count - 1) / (k - 1)) for i in range(k)})


def best_match_mean(samples: torch.Tensor, references: torch.Tensor) -> tuple[float, list[float]]:
    """Mean over `samples` of the best cosine to any row of `references`; and each best cosine."""
    best = (samples @ references.T).max(dim=1).values
    values = [float(v) for v in best]
    return float(np.mean(values)), values


@dataclass
class ClipScores:
    """A clip's identity per backbone, its subject consistency, and what they were computed on."""

    identity: dict[str, float]
    per_frame: dict[str, list[float]]
    frames: list[int]
    frame_count: int
    subject_consistency: float
    samples: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What a manifest keeps: every figure, no tensors."""
        return {
            "identity": self.identity,
            "per_frame": self.per_frame,
            "frames": self.frames,
            "frame_count": self.frame_count,
            "subject_consistency": self.subject_consistency,
        }


class IdentityScorer:
    """Embeds images and clips with DINOv2 and CLIP vision; scores clips against references."""

    def __init__(self, backbones: Sequence[Backbone], device: str = "cpu"):
        self.backbones = {b.model.name: b for b in backbones}
        if PRIMARY not in self.backbones:
            raise ValueError(f"identity scoring needs the {PRIMARY} backbone")
        self.device = device

    @torch.no_grad()
    def embed(self, images: Iterable[np.ndarray | Image.Image]) -> dict[str, torch.Tensor]:
        """Unit-norm embeddings (n, d) of `images` for every backbone, float32 on the CPU."""
        pictures = [i if isinstance(i, Image.Image) else Image.fromarray(i) for i in images]
        out: dict[str, list[torch.Tensor]] = {name: [] for name in self.backbones}
        for start in range(0, len(pictures), BATCH_FRAMES):
            batch = pictures[start : start + BATCH_FRAMES]
            for name, b in self.backbones.items():
                pixels = b.processor(images=batch, return_tensors="pt")["pixel_values"]
                out[name].append(self._forward(b, pixels))
        return {name: torch.cat(parts) if parts else torch.empty(0) for name, parts in out.items()}

    def _forward(self, b: Backbone, pixels: torch.Tensor) -> torch.Tensor:
        param = next(b.module.parameters())
        output = b.module(pixel_values=pixels.to(param.device, param.dtype))
        return F.normalize(getattr(output, b.model.embedding).float().cpu(), dim=-1)

    @torch.no_grad()
    def vbench_features(self, frames: np.ndarray) -> torch.Tensor:
        """DINO features of (n, H, W, 3) uint8 frames as VBench preprocesses them (no crop)."""
        b = self.backbones[PRIMARY]
        side = b.input_side
        pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
        height, width = pixels.shape[-2:]
        scale = side / min(height, width)
        size = (max(side, round(height * scale)), max(side, round(width * scale)))
        # torchvision's Resize(n, antialias=False) on tensors is bilinear without antialiasing.
        pixels = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)
        mean = torch.tensor(b.processor.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(b.processor.image_std).view(1, 3, 1, 1)
        return self._forward(b, (pixels - mean) / std)

    def score_clip(
        self, clip: Path, references: dict[str, torch.Tensor], *, k: int = FRAMES_PER_SHOT
    ) -> ClipScores:
        """Identity (per backbone) and subject consistency of `clip`, streamed in batches."""
        frame_count = probe_video(clip).frame_count
        wanted = sample_indices(frame_count, k)
        samples = {name: [] for name in self.backbones}
        first = previous = None
        total, pairs, seen = 0.0, 0, 0
        for batch in read_video(clip, batch_size=BATCH_FRAMES):
            for feature in self.vbench_features(batch):
                if first is None:
                    first = feature
                else:
                    to_previous = max(0.0, float(feature @ previous))
                    to_first = max(0.0, float(feature @ first))
                    total += (to_previous + to_first) / 2
                    pairs += 1
                previous = feature
            picked = [i - seen for i in wanted if seen <= i < seen + len(batch)]
            if picked:
                for name, emb in self.embed(list(batch[picked])).items():
                    samples[name].append(emb)
            seen += len(batch)
        if seen != frame_count:
            raise ValueError(f"{clip}: decoded {seen} frames, the container says {frame_count}")
        stacked = {name: torch.cat(parts) for name, parts in samples.items()}
        identity, per_frame = {}, {}
        for name, emb in stacked.items():
            identity[name], per_frame[name] = best_match_mean(emb, references[name])
        return ClipScores(
            identity=identity,
            per_frame=per_frame,
            frames=wanted,
            frame_count=frame_count,
            # One frame has no pair: it is perfectly consistent with itself.
            subject_consistency=total / pairs if pairs else 1.0,
            samples=stacked,
        )

    @torch.no_grad()
    def sample_segments(
        self, video: Path, segments: Sequence[tuple[str, int]], *, k: int = FRAMES_PER_SHOT
    ) -> dict[str, dict[str, torch.Tensor]]:
        """Embeddings of k evenly sampled frames of each consecutive segment (id, frames)."""
        wanted: dict[int, str] = {}
        start = 0
        for segment, count in segments:
            for i in sample_indices(count, k):
                wanted[start + i] = segment
            start += count
        found: dict[str, dict[str, list[torch.Tensor]]] = {
            s: {name: [] for name in self.backbones} for s, _ in segments
        }
        # Embedded in groups of the frames that fall in one window of BATCH_FRAMES, the groups
        # the scores have always been computed in (a batch's size can move the last float bit).
        window: list[tuple[int, np.ndarray]] = []

        def embed_window() -> None:
            embedded = self.embed([frame for _, frame in window])
            for row, (index, _) in enumerate(window):
                for name, emb in embedded.items():
                    found[wanted[index]][name].append(emb[row : row + 1])
            window.clear()

        for index, frame in read_frames(video, wanted):
            if window and window[0][0] // BATCH_FRAMES != index // BATCH_FRAMES:
                embed_window()
            window.append((index, frame))
        if window:
            embed_window()
        missing = [s for s, parts in found.items() if not parts[PRIMARY]]
        if missing:
            raise ValueError(f"{video}: no frames found for segment(s) {', '.join(missing)}")
        return {
            s: {name: torch.cat(parts) for name, parts in embs.items()} for s, embs in found.items()
        }


def cross_shot(samples: dict[str, dict[str, torch.Tensor]]) -> dict[str, Any]:
    """Pairwise cross-shot consistency of shots' sampled embeddings, per backbone.

    `pairs` lists each unordered pair once, with its score per backbone; `min` is the lowest
    score per backbone (1.0 when there is only one shot: nothing to disagree with).
    """
    ids = list(samples)
    backbones = list(next(iter(samples.values()))) if samples else []
    pairs = []
    for a, b in itertools.combinations(ids, 2):
        scores = {}
        for name in backbones:
            there, _ = best_match_mean(samples[a][name], samples[b][name])
            back, _ = best_match_mean(samples[b][name], samples[a][name])
            scores[name] = (there + back) / 2
        pairs.append({"shots": [a, b], "scores": scores})
    lowest = {name: min((p["scores"][name] for p in pairs), default=1.0) for name in backbones}
    return {"pairs": pairs, "min": lowest}


@dataclass(frozen=True)
class ReferenceSetReport:
    """Pairwise similarity of the reference stills and the stills flagged in it."""

    similarity: list[list[float]]
    mean_to_others: list[float]
    outliers: list[int]  # stills much less like the others than the set's typical still
    duplicates: list[tuple[int, int]]  # pairs so alike that one adds nothing

    def record(self) -> dict[str, Any]:
        return {
            "similarity": self.similarity,
            "mean_to_others": self.mean_to_others,
            "outliers": self.outliers,
            "duplicates": [list(p) for p in self.duplicates],
        }


def reference_set(
    embeddings: torch.Tensor, *, outlier_gap: float, duplicate_above: float
) -> ReferenceSetReport:
    """Flag outliers and near-duplicates in a set of unit-norm still embeddings (n, d).

    A still is an outlier when its mean cosine to the other stills is more than `outlier_gap`
    below the median of that figure over the set (needs at least three stills); two stills are
    near-duplicates when their cosine is above `duplicate_above`.
    """
    n = embeddings.shape[0]
    matrix = (embeddings @ embeddings.T).clamp(-1.0, 1.0)
    sims = [[round(float(v), 6) for v in row] for row in matrix]
    if n < 2:
        return ReferenceSetReport(sims, [1.0] * n, [], [])
    others = [(float(matrix[i].sum()) - float(matrix[i, i])) / (n - 1) for i in range(n)]
    median = float(np.median(others))
    outliers = [i for i, v in enumerate(others) if n >= 3 and v < median - outlier_gap]
    duplicates = [
        (i, j) for i, j in itertools.combinations(range(n), 2) if matrix[i, j] > duplicate_above
    ]
    return ReferenceSetReport(sims, others, outliers, duplicates)


def scorer_models() -> tuple[VisionModel, ...]:
    """The backbones identity scoring loads, primary first."""
    return (DINOV2, CLIP_VISION)
