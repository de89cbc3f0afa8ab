"""Render tiers: for every registry model a named recipe per tier (`final`, `draft`).

`final` is the model's published recipe (native size, its steps and guidance). `draft` is an order
of magnitude cheaper, so producers approve motion and framing before paying for a final:
step-distillation LoRAs where the model has one (lightx2v's 4-step LoRAs, guidance 1, loaded as a
second adapter beside the character LoRA), diffusers' first-block cache where it has none, and a
render size below native that the deliverable's Real-ESRGAN x4 brings to 1080p. A shot's tier is
part of its unit version: a draft and a final of the same shot are two artifacts, both kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from resources.domain.registry import (
    REFERENCE_MODELS,
    VIDEO_MODELS,
    VideoModel,
    reference_model_of,
)

if TYPE_CHECKING:  # the brief's schema imports this module's names
    from resources.domain.brief import Brief

TIER_NAMES = ("draft", "final")
DEFAULT_TIER = "final"
Tier = Literal["draft", "final"]


@dataclass(frozen=True)
class DistillAdapter:
    """A step-distillation LoRA: one file per expert (transformer, then transformer_2)."""

    repo_id: str
    files: tuple[str, ...]
    strength: float
    source: str
    name: str = ""  # how manifests and licence checks name it
    licence: str = "Apache-2.0 (lightx2v, to be checked)"  # a key of licences.LICENCES


@dataclass(frozen=True)
class CacheRecipe:
    """diffusers' first-block cache: a step whose first block changed less reuses the rest."""

    kind: Literal["first_block"]
    threshold: float
    source: str


@dataclass(frozen=True)
class TierRecipe:
    """How one model renders at one tier."""

    tier: str
    steps: int
    guidance_scale: float
    guidance_scale_2: float | None  # Wan 2.2 A14B: the low-noise expert's guidance
    width: int
    height: int
    flow_shift: float | None  # None: the scheduler's own (its published config)
    cache: CacheRecipe | None = None
    adapter: DistillAdapter | None = None
    tradeoff: str = ""
    # Two-stage recipes (LTX-2): `steps` run at half of width x height, the latent upsampler
    # doubles the latent, then `refine_steps` run at the full size. 0: one stage at full size.
    refine_steps: int = 0
    # A published diffusers folder whose `transformer` this tier renders with instead of the
    # model's (a distilled checkpoint: Kandinsky 5 Lite's 16-step one); "" for the model's own.
    checkpoint: str = ""
    checkpoint_source: str = ""

    @property
    def cfg(self) -> bool:
        """Whether classifier-free guidance runs (a second transformer pass per step)."""
        return self.guidance_scale > 1.0

    def cache_threshold(self, default: float) -> float:
        """The first-block cache this tier renders with: off under a distilled adapter (its
        few steps all matter), else the recipe's, else `default` (the operator's setting)."""
        if self.adapter is not None:
            return 0.0
        return self.cache.threshold if self.cache is not None else default


LIGHTX2V_WAN21 = DistillAdapter(
    name="lightx2v_wan21_t2v_14b_4step",
    repo_id="lightx2v/Wan2.1-T2V-14B-StepDistill-CfgDistill-Lightx2v",
    files=("loras/Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank64.safetensors",),
    strength=1.0,
    source=(
        "github.com/ModelTC/lightx2v configs/distill/wan_t2v_distill_4step_cfg_lora.json "
        "(commit 0591c35e): 4 steps, enable_cfg false, sample_shift 5, strength 1.0"
    ),
)
LIGHTX2V_WAN22 = DistillAdapter(
    name="lightx2v_wan22_t2v_a14b_4step",
    repo_id="lightx2v/Wan2.2-Lightning",
    files=(
        "Wan2.2-T2V-A14B-4steps-lora-rank64-Seko-V1.1/high_noise_model.safetensors",
        "Wan2.2-T2V-A14B-4steps-lora-rank64-Seko-V1.1/low_noise_model.safetensors",
    ),
    strength=1.0,
    source=(
        "Wan2.2-Lightning README (lightx2v): T2V-A14B 4 steps without CFG, one LoRA per expert "
        "(high_noise_model / low_noise_model), V1.1 of 2025-08-07"
    ),
)

LIGHTX2V_WAN22_I2V = DistillAdapter(
    name="lightx2v_wan22_i2v_a14b_4step",
    repo_id="lightx2v/Wan2.2-Lightning",
    files=(
        "Wan2.2-I2V-A14B-4steps-lora-rank64-Seko-V1/high_noise_model.safetensors",
        "Wan2.2-I2V-A14B-4steps-lora-rank64-Seko-V1/low_noise_model.safetensors",
    ),
    strength=1.0,
    source=(
        "Wan2.2-Lightning README (lightx2v): I2V-A14B 4 steps without CFG, one LoRA per expert "
        "(high_noise_model / low_noise_model), V1 of 2025-08-08 (folder name as listed there: "
        "check the repository listing before a production run)"
    ),
)


