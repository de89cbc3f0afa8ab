"""The character LoRA's dataset: reference stills as one-frame videos in aspect-ratio buckets.

VAE latents and text embeddings are computed once and cached next to the training artifacts,
keyed by the dataset hash and the model's weights digest, so a resumed run (or a second run on
the same stills and model) skips the VAE and the text encoders entirely.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save

from resources.domain.registry import VideoModel
from resources.storage.artifact_store import sha256_file, write_atomic, write_json

CACHE_DIR = "cache"
CACHE_FORMAT = "1"  # bump when what is cached (or how) changes
MAX_ASPECT = 2.0  # buckets between 1:2 and 2:1; wider stills are centre-cropped into them


@dataclass
class Example:
    """One training still: its latents and the transformer's text inputs for its caption."""

    latents: torch.Tensor  # (C, 1, h, w), normalised as the family's pipeline expects
    text: dict[str, torch.Tensor]  # transformer keyword arguments for the caption
    bucket: tuple[int, int]  # (width, height) in pixels


@dataclass
class Dataset:
    examples: list[Example]
    empty_text: dict[str, torch.Tensor]  # the empty caption, for caption dropout
    cache_file: Path
    from_cache: bool


def dataset_hash(images: list[Path], captions: list[str]) -> str:
    """sha256 over every still's bytes and its caption, in order."""
    digest = hashlib.sha256()
    for image, caption in zip(images, captions, strict=True):
        digest.update(sha256_file(image).encode())
        digest.update(caption.encode())
    return digest.hexdigest()


def bucket_for(
    image_size: tuple[int, int], area: tuple[int, int], multiple: int
) -> tuple[int, int]:
    """The (width, height) bucket for a still: its aspect ratio at about `area`'s pixel count.

    A pure function of the still's size, so bucket assignment never depends on order or luck.
    """
    width, height = image_size
    aspect = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    pixels = area[0] * area[1]
    w = max(multiple, round(math.sqrt(pixels * aspect) / multiple) * multiple)
    h = max(multiple, round(math.sqrt(pixels / aspect) / multiple) * multiple)
    return w, h


def still_as_video(path: Path, width: int, height: int) -> torch.Tensor:
    """A still resized to cover (width, height), centre-cropped, as (1, 3, 1, H, W) in [-1, 1]."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = max(width / image.width, height / image.height)
        size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        left, top = (image.width - width) // 2, (image.height - height) // 2
        image = image.crop((left, top, left + width, top + height))
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)[None, :, None]


# -- per-family conventions: how a caption and a still look to the transformer ---------------


def encode_text(pipe, family: str, caption: str, device: str) -> dict[str, torch.Tensor]:
    """The transformer's text inputs for `caption`, as the family's pipeline makes them."""
    with torch.no_grad():
        if family == "hunyuan":
            embeds, pooled, mask = pipe.encode_prompt(caption, device=device)
            return {
                "encoder_hidden_states": embeds,
                "encoder_attention_mask": mask,
                "pooled_projections": pooled,
            }
        if family == "wan":
            # Wan has no cross-attention mask: pad to the length `__call__` renders with.
            embeds, _ = pipe.encode_prompt(
                caption, do_classifier_free_guidance=False, max_sequence_length=512, device=device
            )
            return {"encoder_hidden_states": embeds}
        if family == "ltx":
            embeds, mask, _, _ = pipe.encode_prompt(
                caption, do_classifier_free_guidance=False, device=device
            )
            return {"encoder_hidden_states": embeds, "encoder_attention_mask": mask}
        if family == "ltx2":
            # The pipeline's prompt path: Gemma's stacked hidden states through the connectors,
            # one text stream for the video branch and one for the audio branch.
            embeds, mask, _, _ = pipe.encode_prompt(
                caption,
                do_classifier_free_guidance=False,
                max_sequence_length=pipe.tokenizer.model_max_length,
                device=device,
            )
            video, audio, mask = pipe.connectors(embeds, mask, padding_side="left")
            return {
                "encoder_hidden_states": video,
                "audio_encoder_hidden_states": audio,
                "encoder_attention_mask": mask,
                "audio_encoder_attention_mask": mask.clone(),  # saved as its own tensor
            }
        if family == "cogvideox":
            # Padded to the transformer's text length, as CogVideoXPipeline renders with.
            embeds, _ = pipe.encode_prompt(
                caption,
                do_classifier_free_guidance=False,
                max_sequence_length=pipe.transformer.config.max_text_seq_length,
                device=device,
            )
            return {"encoder_hidden_states": embeds}
        if family == "mochi":
            embeds, mask, _, _ = pipe.encode_prompt(
                caption, do_classifier_free_guidance=False, device=device
            )
            return {"encoder_hidden_states": embeds, "encoder_attention_mask": mask}
        if family == "kandinsky5":
            # Qwen's tokens (the template cropped), CLIP's pooled vector and the prompt's RoPE
            # positions, as Kandinsky5T2VPipeline.__call__ makes them (max 512 tokens).
            qwen, clip, cu_seqlens = pipe.encode_prompt(
                caption, max_sequence_length=512, device=device
            )
            length = int(cu_seqlens.diff().max())
            return {
                "encoder_hidden_states": qwen,
                "pooled_projections": clip,
                "text_rope_pos": torch.arange(length, device=qwen.device),
            }
        if family == "hunyuan15":
            embeds, mask, glyph, glyph_mask = pipe.encode_prompt(caption, device=device)
            return {
                "encoder_hidden_states": embeds,
                "encoder_attention_mask": mask,
                "encoder_hidden_states_2": glyph,
                "encoder_attention_mask_2": glyph_mask,
            }
    raise ValueError(f"unknown model family {family!r}")


def encode_still(pipe, family: str, pixels: torch.Tensor) -> torch.Tensor:
    """VAE latents of a (1, 3, 1, H, W) video in [-1, 1], normalised like the pipeline's."""
    vae = pipe.vae
    with torch.no_grad():
        latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode().float().cpu()
    if family in ("hunyuan", "kandinsky5", "hunyuan15"):
        # Their pipelines decode latents / scaling_factor (Kandinsky 5 uses HunyuanVideo's VAE).
        return latents * vae.config.scaling_factor
    if family == "wan":
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        return (latents - mean) / std
    if family == "ltx":
        mean = vae.latents_mean.view(1, -1, 1, 1, 1).float().cpu()
        std = vae.latents_std.view(1, -1, 1, 1, 1).float().cpu()
        return (latents - mean) * vae.config.scaling_factor / std
    if family == "ltx2":
        mean, std = vae.latents_mean.float().cpu(), vae.latents_std.float().cpu()
        return pipe._normalize_latents(latents, mean, std, vae.config.scaling_factor)
    if family == "cogvideox":
        # train_cogvideox_lora.py: the VAE latent times scaling_factor (the pipeline divides).
        return latents * vae.config.scaling_factor
    if family == "mochi":
        # The inverse of MochiPipeline's decode: latents * std / scaling_factor + mean.
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        return (latents - mean) * vae.config.scaling_factor / std
    raise ValueError(f"unknown model family {family!r}")


