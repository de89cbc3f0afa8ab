"""Reference stills with SDXL: a plan of varied views of the character, rendered reproducibly.

The plan is pure data (prompts, training captions, seeds), so it can be versioned and shown
before anything renders; each still is seeded on its own so any one can be re-rendered alone.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from dagster import ConfigurableResource
from PIL import Image

from resources.runtime.interruption import StopCheck, stop_if_asked
from resources.storage.artifact_store import write_atomic

if TYPE_CHECKING:  # imported where the pipeline loads (resources/video/generator.py: why)
    from diffusers import StableDiffusionXLPipeline

DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, deformed, distorted face, extra limbs, extra fingers, text, watermark"
)


@dataclass(frozen=True)
class _View:
    label: str  # short name for contact sheets
    prompt: str  # what SDXL is asked for
    caption: str  # what the training caption says about the image


# Varied angle, framing, expression and light, so a LoRA trained on the set learns the identity
# rather than one pose; the captions name what varies so the trigger absorbs what does not.
_VIEWS: tuple[_View, ...] = (
    _View(
        "front portrait",
        "front view portrait, head and shoulders, looking at the camera, neutral expression, "
        "soft studio lighting, plain background",
        "front view portrait, neutral expression, soft studio lighting",
    ),
    _View(
        "three-quarter left",
        "three-quarter view facing left, head and shoulders, slight smile, soft studio lighting",
        "three-quarter view from the left, slight smile, soft studio lighting",
    ),
    _View(
        "three-quarter right",
        "three-quarter view facing right, head and shoulders, slight smile, natural daylight",
        "three-quarter view from the right, slight smile, natural daylight",
    ),
    _View(
        "profile left",
        "left side profile, head and shoulders, neutral expression, soft rim lighting",
        "left side profile, neutral expression, rim lighting",
    ),
    _View(
        "full body",
        "full body shot, standing, front view, plain background, even studio lighting",
        "full body, standing, front view, studio lighting",
    ),
    _View(
        "face close-up",
        "close-up of the face, smiling, looking at the camera, soft window light",
        "close-up of the face, smiling, window light",
    ),
    _View(
        "profile right",
        "right side profile, head and shoulders, thoughtful expression, natural daylight",
        "right side profile, thoughtful expression, natural daylight",
    ),
    _View(
        "full body walking",
        "full body shot, walking, three-quarter view, outdoor street, overcast daylight",
        "full body, walking, three-quarter view, outdoors",
    ),
    _View(
        "laughing",
        "head and shoulders, laughing, front view, warm golden hour lighting",
        "laughing, front view, warm golden hour lighting",
    ),
    _View(
        "serious",
        "head and shoulders, serious expression, three-quarter view, dramatic side lighting",
        "serious expression, three-quarter view, dramatic side lighting",
    ),
    _View(
        "over the shoulder",
        "looking back over the shoulder, upper body, from behind, soft daylight",
        "looking back over the shoulder, upper body, soft daylight",
    ),
    _View(
        "surprised",
        "close-up, surprised expression, front view, cool blue lighting",
        "close-up, surprised expression, cool lighting",
    ),
)


@dataclass(frozen=True)
class ReferenceSpec:
    """One planned reference still: what to render, how to caption it, and its seed."""

    index: int
    view: str
    prompt: str
    negative_prompt: str
    seed: int
    caption: str


def reference_plan(
    *, name: str, description: str, trigger: str, count: int, base_seed: int
) -> list[ReferenceSpec]:
    """`count` reference stills cycling through varied views, each with its own fixed seed.

    `name` only labels errors: a person's name in an SDXL prompt can pull the likeness towards a
    real person of that name, so prompts describe the character instead.
    """
    if count < 1:
        raise ValueError(f"count={count} for {name}'s references: at least one is needed")
    if not trigger or any(ch.isspace() for ch in trigger):
        raise ValueError(f"trigger={trigger!r} for {name}: must be one non-empty word")
    description = " ".join(description.split())
    if not description:
        raise ValueError(f"description for {name} is empty: the prompts need one")
    plan = []
    for index in range(count):
        view = _VIEWS[index % len(_VIEWS)]
        plan.append(
            ReferenceSpec(
                index=index,
                view=view.label,
                # Trigger and view first: CLIP keeps only 77 tokens, and the view is what varies.
                prompt=f"{trigger}, {view.prompt}, {description}, photo, sharp focus, detailed",
                negative_prompt=DEFAULT_NEGATIVE_PROMPT,
                seed=base_seed + index,
                caption=f"{trigger}, {view.caption}",
            )
        )
    return plan


def load_sdxl_pipeline(
    model_dir: Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> StableDiffusionXLPipeline:
    """Load an SDXL pipeline from the local folder `model_dir` onto `device`."""
    from diffusers import StableDiffusionXLPipeline

    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise FileNotFoundError(
            f"{model_dir} is not a diffusers pipeline folder (no model_index.json); resolve the "
            f"SDXL model through the model store first"
        )
    # local_files_only: a folder path must never turn into a Hub lookup.
    pipe = StableDiffusionXLPipeline.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate_still(
    pipe: StableDiffusionXLPipeline,
    spec: ReferenceSpec,
    *,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
) -> Image.Image:
    """Render `spec` at `width`x`height`; the same spec and settings give the same image."""
    for param, value in (("width", width), ("height", height)):
        if value < 8 or value % 8:
            raise ValueError(f"{param}={value} for SDXL: must be a positive multiple of 8")
    if steps < 1:
        raise ValueError(f"steps={steps} for SDXL: at least one denoising step is needed")
    result = pipe(
        prompt=spec.prompt,
        negative_prompt=spec.negative_prompt,
        width=width,
        height=height,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        # A CPU generator draws the same noise whatever device the pipeline runs on.
        generator=torch.Generator(device="cpu").manual_seed(spec.seed),
        output_type="pil",
    )
    return result.images[0]


def still_file(out_dir: Path, index: int) -> Path:
    """Where still `index` of a reference set is written; its caption is beside it as .txt."""
    return Path(out_dir) / f"ref_{index:03d}.png"


def caption_file(still: Path) -> Path:
    """The training caption written next to a still."""
    return still.with_suffix(".txt")


def finished_still(image_file: Path) -> bool:
    """True when a still and its caption are complete: the caption has text, the PNG decodes.

    A staging folder has no manifest to check a still against, so a truncated or damaged PNG
    (which still exists) is found by decoding it: PIL raises on a short or corrupt image.
    """
    caption = caption_file(image_file)
    if not (image_file.is_file() and caption.is_file() and caption.stat().st_size > 0):
        return False
    try:
        with Image.open(image_file) as image:
            image.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


class ImageGenerator(ConfigurableResource):
    """Renders a reference plan to `ref_NNN.png` stills with `ref_NNN.txt` training captions."""

    def generate_references(
        self,
        model_dir: Path,
        plan: list[ReferenceSpec],
        out_dir: Path,
        *,
        width: int,
        height: int,
        steps: int,
        guidance_scale: float,
        negative_prompt: str | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        log: Callable[[str], None] = print,
        stop: StopCheck | None = None,
    ) -> list[Path]:
        """Render every still in `plan` not already in `out_dir`; the image paths, in plan order."""
        out_dir = Path(out_dir)
        pipe = None
        paths = []
        for spec in plan:
            image_file = still_file(out_dir, spec.index)
            caption = caption_file(image_file)
            paths.append(image_file)
            if finished_still(image_file):
                continue  # finished by an earlier, interrupted run
            if image_file.exists():
                log(f"reference {spec.index}: {image_file.name} is unreadable; rendering it again")
            if pipe is None:
                pipe = load_sdxl_pipeline(model_dir, device=device, dtype=dtype)
            if negative_prompt:
                spec = replace(spec, negative_prompt=negative_prompt)
            image = generate_still(
                pipe, spec, width=width, height=height, steps=steps, guidance_scale=guidance_scale
            )
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            write_atomic(caption, spec.caption + "\n")
            # The image is written last: both files present means this still is finished.
            write_atomic(image_file, buffer.getvalue())
            log(f"reference {spec.index} ({spec.view}) seed {spec.seed}")
            stop_if_asked(stop, f"reference still {spec.index}")
        return paths
