"""The brief inbox sensor and the nightly schedule, evaluated as the Dagster daemon would."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import yaml
from conftest import small_brief, write_brief
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    SensorResult,
    build_sensor_context,
    instance_for_test,
)
from quick_chain import evaluate_nightly, moto_server

from assets.partitions import CHARACTERS
from pipeline.sensors import brief_inbox_sensor, errors_file, scan_inbox
from resources.domain.brief import load_brief
from resources.inbox import BriefInbox

pytestmark = pytest.mark.slow  # sensor runs of whole chains

KEY = "acme-health/dr-ana"


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


def tick(instance: DagsterInstance, inbox: Path, cursor: str | None = None) -> SensorResult:
    """One sensor evaluation; applies its partition requests like the daemon does."""
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"inbox": BriefInbox(paths=[str(inbox)])}
    )
    result = brief_inbox_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def other_brief() -> dict:
    return small_brief(client="sunny-foods", character={**small_brief()["character"], "id": "pip"})


def test_new_brief_adds_its_partition_and_requests_a_run(instance, tmp_path):
    brief = write_brief(tmp_path, small_brief())
    result = tick(instance, tmp_path)
    (request,) = result.run_requests
    assert request.partition_key == KEY
    assert request.run_key == f"{KEY}@{load_brief(brief).content_hash()[:16]}"
    (partitions,) = result.dynamic_partitions_requests
    assert partitions.partitions_def_name == CHARACTERS
    assert list(partitions.partition_keys) == [KEY]


def test_second_tick_with_the_cursor_requests_nothing(instance, tmp_path):
    write_brief(tmp_path, small_brief())
    first = tick(instance, tmp_path)
    second = tick(instance, tmp_path, first.cursor)
    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []


def test_changed_brief_runs_again_under_a_new_run_key(instance, tmp_path):
    write_brief(tmp_path, small_brief())
    first = tick(instance, tmp_path)
    changed = small_brief()
    changed["shots"][0]["prompt"] = "she smiles at the camera"
    write_brief(tmp_path, changed)
    second = tick(instance, tmp_path, first.cursor)
    (request,) = second.run_requests
    assert request.partition_key == KEY
    assert request.run_key != first.run_requests[0].run_key
    assert second.dynamic_partitions_requests == []  # the partition exists already


def test_comment_only_edit_is_not_run_again(instance, tmp_path):
    brief = write_brief(tmp_path, small_brief())
    first = tick(instance, tmp_path)
    brief.write_text("# reviewed by the producer\n" + brief.read_text())
    assert tick(instance, tmp_path, first.cursor).run_requests == []


def test_invalid_brief_is_reported_next_to_it_and_valid_briefs_still_run(instance, tmp_path):
    bad = small_brief()
    bad["shots"][0]["duration_s"] = -1
    bad_path = write_brief(tmp_path, bad, name="broken.yaml")
    write_brief(tmp_path, other_brief(), name="pip.yaml")
    result = tick(instance, tmp_path)
    assert [r.partition_key for r in result.run_requests] == ["sunny-foods/pip"]
    report = errors_file(bad_path).read_text()
    assert "shots[0].duration_s" in report
    assert "broken.yaml was not run" in report


def test_unreadable_yaml_does_not_stop_the_tick(instance, tmp_path):
    (tmp_path / "garbled.yaml").write_text("client: [unclosed\n")
    write_brief(tmp_path, small_brief())
    result = tick(instance, tmp_path)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    assert "not valid YAML" in errors_file(tmp_path / "garbled.yaml").read_text()


def test_fixed_brief_loses_its_errors_file_and_runs(instance, tmp_path):
    bad = small_brief()
    del bad["shots"]
    path = write_brief(tmp_path, bad)
    first = tick(instance, tmp_path)
    assert first.run_requests == [] and errors_file(path).is_file()
    write_brief(tmp_path, small_brief())
    second = tick(instance, tmp_path, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [KEY]
    assert not errors_file(path).exists()


def test_two_briefs_for_one_character_run_neither(instance, tmp_path):
    first_path = write_brief(tmp_path, small_brief(), name="a.yaml")
    other = small_brief()
    other["shots"][0]["seed"] = 99
    write_brief(tmp_path, other, name="b.yaml")
    first = tick(instance, tmp_path)
    assert first.run_requests == []
    assert "keep one brief per client/character" in errors_file(first_path).read_text()
    (tmp_path / "b.yaml").unlink()
    second = tick(instance, tmp_path, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [KEY]
    assert not errors_file(first_path).exists()
    assert not errors_file(tmp_path / "b.yaml").exists()


def test_a_flood_of_briefs_is_spread_over_ticks_without_losing_any(tmp_path):
    names = []
    for i in range(5):
        data = small_brief(client=f"client-{i}")
        names.append(write_brief(tmp_path, data, name=f"{i}.yaml"))
    first = scan_inbox(sorted(names), {}, set(), log=lambda line: None, max_changed=3)
    second = scan_inbox(sorted(names), first.state, set(), log=lambda line: None, max_changed=3)
    third = scan_inbox(sorted(names), second.state, set(), log=lambda line: None, max_changed=3)
    assert (len(first.run_requests), first.deferred) == (3, 2)
    assert (len(second.run_requests), second.deferred) == (2, 0)
    assert third.run_requests == []
    ran = {r.partition_key for r in first.run_requests + second.run_requests}
    assert ran == {f"client-{i}/dr-ana" for i in range(5)}


def test_garbage_cursor_starts_afresh_instead_of_failing(instance, tmp_path):
    write_brief(tmp_path, small_brief())
    result = tick(instance, tmp_path, cursor="not a cursor")
    assert [r.partition_key for r in result.run_requests] == [KEY]


def test_nightly_schedule_requests_pending_briefs_and_adds_their_partitions(instance, tmp_path):
    write_brief(tmp_path / "inbox", small_brief())
    write_brief(tmp_path / "inbox", other_brief(), name="pip.yaml")
    requests = evaluate_nightly(instance, tmp_path / "inbox", tmp_path / "artifacts")
    assert sorted(r.partition_key for r in requests) == [KEY, "sunny-foods/pip"]
    assert all(r.run_key.startswith("nightly-2026-11-21:") for r in requests)
    assert set(instance.get_dynamic_partitions(CHARACTERS)) == {KEY, "sunny-foods/pip"}


def test_nightly_schedule_skips_a_character_whose_run_is_in_flight(instance, tmp_path):
    write_brief(tmp_path / "inbox", small_brief())
    write_brief(tmp_path / "inbox", other_brief(), name="pip.yaml")
    instance.add_dynamic_partitions(CHARACTERS, [KEY])
    instance.add_run(
        DagsterRun(
            job_name="character_video",
            run_id="0" * 36,
            status=DagsterRunStatus.STARTED,
            tags={"dagster/partition": KEY},
        )
    )
    requests = evaluate_nightly(instance, tmp_path / "inbox", tmp_path / "artifacts")
    assert [r.partition_key for r in requests] == ["sunny-foods/pip"]


def test_sensor_and_schedule_target_the_chain_and_the_client_report():
    from pipeline.definitions import defs
    from resources.domain.chain import CHAIN_NAMES as CHAIN

    expected = {*CHAIN, "client_report"}
    # Resolving the repository reads definitions state through the current instance; earlier
    # tests' temporary instances are gone by now, so give it one.
    with instance_for_test():
        sensor = defs.resolve_sensor_def("brief_inbox_sensor")
        schedule = defs.resolve_schedule_def("nightly_briefs")
        for job_name in (sensor.job_name, schedule.job_name):
            job = defs.resolve_job_def(job_name)
            assert {key.path[-1] for key in job.asset_layer.selected_asset_keys} == expected
    assert schedule.cron_schedule == "0 2 * * *"
    assert sensor.default_status.value == "RUNNING"


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_inbox(s3_endpoint, monkeypatch, tmp_path):
    """An S3 prefix on moto's server, and a BriefInbox reading it through a local mirror."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3")
    bucket = f"briefs-{tmp_path.name.replace('_', '-')[-30:]}".lower()
    s3.create_bucket(Bucket=bucket)
    inbox = BriefInbox(paths=[f"s3://{bucket}/inbox/"], mirror=str(tmp_path / "mirror"))
    return s3, bucket, inbox


