"""video_clips: one clip per shot, rendered by the brief's video model with the character LoRA."""

import time

from dagster import AssetCheckResult, AssetCheckSpec, AssetExecutionContext, MetadataValue, asset

from assets.materialize import brief_of, compute, image_markdown, new_ref, result, upstream
from pipeline.partitions import character_partitions
from pipeline.spot import GPU_POOL
from resources.artifact_store import ArtifactStore, build_manifest, sha256_file, write_json
from resources.contact_sheet import contact_sheet
from resources.lora_trainer import LORA_FILE
from resources.model_registry import video_model
from resources.model_store import ModelStore
from resources.spot_monitor import SpotMonitor
from resources.video_generator import ShotRequest, VideoGenerator
from resources.video_io import probe_video

CODE_VERSION = "1"
CHECK_CLIPS = "clips_match_shot_list"


@asset(
    partitions_def=character_partitions,
    deps=["character_lora"],
    code_version=CODE_VERSION,
    group_name="character_video",
    pool=GPU_POOL,
    kinds={"pytorch", "mp4"},
    check_specs=[AssetCheckSpec(CHECK_CLIPS, asset="video_clips")],
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
    reused = artifact_store.is_complete(ref)
    if reused:
        artifact_store.set_current(ref)
    else:
        with artifact_store.staging(ref) as stage:
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
            write_json(
                stage / "manifest.json",
                build_manifest(
                    ref,
                    stage,
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
                        "compute": compute(model_store.torch_device, start),
                        "brief_version": brief_ref.version,
                    },
                ),
            )
    folder = artifact_store.path(ref)
    problems, table = [], []
    for shot in shots:
        clip = folder / "shots" / shot.id / "clip.mp4"
        if not clip.is_file():
            problems.append(f"{shot.id}: missing")
            continue
        info = probe_video(clip)
        table.append(
            f"| {shot.id} | {info.width}x{info.height} | {info.frame_count} | {info.fps} |"
        )
        if (info.width, info.height, info.frame_count) != (
            size.width,
            size.height,
            shot.num_frames,
        ):
            problems.append(f"{shot.id}: {info.width}x{info.height}x{info.frame_count}")
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "shots": len(shots),
            "model": record["id"],
            "native_fps": model.native_fps,
            "size": f"{size.width}x{size.height}",
            "clips": MetadataValue.md(
                "| shot | size | frames | fps |\n|---|---|---|---|\n" + "\n".join(table)
            ),
            "posters": image_markdown(folder / "posters.png", title="posters"),
        },
        check_results=[
            AssetCheckResult(
                check_name=CHECK_CLIPS,
                passed=not problems,
                metadata={"problems": "; ".join(problems) or "none"},
            )
        ],
    )
