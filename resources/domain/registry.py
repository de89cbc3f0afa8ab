"""The one registry of models the pipeline can load: video models, the SDXL still model, upscalers.

Every stage and the brief schema read model facts from here; nothing else hard-codes a checkpoint
id, a native size or a frame-count rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from resources.domain.licences import Licence, licence
from resources.domain.timing import frames_for


@dataclass(frozen=True)
class RenderSize:
    """A width, height and step count to render at: a model's native size or the tiny profile's."""

    width: int
    height: int
    steps: int


# GPU classes a memory plan is written for, in GB: g5 (A10G 24 GB), g6e / A6000 class (48 GB),
# p4de / p5 (A100 / H100 80 GB).
GPU_CLASSES: tuple[int, ...] = (24, 48, 80)
Offload = Literal["none", "model", "group"]


@dataclass(frozen=True)
class MemoryPlan:
    """How a pipeline is placed on one GPU class; `load_video_pipeline` applies it.

    * offload "none": every component on the GPU; "model": diffusers' model CPU offload (one
      component on the GPU at a time); "group": block-level group offloading (transformer blocks
      streamed to the GPU as they run, overlapped with compute on CUDA streams).
    * fp8_layerwise: transformer weights stored as float8_e4m3fn, upcast per layer to compute.
    * vae_tiling: decode the clip in overlapping spatial tiles (bounded VAE memory).
    """

    gpu_gb: int
    offload: Offload = "none"
    fp8_layerwise: bool = False
    vae_tiling: bool = False


def _plans(
    a10g: tuple[Offload, bool, bool],
    g48: tuple[Offload, bool, bool],
    g80: tuple[Offload, bool, bool],
) -> tuple[MemoryPlan, ...]:
    return tuple(
        MemoryPlan(gb, offload, fp8, tiling)
        for gb, (offload, fp8, tiling) in zip(GPU_CLASSES, (a10g, g48, g80), strict=True)
    )


@dataclass(frozen=True)
class VideoModel:
    """A text-to-video model family member as diffusers loads it."""

    name: str
    # "hunyuan" | "hunyuan15" | "wan" | "ltx" | "ltx2" | "cogvideox" | "mochi" | "kandinsky5":
    # prompt/latent/forward rules
    family: str
    pipeline_class: str  # attribute of the `diffusers` module
    transformer_class: str
    repo_id: str
    revision: str  # a Hub commit where one is pinned, else "main" (see docs/models.md)
    native_width: int
    native_height: int
    native_fps: int
    frame_multiple: int  # valid frame counts are frame_multiple * k + 1
    default_steps: int
    guidance_scale: float
    flow_shift: float | None  # None: the scheduler's own schedule (dynamic shift, or DDIM/DPM)
    lora_target_modules: tuple[str, ...]
    licence: str
    tiny: RenderSize
    # Pixel sizes the pipeline accepts are multiples of this: VAE spatial compression x the
    # transformer's spatial patch (e.g. Wan 2.1 8x2, Wan 2.2 TI2V 16x2, LTX-Video 32x1).
    size_multiple: int = 16
    max_frames: int = 129  # longest clip the model was trained for, at native fps
    params_b: float = 0.0  # transformer parameters, billions (per expert for mixtures)
    experts: int = 1  # 2: a high-noise `transformer` and a low-noise `transformer_2` (Wan 2.2)
    boundary_ratio: float | None = None  # where the experts hand over, as a fraction of t
    guidance_scale_2: float | None = None  # guidance of the low-noise expert
    expand_timesteps: bool = False  # Wan 2.2 TI2V: per-token timesteps
    lora: bool = True  # diffusers can load a LoRA into this pipeline's transformer
    # How the character LoRA is attached: "diffusers" (the pipeline's LoRA loader mixin) or
    # "peft" (no loader in diffusers: peft on the transformer directly, HunyuanVideo 1.5).
    lora_loader: Literal["diffusers", "peft"] = "diffusers"
    # musubi-tuner's `--task` for this checkpoint (Wan, HunyuanVideo 1.5, Kandinsky 5; None:
    # musubi has no task for it, so the kohya backend refuses it). See resources/lora/kohya.py.
    musubi_task: str | None = None
    memory_plans: tuple[MemoryPlan, ...] = ()
    # The value a brief's `video.licence_ack` must carry to select it (None: no acknowledgement
    # needed). The licence's conditions are `licence`'s entry in resources/domain/licences.py.
    licence_ack: str | None = None
    # The model generates a sound track together with the picture (LTX-2): shots keep it.
    generates_audio: bool = False
    # The smallest GPU class (GB) that trains its LoRA with an 8-bit (INT8) base, where the
    # trainer documents one (None: not documented).
    lora_train_gpu_gb_int8: int | None = None
    # The smallest GPU class (GB) that trains this model's character LoRA (bf16 base, one-frame
    # stills at the recipe's size, gradient checkpointing); the source is in docs/models.md.
    lora_train_gpu_gb: int = 24
    # Scene models (HoloCine) render the whole shot list as one generation: "" (one clip per
    # shot), "full" (window cross-attention) or "sparse" (plus sparse inter-shot self-attention).
    scene_attention: Literal["", "full", "sparse"] = ""
    # Transformer weights published as single files in `weights_repo`, loaded with
    # from_single_file into the layout of `repo_id`: (pipeline component, path in weights_repo).
    weights_repo: str = ""
    single_files: tuple[tuple[str, str], ...] = ()
    # Identity from the approved reference still (`video.condition: reference | both`): the
    # name of this model's image-to-video checkpoint in REFERENCE_MODELS ("": it cannot).
    reference_model: str = ""
    # An image-to-video checkpoint: every call takes the still as its `image` argument.
    takes_image: bool = False
    # The VAE frames it encodes to condition on the still: 1 (the still alone), or the clip's
    # length (Wan's image-to-video pipeline encodes the still followed by zero frames).
    still_encode: Literal["still", "clip"] = "still"
    min_frames: int = 1  # the shortest clip its pipeline renders

    @property
    def is_scene_model(self) -> bool:
        """True when one generation renders every shot of a brief (cut into shots afterwards)."""
        return bool(self.scene_attention)

    @property
    def conditions(self) -> Licence:
        """Its licence's conditions, as data (resources/domain/licences.py)."""
        return licence(self.licence)

    @property
    def licence_terms(self) -> str:
        """The conditions in one line, for messages."""
        return "; ".join(self.conditions.conditions()) or "no conditions beyond the notice"

    def licence_record(self) -> dict[str, Any]:
        """The licence as manifests, lineage and the client report state it."""
        return {"model": self.name, **self.conditions.record()}

    def valid_frame_count(self, duration_s: float, fps: float | None = None) -> int:
        """Smallest valid frame count that covers `duration_s` at `fps` (native by default)."""
        wanted = frames_for(duration_s, fps or self.native_fps)
        k = -(-(wanted - 1) // self.frame_multiple)  # ceil
        return self.frame_multiple * k + 1

    @property
    def max_duration_s(self) -> float:
        """The longest clip the model renders in one go, in seconds at its native fps."""
        return self.max_frames / self.native_fps

    def takes(self, duration_s: float) -> bool:
        """Whether one clip of `duration_s` seconds fits in the model's longest clip."""
        return self.valid_frame_count(duration_s) <= self.max_frames

    def memory_plan(self, gpu_gb: float) -> MemoryPlan:
        """The plan for a GPU with `gpu_gb` GiB: the largest class it belongs to."""
        if not self.memory_plans:
            raise ValueError(f"registry entry {self.name!r} has no memory plans")
        # Cards report less than their marketing size (A10G 22.5 GiB, A100-80GB 79.2 GiB).
        fitting = [p for p in self.memory_plans if gpu_gb >= 0.9 * p.gpu_gb]
        if not fitting:
            raise ValueError(
                f"{self.name} needs a GPU of the {self.memory_plans[0].gpu_gb} GB class or "
                f"larger; this one has {gpu_gb:.1f} GiB"
            )
        return max(fitting, key=lambda p: p.gpu_gb)


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
    tiny: RenderSize
    licence: str = ""  # a key of licences.LICENCES


@dataclass(frozen=True)
class UpscalerModel:
    name: str
    filename: str  # weights file as published by the Real-ESRGAN project
    scale: int
    source: str
    architecture: str = "RRDBNet"  # "RRDBNet" (Real-ESRGAN x4plus/x2plus) | "SRVGGNetCompact"
    licence: str = "BSD-3-Clause"  # xinntao/Real-ESRGAN's LICENSE covers all its weights


@dataclass(frozen=True)
class VisionModel:
    """An image backbone the identity scores embed with, as transformers loads it."""

    name: str
    model_class: str  # attribute of the `transformers` module
    repo_id: str
    revision: str  # the Hub commit the weights are pinned to (see docs/identity.md)
    image_size: int  # the side its processor crops to (production)
    patch_size: int
    embedding: str  # the output field used as the image's embedding
    licence: str


_ATTN = ("to_q", "to_k", "to_v", "to_out.0")
# Tiny sizes: Wan 2.1/2.2 A14B, HunyuanVideo and CogVideoX need multiples of 16, Wan 2.2 TI2V and
# LTX-Video multiples of 32.
_TINY_16 = RenderSize(width=112, height=64, steps=2)

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
            lora_train_gpu_gb=24,
            tiny=_TINY_16,
            max_frames=129,
            params_b=13.0,
            memory_plans=_plans(
                ("group", True, True), ("model", False, True), ("none", False, True)
            ),
        ),
        VideoModel(
            name="wan21_t2v_1_3b",
            family="wan",
            pipeline_class="WanPipeline",
            transformer_class="WanTransformer3DModel",
            repo_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            revision="0fad780a534b6463e45facd96134c9f345acfa5b",
            native_width=832,
            native_height=480,
            native_fps=16,
            frame_multiple=4,
            default_steps=50,
            guidance_scale=5.0,
            flow_shift=3.0,
            lora_target_modules=_ATTN,
            licence="Apache-2.0",
            tiny=_TINY_16,
            max_frames=81,
            params_b=1.3,
            musubi_task="t2v-1.3B",
            memory_plans=_plans(
                ("model", False, True), ("none", False, True), ("none", False, False)
            ),
        ),
        VideoModel(
            name="wan21_t2v_14b",
            family="wan",
            pipeline_class="WanPipeline",
            transformer_class="WanTransformer3DModel",
            repo_id="Wan-AI/Wan2.1-T2V-14B-Diffusers",
            revision="main",
            native_width=1280,
            native_height=720,
            native_fps=16,
            frame_multiple=4,
            default_steps=50,
            guidance_scale=5.0,
            flow_shift=5.0,
            lora_target_modules=_ATTN,
            licence="Apache-2.0",
            tiny=_TINY_16,
            max_frames=81,
            params_b=14.0,
            musubi_task="t2v-14B",
            memory_plans=_plans(
                ("group", True, True), ("model", False, True), ("none", False, True)
            ),
        ),
        VideoModel(
            name="wan22_t2v_a14b",
            family="wan",
            pipeline_class="WanPipeline",
            transformer_class="WanTransformer3DModel",
            repo_id="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
            revision="5be7df9619b54f4e2667b2755bc6a756675b5cd7",
            native_width=1280,
            native_height=720,
            native_fps=16,
            frame_multiple=4,
            default_steps=40,
            guidance_scale=4.0,
            flow_shift=12.0,
            lora_target_modules=_ATTN,
            licence="Apache-2.0",
            tiny=_TINY_16,
            max_frames=81,
            params_b=14.0,
            experts=2,
            boundary_ratio=0.875,
            guidance_scale_2=3.0,
            musubi_task="t2v-A14B",
            reference_model="wan22_i2v_a14b",
            memory_plans=_plans(
                ("group", True, True), ("group", False, True), ("model", False, True)
            ),
        ),
        VideoModel(
            name="wan22_ti2v_5b",
            family="wan",
            pipeline_class="WanPipeline",
            transformer_class="WanTransformer3DModel",
            repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            revision="main",
            native_width=1280,
            native_height=704,
            native_fps=24,
            frame_multiple=4,
            default_steps=50,
            guidance_scale=5.0,
            flow_shift=5.0,
            lora_target_modules=_ATTN,
            licence="Apache-2.0",
            tiny=RenderSize(width=128, height=64, steps=2),
            size_multiple=32,
            max_frames=121,
            params_b=5.0,
            expand_timesteps=True,
            memory_plans=_plans(
                ("model", False, True), ("none", False, True), ("none", False, True)
            ),
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
            tiny=RenderSize(width=128, height=96, steps=2),
            size_multiple=32,
            max_frames=257,
            params_b=2.0,
            memory_plans=_plans(
                ("none", False, True), ("none", False, False), ("none", False, False)
            ),
        ),
        VideoModel(
            name="cogvideox_5b",
            family="cogvideox",
            pipeline_class="CogVideoXPipeline",
            transformer_class="CogVideoXTransformer3DModel",
            repo_id="THUDM/CogVideoX-5b",
            revision="main",
            native_width=720,
            native_height=480,
            native_fps=8,
            # Its VAE decodes latent frames in pairs after the first: 8k+1 frames (9 ... 49) decode
            # to exactly that many; 4k+1 counts with an even number of latents decode 3 too many.
            frame_multiple=8,
            default_steps=50,
            guidance_scale=6.0,
            flow_shift=None,
            lora_target_modules=_ATTN,
            licence="CogVideoX License",
            lora_train_gpu_gb=48,
            tiny=RenderSize(width=96, height=64, steps=2),
            max_frames=49,
            params_b=5.0,
            memory_plans=_plans(
                ("model", False, True), ("none", False, True), ("none", False, True)
            ),
        ),
        *(
            VideoModel(
                name=name,
                family="wan",
                # The folder is Wan 2.2 A14B's (text encoder, VAE, scheduler, configs); the
                # transformers come from HoloCine's single files, rendered by HoloCinePipeline.
                pipeline_class="WanPipeline",
                transformer_class="WanTransformer3DModel",
                repo_id="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
                revision="5be7df9619b54f4e2667b2755bc6a756675b5cd7",
                # HoloCine_inference_*_attention.py: 480x832, 50 steps, cfg 5 on both experts,
                # shift 5, expert switch at 0.875, videos saved at 15 fps, 241 frames trained.
                native_width=832,
                native_height=480,
                native_fps=15,
                frame_multiple=4,
                default_steps=50,
                guidance_scale=5.0,
                flow_shift=5.0,
                lora_target_modules=_ATTN,
                licence="CC BY-NC-SA 4.0",
                licence_ack="non-commercial",
                tiny=_TINY_16,
                max_frames=241,  # the whole scene: HoloCine trains on 241-frame sequences
                params_b=14.0,
                experts=2,
                boundary_ratio=0.875,
                guidance_scale_2=5.0,
                scene_attention=attention,
                weights_repo="hlwang06/HoloCine",
                single_files=(
                    ("transformer", f"HoloCine_dit/{attention}/{attention}_high_noise.safetensors"),
                    (
                        "transformer_2",
                        f"HoloCine_dit/{attention}/{attention}_low_noise.safetensors",
                    ),
                ),
                memory_plans=_plans(
                    ("group", True, True), ("group", False, True), ("model", False, True)
                ),
            )
            for name, attention in (("holocine_14b", "full"), ("holocine_14b_sparse", "sparse"))
        ),
        VideoModel(
            name="mochi_1",
            family="mochi",
            pipeline_class="MochiPipeline",
            transformer_class="MochiTransformer3DModel",
            repo_id="genmo/mochi-1-preview",
            revision="main",
            # Model card and diffusers' Mochi docs: 848x480 at 30 fps, up to 163 frames (6k+1),
            # 64 steps at guidance 4.5; the pipeline's own linear-quadratic sigma schedule.
            native_width=848,
            native_height=480,
            native_fps=30,
            frame_multiple=6,
            default_steps=64,
            guidance_scale=4.5,
            flow_shift=None,
            lora_target_modules=_ATTN,
            licence="Apache-2.0",
            tiny=_TINY_16,
            max_frames=163,
            params_b=10.0,
            # genmo's fine-tuner README: 1x H100 or A100, 80 GB recommended (37 frames: 50 GB).
            lora_train_gpu_gb=80,
            # diffusers' Mochi docs: the bf16 variant with model CPU offload and VAE tiling needs
            # 22 GB; full precision with the same options 42 GB.
            memory_plans=_plans(
                ("model", False, True), ("model", False, True), ("none", False, True)
            ),
        ),
    )
}

