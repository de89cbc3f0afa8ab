"""narration: each shot's line spoken in the character's voice, one content-addressed unit a line.

A line's unit (`lines/<version>/line.wav`) hashes exactly what its samples depend on: the text,
the language, the voice (the sample's sha256, or the preset), the engine (id, revision, weights'
sha256), the seed and the code version. Editing one line synthesizes one line; the others are
reused byte for byte. Each line is then checked like a shot's identity: transcribed (character
error rate against the script) and compared with the voice sample (x-vector cosine); a line
outside `qc.max_cer` / `qc.min_voice` is spoken again with a derived seed, up to
`qc.max_attempts`, and the blocking check `lines_pass_qc` names a line still outside them unless
`qc.accept_lines` accepts it. video_clips times a shot without `duration_s` from the chosen
line's length; deliverables places the lines in the mix.

A stock voice (`character.voice.preset`) has no recording to compare a line with. Its lines are
compared with the preset's reference take instead: a fixed sentence (PRESET_REFERENCE_TEXT) spoken
by the same engine and preset with seed 0, published as a line unit of its own and reused by every
brief of the character that names that preset. The voice score of a preset's line therefore says
whether the line stayed in the preset's voice, not whether it sounds like a person; the manifest
records which reference each score was measured against (`voice_reference`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets.stages.base import Check, Markdown, Run, StageResult, build_or_reuse, stage_result
from assets.stages.character_brief import ASSET as BRIEF
from assets.stages.character_brief import read_brief, voice_sample_of
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief, Shot
from resources.domain.licence_check import licence_entry, with_licence
from resources.domain.qc import attempt_seed
from resources.domain.registry import (
    DEFAULT_PRESET,
    WAVLM_SV,
    WHISPER_ASR,
    VoiceModel,
    voice_model_for,
)
from resources.domain.sound_files import read_wav, write_wav
from resources.domain.speech import LEAD_IN_S, line_limit_s
from resources.qc.acceptance import accepted_lines
from resources.storage.artifact_store import sha256_file
from resources.storage.publish import publish

ASSET = "narration"
CODE_VERSION = "3"  # 3: a preset's lines scored against its reference take
LINE_UNITS = "lines"  # <client>/<character>/lines/<version>/: one spoken line each
LINE_CODE_VERSION = "1"
LINE_WAV = "line.wav"
CHECK_QC = "lines_pass_qc"
CHECK_FIT = "lines_fit_their_shots"
CHECKS = (CHECK_QC, CHECK_FIT)
BLOCKING = (CHECK_QC,)  # a line off its script or off the character's voice stops the cut
# What a preset's reference take says, by language, and its seed (module docstring).
PRESET_REFERENCE_TEXT = {"pt-BR": "Olá! Esta é a minha voz, lida sempre da mesma maneira."}
PRESET_REFERENCE_SEED = 0


@dataclass
class LinesRun:
    """What speaking and scoring the lines of one narration version needs."""

    run: Run
    brief: Brief
    voice: dict[str, Any]  # the voice's part of every unit
    entry: VoiceModel
    engine_record: dict[str, Any]
    engine_dir: Path | None
    scorer_dirs: dict[str, Path]
    sample: Path | None  # the voice sample, for the similarity score (and the one cloned)
    engine: Any = None  # the loaded voice engine, once a line needs it

    def speaker(self):
        """The voice engine, loaded (or its worker started) the first time a line is spoken."""
        if self.engine is None:
            from resources.sound.voice import VoiceEngine

            python = self.run.models.voice_interpreter()
            self.engine = VoiceEngine.load(self.entry, self.engine_dir, self.run.device, python)
        return self.engine


def voice_of(run: Run, brief: Brief, brief_ref: ArtifactRef) -> tuple[dict[str, Any], Path | None]:
    """The voice of every line (the sample's sha256, or the preset) and the sample file."""
    voice = brief.character.voice
    if voice is None or voice.preset is not None:
        return {"preset": voice.preset if voice else DEFAULT_PRESET}, None
    sample = voice_sample_of(run.store.path(brief_ref))
    return {"sample_sha256": sha256_file(sample), "transcript": voice.transcript}, sample


def line_seed(shot: Shot) -> int:
    """The seed a shot's line is spoken with: its own when re-rolled alone, else the shot's."""
    return shot.seed if shot.voice_seed is None else shot.voice_seed


def line_unit(ex: LinesRun, shot: Shot, attempt: int) -> tuple[ArtifactRef, dict[str, Any]]:
    """Attempt `attempt` (0-based) of a shot's line: its unit and the payload it hashes."""
    text = ex.brief.spoken(shot)
    return _unit(ex, text, attempt_seed(line_seed(shot), attempt), shot.duration_s)


def reference_unit(ex: LinesRun) -> tuple[ArtifactRef, dict[str, Any]]:
    """The preset's reference take: its unit and the payload it hashes (module docstring)."""
    text = PRESET_REFERENCE_TEXT[ex.brief.audio.language]
    return _unit(ex, text, PRESET_REFERENCE_SEED, None)


def _unit(
    ex: LinesRun, text: str, seed: int, duration_s: float | None
) -> tuple[ArtifactRef, dict[str, Any]]:
    language = ex.brief.audio.language
    payload = {
        "text": text,
        "language": language,
        "voice": ex.voice,
        "engine": {k: ex.engine_record[k] for k in ("name", "id", "revision", "sha256")},
        "seed": seed,
        "code": LINE_CODE_VERSION,
        # The engine samples its own end: the limit shapes the samples.
        "limit_s": round(line_limit_s(text, language, duration_s), 4),
    }
    return ex.run.ref(LINE_UNITS, payload), payload


def speak_lines(run: Run) -> StageResult:
    """Speak and score every line; reuse each unchanged line's unit; record the chosen takes."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    voice, sample = voice_of(run, brief, brief_ref)
    entry = voice_model_for(sample is not None)
    record: dict[str, Any] = {"name": entry.name, "id": None, "revision": None, "sha256": None}
    engine_dir, scorer_dirs, scorer_records = None, {}, []
    if brief.has_lines:
        engine_dir = run.models.voice_model_dir(entry)
        record = run.models.record(entry.name, entry.repo_id, entry.revision, engine_dir)
        for model in (WHISPER_ASR, WAVLM_SV):
            scorer_dirs[model.name] = run.models.speech_check_dir(model)
            found = run.models.record(
                model.name, model.repo_id, model.revision, scorer_dirs[model.name]
            )
            scorer_records.append(with_licence(found))
    ex = LinesRun(run, brief, voice, entry, record, engine_dir, scorer_dirs, sample)
    spoken = [s for s in brief.shots if s.line is not None]
    qc = brief.qc
    ref = run.ref(
        ASSET,
        {
            "lines": [[s.id, line_unit(ex, s, 0)[0].version] for s in spoken],
            "qc": {"max_cer": qc.max_cer, "min_voice": qc.min_voice, "attempts": qc.max_attempts},
            "scorers": [r["sha256"] for r in scorer_records],
            "code": CODE_VERSION,
        },
    )

    def build(stage: Path) -> dict[str, Any]:
        try:
            lines, voice_reference = _speak_and_score(ex, spoken)
        finally:
            if ex.engine is not None:
                ex.engine.close()
        return dict(
            code_version=CODE_VERSION,
            inputs={BRIEF: brief_ref.version},
            parameters={"language": brief.audio.language, "voice": voice, "qc": qc.model_dump()},
            models=([with_licence(record)] if engine_dir else []) + scorer_records,
            timings={"wall_s": time.perf_counter() - start},
            extra={
                "lines": lines,
                "voice_reference": voice_reference,
                "licence": {
                    "engine": entry.name,
                    "licence": entry.licence,
                    # Whether the engine's licence allows paid work, as its model's record says
                    # (without it the lineage read "paid work: unknown" beside "allowed").
                    "paid_work": licence_entry(entry.name)["paid_work"],
                    "terms": entry.licence_terms,
                },
                "compute": run.compute(start),
            },
        )

    reused = build_or_reuse(run, ref, build)
    manifest = run.store.manifest(ref)
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata=_metadata(manifest["lines"], entry.name),
        checks=[
            lines_check(
                brief,
                manifest["lines"],
                accepted_lines(run.store, run.client, run.character, manifest["lines"]),
            ),
            fit_check(brief, manifest["lines"]),
        ],
    )


def _voice_reference(ex: LinesRun, scorer) -> tuple[Any, dict[str, Any]]:
    """The embedding every line's voice is compared with, and what it was measured from: the
    recorded sample, or the preset's reference take (spoken now unless its unit exists)."""
    if ex.sample is not None:
        audio = read_wav(ex.sample)
        record = {"kind": "sample", "sample_sha256": ex.voice["sample_sha256"]}
    else:
        unit, payload = reference_unit(ex)
        _publish_line(ex, unit, payload)
        audio = read_wav(ex.run.store.path(unit) / LINE_WAV)
        record = {
            "kind": "preset_reference",
            "preset": ex.voice["preset"],
            "unit": unit.version,
            "text": payload["text"],
            "seed": payload["seed"],
        }
    return scorer.embedding(audio.mono(), audio.rate), record


def _speak_and_score(
    ex: LinesRun, spoken: list[Shot]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Each line's attempts until one passes (or none is left); the chosen take of each line,
    and what the voice scores were measured against."""
    from resources.qc.narration import NarrationScorer

    scorer = (
        NarrationScorer.load(
            WHISPER_ASR,
            ex.scorer_dirs.get(WHISPER_ASR.name),
            WAVLM_SV,
            ex.scorer_dirs.get(WAVLM_SV.name),
            ex.run.device,
        )
        if spoken
        else None
    )
    reference, reference_record = (None, None)
    if scorer is not None:
        reference, reference_record = _voice_reference(ex, scorer)
    qc, lines = ex.brief.qc, []
    for shot in spoken:
        attempts = []
        for attempt in range(qc.max_attempts):
            unit, payload = line_unit(ex, shot, attempt)
            built = _publish_line(ex, unit, payload)
            audio = read_wav(ex.run.store.path(unit) / LINE_WAV)
            scores = scorer.score(
                audio.mono(), audio.rate, payload["text"], payload["language"], reference
            )
            passed = qc.line_passes(scores["cer"], scores["voice"])
            attempts.append(
                {
                    "unit": unit.version,
                    "seed": payload["seed"],
                    "synthesized": built,
                    "speech_s": round(audio.seconds, 4),
                    "rate": audio.rate,
                    "passed": passed,
                    **scores,
                }
            )
            ex.run.log(
                f"line {shot.id} attempt {attempt + 1}: CER {scores['cer']:.3f}, "
                f"voice {scores['voice']}, {'pass' if passed else 'outside the limits'}"
            )
            if passed:
                break
        best = next((a for a in attempts if a["passed"]), None) or min(
            attempts, key=lambda a: (a["cer"], -(a["voice"] if a["voice"] is not None else 1))
        )
        lines.append(
            {
                "id": shot.id,
                "text": shot.line,
                "said": ex.brief.spoken(shot),
                "attempt": attempts.index(best),
                **{
                    k: best[k]
                    for k in ("unit", "speech_s", "rate", "cer", "voice", "transcript", "passed")
                },
                "synthesized": any(a["synthesized"] for a in attempts),
                "attempts": attempts,
            }
        )
    return lines, reference_record


def _publish_line(ex: LinesRun, unit: ArtifactRef, payload: dict[str, Any]) -> bool:
    """Speak one line into its unit through the publish protocol; True when it was spoken now."""

    def build(folders: dict[ArtifactRef, Path]) -> dict[ArtifactRef, dict[str, Any]]:
        from resources.sound.voice import Reference

        engine = ex.speaker()
        reference = Reference(ex.sample, ex.brief.character.voice.transcript) if ex.sample else None
        samples = engine.speak(
            payload["text"],
            payload["seed"],
            language=payload["language"],
            reference=reference,
            limit_s=payload["limit_s"],
            preset=ex.voice.get("preset", ""),
        )
        write_wav(folders[unit] / LINE_WAV, samples, engine.rate)
        seconds = round(len(samples) / engine.rate, 4)
        return {
            unit: dict(
                code_version=LINE_CODE_VERSION,
                inputs={},
                parameters=payload,
                extra={"speech_s": seconds, "rate": engine.rate},
            )
        }

    return bool(publish(ex.run.store, [unit], build, log=ex.run.log))


def lines_check(
    brief: Brief, lines: list[dict[str, Any]], recorded: set[str] | None = None
) -> Check:
    """Blocking: every line inside max_cer and min_voice, or accepted (brief or record)."""
    qc = brief.qc
    accepting = set(qc.accept_lines) | (recorded or set())
    failing = [line for line in lines if not line["passed"] and line["id"] not in accepting]
    limits = f"qc.max_cer {qc.max_cer}, qc.min_voice {qc.min_voice:g}"
    problems = [
        f"line {line['id']!r}: CER {line['cer']:.3f}, voice {line['voice']} after "
        f"{len(line['attempts'])} attempt(s), outside {limits}"
        for line in failing
    ]
    accepted = [line["id"] for line in lines if not line["passed"] and line["id"] in accepting]
    return Check(
        CHECK_QC,
        passed=not failing,
        description="; ".join(problems)
        or (
            f"every line inside {limits}"
            + (f" (accepted: {', '.join(accepted)})" if accepted else "")
        ),
        metadata={"lines": len(lines), "failing": len(failing), "accepted": ", ".join(accepted)},
    )


def fit_check(brief: Brief, lines: list[dict[str, Any]]) -> Check:
    """Each spoken line, after its lead-in, ends inside its shot's fixed duration (else it runs
    into the next shot). Not blocking: the producer hears it in the cut and decides."""
    fixed = {s.id: s.duration_s for s in brief.shots if s.duration_s is not None}
    over = [
        f"line {line['id']!r}: {LEAD_IN_S:g} s + {line['speech_s']:.2f} s spoken > the shot's "
        f"{fixed[line['id']]:g} s"
        for line in lines
        if line["id"] in fixed and LEAD_IN_S + line["speech_s"] > fixed[line["id"]]
    ]
    return Check(
        CHECK_FIT,
        passed=not over,
        description="; ".join(over) or "every line ends inside its shot",
        metadata={"lines": len(lines), "over": len(over)},
    )


def _metadata(lines: list[dict[str, Any]], engine: str) -> dict[str, Any]:
    table = "\n".join(
        f"| {line['id']} | {line['speech_s']:.2f} | {line['cer']:.3f} | {line['voice']} | "
        f"{line['attempt'] + 1} | {line['text']} |"
        for line in lines
    )
    header = "| shot | speech s | CER | voice | take | line |\n|---|---|---|---|---|---|\n"
    return {
        "lines": len(lines),
        "synthesized": sum(1 for line in lines if line["synthesized"]),
        "voice_engine": engine,
        "line_list": Markdown(header + table),
    }


def narration_of(run: Run) -> tuple[ArtifactRef, dict[str, Any]]:
    """This partition's current narration version and its manifest."""
    ref = run.upstream(ASSET)
    return ref, run.store.manifest(ref)


def line_file(run: Run, unit_version: str) -> Path:
    """The spoken line of unit `unit_version`."""
    unit = ArtifactRef(run.client, run.character, LINE_UNITS, unit_version)
    return run.store.path(unit) / LINE_WAV


def timed_brief(run: Run, brief: Brief) -> Brief:
    """`brief` with each shot timed by its line given its narration's measured length."""
    if all(s.duration_s is not None for s in brief.shots):
        return brief
    _, manifest = narration_of(run)
    return brief.timed({line["id"]: float(line["speech_s"]) for line in manifest["lines"]})
