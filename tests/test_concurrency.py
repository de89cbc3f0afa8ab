"""Concurrent materializations of one brief into one root: all succeed, nothing is left behind.

Each run is its own process (`python -m pipeline materialize`), as two operators or a retry
racing a sensor run would be. Every version is built under its lock; the runs that wait reuse
what the first published. The S3 lease (the lock across hosts) is tested against moto's server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
from conftest import REPO, write_brief
from moto_aws import aws_env  # noqa: F401 - the fixture
from quick_chain import built_chain_models, quick_brief

from resources.domain.artifacts import ArtifactRef
from resources.storage.artifact_store import ArtifactStore
from resources.storage.s3_artifact_store import S3ArtifactStore, S3Lease

pytestmark = pytest.mark.slow  # concurrent runs and leases

ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
SHOTS = [
    {"id": "one", "prompt": "she nods", "duration_s": 0.3, "seed": 1},
    {"id": "two", "prompt": "she waves", "duration_s": 0.3, "seed": 2},
]


@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_runs_of_one_brief_all_succeed_with_no_orphan_staging(
    runs, tmp_path, tmp_path_factory
):
    # The models are built once beforehand: this test is about the artifact root.
    models = built_chain_models(tmp_path_factory)
    brief = write_brief(tmp_path / "inbox", quick_brief(shots=SHOTS))
    root = tmp_path / "root"
    started = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "materialize",
                str(brief),
                "--root",
                str(root),
                "--models",
                str(models),
            ],
            cwd=REPO,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(runs)
    ]
    results = [(p.communicate(timeout=1200), p.returncode) for p in started]
    for (_, stderr), code in results:
        assert code == 0, stderr[-3000:]
    finals = {out.strip().splitlines()[-1] for (out, _), _ in results}
    assert len(finals) == 1 and Path(finals.pop()).is_file()
    assert not list(root.rglob(".staging-*")), "a staging folder was left behind"
    assert not list(root.rglob(".download-*"))
    artifacts = ArtifactStore(root=str(root))
    for asset_folder in (root / "acme-health" / "dr-ana").iterdir():
        for version in artifacts.versions("acme-health", "dr-ana", asset_folder.name):
            ref = ArtifactRef("acme-health", "dr-ana", asset_folder.name, version)
            assert artifacts.verify(ref) == [], ref.key
    # One unit per shot, none built twice over another (that would have quarantined it).
    assert len(artifacts.versions("acme-health", "dr-ana", "shots")) == len(SHOTS)
    assert not list(root.rglob(".quarantine-*"))


BUCKET = "studio-artifacts"


@pytest.fixture
def s3_store(aws_env, tmp_path):  # noqa: F811
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return lambda name, **kw: S3ArtifactStore(
        url=f"s3://{BUCKET}/prod", root=str(tmp_path / name), sync_seconds=0, **kw
    )


def test_the_s3_lease_admits_one_holder_at_a_time_across_four_hosts(s3_store):
    key = "prod/acme-health/dr-ana/video_clips/.lock-0123456789abcdef"
    inside, overlaps, order = [0], [], []
    guard = threading.Lock()

    def host(n: int) -> None:
        store = s3_store(f"host{n}")  # its own cache and its own client, as another host
        with S3Lease(store, key, lambda _: None, poll_s=0.05):
            with guard:
                inside[0] += 1
                overlaps.append(inside[0])
            time.sleep(0.2)
            order.append(n)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=host, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(order) == [0, 1, 2, 3]
    assert max(overlaps) == 1
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=key)


def test_an_expired_lease_of_a_dead_holder_is_taken_over(s3_store):
    key = "prod/acme-health/dr-ana/video_clips/.lock-0123456789abcdef"
    dead = {"owner": "gone", "expires_at": time.time() - 1}
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(dead).encode())
    lines: list[str] = []
    with S3Lease(s3_store("a"), key, lines.append, poll_s=0.05) as lease:
        held = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert held["owner"] == lease.owner
    assert any("lease of a dead holder expired" in line for line in lines)


def test_a_live_lease_makes_the_second_builder_wait(s3_store):
    key = "prod/acme-health/dr-ana/video_clips/.lock-0123456789abcdef"
    first = S3Lease(s3_store("a"), key, lambda _: None).__enter__()
    lines: list[str] = []
    done = threading.Event()

    def second() -> None:
        with S3Lease(s3_store("b"), key, lines.append, poll_s=0.05):
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set() and any("another host is building it" in x for x in lines)
    first.__exit__(None, None, None)
    thread.join(timeout=30)
    assert done.is_set()


def test_production_runs_one_run_per_partition_at_a_time():
    import yaml

    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {
        "key": "dagster/partition",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in (limits)