# LTX-2 (Lightricks): video and sound from one transformer. Model card and diffusers' LTX-2 docs:
# 24 fps, 8k+1 frames, up to 20 s; the production recipe renders at half size with the distilled
# 8-step schedule, doubles the latent with the latent upsampler and refines 3 steps at full size
# (so the full size is a multiple of 2 x 32 = 64). Licence: LTX-2 Community License (the
# repository's LICENSE): free for entities under US$10M annual revenue, a paid licence above
# (the threshold is data: licences.LTX2_COMMUNITY.revenue_limit_usd).
# Training: Lightricks' LTX-2 trainer documents 80 GB GPUs, 32 GB with an INT8 base.
_LTX2_LICENCE = dict(
    licence="LTX-2 Community License",
)
_LTX2_COMMON = dict(
    family="ltx2",
    pipeline_class="LTX2Pipeline",
    transformer_class="LTX2VideoTransformer3DModel",
    revision="main",
    native_width=1280,
    native_height=704,
    native_fps=24,
    frame_multiple=8,
    default_steps=8,
    guidance_scale=1.0,  # the distilled recipe runs without CFG
    flow_shift=None,
    lora_target_modules=_ATTN,
    tiny=RenderSize(width=192, height=128, steps=2),
    size_multiple=32,  # one stage; a two-stage tier's full size needs 64 (checked when rendering)
    max_frames=481,
    generates_audio=True,
    lora_train_gpu_gb=80,
    lora_train_gpu_gb_int8=32,
    # bf16 19-22B (38-44 GB) plus Gemma 3 12B: on an A10G the blocks stream from host memory in
    # float8; 48 GB holds one component at a time; 80 GB holds the transformer.
    memory_plans=_plans(("group", True, True), ("model", False, True), ("model", False, True)),
    **_LTX2_LICENCE,
)
VIDEO_MODELS.update(
    {
        m.name: m
        for m in (
            VideoModel(
                name="ltx_2",
                repo_id="Lightricks/LTX-2",
                params_b=18.9,
                reference_model="ltx_2_i2v",
                **_LTX2_COMMON,
            ),
            # LTX-2.5 loads through the same diffusers classes (diffusers 0.40 and later).
            VideoModel(
                name="ltx_2_5",
                repo_id="Lightricks/LTX-2.5",
                params_b=22.0,
                reference_model="ltx_2_5_i2v",
                **_LTX2_COMMON,
            ),
        )
    }
)

