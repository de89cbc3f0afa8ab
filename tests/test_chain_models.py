"""The whole chain for HoloCine (a scene), Mochi-1 and CogVideoX on the tiny profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import small_brief, write_brief
from test_chain import metadata, run_chain

from resources.domain.registry import VIDEO_MODELS
from resources.media.video_io import probe_video

pytestmark = pytest.mark.slow  # a whole chain per video model

SHOTS = [
    {"id": "intro", "prompt": "she greets the camera", "duration_s": 0.6, "seed": 1},
    {"id": "outro", "prompt": "she waves goodbye", "duration_s": 0.5, "seed": 2},
]


def _brief(model: str, **video) -> dict:
    return small_brief(
        video={"model": model, "fps": 24, **video},
        references={"count": 2},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=SHOTS,
        deliverable={"resolution": [1920, 1080]},
    )


def _manifest(root: Path, asset: str) -> tuple[Path, dict]:
    folder = root / "acme-health" / "dr-ana" / asset
    version = json.loads((folder / "current.json").read_text())["version"]
    return folder / version, json.loads((folder / version / "manifest.json").read_text())


def _deliverable_checked(outcome, root: Path) -> None:
    final = Path(metadata(outcome, "deliverables")["final"])
    info = probe_video(final)
    # 0.6 s + 0.5 s at 24 fps: each shot retimed to its duration.
    assert (info.width, info.height, info.fps, info.frame_count) == (1920, 1080, 24, 14 + 12)
    assert info.codec == "h264"
    evaluations = outcome.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations), [
        (e.check_name, e.metadata) for e in evaluations if not e.passed
    ]


@pytest.mark.parametrize("model", ["holocine_14b_sparse"])
def test_holocine_renders_the_shot_list_as_one_scene_cut_into_shots(
    model, tmp_path, dagster_instance
):
    root = tmp_path / "artifacts"
    data = _brief(model, licence_ack="non-commercial")
    outcome = run_chain(write_brief(tmp_path / "inbox", data), root, dagster_instance)
    assert outcome.success
    _deliverable_checked(outcome, root)
    folder, clips = _manifest(root, "video_clips")
    entry = VIDEO_MODELS[model]
    # The scene: 0.6 s + 0.5 s at 15 fps = 9 + 8 frames -> 17 (4t+1), cut at frame 9.
    assert clips["scene"]["num_frames"] == 17 and clips["scene"]["cuts"] == [9]
    assert [s["num_frames"] for s in clips["shots"]] == [9, 8]
    assert [s["id"] for s in clips["shots"]] == ["intro", "outro"]
    for shot in clips["shots"]:
        info = probe_video(folder / shot["clip"])
        assert info.frame_count == shot["num_frames"] and info.fps == entry.native_fps
    scene_dir = root / "acme-health" / "dr-ana" / "scenes" / clips["scene"]["unit"]
    scene = json.loads((scene_dir / "scene.json").read_text())
    assert probe_video(scene_dir / "scene.mp4").frame_count == 17
    assert scene["prompt"].startswith("[global caption] drana, a physician")
    assert scene["prompt"].count("[shot cut]") == 1
    # Both HoloCine attentions ran on the tiny two-expert transformer (2 blocks, CFG passes).
    assert scene["shot_attention_calls"]["self"] > 0 and scene["shot_attention_calls"]["cross"] > 0
    assert scene["lora"]["sha256"]
    # The licence is in every manifest on the way to the client.
    assert clips["licence"]["licence"] == "CC BY-NC-SA 4.0"
    assert clips["licence"]["paid_work"] == "no"
    _, cut = _manifest(root, "deliverables")
    assert cut["licence"]["licence"] == "CC BY-NC-SA 4.0"
    _, lora = _manifest(root, "character_lora")
    assert lora["licence"]["licence"] == "CC BY-NC-SA 4.0"
    # Editing one shot's prompt re-renders the scene: every shot depends on all captions.
    data["shots"][1] = {**SHOTS[1], "prompt": "she nods"}
    again = run_chain(write_brief(tmp_path / "inbox2", data), root, dagster_instance)
    _, edited = _manifest(root, "video_clips")
    assert edited["scene"]["unit"] != clips["scene"]["unit"]
    assert all(s["rendered"] for s in edited["shots"])
    assert metadata(again, "character_lora")["reused"] is True


@pytest.mark.parametrize("model", ["mochi_1", "cogvideox_5b"])
def test_mochi_and_cogvideox_run_the_whole_chain(model, tmp_path, dagster_instance):
    root = tmp_path / "artifacts"
    outcome = run_chain(write_brief(tmp_path / "inbox", _brief(model)), root, dagster_instance)
    assert outcome.success
    _deliverable_checked(outcome, root)
    assert metadata(outcome, "video_clips")["model"] == f"tiny/{model}"
    folder, clips = _manifest(root, "video_clips")
    entry = VIDEO_MODELS[model]
    for shot in clips["shots"]:
        assert (shot["num_frames"] - 1) % entry.frame_multiple == 0
        assert probe_video(folder / shot["clip"]).fps == entry.native_fps
    assert clips["licence"]["licence"] == entry.licence
    _, lora = _manifest(root, "character_lora")
    assert lora["parameters"]["timestep_sampling"] == (
        "uniform_ddpm" if model == "cogvideox_5b" else "logit_normal"
    )
