"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
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
from assets.stages.character_brief import (
    logo_file_of,
    music_file_of,
    prediction_metadata,
    read_brief,
)
from assets.stages.narration import line_file, narration_of
from assets.stages.video_clips import ASSET as CLIPS
from assets.stages.video_clips import clips_of, scoring_against
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief
from resources.domain.formats import DeliveryFormat, delivery_formats
from resources.domain.licence_check import with_licence
from resources.domain.qc import ShotVerdict
from resources.domain.registry import ACE_STEP, UPSCALERS
from resources.domain.render import X264_PARAMS
from resources.domain.sound_files import write_wav
from resources.domain.timing import frames_for
from resources.media.burn_in import FONT_PACKAGE, Burner, font_file, undrawable_lines
from resources.media.cards import frame_overlay, logo_layer, render_card
from resources.media.contact_sheet import contact_sheet
from resources.media.reframe import ShotFraming, frame_shot
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.media.video_io import ENCODER_THREADS
from resources.qc import retakes
from resources.qc.identity import cross_shot
from resources.sound.master import TRUE_PEAK_MAX
from resources.sound.soundtrack import add_soundtrack, place_lines, subtitle_cues, write_subtitles
from resources.storage.artifact_store import sha256_file
from resources.storage.publish import publish
from resources.upscale.final_cut import CutClip, OtherFormat
from resources.upscale.upscaler import Upscaler
from resources.video.generator import SHOT_AUDIO

ASSET = "deliverables"
CODE_VERSION = "5"  # 4: the H.264 encoder is chosen and recorded; 5: identity QC in the manifest
SOUND_CODE_VERSION = "1"  # a master with sound: the mix, loudness and subtitles code
BURN_IN_CODE_VERSION = "1"  # subtitles drawn into the frames: layout, size, outline
REFRAME_CODE_VERSION = "1"  # the crop windows of formats other than the resolution's
CARDS_CODE_VERSION = "1"  # title and end cards, the logo: layout, size, blending
TITLE_CARD, END_CARD = "title_card", "end_card"  # never a shot id (shot ids take no "_")
PICTURE = ".picture.partial.mp4"  # the cut before its soundtrack is added (removed before publish)
FINAL = "final.mp4"
POSTER = "poster.jpg"
MUSIC_UNITS = "music"  # <client>/<character>/music/<version>/: one generated bed each
MUSIC_WAV = "music.wav"
MUSIC_CODE_VERSION = "1"
CONTACT_SHEET = "contact_sheet.png"
CHECK_FORMAT = "deliverable_matches_brief"
CHECK_PICTURE = "deliverable_has_no_black_or_frozen_stretches"
CHECK_CROSS_SHOT = "shots_match_each_other"
CHECK_LOUDNESS = "master_meets_loudness_target"
CHECKS = (CHECK_FORMAT, CHECK_PICTURE, CHECK_CROSS_SHOT, CHECK_LOUDNESS)
# An inconsistent cut, or a master off its loudness target, is not reported to the client.
BLOCKING = (CHECK_CROSS_SHOT, CHECK_LOUDNESS)
LOUDNESS_TOLERANCE_LU = 1.0


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
    sound: dict[str, Any] | None = None  # the soundtrack's inputs, when the brief has sound
    logo: Path | None = None  # the client's logo in the brief snapshot

    @property
    def sequence(self) -> list[CutClip]:
        """What the cut shows in order: the title card, the shots, the end card."""
        found = list(self.clips)
        deliverable = self.brief.deliverable
        for name, card in ((TITLE_CARD, deliverable.title_card), (END_CARD, deliverable.end_card)):
            if card is not None:
                draw = partial(render_card, card.text, card.background)
                clip = CutClip(name, None, card.duration_s, card=draw)
                found = [clip, *found] if name == TITLE_CARD else [*found, clip]
        return found

    @property
    def formats(self) -> list[DeliveryFormat]:
        """Every format this version is cut in, the primary (final.mp4) first."""
        return delivery_formats(self.brief.deliverable.resolution, self.brief.deliverable.formats)

    def reframed(self, fmt: DeliveryFormat) -> bool:
        """Whether `fmt` is cut to crop windows (its size is not the brief's resolution, which
        keeps the brief's `fit`)."""
        return (fmt.width, fmt.height) != tuple(self.brief.deliverable.resolution)

    @property
    def expected_frames(self) -> int:
        return sum(frames_for(c.duration_s, self.brief.video.fps) for c in self.sequence)


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
    if brief.deliverable.formats:  # a brief without formats keeps its version and bytes
        formats = delivery_formats(brief.deliverable.resolution, brief.deliverable.formats)
        params["formats"] = [f.record() for f in formats]
        params["reframe"] = REFRAME_CODE_VERSION
    logo = logo_file_of(run.store.path(brief_ref)) if brief.deliverable.logo else None
    branding = _branding_params(brief, logo)
    if branding:  # a brief without cards or logo keeps its version and bytes
        snapshot = run.store.manifest(brief_ref)["parameters"].get("branding", {})
        if "profile_sha256" in snapshot:  # the client profile these came from
            branding["profile_sha256"] = snapshot["profile_sha256"]
        params["branding"] = branding
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
        sound_plan(run, brief, brief_ref, recorded),
        logo,
    )