# Kandinsky 5 (Kandinsky Lab, MIT: the model cards' `license: mit`): Lite 2B and Pro 19B, one
# Kandinsky5Transformer3DModel each, Qwen2.5-VL 7B and CLIP-L text encoders, HunyuanVideo's VAE
# (8x space, 4x time, 16 channels, patch 1x2x2). diffusers' Kandinsky 5 docs: 5 s checkpoints
# render 121 frames at 24 fps, 50 steps at guidance 5; Lite at 768x512, Pro at 1024x768 (HD).
# LoRA: the attention projections of both attention kinds (to_query/to_key/to_value and each
# attention's out_layer; the feed-forward's and the head's out_layer are left alone).
_K5_TARGETS = (
    "to_query",
    "to_key",
    "to_value",
    "self_attention.out_layer",
    "cross_attention.out_layer",
)
_K5_COMMON = dict(
    family="kandinsky5",
    pipeline_class="Kandinsky5T2VPipeline",
    transformer_class="Kandinsky5Transformer3DModel",
    revision="main",
    native_fps=24,
    frame_multiple=4,
    default_steps=50,
    guidance_scale=5.0,
    flow_shift=10.0,  # musubi-tuner's k5 video task configs: scheduler_scale 10
    lora_target_modules=_K5_TARGETS,
    licence="MIT",
    tiny=RenderSize(width=96, height=64, steps=2),
    max_frames=121,
)
# HunyuanVideo 1.5 (Tencent, Nov 2025): 8.3B, one HunyuanVideo15Transformer3DModel (54 dual-stream
# blocks, 16 heads x 128, patch 1) over a 16x-space, 4x-time, 32-channel VAE; Qwen2.5-VL 7B and a
# ByT5 glyph encoder. diffusers' layout of the 720p text-to-video checkpoint
# (hunyuanvideo-community, converted by diffusers' convert_hunyuan_video1_5_to_diffusers.py:
# shift 9, guidance 6, 121 frames at 24 fps). Licence: Tencent Hunyuan Community License (the
# model card's license_name tencent-hunyuan-community; not in the EU, the UK or South Korea).
# diffusers has no LoRA loader for it: the character LoRA is attached with peft
# (resources/video/peft_lora.py).
HUNYUAN_VIDEO_1_5 = VideoModel(
    name="hunyuan_video_1_5",
    family="hunyuan15",
    pipeline_class="HunyuanVideo15Pipeline",
    transformer_class="HunyuanVideo15Transformer3DModel",
    repo_id="hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v",
    revision="main",
    native_width=1280,
    native_height=720,
    native_fps=24,
    frame_multiple=4,
    default_steps=50,
    guidance_scale=6.0,
    flow_shift=9.0,  # diffusers' conversion script: 720p_t2v shift 9
    lora_target_modules=(*_ATTN, "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"),
    licence="Tencent Hunyuan Community License",
    tiny=RenderSize(width=64, height=48, steps=2),
    max_frames=121,
    params_b=8.3,
    # bf16 16.6 GB transformer plus Qwen2.5-VL 7B: on an A10G one component at a time with the
    # transformer stored in float8 (Tencent quote about 14 GB with offloading); 48 GB holds one
    # bf16 component at a time; 80 GB everything.
    memory_plans=_plans(("model", True, True), ("model", False, True), ("none", False, True)),
    lora_train_gpu_gb=48,
    lora_loader="peft",
    musubi_task="t2v",  # hv_1_5_train_network.py --task
    reference_model="hunyuan_video_1_5_i2v",
)
VIDEO_MODELS.update(
    {
        m.name: m
        for m in (
            VideoModel(
                name="kandinsky5_lite",
                repo_id="kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers",
                native_width=768,
                native_height=512,
                params_b=2.0,
                musubi_task="k5-lite-t2v-5s-sd",
                # 4 GB bf16 transformer; Qwen2.5-VL 7B (15 GB) takes its turn on an A10G.
                memory_plans=_plans(
                    ("model", False, True), ("none", False, True), ("none", False, False)
                ),
                **_K5_COMMON,
            ),
            VideoModel(
                name="kandinsky5_pro",
                repo_id="kandinskylab/Kandinsky-5.0-T2V-Pro-sft-5s-Diffusers",
                native_width=1024,
                native_height=768,
                params_b=19.0,
                musubi_task="k5-pro-t2v-5s-hd",
                lora_train_gpu_gb=80,
                reference_model="kandinsky5_pro_i2v",
                # 38 GB bf16: blocks stream from host memory in float8 on an A10G.
                memory_plans=_plans(
                    ("group", True, True), ("model", False, True), ("none", False, True)
                ),
                **_K5_COMMON,
            ),
            HUNYUAN_VIDEO_1_5,
        )
    }
)

