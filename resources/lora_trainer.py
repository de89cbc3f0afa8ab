"""Character LoRA training: peft LoRA on a video transformer, flow matching on one-frame videos.

The reference stills (with trigger captions) become one-frame videos; their VAE latents and
text embeddings are computed once. Each step noises a latent to a sampled sigma and trains the
transformer's LoRA layers to predict the flow velocity (noise - latent). Every
`checkpoint_every` steps the whole training state is saved (LoRA weights, optimizer, scheduler,
RNG states, position in the data order), so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from dagster import ConfigurableResource
from PIL import Image, ImageDraw

from resources.artifact_store import sha256_file, write_atomic, write_json
from resources.interruption import StopCheck, WorkInterrupted
from resources.model_registry import VideoModel
from resources.video_generator import apply_lora, load_video_pipeline

LORA_FILE = "pytorch_lora_weights.safetensors"
CHECKPOINTS = "checkpoints"
STATE_FILE = "state.pt"


@dataclass
class TrainResult:
    lora_file: Path
    losses: list[float]
    train_s: float
    resumed_from: int | None = None


@dataclass
class _Example:
    latents: torch.Tensor  # (C, 1, h, w), normalised as the family's pipeline expects
    text: dict[str, torch.Tensor]  # transformer keyword arguments for the caption
    empty_text: dict[str, torch.Tensor] = field(default_factory=dict)  # for caption dropout


# -- per-family conventions: how a caption, a still and a forward pass look to the model ------


def _encode_text(pipe, family: str, caption: str, device: str) -> dict[str, torch.Tensor]:
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
    raise ValueError(f"unknown model family {family!r}")


def _encode_still(pipe, family: str, pixels: torch.Tensor) -> torch.Tensor:
    """VAE latents of a (1, 3, 1, H, W) video in [-1, 1], normalised like the pipeline's."""
    vae = pipe.vae
    with torch.no_grad():
        latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode().float()
    if family == "hunyuan":
        return latents * vae.config.scaling_factor
    if family == "wan":
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        return (latents - mean) / std
    if family == "ltx":
        mean = vae.latents_mean.view(1, -1, 1, 1, 1).float().cpu()
        std = vae.latents_std.view(1, -1, 1, 1, 1).float().cpu()
        return (latents - mean) * vae.config.scaling_factor / std
    raise ValueError(f"unknown model family {family!r}")


