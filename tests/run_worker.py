"""Run the character_video job the way production does, from this process (a test helper).

    python tests/run_worker.py launch PARTITION   create and submit a run; prints its id first
    python tests/run_worker.py launch-steps PARTITION
                                                  the same, with the job's own executor (each
                                                  step in a process forked from a server that
                                                  preloaded the chain: the daemon's and ECS's
                                                  runs); `launch` runs every step in this process
    python tests/run_worker.py retry RUN_ID       what the daemon does with a failed run: mark a
                                                  run whose worker died as failed (run
                                                  monitoring), then relaunch it from failure
                                                  if Dagster's run-retry rules say so

The instance is DAGSTER_HOME's (the test writes its dagster.yaml: run retries on, a launcher that
runs the run synchronously in this process). Settings come from the environment, read when
pipeline.definitions is imported here; PYTHONPATH must put this checkout first. One JSON object
per line on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import (
    filter_runs_to_should_retry,
    retry_run,
)

REPO = Path(__file__).resolve().parent.parent
LOCATION, JOB = "character_video", "character_video"


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def workspace(instance: DagsterInstance) -> WorkspaceProcessContext:
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name="pipeline.definitions",
            working_directory=str(REPO),
        ),
        location_name=LOCATION,
    )
    return WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin))


def launch(partition: str, steps_in_processes: bool = False) -> None:
    from assets.partitions import CHARACTERS
    from pipeline.definitions import defs

    job = defs.resolve_job_def(JOB)
    with DagsterInstance.get() as instance, workspace(instance) as context:
        instance.add_dynamic_partitions(CHARACTERS, [partition])
        request = context.create_request_context()
        remote_job = (
            request.get_code_location(LOCATION).get_repository("__repository__").get_full_job(JOB)
        )
        run = instance.create_run_for_job(
            job_def=job,
            # `launch`: one process per run, so the whole instance dies at once when a test kills
            # it; `launch-steps`: no execution config, the job's own executor (pipeline/jobs.py).
            run_config={} if steps_in_processes else {"execution": {"config": {"in_process": {}}}},
            tags={**job.tags, "dagster/partition": partition},
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        say(run_id=run.run_id)
        instance.submit_run(run.run_id, request)
        say(run_id=run.run_id, status=instance.get_run_by_id(run.run_id).status.value)


def retry(run_id: str) -> None:
    with DagsterInstance.get() as instance, workspace(instance) as context:
        run = instance.get_run_by_id(run_id)
        if not run.is_finished:
            instance.report_run_failed(run, "run worker lost: its process is gone")
        run = instance.get_run_by_id(run_id)
        if not list(filter_runs_to_should_retry([run], instance)):
            say(retried=False, tags=dict(run.tags))
            return
        retry_run(run, context)
        child = instance.get_run_by_id(
            instance.get_run_by_id(run_id).tags["dagster/auto_retry_run_id"]
        )
        say(retried=True, run_id=child.run_id, status=child.status.value, tags=dict(child.tags))


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    {
        "launch": launch,
        "launch-steps": lambda partition: launch(partition, steps_in_processes=True),
        "retry": retry,
    }[command](argument)
