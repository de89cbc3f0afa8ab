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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from torch.utils.flop_counter import FlopCounterMode

from resources.domain.architectures import (
    REALESRGAN,
    SDXL_TEXT_ENCODERS,
    SDXL_UNET,
    SDXL_VAE,
    Architecture,
    Network,
    TextEncoder,
    architecture,
)

# Part of every cache key: bump when what a count includes changes.
COUNT_VERSION = "2"
KEY_PREFIX = f"v{COUNT_VERSION}-torch{torch.__version__.split('+')[0]}-"  # of every full key
_memo: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Latent:
    """A shot's latent shape: channels, latent frames, height and width in latent pixels."""

    channels: int
    frames: int
    height: int
    width: int


def latent_shape(arch: Architecture, *, width: int, height: int, frames: int) -> Latent:
    """The latent a shot of `frames` frames at `width` x `height` pixels denoises."""
    return Latent(
        arch.latent_channels,
        (frames - 1) // arch.temporal_compression + 1,
        height // arch.spatial_compression,
        width // arch.spatial_compression,
    )


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


@contextmanager
def runnable_on_meta(cls: str) -> Iterator[None]:
    """What a forward of transformer class `cls` needs to run on the meta device.

    MochiTransformer3DModel autocasts its RoPE to the tensors' device type (autocast has no
    "meta"), and its attention keeps the prompt tokens the mask marks with `torch.nonzero`
    (no meta kernel: the output shape depends on values). Both are patched for the count only:
    autocast becomes a no-op on meta and every prompt token counts as kept, the most FLOPs a
    prompt can cost (an upper bound for prompts shorter than Mochi's 256 tokens).
    """
    if cls != "MochiTransformer3DModel":
        yield
        return
    real_autocast, real_nonzero = torch.autocast, torch.nonzero

    def autocast(device_type: str, *args: Any, **kwargs: Any):
        if device_type == "meta":
            return contextlib.nullcontext()
        return real_autocast(device_type, *args, **kwargs)

    def nonzero(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if tensor.is_meta:
            return torch.arange(tensor.numel(), device=tensor.device).unsqueeze(1)
        return real_nonzero(tensor, *args, **kwargs)

    with (
        mock.patch.object(torch, "autocast", autocast),
        mock.patch.object(torch, "nonzero", nonzero),
    ):
        yield


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
    "text": ("flops", "params"),
    "lora": ("forward", "backward", "flops", "lora_params"),
    "sdxl": ("text_flops", "unet_flops", "vae_flops", "params"),
    "upscale": ("flops", "params"),
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
        seeded = json.loads(SEED_FILE.read_text())
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
                found = json.loads(path.read_text())
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


def _meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(*shape, device="meta", dtype=dtype)


def _transformer_inputs(
    model_name: str, arch: Architecture, latent: Latent, module: torch.nn.Module
) -> dict[str, Any]:
    """Keyword arguments of one transformer forward at `latent`, batch 1, as the pipeline calls."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    text = _meta(1, arch.text_tokens, 4096)
    cls = arch.transformer.cls
    if cls == "HunyuanVideoTransformer3DModel":
        return dict(
            hidden_states=_meta(1, c, f, h, w),
            timestep=_meta(1),
            encoder_hidden_states=text,
            encoder_attention_mask=torch.ones(1, arch.text_tokens, device="meta", dtype=torch.bool),
            pooled_projections=_meta(1, arch.extra["pooled_dim"]),
            guidance=_meta(1),
        )
    if cls == "WanTransformer3DModel":
        _, ph, pw = module.config.patch_size
        tokens = f * (h // ph) * (w // pw)
        # Wan 2.2 TI2V denoises with one timestep per token (expand_timesteps).
        expand = model_name == "wan22_ti2v_5b"
        timestep = _meta(1, tokens) if expand else _meta(1)
        # The image-to-video transformer reads the still's latent and mask beside the noise.
        channels = module.config.in_channels
        return dict(
            hidden_states=_meta(1, channels, f, h, w), timestep=timestep, encoder_hidden_states=text
        )
    if cls == "LTXVideoTransformer3DModel":
        return dict(
            hidden_states=_meta(1, f * h * w, c),
            encoder_hidden_states=text,
            timestep=_meta(1),
            encoder_attention_mask=torch.ones(1, arch.text_tokens, device="meta"),
            num_frames=f,
            height=h,
            width=w,
            rope_interpolation_scale=(arch.temporal_compression / 24, 32, 32),
        )
    if cls == "LTX2VideoTransformer3DModel":
        return _ltx2_inputs(arch, latent)
    if cls == "Kandinsky5Transformer3DModel":
        return _kandinsky5_inputs(arch, latent, module)
    if cls == "HunyuanVideo15Transformer3DModel":
        return _hunyuan15_inputs(arch, latent)
    if cls == "CogVideoXTransformer3DModel":
        # Rotary embeddings are elementwise (no FLOPs the counter sees): left out.
        return dict(
            hidden_states=_meta(1, f, c, h, w), encoder_hidden_states=text, timestep=_meta(1)
        )
    if cls == "MochiTransformer3DModel":
        return dict(
            hidden_states=_meta(1, c, f, h, w),
            encoder_hidden_states=text,
            timestep=_meta(1),
            encoder_attention_mask=torch.ones(1, arch.text_tokens, device="meta", dtype=torch.bool),
        )
    raise ValueError(f"no forward recipe for transformer class {cls}")


def _ltx2_inputs(arch: Architecture, latent: Latent) -> dict[str, Any]:
    """LTX-2: the video tokens, the clip's audio stream and the prompt for both branches."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    pixel_frames = (f - 1) * arch.temporal_compression + 1
    # The pipeline's audio length: the clip's seconds at 25 audio latents a second.
    audio = round(pixel_frames / 24.0 * arch.extra["audio_latents_per_s"])
    text = _meta(1, arch.text_tokens, arch.extra["caption_dim"])
    mask = torch.ones(1, arch.text_tokens, device="meta")
    return dict(
        hidden_states=_meta(1, f * h * w, c),
        audio_hidden_states=_meta(1, audio, arch.extra["audio_channels"]),
        encoder_hidden_states=text,
        audio_encoder_hidden_states=text,
        timestep=_meta(1),
        audio_timestep=_meta(1),
        sigma=_meta(1),
        audio_sigma=_meta(1),
        encoder_attention_mask=mask,
        audio_encoder_attention_mask=mask,
        num_frames=f,
        height=h,
        width=w,
        fps=24.0,
        audio_num_frames=audio,
    )


def _kandinsky5_inputs(arch: Architecture, latent: Latent, module: torch.nn.Module) -> dict:
    """Kandinsky 5: channels-last latents with the visual condition (zeros and a mask) beside
    them, the Qwen prompt, CLIP's pooled vector, and the RoPE positions the pipeline builds."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    channels = 2 * c + 1 if module.config.visual_cond else c
    _, ph, pw = module.config.patch_size
    return dict(
        hidden_states=_meta(1, f, h, w, channels),
        encoder_hidden_states=_meta(1, arch.text_tokens, arch.extra["text_dim"]),
        pooled_projections=_meta(1, arch.extra["pooled_dim"]),
        timestep=_meta(1),
        visual_rope_pos=[
            torch.arange(f, device="meta"),
            torch.arange(h // ph, device="meta"),
            torch.arange(w // pw, device="meta"),
        ],
        text_rope_pos=torch.arange(arch.text_tokens, device="meta"),
        scale_factor=(1, 2, 2),
    )


def _hunyuan15_inputs(arch: Architecture, latent: Latent) -> dict[str, Any]:
    """HunyuanVideo 1.5: latents with the condition latents and mask concatenated (zeros for
    text-to-video), the Qwen prompt, the ByT5 glyph tokens and the (zero) image tokens."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    glyph = arch.extra["glyph_tokens"]
    return dict(
        hidden_states=_meta(1, 2 * c + 1, f, h, w),
        timestep=_meta(1),
        encoder_hidden_states=_meta(1, arch.text_tokens, arch.extra["text_dim"]),
        encoder_attention_mask=torch.ones(1, arch.text_tokens, device="meta"),
        encoder_hidden_states_2=_meta(1, glyph, arch.extra["glyph_dim"]),
        encoder_attention_mask_2=torch.ones(1, glyph, device="meta"),
        image_embeds=_meta(1, arch.extra["image_tokens"], 1152),
    )


def run_forward(module: torch.nn.Module, kwargs: dict[str, Any]) -> Any:
    """One forward of a meta transformer with `kwargs`, as its pipeline runs it."""
    if type(module).__name__ == "HunyuanVideo15Transformer3DModel":
        return _hunyuan15_forward(module, **kwargs)
    return module(**kwargs, return_dict=False)


def _hunyuan15_forward(module: torch.nn.Module, **kw: torch.Tensor) -> tuple[torch.Tensor]:
    """HunyuanVideo15Transformer3DModel.forward's arithmetic on meta tensors.

    The real forward reorders the prompt tokens by their masks' values (valid ones first), which
    a meta tensor has none of; the reordering does no arithmetic and keeps the length, so the
    blocks see the image, glyph and Qwen tokens concatenated, as here, every token valid.
    """
    x = kw["hidden_states"]
    rotary = module.rope(x)
    temb = module.time_embed(kw["timestep"])
    hidden = module.x_embedder(x)
    text = module.context_embedder(
        kw["encoder_hidden_states"], kw["timestep"], kw["encoder_attention_mask"]
    )
    glyph = module.context_embedder_2(kw["encoder_hidden_states_2"])
    image = module.image_embedder(kw["image_embeds"])
    context = torch.cat([image, glyph, text], dim=1)
    mask = torch.ones(context.shape[:2], device=context.device, dtype=torch.bool)
    for block in module.transformer_blocks:
        hidden, context = block(hidden, context, temb, mask, rotary)
    return (module.proj_out(module.norm_out(hidden, temb)),)


def _key(*parts: Any) -> str:
    return "-".join(str(p) for p in parts)


def config_digest(*configs: Any) -> str:
    """12 hex digits of the published configs a count is made from: part of its cache key.

    An edited config (in resources/domain/architectures.py) is a new key, so a count made from
    the old one, on disk or in the committed seed file, is never read for it.
    """
    text = json.dumps([asdict(c) if is_dataclass(c) else c for c in configs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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
        z = _meta(1, latent.channels, latent.frames, latent.height, latent.width)
        extra = {"temb": _meta(1)} if arch.vae.cls == "AutoencoderKLLTXVideo" else {}
        if arch.vae.cls == "AutoencoderKLLTXVideo" and not module.config.timestep_conditioning:
            extra = {}
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
        x = _meta(1, 3, frames, height, width)
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
        added = {"text_embeds": _meta(1, 1280), "time_ids": _meta(1, 6)}
        with torch.no_grad():
            unet_flops = count_flops(
                lambda: unet(
                    _meta(1, 4, h, w), _meta(1), _meta(1, 77, 2048), added_cond_kwargs=added
                )
            )
            vae = build_meta(SDXL_VAE)
            vae_flops = count_flops(lambda: vae.decode(_meta(1, 4, h, w)))
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
            flops = count_flops(lambda: net(_meta(1, 3, height, width)))
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
    SEED_FILE.write_text(json.dumps(dict(sorted(merged.items())), indent=0) + "\n")
