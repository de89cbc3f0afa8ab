"""Shot-level reuse: a shot is its own unit; editing one shot renders one shot."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models

from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # whole-chain materializations

SHOTS = [
    {"id": "one", "prompt": "she nods", "duration_s": 0.3, "seed": 1},
    {"id": "two", "prompt": "she waves", "duration_s": 0.3, "seed": 2},
    {"id": "three", "prompt": "she smiles", "duration_s": 0.3, "seed": 3},
]


def _clips(root: Path) -> tuple[str, dict]:
    store = ArtifactStore(root=str(root))
    ref = store.current("acme-health", "dr-ana", "video_clips")
    return ref.version, store.manifest(ref)


def _sha256(root: Path, manifest: dict, shot: str) -> str:
    store = ArtifactStore(root=str(root))
    folder = store.path(store.current("acme-health", "dr-ana", "video_clips"))
    entry = next(s for s in manifest["shots"] if s["id"] == shot)
    return hashlib.sha256((folder / entry["clip"]).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reuse")
    root = folder / "artifacts"
    models = shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    run_quick_chain(instance, folder / "a", root, quick_brief(shots=SHOTS), models=models)
    before_version, before = _clips(root)
    before_sha = {s["id"]: _sha256(root, before, s["id"]) for s in SHOTS}
    changed = [dict(s) for s in SHOTS]
    changed[1]["seed"] = 22
    _, outcome = run_quick_chain(
        instance, folder / "b", root, quick_brief(shots=changed), models=models
    )
    after_version, after = _clips(root)
    after_sha = {s["id"]: _sha256(root, after, s["id"]) for s in SHOTS}
    log = "\n".join(e.user_message for e in instance.all_logs(outcome.run_id))
    return {
        "root": root,
        "before": (before_version, before, before_sha),
        "after": (after_version, after, after_sha),
        "log": log,
    }


def test_editing_one_shot_makes_a_new_clips_version(edited):
    assert edited["before"][0] != edited["after"][0]


def test_exactly_the_edited_shot_is_rendered_the_manifest_says_so(edited):
    rendered = [s["id"] for s in edited["after"][1]["shots"] if s["rendered"]]
    assert rendered == ["two"]
    first = [s["id"] for s in edited["before"][1]["shots"] if s["rendered"]]
    assert first == ["one", "two", "three"]


def test_the_log_says_which_shots_were_rendered_and_which_reused(edited):
    log = edited["log"]
    assert "shot two: rendered as unit" in log
    assert "shot one: unchanged, reusing unit" in log
    assert "shot three: unchanged, reusing unit" in log
    assert "shot one: rendered" not in log and "shot three: rendered" not in log


def test_unchanged_shots_keep_their_bytes_and_the_edited_one_changes(edited):
    before, after = edited["before"][2], edited["after"][2]
    assert after["one"] == before["one"]
    assert after["three"] == before["three"]
    assert after["two"] != before["two"]


def test_reused_clips_are_hard_links_to_the_shot_unit_not_copies(edited):
    root = edited["root"]
    store = ArtifactStore(root=str(root))
    folder = store.path(store.current("acme-health", "dr-ana", "video_clips"))
    manifest = edited["after"][1]
    entry = next(s for s in manifest["shots"] if s["id"] == "one")
    unit = root / "acme-health" / "dr-ana" / "shots" / entry["unit"]
    assert (folder / entry["clip"]).stat().st_ino == (unit / "clip.mp4").stat().st_ino
    # The unit is a finished artifact of its own, with a manifest naming its files.
    files = {f["path"] for f in json.loads((unit / "manifest.json").read_text())["files"]}
    assert {"clip.mp4", "poster.png", "shot.json"} <= files
