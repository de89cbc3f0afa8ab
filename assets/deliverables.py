"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import deliverables as stage
from assets.stages.deliverables import CODE_VERSION
from resources.upscale.upscaler import Upscaler


@chain_asset(
    stage.ASSET,
    code_version=CODE_VERSION,
    kinds={"pytorch", "mp4"},
    checks=stage.CHECKS,
    blocking=stage.BLOCKING,
)
def deliverables(
    context: AssetExecutionContext, runtime: ResourceParam[StageRuntime], upscaler: Upscaler
) -> MaterializeResult:
    """The final cut at the brief's resolution and fps, with poster and contact sheet."""
    return report(stage.cut_deliverable(runtime.run(context), upscaler))
