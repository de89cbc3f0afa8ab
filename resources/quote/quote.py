"""The quote of a brief before any GPU stage: FLOPs, GPU-seconds and dollars per stage and shot.

Every line is an exact FLOP count (resources/quote/flops.py) turned into GPU-seconds by the
throughput table (resources/domain/throughput.py) and into dollars by the price table
(resources/domain/costs.py). Stages are estimators in `STAGE_ESTIMATORS`, each a function of the
quote's context returning its lines; another stage (identity scoring, say) joins the quote with
`add_stage_estimator(fn)` and appears in the table, the JSON and the totals without any other
change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from resources import families
from resources.domain.brief import Brief
from resources.domain.costs import (
    DEFAULT_INSTANCE_TYPE,
    HOSTED_APIS,
    WITHDRAWN_APIS,
    InstancePrice,
    hosted_cost,
    instance_price,
)
from resources.domain.lora_recipes import hyperparameters, recipe_for
from resources.domain.registry import SDXL, UPSCALERS, VideoModel, video_model
from resources.domain.scenes import plan_scene
from resources.domain.throughput import (
    BORROWED,
    MEASURED,
    PUBLISHED,
    UPSCALER_FRACTION,
    UPSCALER_FRACTION_SOURCE,
    Gpu,
    gpu_of,
    gpu_seconds,
    peak_memory_gb,
)
from resources.domain.tiers import ShotRendering, TierRecipe, shot_renderings, tier_recipe
from resources.domain.timing import frames_for
from resources.quote import flops
from resources.quote.summary import comparison

DELIVERABLE_FPS = 24  # the cut's frame rate (assets/stages/deliverables.py renders the brief's fps)


@dataclass(frozen=True)
class StageLine:
    """One line of a quote: a stage (or one shot of it), its FLOPs and GPU-seconds."""

    stage: str
    flops: float
    gpu_s: float
    basis: str  # where the achieved fraction of peak comes from
    shot: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class QuoteContext:
    """What every stage estimator reads: the brief, its model and tier, the GPU, the cache."""

    brief: Brief
    model: VideoModel
    tier: TierRecipe
    gpu: Gpu
    price: InstancePrice
    cache: flops.FlopCache
    # Each shot's checkpoint and recipe (a shot promoted alone differs from `tier`; a shot
    # conditioned on the still renders with the image-to-video checkpoint); `model` and `tier`
    # for any other generation (a scene).
    renderings: dict[str, ShotRendering] = field(default_factory=dict)
    voice_python: str = ""  # the voice environment's interpreter (empty: .venv-voice)

    def tier_of(self, shot_id: str) -> TierRecipe:
        found = self.renderings.get(shot_id)
        return found.recipe if found else self.tier

    def model_of(self, shot_id: str) -> VideoModel:
        found = self.renderings.get(shot_id)
        return found.model if found else self.model

    def fraction(self, family: str) -> tuple[float, str]:
        """Achieved fraction of peak for `family` on this GPU, and where it comes from."""
        if (family, self.gpu.name) in MEASURED:
            return MEASURED[(family, self.gpu.name)], "measured (benchmarks/render_gpu.py)"
        source = family if family in PUBLISHED else BORROWED.get(family, "hunyuan")
        timing = PUBLISHED[source]
        size = dict(width=timing.width, height=timing.height, frames=timing.frames)
        fwd = flops.transformer_forward(self.cache, timing.model, **size)["flops"]
        vae = flops.vae_decode(self.cache, timing.model, **size)["flops"]
        text = flops.text_encoders(self.cache, timing.model)["flops"]
        total = timing.steps * fwd + vae + text
        from resources.domain.throughput import GPUS

        peak = GPUS[timing.gpu].bf16_dense_tflops * 1e12
        fraction = total / timing.seconds / peak
        basis = f"{fraction:.3f} of peak from {timing.model} {timing.seconds:g} s on {timing.gpu}"
        if source != family:
            basis += f" (assumed for {family}: no published timing)"
        return fraction, basis

    def line(self, stage: str, family: str, total_flops: float, **kwargs: Any) -> StageLine:
        fraction, basis = self.fraction(family)
        return StageLine(
            stage, total_flops, gpu_seconds(total_flops, self.gpu, fraction), basis, **kwargs
        )


Estimator = Callable[[QuoteContext], list[StageLine]]


def references(ctx: QuoteContext) -> list[StageLine]:
    """SDXL stills: steps x (2 with CFG) UNet passes, a VAE decode and two prompts each."""
    counts = flops.sdxl_image(ctx.cache, width=SDXL.native_width, height=SDXL.native_height)
    passes = SDXL.default_steps * (2 if SDXL.guidance_scale > 1 else 1)
    per_image = passes * counts["unet_flops"] + counts["vae_flops"] + 2 * counts["text_flops"]
    n = ctx.brief.references.count
    detail = {"images": n, "unet_passes_per_image": passes}
    return [ctx.line("references", "sdxl", n * per_image, detail=detail)]


def lora_training(ctx: QuoteContext) -> list[StageLine]:
    """The character LoRA: steps x (forward + backward, counted on meta) of one expert."""
    recipe = recipe_for(ctx.model)
    hp = hyperparameters(recipe, rank=ctx.brief.lora.rank)
    step = flops.lora_training_step(
        ctx.cache,
        ctx.model.name,
        width=recipe.width,
        height=recipe.height,
        rank=hp.rank,
        target_modules=recipe.target_modules,
        gradient_checkpointing=True,
    )
    captions = ctx.brief.references.count * flops.text_encoders(ctx.cache, ctx.model.name)["flops"]
    steps = ctx.brief.lora.steps
    detail = {
        "steps": steps,
        "forward_per_step": step["forward"],
        "backward_per_step": step["backward"],
        "backward": "counted on meta (frozen base, LoRA trainable, gradient checkpointing)",
    }
    return [
        ctx.line("lora_training", ctx.model.family, steps * step["flops"] + captions, detail=detail)
    ]


def expert_steps(model: VideoModel, tier: TierRecipe) -> list[int]:
    """How many of the tier's steps each expert runs, routed by timestep as rendering does."""
    if model.experts == 1 or model.boundary_ratio is None:
        return [tier.steps]
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler(shift=tier.flow_shift or model.flow_shift or 1.0)
    scheduler.set_timesteps(tier.steps)
    boundary = model.boundary_ratio * scheduler.config.num_train_timesteps
    high = sum(1 for t in scheduler.timesteps if float(t) >= boundary)
    return [high, tier.steps - high]


