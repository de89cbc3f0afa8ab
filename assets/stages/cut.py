"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PIL import Image

from assets.stages.base import (
    Check,
    Picture,
    Playable,
    Run,
    StageResult,
    build_or_reuse,
    stage_result,
)
from assets.stages.brief import read_brief
from assets.stages.clips import ASSET as CLIPS
from assets.stages.clips import clips_of
from pipeline.domain.artifacts import ArtifactRef
from pipeline.domain.registry import UPSCALERS
from pipeline.domain.timing import frames_for
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.storage.artifact_store import sha256_file
from resources.upscale.final_cut import CutClip, Upscaler

ASSET = "deliverables"
CODE_VERSION = "3"
FINAL = "final.mp4"
POSTER = "poster.jpg"
CONTACT_SHEET = "contact_sheet.png"
CHECK_FORMAT = "deliverable_matches_brief"
CHECK_PICTURE = "deliverable_has_no_black_or_frozen_stretches"
CHECKS = (CHECK_FORMAT, CHECK_PICTURE)


def cut_deliverable(run: Run, upscaler: Upscaler) -> StageResult:
    """The final cut at the brief's resolution and fps, with poster and contact sheet."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    clips_ref = run.upstream(CLIPS)
    clips_manifest = run.store.manifest(clips_ref)
    recorded = clips_of(run.store.path(clips_ref), clips_manifest)
    width, height = brief.deliverable.resolution
    fps = brief.video.fps
    entry = UPSCALERS[brief.deliverable.upscaler]
    weights = run.models.upscaler_file(entry.name)
    record = run.models.record(entry.name, entry.filename, entry.source, weights)
    # The shots and their lengths as video_clips recorded them: the cut follows its input.
    clips = [CutClip(s["id"], s["path"], float(s["duration_s"])) for s in recorded]
    params = {
        "width": width,
        "height": height,
        "fps": fps,
        "fit": brief.deliverable.fit,
        "crf": brief.deliverable.crf,
        # Tiles change the last bit of a few pixels: part of what made the file.
        **upscaler.encoding(),
    }
    ref = run.ref(
        ASSET,
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
            device=run.device,
            log=run.log,
            stop=run.stop,
        )
        samples = [Image.fromarray(f) for f in stats.samples]
        samples[len(samples) // 2].save(stage / POSTER, quality=90)
        contact_sheet(samples, stage / CONTACT_SHEET, labels=[c.id for c in clips])
        return dict(
            code_version=CODE_VERSION,
            inputs={"video_clips": clips_ref.version},
            parameters=params,
            models=[record],
            timings={"wall_s": time.perf_counter() - start},
            extra={
                # What the report, the CLI and the review read, by name.
                "final": FINAL,
                "poster": POSTER,
                "shots": [
                    {
                        "id": c.id,
                        "duration_s": c.duration_s,
                        "frames": stats.per_clip_frames[c.id],
                    }
                    for c in clips
                ],
                "frames_per_shot": stats.per_clip_frames,
                "compute": run.compute(start),
                "brief_version": brief_ref.version,
                "upscaled_frames": stats.upscaled_frames,
                # The video model's licence travels with the pictures it made.
                "licence": clips_manifest.get("licence"),
            },
        )

    reused = build_or_reuse(run, ref, build)
    folder = run.store.path(ref)
    report = inspect_video(folder / FINAL)
    expected_frames = sum(frames_for(c.duration_s, fps) for c in clips)
    bad_format = format_problems(
        report, width=width, height=height, fps=fps, frame_count=expected_frames, frame_tolerance=1
    )
    if not report.faststart:
        bad_format.append("moov atom after the media data (no fast start for web playback)")
    bad_picture = picture_problems(report)
    figures = report.metadata()
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "final": folder / FINAL,
            "play": Playable(folder / FINAL),  # a URL that plays the cut (the review app's)
            "sha256": sha256_file(folder / FINAL),
            "resolution": f"{report.width}x{report.height}",
            "fps": report.fps,
            "frames": report.frame_count,
            "duration_s": report.frame_count / report.fps,
            "files": len(run.store.manifest(ref)["files"]),
            "poster": Picture(folder / POSTER, "poster"),
            "contact_sheet": Picture(folder / CONTACT_SHEET, "contact sheet"),
        },
        checks=[
            Check(
                CHECK_FORMAT,
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
            Check(
                CHECK_PICTURE,
                passed=not bad_picture,
                metadata={
                    "problems": "; ".join(bad_picture) or "none",
                    **{
                        k: figures[k]
                        for k in (
                            "luma_mean",
                            "luma_min",
                            "motion_mean",
                            "longest_black_s",
                            "longest_frozen_s",
                        )
                    },
                },
            ),
        ],
    )


def final_file(folder: Path, manifest: dict[str, Any]) -> Path:
    """The master video a deliverables version recorded."""
    return folder / manifest["final"]


def poster_file(folder: Path, manifest: dict[str, Any]) -> Path:
    """The poster frame a deliverables version recorded."""
    return folder / manifest["poster"]


def deliverable_of(store, client: str, character: str) -> tuple[ArtifactRef, Path]:
    """The current deliverable of a character and its master file."""
    ref = store.current(client, character, ASSET)
    return ref, final_file(store.path(ref), store.manifest(ref))