def _predict(
    pipe, model: VideoModel, noisy: torch.Tensor, timestep: torch.Tensor, text: dict
) -> torch.Tensor:
    """The transformer's flow prediction for `noisy` (B, C, F, h, w), in the same shape."""
    transformer = pipe.transformer
    if model.family == "hunyuan":
        guidance = None
        if transformer.config.guidance_embeds:
            # Distilled guidance: the embedded scale training sees is the one rendering uses.
            guidance = torch.full((noisy.shape[0],), model.guidance_scale * 1000.0)
        return transformer(
            hidden_states=noisy, timestep=timestep, guidance=guidance, return_dict=False, **text
        )[0]
    if model.family == "wan":
        return transformer(hidden_states=noisy, timestep=timestep, return_dict=False, **text)[0]
    if model.family == "ltx":
        b, c, f, h, w = noisy.shape
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        packed = pipe._pack_latents(noisy, p, pt)
        scale = (
            pipe.vae_temporal_compression_ratio / model.native_fps,
            pipe.vae_spatial_compression_ratio,
            pipe.vae_spatial_compression_ratio,
        )
        out = transformer(
            hidden_states=packed,
            timestep=timestep,
            num_frames=f // pt,
            height=h // p,
            width=w // p,
            rope_interpolation_scale=scale,
            return_dict=False,
            **text,
        )[0]
        return pipe._unpack_latents(out, f // pt, h // p, w // p, p, pt)
    raise ValueError(f"unknown model family {model.family!r}")


# -- data ----------------------------------------------------------------------------------


def _still_as_video(path: Path, width: int, height: int) -> torch.Tensor:
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


def dataset_hash(images: list[Path], captions: list[str]) -> str:
    digest = hashlib.sha256()
    for image, caption in zip(images, captions, strict=True):
        digest.update(sha256_file(image).encode())
        digest.update(caption.encode())
    return digest.hexdigest()


# -- checkpoints ----------------------------------------------------------------------------


def _save_checkpoint(folder: Path, step: int, state: dict[str, Any], keep: int) -> None:
    """Write `step-NNNNNN/` under a temporary name with a sha256 record, then rename it."""
    final = folder / f"step-{step:06d}"
    tmp = folder / f".tmp-step-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(tmp / STATE_FILE, buffer.getvalue())
    write_json(tmp / "checkpoint.json", {"step": step, "sha256": sha256_file(tmp / STATE_FILE)})
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(folder.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _load_newest_checkpoint(folder: Path, log: Callable[[str], None]) -> dict[str, Any] | None:
    """The newest checkpoint whose state file matches its recorded sha256; bad ones skipped."""
    for candidate in sorted(folder.glob("step-*"), reverse=True):
        try:
            record = json.loads((candidate / "checkpoint.json").read_text())
            if sha256_file(candidate / STATE_FILE) != record["sha256"]:
                raise ValueError("sha256 mismatch")
            return torch.load(candidate / STATE_FILE, weights_only=True)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            log(f"skipping checkpoint {candidate.name}: {error}")
    return None


# -- the loss curve ----------------------------------------------------------------------------


def plot_losses(losses: list[float], out_file: Path, *, size: tuple[int, int] = (640, 320)) -> None:
    """A loss-per-step line chart as PNG (raw losses faint, a moving average bold)."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    pad = 36
    draw.rectangle([pad, 10, width - 10, height - pad], outline=(160, 160, 160))
    draw.text((pad, height - pad + 8), f"step 1 .. {len(losses)}", fill="black")
    if losses:
        lo, hi = min(losses), max(losses)
        draw.text((4, 10), f"{hi:.3g}", fill="black")
        draw.text((4, height - pad - 10), f"{lo:.3g}", fill="black")
        span = (hi - lo) or 1.0
        window = max(1, len(losses) // 20)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid").tolist()

        def points(values: list[float], offset: int) -> list[tuple[float, float]]:
            n = max(1, len(losses) - 1)
            return [
                (
                    pad + (i + offset) * (width - pad - 10) / n,
                    height - pad - (v - lo) / span * (height - pad - 10),
                )
                for i, v in enumerate(values)
            ]

        if len(losses) > 1:
            draw.line(points(losses, 0), fill=(170, 190, 230), width=1)
            draw.line(points(smooth, window - 1), fill=(20, 60, 180), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomic(out_file, buffer.getvalue())


# -- the trainer ------------------------------------------------------------------------------


class LoraTrainer(ConfigurableResource):
    """Trains the character LoRA with peft on the video model's transformer."""

    caption_dropout: float = 0.1  # share of steps trained on an empty caption
    warmup_steps: int = 10
    keep_checkpoints: int = 2
    gradient_checkpointing: bool = False

    def train(
        self,
        model_dir: Path,
        model: VideoModel,
        *,
        images: list[Path],
        captions: list[str],
        out_dir: Path,
        steps: int,
        rank: int,
        alpha: float,
        learning_rate: float,
        checkpoint_every: int,
        seed: int,
        width: int,
        height: int,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        log: Callable[[str], None] = print,
        stop: StopCheck | None = None,
    ) -> TrainResult:
        """Train for `steps` (resuming from `out_dir/checkpoints`), write the LoRA and loss curve.

        `stop` is asked after every step; when it reports a reason, the state is checkpointed
        and WorkInterrupted is raised.
        """
        from diffusers.optimization import get_scheduler
        from peft import LoraConfig
        from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

        if not images:
            raise ValueError("character LoRA training needs at least one reference image")
        start = time.perf_counter()
        pipe = load_video_pipeline(model_dir, model, device=device, dtype=dtype)
        examples = []
        empty = _encode_text(pipe, model.family, "", device)
        for image, caption in zip(images, captions, strict=True):
            latents = _encode_still(pipe, model.family, _still_as_video(image, width, height))
            examples.append(_Example(latents[0], _encode_text(pipe, model.family, caption, device)))
            examples[-1].empty_text = empty
        # Text encoders and VAE are no longer needed: free their memory for training.
        for name in ("text_encoder", "text_encoder_2", "vae"):
            if getattr(pipe, name, None) is not None:
                setattr(pipe, name, None)

        transformer = pipe.transformer
        transformer.requires_grad_(False)
        torch.manual_seed(seed)  # LoRA A matrices are initialised from torch's global RNG
        transformer.add_adapter(
            LoraConfig(
                r=rank,
                lora_alpha=alpha,
                target_modules=list(model.lora_target_modules),
                init_lora_weights=True,
            )
        )
        params = [p for p in transformer.parameters() if p.requires_grad]
        for p in params:
            p.data = p.data.float()
        if self.gradient_checkpointing:
            transformer.enable_gradient_checkpointing()
        transformer.train()
        optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=1e-4)
        scheduler = get_scheduler(
            "constant_with_warmup",
            optimizer,
            num_warmup_steps=min(self.warmup_steps, max(0, steps // 10)),
            num_training_steps=steps,
        )
        noise_rng = torch.Generator().manual_seed(seed + 1)
        order_rng = torch.Generator().manual_seed(seed + 2)
        order: list[int] = []
        position, done, losses = 0, 0, []

        checkpoints = out_dir / CHECKPOINTS
        state = _load_newest_checkpoint(checkpoints, log)
        resumed_from = None
        if state is not None:
            set_peft_model_state_dict(transformer, state["lora"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            noise_rng.set_state(state["noise_rng"])
            order_rng.set_state(state["order_rng"])
            # .tolist(): plain ints and floats, as the manifest (JSON) and indexing expect.
            order, position = state["order"].tolist(), int(state["position"])
            done, losses = int(state["step"]), state["losses"].tolist()
            resumed_from = done
            log(f"resumed LoRA training at step {done} of {steps}")

        shift = model.flow_shift or 1.0
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))
        while done < steps:
            if position >= len(order):
                order = torch.randperm(len(examples), generator=order_rng).tolist()
                position = 0
            example = examples[order[position]]
            position += 1
            drop = torch.rand((), generator=noise_rng).item() < self.caption_dropout
            text = example.empty_text if drop else example.text
            x0 = example.latents[None].to(device)
            noise = torch.randn(x0.shape, generator=noise_rng).to(device)
            # Logit-normal sigma, shifted toward noise like the model's sampling schedule.
            u = torch.sigmoid(torch.randn((1,), generator=noise_rng))
            sigma = (shift * u / (1 + (shift - 1) * u)).to(device)
            noisy = (1 - sigma) * x0 + sigma * noise
            with autocast:
                pred = _predict(pipe, model, noisy.to(transformer.dtype), sigma * 1000.0, text)
            loss = torch.nn.functional.mse_loss(pred.float(), (noise - x0).float())
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"LoRA training loss is {loss.item()} at step {done + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            done += 1
            losses.append(float(loss.item()))
            reason = stop() if stop is not None else None
            if done % checkpoint_every == 0 or done == steps or reason:
                _save_checkpoint(
                    checkpoints,
                    done,
                    {
                        "step": done,
                        "lora": get_peft_model_state_dict(transformer),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "noise_rng": noise_rng.get_state(),
                        "order_rng": order_rng.get_state(),
                        "order": torch.tensor(order),
                        "position": position,
                        "losses": torch.tensor(losses, dtype=torch.float64),
                    },
                    self.keep_checkpoints,
                )
                log(f"step {done}/{steps}: loss {np.mean(losses[-checkpoint_every:]):.4f}")
            if reason:
                raise WorkInterrupted(reason, f"LoRA training step {done}")

        lora_file = out_dir / LORA_FILE
        type(pipe).save_lora_weights(
            str(out_dir),
            transformer_lora_layers=get_peft_model_state_dict(transformer),
            weight_name=LORA_FILE,
            safe_serialization=True,
        )
        plot_losses(losses, out_dir / "loss_curve.png")
        shutil.rmtree(checkpoints, ignore_errors=True)  # the finished LoRA supersedes them
        return TrainResult(lora_file, losses, time.perf_counter() - start, resumed_from)


def lora_loads_into_pipeline(
    model_dir: Path, model: VideoModel, lora_file: Path, *, device: str = "cpu"
) -> tuple[bool, str]:
    """Load `lora_file` into the model's pipeline; (ok, what happened)."""
    try:
        pipe = load_video_pipeline(model_dir, model, device=device)
        apply_lora(pipe, lora_file, 1.0)
        layers = sum(1 for name, _ in pipe.transformer.named_modules() if name.endswith("lora_A"))
        if layers == 0:
            return False, f"{lora_file.name} loaded but no LoRA layer was attached"
        return True, f"{lora_file.name} loaded into {model.pipeline_class}: {layers} LoRA layers"
    except Exception as error:  # noqa: BLE001 - the check reports any failure to load
        return False, f"{lora_file.name} did not load into {model.pipeline_class}: {error}"
