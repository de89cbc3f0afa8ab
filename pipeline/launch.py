"""Runs launched by the CLI and the review app: the `character_video` job, in process or queued.

The same named job, with the same tags (GPU pool, retries, placement) and the same run name tags
(`character`, `brief/file`) as the sensor's and the schedule's runs, so the UI lists them alike.
`run_chain` executes it in this process; `submit_chain` queues it on the Dagster instance, whose
run coordinator and launcher start it (the daemon; on AWS an ECS GPU task), as the sensor's runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from resources.domain.brief import BRIEF_ASSET, Brief, BriefError, load_brief, read_snapshot
from resources.domain.chain import detail_line
from resources.domain.lineage import FINAL_ASSET


def brief_source(store: Any, client: str, character: str) -> Path:
    """The brief file the character's current snapshot was made from (to run it again)."""
    ref = store.current(client, character, BRIEF_ASSET)
    source = Path(store.manifest(ref)["parameters"]["source"])
    if not source.is_file():
        raise BriefError(
            f"{client}/{character}",
            [f"(inbox): the brief {source} of the current snapshot is gone; save it again"],
        )
    return source


def brief_snapshot(store: Any, client: str, character: str) -> Brief:
    """The character's current brief snapshot, as every stage reads it (re-rolls merged in)."""
    ref = store.current(client, character, BRIEF_ASSET)
    return read_snapshot(store.path(ref), ref.key)


def open_instance(settings: Any) -> Any:
    """The Dagster instance of `settings.instance_home` (DAGSTER_HOME, or the artifacts' own);
    an in-memory one where neither exists.

    Every launcher (CLI, review app, its runs, `make dev`'s UI and daemon) opens this one, so
    Dagster and the artifact store tell the same story.
    """
    from dagster import DagsterInstance

    if settings.dagster_home:
        return DagsterInstance.get()
    home = settings.instance_home
    if home is None:
        return DagsterInstance.ephemeral()
    return DagsterInstance.from_config(str(home))


def run_chain(
    path: Path,
    *,
    resources: dict[str, Any],
    instance: Any,
    launched_by: str,
    brief: Brief | None = None,
    raise_on_error: bool = True,
    log_level: str = "INFO",
):
    """Run `character_video` for the brief at `path`; the ExecuteInProcessResult."""
    from dagster import Definitions
    from dagster._core.definitions.definitions_load_context import (
        DefinitionsLoadContext,
        DefinitionsLoadType,
    )
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    from assets.partitions import CHARACTERS
    from pipeline.definitions import RUN_ASSETS
    from pipeline.jobs import character_video_job
    from pipeline.sensors import brief_run_tags

    brief = brief or load_brief(path)
    key = brief.partition_key
    instance.add_dynamic_partitions(CHARACTERS, [key])
    # Resolved with no definitions-state storage: no definition of this project is state-backed,
    # and Dagster keeps the storage of the last instance entered in a context variable whose
    # weak reference outlives that instance ("undefined DagsterInstance weakref", seen with the
    # review app's instance and, in CI, even with this run's own instance's storage).
    # The load context is made here, where no storage is set, and installed for the resolution:
    # Dagster then reads no storage at all while it builds the job.
    with (
        set_defs_state_storage(None),
        DefinitionsLoadContext.scoped(
            DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)
        ),
    ):
        job = Definitions(
            assets=RUN_ASSETS, jobs=[character_video_job], resources=resources
        ).resolve_job_def(character_video_job.name)
    tags = brief_run_tags(
        str(path.resolve()), brief.content_hash()[:16], key=key, launched_by=launched_by
    )
    tags.update(zip(PROCESS_TAGS, (socket.gethostname(), str(os.getpid())), strict=True))
    with keeping_sigterm():
        return job.execute_in_process(
            partition_key=key,
            instance=instance,
            tags=tags,
            raise_on_error=raise_on_error,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )


@contextlib.contextmanager
def keeping_sigterm():
    """SIGTERM as it was before the block, after it.

    Dagster's in-process execution points SIGTERM at SIGINT's handler and, on its way out, at
    SIGINT's handler again. A process a shell started in the background ignores SIGINT, so from
    then on it ignored SIGTERM too, and so did every process it started (an ignored signal stays
    ignored across exec): a voice worker, the next run of `demo`, a chain the review app's Stop
    could then not stop. Signals are the main thread's to set; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


REPO = Path(__file__).resolve().parents[1]
ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def submit_chain(path: Path, *, launched_by: str, instance: Any) -> str:
    """Queue `character_video` for the brief at `path` on `instance`; the run's id.

    Dagster's own `dagster job launch` submits it through the instance's run coordinator (queued
    for the daemon) with the sensor's tags and run config, so it runs wherever the sensor's runs
    run. `instance` must be the persistent one of DAGSTER_HOME that the daemon reads.
    """
    from assets.partitions import CHARACTERS
    from pipeline.jobs import character_video_job
    from pipeline.sensors import brief_run_config, brief_run_tags

    raw = path.read_bytes()
    brief = load_brief(path)
    key = brief.partition_key
    instance.add_dynamic_partitions(CHARACTERS, [key])
    source = str(path.resolve())
    tags = {
        **brief_run_tags(source, brief.content_hash()[:16], key=key, launched_by=launched_by),
        "dagster/partition": key,
    }
    run_id = str(uuid.uuid4())
    command = [
        *_dagster_cli(),
        "job",
        "launch",
        "-w",
        str(REPO / "workspace.yaml"),
        "-j",
        character_video_job.name,
        "--tags",
        json.dumps(tags),
        "--config-json",
        json.dumps(brief_run_config(source, raw)),
        "--run-id",
        run_id,
    ]
    # The environment is inherited: DAGSTER_HOME names the instance it submits to.
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"dagster job launch failed ({done.returncode}): {last}")
    return run_id


def _dagster_cli() -> list[str]:
    """The `dagster` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("dagster")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from dagster._cli import main; main()"]


