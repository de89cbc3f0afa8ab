"""The one registry of models the pipeline can load: video models, the SDXL still model, upscalers.

Every stage and the brief schema read model facts from here; nothing else hard-codes a checkpoint
id, a native size or a frame-count rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TinySize:
    """Sizes the `tiny` profile renders at: same code, small tensors."""

    width: int
    height: int
    steps: int


@dataclass(frozen=True)
class VideoModel:
    """A text-to-video model family member as diffusers loads it."""

    name: str
    family: str  # "hunyuan" | "wan" | "ltx": selects the prompt/latent/forward conventions
    pipeline_class: str  # attribute of the `diffusers` module
    transformer_class: str
    repo_id: str
    revision: str
    native_width: int
    native_height: int
    native_fps: int
    frame_multiple: int  # valid frame counts are frame_multiple * k + 1
    default_steps: int
    guidance_scale: float
    flow_shift: float | None  # None: the scheduler's own (dynamic) shifting
    lora_target_modules: tuple[str, ...]
    licence: str
    tiny: TinySize

    def valid_frame_count(self, duration_s: float, fps: float | None = None) -> int:
        """Smallest valid frame count that covers `duration_s` at `fps` (native by default)."""
        wanted = max(1, round(duration_s * (fps or self.native_fps)))
        k = -(-(wanted - 1) // self.frame_multiple)  # ceil
        return self.frame_multiple * k + 1


@dataclass(frozen=True)
class StillModel:
    name: str
    pipeline_class: str
    repo_id: str
    revision: str
    native_width: int
    native_height: int
    default_steps: int
    guidance_scale: float
    tiny: TinySize


@dataclass(frozen=True)
class UpscalerModel:
    name: str
    filename: str  # weights file as published by the Real-ESRGAN project
    scale: int
    source: str


_ATTN = ("to_q", "to_k", "to_v", "to_out.0")

VIDEO_MODELS: dict[str, VideoModel] = {
    m.name: m
    for m in (
        VideoModel(
            name="hunyuan_video",
            family="hunyuan",
            pipeline_class="HunyuanVideoPipeline",
            transformer_class="HunyuanVideoTransformer3DModel",
            repo_id="hunyuanvideo-community/HunyuanVideo",
            revision="main",
            native_width=1280,
            native_height=720,
            native_fps=24,
            frame_multiple=4,
            default_steps=50,
            guidance_scale=6.0,
            flow_shift=7.0,
            lora_target_modules=_ATTN,
            licence="Tencent Hunyuan Community License",
            tiny=TinySize(width=112, height=64, steps=2),
        ),
        VideoModel(
            name="wan21_t2v_1_3b",
            family="wan",
            pipeline_class="WanPipeline",
            transformer_class="WanTransformer3DModel",
            repo_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            revision="main",
            native_width=832,
            native_height=480,
            native_fps=16,
            frame_multiple=4,
            default_steps=50,
            guidance_scale=5.0,
            flow_shift=3.0,
            lora_target_modules=_ATTN,
            licence="Apache-2.0",
            tiny=TinySize(width=112, height=64, steps=2),
        ),
        VideoModel(
            name="ltx_video",
            family="ltx",
            pipeline_class="LTXPipeline",
            transformer_class="LTXVideoTransformer3DModel",
            repo_id="Lightricks/LTX-Video",
            revision="main",
            native_width=768,
            native_height=512,
            native_fps=24,
            frame_multiple=8,
            default_steps=50,
            guidance_scale=3.0,
            flow_shift=None,
            lora_target_modules=_ATTN,
            licence="LTX-Video Open Weights License",
            tiny=TinySize(width=128, height=96, steps=2),
        ),
    )
}

DEFAULT_VIDEO_MODEL = "hunyuan_video"

SDXL = StillModel(
    name="sdxl_base",
    pipeline_class="StableDiffusionXLPipeline",
    repo_id="stabilityai/stable-diffusion-xl-base-1.0",
    revision="main",
    native_width=1024,
    native_height=1024,
    default_steps=30,
    guidance_scale=6.0,
    tiny=TinySize(width=64, height=64, steps=2),
)

UPSCALERS: dict[str, UpscalerModel] = {
    m.name: m
    for m in (
        UpscalerModel(
            "realesrgan_x4plus", "RealESRGAN_x4plus.pth", 4, "xinntao/Real-ESRGAN v0.1.0"
        ),
        UpscalerModel(
            "realesrgan_x2plus", "RealESRGAN_x2plus.pth", 2, "xinntao/Real-ESRGAN v0.2.1"
        ),
    )
}

DEFAULT_UPSCALER = "realesrgan_x4plus"


def video_model(name: str) -> VideoModel:
    """The registry entry for `name`, or a KeyError listing the known models."""
    try:
        return VIDEO_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(VIDEO_MODELS))
        raise KeyError(f"unknown video model {name!r}; known models: {known}") from None
