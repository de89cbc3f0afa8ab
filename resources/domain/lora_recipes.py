"""Per-family LoRA training defaults, each taken from a named public recipe (see docs/lora.md).

A brief may override rank, alpha and learning rate; everything else is the family's recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resources.domain.registry import VideoModel

# "shift" / "logit_normal": flow-matching sigmas; "uniform_ddpm": an integer DDPM timestep drawn
# uniformly, for v-prediction models (CogVideoX).
TimestepSampling = Literal["shift", "logit_normal", "uniform_ddpm"]


@dataclass(frozen=True)
class LoraRecipe:
    """How one model family's character LoRA is trained unless the brief says otherwise."""

    family: str
    target_modules: tuple[str, ...]
    rank: int
    alpha: float
    learning_rate: float
    timestep_sampling: TimestepSampling
    flow_shift: float  # used by "shift" sampling only
    width: int  # training area for the stills (aspect-ratio buckets keep about this area)
    height: int
    source: str  # where these numbers come from; docs/lora.md has the details
    # "flow": predict the velocity noise - x0; "v_prediction": diffusers' CogVideoX objective (the
    # x0 recovered from the predicted v, weighted by 1 / (1 - alphas_cumprod[t])).
    objective: Literal["flow", "v_prediction"] = "flow"


_ATTN = ("to_q", "to_k", "to_v", "to_out.0")

RECIPES: dict[str, LoraRecipe] = {
    r.family: r
    for r in (
        LoraRecipe(
            family="hunyuan",
            # Image and text streams of the dual-stream attention, as musubi-tuner's LoRA covers
            # both streams of the double blocks.
            target_modules=(*_ATTN, "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"),
            rank=32,
            alpha=32.0,
            learning_rate=2e-4,
            timestep_sampling="shift",
            flow_shift=7.0,
            width=512,
            height=512,
            source="musubi-tuner docs/hunyuan_video.md training example; 512x512 is our 24 GB plan",
        ),
        LoraRecipe(
            family="wan",
            target_modules=_ATTN,
            rank=32,
            alpha=32.0,
            learning_rate=2e-4,
            timestep_sampling="shift",
            flow_shift=3.0,
            width=832,
            height=480,
            source="musubi-tuner docs/wan.md training example; Wan 2.1 480p native size",
        ),
        LoraRecipe(
            family="ltx",
            target_modules=_ATTN,
            rank=128,
            alpha=128.0,
            learning_rate=3e-5,
            timestep_sampling="logit_normal",
            flow_shift=1.0,
            width=768,
            height=512,
            source="finetrainers LTX-Video LoRA example (training/README)",
        ),
        LoraRecipe(
            family="ltx2",
            target_modules=_ATTN,
            rank=32,
            alpha=32.0,
            learning_rate=1e-4,
            timestep_sampling="logit_normal",
            flow_shift=1.0,
            width=768,
            height=512,
            source=(
                "DiffSynth-Studio examples/ltx2 LoRA training (rank 32, lr 1e-4, 768x512, "
                "to_k/to_q/to_v/to_out.0); Lightricks' ltx-trainer configs/ltx2_av_lora.yaml"
            ),
        ),
        LoraRecipe(
            family="kandinsky5",
            # Both attention kinds' projections (registry: Kandinsky 5's module names).
            target_modules=(
                "to_query",
                "to_key",
                "to_value",
                "self_attention.out_layer",
                "cross_attention.out_layer",
            ),
            rank=32,
            alpha=32.0,
            learning_rate=1e-4,
            timestep_sampling="shift",
            flow_shift=5.0,
            width=768,
            height=512,
            source=(
                "musubi-tuner docs/kandinsky5.md training example at pin 30c658c4 (rank 32, "
                "alpha 32, lr 1e-4, shift sampling, discrete_flow_shift 5); Lite's native size"
            ),
        ),
        LoraRecipe(
            family="hunyuan15",
            target_modules=(*_ATTN, "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"),
            rank=32,
            alpha=32.0,
            learning_rate=1e-4,
            timestep_sampling="shift",
            flow_shift=2.0,
            width=848,
            height=480,
            source=(
                "musubi-tuner docs/hunyuan_video_1_5.md at pin 30c658c4 (rank 32, lr 1e-4, shift "
                "sampling, discrete_flow_shift 2.0, called a starting point there); 480p"
            ),
        ),
        LoraRecipe(
            family="cogvideox",
            target_modules=_ATTN,
            rank=64,
            alpha=64.0,
            learning_rate=1e-3,
            timestep_sampling="uniform_ddpm",
            flow_shift=1.0,
            width=720,
            height=480,
            objective="v_prediction",
            source=(
                "diffusers examples/cogvideo/train_cogvideox_lora.py and its README example "
                "(rank 64, alpha 64, lr 1e-3, 720x480; attention projections)"
            ),
        ),
        LoraRecipe(
            family="mochi",
            target_modules=_ATTN,
            rank=16,
            alpha=16.0,
            learning_rate=2e-4,
            timestep_sampling="logit_normal",
            flow_shift=1.0,
            width=848,
            height=480,
            source=(
                "genmo demos/fine_tuner/README.md (q, k, v and output projections; lr 1e-4 to "
                "2e-4); rank 16 and logit-normal sigmas are this project's choice"
            ),
        ),
    )
}


def recipe_for(model: VideoModel) -> LoraRecipe:
    """The training recipe of `model`'s family, or a KeyError naming the known families."""
    try:
        return RECIPES[model.family]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise KeyError(
            f"no LoRA recipe for family {model.family!r} of model {model.name!r}; known: {known}"
        ) from None


@dataclass(frozen=True)
class LoraHyperparameters:
    """Rank, alpha and learning rate of one training run: the brief's, else the recipe's."""

    rank: int
    alpha: float
    learning_rate: float


def hyperparameters(
    recipe: LoraRecipe,
    *,
    rank: int | None = None,
    alpha: float | None = None,
    learning_rate: float | None = None,
) -> LoraHyperparameters:
    """What a run trains with: each value the brief left out comes from the family's recipe.

    Alpha defaults to the rank actually used (scale 1), as the recipes' sources do.
    """
    chosen_rank = rank or recipe.rank
    return LoraHyperparameters(
        rank=chosen_rank,
        alpha=float(alpha or chosen_rank),
        learning_rate=learning_rate or recipe.learning_rate,
    )