DEFAULT_VIDEO_MODEL = "hunyuan_video"

# Image-to-video checkpoints a brief's model renders with when a shot's identity comes from the
# approved reference still (`video.condition` / `shots[].condition`: reference | both). They are
# not selectable as `video.model`: each belongs to the text-to-video entry naming it as its
# `reference_model` (the same family, text encoder and VAE; the character LoRA of "both" is that
# entry's). Loaded, placed and rendered by the one render path like every VideoModel.
REFERENCE_MODELS: dict[str, VideoModel] = {
    # Wan 2.2 I2V A14B (diffusers' layout of the Wan-AI checkpoint): two experts like the T2V
    # A14B, whose transformers take 36 channels (noise, the still's latent and its mask); no
    # CLIP image encoder (WanImageToVideoPipeline with transformer_2 and boundary_ratio).
    # diffusers' Wan docs: 40 steps at guidance 3.5, expert switch at 0.9.
    "wan22_i2v_a14b": replace(
        VIDEO_MODELS["wan22_t2v_a14b"],
        name="wan22_i2v_a14b",
        pipeline_class="WanImageToVideoPipeline",
        repo_id="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        revision="main",
        guidance_scale=3.5,
        guidance_scale_2=3.5,
        flow_shift=5.0,
        boundary_ratio=0.9,
        musubi_task="i2v-A14B",
        reference_model="",
        takes_image=True,
        still_encode="clip",  # WanImageToVideoPipeline.prepare_latents: still + zero frames
    ),
}
# Kandinsky 5 Pro I2V: the same transformer layout, text encoders and VAE as Pro T2V; the still is
# encoded by the VAE as the first latent frame (Kandinsky5I2VPipeline.prepare_latents). diffusers'
# Kandinsky 5 I2V docs list Pro only ("Available models: Kandinsky-5.0-I2V-Pro-sft-5s"), so Lite
# briefs cannot condition on the still.
REFERENCE_MODELS["kandinsky5_pro_i2v"] = VideoModel(
    name="kandinsky5_pro_i2v",
    repo_id="kandinskylab/Kandinsky-5.0-I2V-Pro-sft-5s-Diffusers",
    native_width=VIDEO_MODELS["kandinsky5_pro"].native_width,
    native_height=VIDEO_MODELS["kandinsky5_pro"].native_height,
    params_b=19.0,
    takes_image=True,
    # Kandinsky5I2VPipeline.normalize_first_frame matches the first 4 latent frames to the ones
    # after them: fewer than 5 latent frames (17 frames) give NaN frames.
    min_frames=17,
    memory_plans=VIDEO_MODELS["kandinsky5_pro"].memory_plans,
    musubi_task="k5-pro-i2v-5s-hd",  # musubi-tuner docs/kandinsky5.md: the Pro I2V SFT 5 s task
    **{**_K5_COMMON, "pipeline_class": "Kandinsky5I2VPipeline"},
)
# HunyuanVideo 1.5 720p I2V (diffusers' layout, hunyuanvideo-community): the T2V layout plus a
# SigLIP image encoder whose embedding of the still joins the text tokens, and the still's latent
# as the first frame's condition. Its pipeline takes no width or height: it renders the bucket
# nearest the still's aspect around `target_size` (resources/video/generator.py sets both).
# 720p I2V at shift 7 and guidance 6 (diffusers' convert_hunyuan_video1_5_to_diffusers.py:
# SCHEDULER_CONFIGS and GUIDANCE_CONFIGS of 720p_i2v; Tencent's README table), 50 steps.
REFERENCE_MODELS["hunyuan_video_1_5_i2v"] = replace(
    HUNYUAN_VIDEO_1_5,
    name="hunyuan_video_1_5_i2v",
    pipeline_class="HunyuanVideo15ImageToVideoPipeline",
    repo_id="hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_i2v",
    flow_shift=7.0,
    musubi_task="i2v",
    reference_model="",
    takes_image=True,
)
# LTX-2 conditions on an image with the same checkpoint: LTX2ConditionPipeline loads the model's
# own folder and puts the still's latent at latent frame 0 at full strength, re-compressed with
# H.264 at the checkpoint's CRF first as Lightricks' ltx-pipelines do (diffusers' LTX-2 docs;
# pipeline_ltx2_condition.py: 33 for LTX-2, 18 for LTX-2.5).
for _name in ("ltx_2", "ltx_2_5"):
    REFERENCE_MODELS[f"{_name}_i2v"] = replace(
        VIDEO_MODELS[_name],
        name=f"{_name}_i2v",
        pipeline_class="LTX2ConditionPipeline",
        reference_model="",
        takes_image=True,
    )
