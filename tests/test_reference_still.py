"""Identity from the reference still: the Wan 2.2 I2V A14B path, end to end on the tiny profile.

One chain renders the same prompt and seed three ways (the LoRA alone, the approved still alone
through WanImageToVideoPipeline, both) and once more from the still at the draft tier (the I2V
4-step distillation adapter); the clips differ, every shot is scored, each still-conditioned
shot records the still it started from, and the still's hash is in the shot's version.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import small_brief
from quick_chain import run_quick_chain

from resources.domain.artifacts import ArtifactRef
from resources.media.video_io import read_video
from resources.storage.artifact_store import ArtifactStore, sha256_file

pytestmark = pytest.mark.slow

PROMPT = {"prompt": "front view portrait, she nods", "duration_s": 0.5, "seed": 3}
SHOTS = [
    {"id": "lora", **PROMPT},
    {"id": "still", **PROMPT, "condition": "reference"},
    {"id": "both", **PROMPT, "condition": "both"},
    {"id": "draft", **PROMPT, "condition": "reference", "tier": "draft"},
]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dagster import DagsterInstance

    tmp = tmp_path_factory.mktemp("refstill")
    data = small_brief(
        video={"model": "wan22_t2v_a14b", "fps": 16},
        references={"count": 3, "seed": 5},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=SHOTS,
        deliverable={"resolution": [320, 180]},
    )
    with DagsterInstance.ephemeral() as instance:
        run_quick_chain(instance, tmp / "inbox", tmp / "root", data)
    store = ArtifactStore(root=str(tmp / "root"))
    current = store.current("acme-health", "dr-ana", "video_clips")
    return {"store": store, "ref": current, "manifest": store.manifest(current), "root": tmp}


def _frames(chain: dict, shot: dict) -> np.ndarray:
    clip = chain["store"].path(chain["ref"]) / shot["clip"]
    return np.concatenate(list(read_video(clip)))


def _shots(chain: dict) -> dict[str, dict]:
    return {s["id"]: s for s in chain["manifest"]["shots"]}


def test_lora_still_and_both_give_different_clips_from_the_same_prompt_and_seed(chain):
    shots = _shots(chain)
    frames = {k: _frames(chain, shots[k]).astype(np.int16) for k in ("lora", "still", "both")}
    for a, b in (("lora", "still"), ("lora", "both"), ("still", "both")):
        assert frames[a].shape == frames[b].shape
        assert np.abs(frames[a] - frames[b]).mean() > 0.0, (a, b)


def test_each_shot_says_where_its_identity_came_from_and_is_scored(chain):
    shots = _shots(chain)
    assert {k: s["identity_from"] for k, s in shots.items()} == {
        "lora": "lora",
        "still": "reference",
        "both": "both",
        "draft": "reference",
    }
    for shot in shots.values():
        assert set(shot["identity"]) == {"dinov2_base", "clip_vit_large_patch14"}
        assert all(np.isfinite(v) for v in shot["identity"].values())


def test_a_still_conditioned_shot_records_its_still_by_name_and_hash(chain):
    shots = _shots(chain)
    store, root = chain["store"], chain["root"]
    assert shots["lora"]["still"] is None
    still = shots["still"]["still"]
    refs = store.current("acme-health", "dr-ana", "reference_images")
    stills = {s["image"].split("/")[-1]: s for s in store.manifest(refs)["stills"]}
    assert still["file"] in stills
    image = store.path(refs) / stills[still["file"]]["image"]
    assert still["sha256"] == sha256_file(image)
    assert shots["still"]["reference_still"] == still["sha256"]
    # The same prompt chooses the same still, whichever condition and tier.
    assert shots["both"]["still"] == still and shots["draft"]["still"] == still
    # The shot unit's own manifest names it too, with the image-to-video checkpoint.
    unit = ArtifactRef("acme-health", "dr-ana", "shots", shots["still"]["unit"])
    manifest = store.manifest(unit)
    assert manifest["still"]["file"] == still["file"]
    assert manifest["still"]["sha256"] == still["sha256"]
    assert manifest["models"][0]["name"] == "wan22_i2v_a14b"
    record = json.loads((store.path(unit) / "shot.json").read_text())
    assert record["still"] == {"file": still["file"], "sha256": still["sha256"]}
    assert root.exists()


def test_the_draft_still_shot_renders_with_the_i2v_distillation_adapter(chain):
    names = [m["name"] for m in chain["manifest"]["models"]]
    assert "wan22_i2v_a14b" in names
    assert "lightx2v_wan22_i2v_a14b_4step" in names
    unit = _shots(chain)["draft"]["unit"]
    manifest = chain["store"].manifest(ArtifactRef("acme-health", "dr-ana", "shots", unit))
    assert manifest["parameters"]["tier"] == "draft"
    assert len(manifest["parameters"]["distill"]["files"]) == 2  # one per expert


def test_the_deliverable_the_report_and_the_review_app_say_where_identity_came_from(chain):
    from pipeline.review.catalog import character_view

    store = chain["store"]
    cut = store.current("acme-health", "dr-ana", "deliverables")
    measured = {s["id"]: s for s in store.manifest(cut)["qc"]["shots"]}
    still = _shots(chain)["still"]["still"]["file"]
    assert (measured["lora"]["identity_from"], measured["lora"]["still"]) == ("lora", None)
    assert (measured["still"]["identity_from"], measured["still"]["still"]) == ("reference", still)
    report = store.current("acme-health", "dr-ana", "client_report")
    text = (store.path(report) / "report.md").read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if " | " in line}
    assert f"| still | reference still ({still}) |" in rows["still"]
    assert "| both | LoRA + still (" in rows["both"]
    view = character_view(store, "acme-health", "dr-ana")
    cards = {s.id: (s.identity_from, s.still) for s in view.shots}
    assert cards["lora"] == ("lora", None) and cards["still"] == ("reference", still)
