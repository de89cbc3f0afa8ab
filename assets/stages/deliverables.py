"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from assets.stages.base import (
    Check,
    Markdown,
    Picture,
    Playable,
    Run,
    StageResult,
    build_or_reuse,
    stage_result,
)
from assets.stages.character_brief import prediction_metadata, read_brief
from assets.stages.video_clips import ASSET as CLIPS
from assets.stages.video_clips import clips_of, scoring_against
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief
from resources.domain.qc import ShotVerdict
from resources.domain.registry import UPSCALERS
from resources.domain.render import X264_PARAMS
from resources.domain.timing import frames_for
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.media.video_io import ENCODER_THREADS
from resources.qc import retakes
from resources.qc.identity import cross_shot
from resources.storage.artifact_store import sha256_file
from resources.upscale.final_cut import CutClip
from resources.upscale.upscaler import Upscaler

ASSET = "deliverables"
CODE_VERSION = "5"  # 4: the H.264 encoder is chosen and recorded; 5: identity QC in the manifest
FINAL = "final.mp4"
POSTER = "poster.jpg"
CONTACT_SHEET = "contact_sheet.png"
CHECK_FORMAT = "deliverable_matches_brief"
CHECK_PICTURE = "deliverable_has_no_black_or_frozen_stretches"
CHECK_CROSS_SHOT = "shots_match_each_other"
CHECKS = (CHECK_FORMAT, CHECK_PICTURE, CHECK_CROSS_SHOT)
BLOCKING = (CHECK_CROSS_SHOT,)  # an inconsistent cut is not reported to the client


class OffModelShots(ValueError):
    """video_clips holds a shot below min_identity that nobody accepted: nothing is cut."""


@dataclass(frozen=True)
class CutPlan:
    """What one deliverables version is cut from and with: the clips, the upscaler, the params."""

    brief: Brief
    brief_ref: ArtifactRef
    clips_ref: ArtifactRef
    clips_manifest: dict[str, Any]
    recorded: list[dict[str, Any]]  # the shots as video_clips recorded them
    verdicts: list[ShotVerdict]
    clips: list[CutClip]
    weights: Path
    record: dict[str, Any]  # the upscaler's model record
    encoder: Any  # EncoderChoice
    params: dict[str, Any]  # what changes the master's bytes: the version's parameters

    @property
    def expected_frames(self) -> int:
        return sum(frames_for(c.duration_s, self.brief.video.fps) for c in self.clips)


def plan_cut(run: Run, upscaler: Upscaler) -> CutPlan:
    """The cut of the current video_clips; refused while an off-model shot is not accepted."""
    brief, brief_ref = read_brief(run)
    clips_ref = run.upstream(CLIPS)
    clips_manifest = run.store.manifest(clips_ref)
    recorded = clips_of(run.store.path(clips_ref), clips_manifest)
    # Dagster's blocking check stops this step in the run that scored the shots; a later run of
    # deliverables alone meets the same rule here.
    verdicts = retakes.verdicts(run, brief, brief_ref, clips_manifest)
    failing = [v for v in verdicts if not v.passed]
    if failing:
        raise OffModelShots("; ".join(v.message(run.client, run.character) for v in failing))
    width, height = brief.deliverable.resolution
    entry = UPSCALERS[brief.deliverable.upscaler]
    weights = run.models.upscaler_file(entry.name)
    encoder = upscaler.encoder_for(run.device)
    params = {
        "width": width,
        "height": height,
        "fps": brief.video.fps,
        "fit": brief.deliverable.fit,
        "crf": brief.deliverable.crf,
        # Tiles change the last bit of a few pixels: part of what made the file.
        **upscaler.encoding(),
        # NVENC and libx264 write different bytes: the encoder is part of the version.
        "encoder": encoder.codec,
        "encoder_threads": ENCODER_THREADS,  # libx264's bytes depend on its thread count
        "x264_params": X264_PARAMS if encoder.codec == "libx264" else None,
    }
    return CutPlan(
        brief,
        brief_ref,
        clips_ref,
        clips_manifest,
        recorded,
        verdicts,
        # The shots and their lengths as video_clips recorded them: the cut follows its input.
        [CutClip(s["id"], s["path"], float(s["duration_s"])) for s in recorded],
        weights,
        run.models.record(entry.name, entry.filename, entry.source, weights),
        encoder,
        params,
    )


def cut_deliverable(run: Run, upscaler: Upscaler) -> StageResult:
    """The final cut at the brief's resolution and fps, with poster and contact sheet."""
    start = time.perf_counter()
    plan = plan_cut(run, upscaler)
    payload = {"clips": plan.clips_ref.version, "params": plan.params, "model": plan.record}
    ref = run.ref(ASSET, {**payload, "code": CODE_VERSION})
    width, height = plan.brief.deliverable.resolution
    # The master at CRF <= 23 stays under a tenth of raw; poster and contact sheet are small.
    needs = plan.expected_frames * width * height * 3 // 10 + 2 * width * height * 3
    reused = build_or_reuse(
        run, ref, lambda stage: _build_master(run, upscaler, plan, stage, start), needs_bytes=needs
    )
    folder = run.store.path(ref)
    manifest = run.store.manifest(ref)
    report = inspect_video(folder / FINAL)
    cross = manifest.get("qc", {}).get("cross_shot", {"pairs": [], "min": {}})
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
            "files": len(manifest["files"]),
            "poster": Picture(folder / POSTER, "poster"),
            "encoder": "{codec} ({reason})".format(**manifest["encoder"]),
            **prediction_metadata(run, ("deliverable",), manifest),
            "contact_sheet": Picture(folder / CONTACT_SHEET, "contact sheet"),
            "cross_shot": cross_shot_table(cross),
        },
        checks=_master_checks(plan, report, cross),
    )


