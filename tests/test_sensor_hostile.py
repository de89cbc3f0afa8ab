"""A sensor no file can break, and runs that read the brief the sensor validated."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import materialize_fresh, small_brief, write_brief
from dagster import DagsterInstance, build_sensor_context, instance_for_test
from quick_chain import evaluate_nightly, moto_server

from assets.character_brief import character_brief
from assets.stages.character_brief import BRIEF_YAML, brief_for_run
from pipeline.sensors import brief_inbox_sensor, errors_file, scan_inbox, skip_reason
from pipeline.settings import resource_defs
from resources.domain.brief import MAX_BRIEF_BYTES, BriefError, load_brief
from resources.inbox import BriefInbox
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # sensor runs of whole chains

KEY = "acme-health/dr-ana"
PIP = "sunny-foods/pip"


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


def pip_brief() -> dict:
    return small_brief(client="sunny-foods", character={**small_brief()["character"], "id": "pip"})


def tick(instance: DagsterInstance, inbox: BriefInbox | Path, cursor: str | None = None):
    """One sensor evaluation in a thread: a tick that blocks fails the test instead of hanging."""
    if isinstance(inbox, Path):
        inbox = BriefInbox(paths=[str(inbox)])
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"inbox": inbox})
    outcome: dict = {}

    def evaluate() -> None:
        try:
            outcome["result"] = brief_inbox_sensor(context)
        except BaseException as error:  # noqa: BLE001 - handed to the test below
            outcome["error"] = error

    worker = threading.Thread(target=evaluate, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the tick did not finish in 60 s"
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def report_of(brief: Path) -> str:
    return errors_file(brief).read_text()


def hostile_inbox(root: Path) -> Path:
    """An inbox holding one good brief and everything else that once broke or fooled a tick."""
    inbox = root / "inbox"
    write_brief(inbox, small_brief(), name="ana.yaml")
    os.mkfifo(inbox / "z.yaml")
    (inbox / "zero.yaml").symlink_to("/dev/zero")
    (inbox / "deep.yaml").write_text("client: " + "[" * 2000 + "]" * 2000 + "\n")
    (inbox / "x.yaml").mkdir()
    (inbox / "deep.yaml.errors.txt").mkdir()  # where deep.yaml's report would go
    (inbox / "ana.yaml.errors.txt").mkdir()  # and where the good brief's stale one would be
    outside = write_brief(root / "elsewhere", pip_brief(), name="pip.yaml")
    (inbox / "pip.yaml").symlink_to(outside)
    return inbox


def test_one_tick_survives_every_hostile_file_reports_each_and_runs_the_good_brief(
    instance, tmp_path
):
    inbox = hostile_inbox(tmp_path)
    result = tick(instance, inbox)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    assert "not a regular file (a FIFO)" in report_of(inbox / "z.yaml")
    assert "a symbolic link (to /dev/zero)" in report_of(inbox / "zero.yaml")
    assert "not a regular file (a directory)" in report_of(inbox / "x.yaml")
    assert "a symbolic link (to " in report_of(inbox / "pip.yaml")
    assert (inbox / "deep.yaml.errors.txt").is_dir()  # could not be written: reported instead
    second = tick(instance, inbox, result.cursor)
    assert second.run_requests == []
    # Refused files are reported once, not again on every tick.
    assert second.skip_reason is None


def test_the_hostile_inbox_tick_reports_what_it_could_not_write(tmp_path):
    inbox = hostile_inbox(tmp_path)
    lines: list[str] = []
    files = BriefInbox(paths=[str(inbox)]).files()
    result = scan_inbox(files, {}, set(), log=lines.append)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    assert f"{inbox / 'deep.yaml'}: (file): nested deeper than 50 levels at line 1" in lines
    assert any(
        line.startswith("deep.yaml: cannot write deep.yaml.errors.txt: ") for line in lines
    ), lines
    assert any(u.startswith("deep.yaml: cannot write") for u in result.unreported)
    assert any(
        u.startswith("ana.yaml: cannot remove ana.yaml.errors.txt") for u in result.unreported
    )
    assert sorted(Path(n).name for n in result.problems) == [
        "deep.yaml",
        "pip.yaml",
        "x.yaml",
        "z.yaml",
        "zero.yaml",
    ]


def test_an_unreadable_brief_is_reported_not_skipped(instance, tmp_path, monkeypatch):
    secret = write_brief(tmp_path, pip_brief(), name="secret.yaml")
    write_brief(tmp_path, small_brief(), name="ana.yaml")
    real_open = os.open

    def refuse(target, flags, *args):  # as os.open fails for a file of mode 000, not as root
        if Path(target) == secret:
            raise PermissionError(13, "Permission denied", str(target))
        return real_open(target, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    result = tick(instance, tmp_path)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    assert "(file): cannot read: Permission denied" in report_of(secret)


@contextmanager
def unprivileged() -> Iterator[None]:
    """Act as nobody (root reads and writes every file whatever its mode); back to root after."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_dir(tmp_path) -> Iterator[Path]:
    """A folder nobody can reach (pytest's tmp_path is root's, mode 700)."""
    # Warm every import a tick needs while still root (the interpreter lives under /root).
    scan_inbox([write_brief(tmp_path, small_brief())], {}, set(), log=lambda line: None)
    folder = Path(tempfile.mkdtemp(prefix="inbox-"))
    folder.chmod(0o777)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(folder)


