"""Sound through the whole chain: lines spoken, the master's track measured, one line edited."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest
from conftest import copy_of_root
from dagster import DagsterInstance
from licence_support import lineage_licences, unrecorded
from quick_chain import quick_brief, run_quick_chain, shared_models
from review_support import config_for, get, review_settings, serve
from sound_support import voiced_character, write_music

from resources.domain.timing import frames_for
from resources.sound.master import decode_audio, true_peak_dbtp
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # whole-chain materializations

LINES = {
    "one": "Olá, eu sou a doutora Ana.",
    "two": "Hoje vamos ver um caso clínico.",
    "three": "Até a próxima aula!",
}
# Line two as edited: with a figure, which the voice says in words and the subtitles keep.
EDITED_LINE, EDITED_SAID = "Hoje vamos ver 2 casos.", "Hoje vamos ver dois casos."
# Fixed shots: their clips must not depend on their lines.
SHOTS = [
    {"id": sid, "prompt": "she talks", "duration_s": 3.0, "seed": i + 1, "line": text}
    for i, (sid, text) in enumerate(LINES.items())
]


# A chain here that checks only the sound (or the clips, which come before the cut) picks the
# compact Real-ESRGAN: 9 s of picture are 216 frames to upscale, and its tiny model upscales a
# frame ~30x faster than the default RRDB one. The module's fixture keeps the default, whose
# master the burned-in test compares pixel by pixel; the others show that the sound does not
# depend on which upscaler cut the picture.
COMPACT = "realesr_general_x4v3"


def _brief(inbox: Path, shots: list[dict], upscaler: str | None = None) -> dict:
    write_music(inbox / "trilha.wav")
    data = quick_brief(
        shots=shots,
        character=voiced_character(inbox),
        audio={"music": {"file": "trilha.wav", "licence": "composed for the test, CC0"}},
    )
    if upscaler:
        data["deliverable"]["upscaler"] = upscaler
    return data


def _current(root: Path, asset: str) -> tuple[Path, dict]:
    store = ArtifactStore(root=str(root))
    ref = store.current("acme-health", "dr-ana", asset)
    return store.path(ref), store.manifest(ref)


def _clip_hashes(root: Path) -> dict[str, str]:
    folder, manifest = _current(root, "video_clips")
    return {
        s["id"]: hashlib.sha256((folder / s["clip"]).read_bytes()).hexdigest()
        for s in manifest["shots"]
    }


def _state(root: Path) -> dict:
    folder, manifest = _current(root, "deliverables")
    final = folder / manifest["final"]
    samples, rate = decode_audio(final)
    return {
        "folder": folder,
        "manifest": manifest,
        "narration": _current(root, "narration")[1],
        "clips": _clip_hashes(root),
        "audio": samples,
        "rate": rate,
        "final_sha256": hashlib.sha256(final.read_bytes()).hexdigest(),
        "lines": sorted(
            p.name
            for p in (root / "acme-health" / "dr-ana" / "lines").iterdir()
            if not p.name.startswith(".")
        ),
    }


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    base = tmp_path_factory.mktemp("sound")
    root, models = base / "artifacts", shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    run_quick_chain(instance, base / "a", root, _brief(base / "a", SHOTS), models=models)
    before = _state(root)
    changed = [dict(s) for s in SHOTS]
    changed[1]["line"] = EDITED_LINE
    run_quick_chain(instance, base / "b", root, _brief(base / "b", changed), models=models)
    return before, _state(root)


def test_master_has_one_aac_lc_48k_stereo_track(edited):
    before, _ = edited
    with av.open(str(before["folder"] / before["manifest"]["final"])) as container:
        audio = container.streams.audio
        assert len(audio) == 1
        assert audio[0].codec_context.name == "aac"
        assert audio[0].codec_context.profile == "LC"
        assert audio[0].codec_context.sample_rate == 48_000
        assert audio[0].codec_context.channels == 2


def test_decoded_master_meets_loudness_target_and_true_peak(edited):
    before, _ = edited
    lufs = pyloudnorm.Meter(before["rate"]).integrated_loudness(before["audio"].astype(float))
    assert abs(lufs - (-16.0)) <= 1.0
    assert true_peak_dbtp(before["audio"]) <= -1.0
    recorded = before["manifest"]["sound"]
    assert abs(recorded["lufs"] - lufs) < 0.05


def test_audio_lasts_as_long_as_the_picture_within_one_frame(edited):
    before, _ = edited
    picture_s = sum(s["frames"] for s in before["manifest"]["shots"]) / 24
    assert abs(len(before["audio"]) / before["rate"] - picture_s) <= 1 / 24


def test_subtitles_beside_the_master_keep_accents_and_cue_each_line(edited):
    before, _ = edited
    vtt = (before["folder"] / "final.vtt").read_text(encoding="utf-8")
    srt = (before["folder"] / "final.srt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT")
    for text in LINES.values():
        assert text in vtt and text in srt
    assert "clínico" in vtt and "Até a próxima" in srt
    placed = {p["id"]: p for p in before["manifest"]["sound"]["lines"]}
    assert placed["two"]["start_s"] == pytest.approx(3.0 + 0.3, abs=1e-3)


def test_a_figure_is_spoken_in_words_and_subtitled_as_written(edited, tmp_path_factory):
    from pipeline.review.catalog import character_view

    _, after = edited
    (two,) = [line for line in after["narration"]["lines"] if line["id"] == "two"]
    assert (two["text"], two["said"]) == (EDITED_LINE, EDITED_SAID)
    unit = after["folder"].parents[1] / "lines" / two["unit"] / "manifest.json"
    assert json.loads(unit.read_text())["parameters"]["text"] == EDITED_SAID  # the engine's text
    vtt = (after["folder"] / "final.vtt").read_text(encoding="utf-8")
    assert EDITED_LINE in vtt and EDITED_SAID not in vtt
    root = after["folder"].parents[3]
    shots = {
        s.id: s
        for s in character_view(ArtifactStore(root=str(root)), "acme-health", "dr-ana").shots
    }
    shown = (shots["two"].line, shots["two"].said, shots["one"].said)
    assert shown == (EDITED_LINE, EDITED_SAID, None)
    settings = review_settings(root, root, shared_models(tmp_path_factory))
    with serve(config_for(settings)) as url:
        status, _, body = get(f"{url}/c/acme-health/dr-ana")
    page = body.decode()
    assert status == 200 and page.count("Falado como") == 1
    assert f'<td class="said">{EDITED_SAID}</td>' in page


def test_editing_one_line_speaks_one_line_again_and_keeps_every_clip(edited):
    before, after = edited
    new_units = set(after["lines"]) - set(before["lines"])
    assert len(new_units) == 1
    synthesized = [line["id"] for line in after["narration"]["lines"] if line["synthesized"]]
    assert synthesized == ["two"]
    assert after["clips"] == before["clips"]
    assert after["final_sha256"] != before["final_sha256"]
    n = min(len(before["audio"]), len(after["audio"]))
    assert not np.array_equal(before["audio"][:n], after["audio"][:n])


def _audio_packets_sha256(final: Path) -> str:
    digest = hashlib.sha256()
    with av.open(str(final)) as container:
        for packet in container.demux(container.streams.audio[0]):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def test_same_brief_in_a_new_root_gives_the_same_lines_and_audio_bytes(edited, tmp_path_factory):
    # The picture is compared elsewhere; this is the sound's part of "same inputs, same bytes".
    before, _ = edited
    base = tmp_path_factory.mktemp("again")
    root = base / "artifacts"
    instance = DagsterInstance.ephemeral()
    models = shared_models(tmp_path_factory)
    data = _brief(base / "a", SHOTS, upscaler=COMPACT)
    run_quick_chain(instance, base / "a", root, data, models=models)
    again = _state(root)
    assert set(again["lines"]) <= set(before["lines"])
    for line in again["narration"]["lines"]:
        unit = root / "acme-health" / "dr-ana" / "lines" / line["unit"] / "line.wav"
        first = before["folder"].parents[1] / "lines" / line["unit"] / "line.wav"
        assert unit.read_bytes() == first.read_bytes()
    first_final = before["folder"] / before["manifest"]["final"]
    again_final = again["folder"] / again["manifest"]["final"]
    assert _audio_packets_sha256(again_final) == _audio_packets_sha256(first_final)
    assert (again["folder"] / "final.vtt").read_bytes() == (
        before["folder"] / "final.vtt"
    ).read_bytes()


def test_a_shot_without_duration_lasts_its_line_plus_lead_in_and_tail(tmp_path_factory):
    """A stock voice (CustomVoice) also shows its engine, licence and voice reference."""
    base = tmp_path_factory.mktemp("timed")
    root, models = base / "artifacts", shared_models(tmp_path_factory)
    shots = [{"id": "fala", "prompt": "she talks", "seed": 9, "line": "Olá, eu sou a Ana."}]
    data = quick_brief(shots=shots)
    data["deliverable"]["upscaler"] = COMPACT
    data["character"]["voice"] = {"preset": "Aiden"}
    run_quick_chain(DagsterInstance.ephemeral(), base / "a", root, data, models=models)
    narration = _current(root, "narration")[1]
    (engine,) = [m for m in narration["models"] if m["name"] == "qwen3_tts_custom_voice"]
    assert engine["licence"]["licence"] == "Apache-2.0" and len(engine["sha256"]) == 64
    assert narration["licence"]["engine"] == "qwen3_tts_custom_voice"
    assert narration["parameters"]["voice"] == {"preset": "Aiden"}
    # No recording to compare with: the voice is scored against the preset's reference take,
    # a unit of its own.
    reference = narration["voice_reference"]
    assert (reference["kind"], reference["preset"], reference["seed"]) == (
        "preset_reference",
        "Aiden",
        0,
    )
    take = root / "acme-health" / "dr-ana" / "lines" / reference["unit"] / "line.wav"
    assert take.stat().st_size > 44
    (line,) = narration["lines"]
    assert -1.0 <= line["voice"] <= 1.0
    folder, _ = _current(root, "client_report")
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "Stock voice Aiden: each voice score compares the line with the preset's reference" in (
        report
    )
    (clip,) = _current(root, "video_clips")[1]["shots"]
    expected = round(0.3 + line["speech_s"] + 0.5, 3)
    assert clip["duration_s"] == pytest.approx(expected)
    deliverable = _current(root, "deliverables")[1]
    (cut,) = deliverable["shots"]
    assert cut["frames"] == frames_for(expected, 24)
    placed = deliverable["sound"]["lines"][0]
    assert placed["start_s"] == pytest.approx(0.3) and placed["end_s"] <= expected


def test_review_page_shows_each_line_with_its_error_rate_and_voice_score(edited):
    from pipeline.review.catalog import character_view, dump

    before, after = edited
    root = after["folder"].parents[3]
    view = json.loads(dump(character_view(ArtifactStore(root=str(root)), "acme-health", "dr-ana")))
    shown = {s["id"]: s for s in view["shots"]}
    for line in after["narration"]["lines"]:
        assert shown[line["id"]]["line"] == line["text"]
        assert shown[line["id"]]["cer"] == line["cer"]
        assert shown[line["id"]]["voice"] == line["voice"]
    assert shown["two"]["line"] == EDITED_LINE


def test_the_lineage_of_a_master_with_sound_holds_the_whole_chain_and_its_narration(edited):
    from resources.domain.chain import CHAIN_NAMES
    from resources.domain.lineage import chain_of

    _, after = edited
    store = ArtifactStore(root=str(after["folder"].parents[3]))
    ref = store.current("acme-health", "dr-ana", "deliverables")
    assets = [link.asset for link in chain_of(store, ref)]
    assert sorted(assets) == sorted(CHAIN_NAMES)
    assert assets[0] == "deliverables" and assets[-1] == "character_brief"
    narration = next(link for link in chain_of(store, ref) if link.asset == "narration")
    assert narration.version == after["manifest"]["inputs"]["narration"]


def test_every_model_that_touched_the_master_has_its_licence_in_lineage_and_report(edited):
    _, after = edited
    root = after["folder"].parents[3]
    licences = lineage_licences(ArtifactStore(root=str(root)), "acme-health", "dr-ana")
    assert unrecorded(licences) == []
    names = {m.split("@")[0].removeprefix("tiny/") for m in licences}
    voice_and_qc = {"qwen3_tts_base", "whisper_asr", "wavlm_sv", "dinov2_base"}
    assert {"sdxl_base", "hunyuan_video", "realesrgan_x4plus", *voice_and_qc} <= names
    assert (
        "Tencent Hunyuan Community License (paid work: conditional; not in the EU, GB, KR"
        in (licences["tiny/hunyuan_video@built-in"])
    )
    folder, _ = _current(root, "client_report")
    report = (folder / "report.md").read_text(encoding="utf-8")
    table = report.split("### Licences of the models used")[1].split("###")[0]
    for model, text in licences.items():
        assert f"| {model} | {text} |" in table
    # The narration's engine licence is named, and says what its terms say: paid work allowed.
    assert "<br>qwen3_tts_base (Apache-2.0 (paid work: yes; code (qwen-tts) and weights" in report


def test_client_report_lists_each_line_with_its_scores_and_the_limits(edited):
    _, after = edited
    folder, _ = _current(after["folder"].parents[3], "client_report")
    report = (folder / "report.md").read_text(encoding="utf-8")
    section = report.split("### The voice, measured")[1]
    for line in after["narration"]["lines"]:
        voice = f"{line['voice']:.3f}"
        row = f"| {line['id']} | {line['text']} | {line['cer']:.3f} | {voice} |"
        assert row in section
    assert "qc.max_cer not set (measured only); qc.min_voice -1 (measured only)" in section
    assert "Each voice score compares the line with the recorded voice sample." in section


def _run_burned_in(root: Path, inbox: Path, tmp_path_factory, upscaler: str | None = None) -> dict:
    """The edited brief (line two changed) with burned-in subtitles, run in `root`; its state."""
    changed = [dict(s) for s in SHOTS]
    changed[1]["line"] = EDITED_LINE
    data = _brief(inbox, changed, upscaler)
    data["deliverable"]["subtitles"] = "burn_in"
    models = shared_models(tmp_path_factory)
    run_quick_chain(DagsterInstance.ephemeral(), inbox, root, data, models=models)
    return _state(root)


def _copy_of(after: dict, tmp_path_factory) -> Path:
    """The edited run's root, copied (`copy_of_root`)."""
    return copy_of_root(after["folder"].parents[3], tmp_path_factory.mktemp("copy"))