def _build_master(run: Run, upscaler: Upscaler, plan: CutPlan, stage: Path, start: float):
    """Upscale and cut every clip into the master, sample it for QC; the manifest's fields."""
    brief, clips = plan.brief, plan.clips
    width, height = brief.deliverable.resolution
    stats = upscaler.cut(
        plan.weights,
        clips,
        stage / FINAL,
        width=width,
        height=height,
        fps=brief.video.fps,
        fit=brief.deliverable.fit,
        crf=brief.deliverable.crf,
        device=run.device,
        log=run.log,
        stop=run.stop,
    )
    scoring = scoring_against(run, plan.clips_manifest["qc"]["reference_images"])
    sampled = scoring.scorer.sample_segments(
        stage / FINAL, [(c.id, stats.per_clip_frames[c.id]) for c in clips]
    )
    samples = [Image.fromarray(f) for f in stats.samples]
    samples[len(samples) // 2].save(stage / POSTER, quality=90)
    contact_sheet(samples, stage / CONTACT_SHEET, labels=[c.id for c in clips])
    frames = stats.per_clip_frames
    return dict(
        code_version=CODE_VERSION,
        inputs={"video_clips": plan.clips_ref.version},
        parameters=plan.params,
        models=[plan.record, *scoring.records],
        timings={"wall_s": time.perf_counter() - start},
        extra={
            # What the report, the CLI and the review read, by name.
            "final": FINAL,
            "poster": POSTER,
            "shots": [
                {"id": c.id, "duration_s": c.duration_s, "frames": frames[c.id]} for c in clips
            ],
            "frames_per_shot": frames,
            "compute": run.compute(start),
            "brief_version": plan.brief_ref.version,
            "upscaled_frames": stats.upscaled_frames,
            "encoder": {"codec": plan.encoder.codec, "reason": plan.encoder.reason},
            "qc": _master_qc(plan, cross_shot(sampled), scoring.records),
            # The video model's licence travels with the pictures it made.
            "licence": plan.clips_manifest.get("licence"),
        },
    )


def _master_qc(plan: CutPlan, cross: dict[str, Any], scorers: list) -> dict[str, Any]:
    """The character, measured: each shot's identity as video_clips scored it, who accepted a
    shot below the threshold and when, and the cut's cross-shot scores."""
    return {
        "primary": retakes.PRIMARY,
        "min_identity": plan.clips_manifest.get("qc", {}).get("min_identity"),
        "shots": [
            {
                "id": s["id"],
                "identity": s.get("identity"),
                "subject_consistency": s.get("subject_consistency"),
                "attempt": s.get("attempt"),
                "attempts": len(s.get("attempts", [])),
                "lora_gain": s.get("lora_gain"),
                **_accepted(plan.verdicts, s["id"]),
            }
            for s in plan.recorded
        ],
        "cross_shot": cross,
        "scorers": scorers,
    }


def _master_checks(plan: CutPlan, report, cross: dict[str, Any]) -> list[Check]:
    """Format, picture and cross-shot checks of the master."""
    brief = plan.brief
    width, height = brief.deliverable.resolution
    fps, expected_frames = brief.video.fps, plan.expected_frames
    bad_format = format_problems(
        report, width=width, height=height, fps=fps, frame_count=expected_frames, frame_tolerance=1
    )
    if not report.faststart:
        bad_format.append("moov atom after the media data (no fast start for web playback)")
    bad_picture = picture_problems(report)
    figures = report.metadata()
    lowest = float(cross["min"].get(retakes.PRIMARY, 1.0))
    worst = min(cross["pairs"], key=lambda p: p["scores"][retakes.PRIMARY], default=None)
    cross_ok = lowest >= brief.qc.min_cross_shot
    picture_figures = (
        "luma_mean",
        "luma_min",
        "motion_mean",
        "longest_black_s",
        "longest_frozen_s",
    )
    return [
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
                **{k: figures[k] for k in picture_figures},
            },
        ),
        Check(
            CHECK_CROSS_SHOT,
            passed=cross_ok,
            description=(
                f"lowest cross-shot consistency {lowest:.3f} >= {brief.qc.min_cross_shot:.3f}"
                if cross_ok
                else f"shots {' and '.join(worst['shots'])} disagree: cross-shot "
                f"consistency {lowest:.3f} < qc.min_cross_shot {brief.qc.min_cross_shot:.3f}"
            ),
            metadata={
                "pairs": cross_shot_table(cross),
                "min_cross_shot": brief.qc.min_cross_shot,
                "lowest": lowest,
            },
        ),
    ]


def _accepted(verdicts, shot: str) -> dict[str, Any]:
    found = next((v for v in verdicts if v.shot == shot), None)
    if found is None or found.on_model or found.accepted_by is None:
        return {}
    return {"accepted_by": found.accepted_by, "accepted_at": found.accepted_at}


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


def cross_shot_table(result: dict[str, Any]) -> Markdown:
    rows = ["| shots | DINOv2 | CLIP |", "|---|---|---|"]
    primary = retakes.PRIMARY
    for pair in result["pairs"]:
        scores = pair["scores"]
        other = next((v for k, v in scores.items() if k != primary), float("nan"))
        rows.append(f"| {' / '.join(pair['shots'])} | {scores[primary]:.3f} | {other:.3f} |")
    if not result["pairs"]:
        rows.append("| (one shot) | 1.000 | 1.000 |")
    return Markdown("\n".join(rows))
