"""reference_images: SDXL stills of the character from varied views, each with a caption."""

import time
from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext
from PIL import Image

from assets.materialize import (
    brief_of,
    build_or_reuse,
    chain_asset,
    compute,
    image_markdown,
    new_ref,
    result,
)
from pipeline.domain.registry import SDXL
from resources.media.contact_sheet import contact_sheet
from resources.models.model_store import ModelStore
from resources.runtime.spot_monitor import SpotMonitor
from resources.stills.image_generator import ImageGenerator, reference_plan
from resources.storage.artifact_store import ArtifactStore

CODE_VERSION = "1"
CHECK_COUNT = "reference_count_met"


@chain_asset(
    "reference_images",
    code_version=CODE_VERSION,
    kinds={"pytorch", "png"},
    checks=[CHECK_COUNT],
)
def reference_images(
    context: AssetExecutionContext,
    artifact_store: ArtifactStore,
    model_store: ModelStore,
    spot_monitor: SpotMonitor,
    image_generator: ImageGenerator,
):
    """`references.count` SDXL stills of the character plus one caption .txt per image."""
    start = time.perf_counter()
    brief, brief_ref = brief_of(context, artifact_store)
    plan = reference_plan(
        name=brief.character.name,
        description=brief.character.description,
        trigger=brief.character.trigger,
        count=brief.references.count,
        base_seed=brief.references.seed,
    )
    size = model_store.still_size()
    model_dir = model_store.sdxl_dir()
    model = model_store.record(SDXL.name, SDXL.repo_id, SDXL.revision, model_dir)
    params = {
        "count": brief.references.count,
        "width": size.width,
        "height": size.height,
        "steps": size.steps,
        "guidance_scale": SDXL.guidance_scale,
        "negative_prompt": brief.references.negative_prompt,
    }
    ref = new_ref(
        context,
        "reference_images",
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
        images = image_generator.generate_references(
            model_dir,
            plan,
            stage,
            width=size.width,
            height=size.height,
            steps=size.steps,
            guidance_scale=SDXL.guidance_scale,
            negative_prompt=brief.references.negative_prompt,
            device=model_store.torch_device,
            dtype=model_store.torch_dtype,
            log=context.log.info,
            stop=spot_monitor.check,
        )
        stills = [Image.open(p) for p in images]
        contact_sheet(stills, stage / "contact_sheet.png", labels=[s.view for s in plan])
        return dict(
            code_version=CODE_VERSION,
            inputs={"character_brief": brief_ref.version},
            parameters=params,
            models=[model],
            seeds=[s.seed for s in plan],
            prompts=[s.prompt for s in plan],
            timings={"wall_s": time.perf_counter() - start},
            extra={"compute": compute(model_store, start)},
        )

    reused = build_or_reuse(artifact_store, ref, build)
    folder = artifact_store.path(ref)
    found = sorted(folder.glob("ref_*.png"))
    captions = [p.with_suffix(".txt") for p in found]
    captioned = all(c.is_file() and brief.character.trigger in c.read_text() for c in captions)
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "count": len(found),
            "seeds": [s.seed for s in plan],
            "size": f"{size.width}x{size.height}",
            "model": model["id"],
            "contact_sheet": image_markdown(folder / "contact_sheet.png", title="references"),
        },
        check_results=[
            AssetCheckResult(
                check_name=CHECK_COUNT,
                passed=len(found) == brief.references.count and captioned,
                metadata={
                    "expected": brief.references.count,
                    "found": len(found),
                    "captions_with_trigger": captioned,
                },
            )
        ],
    )