def test_burned_in_subtitles_change_only_the_picture_where_cues_show(edited, tmp_path_factory):
    from resources.media.burn_in import text_box
    from resources.media.video_io import read_video
    from resources.sound.soundtrack import subtitle_cues

    _, after = edited
    root = _copy_of(after, tmp_path_factory)
    burned = _run_burned_in(root, tmp_path_factory.mktemp("burn"), tmp_path_factory)
    assert burned["clips"] == after["clips"] and burned["lines"] == after["lines"]
    sound = burned["manifest"]["sound"]
    assert sound["burned_in"]["font"] == "DejaVuSans-Bold.ttf" and "subtitles" not in sound
    assert not (burned["folder"] / "final.vtt").exists()
    final = burned["folder"] / burned["manifest"]["final"]
    assert _audio_packets_sha256(final) == _audio_packets_sha256(
        after["folder"] / after["manifest"]["final"]
    )
    cues = subtitle_cues(after["narration"]["lines"], after["manifest"]["sound"]["lines"])
    plain = np.concatenate(list(read_video(after["folder"] / "final.mp4"))).astype(int)
    drawn = np.concatenate(list(read_video(final))).astype(int)
    box = text_box(320, 180)
    inside = np.zeros((180, 320), bool)
    inside[box.top : box.bottom, box.left : box.right] = True
    for index in range(len(plain)):
        diff = np.abs(plain[index] - drawn[index]).max(axis=-1)
        showing = any(c.start_s <= index / 24 < c.end_s for c in cues)
        if showing:  # white letters in a black outline, inside the title-safe text box
            assert diff[inside].max() > 100 and diff[inside].mean() > 2 * diff[~inside].mean()
        else:
            assert diff[inside].max() < 40, index
        # Elsewhere only the encoder's noise: H.264 predicts frames from their neighbours and
        # sets a frame's quantiser from the recent frames' complexity, so pixels the overlay
        # never touched decode a few levels apart (about 2 on average here).
        assert diff[~inside].mean() < 4, index


