"""Training objectives of the character LoRA: what a noised still looks like and what is predicted.

* flow matching (HunyuanVideo, Wan, LTX-Video, Mochi): x = (1 - sigma) x0 + sigma noise, the
  target the velocity noise - x0. Mochi's transformer takes the inverted timestep (1 - sigma) *
  1000 and predicts x0 - noise: diffusers' MochiPipeline builds its scheduler with
  `invert_sigmas=True`, so its scheduler sigma runs from 0 (noise) to 1 (clean), and each Euler
  step adds (sigma_next - sigma) times the model output.
* v-prediction DDPM (CogVideoX), as diffusers' examples/cogvideo/train_cogvideox_lora.py trains
  it: an integer timestep t uniform in [0, T), x_t = scheduler.add_noise(x0, noise, t), the
  transformer's v turned into an x0 estimate by scheduler.get_velocity(v, x_t, t), and the loss
  mean(w (x0_hat - x0)^2) with w = 1 / (1 - alphas_cumprod[t]).

Each draw is a "level" in [0, 1): the sigma for flow matching, t / T for DDPM; the trainer
routes a step to an expert by it and evaluates at fixed levels.
"""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.lora_recipes import LoraRecipe
from resources.domain.registry import VideoModel
from resources.lora.sampling import sample_sigma

DDPM_STEPS = 1000  # num_train_timesteps of CogVideoX's scheduler


def sample_level(recipe: LoraRecipe, generator: torch.Generator) -> torch.Tensor:
    """One training noise level, shape (1,), drawn as the family's recipe says."""
    if recipe.timestep_sampling == "uniform_ddpm":
        return torch.randint(0, DDPM_STEPS, (1,), generator=generator).float() / DDPM_STEPS
    return sample_sigma(recipe.timestep_sampling, recipe.flow_shift, generator)


def objective_loss(
    pipe: Any,
    model: VideoModel,
    recipe: LoraRecipe,
    transformer: torch.nn.Module,
    x0: torch.Tensor,
    noise: torch.Tensor,
    level: torch.Tensor,
    text: dict[str, torch.Tensor],
    dtype: torch.dtype,
) -> torch.Tensor:
    """The training loss of `transformer` on latents x0 (B, C, F, h, w) at noise `level`."""
    if recipe.objective == "v_prediction":
        return _v_prediction_loss(pipe, transformer, x0, noise, level, text, dtype)
    sigma = level.view(-1, 1, 1, 1, 1)
    noisy = ((1 - sigma) * x0 + sigma * noise).to(dtype)
    pred = predict_flow(pipe, model, transformer, noisy, level * 1000.0, text)
    return torch.nn.functional.mse_loss(pred.float(), (noise - x0).float())


def _v_prediction_loss(pipe, transformer, x0, noise, level, text, dtype) -> torch.Tensor:
    scheduler = pipe.scheduler
    steps = scheduler.config.num_train_timesteps
    t = (level * steps).round().long().clamp(0, steps - 1)
    noisy = scheduler.add_noise(x0, noise, t)
    v = predict_cogvideox(pipe, transformer, noisy.to(dtype), t, text)
    x0_hat = scheduler.get_velocity(v.float(), noisy.float(), t)
    alphas = scheduler.alphas_cumprod.to(x0.device)[t].float()
    weights = (1.0 / (1.0 - alphas)).view(-1, 1, 1, 1, 1)
    return torch.mean(weights * (x0_hat - x0.float()) ** 2)


def predict_cogvideox(pipe, transformer, noisy, timestep, text) -> torch.Tensor:
    """CogVideoX's v for `noisy` (B, C, F, h, w): its transformer works on (B, F, C, h, w)."""
    frames_first = noisy.permute(0, 2, 1, 3, 4)
    _, f, _, h, w = frames_first.shape
    rotary = None
    if transformer.config.use_rotary_positional_embeddings:
        scale = pipe.vae_scale_factor_spatial
        rotary = pipe._prepare_rotary_positional_embeddings(h * scale, w * scale, f, noisy.device)
    out = transformer(
        hidden_states=frames_first,
        timestep=timestep,
        image_rotary_emb=rotary,
        return_dict=False,
        **text,
    )[0]
    return out.permute(0, 2, 1, 3, 4)


