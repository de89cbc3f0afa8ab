"""Runs launched from this process (CLI, review app): the `character_video` job, in process.

The same named job, with the same tags (GPU pool, retries, placement) and the same run name tags
(`character`, `brief/file`) as the sensor's and the schedule's runs, so the UI lists them alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resources.domain.brief import Brief, BriefError, load_brief
from resources.domain.lineage import FINAL_ASSET


def brief_source(store: Any, client: str, character: str) -> Path:
    """The brief file the character's current snapshot was made from (to run it again)."""
    from assets.stages.brief import ASSET

    ref = store.current(client, character, ASSET)
    source = Path(store.manifest(ref)["parameters"]["source"])
    if not source.is_file():
        raise BriefError(
            f"{client}/{character}",
            [f"(inbox): the brief {source} of the current snapshot is gone; save it again"],
        )
    return source


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

    from assets.partitions import CHARACTERS
    from pipeline.definitions import RUN_ASSETS
    from pipeline.jobs import character_video_job
    from pipeline.sensors import brief_run_tags

    brief = brief or load_brief(path)
    key = brief.partition_key
    instance.add_dynamic_partitions(CHARACTERS, [key])
    job = Definitions(
        assets=RUN_ASSETS, jobs=[character_video_job], resources=resources
    ).resolve_job_def(character_video_job.name)
    tags = brief_run_tags(
        str(path.resolve()), brief.content_hash()[:16], key=key, launched_by=launched_by
    )
    return job.execute_in_process(
        partition_key=key,
        instance=instance,
        tags=tags,
        raise_on_error=raise_on_error,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )


def current_deliverable(store: Any, client: str, character: str) -> Path | None:
    """The current final cut of a character, or None when there is none (yet)."""
    from assets.stages.cut import final_file
    from resources.domain.artifacts import ArtifactError

    try:
        ref = store.current(client, character, FINAL_ASSET)
    except ArtifactError:
        return None
    return final_file(store.path(ref), store.manifest(ref))