def test_rerolling_one_line_speaks_it_again_and_keeps_every_picture(edited, tmp_path_factory):
    # It re-rolls line "two" of the edited run through the CLI, then runs with subtitles burned in.
    import subprocess
    import sys

    from resources.domain.qc import attempt_seed
    from resources.domain.review import overrides_of

    _, after = edited
    root = _copy_of(after, tmp_path_factory)
    before = _state(root)
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "reroll", "acme-health", "dr-ana", "two", "--line"]
        + ["--seed", "4242", "--who", "ana", "--no-run", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "voice seed 2 -> 4242" in done.stdout
    (override,) = [
        o for o in overrides_of(ArtifactStore(root=str(root)), "acme-health", "dr-ana") if o.line
    ]
    assert (override.shot, override.seed, override.previous_seed) == ("two", 4242, 2)
    inbox = tmp_path_factory.mktemp("reroll-line")
    rerolled = _run_burned_in(root, inbox, tmp_path_factory, upscaler=COMPACT)
    assert rerolled["clips"] == before["clips"]  # every clip keeps its sha256
    new_units = set(rerolled["lines"]) - set(before["lines"])
    lines = {line["id"]: line for line in rerolled["narration"]["lines"]}
    assert new_units == {lines["two"]["unit"]}
    assert lines["two"]["attempts"][0]["seed"] == attempt_seed(4242, 0)
    kept = {line["id"]: line["unit"] for line in before["narration"]["lines"]}
    assert lines["one"]["unit"] == kept["one"] and lines["three"]["unit"] == kept["three"]
    assert rerolled["final_sha256"] != before["final_sha256"]
    snapshot = json.loads((_current(root, "character_brief")[0] / "brief.json").read_text())
    two = next(s for s in snapshot["shots"] if s["id"] == "two")
    assert (two["seed"], two["voice_seed"]) == (2, 4242)  # the picture's seed is kept


def test_the_review_page_re_rolls_a_line_voice_with_its_own_button(edited, tmp_path_factory):
    from dataclasses import replace

    from review_support import config_for, get, post, serve

    from pipeline.settings import Settings
    from resources.domain.review import overrides_of

    _, after = edited
    root = _copy_of(after, tmp_path_factory)
    settings = replace(Settings(), root=str(root), models_dir=str(shared_models(tmp_path_factory)))
    config = config_for(settings)
    with serve(config) as url:
        status, _, page = get(f"{url}/c/acme-health/dr-ana?lang=en")
        assert status == 200
        html = page.decode()
        assert html.count('class="reroll-voice"') == len(LINES)
        assert "Re-roll voice (keeps the picture)" in html
        fields = {"shot": "one", "line": "1", "seed": "5151", "who": "bia"}
        status, _, _ = post(f"{url}/c/acme-health/dr-ana/reroll", fields)
        assert status == 303
        status, _, body = post(f"{url}/c/acme-health/dr-ana/reroll", {**fields, "shot": "nope"})
        assert status == 400 and b"no shot 'nope'" in body
    store = ArtifactStore(root=str(root))
    found = [
        (o.shot, o.seed, o.who) for o in overrides_of(store, "acme-health", "dr-ana") if o.line
    ]
    assert ("one", 5151, "bia") in found
    assert not [o for o in overrides_of(store, "acme-health", "dr-ana") if not o.line]