def _ltx2_distill(repo_id: str, file: str, source: str) -> DistillAdapter:
    # Published in the model's own repository, under its licence (LTX-2 Community License).
    return DistillAdapter(
        repo_id=repo_id,
        files=(file,),
        strength=1.0,
        source=source,
        name=file.removesuffix(".safetensors").replace("-", "_").replace(".", "_"),
        licence="LTX-2 Community License",
    )


LTX2_DISTILLED: dict[str, DistillAdapter] = {
    "ltx_2": _ltx2_distill(
        "Lightricks/LTX-2",
        "ltx-2-19b-distilled-lora-384.safetensors",
        "Lightricks/LTX-2 model card and diffusers' LTX-2 docs: distilled 8 + 3 sigmas, "
        "guidance 1, two stages with the latent upsampler",
    ),
    "ltx_2_5": _ltx2_distill(
        "Lightricks/LTX-2.5",
        "ltx-2.5-22b-distilled-lora-384.safetensors",
        "assumption: LTX-2.5's distilled LoRA named as LTX-2's (check the repository listing "
        "before a production run); same 8 + 3 distilled sigmas as diffusers' LTX-2 utils",
    ),
}

# The image-to-video pipelines load the same checkpoint, so they take the same distilled LoRA.
LTX2_DISTILLED.update({f"{name}_i2v": adapter for name, adapter in list(LTX2_DISTILLED.items())})

# Kandinsky 5 Lite's diffusion-distilled checkpoint (diffusers' Kandinsky 5 docs: "distilled to
# 16 steps, 6x faster inference, minimal quality loss"; inferred without CFG, guidance 1).
K5_LITE_DISTILLED = "kandinskylab/Kandinsky-5.0-T2V-Lite-distilled16steps-5s-Diffusers"
# HunyuanVideo 1.5's CFG-distilled 480p text-to-video transformer (diffusers'
# convert_hunyuan_video1_5_to_diffusers.py: 480p_t2v_distilled, guidance 1, shift 5). Tencent's
# step-distilled transformer (8 or 12 steps) is published for 480p image-to-video only.
HY15_480P_DISTILLED = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_t2v_distilled"
# Its image-to-video checkpoints (the same conversion script's transformer types; repository
# names assumed in the community's naming: check before a production run):
# * 480p_i2v_step_distilled: Tencent's step-distilled transformer (CFG-distilled too), guidance 1,
#   shift 7; 8 or 12 steps, "comparable" to 50 on Tencent's comparison page. The only
#   step-distilled HunyuanVideo 1.5 transformer Tencent publishes (none at 720p, none for T2V).
# * 720p_i2v_distilled: the 720p I2V transformer CFG-distilled: guidance 1 (one pass a step),
#   shift 7.
HY15_480P_I2V_STEP_DISTILLED = (
    "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_i2v_step_distilled"
)
HY15_720P_I2V_DISTILLED = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_i2v_distilled"
_HY15_SCRIPT = "diffusers' scripts/convert_hunyuan_video1_5_to_diffusers.py"

_FBC_SOURCE_HY = "ParaAttention 'fastest HunyuanVideo inference' guide: residual threshold 0.06"
_FBC_SOURCE = "assumption: 0.1, the middle of the thresholds diffusers' cache docs show"