CONDITIONS = ("lora", "reference", "both")  # where a shot's identity comes from


def reference_model_of(model: VideoModel) -> VideoModel | None:
    """The image-to-video checkpoint `model` renders reference-still shots with, if any."""
    return REFERENCE_MODELS.get(model.reference_model) if model.reference_model else None


def reference_capable() -> list[str]:
    """The video models that can condition a shot on the reference still, by name."""
    return sorted(name for name, m in VIDEO_MODELS.items() if reference_model_of(m) is not None)


@dataclass(frozen=True)
class TextEncoderLimit:
    """How many tokens of a prompt one text encoder of a family reads; the rest is cut off."""

    name: str  # the encoder, as a producer reads it in a warning
    tokenizer: str  # its tokenizer's subfolder in the model folder
    max_tokens: int  # the pipeline's max_sequence_length (special tokens included)
    source: str  # where the number is published
    # The renderer passes the tokenizer's own model_max_length (LTX-2): the count uses it when
    # the folder's tokenizer states a real one.
    from_tokenizer: bool = False


# The default max_sequence_length of each family's __call__ in diffusers 0.42.1 (the installed
# pin; the renderer passes none, so these apply); HunyuanVideo's CLIP encoder takes 77 tokens in
# _get_clip_prompt_embeds, and its Llama count is after the prompt template's crop_start.
TEXT_ENCODERS: dict[str, tuple[TextEncoderLimit, ...]] = {
    "hunyuan": (
        TextEncoderLimit(
            "LLaVA-Llama-3 (HunyuanVideo text_encoder)",
            "tokenizer",
            256,
            "diffusers 0.42.1 HunyuanVideoPipeline.__call__ max_sequence_length=256",
        ),
        TextEncoderLimit(
            "CLIP ViT-L/14 (HunyuanVideo text_encoder_2)",
            "tokenizer_2",
            77,
            "diffusers 0.42.1 HunyuanVideoPipeline._get_clip_prompt_embeds max_sequence_length=77",
        ),
    ),
    "wan": (
        TextEncoderLimit(
            "umT5-XXL (Wan text_encoder)",
            "tokenizer",
            512,
            "diffusers 0.42.1 WanPipeline.__call__ max_sequence_length=512",
        ),
    ),
    "ltx": (
        TextEncoderLimit(
            "T5-XXL (LTX-Video text_encoder)",
            "tokenizer",
            128,
            "diffusers 0.42.1 LTXPipeline.__call__ max_sequence_length=128",
        ),
    ),
    "cogvideox": (
        TextEncoderLimit(
            "T5-XXL (CogVideoX text_encoder)",
            "tokenizer",
            226,
            "diffusers 0.42.1 CogVideoXPipeline.__call__ max_sequence_length=226",
        ),
    ),
    "mochi": (
        TextEncoderLimit(
            "T5-XXL (Mochi text_encoder)",
            "tokenizer",
            256,
            "diffusers 0.42.1 MochiPipeline.__call__ max_sequence_length=256",
        ),
    ),
    "kandinsky5": (
        TextEncoderLimit(
            "Qwen2.5-VL (Kandinsky 5 text_encoder)",
            "tokenizer",
            512,
            "diffusers 0.42.1 Kandinsky5T2VPipeline.__call__ max_sequence_length=512 "
            "(counted after the prompt template's crop)",
        ),
        TextEncoderLimit(
            "CLIP ViT-L/14 (Kandinsky 5 text_encoder_2)",
            "tokenizer_2",
            77,
            "diffusers 0.42.1 Kandinsky5T2VPipeline._encode_prompt_clip max_length=77",
        ),
    ),
    "hunyuan15": (
        TextEncoderLimit(
            "Qwen2.5-VL (HunyuanVideo 1.5 text_encoder)",
            "tokenizer",
            1000,
            "diffusers 0.42.1 HunyuanVideo15Pipeline.tokenizer_max_length=1000 (after the "
            "template's crop_start; the ByT5 glyph encoder reads only quoted text)",
        ),
    ),
    "ltx2": (
        TextEncoderLimit(
            "Gemma 3 (LTX-2 text_encoder)",
            "tokenizer",
            1024,
            "diffusers 0.42.1 LTX2Pipeline.__call__ max_sequence_length=1024; "
            "resources/video/ltx2.py passes the tokenizer's model_max_length",
            from_tokenizer=True,
        ),
    ),
}

