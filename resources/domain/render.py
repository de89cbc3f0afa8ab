"""What a clip is rendered from, as plain data: the shot request and the render settings.

No torch here: a render plan (which shots, which units, which settings) is computed and tested
without loading a model; resources/video/ turns these values into pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ATTENTION_CHOICES = ("auto", "flash", "native")  # auto: flash-attn where importable on CUDA
# libx264's presets, fastest first (a slower preset makes smaller files of the same quality).
ENCODER_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
    "placebo",
)  # fmt: skip
# libx264's macroblock-tree rate control read memory it had not written (PyAV 18.1's bundled
# x264): the same frames encoded twice in one process gave different bitstreams (6 of 6 distinct
# at 432x240, CRF 18, preset medium), depending on what the process had allocated before. Off,
# the bytes are a function of the frames (docs/operations.md, "Exact reruns").
X264_PARAMS = "mbtree=0"


def render_setting_problems(
    *, crf: Any, preset: Any, workers: Any, attention: Any, first_block_cache: Any
) -> list[str]:
    """What is wrong with the operator's render settings, one phrase per field (empty: fine)."""
    problems = []
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        problems.append(f"crf={crf!r} must be a whole number 0..51 (libx264; 18 looks lossless)")
    if preset not in ENCODER_PRESETS:
        problems.append(f"preset={preset!r} is not one of {', '.join(ENCODER_PRESETS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        problems.append(f"workers={workers!r} must be 0 (one per GPU) or a positive whole number")
    if attention not in ATTENTION_CHOICES:
        problems.append(f"attention={attention!r} is not one of {', '.join(ATTENTION_CHOICES)}")
    cache = first_block_cache
    if isinstance(cache, bool) or not isinstance(cache, int | float) or not 0 <= cache < 1:
        problems.append(f"first_block_cache={cache!r} must be 0 (off) or a threshold below 1")
    return problems


@dataclass(frozen=True)
class ShotRequest:
    """One shot to render: its prompt, seed and exact (valid) frame count."""

    id: str
    prompt: str
    negative_prompt: str
    seed: int
    num_frames: int
    duration_s: float
    # A talking shot (a model that takes audio, LTX-2): the narration unit of its line, whose
    # sound the picture is generated to. Part of the shot's version: editing the line re-renders
    # that shot alone.
    line_unit: str | None = None
    # A shot whose identity comes from the reference still (`condition` reference or both): the
    # sha256 of the approved still it is conditioned on, chosen by resources/qc/reference_still.
    # Part of the shot's version: another still renders that shot again.
    reference_still: str | None = None


@dataclass(frozen=True)
class RenderSettings:
    """How a clip's pixels and bytes are made, resolved once per tier.

    One value is both the version payload of every unit it renders (`payload`) and the
    renderer's argument: what changes a clip's bytes is in it, and nothing else is passed down.
    The adapters' local paths travel with it but only their hashes are part of the version.
    """

    tier: str
    width: int
    height: int
    steps: int
    guidance_scale: float | None
    guidance_scale_2: float | None
    flow_shift: float | None
    fps: int
    model: dict[str, Any]  # the model store's record: id, revision, the weights' sha256
    lora_strength: float
    lora_sha256: str | None
    distill_sha256: tuple[str, ...]
    distill_strength: float | None
    attention: str  # flash and native kernels round differently
    first_block_cache: float  # the cache skips work: 0 = off
    crf: int
    preset: str
    encoder_threads: int  # libx264's bytes depend on its thread count
    # Two-stage (LTX-2): steps at half size, the latent upsampler, refine_steps at full size.
    refine_steps: int = 0
    # A tier rendering with its own published transformer (a distilled checkpoint): its weights'
    # digest. None: the model's own transformer (and the payload does not carry the key).
    checkpoint_sha256: str | None = None
    # Where the shots' identity comes from: "lora" (the character LoRA alone), "reference" (the
    # approved reference still, through the model's image-to-video checkpoint) or "both". Each
    # still-conditioned shot names its still in its request (`ShotRequest.reference_still`).
    condition: str = "lora"
    # The diffusers pipeline class that renders them: still-conditioned units carry it (the same
    # checkpoint conditions differently through LTX-2's image-to-video and condition pipelines).
    pipeline: str = ""
    lora_file: Path | None = field(default=None, compare=False)
    distill_files: tuple[Path, ...] = field(default=(), compare=False)
    checkpoint_dir: Path | None = field(default=None, compare=False)

    def payload(self) -> dict[str, Any]:
        """What a unit rendered with these settings depends on (its version's `render`)."""
        return {
            "tier": self.tier,
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "guidance_scale_2": self.guidance_scale_2,
            "flow_shift": self.flow_shift,
            "fps": self.fps,
            "lora_strength": self.lora_strength,
            "lora_sha256": self.lora_sha256,
            "distill": {"files": list(self.distill_sha256), "strength": self.distill_strength},
            "model": self.model,
            "attention": self.attention,
            "first_block_cache": self.first_block_cache,
            "crf": self.crf,
            "preset": self.preset,
            "encoder_threads": self.encoder_threads,
            "x264_params": X264_PARAMS,
            # Only two-stage renders carry it: every other unit keeps its version.
            **({"refine_steps": self.refine_steps} if self.refine_steps else {}),
            **({"checkpoint": self.checkpoint_sha256} if self.checkpoint_sha256 else {}),
            # Only still-conditioned renders carry it: LoRA-only units keep their versions.
            **(
                {"condition": self.condition, "pipeline": self.pipeline}
                if self.condition != "lora"
                else {}
            ),
        }

    def parameters(self) -> dict[str, Any]:
        """The payload without the model record (a manifest lists models on their own)."""
        return {k: v for k, v in self.payload().items() if k != "model"}

    def without_lora(self) -> RenderSettings:
        """The same render with the character LoRA off (what the LoRA buys, measured)."""
        condition = "reference" if self.condition == "both" else self.condition
        return replace(
            self, lora_strength=0.0, lora_sha256=None, lora_file=None, condition=condition
        )