def test_a_file_of_mode_000_is_reported_when_it_really_cannot_be_read(shared_dir):
    secret = write_brief(shared_dir, pip_brief(), name="secret.yaml")
    secret.chmod(0o000)
    write_brief(shared_dir, small_brief(), name="ana.yaml")
    with unprivileged():
        result = scan_inbox(BriefInbox(paths=[str(shared_dir)]).files(), {}, set(), log=print)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    assert result.problems == {str(secret): ["(file): cannot read: Permission denied"]}


def test_a_read_only_inbox_still_runs_good_briefs_and_reports_in_the_log(shared_dir):
    write_brief(shared_dir, small_brief(), name="ana.yaml")
    bad = pip_brief()
    bad["shots"][0]["duration_s"] = -1
    write_brief(shared_dir, bad, name="bad.yaml")
    shared_dir.chmod(0o555)
    lines: list[str] = []
    with unprivileged():
        files = BriefInbox(paths=[str(shared_dir)]).files()
        result = scan_inbox(files, {}, set(), log=lines.append)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    failure = "bad.yaml: cannot write bad.yaml.errors.txt: Permission denied"
    assert result.unreported == [failure]
    assert failure in lines
    assert f"{shared_dir / 'bad.yaml'}: shots[0].duration_s: " in "\n".join(lines)
    assert failure in skip_reason(result)
    assert not errors_file(shared_dir / "bad.yaml").exists()


def test_a_tick_that_runs_nothing_says_why(instance, tmp_path):
    bad = small_brief()
    bad["lora"]["alpha"] = float("inf")
    write_brief(tmp_path, bad, name="bad.yaml")
    result = tick(instance, tmp_path)
    assert result.run_requests == []
    message = result.skip_reason.skip_message
    assert message.startswith("bad.yaml was not run")
    assert "lora.alpha: Input should be a finite number" in message


def test_parsing_stops_when_the_tick_budget_is_spent_and_the_rest_waits(tmp_path):
    names = [
        write_brief(tmp_path, small_brief(client=f"c-{i}"), name=f"{i}.yaml") for i in range(5)
    ]
    clock = iter(range(1000)).__next__  # one "second" per look at the clock

    def scan(state):
        return scan_inbox(names, state, set(), log=lambda line: None, budget_s=2.5, clock=clock)

    ticks = [scan({})]
    while ticks[-1].deferred:
        ticks.append(scan(ticks[-1].state))
        assert len(ticks) < 10
    assert ticks[0].deferred > 0 and len(ticks) > 1
    ran = [r.partition_key for t in ticks for r in t.run_requests]
    assert sorted(ran) == sorted(f"c-{i}/dr-ana" for i in range(5))


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


