"""narration: each shot's line spoken in the character's voice, one unit a line."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import narration as stage
from assets.stages.narration import CODE_VERSION


@chain_asset(
    stage.ASSET,
    code_version=CODE_VERSION,
    kinds={"pytorch", "wav"},
    checks=stage.CHECKS,
    blocking=stage.BLOCKING,
)
def narration(
    context: AssetExecutionContext, runtime: ResourceParam[StageRuntime]
) -> MaterializeResult:
    """Every line synthesized in the character's voice; unchanged lines are reused."""
    return report(stage.speak_lines(runtime.run(context)))