def put_brief(s3, bucket: str, name: str, data: dict) -> None:
    body = yaml.safe_dump(data, sort_keys=False).encode()
    s3.put_object(Bucket=bucket, Key=f"inbox/{name}", Body=body)


def s3_tick(instance, inbox: BriefInbox, cursor: str | None = None) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"inbox": inbox})
    return brief_inbox_sensor(context)


def test_s3_inbox_brief_runs_and_its_errors_are_written_next_to_the_object(instance, s3_inbox):
    s3, bucket, inbox = s3_inbox
    put_brief(s3, bucket, "ana.yaml", small_brief())
    bad = other_brief()
    bad["video"] = {"model": "no-such-model"}
    put_brief(s3, bucket, "pip.yaml", bad)
    first = s3_tick(instance, inbox)
    assert [r.partition_key for r in first.run_requests] == [KEY]
    report = s3.get_object(Bucket=bucket, Key="inbox/pip.yaml.errors.txt")["Body"].read().decode()
    assert "video.model: unknown video model 'no-such-model'" in report
    put_brief(s3, bucket, "pip.yaml", other_brief())
    second = s3_tick(instance, inbox, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["sunny-foods/pip"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="inbox/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["inbox/ana.yaml", "inbox/pip.yaml"]


def test_s3_inbox_finds_the_brief_a_run_reads(s3_inbox):
    s3, bucket, inbox = s3_inbox
    put_brief(s3, bucket, "ana.yaml", small_brief())
    path, brief = inbox.find(KEY)
    assert brief.partition_key == KEY
    assert path.read_bytes() == s3.get_object(Bucket=bucket, Key="inbox/ana.yaml")["Body"].read()


def test_inbox_setting_keeps_s3_prefixes_whole(monkeypatch):
    from pipeline.settings import resource_defs

    monkeypatch.setenv("CHARACTER_VIDEO_INBOX", "examples:s3://studio-briefs/inbox/:/srv/briefs")
    inbox = resource_defs(root="/tmp/unused-root")["inbox"]
    assert inbox.paths == ["examples", "s3://studio-briefs/inbox/", "/srv/briefs"]


def test_a_tick_with_only_invalid_briefs_says_why_in_its_skip_reason(instance, tmp_path):
    bad = small_brief()
    bad["character"]["descricao"] = bad["character"].pop("description")
    write_brief(tmp_path, bad, name="broken.yaml")
    result = tick(instance, tmp_path)
    assert result.run_requests == []
    reason = result.skip_reason.skip_message
    assert reason.startswith("broken.yaml was not run / não foi executado:")
    assert "character.descricao: unknown field; did you mean `description`?" in reason
    assert "pt-BR: character.description: campo obrigatório ausente" in reason