SDXL = StillModel(
    name="sdxl_base",
    pipeline_class="StableDiffusionXLPipeline",
    repo_id="stabilityai/stable-diffusion-xl-base-1.0",
    revision="main",
    native_width=1024,
    native_height=1024,
    default_steps=30,
    guidance_scale=6.0,
    tiny=RenderSize(width=64, height=64, steps=2),
    licence="CreativeML Open RAIL++-M",  # the model card's licence
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
        UpscalerModel(
            "realesr_general_x4v3",
            "realesr-general-x4v3.pth",
            4,
            "xinntao/Real-ESRGAN v0.2.5.0",
            architecture="SRVGGNetCompact",
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


# Identity scoring (resources/qc/identity.py). DINOv2's CLS token separates individuals of one
# class better than CLIP's image embedding, which is why both are recorded (docs/identity.md).
DINOV2 = VisionModel(
    name="dinov2_base",
    model_class="Dinov2Model",
    repo_id="facebook/dinov2-base",
    revision="f9e44c814b77203eaa57a6bdbbd535f21ede1415",
    image_size=224,
    patch_size=14,
    embedding="pooler_output",  # the final layer-normed CLS token
    licence="Apache-2.0",
)
CLIP_VISION = VisionModel(
    name="clip_vit_large_patch14",
    model_class="CLIPVisionModelWithProjection",
    repo_id="openai/clip-vit-large-patch14",
    revision="32bd64288804d66eefd0ccbe215aa642df71cc41",
    image_size=224,
    patch_size=14,
    embedding="image_embeds",  # the projected CLS token, CLIP's joint image-text space
    licence="MIT",
)
VISION_MODELS: dict[str, VisionModel] = {m.name: m for m in (DINOV2, CLIP_VISION)}


@dataclass(frozen=True)
class VoiceModel:
    """A text-to-speech engine the narration speaks with: a Qwen3-TTS checkpoint, spoken by
    resources/sound/qwen3_tts_worker.py in the voice environment (scripts/install_voice_env.sh).
    The tiny profile builds the same architecture in code (resources/tiny/qwen3_tts.py, the
    `variant`) and runs the same synthesis code."""

    name: str
    repo_id: str
    revision: str
    variant: str  # the checkpoint's tts_model_type: "base" (cloning) or "custom_voice" (stock)
    languages: tuple[str, ...]
    clones_voice: bool  # whether a sample steers the synthesized voice
    licence: str  # the code's and the weights' licence
    licence_terms: str  # what the licence allows
    engine_languages: tuple[tuple[str, str], ...] = ()  # brief language -> the engine's name
    frame_rate: float = 0.0  # codec frames a second: generation is counted in frames
    # Stock voices a brief may name as `character.voice.preset`, each with its native language
    # as the model card states it (the engine speaks every language of `languages` with each).
    presets: tuple[tuple[str, str], ...] = ()

    def preset_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.presets)


# The voice engine of a character with a recorded voice: Qwen3-TTS, Base (voice cloning) variant,
# 12 Hz codec. Code (qwen-tts) and weights are Apache-2.0; it speaks Brazilian Portuguese and clones
# a voice from a short sample and its transcript. qwen-tts 0.1.1 pins transformers 4.57.3 and needs
# torchaudio (neither fits the pipeline's torch 2.13 / transformers 5.25), so it runs in its own
# environment (scripts/install_voice_env.sh) as a worker process
# (resources/sound/qwen3_tts_worker.py); the tiny profile builds the same architecture there
# (resources/tiny/qwen3_tts.py).
QWEN3_TTS_BASE = VoiceModel(
    name="qwen3_tts_base",
    repo_id="Qwen/Qwen3-TTS-12Hz-1.7B-Base",
    revision="main",
    variant="base",
    languages=("pt-BR",),
    clones_voice=True,
    licence="Apache-2.0",
    licence_terms="code (qwen-tts) and weights Apache-2.0: paid work allowed; keep the notice",
    engine_languages=(("pt-BR", "portuguese"),),
    frame_rate=12.5,
)
# A stock voice (`character.voice.preset`): Qwen3-TTS's CustomVoice variant, the same 1.7B
# architecture and 12 Hz codec as Base, Apache-2.0 like it. Its nine speakers are an embedding row
# each (config.json: talker_config.spk_id, spk_is_dialect); none is a native Portuguese speaker
# (the model card's table, below), so `validate` warns that a recorded sample is recommended for a
# Brazilian voice. Portuguese is one of its ten languages.
QWEN3_TTS_CUSTOM_VOICE = VoiceModel(
    name="qwen3_tts_custom_voice",
    repo_id="Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice",
    revision="main",
    variant="custom_voice",
    languages=("pt-BR",),
    clones_voice=False,
    licence="Apache-2.0",
    licence_terms="code (qwen-tts) and weights Apache-2.0: paid work allowed; keep the notice",
    engine_languages=(("pt-BR", "portuguese"),),
    frame_rate=12.5,
    presets=(
        ("Vivian", "Chinese"),
        ("Serena", "Chinese"),
        ("Uncle_Fu", "Chinese"),
        ("Dylan", "Chinese (Beijing dialect)"),
        ("Eric", "Chinese (Sichuan dialect)"),
        ("Ryan", "English"),
        ("Aiden", "English"),
        ("Ono_Anna", "Japanese"),
        ("Sohee", "Korean"),
    ),
)
VOICE_MODELS: dict[str, VoiceModel] = {m.name: m for m in (QWEN3_TTS_BASE, QWEN3_TTS_CUSTOM_VOICE)}
# The stock voice of a character whose brief names no voice (validate says so).
DEFAULT_PRESET = "Serena"
# A brief language as the model card names native languages (the preset warning compares them).
LANGUAGE_NAMES = {"pt-BR": "Portuguese"}


def voice_model_for(has_sample: bool) -> VoiceModel:
    """The engine of a character's lines: Base clones a sample, CustomVoice speaks a preset."""
    return QWEN3_TTS_BASE if has_sample else QWEN3_TTS_CUSTOM_VOICE


def preset_named(name: str) -> str | None:
    """The published spelling of stock voice `name` (any case), or None when there is none."""
    found = [p for p in QWEN3_TTS_CUSTOM_VOICE.preset_names() if p.lower() == name.lower()]
    return found[0] if found else None


@dataclass(frozen=True)
class MusicModel:
    """A text-to-music model for `audio.music: {prompt, seed}`, as diffusers loads it."""

    name: str
    pipeline_class: str  # attribute of the `diffusers` module
    repo_id: str
    revision: str
    steps: int  # denoising steps of its recipe
    licence: str
    # The licence's conditions as data: what a studio must know before it delivers the output.
    commercial_use: bool
    output_terms: str
    open_questions: tuple[str, ...]


# ACE-Step 1.5 (turbo, diffusers' format), read on 2026-12-05: its model cards declare the MIT
# licence and say generated music may be used commercially; written output terms are asked for in
# the project's discussions without an answer yet. Eight steps is the turbo recipe.
ACE_STEP = MusicModel(
    name="ace_step_music",
    pipeline_class="AceStepPipeline",
    repo_id="ACE-Step/acestep-v15-xl-turbo-diffusers",
    revision="main",
    steps=8,
    licence="MIT (model card)",
    commercial_use=True,
    output_terms="the model card's statement that generated music may be used commercially",
    open_questions=(
        "ace-step/ACE-Step-1.5#1256: written terms for publishing and monetising generated music",
        "ace-step/ACE-Step-1.5#1364: whether the hosted demo's stricter licence binds local use",
        "a prompt that imitates a protected work is the producer's responsibility",
    ),
)
MUSIC_MODELS: dict[str, MusicModel] = {m.name: m for m in (ACE_STEP,)}


@dataclass(frozen=True)
class SpeechCheckModel:
    """A model that checks narration: a speech recogniser or a speaker-verification model."""

    name: str
    model_class: str  # attribute of the `transformers` module
    repo_id: str
    revision: str
    licence: str


# Narration QC: transcription for the character error rate, x-vectors for the voice's similarity
# to the sample. The tiny profile builds both architectures in code (resources/tiny/speech_qc.py).
WHISPER_ASR = SpeechCheckModel(
    name="whisper_asr",
    model_class="WhisperForConditionalGeneration",
    repo_id="openai/whisper-large-v3-turbo",
    revision="main",
    licence="MIT",
)
WAVLM_SV = SpeechCheckModel(
    name="wavlm_sv",
    model_class="WavLMForXVector",
    repo_id="microsoft/wavlm-base-plus-sv",
    revision="main",
    # WavLM's code and checkpoints are published by microsoft/unilm under MIT; check the model
    # card of the pinned revision before a production run (not verified offline here).
    licence="MIT (microsoft/unilm; model card to be checked)",
)
SPEECH_CHECK_MODELS: dict[str, SpeechCheckModel] = {m.name: m for m in (WHISPER_ASR, WAVLM_SV)}
