"""S3 store paths against moto: no key or manifest entry reaches outside its own version folder."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto_aws import aws_env  # noqa: F401 - the fixture

from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.storage.artifact_store import LINKS, build_manifest, write_json
from resources.storage.s3_artifact_store import S3ArtifactStore, StagingMirror

BUCKET = "studio-artifacts"
REF = ArtifactRef("acme-health", "dr-ana", "video_clips", "0123456789abcdef")
VICTIM = ArtifactRef("acme-health", "victim", "video_clips", "fedcba9876543210")


@pytest.fixture
def s3(aws_env):  # noqa: F811
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def store_at(cache: Path) -> S3ArtifactStore:
    return S3ArtifactStore(url=f"s3://{BUCKET}/prod", root=str(cache), sync_seconds=0)


def publish(store: S3ArtifactStore, ref: ArtifactRef, files: dict[str, bytes]) -> None:
    with store.staging(ref) as stage:
        for name, data in files.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        write_json(
            stage / "manifest.json",
            build_manifest(ref, stage, code_version="1", inputs={}, parameters={}),
        )


def test_a_manifest_entry_climbing_out_is_refused_and_nothing_is_written_outside(s3, tmp_path):
    manifest = {
        "files": [
            {
                "path": "../../victim/video_clips/fedcba9876543210/manifest.json",
                "bytes": 2,
                "sha256": "0" * 64,
            }
        ]
    }
    s3.put_object(
        Bucket=BUCKET, Key=f"prod/{REF.key}/manifest.json", Body=json.dumps(manifest).encode()
    )
    s3.put_object(Bucket=BUCKET, Key=f"prod/{VICTIM.key}/manifest.json", Body=b"{}")
    cache = tmp_path / "cache"
    store = store_at(cache)
    with pytest.raises(ArtifactError, match="leaves its version folder"):
        store.path(REF)
    assert not (cache / "acme-health" / "victim").exists()
    assert not list(cache.rglob("manifest.json"))


def test_staging_restore_refuses_a_key_with_dotdot(s3, tmp_path):
    stage_key = f"prod/{REF.client}/{REF.character}/{REF.asset}/.staging-{REF.version}"
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{stage_key}/../../../victim/video_clips/{VICTIM.version}/manifest.json",
        Body=b'{"files": []}',
    )
    store = store_at(tmp_path / "cache")
    stage = tmp_path / "cache" / "stage"
    stage.mkdir(parents=True)
    with pytest.raises(ArtifactError, match="leaves its version folder"):
        StagingMirror(store, REF, stage).restore()
    assert not list((tmp_path / "cache").rglob("manifest.json"))
    assert not store.is_complete(VICTIM)


def test_staging_restore_never_restores_a_manifest(s3, tmp_path):
    stage_key = f"prod/{REF.client}/{REF.character}/{REF.asset}/.staging-{REF.version}"
    s3.put_object(Bucket=BUCKET, Key=f"{stage_key}/manifest.json", Body=b'{"files": []}')
    stage = tmp_path / "stage"
    stage.mkdir()
    with pytest.raises(ArtifactError, match="holds no manifest.json"):
        StagingMirror(store_at(tmp_path / "cache"), REF, stage).restore()
    assert not (stage / "manifest.json").exists()


def test_a_links_entry_pointing_outside_an_artifact_is_refused_at_publish(s3, tmp_path):
    store = store_at(tmp_path / "cache")
    with pytest.raises(ArtifactError, match="leaves its version folder|unsafe artifact"):
        with store.staging(REF) as stage:
            (stage / "clip.mp4").write_bytes(b"clip")
            write_json(stage / LINKS, {"clip.mp4": f"{VICTIM.key}/../../../../secret"})
            write_json(
                stage / "manifest.json",
                build_manifest(REF, stage, code_version="1", inputs={}, parameters={}),
            )
    assert not store.is_complete(REF)


def test_a_damaged_cached_copy_is_downloaded_again(s3, tmp_path):
    publish(store_at(tmp_path / "a"), REF, {"posters.png": b"the png"})
    reader = store_at(tmp_path / "b")
    poster = reader.path(REF) / "posters.png"
    poster.write_bytes(b"the")
    assert (reader.path(REF) / "posters.png").read_bytes() == b"the png"


def test_a_corrupt_published_object_stops_the_build_naming_it(s3, tmp_path):
    publish(store_at(tmp_path / "a"), REF, {"posters.png": b"the png"})
    s3.put_object(Bucket=BUCKET, Key=f"prod/{REF.key}/posters.png", Body=b"tampered")
    reader = store_at(tmp_path / "b")
    assert not reader.reusable(REF)
    with pytest.raises(ArtifactError, match=r"posters.png does not match the sha256"):
        reader.repair(REF, lambda _: None)