def predict_flow(
    pipe: Any,
    model: VideoModel,
    transformer: torch.nn.Module,
    noisy: torch.Tensor,
    timestep: torch.Tensor,
    text: dict[str, torch.Tensor],
) -> torch.Tensor:
    """`transformer`'s flow prediction for `noisy` (B, C, F, h, w), in the same shape."""
    if model.family == "hunyuan":
        guidance = None
        if transformer.config.guidance_embeds:
            # Distilled guidance: the embedded scale training sees is the one rendering uses.
            guidance = torch.full((noisy.shape[0],), model.guidance_scale * 1000.0)
            guidance = guidance.to(noisy.device, noisy.dtype)
        return transformer(
            hidden_states=noisy, timestep=timestep, guidance=guidance, return_dict=False, **text
        )[0]
    if model.family == "wan":
        return transformer(hidden_states=noisy, timestep=timestep, return_dict=False, **text)[0]
    if model.family == "mochi":
        # Inverted timestep, and the output is x0 - noise: the flow target with its sign flipped.
        out = transformer(
            hidden_states=noisy, timestep=1000.0 - timestep, return_dict=False, **text
        )[0]
        return -out
    if model.family == "ltx":
        _, _, f, h, w = noisy.shape
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
    if model.family == "ltx2":
        return _predict_ltx2(pipe, model, transformer, noisy, timestep, text)
    if model.family == "kandinsky5":
        return _predict_kandinsky5(pipe, transformer, noisy, timestep, text)
    if model.family == "hunyuan15":
        # Text-to-video: the condition latents and their mask are zeros, as are the image tokens.
        b, c, f, h, w = noisy.shape
        zeros = torch.zeros(b, c + 1, f, h, w, device=noisy.device, dtype=noisy.dtype)
        image = torch.zeros(
            b,
            pipe.vision_num_semantic_tokens,
            transformer.config.image_embed_dim,
            device=noisy.device,
            dtype=noisy.dtype,
        )
        return transformer(
            hidden_states=torch.cat([noisy, zeros], dim=1),
            image_embeds=image,
            timestep=timestep.to(noisy.dtype),
            return_dict=False,
            **text,
        )[0]
    raise ValueError(f"unknown model family {model.family!r}")


def _predict_kandinsky5(pipe, transformer, noisy, timestep, text) -> torch.Tensor:
    """Kandinsky 5's velocity for `noisy` (B, C, F, h, w): its transformer works channels-last
    with the visual condition (zeros and a zero mask: text-to-video) beside the latents."""
    x = noisy.permute(0, 2, 3, 4, 1)
    b, f, h, w, c = x.shape
    if transformer.visual_cond:
        mask = torch.zeros(b, f, h, w, 1, device=x.device, dtype=x.dtype)
        x = torch.cat([x, torch.zeros_like(x), mask], dim=-1)
    _, ph, pw = transformer.config.patch_size
    scale = pipe.vae_scale_factor_spatial
    out = transformer(
        hidden_states=x,
        encoder_hidden_states=text["encoder_hidden_states"],
        pooled_projections=text["pooled_projections"],
        timestep=timestep.to(x.dtype),
        visual_rope_pos=[
            torch.arange(f, device=x.device),
            torch.arange(h // ph, device=x.device),
            torch.arange(w // pw, device=x.device),
        ],
        text_rope_pos=text["text_rope_pos"],
        scale_factor=pipe._get_scale_factor(h * scale, w * scale),
        sparse_params=pipe.get_sparse_params(x, x.device),
        return_dict=False,
    )
    return out.permute(0, 4, 1, 2, 3)


def _predict_ltx2(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    """LTX-2's video velocity for `noisy`, beside one clean (sigma 0) audio latent frame: a
    character LoRA is trained on stills, which have no sound."""
    _, _, f, h, w = noisy.shape
    p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
    audio = torch.zeros(
        noisy.shape[0], 1, transformer.config.audio_in_channels, device=noisy.device
    ).to(noisy.dtype)
    zero = torch.zeros_like(timestep)
    video, _ = transformer(
        hidden_states=pipe._pack_latents(noisy, p, pt),
        audio_hidden_states=audio,
        timestep=timestep,
        sigma=timestep,
        audio_timestep=zero,
        audio_sigma=zero,
        num_frames=f // pt,
        height=h // p,
        width=w // p,
        fps=float(model.native_fps),
        audio_num_frames=1,
        return_dict=False,
        **text,
    )
    return pipe._unpack_latents(video, f // pt, h // p, w // p, p, pt)
