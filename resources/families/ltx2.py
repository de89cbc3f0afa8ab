"""LTX-2 (Lightricks, 2026): picture and sound in one generation, Gemma 3 prompts through
connectors, one text stream for each branch. Its renderer is resources/video/ltx2.py."""

from __future__ import annotations

from typing import Any

import torch

from resources.domain.architectures import Architecture, Latent
from resources.families.base import Family, meta, meta_mask


def _encode_text(pipe: Any, caption: str, device: str) -> dict[str, torch.Tensor]:
    # The pipeline's prompt path: Gemma's stacked hidden states through the connectors, one text
    # stream for the video branch and one for the audio branch.
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


def _normalise(pipe: Any, latents: torch.Tensor) -> torch.Tensor:
    vae = pipe.vae
    mean, std = vae.latents_mean.float().cpu(), vae.latents_std.float().cpu()
    return pipe._normalize_latents(latents, mean, std, vae.config.scaling_factor)


def _predict(pipe, model, transformer, noisy, timestep, text) -> torch.Tensor:
    """The video velocity for `noisy`, beside one clean (sigma 0) audio latent frame: a
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


def _forward_inputs(name: str, arch: Architecture, latent: Latent, module) -> dict[str, Any]:
    """The video tokens, the clip's audio stream and the prompt for both branches."""
    c, f, h, w = latent.channels, latent.frames, latent.height, latent.width
    pixel_frames = (f - 1) * arch.temporal_compression + 1
    # The pipeline's audio length: the clip's seconds at 25 audio latents a second.
    audio = round(pixel_frames / 24.0 * arch.extra["audio_latents_per_s"])
    text = meta(1, arch.text_tokens, arch.extra["caption_dim"])
    mask = meta_mask(arch.text_tokens)
    return dict(
        hidden_states=meta(1, f * h * w, c),
        audio_hidden_states=meta(1, audio, arch.extra["audio_channels"]),
        encoder_hidden_states=text,
        audio_encoder_hidden_states=text,
        timestep=meta(1),
        audio_timestep=meta(1),
        sigma=meta(1),
        audio_sigma=meta(1),
        encoder_attention_mask=mask,
        audio_encoder_attention_mask=mask,
        num_frames=f,
        height=h,
        width=w,
        fps=24.0,
        audio_num_frames=audio,
    )


FAMILY = Family(
    name="ltx2",
    transformer_classes=("LTX2VideoTransformer3DModel",),
    encode_text=_encode_text,
    normalise_latents=_normalise,
    predict=_predict,
    forward_inputs=_forward_inputs,
    tiny="resources.tiny.ltx2:build_tiny_ltx2",
    tiny_extras="resources.tiny.ltx2:tiny_ltx2_extras",  # the two-stage recipe's upsampler
)
