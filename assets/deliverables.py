"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

import time
from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue
from PIL import Image

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
from pipeline.domain.registry import UPSCALERS
from pipeline.domain.timing import frames_for
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.models.model_store import ModelStore
from resources.runtime.spot_monitor import SpotMonitor
from resources.storage.artifact_store import ArtifactStore, sha256_file
from resources.upscale.final_cut import CutClip, Upscaler

CODE_VERSION = "2"
FINAL = "final.mp4"
CHECK_FORMAT = "deliverable_matches_brief"
CHECK_PICTURE = "deliverable_has_no_black_or_frozen_stretches"


@chain_asset(
    "deliverables",
    code_version=CODE_VERSION,
    kinds={"pytorch", "mp4"},
    checks=[CHECK_FORMAT, CHECK_PICTURE],
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
        # Tiles change the last bit of a few pixels: part of what made the file.
        "tile": upscaler.tile,
        "overlap": upscaler.overlap,
        "preset": upscaler.preset,
    }
    ref = new_ref(
        context,
        "deliverables",
        {"clips": clips_ref.version, "params": params, "model": record, "code": CODE_VERSION},
    )

    def build(stage: Path) -> dict:
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
        return dict(
            code_version=CODE_VERSION,
            inputs={"video_clips": clips_ref.version},
            parameters=params,
            models=[record],
            timings={"wall_s": time.perf_counter() - start},
            extra={
                "frames_per_shot": stats.per_clip_frames,
                "compute": compute(model_store, start),
                "brief_version": brief_ref.version,
                "upscaled_frames": stats.upscaled_frames,
            },
        )

    reused = build_or_reuse(artifact_store, ref, build)
    folder = artifact_store.path(ref)
    report = inspect_video(folder / FINAL)
    expected_frames = sum(frames_for(c.duration_s, fps) for c in clips)
    bad_format = format_problems(
        report,
        width=width,
        height=height,
        fps=fps,
        frame_count=expected_frames,
        frame_tolerance=1,
    )
    if not report.faststart:
        bad_format.append("moov atom after the media data (no fast start for web playback)")
    bad_picture = picture_problems(report)
    figures = report.metadata()
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "final": MetadataValue.path(str(folder / FINAL)),
            "sha256": sha256_file(folder / FINAL),
            "resolution": f"{report.width}x{report.height}",
            "fps": report.fps,
            "frames": report.frame_count,
            "duration_s": report.frame_count / report.fps,
            "files": len(artifact_store.manifest(ref)["files"]),
            "poster": image_markdown(folder / "poster.jpg", title="poster"),
            "contact_sheet": image_markdown(folder / "contact_sheet.png", title="contact sheet"),
        },
        check_results=[
            AssetCheckResult(
                check_name=CHECK_FORMAT,
                passed=not bad_format,
                metadata={
                    "problems": "; ".join(bad_format) or "none",
                    "resolution": f"{report.width}x{report.height} (brief {width}x{height})",
                    "fps": f"{report.fps:g} (brief {fps})",
                    "frames": f"{report.frame_count} (expected {expected_frames} +-1)",
                    "codec": f"{report.codec} {report.pix_fmt}",
                    "faststart": report.faststart,
                },
            ),
            AssetCheckResult(
                check_name=CHECK_PICTURE,
                passed=not bad_picture,
                metadata={
                    "problems": "; ".join(bad_picture) or "none",
                    "luma_mean": figures["luma_mean"],
                    "luma_min": figures["luma_min"],
                    "motion_mean": figures["motion_mean"],
                    "longest_black_s": figures["longest_black_s"],
                    "longest_frozen_s": figures["longest_frozen_s"],
                },
            ),
        ],
    )
