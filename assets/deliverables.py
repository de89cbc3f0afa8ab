"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

import time

from dagster import AssetCheckResult, AssetCheckSpec, AssetExecutionContext, MetadataValue, asset
from PIL import Image

from assets.materialize import brief_of, compute, image_markdown, new_ref, result, upstream
from pipeline.partitions import character_partitions
from pipeline.spot import GPU_POOL
from resources.artifact_store import ArtifactStore, build_manifest, sha256_file, write_json
from resources.contact_sheet import contact_sheet
from resources.final_cut import CutClip, Upscaler
from resources.model_registry import UPSCALERS
from resources.model_store import ModelStore
from resources.spot_monitor import SpotMonitor
from resources.video_io import probe_video

CODE_VERSION = "1"
FINAL = "final.mp4"
CHECK_FORMAT = "deliverable_matches_brief"


@asset(
    partitions_def=character_partitions,
    deps=["video_clips"],
    code_version=CODE_VERSION,
    group_name="character_video",
    pool=GPU_POOL,
    kinds={"pytorch", "mp4"},
    check_specs=[AssetCheckSpec(CHECK_FORMAT, asset="deliverables")],
)
def deliverables(
    context: AssetExecutionContext,
    artifact_store: ArtifactStore,
    model_store: ModelStore,
    spot_monitor: SpotMonitor,
    upscaler: Upscaler,
):
    """The final cut at the brief's resolution and fps, with poster and contact sheet."""
    start = time.perf_counter()
    brief, brief_ref = brief_of(context, artifact_store)
    clips_ref = upstream(context, artifact_store, "video_clips")
    clips_dir = artifact_store.path(clips_ref)
    width, height = brief.deliverable.resolution
    fps = brief.video.fps
    entry = UPSCALERS[brief.deliverable.upscaler]
    weights = model_store.upscaler_file(entry.name)
    record = model_store.record(entry.name, entry.filename, entry.source, weights)
    clips = [
        CutClip(shot.id, clips_dir / "shots" / shot.id / "clip.mp4", shot.duration_s)
        for shot in brief.shots
    ]
    params = {
        "width": width,
        "height": height,
        "fps": fps,
        "fit": brief.deliverable.fit,
        "crf": brief.deliverable.crf,
        "shots": [[c.id, c.duration_s] for c in clips],
    }
    ref = new_ref(
        context,
        "deliverables",
        {"clips": clips_ref.version, "params": params, "model": record, "code": CODE_VERSION},
    )
    reused = artifact_store.is_complete(ref)
    if reused:
        artifact_store.set_current(ref)
    else:
        with artifact_store.staging(ref) as stage:
            stats = upscaler.cut(
                weights,
                clips,
                stage / FINAL,
                width=width,
                height=height,
                fps=fps,
                fit=brief.deliverable.fit,
                crf=brief.deliverable.crf,
                device=model_store.torch_device,
                log=context.log.info,
                stop=spot_monitor.check,
            )
            samples = [Image.fromarray(f) for f in stats.samples]
            samples[len(samples) // 2].save(stage / "poster.jpg", quality=90)
            contact_sheet(samples, stage / "contact_sheet.png", labels=[c.id for c in clips])
            write_json(
                stage / "manifest.json",
                build_manifest(
                    ref,
                    stage,
                    code_version=CODE_VERSION,
                    inputs={"video_clips": clips_ref.version},
                    parameters=params,
                    models=[record],
                    timings={"wall_s": time.perf_counter() - start},
                    extra={
                        "frames_per_shot": stats.per_clip_frames,
                        "compute": compute(model_store.torch_device, start),
                        "brief_version": brief_ref.version,
                    },
                ),
            )
    folder = artifact_store.path(ref)
    info = probe_video(folder / FINAL)
    expected_frames = sum(round(c.duration_s * fps) for c in clips)
    passed = (
        (info.width, info.height) == (width, height)
        and info.fps == fps
        and abs(info.frame_count - expected_frames) <= 1
        and info.codec == "h264"
        and info.pix_fmt == "yuv420p"
    )
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "final": MetadataValue.path(str(folder / FINAL)),
            "sha256": sha256_file(folder / FINAL),
            "resolution": f"{info.width}x{info.height}",
            "fps": float(info.fps),
            "frames": info.frame_count,
            "duration_s": info.frame_count / float(info.fps),
            "poster": image_markdown(folder / "poster.jpg", title="poster"),
        },
        check_results=[
            AssetCheckResult(
                check_name=CHECK_FORMAT,
                passed=passed,
                metadata={
                    "resolution": f"{info.width}x{info.height} (brief {width}x{height})",
                    "fps": f"{info.fps} (brief {fps})",
                    "frames": f"{info.frame_count} (expected {expected_frames} +-1)",
                    "codec": f"{info.codec} {info.pix_fmt}",
                },
            )
        ],
    )
