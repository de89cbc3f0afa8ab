"""character_brief: the validated snapshot of a producer's brief, the root of every lineage."""

from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report, run_tags_for
from assets.stages import character_brief as stage
from assets.stages.character_brief import CODE_VERSION
from resources.inbox import BriefInbox


class BriefConfig(Config):
    """The brief the launcher validated (the sensor sets both); empty: look in the inbox."""

    source: str = ""
    brief_yaml: str = ""


@chain_asset(stage.ASSET, code_version=CODE_VERSION, kinds={"yaml"})
def character_brief(
    context: AssetExecutionContext,
    config: BriefConfig,
    inbox: BriefInbox,
    runtime: ResourceParam[StageRuntime],
) -> MaterializeResult:
    """The brief for this client/character, validated and frozen as JSON."""
    key = context.partition_key
    source, found, raw = stage.brief_for_run(key, inbox, config.source, config.brief_yaml)
    run_tags_for(context, **{"brief/file": Path(source).name if source else ""})
    return report(stage.snapshot_brief(runtime.run(context), source, found, raw))
