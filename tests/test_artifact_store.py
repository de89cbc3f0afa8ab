"""The artifact store: layout, atomic publication, reuse, and the root as a hard boundary."""

from __future__ import annotations

import json

import pytest

from resources.domain.artifacts import ArtifactError, ArtifactRef, content_version
from resources.storage.artifact_store import SOFTWARE, ArtifactStore, build_manifest, write_json

CLIPS = ArtifactRef("acme-health", "dr-ana", "video_clips", "0123456789abcdef")


def publish(store: ArtifactStore, ref: ArtifactRef, text: str = "x") -> None:
    with store.staging(ref) as stage:
        (stage / "out.txt").write_text(text)
        write_json(
            stage / "manifest.json",
            build_manifest(ref, stage, code_version="1", inputs={}, parameters={}),
        )


def test_layout_is_client_character_asset_version(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    ref = ArtifactRef("acme-health", "dr-ana", "reference_images", content_version({"a": 1}))
    publish(store, ref)
    folder = tmp_path / "acme-health" / "dr-ana" / "reference_images" / ref.version
    assert (folder / "out.txt").read_text() == "x"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"][0]["path"] == "out.txt"
    assert len(manifest["files"][0]["sha256"]) == 64
    assert store.current("acme-health", "dr-ana", "reference_images") == ref


def test_a_manifest_names_the_install_that_made_it(tmp_path):
    import importlib.metadata
    import platform

    store = ArtifactStore(root=str(tmp_path))
    publish(store, CLIPS)
    software = json.loads((store.path(CLIPS) / "manifest.json").read_text())["software"]
    assert software["python"] == platform.python_version()
    assert software["av"] == importlib.metadata.version("av")  # its FFmpeg encodes the masters
    assert software["torch"] == importlib.metadata.version("torch")
    assert set(software) <= {"python", *SOFTWARE}


def test_version_is_a_stable_content_hash():
    assert content_version({"b": 2, "a": 1}) == content_version({"a": 1, "b": 2})
    assert content_version({"a": 1}) != content_version({"a": 2})


def test_failed_build_publishes_nothing_but_keeps_finished_units(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    ref = ArtifactRef("acme-health", "dr-ana", "video_clips", "0123456789abcdef")
    with pytest.raises(RuntimeError), store.staging(ref) as stage:
        (stage / "shot-1.mp4").write_text("done")
        raise RuntimeError("interrupted")
    assert not store.path(ref).exists()
    assert not store.is_complete(ref)
    with store.staging(ref) as stage:
        assert (stage / "shot-1.mp4").read_text() == "done"  # the retry sees finished units
        write_json(stage / "manifest.json", {"asset": "video_clips"})
    assert store.is_complete(ref)


def test_staging_without_manifest_is_not_published(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    ref = ArtifactRef("acme-health", "dr-ana", "video_clips", "0123456789abcdef")
    with pytest.raises(ArtifactError, match="no manifest.json"), store.staging(ref) as stage:
        (stage / "half.mp4").write_text("half")
    assert not store.path(ref).exists()


@pytest.mark.parametrize(
    ("client", "character", "asset", "version"),
    [
        ("..", "dr-ana", "clips", "0123456789abcdef"),
        ("acme", "../../etc", "clips", "0123456789abcdef"),
        ("acme", "dr-ana", "../clips", "0123456789abcdef"),
        ("acme", "dr-ana", "clips", "../../0123456789"),
        ("/abs", "dr-ana", "clips", "0123456789abcdef"),
    ],
)
def test_unsafe_names_are_refused(client, character, asset, version):
    with pytest.raises(ArtifactError, match="unsafe artifact"):
        ArtifactRef(client, character, asset, version)


def test_missing_upstream_names_the_asset_and_partition(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    with pytest.raises(ArtifactError, match="materialize character_lora for partition acme/ana"):
        store.current("acme", "ana", "character_lora")


def test_an_included_unit_is_a_hard_link_in_the_local_store(tmp_path):
    store = ArtifactStore(root=str(tmp_path / "root"))
    unit = ArtifactRef("acme-health", "dr-ana", "shots", "fedcba9876543210")
    with store.staging(unit) as stage:
        (stage / "clip.mp4").write_bytes(b"a rendered shot")
        (stage / "poster.png").write_bytes(b"its poster")  # every shot unit holds these
        (stage / "shot.json").write_bytes(b"{}")
        write_json(
            stage / "manifest.json",
            build_manifest(unit, stage, code_version="1", inputs={}, parameters={}),
        )
    with store.staging(CLIPS) as stage:
        store.include(unit, stage, "shots/intro")
        write_json(
            stage / "manifest.json",
            build_manifest(CLIPS, stage, code_version="1", inputs={}, parameters={}),
        )
    linked = store.path(CLIPS) / "shots/intro/clip.mp4"
    assert linked.stat().st_ino == (store.path(unit) / "clip.mp4").stat().st_ino
    assert {f["path"] for f in store.manifest(CLIPS)["files"]} == {
        "shots/intro/clip.mp4",
        "shots/intro/poster.png",
        "shots/intro/shot.json",
    }