def _branding_params(brief: Brief, logo: Path | None) -> dict[str, Any]:
    """What changes the cards' and logo's pixels: their fields, the logo's and font's bytes."""
    deliverable = brief.deliverable
    found: dict[str, Any] = {
        name: card.model_dump(mode="json")
        for name in (TITLE_CARD, END_CARD)
        if (card := getattr(deliverable, name)) is not None
    }
    if deliverable.logo is not None:
        found["logo"] = {**deliverable.logo.model_dump(mode="json"), "sha256": sha256_file(logo)}
        found["logo"].pop("file")  # its bytes matter, not where the producer kept it
    if found:
        found["font_sha256"] = sha256_file(font_file())
        found["code"] = CARDS_CODE_VERSION
    return found


def kept_shot_sound(brief: Brief, recorded: list[dict[str, Any]]) -> list[str]:
    """Shots whose generated sound the master mixes: those that have one (LTX-2), are not
    lip-synced (a talking shot's voice is the narration itself) and keep it (`sound`)."""
    keep = {s.id for s in brief.shots if s.sound == "keep"}
    return [
        s["id"]
        for s in recorded
        if s["id"] in keep and not s.get("lip_synced") and (s["path"].parent / SHOT_AUDIO).is_file()
    ]


def sound_plan(
    run: Run, brief: Brief, brief_ref: ArtifactRef, recorded: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """What the master's soundtrack is made of (its part of the version), or None without sound.

    A brief with no line, no music and no shot sound keeps a picture-only master, as before
    sound existed. Generated music is its unit's version (prompt, seed, whole seconds of the
    cut, engine).
    """
    music = music_file_of(run.store.path(brief_ref))
    seconds = sum(float(s["duration_s"]) for s in recorded)
    generated = music_unit(run, brief, seconds) if _generates_music(brief) else None
    own = kept_shot_sound(brief, recorded)
    if not brief.has_lines and music is None and generated is None and not own:
        return None
    narration_ref, manifest = narration_of(run)
    extra = {"music_unit": generated[0].version} if generated else {}
    return {
        **extra,
        "narration": narration_ref.version,
        "lines": [
            {k: line[k] for k in ("id", "unit", "text", "speech_s")} for line in manifest["lines"]
        ],
        "music_sha256": sha256_file(music) if music else None,
        "loudness": brief.audio.loudness,
        "subtitles": brief.subtitles,
        "code": SOUND_CODE_VERSION,
        **({"burn_in": burn_in_version(brief)} if brief.subtitles == "burn_in" else {}),
        # The shots' own sound is in their units, so in the clips' version; which are mixed:
        **({"shot_sound": own} if own else {}),
    }


class UndrawableSubtitle(ValueError):
    """A line to burn in holds a character the subtitle font has no glyph for."""


def burn_in_version(brief: Brief) -> dict[str, Any]:
    """What changes burned-in subtitles' pixels besides the cues: the font file and the code."""
    font = font_file()
    if problems := undrawable_lines(brief):
        raise UndrawableSubtitle(problems[0].line())
    return {
        "font": font.name,
        "font_package": FONT_PACKAGE,
        "font_sha256": sha256_file(font),
        "code": BURN_IN_CODE_VERSION,
    }


def _burner(run: Run, plan: CutPlan, fmt: DeliveryFormat) -> Burner | None:
    """The subtitles to draw into one format's frames (laid out for its width and height),
    timed as the sidecars would be."""
    if plan.sound is None or "burn_in" not in plan.sound or not plan.sound["lines"]:
        return None
    fps, lines = plan.brief.video.fps, plan.sound["lines"]
    frames = [(c.id, frames_for(c.duration_s, fps)) for c in plan.sequence]
    files = {line["id"]: line_file(run, line["unit"]) for line in lines}
    cues = subtitle_cues(lines, place_lines(lines, files, frames, fps))
    return Burner(cues, width=fmt.width, height=fmt.height, fps=fps)


def _overlay(run: Run, plan: CutPlan, fmt: DeliveryFormat):
    """What one format draws on its frames: the client's logo, then its subtitles."""
    burner = _burner(run, plan, fmt)
    logo = plan.brief.deliverable.logo
    layer = None
    if logo is not None:
        layer = logo_layer(plan.logo, logo.corner, logo.opacity, fmt.width, fmt.height)
    return frame_overlay(layer, None if burner is None else burner.frame)


def _framings(run: Run, plan: CutPlan, fmt: DeliveryFormat) -> dict[str, ShotFraming] | None:
    """Each shot's crop windows for `fmt`, following the character (None: fitted whole)."""
    if not plan.reframed(fmt):
        return None
    found = {c.id: frame_shot(c.id, c.path, (fmt.width, fmt.height)) for c in plan.clips}
    run.log(
        f"reframed {fmt.aspect}: "
        + ", ".join(f"{f.shot} {f.mode} ({f.faces}/{f.samples} faces)" for f in found.values())
    )
    return found


def cut_deliverable(run: Run, upscaler: Upscaler) -> StageResult:
    """The final cut at the brief's resolution and fps, with poster and contact sheet."""
    start = time.perf_counter()
    plan = plan_cut(run, upscaler)
    payload = {"clips": plan.clips_ref.version, "params": plan.params, "model": plan.record}
    if plan.sound is not None:
        payload["sound"] = plan.sound
    ref = run.ref(ASSET, {**payload, "code": CODE_VERSION})
    pixels = sum(f.width * f.height for f in plan.formats)
    # The master at CRF <= 23 stays under a tenth of raw; posters and contact sheet are small.
    needs = plan.expected_frames * pixels * 3 // 10 + 2 * pixels * 3
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
            **{
                f"format {f['aspect']}": f"{f['file']} {f['width']}x{f['height']}"
                for f in manifest.get("formats", [])
            },
        },
        checks=[
            *_master_checks(plan, folder, report, cross),
            loudness_check(manifest.get("sound")),
        ],
    )


