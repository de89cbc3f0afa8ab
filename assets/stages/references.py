"""reference_images: SDXL stills of the character from varied views, each with a caption."""

from __future__ import annotations

import time
from pathlib import Path

from PIL import Image

from assets.stages.base import Check, Picture, Run, StageResult, build_or_reuse, stage_result
from assets.stages.brief import prediction_metadata, read_brief
from resources.domain.registry import SDXL
from resources.media.contact_sheet import contact_sheet
from resources.stills.image_generator import (
    ImageGenerator,
    caption_file,
    reference_plan,
    still_file,
)

ASSET = "reference_images"
CODE_VERSION = "1"
CHECK_COUNT = "reference_count_met"
CHECKS = (CHECK_COUNT,)
CONTACT_SHEET = "contact_sheet.png"


def make_references(run: Run, generator: ImageGenerator) -> StageResult:
    """`references.count` SDXL stills of the character plus one caption .txt per image."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    plan = reference_plan(
        name=brief.character.name,
        description=brief.character.description,
        trigger=brief.character.trigger,
        count=brief.references.count,
        base_seed=brief.references.seed,
    )
    size = run.models.still_size()
    model_dir = run.models.sdxl_dir()
    model = run.models.record(SDXL.name, SDXL.repo_id, SDXL.revision, model_dir)
    params = {
        "count": brief.references.count,
        "width": size.width,
        "height": size.height,
        "steps": size.steps,
        "guidance_scale": SDXL.guidance_scale,
        "negative_prompt": brief.references.negative_prompt,
    }
    ref = run.ref(
        ASSET,
        {
            "character": brief.character.model_dump(),
            "params": params,
            "plan": [s.prompt for s in plan],
            "seeds": [s.seed for s in plan],
            "model": model,
            "code": CODE_VERSION,
        },
    )

    def build(stage: Path) -> dict:
        images = generator.generate_references(
            model_dir,
            plan,
            stage,
            width=size.width,
            height=size.height,
            steps=size.steps,
            guidance_scale=SDXL.guidance_scale,
            negative_prompt=brief.references.negative_prompt,
            device=run.device,
            dtype=run.dtype,
            log=run.log,
            stop=run.stop,
        )
        contact_sheet(
            [Image.open(p) for p in images], stage / CONTACT_SHEET, labels=[s.view for s in plan]
        )
        return dict(
            code_version=CODE_VERSION,
            inputs={"character_brief": brief_ref.version},
            parameters=params,
            models=[model],
            seeds=[s.seed for s in plan],
            prompts=[s.prompt for s in plan],
            timings={"wall_s": time.perf_counter() - start},
            extra={
                "compute": run.compute(start),
                # What the LoRA stage trains on, by name: each still, its caption, view and seed.
                "stills": [
                    {
                        "image": still_file(Path(), s.index).as_posix(),
                        "caption": caption_file(still_file(Path(), s.index)).as_posix(),
                        "view": s.view,
                        "seed": s.seed,
                    }
                    for s in plan
                ],
            },
        )

    # Each still is raw RGB at most as PNG, plus the contact sheet.
    needs = (brief.references.count + 1) * size.width * size.height * 3
    reused = build_or_reuse(run, ref, build, needs_bytes=needs, salvage=True)
    folder = run.store.path(ref)
    stills = stills_of(folder, run.store.manifest(ref))
    found = [p for p in stills if p.is_file()]
    captions = [caption_file(p) for p in stills]
    trigger = brief.character.trigger or ""
    captioned = all(c.is_file() and trigger in c.read_text() for c in captions)
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "count": len(found),
            "seeds": [s.seed for s in plan],
            "size": f"{size.width}x{size.height}",
            "model": model["id"],
            "contact_sheet": Picture(folder / CONTACT_SHEET, "references"),
            **prediction_metadata(run, ("references",), run.store.manifest(ref)),
        },
        checks=[
            Check(
                CHECK_COUNT,
                passed=len(found) == brief.references.count and captioned,
                metadata={
                    "expected": brief.references.count,
                    "found": len(found),
                    "captions_with_trigger": captioned,
                },
            )
        ],
    )


def stills_of(folder: Path, manifest: dict) -> list[Path]:
    """The stills a reference_images version recorded, in plan order."""
    return [folder / s["image"] for s in manifest["stills"]]