# Draft render sizes: below native, each a multiple of the model's size_multiple, at least
# 480x270 so that Real-ESRGAN x4 reaches 1920x1080.
_DRAFTS: dict[str, dict] = {
    "hunyuan_video": dict(
        steps=20,
        width=640,
        height=352,
        cache=CacheRecipe("first_block", 0.06, _FBC_SOURCE_HY),
        tradeoff="a quarter of the pixels, 20 steps and cached steps: softer detail, same motion",
    ),
    "wan21_t2v_1_3b": dict(
        steps=16,
        width=480,
        height=272,
        cache=CacheRecipe("first_block", 0.1, _FBC_SOURCE),
        tradeoff="a third of the pixels and 16 steps: motion and framing, little fine detail",
    ),
    "wan21_t2v_14b": dict(
        steps=4,
        guidance_scale=1.0,
        width=832,
        height=480,
        flow_shift=5.0,
        adapter=LIGHTX2V_WAN21,
        tradeoff="4 distilled steps without CFG at 480p: close to final, less prompt adherence",
    ),
    "wan22_t2v_a14b": dict(
        steps=4,
        guidance_scale=1.0,
        guidance_scale_2=1.0,
        width=832,
        height=480,
        flow_shift=5.0,
        adapter=LIGHTX2V_WAN22,
        tradeoff="4 distilled steps (2 per expert) without CFG at 480p; large motion may smear",
    ),
    "wan22_ti2v_5b": dict(
        steps=20,
        width=640,
        height=352,
        cache=CacheRecipe("first_block", 0.1, _FBC_SOURCE),
        tradeoff="a quarter of the pixels, 20 steps and cached steps (no distilled LoRA yet)",
    ),
    "ltx_video": dict(
        steps=20,
        width=512,
        height=288,
        cache=CacheRecipe("first_block", 0.1, _FBC_SOURCE),
        tradeoff="0.38x the pixels and 20 steps",
    ),
    # HoloCine's scenes are trained at 832x480. A scene loads through the shots' path and would
    # take a cache or distilled adapter named here, but none is published or measured for its
    # shot-aware attention (lightx2v's LoRAs are for Wan 2.2's own weights): steps only.
    "holocine_14b": dict(
        steps=20,
        tradeoff="native size (HoloCine is trained at 832x480), 20 of 50 steps: softer detail",
    ),
    "holocine_14b_sparse": dict(
        steps=20,
        tradeoff="native size (HoloCine is trained at 832x480), 20 of 50 steps: softer detail",
    ),
    "mochi_1": dict(
        steps=24,
        width=640,
        height=368,
        tradeoff="0.58x the pixels and 24 of 64 steps: motion and framing, less fine detail",
    ),
    "kandinsky5_lite": dict(
        steps=16,
        guidance_scale=1.0,
        checkpoint=K5_LITE_DISTILLED,
        checkpoint_source="diffusers' Kandinsky 5 docs: distilled16steps, 16 steps, guidance 1",
        tradeoff="the authors' 16-step distilled checkpoint without CFG at native size "
        "(about 6x faster, 'minimal quality loss' per the authors)",
    ),
    "kandinsky5_pro": dict(
        steps=20,
        width=640,
        height=480,
        cache=CacheRecipe("first_block", 0.1, _FBC_SOURCE),
        tradeoff="0.39x the pixels, 20 of 50 steps and cached steps (no distilled Pro published)",
    ),
    "hunyuan_video_1_5": dict(
        steps=20,
        guidance_scale=1.0,
        width=848,
        height=480,
        flow_shift=5.0,
        checkpoint=HY15_480P_DISTILLED,
        checkpoint_source="diffusers' convert_hunyuan_video1_5_to_diffusers.py: "
        "480p_t2v_distilled, guidance 1, shift 5 (repository name assumed in the community's "
        "naming: check before a production run)",
        tradeoff="the 480p CFG-distilled checkpoint (one pass a step), 20 of 50 steps",
    ),
    "hunyuan_video_1_5_i2v": dict(
        steps=8,
        guidance_scale=1.0,
        width=848,
        height=480,
        flow_shift=7.0,
        checkpoint=HY15_480P_I2V_STEP_DISTILLED,
        checkpoint_source=f"{_HY15_SCRIPT}: 480p_i2v_step_distilled, guidance 1, shift 7; "
        "8 steps from Tencent's HunyuanVideo-1.5 README (8 or 12)",
        tradeoff="Tencent's step-distilled 480p I2V transformer: 8 steps, one pass a step, "
        "from the reference still",
    ),
    "cogvideox_5b": dict(
        steps=20,
        cache=CacheRecipe("first_block", 0.1, _FBC_SOURCE),
        tradeoff="native size (CogVideoX is trained at 720x480 only), 20 steps, cached steps",
    ),
}

# Wan 2.2 I2V A14B drafts as its T2V sibling does, with the I2V distillation LoRAs.
_DRAFTS["wan22_i2v_a14b"] = {
    **_DRAFTS["wan22_t2v_a14b"],
    "adapter": LIGHTX2V_WAN22_I2V,
    "tradeoff": "4 distilled steps (2 per expert) without CFG at 480p, from the reference still",
}
# Kandinsky 5 Pro I2V drafts as Pro does (no distilled Pro published).
_DRAFTS["kandinsky5_pro_i2v"] = {
    **_DRAFTS["kandinsky5_pro"],
    "tradeoff": "as kandinsky5_pro's draft (0.39x the pixels, 20 steps, cached), from the still",
}


# Finals that render with a published distilled checkpoint instead of the model's own weights.
_FINALS: dict[str, dict] = {
    "hunyuan_video_1_5_i2v": dict(
        guidance_scale=1.0,
        flow_shift=7.0,
        checkpoint=HY15_720P_I2V_DISTILLED,
        checkpoint_source=f"{_HY15_SCRIPT}: 720p_i2v_distilled, guidance 1, shift 7",
        tradeoff="Tencent's CFG-distilled 720p I2V transformer: 50 steps, one pass a step "
        "(no step-distilled 720p transformer is published)",
    ),
}


