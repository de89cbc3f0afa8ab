"""narration: each shot's line spoken in the character's voice, one content-addressed unit a line.

A line's unit (`lines/<version>/line.wav`) hashes exactly what its samples depend on: the text,
the language, the voice (the sample's sha256, or the preset), the engine (id, revision, weights'
sha256), the seed and the code version. Editing one line synthesizes one line; the others are
reused byte for byte. A narration version lists its lines' units and their measured lengths;
video_clips times a shot without `duration_s` from them, deliverables places them in the mix.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from assets.stages.base import Markdown, Run, StageResult, build_or_reuse, stage_result
from assets.stages.character_brief import ASSET as BRIEF
from assets.stages.character_brief import read_brief, voice_sample_of
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief
from resources.domain.registry import DEFAULT_VOICE_MODEL, VOICE_MODELS
from resources.domain.sound_files import write_wav
from resources.storage.artifact_store import sha256_file
from resources.storage.publish import publish

ASSET = "narration"
CODE_VERSION = "1"
LINE_UNITS = "lines"  # <client>/<character>/lines/<version>/: one spoken line each
LINE_CODE_VERSION = "1"
LINE_WAV = "line.wav"
CHECKS: tuple[str, ...] = ()


def voice_of(run: Run, brief: Brief, brief_ref: ArtifactRef) -> dict[str, Any]:
    """What the voice of every line is: the sample's sha256, or the engine's preset."""
    voice = brief.character.voice
    if voice is None or voice.preset is not None:
        return {"preset": voice.preset if voice else "default"}
    sample = voice_sample_of(run.store.path(brief_ref))
    return {"sample_sha256": sha256_file(sample), "transcript": voice.transcript}


def line_units(
    run: Run, brief: Brief, voice: dict[str, Any], engine: dict[str, Any]
) -> dict[str, tuple[ArtifactRef, dict[str, Any]]]:
    """Each line's unit and the payload it hashes, by shot id (shots without a line: none)."""
    units = {}
    for shot in brief.shots:
        if shot.line is None:
            continue
        payload = {
            "text": shot.line,
            "language": brief.audio.language,
            "voice": voice,
            "engine": {k: engine[k] for k in ("name", "id", "revision", "sha256")},
            "seed": shot.seed,
            "code": LINE_CODE_VERSION,
        }
        units[shot.id] = (run.ref(LINE_UNITS, payload), payload)
    return units


def speak_lines(run: Run) -> StageResult:
    """Synthesize every line that has no unit yet; record each line's unit and length."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    entry = VOICE_MODELS[DEFAULT_VOICE_MODEL]
    engine: dict[str, Any] = {"name": entry.name, "id": None, "revision": None, "sha256": None}
    folder = None
    if brief.has_lines:
        folder = run.models.voice_model_dir(entry)
        engine = run.models.record(entry.name, entry.repo_id, entry.revision, folder)
    voice = voice_of(run, brief, brief_ref)
    units = line_units(run, brief, voice, engine)
    built = _publish_lines(run, entry, folder, units)
    lines = []
    for shot_id, (unit, payload) in units.items():
        manifest = run.store.manifest(unit)
        lines.append(
            {
                "id": shot_id,
                "unit": unit.version,
                "text": payload["text"],
                "speech_s": manifest["speech_s"],
                "rate": manifest["rate"],
                "synthesized": unit in built,
            }
        )
    ref = run.ref(
        ASSET, {"lines": [[line["id"], line["unit"]] for line in lines], "code": CODE_VERSION}
    )
    reused = build_or_reuse(
        run,
        ref,
        lambda stage: dict(
            code_version=CODE_VERSION,
            inputs={BRIEF: brief_ref.version},
            parameters={"language": brief.audio.language, "voice": voice},
            models=[engine] if folder is not None else [],
            timings={"wall_s": time.perf_counter() - start},
            extra={
                "lines": lines,
                "licence": {
                    "engine": entry.name,
                    "licence": entry.licence,
                    "terms": entry.licence_terms,
                },
                "compute": run.compute(start),
            },
        ),
    )
    table = "\n".join(
        f"| {line['id']} | {line['speech_s']:.2f} | {line['text']} |" for line in lines
    )
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "lines": len(lines),
            "synthesized": sum(1 for line in lines if line["synthesized"]),
            "voice_engine": entry.name,
            "line_list": Markdown("| shot | speech s | line |\n|---|---|---|\n" + table),
        },
    )


def _publish_lines(run: Run, entry, folder: Path | None, units) -> list[ArtifactRef]:
    """Synthesize the lines without a reusable unit through the publish protocol."""
    refs = [unit for unit, _ in units.values()]
    payloads = {unit: payload for unit, payload in units.values()}
    if not refs:
        return []

    def build(folders: dict[ArtifactRef, Path]) -> dict[ArtifactRef, dict[str, Any]]:
        from resources.sound.voice import VoiceEngine

        engine = VoiceEngine.load(entry, folder, run.device)
        fields = {}
        for ref, stage in folders.items():
            payload = payloads[ref]
            samples = engine.speak(payload["text"], payload["seed"])
            write_wav(stage / LINE_WAV, samples, engine.rate)
            run.log(f"line {ref.version[:12]}: {len(samples) / engine.rate:.2f} s spoken")
            fields[ref] = dict(
                code_version=LINE_CODE_VERSION,
                inputs={},
                parameters=payload,
                extra={"speech_s": round(len(samples) / engine.rate, 4), "rate": engine.rate},
            )
        return fields

    return publish(run.store, refs, build, log=run.log)


def narration_of(run: Run) -> tuple[ArtifactRef, dict[str, Any]]:
    """This partition's current narration version and its manifest."""
    ref = run.upstream(ASSET)
    return ref, run.store.manifest(ref)


def line_file(run: Run, unit_version: str) -> Path:
    """The spoken line of unit `unit_version`."""
    return (
        run.store.path(ArtifactRef(run.client, run.character, LINE_UNITS, unit_version)) / LINE_WAV
    )


def timed_brief(run: Run, brief: Brief) -> Brief:
    """`brief` with each shot timed by its line given its narration's measured length."""
    if all(s.duration_s is not None for s in brief.shots):
        return brief
    _, manifest = narration_of(run)
    return brief.timed({line["id"]: float(line["speech_s"]) for line in manifest["lines"]})
