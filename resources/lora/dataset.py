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

from resources import families
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


# -- what a caption and a still look like to the family's transformer -------------------------


def encode_text(pipe, family: str, caption: str, device: str) -> dict[str, torch.Tensor]:
    """The transformer's text inputs for `caption`, as the family's pipeline makes them."""
    with torch.no_grad():
        return families.family(family).encode_text(pipe, caption, device)


def encode_still(pipe, family: str, pixels: torch.Tensor) -> torch.Tensor:
    """VAE latents of a (1, 3, 1, H, W) video in [-1, 1], normalised like the pipeline's."""
    conventions = families.family(family)
    vae = pipe.vae
    with torch.no_grad():
        latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode().float().cpu()
    return conventions.normalise_latents(pipe, latents)


# -- the cache --------------------------------------------------------------------------------


def cache_key(data_hash: str, model_digest: str, area: tuple[int, int]) -> str:
    payload = f"{CACHE_FORMAT}|{data_hash}|{model_digest}|{area[0]}x{area[1]}"
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def load_cached(cache_file: Path) -> Dataset | None:
    """The cached dataset in `cache_file`, or None if it is missing or unreadable."""
    index_file = cache_file.with_suffix(".json")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
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