# -- the cache --------------------------------------------------------------------------------


def cache_key(data_hash: str, model_digest: str, area: tuple[int, int]) -> str:
    payload = f"{CACHE_FORMAT}|{data_hash}|{model_digest}|{area[0]}x{area[1]}"
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def load_cached(cache_file: Path) -> Dataset | None:
    """The cached dataset in `cache_file`, or None if it is missing or unreadable."""
    index_file = cache_file.with_suffix(".json")
    try:
        index = json.loads(index_file.read_text())
        if sha256_file(cache_file) != index["sha256"]:
            return None
        tensors = load_file(cache_file)
        examples = [
            Example(
                tensors[f"{i}.latents"],
                {name: tensors[f"{i}.text.{name}"] for name in index["text_keys"]},
                (int(item["bucket"][0]), int(item["bucket"][1])),
            )
            for i, item in enumerate(index["examples"])
        ]
        empty = {name: tensors[f"empty.text.{name}"] for name in index["text_keys"]}
    except (OSError, KeyError, ValueError):
        return None
    return Dataset(examples, empty, cache_file, from_cache=True)


def write_cache(dataset: Dataset) -> None:
    """Write the dataset's tensors, then the index that names their sha256 (written last)."""
    tensors: dict[str, torch.Tensor] = {}
    for i, example in enumerate(dataset.examples):
        tensors[f"{i}.latents"] = example.latents.contiguous()
        for name, value in example.text.items():
            tensors[f"{i}.text.{name}"] = value.detach().cpu().contiguous()
    for name, value in dataset.empty_text.items():
        tensors[f"empty.text.{name}"] = value.detach().cpu().contiguous()
    write_atomic(dataset.cache_file, save(tensors))
    write_json(
        dataset.cache_file.with_suffix(".json"),
        {
            "sha256": sha256_file(dataset.cache_file),
            "text_keys": sorted(dataset.empty_text),
            "examples": [{"bucket": list(e.bucket)} for e in dataset.examples],
        },
    )


def encode_dataset(
    pipe,
    model: VideoModel,
    images: list[Path],
    captions: list[str],
    *,
    area: tuple[int, int],
    multiple: int,
    device: str,
    cache_file: Path,
) -> Dataset:
    """Encode every still (in its bucket) and caption with the pipeline's VAE and text encoders."""
    examples = []
    for image, caption in zip(images, captions, strict=True):
        with Image.open(image) as still:
            bucket = bucket_for(still.size, area, multiple)
        latents = encode_still(pipe, model.family, still_as_video(image, *bucket))
        text = {k: v.cpu() for k, v in encode_text(pipe, model.family, caption, device).items()}
        examples.append(Example(latents[0], text, bucket))
    empty = {k: v.cpu() for k, v in encode_text(pipe, model.family, "", device).items()}
    return Dataset(examples, empty, cache_file, from_cache=False)
