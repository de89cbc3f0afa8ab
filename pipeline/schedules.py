"""The nightly batch: every valid brief whose deliverable is not built from it yet, in one go.

The sensor runs briefs as they arrive. A studio that would rather render at night (cheaper Spot
hours, the GPUs free for daytime previews) stops the sensor and turns this schedule on; it also
catches up briefs whose run failed or was cancelled during the day.
"""

from __future__ import annotations

from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from assets.partitions import CHARACTERS
from pipeline.jobs import character_video_job
from pipeline.sensors import brief_run_config, brief_run_tags
from resources.brief_files import partition_conflicts
from resources.domain.lineage import is_up_to_date
from resources.inbox import BriefInbox
from resources.storage.artifact_store import ArtifactStore

NIGHTLY_CRON = "0 2 * * *"
STUDIO_TIMEZONE = "America/Sao_Paulo"
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@schedule(
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=STUDIO_TIMEZONE,
    job=character_video_job,
    default_status=DefaultScheduleStatus.STOPPED,
    description="02:00 in São Paulo: run every pending brief of the inbox.",
)
def nightly_briefs(
    context: ScheduleEvaluationContext, inbox: BriefInbox, artifact_store: ArtifactStore
):
    """A run for each valid, unambiguous brief whose current deliverable was not made from it."""
    entries = [e for e in inbox.scan() if e.brief is not None]
    conflicts = partition_conflicts({str(e.path): e.brief.partition_key for e in entries})
    date = context.scheduled_execution_time.date().isoformat()
    requests, keys = [], []
    for entry in entries:
        brief = entry.brief
        key = brief.partition_key
        if key in conflicts or is_up_to_date(artifact_store, brief):
            continue
        running = context.instance.get_runs(
            filters=RunsFilter(tags={"dagster/partition": key}, statuses=IN_FLIGHT), limit=1
        )
        if running:
            continue
        keys.append(key)
        requests.append(
            RunRequest(
                run_key=f"nightly-{date}:{key}@{brief.content_hash()[:16]}",
                partition_key=key,
                tags=brief_run_tags(
                    str(entry.path), brief.content_hash()[:16], key=key, launched_by="schedule"
                ),
                # The run reads the brief validated here, not whatever the inbox holds later.
                run_config=brief_run_config(str(entry.path), entry.raw),
            )
        )
    if not requests:
        return SkipReason("every valid brief's deliverable is up to date")
    # Schedules cannot ask for partitions the way sensors do; a brief the sensor has not seen
    # (it may be stopped) gets its partition here.
    known = set(context.instance.get_dynamic_partitions(CHARACTERS))
    missing = [k for k in keys if k not in known]
    if missing:
        context.instance.add_dynamic_partitions(CHARACTERS, missing)
    return requests
