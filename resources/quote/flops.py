"""Exact FLOP counts of the full-size networks, built on the meta device from published configs.

Nothing is loaded and nothing is computed: `torch.device("meta")` gives every tensor a shape and
no storage, and `torch.utils.flop_counter.FlopCounterMode` adds up the FLOPs of each matmul,
convolution and attention call as the real forward (and backward) code runs. Attention is
counted: on the meta device PyTorch's SDPA takes its math path, whose batched matmuls the
counter sees (test_flops checks the count against the closed form 4 * L^2 * d per layer).

Counts depend only on the network and the shape, so they are cached on disk by
(what, model, shape) and in memory for the process: a quote of a brief already seen takes
milliseconds, a new shape a few seconds per network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from resources import families
from resources.domain.architectures import (
    REALESRGAN,
    SDXL_TEXT_ENCODERS,
    SDXL_UNET,
    SDXL_VAE,
    Architecture,
    Latent,
    Network,
    TextEncoder,
    architecture,
    latent_shape,
)
from resources.families.base import meta

# Part of every cache key: bump when what a count includes changes.
COUNT_VERSION = "2"
KEY_PREFIX = f"v{COUNT_VERSION}-torch{torch.__version__.split('+')[0]}-"  # of every full key
_memo: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def build_meta(network: Network) -> torch.nn.Module:
    """`network` at full size on the meta device: shapes and parameter counts, no storage."""
    with torch.device("meta"):
        if network.library == "diffusers":
            import diffusers

            module = getattr(diffusers, network.cls)(**network.config)
        elif network.library == "transformers":
            import transformers

            model_cls = getattr(transformers, network.cls)
            config_cls = getattr(transformers, model_cls.config_class.__name__)
            module = model_cls(config_cls(**network.config))
        elif network.library == "spandrel":
            from spandrel.architectures import ESRGAN, Compact

            arch_cls = {"ESRGAN": ESRGAN.ESRGAN, "Compact": Compact.Compact}[network.cls]
            module = arch_cls(**network.config)
        else:
            raise ValueError(f"unknown library {network.library!r} for {network.cls}")
    return module.eval()


def runnable_on_meta(cls: str) -> AbstractContextManager[None]:
    """What a forward of transformer class `cls` needs patched to run on the meta device (its
    family's `on_meta`; nothing for most)."""
    patches = families.for_transformer(cls).on_meta
    return patches() if patches is not None else contextlib.nullcontext()


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of everything `fn` runs (forward, and backward if it calls it)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# Counts of the shapes the example briefs and the tests quote, committed beside this module so a
# first quote of them takes no counting (regenerate: `python scripts/seed_flop_counts.py --tests
# examples/*.yaml`); a key missing there is counted and cached as usual. Keys carry the configs'
# digest, so a count of an edited architecture is never read from it.
SEED_FILE = Path(__file__).resolve().with_name("flop_counts.json")


# The counts each kind of entry must hold, as positive whole numbers: a count that is missing,
# negative, zero, fractional or text (an edited seed file, a damaged cache entry) is not trusted
# (it would price a brief at a negative or absurd cost); it is counted again instead.
COUNT_FIELDS = {
    "transformer": ("flops", "params", "tokens", "blocks", "dim"),
    "vae": ("flops", "params"),
    "vae_encode": ("flops", "params"),
    "text": ("flops", "params"),
    "lora": ("forward", "backward", "flops", "lora_params"),
    "sdxl": ("text_flops", "unet_flops", "vae_flops", "params"),
    "upscale": ("flops", "params"),
    "backbone": ("flops",),
    "narration": ("flops", "whisper", "wavlm"),
    "voice": ("flops", "talker", "text_projection", "predictor", "decoder"),
    "music": ("flops", "dit", "vae", "text"),
}


def valid_count(full_key: str, entry: Any) -> bool:
    """Whether `entry` holds every count its kind needs, each a positive whole number."""
    parts = full_key.split("-")
    fields = COUNT_FIELDS.get(parts[2]) if len(parts) > 2 else None
    if fields is None or not isinstance(entry, dict):
        return False
    return all(
        isinstance(entry.get(name), int)
        and not isinstance(entry.get(name), bool)
        and entry[name] > 0
        for name in fields
    )


def _seed() -> dict[str, dict[str, Any]]:
    """The committed counts that pass `valid_count` (an invalid one is counted when needed)."""
    try:
        seeded = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(seeded, dict):
        return {}
    return {key: entry for key, entry in seeded.items() if valid_count(key, entry)}


class FlopCache:
    """Counts on disk (one JSON file per key under `folder`) and in memory for this process.

    Looked up in order: this process's memory, `folder`, the committed seed file (`seeded`).
    """

    def __init__(self, folder: Path | str | None, *, seeded: bool = True):
        self.folder = Path(folder) if folder else None
        self.seed = _seed() if seeded else {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str, count: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        full = full_key(key)
        with _lock:
            found = _memo.get(full)
        path = self.folder / f"{full}.json" if self.folder else None
        if found is None and path is not None and path.is_file():
            try:
                found = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                found = None  # a damaged entry is recounted, never trusted
            if not valid_count(full, found):
                found = None
        if found is None:
            found = self.seed.get(full)
        if found is not None:
            self.hits += 1
            with _lock:
                _memo[full] = found
            return found
        self.misses += 1
        found = count()
        with _lock:
            _memo[full] = found
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Atomic: concurrent quotes may write the same key; each write is whole.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                json.dump(found, handle)
            os.replace(tmp, path)
        return found


def full_key(key: str) -> str:
    """`key` as the caches store it: with the count version and torch's release, whose operators
    a count depends on (a count made under another torch is never read)."""
    return f"{KEY_PREFIX}{key}"


def forget_memory() -> None:
    """Drop the in-process counts (tests: make the disk cache the only cache)."""
    with _lock:
        _memo.clear()


def _transformer_inputs(
    model_name: str, arch: Architecture, latent: Latent, module: torch.nn.Module
) -> dict[str, Any]:
    """Keyword arguments of one transformer forward at `latent`, batch 1, as the pipeline calls."""
    conventions = families.for_transformer(arch.transformer.cls)
    return conventions.forward_inputs(model_name, arch, latent, module)


def run_forward(module: torch.nn.Module, kwargs: dict[str, Any]) -> Any:
    """One forward of a meta transformer with `kwargs`, as its pipeline runs it."""
    forward = families.for_transformer(type(module).__name__).meta_forward
    if forward is not None:
        return forward(module, kwargs)
    return module(**kwargs, return_dict=False)


def _key(*parts: Any) -> str:
    return "-".join(str(p) for p in parts)


def config_digest(*configs: Any) -> str:
    """12 hex digits of the published configs a count is made from: part of its cache key.

    An edited config (in resources/domain/architectures.py) is a new key, so a count made from
    the old one, on disk or in the committed seed file, is never read for it.
    """
    text = json.dumps([asdict(c) if is_dataclass(c) else c for c in configs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def backbone_forward(cache: FlopCache, backbone: str, height: int, width: int) -> int:
    """FLOPs of one `height` x `width` image through an identity backbone (resources/qc/flops.py:
    "dinov2" | "clip"), cached like every other count."""
    from resources.qc.flops import backbone_config, forward_flops

    key = f"backbone-{backbone}-{config_digest(backbone_config(backbone))}-{width}-{height}"
    return cache.get(key, lambda: {"flops": forward_flops(backbone, height, width)})["flops"]


def transformer_forward(
    cache: FlopCache, model_name: str, *, width: int, height: int, frames: int
) -> dict[str, Any]:
    """One transformer forward pass (batch 1) at a shot's exact latent shape: flops, params."""
    arch = architecture(model_name)
    latent = latent_shape(arch, width=width, height=height, frames=frames)

    def count() -> dict[str, Any]:
        module = build_meta(arch.transformer)
        kwargs = _transformer_inputs(model_name, arch, latent, module)
        with torch.no_grad(), runnable_on_meta(arch.transformer.cls):
            flops = count_flops(lambda: run_forward(module, kwargs))
        config = module.config
        patch = config.get("patch_size", 1)
        p = patch[-1] if isinstance(patch, (list, tuple)) else patch
        pt = patch[0] if isinstance(patch, (list, tuple)) else (config.get("patch_size_t") or 1)
        return {
            "flops": flops,
            "params": parameters(module),
            "latent": list(vars(latent).values()),
            "tokens": (latent.frames // pt) * (latent.height // p) * (latent.width // p),
            "dim": config.get("model_dim")
            or config["num_attention_heads"] * config["attention_head_dim"],
            "blocks": config.get("num_layers", 0)
            + config.get("num_single_layers", 0)
            + config.get("num_visual_blocks", 0),
        }

    return cache.get(
        _key(
            "transformer",
            model_name,
            config_digest(architecture(model_name)),
            width,
            height,
            frames,
        ),
        count,
    )


def vae_decode(
    cache: FlopCache, model_name: str, *, width: int, height: int, frames: int
) -> dict[str, Any]:
    """Decoding one shot's latent to pixels (whole clip, untiled)."""
    arch = architecture(model_name)
    latent = latent_shape(arch, width=width, height=height, frames=frames)

    def count() -> dict[str, Any]:
        module = build_meta(arch.vae)
        z = meta(1, latent.channels, latent.frames, latent.height, latent.width)
        decode = families.for_transformer(arch.transformer.cls).meta_decode_keywords
        extra = decode(module) if decode is not None else {}
        with torch.no_grad():
            flops = count_flops(lambda: module.decode(z, **extra))
        return {"flops": flops, "params": parameters(module)}

    return cache.get(
        _key("vae", model_name, config_digest(architecture(model_name)), width, height, frames),
        count,
    )


def vae_encode(
    cache: FlopCache, model_name: str, *, width: int, height: int, frames: int
) -> dict[str, Any]:
    """Encoding `frames` frames of pixels to the latent (an image-to-video pipeline's still)."""
    arch = architecture(model_name)

    def count() -> dict[str, Any]:
        module = build_meta(arch.vae)
        x = meta(1, 3, frames, height, width)
        with torch.no_grad():
            flops = count_flops(lambda: module.encode(x))
        return {"flops": flops, "params": parameters(module)}

    digest = config_digest(architecture(model_name))
    return cache.get(_key("vae_encode", model_name, digest, width, height, frames), count)


def _encoder_flops(encoder: TextEncoder) -> dict[str, Any]:
    module = build_meta(encoder.network)
    ids = torch.zeros(1, encoder.tokens, dtype=torch.long, device="meta")
    with torch.no_grad():
        flops = count_flops(lambda: module(input_ids=ids))
    return {"flops": flops, "params": parameters(module)}


def text_encoders(cache: FlopCache, model_name: str) -> dict[str, Any]:
    """Encoding one prompt with every text encoder of `model_name`."""
    arch = architecture(model_name)

    def count() -> dict[str, Any]:
        parts = [_encoder_flops(e) for e in arch.text_encoders]
        return {"flops": sum(p["flops"] for p in parts), "params": sum(p["params"] for p in parts)}

    return cache.get(_key("text", model_name, config_digest(architecture(model_name))), count)


def lora_training_step(
    cache: FlopCache,
    model_name: str,
    *,
    width: int,
    height: int,
    rank: int,
    target_modules: tuple[str, ...],
    gradient_checkpointing: bool,
) -> dict[str, Any]:
    """One LoRA training step on a one-frame clip: forward and backward, both counted on meta.

    The base weights are frozen and the LoRA's require grad, as in training: backward computes
    the activations' gradients through every layer but weight gradients only for the LoRA.
    Gradient checkpointing recomputes the forward inside backward; the count includes it.
    """
    arch = architecture(model_name)
    latent = latent_shape(arch, width=width, height=height, frames=1)

    def count() -> dict[str, Any]:
        from peft import LoraConfig, inject_adapter_in_model

        module = build_meta(arch.transformer)
        module.requires_grad_(False)
        config = LoraConfig(r=rank, lora_alpha=rank, target_modules=list(target_modules))
        with torch.device("meta"):
            module = inject_adapter_in_model(config, module)
        if gradient_checkpointing:
            module.enable_gradient_checkpointing()
        module.train()
        kwargs = _transformer_inputs(model_name, arch, latent, module)
        with runnable_on_meta(arch.transformer.cls), FlopCounterMode(display=False) as counter:
            out = run_forward(module, kwargs)[0]
            forward = int(counter.get_total_flops())
            out.float().pow(2).mean().backward()
            total = int(counter.get_total_flops())
        lora = sum(p.numel() for p in module.parameters() if p.requires_grad)
        return {
            "forward": forward,
            "backward": total - forward,
            "flops": total,
            "lora_params": lora,
        }

    key = _key(
        "lora",
        model_name,
        config_digest(architecture(model_name)),
        width,
        height,
        rank,
        "+".join(target_modules),
        gradient_checkpointing,
    )
    return cache.get(key, count)


def sdxl_image(cache: FlopCache, *, width: int, height: int) -> dict[str, Any]:
    """SDXL per still: one UNet forward (batch 1), one VAE decode, one prompt's text encoding."""

    def count() -> dict[str, Any]:
        unet = build_meta(SDXL_UNET)
        h, w = height // 8, width // 8
        added = {"text_embeds": meta(1, 1280), "time_ids": meta(1, 6)}
        with torch.no_grad():
            unet_flops = count_flops(
                lambda: unet(meta(1, 4, h, w), meta(1), meta(1, 77, 2048), added_cond_kwargs=added)
            )
            vae = build_meta(SDXL_VAE)
            vae_flops = count_flops(lambda: vae.decode(meta(1, 4, h, w)))
        text = [_encoder_flops(e) for e in SDXL_TEXT_ENCODERS]
        return {
            "unet_flops": unet_flops,
            "vae_flops": vae_flops,
            "text_flops": sum(t["flops"] for t in text),
            "params": parameters(unet),
        }

    return cache.get(
        _key("sdxl", config_digest(SDXL_UNET, SDXL_VAE, *SDXL_TEXT_ENCODERS), width, height), count
    )


def upscale_frame(cache: FlopCache, architecture_name: str, *, width: int, height: int) -> dict:
    """Real-ESRGAN on one frame of `width` x `height` input pixels (untiled)."""

    def count() -> dict[str, Any]:
        spandrel_cls = {"RRDBNet": "ESRGAN", "SRVGGNetCompact": "Compact"}[architecture_name]
        net = build_meta(Network("spandrel", spandrel_cls, REALESRGAN[architecture_name], ""))
        with torch.no_grad():
            flops = count_flops(lambda: net(meta(1, 3, height, width)))
        return {"flops": flops, "params": parameters(net)}

    return cache.get(
        _key(
            "upscale",
            architecture_name,
            config_digest(REALESRGAN[architecture_name]),
            width,
            height,
        ),
        count,
    )


def write_seed(keys: dict[str, dict[str, Any]]) -> None:
    """Merge `keys` (full cache keys -> counts) into the committed seed file."""
    merged = {**_seed(), **keys}
    SEED_FILE.write_text(
        json.dumps(dict(sorted(merged.items())), indent=0) + "\n", encoding="utf-8"
    )
