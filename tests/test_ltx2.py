"""LTX-2 (video and sound in one generation): the registry entries, their tiny pipelines, the
two-stage recipe, the shot's own sound track and the whole chain on the tiny profile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import small_brief, write_brief
from dagster import AssetCheckSeverity
from diffusers.loaders import LTX2LoraLoaderMixin
from lora_support import make_stills, train

from resources.domain.registry import VIDEO_MODELS
from resources.domain.render import ShotRequest
from resources.domain.sound_files import read_wav
from resources.domain.tiers import tier_recipe
from resources.lora.trainer import LoraTrainer
from resources.media.video_io import probe_video
from resources.tiny.video import build_tiny_video_pipeline
from resources.video.generator import apply_lora, load_video_pipeline
from resources.video.ltx2 import load_upsampler, render_audio_visual, schedule

LTX2 = ["ltx_2", "ltx_2_5"]
SHOT = ShotRequest("intro", "drana talks to the camera", "blurry", 3, 25, 1.0)


@pytest.fixture(scope="module")
def pipes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("ltx2")
    found = {}
    for name in LTX2:
        build_tiny_video_pipeline(VIDEO_MODELS[name], root / name)
        pipe = load_video_pipeline(root / name, VIDEO_MODELS[name])
        found[name] = (pipe, load_upsampler(root / name, pipe, "cpu", pipe.transformer.dtype))
    return {**found, "root": root}


def _render(pipes, name, refine_steps=2, **kw):
    pipe, upsampler = pipes[name]
    args = dict(width=192, height=128, steps=2, guidance_scale=1.0, refine_steps=refine_steps)
    return render_audio_visual(pipe, upsampler, VIDEO_MODELS[name], SHOT, **{**args, **kw})


@pytest.mark.parametrize("name", LTX2)
def test_a_clip_comes_with_its_own_sound_and_the_same_seed_gives_the_same_bytes(pipes, name):
    clip = _render(pipes, name)
    assert clip.frames.shape == (25, 128, 192, 3) and clip.frames.dtype == np.uint8
    # 25 frames at 24 fps: about 1.04 s of stereo sound at the vocoder's rate.
    assert clip.sample_rate == 16000 and clip.audio.shape[1] == 2
    assert abs(len(clip.audio) / clip.sample_rate - 25 / 24) < 0.1
    assert np.abs(clip.audio).max() > 0.01  # not silence
    again = _render(pipes, name)
    assert np.array_equal(clip.frames, again.frames) and np.array_equal(clip.audio, again.audio)


def test_the_second_stage_changes_the_picture(pipes):
    two = _render(pipes, "ltx_2")
    one = _render(pipes, "ltx_2", refine_steps=0)
    assert not np.array_equal(one.frames, two.frames)


def test_the_character_lora_trains_and_loads_through_ltx_2_s_own_lora_loader(pipes, tmp_path):
    pipe, _ = pipes["ltx_2"]
    assert isinstance(pipe, LTX2LoraLoaderMixin)  # apply_lora goes through the family's loader
    stills = make_stills(tmp_path / "stills")
    result = train(
        LoraTrainer(),
        VIDEO_MODELS["ltx_2"],
        pipes["root"] / "ltx_2",
        stills,
        tmp_path / "lora",
        steps=8,
    )
    assert result.eval_loss_after < result.eval_loss_before
    base = _render(pipes, "ltx_2", refine_steps=0).frames.astype(np.int32)
    difference = {}
    try:
        for strength in (0.0, 1.0):
            apply_lora(pipe, result.lora_file, strength)
            frames = _render(pipes, "ltx_2", refine_steps=0).frames.astype(np.int32)
            difference[strength] = np.abs(frames - base).mean()
    finally:
        pipe.delete_adapters("character")
    assert difference[0.0] == 0.0 and difference[1.0] > 0.0
    assert np.array_equal(_render(pipes, "ltx_2", refine_steps=0).frames, base)


def test_a_two_stage_size_off_the_multiple_of_64_is_refused(pipes):
    with pytest.raises(ValueError, match="multiples of 64"):
        _render(pipes, "ltx_2", width=160)


def test_distilled_schedules_keep_their_first_sigma():
    sigmas = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    assert schedule(sigmas, 8) == sigmas
    assert schedule(sigmas, 2) == [1.0, 0.3]
    assert schedule(sigmas, 1) == [1.0]


@pytest.mark.parametrize("name", LTX2)
def test_tiers_are_the_distilled_two_stage_recipe_and_a_cheaper_first_stage(name):
    model = VIDEO_MODELS[name]
    final, draft = tier_recipe(model, "final"), tier_recipe(model, "draft")
    assert (final.steps, final.refine_steps, final.guidance_scale) == (8, 3, 1.0)
    assert (final.width, final.height) == (1280, 704)
    assert draft.refine_steps == 0 and (draft.width, draft.height) == (640, 352)
    assert final.adapter is not None and final.adapter == draft.adapter


@pytest.mark.parametrize("name", LTX2)
def test_the_licence_condition_is_data(name):
    record = VIDEO_MODELS[name].licence_record()
    assert record["licence"] == "LTX-2 Community License"
    assert record["paid_work"] == "conditional"
    assert record["paid_licence_above_usd"] == 10_000_000


def _talking_plan(model: str, lines: dict[str, str]):
    from test_clip_plan import _ref_of, _settings

    from resources.domain.brief import parse_brief
    from resources.domain.clip_plan import plan_clips, talking_lines

    data = small_brief(video={"model": model, "fps": 24}, shots=TALKING)
    brief = parse_brief(data)
    entry = VIDEO_MODELS[model]
    tiers = {t: _settings(entry, t) for t in ("draft", "final")}
    return plan_clips(_ref_of, brief, entry, tiers, talking_lines(brief, entry, lines))


TALKING = [
    {
        "id": "intro",
        "prompt": "she greets the camera",
        "duration_s": 1.5,
        "seed": 7,
        "line": "Olá!",
    },
    {"id": "outro", "prompt": "she waves goodbye", "duration_s": 1.5, "seed": 9, "line": "Tchau!"},
]


def test_editing_a_talking_shot_s_line_renders_that_shot_alone():
    before = _talking_plan("ltx_2", {"intro": "unit-a", "outro": "unit-b"})
    after = _talking_plan("ltx_2", {"intro": "unit-a", "outro": "unit-b2"})
    assert [s.line_unit for s in before.shots] == ["unit-a", "unit-b"]
    assert before.units["intro"] == after.units["intro"]
    assert before.units["outro"] != after.units["outro"]


def test_a_model_without_audio_input_gets_its_lines_as_voice_over():
    # HunyuanVideo takes no sound: its shots do not follow their lines, so a new line (a new
    # narration unit) leaves every shot's unit as it was.
    before = _talking_plan("hunyuan_video", {"intro": "unit-a", "outro": "unit-b"})
    after = _talking_plan("hunyuan_video", {"intro": "unit-a2", "outro": "unit-b2"})
    assert all(s.line_unit is None for s in before.shots)
    assert before.units == after.units


def _manifest(root: Path, asset: str) -> tuple[Path, dict]:
    folder = root / "acme-health" / "dr-ana" / asset
    version = json.loads((folder / "current.json").read_text())["version"]
    return folder / version, json.loads((folder / version / "manifest.json").read_text())


@pytest.mark.slow
def test_a_brief_on_ltx_2_materializes_to_a_final_with_each_shot_s_sound(
    tmp_path, dagster_instance
):
    from test_chain import metadata, run_chain

    root = tmp_path / "artifacts"
    shots = [{**TALKING[0], "line": "Olá! Eu sou a Ana."}, {**TALKING[1], "line": None}]
    shots[0]["duration_s"] = 2.5
    data = small_brief(
        video={"model": "ltx_2", "fps": 24},
        references={"count": 2},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=[{k: v for k, v in s.items() if v is not None} for s in shots],
        # What is checked is the sound, not the picture's size or upscaler: the compact
        # Real-ESRGAN's tiny model upscales a frame ~30x faster than the default RRDB one.
        deliverable={"resolution": [320, 180], "upscaler": "realesr_general_x4v3"},
    )
    outcome = run_chain(write_brief(tmp_path / "inbox", data), root, dagster_instance)
    assert outcome.success
    final = Path(metadata(outcome, "deliverables")["final"])
    assert probe_video(final).codec == "h264"
    folder, clips = _manifest(root, "video_clips")
    assert clips["licence"]["paid_licence_above_usd"] == 10_000_000
    _, narration = _manifest(root, "narration")
    (line,) = narration["lines"]
    for shot in clips["shots"]:
        shot_dir = folder / Path(shot["clip"]).parent
        record = json.loads((shot_dir / "shot.json").read_text())
        sound = read_wav(shot_dir / record["audio"]["file"])
        assert abs(sound.seconds - shot["num_frames"] / 24) < 0.1
    # The shot with a line followed its narration unit; the other kept its own sound.
    intro, outro = clips["shots"]
    assert (intro["lip_synced"], outro["lip_synced"]) == (True, False)
    assert intro["line_unit"] == line["unit"] and outro["line_unit"] is None
    assert clips["inputs"]["narration"] == narration["version"]
    # The master: the narration as synthesized, and the outro's own sound mixed under it.
    _, cut = _manifest(root, "deliverables")
    assert cut["sound"]["shot_sound"] == ["outro"]
    assert [line["id"] for line in cut["sound"]["lines"]] == ["intro"]
    # The review app says which shots are lip-synced.
    from pipeline.review.catalog import character_view, dump
    from resources.storage.artifact_store import ArtifactStore

    view = json.loads(dump(character_view(ArtifactStore(root=str(root)), "acme-health", "dr-ana")))
    assert {s["id"]: s["lip_synced"] for s in view["shots"]} == {"intro": True, "outro": False}
    # And so does the client report.
    assert cut["sound"]["lip_synced"] == ["intro"]
    from assets.stages.client_report import identity_table

    section = identity_table("dr-ana", cut)  # the client report's section for this character
    assert "lip-synced shots (picture generated to the line): intro" in section
    # Lip sync is measured on the talking shot only. Tiny random weights draw no face, so it is
    # not measured: the check warns (it neither passes nor blocks the cut), and says why.
    assert outro["sync"] is None and intro["sync"]["verdict"] == "not_measured"
    assert intro["sync"]["frames"] == intro["num_frames"]
    (sync,) = [e for e in outcome.get_asset_check_evaluations()
               if e.check_name == "talking_shots_in_sync"]  # fmt: skip
    assert not sync.passed and sync.severity == AssetCheckSeverity.WARN
    assert "intro: no face found" in sync.description
    assert cut["sound"]["sync"]["intro"]["verdict"] == "not_measured"
    assert "intro: lip sync not measured: no face found" in section
    assert {s["id"]: (s["sync"] or {}).get("verdict") for s in view["shots"]} == {
        "intro": "not_measured", "outro": None}  # fmt: skip


def test_shot_sound_is_mixed_unless_the_shot_drops_it_or_talks(tmp_path):
    from assets.stages.deliverables import kept_shot_sound
    from resources.domain.brief import parse_brief
    from resources.video.generator import SHOT_AUDIO

    shots = [
        {"id": "a", "prompt": "p", "duration_s": 1, "seed": 1},
        {"id": "b", "prompt": "p", "duration_s": 1, "seed": 2, "sound": "none"},
        {"id": "c", "prompt": "p", "duration_s": 1.5, "seed": 3, "line": "Olá!"},
        {"id": "d", "prompt": "p", "duration_s": 1, "seed": 4},
    ]
    brief = parse_brief(small_brief(video={"model": "ltx_2", "fps": 24}, shots=shots))
    recorded = []
    for shot in shots:
        folder = tmp_path / shot["id"]
        folder.mkdir()
        if shot["id"] != "d":  # d: a model without sound wrote none
            (folder / SHOT_AUDIO).write_bytes(b"RIFF")
        recorded.append(
            {"id": shot["id"], "path": folder / "clip.mp4", "lip_synced": "line" in shot}
        )
    assert kept_shot_sound(brief, recorded) == ["a"]


def test_the_master_mixes_a_shot_s_own_sound_under_the_lines():
    from resources.sound.master import RATE, Placed, mix_master

    t = np.arange(16000) / 16000
    room = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    line = Placed((0.3 * np.sin(2 * np.pi * 200 * t[:8000])).astype(np.float32), 16000, 0.3)
    room_at_1s = Placed(room, 16000, 1.0)
    without = mix_master([line], None, 2.0, -16.0)
    with_room = mix_master([line], None, 2.0, -16.0, [room_at_1s])
    # After the line (0.3-0.8 s), only the shot's own sound plays: silence without it.
    tail = slice(int(1.2 * RATE), int(1.8 * RATE))
    assert np.abs(without[tail]).max() == 0.0
    assert np.abs(with_room[tail]).max() > 0.01


def test_the_quote_counts_ltx_2_and_prices_a_talking_minute_against_the_anchors():
    from resources.domain.brief import load_brief
    from resources.quote.flops import FlopCache, transformer_forward
    from resources.quote.quote import quote_brief, quote_markdown

    # One forward at 1280x704, 121 frames, with its 5 s audio stream and 1024 prompt tokens,
    # counted on the meta device; issue 20 counted 5.37e14 independently.
    forward = transformer_forward(FlopCache(None), "ltx_2", width=1280, height=704, frames=121)
    assert forward["flops"] == pytest.approx(5.37e14, rel=0.005)
    assert forward["params"] == pytest.approx(18.9e9, rel=0.005)
    brief = load_brief(Path(__file__).parents[1] / "examples" / "ltx2-talking-minute.yaml")
    final = quote_brief(brief, instance_type="g5.xlarge")
    draft = quote_brief(brief, instance_type="g5.xlarge", tier="draft")
    assert final["total"]["video_s"] == 60
    # With references and LoRA; the figure itself is in docs/costs.md.
    assert final["total"]["usd_per_video_minute"] <= 0.30
    assert draft["total"]["usd_per_video_minute"] < final["total"]["usd_per_video_minute"]
    assert final["hosted"]["veo-3.1-lite-1080p"]["usd"] == pytest.approx(4.80)
    assert final["wall_s"]["4_gpus"] < final["wall_s"]["1_gpu"]
    text = quote_markdown(final)
    assert "removed Sora 2 and Sora 2 Pro from its API on 2026-09-24" in text
    assert "32 GB with an INT8 base" in text
