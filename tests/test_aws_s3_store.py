"""The S3 artifact store against moto's S3 server: layout, manifests, multipart, resumable units."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
from conftest import REPO, materialize_fresh
from moto_aws import aws_env  # noqa: F401 - the fixture

from pipeline.settings import resource_defs
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.runtime.interruption import WorkInterrupted
from resources.storage.artifact_store import ArtifactStore, build_manifest, write_json
from resources.storage.root import artifact_store_for
from resources.storage.s3_artifact_store import S3ArtifactStore, parse_s3_url

pytestmark = pytest.mark.slow  # whole-chain runs against the S3 stand-in

BUCKET = "studio-artifacts"
REF = ArtifactRef("acme-health", "dr-ana", "video_clips", "0123456789abcdef")


@pytest.fixture
def s3(aws_env):  # noqa: F811
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def keys(s3, prefix: str = "") -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def store_at(cache: Path, **kwargs) -> S3ArtifactStore:
    return S3ArtifactStore(url=f"s3://{BUCKET}/prod", root=str(cache), **kwargs)


def build(store: S3ArtifactStore, ref: ArtifactRef, files: dict[str, bytes]) -> None:
    with store.staging(ref) as stage:
        for name, data in files.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        manifest = build_manifest(ref, stage, code_version="1", inputs={}, parameters={})
        write_json(stage / "manifest.json", manifest)


def test_a_published_version_has_the_local_layout_and_manifest(s3, tmp_path):
    store = store_at(tmp_path / "cache", sync_seconds=0)
    build(store, REF, {"shots/intro/clip.mp4": b"clip", "posters.png": b"png"})
    assert keys(s3) == [
        "prod/acme-health/dr-ana/video_clips/0123456789abcdef/manifest.json",
        "prod/acme-health/dr-ana/video_clips/0123456789abcdef/posters.png",
        "prod/acme-health/dr-ana/video_clips/0123456789abcdef/shots/intro/clip.mp4",
        "prod/acme-health/dr-ana/video_clips/current.json",
    ]
    manifest = store.manifest(REF)
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        "posters.png": hashlib.sha256(b"png").hexdigest(),
        "shots/intro/clip.mp4": hashlib.sha256(b"clip").hexdigest(),
    }
    assert store.current("acme-health", "dr-ana", "video_clips") == REF
    assert store.versions("acme-health", "dr-ana", "video_clips") == [REF.version]


def test_another_cache_downloads_a_finished_version_verified(s3, tmp_path):
    build(store_at(tmp_path / "a", sync_seconds=0), REF, {"posters.png": b"png"})
    other = store_at(tmp_path / "b")
    folder = other.path(REF)
    assert folder == (tmp_path / "b" / REF.key).resolve()
    assert (folder / "posters.png").read_bytes() == b"png"
    assert json.loads((folder / "manifest.json").read_text())["version"] == REF.version


def test_a_tampered_object_is_refused_and_leaves_nothing_in_the_cache(s3, tmp_path):
    build(store_at(tmp_path / "a", sync_seconds=0), REF, {"posters.png": b"png"})
    s3.put_object(Bucket=BUCKET, Key=f"prod/{REF.key}/posters.png", Body=b"not the png")
    other = store_at(tmp_path / "b")
    with pytest.raises(ArtifactError, match="posters.png does not match the sha256"):
        other.path(REF)
    assert not [p for p in (tmp_path / "b").rglob("*") if p.is_file()]


def test_a_large_file_goes_up_in_parts(s3, tmp_path):
    store = store_at(tmp_path / "cache", multipart_threshold_mb=5, multipart_chunk_mb=5)
    big = bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts of at most 5 MiB
    build(store, REF, {"shots/intro/clip.mp4": big})
    head = s3.head_object(Bucket=BUCKET, Key=f"prod/{REF.key}/shots/intro/clip.mp4")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == len(big)
    fresh = store_at(tmp_path / "fresh")
    assert (fresh.path(REF) / "shots/intro/clip.mp4").read_bytes() == big


def test_a_version_without_manifest_is_never_published(s3, tmp_path):
    store = store_at(tmp_path / "cache", sync_seconds=0)
    with pytest.raises(ArtifactError, match="has no manifest.json"):
        with store.staging(REF) as stage:
            (stage / "posters.png").write_bytes(b"png")
    assert not store.is_complete(REF)
    assert keys(s3, f"prod/{REF.key}/") == []
    with pytest.raises(ArtifactError, match="no finished video_clips"):
        store.current("acme-health", "dr-ana", "video_clips")


def test_units_of_an_interrupted_attempt_resume_on_another_instance(s3, tmp_path):
    first = store_at(tmp_path / "instance-a", sync_seconds=0)
    with pytest.raises(WorkInterrupted):
        with first.staging(REF) as stage:
            (stage / "shots/intro").mkdir(parents=True)
            (stage / "shots/intro/clip.mp4").write_bytes(b"finished shot")
            (stage / "shots/intro/shot.json").write_text("{}")
            (stage / "shots/outro").mkdir(parents=True)
            (stage / "shots/outro/.clip.mp4.tmp").write_bytes(b"half a shot")
            raise WorkInterrupted("spot interruption", "shot intro")
    assert keys(s3, "prod/acme-health/dr-ana/video_clips/.staging") == [
        f"prod/acme-health/dr-ana/video_clips/.staging-{REF.version}/shots/intro/clip.mp4",
        f"prod/acme-health/dr-ana/video_clips/.staging-{REF.version}/shots/intro/shot.json",
    ]
    tagging = s3.get_object_tagging(
        Bucket=BUCKET, Key=keys(s3, "prod/acme-health/dr-ana/video_clips/.staging")[0]
    )
    assert tagging["TagSet"] == [{"Key": "kind", "Value": "checkpoint"}]  # expired by lifecycle
    second = store_at(tmp_path / "instance-b", sync_seconds=0)
    with second.staging(REF) as stage:
        assert (stage / "shots/intro/clip.mp4").read_bytes() == b"finished shot"
        assert not (stage / "shots/outro").exists()
        write_json(
            stage / "manifest.json",
            build_manifest(REF, stage, code_version="1", inputs={}, parameters={}),
        )
    assert keys(s3, "prod/acme-health/dr-ana/video_clips/.staging") == []
    assert second.is_complete(REF)


def test_units_are_mirrored_while_work_runs(s3, tmp_path):
    import time

    store = store_at(tmp_path / "cache", sync_seconds=0.05)
    staged = f"prod/acme-health/dr-ana/video_clips/.staging-{REF.version}/shots/intro/shot.json"
    with pytest.raises(WorkInterrupted):
        with store.staging(REF) as stage:
            (stage / "shots/intro").mkdir(parents=True)
            (stage / "shots/intro/shot.json").write_text("{}")
            deadline = time.monotonic() + 10
            while staged not in keys(s3) and time.monotonic() < deadline:
                time.sleep(0.02)
            seen_while_running = staged in keys(s3)
            raise WorkInterrupted("test", "after the first unit")
    assert seen_while_running


@pytest.mark.parametrize("url", ["s3:///prefix", "s3://bucket/../x", "file:///tmp/x"])
def test_a_malformed_s3_root_is_refused_naming_it(url):
    with pytest.raises(ArtifactError, match="artifact root"):
        parse_s3_url(url)


def test_an_s3_root_selects_the_s3_store_with_a_local_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARACTER_VIDEO_CACHE", str(tmp_path / "cache"))
    store = resource_defs(root="s3://studio-artifacts/prod", profile="tiny")["artifact_store"]
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix) == ("studio-artifacts", "prod")
    assert Path(store.root) == (tmp_path / "cache").resolve()


def test_the_whole_chain_publishes_to_s3_in_the_local_layout(s3, tmp_path, monkeypatch):
    from conftest import small_brief, write_brief
    from dagster import DagsterInstance

    from assets.partitions import CHARACTERS
    from pipeline.definitions import ASSETS

    brief = small_brief(
        references={"count": 1},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=[{"id": "only", "prompt": "she nods", "duration_s": 0.5, "seed": 1}],
        deliverable={"resolution": [320, 180]},
    )
    inbox = write_brief(tmp_path / "inbox", brief)
    monkeypatch.setenv("CHARACTER_VIDEO_CACHE", str(tmp_path / "cache"))
    resources = resource_defs(
        root=f"s3://{BUCKET}/prod", profile="tiny", inbox=[str(inbox)], models_dir=tmp_path / "m"
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHARACTERS, ["acme-health/dr-ana"])
    outcome = materialize_fresh(
        ASSETS, partition_key="acme-health/dr-ana", instance=instance, resources=resources
    )
    assert outcome.success
    store: S3ArtifactStore = resources["artifact_store"]
    for asset in ("character_brief", "reference_images", "character_lora", "video_clips"):
        ref = store.current("acme-health", "dr-ana", asset)
        manifest = store.manifest(ref)
        expected = {f"prod/{ref.key}/{f['path']}" for f in manifest["files"]}
        assert set(keys(s3, f"prod/{ref.key}/")) == expected | {f"prod/{ref.key}/manifest.json"}
        cached = json.loads((tmp_path / "cache" / ref.key / "manifest.json").read_text())
        assert cached == manifest  # the same manifest as the local store holds
    final = store.current("acme-health", "dr-ana", "deliverables")
    assert f"prod/{final.key}/final.mp4" in keys(s3)
    assert not [k for k in keys(s3) if "/.staging-" in k], "staging units are cleaned up"


def test_lineage_reads_characters_and_current_versions_from_s3(s3, tmp_path):
    from resources.domain.lineage import characters_of, deliverables_of

    store = store_at(tmp_path / "cache", sync_seconds=0)
    final = ArtifactRef("acme-health", "dr-ana", "deliverables", "fedcba9876543210")
    build(store, final, {"final.mp4": b"mp4"})
    build(store, ArtifactRef("acme-health", "nurse-bo", "video_clips", "0123456789abcdef"), {})
    # A second cache that never built anything sees the same lineage: it is read from S3.
    other = store_at(tmp_path / "other-cache")
    assert characters_of(other, "acme-health") == ["dr-ana", "nurse-bo"]
    (only,) = deliverables_of(other, "acme-health")
    assert (only.character, only.version, only.current) == ("dr-ana", final.version, True)


def test_an_included_unit_is_copied_inside_the_bucket_not_uploaded_again(s3, tmp_path):
    store = store_at(tmp_path / "cache", sync_seconds=0)
    unit = ArtifactRef("acme-health", "dr-ana", "shots", "fedcba9876543210")
    # A shot unit's files: its clip, poster and record (a unit without them is not reused).
    build(store, unit, {"clip.mp4": b"a rendered shot", "poster.png": b"p", "shot.json": b"{}"})
    fresh = store_at(tmp_path / "other-cache", sync_seconds=0)  # another host: nothing cached
    with fresh.staging(REF) as stage:
        included = fresh.include(unit, stage, "shots/intro")
        assert sorted(included) == [
            "shots/intro/clip.mp4",
            "shots/intro/poster.png",
            "shots/intro/shot.json",
        ]
        manifest = build_manifest(REF, stage, code_version="1", inputs={}, parameters={})
        write_json(stage / "manifest.json", manifest)
        # Publishing does not read the local bytes of an included file: it copies the
        # unit's object server-side, so the clip is never sent to S3 twice.
        (stage / "shots/intro/clip.mp4").unlink()
    body = s3.get_object(Bucket=BUCKET, Key=f"prod/{REF.key}/shots/intro/clip.mp4")["Body"]
    assert body.read() == b"a rendered shot"
    assert fresh.is_complete(REF)


def test_one_factory_names_the_store_of_a_root(tmp_path):
    s3_store = artifact_store_for(f"s3://{BUCKET}/prod", tmp_path / "cache")
    assert isinstance(s3_store, S3ArtifactStore)
    assert (s3_store.bucket, s3_store.prefix, s3_store.root) == (
        BUCKET,
        "prod",
        str((tmp_path / "cache").resolve()),
    )
    local = artifact_store_for(tmp_path / "artifacts", tmp_path / "unused")
    assert type(local) is ArtifactStore and local.root == str(tmp_path / "artifacts")


def test_lineage_command_lists_what_was_published_under_an_s3_root(s3, tmp_path):
    published = store_at(tmp_path / "run-cache", sync_seconds=0)
    final = ArtifactRef("acme-health", "dr-ana", "deliverables", "fedcba9876543210")
    build(published, final, {"final.mp4": b"mp4"})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "lineage",
            "acme-health",
            "--root",
            f"s3://{BUCKET}/prod",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        # A machine that never ran the chain: its own, empty cache; the bucket is moto's.
        env={**os.environ, "CHARACTER_VIDEO_CACHE": str(tmp_path / "cli-cache")},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"acme-health/dr-ana deliverable {final.version} (current)"
    )
    assert done.stdout.splitlines()[1].split()[:3] == ["deliverables", final.version, "code"]


def test_pages_read_at_once_download_a_version_once_and_whole(s3, tmp_path):
    """The review app serves each request in its own thread: eight reading one version of a
    fresh cache at the same moment all get it whole, and no download folder is left."""
    files = {f"shots/s{i}/clip.mp4": os.urandom(20_000) for i in range(24)}
    build(store_at(tmp_path / "a", sync_seconds=0), REF, files)
    fresh = store_at(tmp_path / "b")  # no client made yet either
    start = threading.Barrier(8)
    got: list[object] = []

    def read() -> None:
        start.wait()
        try:
            got.append(fresh.path(REF))
        except Exception as error:  # noqa: BLE001 - the test reports what went wrong
            got.append(error)

    readers = [threading.Thread(target=read) for _ in range(8)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(120)
    folder = (tmp_path / "b" / REF.key).resolve()
    assert got == [folder] * 8
    assert {n: (folder / n).read_bytes() for n in files} == files
    assert sorted(p.name for p in folder.parent.iterdir()) == [REF.version]