def loudness_check(sound: dict[str, Any] | None) -> Check:
    """The decoded master within 1 LU of its target, true peak at most -1 dBTP, audio as long
    as the picture within one frame (a master without sound passes: there is nothing to hear)."""
    if sound is None:
        return Check(CHECK_LOUDNESS, passed=True, description="no soundtrack (no line, no music)")
    problems = []
    off = abs(sound["lufs"] - sound["target_lufs"])
    if not off <= LOUDNESS_TOLERANCE_LU:
        problems.append(
            f"integrated loudness {sound['lufs']:.2f} LUFS is {off:.2f} LU from the target "
            f"{sound['target_lufs']:g} (at most {LOUDNESS_TOLERANCE_LU:g})"
        )
    if not sound["true_peak_dbtp"] <= TRUE_PEAK_MAX:
        problems.append(f"true peak {sound['true_peak_dbtp']:.2f} dBTP above {TRUE_PEAK_MAX:g}")
    drift = abs(sound["audio_duration_s"] - sound["picture_duration_s"])
    frame_s = 1 / 24 if not sound.get("fps") else 1 / sound["fps"]
    if drift > frame_s:
        problems.append(f"audio and picture lengths differ by {drift:.3f} s (over one frame)")
    return Check(
        CHECK_LOUDNESS,
        passed=not problems,
        description="; ".join(problems)
        or f"{sound['lufs']:.2f} LUFS (target {sound['target_lufs']:g}), "
        f"true peak {sound['true_peak_dbtp']:.2f} dBTP",
        metadata={
            k: sound[k]
            for k in (
                "lufs",
                "target_lufs",
                "true_peak_dbtp",
                "audio_duration_s",
                "picture_duration_s",
            )
        },
    )


