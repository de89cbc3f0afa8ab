"""A brief's sound fields: what is accepted, and each refusal in one line naming its field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS_ENV, small_brief, write_brief
from sound_support import voiced_signal, write_music, write_voice_sample

from resources.domain.brief import BriefError, load_brief, parse_brief
from resources.domain.sound_files import write_wav
from resources.domain.speech import syllables

REPO = Path(__file__).resolve().parents[1]
CONSENT = {"by": "Ana Souza", "on": "2026-11-30"}


def _voice(sample: str = "voz.wav", **extra) -> dict:
    return {"sample": sample, "transcript": "Bom dia, esta é a minha voz.", **extra}


def _brief(tmp_path: Path, voice: dict | None = None, **overrides) -> Path:
    data = small_brief(**overrides)
    if voice is not None:
        data["character"]["voice"] = voice
    return write_brief(tmp_path, data)


def _problems(path: Path) -> list[str]:
    with pytest.raises(BriefError) as caught:
        load_brief(path)
    return caught.value.problems


def test_a_brief_with_voice_lines_and_music_is_accepted(tmp_path):
    write_voice_sample(tmp_path / "voz.wav")
    write_music(tmp_path / "trilha.wav")
    shots = [
        {"id": "fala", "prompt": "she talks", "line": "Olá, tudo bem com você?", "seed": 1},
        {"id": "fixa", "prompt": "she nods", "duration_s": 2.0, "line": "Até logo.", "seed": 2},
    ]
    path = _brief(
        tmp_path,
        _voice(consent=CONSENT),
        shots=shots,
        audio={"music": {"file": "trilha.wav", "licence": "library track, licence 1234"}},
    )
    brief = load_brief(path)
    assert brief.audio.language == "pt-BR" and brief.audio.loudness == -16.0
    assert brief.subtitles == "sidecar"
    assert brief.shots[0].duration_s is None
    # Quoted at the normal rate: 8 syllables (o-lá tu-do bem com vo-cê) at 5/s, + 0.3 s + 0.5 s.
    assert brief.estimated().shots[0].duration_s == pytest.approx(8 / 5 + 0.8)


def test_a_brief_without_sound_keeps_its_version():
    # The sound fields are left out of the canonical JSON while unset: old versions stay valid.
    data = small_brief()

    text = parse_brief(data).canonical_json()
    assert "audio" not in text and "voice" not in text and "line" not in text
    assert "subtitles" not in text


def test_subtitles_default_to_none_without_lines():

    assert parse_brief(small_brief()).subtitles == "none"


def test_line_too_long_for_its_fixed_shot_names_both_numbers(tmp_path):
    line = "Hoje vamos discutir um caso clínico de pneumonia adquirida na comunidade."
    shots = [{"id": "a", "prompt": "p", "duration_s": 2.0, "line": line}]
    problems = _problems(_brief(tmp_path, shots=shots))
    needed = syllables(line)
    assert problems == [
        f"shots[0].line: shot 'a': the line needs {needed} syllables, about "
        f"{needed / 5:.1f} s at a normal pt-BR rate of 5 syllables/s, but the shot's 2 s hold 6 "
        "after the 0.3 s lead-in and 0.5 s tail; shorten the line, lengthen the shot, or leave "
        "out duration_s to time the shot by its line"
    ]


def test_shot_without_duration_or_line_is_refused(tmp_path):
    problems = _problems(_brief(tmp_path, shots=[{"id": "a", "prompt": "p"}]))
    assert problems == ["shots[0]: `duration_s` is required for a shot without a `line`"]


@pytest.mark.parametrize("line", ["...", "😀😀", " — ! ? "])
def test_a_line_with_no_word_to_speak_is_refused_in_both_languages(tmp_path, line):
    """Punctuation or emoji alone: the engine would make up a sound that the empty script's
    error rate could not catch (it scored such a line 0.0, a pass)."""
    shots = [{"id": "a", "prompt": "p", "duration_s": 2.0, "line": line}]
    with pytest.raises(BriefError) as caught:
        load_brief(_brief(tmp_path, shots=shots))
    (en,), (pt,) = caught.value.problems, caught.value.problems_pt
    assert en == (
        "shots[0].line: no word to speak: write what the character says (letters or digits), "
        f"or leave `line` out for a silent shot (got {line!r})"
    )
    assert pt.startswith("shots[0].line: nenhuma palavra para falar: escreva o que o personagem")
    # A letter or a digit is enough ("dois mil e vinte e seis": 9 syllables, 1.8 s, so 3 s).
    shots[0].update(line="Olá, 2026!", duration_s=3.0)
    assert load_brief(_brief(tmp_path, shots=shots)).shots[0].line == "Olá, 2026!"


def test_unsupported_language_is_refused(tmp_path):
    problems = _problems(_brief(tmp_path, audio={"language": "fr-FR"}))
    assert problems == [
        "audio.language: language 'fr-FR' is not spoken by the voice engine; it speaks: pt-BR"
    ]


def test_recorded_voice_without_consent_is_refused(tmp_path):
    write_voice_sample(tmp_path / "voz.wav")
    (problem,) = _problems(_brief(tmp_path, _voice()))
    assert problem.startswith("character.voice: a recorded voice needs `consent: {by: NAME, on:")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_text("not audio at all"), "not a PCM WAV audio file"),
        (lambda p: write_voice_sample(p, seconds=3.0), "3.0 s long; a voice sample is 5-30 s"),
        (lambda p: write_voice_sample(p, seconds=31.0), "31.0 s long; a voice sample is 5-30 s"),
        (lambda p: write_wav(p, np.zeros(24_000 * 6, np.float32), 24_000), "silent"),
        (
            lambda p: write_wav(p, np.clip(voiced_signal(6.0) * 20, -1, 1), 24_000),
            "clipped",
        ),
    ],
    ids=["not-audio", "short", "long", "silent", "clipped"],
)
def test_bad_voice_sample_is_refused_in_one_line(tmp_path, make, expected):
    make(tmp_path / "voz.wav")
    (problem,) = _problems(_brief(tmp_path, _voice(consent=CONSENT)))
    assert problem.startswith(f"character.voice.sample: {tmp_path / 'voz.wav'}: ")
    assert expected in problem


def test_music_without_licence_or_not_audio_is_refused(tmp_path):
    (tmp_path / "trilha.wav").write_bytes(b"ID3 an mp3, not a wav")
    no_licence = _problems(_brief(tmp_path, audio={"music": {"file": "trilha.wav"}}))
    assert no_licence == [
        "audio.music: a music file needs its `licence`: who owns it and the terms of use"
    ]
    (problem,) = _problems(
        _brief(tmp_path, audio={"music": {"file": "trilha.wav", "licence": "ours"}})
    )
    assert problem.startswith("audio.music.file: ") and "not a PCM WAV audio file" in problem


def test_cli_validate_refuses_a_clipped_sample_and_writes_nothing(tmp_path):
    write_wav(tmp_path / "voz.wav", np.clip(voiced_signal(6.0) * 20, -1, 1), 24_000)
    path = _brief(tmp_path, _voice(consent=CONSENT))
    before = sorted(p.name for p in tmp_path.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "validate", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "character.voice.sample" in done.stderr and "clipped" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_burn_in_subtitles_are_accepted_and_other_values_named(tmp_path):
    path = _brief(tmp_path, deliverable={"subtitles": "burn_in"})
    assert load_brief(path).subtitles == "burn_in"
    problems = _problems(_brief(tmp_path, deliverable={"subtitles": "open"}))
    assert len(problems) == 1 and problems[0].startswith("deliverable.subtitles:")


@pytest.mark.parametrize("style", ["block", "flow"])
def test_consent_written_by_hand_reads_on_as_a_key_not_a_boolean(tmp_path, style):
    # YAML 1.1 reads a plain `on` as True; every brief key is a name.
    write_voice_sample(tmp_path / "voz.wav")
    text = write_brief(tmp_path, small_brief()).read_text()
    consent = (
        "    consent:\n      by: Ana Souza\n      on: 2026-11-30\n"
        if style == "block"
        else "    consent: {by: Ana Souza, on: 2026-11-30}\n"
    )
    voice = '  voice:\n    sample: voz.wav\n    transcript: "Bom dia."\n' + consent
    path = tmp_path / "by-hand.yaml"
    path.write_text(text.replace("character:\n", "character:\n" + voice, 1))
    brief = load_brief(path)
    assert str(brief.character.voice.consent.on) == "2026-11-30"
    assert brief.character.voice.consent.by == "Ana Souza"


def _validate(path: Path) -> subprocess.CompletedProcess:
    """`validate` with no model folder on the machine: what it says of the sound does not
    depend on whether another test built the tiny video models (whose tokenizer would count
    the prompts, seconds of importing transformers for each call)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "validate", str(path)],
        cwd=REPO,
        env={**os.environ, MODELS_ENV: str(path.parent / "no-models")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unknown_preset_is_refused_in_one_line_naming_the_stock_voices(tmp_path):
    path = _brief(tmp_path, {"preset": "default"})
    assert _problems(path) == [
        "character.voice.preset: unknown preset 'default': the stock voices are Vivian, Serena, "
        "Uncle_Fu, Dylan, Eric, Ryan, Aiden, Ono_Anna, Sohee"
    ]
    done = _validate(path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"{path}: {_problems(path)[0]}"]


def test_a_preset_is_kept_in_its_published_spelling_and_validate_warns_it_is_not_portuguese(
    tmp_path,
):
    shots = [{"id": "fala", "prompt": "she talks", "line": "Olá, tudo bem?", "seed": 1}]
    path = _brief(tmp_path, {"preset": "ono_anna"}, shots=shots)
    assert load_brief(path).character.voice.preset == "Ono_Anna"
    done = _validate(path)
    assert done.returncode == 0, done.stderr
    ok, warning = done.stdout.strip().splitlines()
    assert ok.startswith(f"{path}: ok (")
    assert warning == (
        f"{path}: warning: character.voice.preset: the stock voice Ono_Anna's native language is "
        "Japanese, not Portuguese: its pt-BR may carry a foreign accent; for a Brazilian voice a "
        "recorded sample is recommended (docs/producers.md, section 9)"
    )
    # A recorded voice draws no warning; nor does a brief without lines.
    write_voice_sample(tmp_path / "voz.wav")
    recorded = _brief(tmp_path, _voice(consent=CONSENT), shots=shots)
    assert "warning" not in _validate(recorded).stdout
    assert "warning" not in _validate(_brief(tmp_path, {"preset": "Ryan"})).stdout