def _final(model: VideoModel) -> TierRecipe:
    if model.family == "ltx2":
        # Lightricks' production recipe: 8 distilled steps at half size, the latent upsampler,
        # 3 distilled steps at full size, no CFG.
        return TierRecipe(
            tier="final",
            steps=8,
            refine_steps=3,
            guidance_scale=1.0,
            guidance_scale_2=None,
            width=model.native_width,
            height=model.native_height,
            flow_shift=None,
            adapter=LTX2_DISTILLED[model.name],
            tradeoff="the authors' distilled two-stage recipe: 8 steps at half size, x2 latent "
            "upsampler, 3 steps at full size",
        )
    recipe = dict(
        steps=model.default_steps,
        guidance_scale=model.guidance_scale,
        guidance_scale_2=model.guidance_scale_2,
        width=model.native_width,
        height=model.native_height,
        flow_shift=None,  # the published scheduler config's own shift
        tradeoff="the model's published recipe at native size",
    )
    return TierRecipe(tier="final", **{**recipe, **_FINALS.get(model.name, {})})


def _draft(model: VideoModel) -> TierRecipe:
    if model.family == "ltx2":
        # The first stage alone: 8 distilled steps at half size, Real-ESRGAN brings it to 1080p.
        return TierRecipe(
            tier="draft",
            steps=8,
            guidance_scale=1.0,
            guidance_scale_2=None,
            width=model.native_width // 2,
            height=model.native_height // 2,
            flow_shift=None,
            adapter=LTX2_DISTILLED[model.name],
            tradeoff="the first stage only (8 distilled steps at 640x352, no refinement)",
        )
    spec = dict(_DRAFTS[model.name])
    final = _final(model)
    return TierRecipe(
        tier="draft",
        steps=spec.pop("steps"),
        guidance_scale=spec.pop("guidance_scale", final.guidance_scale),
        guidance_scale_2=spec.pop("guidance_scale_2", final.guidance_scale_2),
        width=spec.pop("width", final.width),
        height=spec.pop("height", final.height),
        flow_shift=spec.pop("flow_shift", final.flow_shift),
        **spec,
    )


def checkpoint_name(model_name: str, tier: str) -> str:
    """How manifests and licence checks name a tier's own checkpoint (the model's licence)."""
    return f"{model_name}_{tier}_checkpoint"


TIERS: dict[str, dict[str, TierRecipe]] = {
    name: {"draft": _draft(model), "final": _final(model)}
    for name, model in {**VIDEO_MODELS, **REFERENCE_MODELS}.items()
}


def tier_recipe(model: VideoModel, tier: str) -> TierRecipe:
    """The recipe of `model` at `tier`, or a KeyError naming the tiers."""
    try:
        return TIERS[model.name][tier]
    except KeyError:
        raise KeyError(
            f"unknown tier {tier!r} for {model.name}; tiers: {', '.join(TIER_NAMES)}"
        ) from None


def shot_recipes(brief: Brief, model: VideoModel, tier: str | None = None) -> dict[str, TierRecipe]:
    """The recipe each shot of `brief` renders at, for rendering and for the quote alike.

    `tier` given: every shot at that tier (what the whole brief would cost). Else each shot's own
    tier (`shots[].tier`, then `video.tier`); a scene model renders all its shots in one
    generation, so at `video.tier` (the brief refuses a shot tier for one).
    """
    if tier is None and model.is_scene_model:
        tier = brief.video.tier
    return {s.id: tier_recipe(model, tier or brief.tier_of(s.id)) for s in brief.shots}


@dataclass(frozen=True)
class ShotRendering:
    """What renders one shot: the checkpoint (the brief's model, or for a shot whose identity
    comes from the reference still the model's image-to-video checkpoint) and its recipe."""

    model: VideoModel
    recipe: TierRecipe


def shot_renderings(
    brief: Brief, model: VideoModel, tier: str | None = None
) -> dict[str, ShotRendering]:
    """Each shot's checkpoint and recipe, for rendering and for the quote alike: a shot whose
    identity comes from the still (`shots[].condition`, `video.condition`: reference | both)
    renders with `model.reference_model` at the same tier."""
    reference = reference_model_of(model)
    found = {}
    for shot_id, recipe in shot_recipes(brief, model, tier).items():
        if reference is not None and brief.condition_of(shot_id) != "lora":
            found[shot_id] = ShotRendering(reference, tier_recipe(reference, recipe.tier))
        else:
            found[shot_id] = ShotRendering(model, recipe)
    return found