SCENE = "scene"  # the quote line of a scene model's one generation


def _generations(ctx: QuoteContext) -> list[tuple[str, int]]:
    """(id, frames) of each generation: one per shot, or one scene for a scene model."""
    model = ctx.model
    if model.is_scene_model:  # HoloCine: the whole shot list in one generation
        return [
            (
                SCENE,
                plan_scene([s.duration_s for s in ctx.brief.shots], model.native_fps).num_frames,
            )
        ]
    return [(shot.id, model.valid_frame_count(shot.duration_s)) for shot in ctx.brief.shots]


def shot_renders(ctx: QuoteContext) -> list[StageLine]:
    """Each generation: prompt encoding, the denoising loop's transformer passes, the VAE decode.

    A scene model renders the shot list as one scene: one line for all of it, whose attention
    grows with the square of the scene's tokens. The sparse HoloCine variant is counted with full
    attention (the meta-device count runs the dense kernels): an upper bound for it.
    """
    lines: list[StageLine] = []
    # The image-to-video checkpoints share their sibling's text encoders and VAE.
    text = flops.text_encoders(ctx.cache, ctx.model.name)["flops"]
    for shot_id, frames in _generations(ctx):
        model, tier = ctx.model_of(shot_id), ctx.tier_of(shot_id)
        size = dict(width=tier.width, height=tier.height, frames=frames)
        forward = flops.transformer_forward(ctx.cache, model.name, **size)
        split = expert_steps(model, tier)
        guidance = [tier.guidance_scale, tier.guidance_scale_2 or tier.guidance_scale][: len(split)]
        # A transformer with embedded guidance (HunyuanVideo) runs one pass a step.
        cfg = not families.family(ctx.model.family).embedded_guidance
        passes = sum(
            s * (2 if cfg and g > 1.0 else 1) for s, g in zip(split, guidance, strict=True)
        )
        prompts = 2 if cfg and any(g > 1.0 for g in guidance) else 1
        render = passes * forward["flops"]
        if tier.refine_steps:  # two stages: `steps` at half size, `refine_steps` at full size
            half = dict(width=tier.width // 2, height=tier.height // 2, frames=frames)
            render = passes * flops.transformer_forward(ctx.cache, model.name, **half)["flops"]
            render += tier.refine_steps * forward["flops"]
        vae = flops.vae_decode(ctx.cache, ctx.model.name, **size)["flops"]
        detail = {
            "checkpoint": model.name,
            "tier": tier.tier,
            "frames": frames,
            "width": tier.width,
            "height": tier.height,
            "steps": tier.steps,
            "expert_steps": split,
            "transformer_passes": passes,
            "refine_steps": tier.refine_steps,
            "flops_per_forward": forward["flops"],
            "tokens": forward["tokens"],
        }
        if model.is_scene_model:
            detail["shots"] = [s.id for s in ctx.brief.shots]
            detail["attention"] = (
                "full (upper bound: the sparse variant computes less)"
                if model.scene_attention == "sparse"
                else "full"
            )
        lines += [
            ctx.line("text_encoding", model.family, prompts * text, shot=shot_id),
            *_still_encoding(ctx, model, tier, frames, shot_id),
            ctx.line("render", model.family, render, shot=shot_id, detail=detail),
            ctx.line("vae_decode", model.family, vae, shot=shot_id),
        ]
    return lines


def _still_encoding(
    ctx: QuoteContext, model: VideoModel, tier: TierRecipe, frames: int, shot_id: str
) -> list[StageLine]:
    """An image-to-video checkpoint's VAE encode of the reference still (Wan's: of the still
    followed by zero frames, the clip's length); none for a shot without the still."""
    if not model.takes_image:
        return []
    encoded = frames if model.still_encode == "clip" else 1
    size = dict(width=tier.width, height=tier.height, frames=encoded)
    total = flops.vae_encode(ctx.cache, ctx.model.name, **size)["flops"]
    detail = {"frames": encoded, "what": "VAE encode of the reference still"}
    return [ctx.line("still_encoding", model.family, total, shot=shot_id, detail=detail)]


def deliverable(ctx: QuoteContext) -> list[StageLine]:
    """Real-ESRGAN once per source frame the cut uses (H.264 runs on NVENC or the CPU)."""
    upscaler = UPSCALERS[ctx.brief.deliverable.upscaler]
    frames, total = 0, 0.0
    for s in ctx.brief.shots:
        tier = ctx.tier_of(s.id)
        per_frame = flops.upscale_frame(
            ctx.cache, upscaler.architecture, width=tier.width, height=tier.height
        )["flops"]
        n = min(
            ctx.model.valid_frame_count(s.duration_s),
            frames_for(s.duration_s, ctx.model.native_fps),
        )
        frames += n
        total += n * per_frame
    seconds = gpu_seconds(total, ctx.gpu, UPSCALER_FRACTION)
    basis = f"{UPSCALER_FRACTION} of peak, {UPSCALER_FRACTION_SOURCE}"
    return [StageLine("deliverable", total, seconds, basis, detail={"upscaled_frames": frames})]


def identity_scoring(ctx: QuoteContext) -> list[StageLine]:
    """The character, measured: reference stills embedded once, then every shot scored.

    FLOPs of the full-size DINOv2 and CLIP backbones (resources/qc/flops.py, counted on meta and
    cached by image size like every other count: the committed seed holds the tiers' sizes);
    GPU-seconds at the video model's achieved fraction (dense ViT matmuls, like its transformer).
    """
    from resources.qc.flops import scoring_flops

    forward = partial(flops.backbone_forward, ctx.cache)
    per_image = forward("dinov2", 224, 224) + forward("clip", 224, 224)
    refs = ctx.brief.references.count * per_image
    # The stills are embedded in reference_images (the reference-set check): its stage's line.
    detail = {"what": "DINOv2 + CLIP embeddings of the reference stills"}
    lines = [ctx.line("references", ctx.model.family, refs, detail=detail)]
    for shot_id, frames in _generations(ctx):
        tier = ctx.tier_of(shot_id)
        cost = scoring_flops(frames, tier.width, tier.height, forward=forward)
        detail = {
            "frames": frames,
            "temporal_flops": cost.temporal,
            "identity_flops": cost.identity,
        }
        lines.append(
            ctx.line("identity_scoring", ctx.model.family, cost.total, shot=shot_id, detail=detail)
        )
    return lines


def narration(ctx: QuoteContext) -> list[StageLine]:
    """Each line spoken (Qwen3-TTS 1.7B), transcribed (Whisper) and compared with the voice (WavLM).

    The voice is counted at each line's own shape (resources/sound/flops.py: talker positions,
    codec frames at the normal speaking rate), every shape of the brief in one count, cached by
    shape like the others. The checks are counted once at a reference size and scaled: seconds
    for the speaker model, one 30 s window for the recogniser. One attempt per line, as shots
    are quoted.
    """
    from resources.domain.speech import speech_seconds
    from resources.sound import flops as sound_flops

    spoken = [s for s in ctx.brief.shots if s.line]
    if not spoken:
        return []
    key = f"narration-{sound_flops.WHISPER_TOKENS}-{sound_flops.SPEAKER_S:g}"
    per = ctx.cache.get(
        key, lambda: (c := sound_flops.counts()) and {"flops": sum(c.values()), **c}
    )
    engine, voices = voice_line_counts(ctx, spoken)
    lines = []
    for shot, voice in zip(spoken, voices, strict=True):
        seconds = speech_seconds(ctx.brief.spoken(shot), ctx.brief.audio.language)
        speaker = per["wavlm"] * seconds / sound_flops.SPEAKER_S
        total = voice["flops"] + per["whisper"] + speaker
        detail = {
            "voice_engine": engine,
            "voice_flops": voice["flops"],
            "voice_positions": voice["positions"],
            "voice_frames": voice["frames"],
            "asr_flops": per["whisper"],
            "speaker_flops": speaker,
        }
        lines.append(ctx.line("narration", ctx.model.family, total, shot=shot.id, detail=detail))
    return lines


def voice_line_keys(brief: Brief, spoken: list) -> tuple[Any, list, list[str]]:
    """The voice engine of `brief`'s lines, and each spoken shot's line shape with the key its
    FLOP count is cached under."""
    from resources.domain.architectures import QWEN3_TTS_DECODER, QWEN3_TTS_TALKER
    from resources.domain.registry import voice_model_for
    from resources.sound import flops as sound_flops

    voice = brief.character.voice
    transcript = voice.transcript if voice is not None and voice.sample is not None else None
    entry = voice_model_for(transcript is not None)
    language = brief.audio.language
    shapes = [
        sound_flops.voice_shape(brief.spoken(s), language, entry.frame_rate, transcript)
        for s in spoken
    ]
    digest = flops.config_digest(QWEN3_TTS_TALKER.config, QWEN3_TTS_DECODER.config)
    return (
        entry,
        shapes,
        [f"voice-{s.positions}-{s.text_tokens}-{s.frames}-{digest}" for s in shapes],
    )


def voice_line_counts(ctx: QuoteContext, spoken: list) -> tuple[str, list[dict[str, Any]]]:
    """The voice engine's name and each line's synthesis FLOPs at its shape: cached counts, and
    every missing shape of the brief counted in one subprocess (the first miss counts them all)."""
    from resources.sound import flops as sound_flops

    entry, shapes, keys = voice_line_keys(ctx.brief, spoken)
    batch: dict[str, dict[str, Any]] = {}

    def count(key: str) -> dict[str, Any]:
        if not batch:
            counted = sound_flops.voice_counts(shapes, ctx.voice_python)
            batch.update(zip(keys, counted, strict=True))
        return batch[key]

    counted = [ctx.cache.get(key, lambda key=key: count(key)) for key in keys]
    return entry.name, [
        {**c, "positions": s.positions, "frames": s.frames}
        for c, s in zip(counted, shapes, strict=True)
    ]


def music(ctx: QuoteContext) -> list[StageLine]:
    """Generated music (`audio.music.prompt`): the prompt encoded once, the turbo recipe's DiT
    steps and one VAE decode over the cut's length (resources/sound/flops.py, counted once at
    10 s and scaled by seconds, cached like the others)."""
    from resources.domain.registry import ACE_STEP
    from resources.sound import flops as sound_flops

    track = ctx.brief.audio.music
    if track is None or track.prompt is None:
        return []
    key = f"music-{sound_flops.MUSIC_S:g}"
    per = ctx.cache.get(key, sound_flops.music_counts)
    scale = max(1.0, ctx.brief.duration_s) / sound_flops.MUSIC_S
    dit = per["dit"] * ACE_STEP.steps * scale
    vae = per["vae"] * scale
    detail = {
        "dit_flops": dit,
        "vae_flops": vae,
        "text_flops": per["text"],
        "steps": ACE_STEP.steps,
    }
    return [ctx.line("music", "ace_step", dit + vae + per["text"], detail=detail)]


def lora_effect(ctx: QuoteContext) -> list[StageLine]:
    """qc.measure_lora_effect: every shot rendered (and scored) again at LoRA strength 0."""
    if not ctx.brief.qc.measure_lora_effect or ctx.model.is_scene_model:
        return []
    again = [line for line in shot_renders(ctx) if line.stage in ("render", "vae_decode")]
    return [replace(line, stage="lora_effect") for line in again]


STAGE_ESTIMATORS: list[Estimator] = [
    references,
    lora_training,
    narration,
    music,
    shot_renders,
    identity_scoring,
    lora_effect,
    deliverable,
]


def add_stage_estimator(estimator: Estimator, *, before: str | None = "deliverable") -> None:
    """Add a stage to every quote: `estimator(ctx)` returns its StageLines (FLOPs, GPU-s).

    It runs before the estimator named `before` (the deliverable by default; None: last), so the
    table keeps the chain's order. Adding the same function twice is a no-op.
    """
    if estimator in STAGE_ESTIMATORS:
        return
    names = [e.__name__ for e in STAGE_ESTIMATORS]
    index = names.index(before) if before in names else len(STAGE_ESTIMATORS)
    STAGE_ESTIMATORS.insert(index, estimator)


def _usd(seconds: float, price: InstancePrice, pricing: str) -> float:
    return seconds * price.usd_per_gpu_second(pricing)


def _memory(ctx: QuoteContext, lines: list[StageLine]) -> dict[str, Any]:
    model = ctx.model
    renders = [line for line in lines if line.stage == "render"]
    if not renders:
        return {}
    longest = max(renders, key=lambda line: line.detail["tokens"])
    size = {k: longest.detail[k] for k in ("width", "height", "frames")}
    forward = flops.transformer_forward(ctx.cache, model.name, **size)
    vae = flops.vae_decode(ctx.cache, model.name, **size)
    text = flops.text_encoders(ctx.cache, model.name)
    try:
        plan = model.memory_plan(ctx.gpu.memory_gb)
    except ValueError as error:
        return {"gpu_gb": ctx.gpu.memory_gb, "plan": None, "fits": False, "why": str(error)}
    peak = peak_memory_gb(
        transformer_params=forward["params"],
        experts=model.experts,
        blocks=forward["blocks"],
        tokens=forward["tokens"],
        dim=forward["dim"],
        offload=plan.offload,
        fp8=plan.fp8_layerwise,
        vae_tiling=plan.vae_tiling,
        vae_params=vae["params"],
        text_params=text["params"],
    )
    return {
        "gpu_gb": ctx.gpu.memory_gb,
        "plan": asdict(plan),
        "peak_gb_estimate": round(peak, 1),
        "fits": peak <= 0.9 * ctx.gpu.memory_gb,
        "basis": "estimate: weights from meta parameter counts, activations ~24 B x tokens x dim",
    }


WALL_GPUS = (1, 4)  # g5.xlarge's one A10G and g5.12xlarge's four


def wall_times(lines: list[StageLine]) -> dict[str, float]:
    """Seconds from start to a ready video on 1 and on 4 GPUs of this quote's kind.

    The once-per-character stages (stills, LoRA) and the cut run one after another; the
    generations are spread over the GPUs, one worker per GPU, longest first (render_shots'
    workers). Compute only: loading weights and start-up are not counted.
    """
    shot_s: dict[str, float] = {}
    serial = 0.0
    for line in lines:
        if line.shot is None:
            serial += line.gpu_s
        else:
            shot_s[line.shot] = shot_s.get(line.shot, 0.0) + line.gpu_s
    walls = {}
    for gpus in WALL_GPUS:
        loads = [0.0] * gpus
        for seconds in sorted(shot_s.values(), reverse=True):
            loads[loads.index(min(loads))] += seconds
        walls[f"{gpus}_gpu" if gpus == 1 else f"{gpus}_gpus"] = serial + max(loads)
    return walls


def _training_gpu(ctx: QuoteContext) -> dict[str, Any]:
    """Whether this instance's GPU has the memory the character LoRA's training needs."""
    need = ctx.model.lora_train_gpu_gb
    return {
        "gpu_gb_needed": need,
        "gpu_gb": ctx.gpu.memory_gb,
        "fits": ctx.gpu.memory_gb >= need,
        # An 8-bit (INT8) base trains in less, where the model's trainer documents it.
        "int8_gpu_gb_needed": ctx.model.lora_train_gpu_gb_int8,
        "basis": "registry lora_train_gpu_gb (docs/models.md, LoRA training memory)",
    }


def quote_brief(
    brief: Brief,
    *,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    tier: str | None = None,
    cache_dir: Path | str | None = None,
    voice_python: str = "",
) -> dict[str, Any]:
    """The quote of `brief` (at its own tier unless `tier` says otherwise) on `instance_type`.

    `voice_python`: the voice environment's interpreter, which counts the voice engine's FLOPs
    for a line shape no cache holds (empty: the repository's .venv-voice)."""
    start = time.perf_counter()
    # A shot timed by its line is quoted at the line's length at a normal speaking rate.
    brief = brief.estimated()
    model = video_model(brief.video.model)
    recipe = tier_recipe(model, tier or brief.video.tier)
    price = instance_price(instance_type)
    # The one resolution rendering uses too (resources/domain/tiers.shot_renderings).
    renderings = shot_renderings(brief, model, tier)
    cache = flops.FlopCache(cache_dir)
    ctx = QuoteContext(
        brief, model, recipe, gpu_of(price.gpu), price, cache, renderings, voice_python
    )
    lines = [line for estimator in STAGE_ESTIMATORS for line in estimator(ctx)]

    def money(seconds: float) -> dict[str, float]:
        return {
            "usd_spot": round(_usd(seconds, price, "spot"), 6),
            "usd_on_demand": round(_usd(seconds, price, "on-demand"), 6),
        }

    shots = _shot_rows(ctx, lines, money)
    stages = _stage_rows(lines, money)
    video_s = brief.duration_s
    total_s = sum(line.gpu_s for line in lines)
    # Re-rolls: a shot below qc.min_identity renders again, up to qc.max_attempts in all.
    retakes = (
        brief.qc.max_attempts - 1 if brief.qc.min_identity > -1 and not model.is_scene_model else 0
    )
    retake_s = retakes * sum(
        line.gpu_s
        for line in lines
        if line.shot is not None
        and line.stage
        in ("text_encoding", "still_encoding", "render", "vae_decode", "identity_scoring")
    )
    once = {"references", "lora_training"}  # paid once per character
    render_s = sum(line.gpu_s for line in lines if line.stage not in once)
    total = {
        "flops": sum(line.flops for line in lines),
        "gpu_s": total_s,
        **money(total_s),
        "video_s": video_s,
        "usd_per_video_minute": _usd(total_s, price, "spot") / (video_s / 60),
        "usd_per_video_minute_on_demand": _usd(total_s, price, "on-demand") / (video_s / 60),
        "render_usd_spot": _usd(render_s, price, "spot"),
        "render_usd_per_video_minute": _usd(render_s, price, "spot") / (video_s / 60),
        # Every shot re-rolled to qc.max_attempts (no attempt reaching qc.min_identity).
        "worst_case_retakes": retakes,
        "worst_case_gpu_s": total_s + retake_s,
        "worst_case_usd_spot": _usd(total_s + retake_s, price, "spot"),
    }
    hosted = {
        name: {
            "usd": usd,
            "usd_per_minute": HOSTED_APIS[name].usd_per_minute,
            "saving": 1 - total["usd_spot"] / usd if usd else None,
            "render_saving": 1 - total["render_usd_spot"] / usd if usd else None,
        }
        for name, usd in hosted_cost(video_s).items()
    }
    return {
        "brief": f"{brief.client}/{brief.character.id}",
        "model": model.name,
        "tier": recipe.tier,
        "tier_recipe": asdict(recipe),
        "instance_type": price.instance_type,
        "gpu": asdict(ctx.gpu),
        "prices": {
            "spot_usd_per_hour": price.spot_usd_per_hour,
            "on_demand_usd_per_hour": price.on_demand_usd_per_hour,
            "gpus": price.gpus,
            "spot_source": price.spot_source,
        },
        "shots": shots,
        "stages": stages,
        "lines": [asdict(line) for line in lines],
        "total": total,
        "hosted": hosted,
        "withdrawn_apis": dict(WITHDRAWN_APIS),
        "wall_s": wall_times(lines),
        "memory": _memory(ctx, lines),
        "lora_training_gpu": _training_gpu(ctx),
        "quote_s": round(time.perf_counter() - start, 3),
        "flop_cache": {"hits": ctx.cache.hits, "misses": ctx.cache.misses},
    }


def _shot_rows(ctx: QuoteContext, lines: list[StageLine], money) -> list[dict[str, Any]]:
    """One row per generation (a shot, or a scene model's one scene): its lines summed."""
    rows = []
    durations = {s.id: s.duration_s for s in ctx.brief.shots}
    for shot_id, _ in _generations(ctx):
        mine = [line for line in lines if line.shot == shot_id]
        render = next(line for line in mine if line.stage == "render")
        gpu_s = sum(line.gpu_s for line in mine)
        rows.append(
            {
                "id": shot_id,
                "duration_s": durations.get(shot_id, ctx.brief.duration_s),
                **render.detail,
                "transformer_flops": render.flops,
                "flops": sum(line.flops for line in mine),
                "gpu_s": gpu_s,
                **money(gpu_s),
            }
        )
    return rows


def _stage_rows(lines: list[StageLine], money) -> list[dict[str, Any]]:
    """One row per stage, in the order the stages first appear: its lines summed."""
    stages: dict[str, dict[str, Any]] = {}
    for line in lines:
        entry = stages.setdefault(
            line.stage, {"stage": line.stage, "flops": 0.0, "gpu_s": 0.0, "basis": line.basis}
        )
        entry["flops"] += line.flops
        entry["gpu_s"] += line.gpu_s
    for entry in stages.values():
        entry.update(money(entry["gpu_s"]))
    return list(stages.values())


def _e(x: float) -> str:
    return f"{x:.2e}"


def quote_markdown(quote: dict[str, Any]) -> str:
    """The quote as Markdown tables: per shot, per stage, totals, hosted APIs, memory."""
    t = quote["total"]
    out = [
        f"**Quote** {quote['brief']}: {quote['model']}, tier `{quote['tier']}`, "
        f"{quote['instance_type']} ({quote['gpu']['name']}, "
        f"{quote['gpu']['bf16_dense_tflops']:g} TFLOP/s bf16 dense)",
        "",
        "| shot | frames | size | steps | passes | transformer FLOPs | FLOPs | GPU-s | $ spot "
        "| $ on-demand |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in quote["shots"]:
        out.append(
            f"| {s['id']} | {s['frames']} | {s['width']}x{s['height']} | {s['steps']} | "
            f"{s['transformer_passes']} | {_e(s['transformer_flops'])} | {_e(s['flops'])} | "
            f"{s['gpu_s']:.0f} | {s['usd_spot']:.4f} | {s['usd_on_demand']:.4f} |"
        )
    out += [
        "",
        "| stage | FLOPs | GPU-s | $ spot | $ on-demand | throughput basis |",
        "|---|---|---|---|---|---|",
    ]
    for s in quote["stages"]:
        out.append(
            f"| {s['stage']} | {_e(s['flops'])} | {s['gpu_s']:.0f} | {s['usd_spot']:.4f} | "
            f"{s['usd_on_demand']:.4f} | {s['basis']} |"
        )
    out += [
        f"| **total** | {_e(t['flops'])} | {t['gpu_s']:.0f} | {t['usd_spot']:.4f} | "
        f"{t['usd_on_demand']:.4f} | |",
        "",
        f"Video: {t['video_s']:g} s. Per finished video minute: ${t['usd_per_video_minute']:.2f} "
        f"spot (${t['usd_per_video_minute_on_demand']:.2f} on-demand) with references and LoRA; "
        f"${t['render_usd_per_video_minute']:.2f} spot for renders and the cut alone (a trained "
        f"character).",
    ]
    for name, h in quote["hosted"].items():
        out.append(
            f"* vs `{name}` (${h['usd_per_minute']:.2f}/min): ${h['usd']:.2f} for this video; "
            f"this one {comparison(t['usd_spot'], h['usd'], 'en')} (renders only: "
            f"{comparison(t['render_usd_spot'], h['usd'], 'en')})"
        )
    for name, why in quote.get("withdrawn_apis", {}).items():
        out.append(f"* `{name}` no longer compared: {why}")
    w = quote.get("wall_s")
    if w:
        out.append(
            f"* wall time to a ready video (compute only): {w['1_gpu'] / 60:.0f} min on one GPU, "
            f"{w['4_gpus'] / 60:.0f} min with the shots spread over four (g5.12xlarge)"
        )
    if t.get("worst_case_retakes"):
        out.append(
            f"* worst case with re-rolls (every shot below qc.min_identity, "
            f"{t['worst_case_retakes']} more attempts each): {t['worst_case_gpu_s']:.0f} GPU-s, "
            f"${t['worst_case_usd_spot']:.4f} spot"
        )
    m = quote["memory"]
    if m.get("plan"):
        fits = "fits" if m["fits"] else "does NOT fit"
        out.append(
            f"* memory: plan {m['plan']['offload']} offload, fp8 {m['plan']['fp8_layerwise']}, "
            f"VAE tiling {m['plan']['vae_tiling']}; peak ~{m['peak_gb_estimate']} GB ({m['basis']})"
            f": {fits} the {m['gpu_gb']:g} GB card"
        )
    elif m:
        out.append(f"* memory: {m['why']}")
    g = quote["lora_training_gpu"]
    if not g["fits"]:
        int8 = g.get("int8_gpu_gb_needed")
        out.append(
            f"* LoRA training needs a GPU with {g['gpu_gb_needed']} GB"
            + (f" ({int8} GB with an INT8 base)" if int8 else "")
            + f"; {quote['instance_type']}'s has {g['gpu_gb']:g} GB: train the character on a "
            "larger GPU (the training line's GPU-s are at this GPU's throughput)"
        )
    out.append(
        f"* quoted in {quote['quote_s']:.2f} s (FLOP cache: {quote['flop_cache']['hits']} hits, "
        f"{quote['flop_cache']['misses']} counted); no GPU-measured fractions yet"
    )
    return "\n".join(out)
