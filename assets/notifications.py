"""Run hooks that tell producers a run finished or failed (resources/runtime/notify.py).

They ride on the `character_video` job, so every run of it sends them, whoever launched it (CLI,
review app, sensor, the Dagster UI). The third notice, "waiting for you", is sent by the gated
stage itself when it stops for an approval (assets/materialize.py `gated_report`).
"""

from __future__ import annotations

from dagster import HookContext, failure_hook, success_hook

from assets.materialize import OUTCOME_TAG
from assets.stages.base import record_run_state
from resources.domain.brief import split_partition_key
from resources.domain.chain import RUN_NAMES, detail_line


def notify(context: HookContext, event: str, detail: str) -> None:
    """Tell the producers (webhook) and the review app (the run's state record)."""
    run = context.instance.get_run_by_id(context.run_id)
    key = (run.tags if run is not None else {}).get("dagster/partition")
    if key:  # a character's run
        context.resources.notifier.send(event, key, context.op.name, detail, context.run_id)
        client, character = split_partition_key(key)
        record_run_state(
            context.resources.artifact_store, client, character, context.run_id, event,
            stage=context.op.name, detail=detail,
        )  # fmt: skip


@failure_hook(required_resource_keys={"notifier", "artifact_store"})
def run_failed(context: HookContext) -> None:
    error = context.op_exception
    notify(context, "failed", detail_line(str(error)) if error is not None else "")


@success_hook(required_resource_keys={"notifier", "artifact_store"})
def run_finished(context: HookContext) -> None:
    if context.op.name != RUN_NAMES[-1]:
        return  # the whole chain is done only when the client's report is
    run = context.instance.get_run_by_id(context.run_id)
    if run is not None and OUTCOME_TAG in run.tags:
        return  # the report stopped for an approval: "waiting" was said, not "finished"
    notify(context, "finished", "")
