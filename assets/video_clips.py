"""video_clips: one clip per shot, rendered by the brief's video model with the character LoRA."""

import time
from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue

from assets.materialize import (
    brief_of,
    build_or_reuse,
    chain_asset,
    compute,
    image_markdown,
    new_ref,
    result,
    upstream,
)
from pipeline.domain.registry import video_model
from resources.lora.trainer import LORA_FILE
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.models.model_store import ModelStore
from resources.runtime.spot_monitor import SpotMonitor
from resources.storage.artifact_store import ArtifactStore, sha256_file
from resources.video.generator import ShotRequest, VideoGenerator

CODE_VERSION = "2"
CHECK_CLIPS = "clips_match_shot_list"
CHECK_PICTURE = "clips_have_no_black_or_frozen_stretches"


@chain_asset(
    "video_clips",
    code_version=CODE_VERSION,
    kinds={"pytorch", "mp4"},
    checks=[CHECK_CLIPS, CHECK_PICTURE],
)
def video_clips(
    context: AssetExecutionContext,
    artifact_store: ArtifactStore,
    model_store: ModelStore,
    spot_monitor: SpotMonitor,
    video_generator: VideoGenerator,
):
    """One clip per shot at the model's native fps; finished shots survive a retry."""
    start = time.perf_counter()
    brief, brief_ref = brief_of(context, artifact_store)
    lora_ref = upstream(context, artifact_store, "character_lora")
    lora_file = artifact_store.path(lora_ref) / LORA_FILE
    model = video_model(brief.video.model)
    model_dir = model_store.video_model_dir(model)
    record = model_store.record(model.name, model.repo_id, model.revision, model_dir)
    size = model_store.video_size(model)
    trigger = brief.character.trigger
    shots = [
        ShotRequest(
            id=shot.id,
            prompt=f"{trigger}, {shot.prompt}",
            negative_prompt=shot.negative_prompt or brief.video.negative_prompt,
            seed=shot.seed,
            num_frames=model.valid_frame_count(shot.duration_s),
            duration_s=shot.duration_s,
        )
        for shot in brief.shots
    ]
    params = {
        "width": size.width,
        "height": size.height,
        "steps": size.steps,
        "guidance_scale": model.guidance_scale,
        "fps": model.native_fps,
        "lora_strength": brief.video.lora_strength,
        "lora_sha256": sha256_file(lora_file),
        # Both change the pixels (flash vs native kernels round differently; the cache skips work).
        "attention": video_generator.attention,
        "first_block_cache": video_generator.first_block_cache,
    }
    ref = new_ref(
        context,
        "video_clips",
        {
            "lora": lora_ref.version,
            "shots": [s.__dict__ for s in shots],
            "params": params,
            "model": record,
            "code": CODE_VERSION,
        },
    )

    def build(stage: Path) -> dict:
        rendered = video_generator.render_shots(
            model_dir,
            model,
            shots,
            stage,
            lora_file=lora_file,
            lora_strength=brief.video.lora_strength,
            width=size.width,
            height=size.height,
            steps=size.steps,
            device=model_store.torch_device,
            dtype=model_store.torch_dtype,
            log=context.log.info,
            stop=spot_monitor.check,
        )
        contact_sheet(
            [r.poster for r in rendered],
            stage / "posters.png",
            labels=[r.id for r in rendered],
        )
        return dict(
            code_version=CODE_VERSION,
            inputs={"character_lora": lora_ref.version},
            parameters=params,
            models=[record],
            seeds={s.id: s.seed for s in shots},
            prompts={s.id: s.prompt for s in shots},
            timings={
                "wall_s": time.perf_counter() - start,
                **{f"shot_{r.id}_s": r.render_s for r in rendered},
            },
            extra={
                "shots": [s.__dict__ for s in shots],
                "compute": compute(model_store, start),
                "brief_version": brief_ref.version,
            },
        )

    reused = build_or_reuse(artifact_store, ref, build)
    folder = artifact_store.path(ref)
    bad_format, bad_picture, rows, figures = [], [], [], {}
    for shot in shots:
        clip = folder / "shots" / shot.id / "clip.mp4"
        if not clip.is_file():
            bad_format.append(f"{shot.id}: missing")
            continue
        report = inspect_video(clip)
        figures[shot.id] = report.metadata()
        rows.append(
            f"| {shot.id} | {report.width}x{report.height} | {report.fps:g} | "
            f"{report.frame_count} | {report.codec} | {report.luma_mean:.1f} | "
            f"{report.motion_mean:.2f} | {report.longest_black_s:.2f} | "
            f"{report.longest_frozen_s:.2f} |"
        )
        wrong_format = format_problems(
            report,
            width=size.width,
            height=size.height,
            fps=model.native_fps,
            frame_count=shot.num_frames,
        )
        bad_format += [f"{shot.id}: {p}" for p in wrong_format]
        bad_picture += [f"{shot.id}: {p}" for p in picture_problems(report)]
    table = MetadataValue.md(
        "| shot | size | fps | frames | codec | mean luma | motion | black s | frozen s |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "shots": len(shots),
            "model": record["id"],
            "native_fps": model.native_fps,
            "size": f"{size.width}x{size.height}",
            "clips": table,
            "posters": image_markdown(folder / "posters.png", title="posters"),
        },
        check_results=[
            AssetCheckResult(
                check_name=CHECK_CLIPS,
                passed=not bad_format,
                metadata={"problems": "; ".join(bad_format) or "none", "clips": table},
            ),
            AssetCheckResult(
                check_name=CHECK_PICTURE,
                passed=not bad_picture,
                metadata={
                    "problems": "; ".join(bad_picture) or "none",
                    "figures": MetadataValue.json(figures),
                },
            ),
        ],
    )