def active_runs(instance: Any, key: str) -> list[Any]:
    """The character's runs on `instance` that are queued or running (any launcher).

    A run executed in a local process (`run_chain`) that was killed leaves no end in the
    instance; one whose process on this host is gone is marked failed here, not counted.
    """
    return _alive(instance, _active_filter({"character": key}))


def active_runs_by_character(instance: Any) -> dict[str, list[Any]]:
    """Every character's runs on `instance` that are queued or running, by partition key.

    One query for the whole instance, however many characters the store holds (the review
    app's home page asked once per character: 0.9 s of a 1.3 s page with 400 characters).
    """
    found: dict[str, list[Any]] = {}
    for run in _alive(instance, _active_filter({})):
        if key := run.tags.get("character"):
            found.setdefault(key, []).append(run)
    return found


def _active_filter(tags: dict[str, str]) -> Any:
    from dagster import DagsterRunStatus, RunsFilter

    return RunsFilter(tags=tags, statuses=[DagsterRunStatus[s] for s in ACTIVE])


def _alive(instance: Any, runs_filter: Any) -> list[Any]:
    """The runs `runs_filter` finds; one whose local process is gone is marked failed instead."""
    alive = []
    for run in instance.get_runs(runs_filter):
        if _process_gone(run.tags):
            instance.report_run_failed(run, "the local process that ran it is gone (killed)")
        else:
            alive.append(run)
    return alive


def stop_runs(instance: Any, key: str) -> tuple[list[str], list[str]]:
    """Stop the character's runs in flight on `instance`: (the ids stopped, a line for each run
    that could not be).

    A queued run is cancelled before it starts; a run executed in a local process on this host
    (`run_chain`) gets SIGTERM and is recorded as cancelled; any other is terminated by the
    instance's run launcher (the ECS launcher stops its task).
    """
    from dagster import DagsterRunStatus

    stopped, refused = [], []
    for run in active_runs(instance, key):
        host, pid = (run.tags.get(name) for name in PROCESS_TAGS)
        if run.status in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED):
            _cancelled(instance, run, "stopped before it started")
        elif host == socket.gethostname() and (pid or "").isdigit():
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(int(pid), signal.SIGTERM)
            _cancelled(instance, run, f"stopped: SIGTERM to process {pid}")
        elif not _terminated(instance, run.run_id):
            where = f" on {host}" if host else ""
            refused.append(f"run {run.run_id}{where}: its launcher could not stop it")
            continue
        stopped.append(run.run_id)
    return stopped, refused


def _terminated(instance: Any, run_id: str) -> bool:
    """Whether the instance's run launcher terminated the run (the ECS launcher stops its task;
    an in-process launcher cannot terminate anything)."""
    from dagster_shared.check import CheckError

    try:
        return bool(instance.run_launcher.terminate(run_id))
    except (NotImplementedError, CheckError):
        return False


def _cancelled(instance: Any, run: Any, message: str) -> None:
    instance.report_run_canceling(run, message=message)
    instance.report_run_canceled(run)


def how_run_ended(instance: Any, run_id: str) -> tuple[str, str] | None:
    """("finished", "failed" or "stopped", the first line of its first error) for a run that has
    ended on `instance`; None while it is queued or running, or when the instance does not
    know it.

    The stages' own records miss some ends: a blocking check that fails after its asset is
    written, an ad-hoc selection from the Dagster UI that stops before the chain's last stage.
    """
    from dagster import DagsterEventType, DagsterRunStatus

    run = instance.get_run_by_id(run_id)
    if run is None or not run.is_finished:
        return None
    if run.status == DagsterRunStatus.SUCCESS:
        return "finished", ""
    if run.status == DagsterRunStatus.CANCELED:
        return "stopped", ""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        check = entry.dagster_event.event_specific_data
        if check.blocking and not check.passed:  # the check names what it found
            return "failed", detail_line(
                f"{check.check_name}: {check.description or ''}".rstrip(": ")
            )
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        error = entry.dagster_event.step_failure_data.error
        while error is not None and error.cause is not None:  # Dagster wraps the stage's error
            error = error.cause
        if error is not None and error.message.strip():
            first = detail_line(error.message)
            head, colon, rest = first.partition(": ")  # "module.ErrorClass: what went wrong"
            if colon and rest and head.split(".")[-1] == error.cls_name:
                first = rest
            return "failed", first
    return "failed", run.status.value.lower()


PROCESS_TAGS = ("process/host", "process/pid")  # where a local run_chain ran


def _process_gone(tags: dict[str, str]) -> bool:
    host, pid = (tags.get(name) for name in PROCESS_TAGS)
    if host != socket.gethostname() or not (pid or "").isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def current_deliverable(store: Any, client: str, character: str) -> Path | None:
    """The current final cut of a character, or None when there is none (yet)."""
    from assets.stages.deliverables import final_file
    from resources.domain.artifacts import ArtifactError

    try:
        ref = store.current(client, character, FINAL_ASSET)
    except ArtifactError:
        return None
    return final_file(store.path(ref), store.manifest(ref))