def test_s3_object_over_the_size_limit_is_refused_without_downloading_it(
    instance, s3_endpoint, monkeypatch, tmp_path
):
    for name, value in (
        ("AWS_ENDPOINT_URL_S3", s3_endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="big-briefs")
    body = yaml.safe_dump(small_brief()).encode()
    s3.put_object(Bucket="big-briefs", Key="inbox/ana.yaml", Body=body)
    huge = yaml.safe_dump(pip_brief()).encode() + b"#" * (3 * MAX_BRIEF_BYTES) + b"\n"
    s3.put_object(Bucket="big-briefs", Key="inbox/huge.yaml", Body=huge)
    inbox = BriefInbox(paths=["s3://big-briefs/inbox/"], mirror=str(tmp_path / "mirror"))
    result = tick(instance, inbox)
    assert [r.partition_key for r in result.run_requests] == [KEY]
    mirrored = tmp_path / "mirror" / "big-briefs" / "inbox" / "huge.yaml"
    assert mirrored.stat().st_size == MAX_BRIEF_BYTES + 1
    report = s3.get_object(Bucket="big-briefs", Key="inbox/huge.yaml.errors.txt")["Body"].read()
    assert "a brief is at most 1,000,000 bytes (1 MB)" in report.decode()


# The run uses the brief the sensor validated.


def run_brief_asset(instance, root: Path, inbox: Path, request):
    """Materialize character_brief as the run the sensor requested would."""
    resources = resource_defs(root=root, profile="tiny", inbox=[str(inbox)])
    return materialize_fresh(
        [character_brief],
        partition_key=request.partition_key,
        instance=instance,
        resources=resources,
        run_config=request.run_config,
        tags=request.tags,
        raise_on_error=False,
    )


def test_a_copy_dropped_while_the_run_is_queued_neither_fails_nor_changes_it(instance, tmp_path):
    inbox = tmp_path / "inbox"
    original = write_brief(inbox, small_brief(), name="a.yaml")
    first = tick(instance, inbox)
    (request,) = first.run_requests
    # While the run waits in the queue, a copy (with an edit) lands in the inbox.
    copy = small_brief()
    copy["shots"][0]["prompt"] = "a different take"
    write_brief(inbox, copy, name="b.yaml")
    outcome = run_brief_asset(instance, tmp_path / "artifacts", inbox, request)
    assert outcome.success
    store = ArtifactStore(root=str(tmp_path / "artifacts"))
    (folder,) = [p for p in (Path(store.root)).rglob(BRIEF_YAML)]
    assert folder.read_bytes() == original.read_bytes()
    # The next tick reports the copy, on the copy; the original keeps its partition.
    second = tick(instance, inbox, first.cursor)
    assert second.run_requests == []
    report = report_of(inbox / "b.yaml")
    assert "already the partition of" in report and "a.yaml" in report
    assert "keep one brief per client/character" in report
    assert not errors_file(original).exists()
    assert second.skip_reason.skip_message.startswith("b.yaml was not run")
    assert "character: acme-health/dr-ana is already the partition of" in (
        second.skip_reason.skip_message
    )
    # Once the copy is gone its report goes too, and nothing runs again.
    (inbox / "b.yaml").unlink()
    third = tick(instance, inbox, second.cursor)
    assert third.run_requests == []
    assert not errors_file(inbox / "b.yaml").exists()


def test_the_holder_of_a_partition_still_runs_its_edits_while_a_copy_waits(instance, tmp_path):
    inbox = tmp_path / "inbox"
    write_brief(inbox, small_brief(), name="a.yaml")
    first = tick(instance, inbox)
    write_brief(inbox, small_brief(), name="b.yaml")
    second = tick(instance, inbox, first.cursor)
    edited = small_brief()
    edited["shots"][1]["seed"] = 1234
    write_brief(inbox, edited, name="a.yaml")
    third = tick(instance, inbox, second.cursor)
    (request,) = third.run_requests
    assert request.tags["brief/source"] == str(inbox / "a.yaml")
    assert "seed: 1234" in request.run_config["ops"]["character_brief"]["config"]["brief_yaml"]


def test_a_run_without_the_recorded_brief_reads_the_inbox_and_names_both_copies(tmp_path):
    inbox = tmp_path / "inbox"
    a = write_brief(inbox, small_brief(), name="a.yaml")
    b = write_brief(inbox, small_brief(), name="b.yaml")
    with pytest.raises(BriefError) as caught:
        brief_for_run(KEY, BriefInbox(paths=[str(inbox)]))
    (problem,) = caught.value.problems
    assert str(a) in problem and str(b) in problem and "several briefs" in problem
    b.unlink()
    source, brief, raw = brief_for_run(KEY, BriefInbox(paths=[str(inbox)]))
    assert (source, brief, raw) == (a, load_brief(a), a.read_bytes())


def test_a_recorded_brief_for_another_partition_is_refused(tmp_path):
    raw = yaml.safe_dump(pip_brief())
    with pytest.raises(BriefError) as caught:
        brief_for_run(KEY, BriefInbox(paths=[str(tmp_path)]), "pip.yaml", raw)
    assert caught.value.problems == [f"(run config): the brief is for {PIP}, the run for {KEY}"]


def test_the_nightly_schedule_also_hands_the_run_its_validated_brief(instance, tmp_path):
    path = write_brief(tmp_path / "inbox", small_brief())
    (request,) = evaluate_nightly(instance, tmp_path / "inbox", tmp_path / "artifacts")
    config = request.run_config["ops"]["character_brief"]["config"]
    assert config == {"source": str(path), "brief_yaml": path.read_text()}


def test_the_chain_job_accepts_the_run_config_the_sensor_requests(instance, tmp_path):
    from dagster import validate_run_config

    from pipeline.definitions import defs

    write_brief(tmp_path, small_brief())
    (request,) = tick(instance, tmp_path).run_requests
    job = defs.resolve_job_def(brief_inbox_sensor.job_name)
    validated = validate_run_config(job, request.run_config)
    config = validated["ops"]["character_brief"]["config"]
    assert config["brief_yaml"] == (tmp_path / "brief.yaml").read_text()
