"""character_brief: the validated snapshot of a producer's brief, the root of every lineage."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import brief
from assets.stages.brief import CODE_VERSION
from resources.inbox import BriefInbox


@chain_asset(brief.ASSET, code_version=CODE_VERSION, kinds={"yaml"})
def character_brief(
    context: AssetExecutionContext, inbox: BriefInbox, runtime: ResourceParam[StageRuntime]
) -> MaterializeResult:
    """The brief for this client/character, validated and frozen as JSON."""
    source, found = inbox.find(context.partition_key)
    return report(brief.snapshot_brief(runtime.run(context), source, found))