def _build_master(run: Run, upscaler: Upscaler, plan: CutPlan, stage: Path, start: float):
    """Upscale and cut every clip into the master, sample it for QC; the manifest's fields."""
    brief, clips = plan.brief, plan.clips
    primary, *others = plan.formats
    framings = {f.aspect: _framings(run, plan, f) for f in plan.formats}
    overlays = {f.aspect: _overlay(run, plan, f) for f in plan.formats}
    extra = [
        OtherFormat(
            f.aspect, stage / f.file, f.width, f.height, framings[f.aspect], overlays[f.aspect]
        )
        for f in others
    ]
    stats = upscaler.cut(
        plan.weights,
        plan.sequence,
        stage / FINAL,
        width=primary.width,
        height=primary.height,
        fps=brief.video.fps,
        fit=brief.deliverable.fit,
        crf=brief.deliverable.crf,
        device=run.device,
        log=run.log,
        stop=run.stop,
        overlay=overlays[primary.aspect],
        **(
            {"framings": framings[primary.aspect], "extra": extra}
            if brief.deliverable.formats
            else {}
        ),
    )
    segments = [(c.id, stats.per_clip_frames[c.id]) for c in plan.sequence]
    scoring = scoring_against(run, plan.clips_manifest["qc"]["reference_images"])
    sampled = scoring.scorer.sample_segments(stage / FINAL, segments)
    sampled = {k: v for k, v in sampled.items() if k not in (TITLE_CARD, END_CARD)}
    sound = _soundtrack(run, plan, stage, segments)
    samples = [Image.fromarray(f) for f in stats.samples]
    samples[len(samples) // 2].save(stage / POSTER, quality=90)
    for f in others:
        shots = stats.other_samples[f.aspect]
        Image.fromarray(shots[len(shots) // 2]).save(stage / f.poster, quality=90)
    contact_sheet(samples, stage / CONTACT_SHEET, labels=[c.id for c in clips])
    frames = stats.per_clip_frames
    return dict(
        code_version=CODE_VERSION,
        inputs={
            "video_clips": plan.clips_ref.version,
            **({"narration": plan.sound["narration"]} if plan.sound else {}),
        },
        parameters=plan.params,
        models=[
            with_licence(plan.record),
            *map(with_licence, scoring.records),
            *_music_models(run, plan),
        ],
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
            "sound": sound,
            **_formats_record(plan, framings),
            **_cards_record(plan, frames),
        },
    )


def _cards_record(plan: CutPlan, frames: dict[str, int]) -> dict[str, Any]:
    """The cards around the shots (text, background, frames) and the logo, when there are."""
    deliverable, found = plan.brief.deliverable, {}
    for name in (TITLE_CARD, END_CARD):
        if (card := getattr(deliverable, name)) is not None:
            found[name] = {**card.model_dump(mode="json"), "frames": frames[name]}
    if deliverable.logo is not None:
        found["logo"] = plan.params["branding"]["logo"]
    return {"branding": found} if found else {}


def _formats_record(
    plan: CutPlan, framings: dict[str, dict[str, ShotFraming] | None]
) -> dict[str, Any]:
    """What the review app, the package and the client read of a version's formats: each
    file and poster, and per shot where a reframed format's crop window went."""
    if not plan.brief.deliverable.formats:
        return {}
    return {
        "formats": [
            {
                **f.record(),
                "framing": None
                if framings[f.aspect] is None
                else [framing.record() for framing in framings[f.aspect].values()],
            }
            for f in plan.formats
        ]
    }


def _soundtrack(run: Run, plan: CutPlan, stage: Path, frames: list) -> dict[str, Any] | None:
    """Add the lines and music to the cut in `stage`; its figures and subtitles (None: silent)."""
    if plan.sound is None:
        return None
    (stage / FINAL).rename(stage / PICTURE)
    others = {stage / f".{f.tag}{PICTURE}": stage / f.file for f in plan.formats[1:]}
    for picture, out in others.items():
        out.rename(picture)
    lines = plan.sound["lines"]
    sound = add_soundtrack(
        stage / PICTURE,
        stage / FINAL,
        lines=lines,
        line_files={line["id"]: line_file(run, line["unit"]) for line in lines},
        music=_music_of(run, plan),
        frames=frames,
        fps=plan.brief.video.fps,
        target_lufs=plan.sound["loudness"],
        shot_sound={
            s["id"]: s["path"].parent / SHOT_AUDIO
            for s in plan.recorded
            if s["id"] in plan.sound.get("shot_sound", [])
        },
        also=others,
    )
    (stage / PICTURE).unlink()
    for picture in others:
        picture.unlink()
    sound["music"] = _music_record(plan)
    # Talking shots (LTX-2): their picture was generated to their line; the others' lines are
    # voice-over. The client report says which.
    sound["lip_synced"] = [s["id"] for s in plan.recorded if s.get("lip_synced")]
    sound["sync"] = {
        s["id"]: {k: s["sync"][k] for k in ("verdict", "lag_frames", "correlation", "reason")}
        for s in plan.recorded
        if s.get("sync")
    }
    if plan.sound["subtitles"] == "sidecar" and lines:
        sound["subtitles"] = write_subtitles(stage, lines, sound["lines"])
    elif plan.sound["subtitles"] == "burn_in" and lines:
        cues = subtitle_cues(lines, sound["lines"])
        sound["burned_in"] = {**plan.sound["burn_in"], "cues": len(cues)}
    run.log(
        f"soundtrack: {sound['lufs']:.1f} LUFS (target {sound['target_lufs']:g}), true peak "
        f"{sound['true_peak_dbtp']:.1f} dBTP, {len(lines)} line(s)"
    )
    return sound


def _music_models(run: Run, plan: CutPlan) -> list[dict[str, Any]]:
    """The music engine, with its licence, when the master's music was generated."""
    if plan.sound is None or "music_unit" not in plan.sound:
        return []
    _, payload = music_unit(run, plan.brief, sum(c.duration_s for c in plan.clips))
    return [with_licence(payload["engine"])]


def _music_record(plan: CutPlan) -> dict[str, Any] | None:
    """What the master's music is and under which terms (None: no music)."""
    music = plan.brief.audio.music
    if music is None:
        return None
    if music.prompt is None:
        return {"sha256": plan.sound["music_sha256"], "licence": music.licence}
    return {
        "unit": plan.sound["music_unit"],
        "prompt": music.prompt,
        "model": ACE_STEP.name,
        "licence": ACE_STEP.licence,
        "commercial_use": ACE_STEP.commercial_use,
        "output_terms": ACE_STEP.output_terms,
    }


def _generates_music(brief: Brief) -> bool:
    return brief.audio.music is not None and brief.audio.music.prompt is not None


def music_unit(run: Run, brief: Brief, seconds: float) -> tuple[ArtifactRef, dict[str, Any]]:
    """The generated music's unit: its prompt and seed, the cut's length in whole seconds (the
    bed is trimmed to the cut like a producer's track) and the engine's weights."""
    entry = ACE_STEP
    folder = run.models.music_model_dir(entry)
    record = run.models.record(entry.name, entry.repo_id, entry.revision, folder)
    payload = {
        "prompt": brief.audio.music.prompt,
        "seed": brief.audio.music.seed or 0,
        "seconds": max(1, math.ceil(seconds - 1e-6)),
        "engine": {k: record[k] for k in ("name", "id", "revision", "sha256")},
        "code": MUSIC_CODE_VERSION,
    }
    return run.ref(MUSIC_UNITS, payload), payload


def _music_of(run: Run, plan: CutPlan) -> Path | None:
    """The music under this cut: the producer's file, or the generated unit's (made if new)."""
    if "music_unit" not in plan.sound:
        return music_file_of(run.store.path(plan.brief_ref))
    seconds = sum(c.duration_s for c in plan.clips)
    unit, payload = music_unit(run, plan.brief, seconds)

    def build(folders: dict[ArtifactRef, Path]) -> dict[ArtifactRef, dict[str, Any]]:
        from resources.sound.music import compose

        folder = run.models.music_model_dir(ACE_STEP)
        samples, rate = compose(
            ACE_STEP, folder, payload["prompt"], payload["seconds"], payload["seed"], run.device
        )
        write_wav(folders[unit] / MUSIC_WAV, samples, rate)
        return {
            unit: dict(
                code_version=MUSIC_CODE_VERSION,
                inputs={},
                parameters=payload,
                models=[with_licence(payload["engine"])],
                extra={
                    "rate": rate,
                    "licence": {
                        "licence": ACE_STEP.licence,
                        "commercial_use": ACE_STEP.commercial_use,
                        "output_terms": ACE_STEP.output_terms,
                        "open_questions": list(ACE_STEP.open_questions),
                    },
                },
            )
        }

    publish(run.store, [unit], build, log=run.log)
    return run.store.path(unit) / MUSIC_WAV


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
                # Where the identity came from: the LoRA, the reference still, or both.
                "identity_from": s.get("identity_from") or "lora",
                "still": (s.get("still") or {}).get("file"),
                **_accepted(plan.verdicts, s["id"]),
            }
            for s in plan.recorded
        ],
        "cross_shot": cross,
        "scorers": scorers,
    }


def _format_problems(plan: CutPlan, fmt: DeliveryFormat, report) -> list[str]:
    """What is wrong with one format's file against the brief (size, fps, frames, fast start)."""
    found = format_problems(
        report,
        width=fmt.width,
        height=fmt.height,
        fps=plan.brief.video.fps,
        frame_count=plan.expected_frames,
        frame_tolerance=1,
    )
    if not report.faststart:
        found.append("moov atom after the media data (no fast start for web playback)")
    return found


def _master_checks(plan: CutPlan, folder: Path, report, cross: dict[str, Any]) -> list[Check]:
    """Format (of every format's file), picture and cross-shot checks of the master."""
    brief = plan.brief
    primary, *others = plan.formats
    width, height = primary.width, primary.height
    fps, expected_frames = brief.video.fps, plan.expected_frames
    bad_format = _format_problems(plan, primary, report)
    for fmt in others:
        found = _format_problems(plan, fmt, inspect_video(folder / fmt.file))
        bad_format += [f"{fmt.file}: {problem}" for problem in found]
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
