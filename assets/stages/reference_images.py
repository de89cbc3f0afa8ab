"""reference_images: SDXL stills of the character from varied views, each with a caption."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PIL import Image

from assets.stages.base import (
    Check,
    Markdown,
    Picture,
    Run,
    StageResult,
    build_or_reuse,
    stage_result,
)
from assets.stages.character_brief import prediction_metadata, read_brief
from resources.domain.licence_check import with_licence
from resources.domain.registry import SDXL
from resources.media.contact_sheet import contact_sheet
from resources.qc import retakes
from resources.stills.image_generator import (
    ImageGenerator,
    caption_file,
    reference_plan,
    still_file,
)

ASSET = "reference_images"
CODE_VERSION = "1"
CHECK_COUNT = "reference_count_met"
CHECK_SET = "reference_set_is_consistent"
CHECKS = (CHECK_COUNT, CHECK_SET)
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
            models=[with_licence(model)],
            seeds=[s.seed for s in plan],
            prompts=[s.prompt for s in plan],
            timings={"wall_s": time.perf_counter() - start},
            # What the LoRA stage trains on, by name: each still, its caption, view and seed.
            extra={"compute": run.compute(start), "stills": still_entries(plan)},
        )

    # Each still is raw RGB at most as PNG, plus the contact sheet.
    needs = (brief.references.count + 1) * size.width * size.height * 3
    reused = build_or_reuse(run, ref, build, needs_bytes=needs, salvage=True)
    folder = run.store.path(ref)
    stills = stills_of(folder, run.store.manifest(ref))
    found = [p for p in stills if p.is_file()]
    captions = [caption_file(p) for p in stills]
    trigger = brief.character.trigger or ""
    captioned = all(c.is_file() and trigger in c.read_text(encoding="utf-8") for c in captions)
    set_check, similarity = _set_check(run, found, ref.version, brief.qc, [s.view for s in plan])
    count_check = Check(
        CHECK_COUNT,
        passed=len(found) == brief.references.count and captioned,
        metadata={
            "expected": brief.references.count,
            "found": len(found),
            "captions_with_trigger": captioned,
        },
    )
    metadata = {
        "count": len(found),
        "seeds": [s.seed for s in plan],
        "size": f"{size.width}x{size.height}",
        "model": model["id"],
        "contact_sheet": Picture(folder / CONTACT_SHEET, "references"),
        **prediction_metadata(run, ("references",), run.store.manifest(ref)),
        "similarity": similarity,
        "flagged": set_check.metadata["flagged"],
    }
    return stage_result(run, ref, reused=reused, metadata=metadata, checks=[count_check, set_check])


def still_entries(plan) -> list[dict[str, Any]]:
    """The manifest's `stills`: each still's image and caption file, view and seed."""
    return [
        {
            "image": still_file(Path(), s.index).as_posix(),
            "caption": caption_file(still_file(Path(), s.index)).as_posix(),
            "view": s.view,
            "seed": s.seed,
        }
        for s in plan
    ]


def stills_of(folder: Path, manifest: dict) -> list[Path]:
    """The stills a reference_images version recorded, in plan order."""
    return [folder / s["image"] for s in manifest["stills"]]


def _set_check(run: Run, stills: list[Path], version: str, qc, views: list[str]):
    """Pairwise similarity of the stills, with outliers and near-duplicates flagged."""
    report = retakes.Scoring(run, stills, version).reference_report(qc)
    names = [f"{i}:{views[i] if i < len(views) else ''}" for i in range(len(stills))]
    head = "| | " + " | ".join(str(i) for i in range(len(stills))) + " | mean to others |"
    rows = [head, "|---" * (len(stills) + 2) + "|"]
    for i, row in enumerate(report.similarity):
        cells = " | ".join(f"{v:.2f}" for v in row)
        rows.append(f"| {names[i]} | {cells} | {report.mean_to_others[i]:.3f} |")
    flagged = [
        f"still {names[i]} is an outlier: mean similarity {report.mean_to_others[i]:.3f}, more "
        f"than {qc.outlier_gap:.2f} below the set's median"
        for i in report.outliers
    ] + [
        f"stills {names[i]} and {names[j]} are near-duplicates: similarity "
        f"{report.similarity[i][j]:.3f} > {qc.duplicate_above:.2f}"
        for i, j in report.duplicates
    ]
    table = Markdown("\n".join(rows))
    check = Check(
        CHECK_SET,
        passed=not flagged,
        description="; ".join(flagged) or "no outlier, no near-duplicate",
        metadata={
            "flagged": "; ".join(flagged) or "none",
            "similarity": table,
            "outlier_gap": qc.outlier_gap,
            "duplicate_above": qc.duplicate_above,
            "backbone": retakes.PRIMARY,
        },
    )
    return check, table
