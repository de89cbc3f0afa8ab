"""deliverables: every shot upscaled to the brief's resolution and cut into one H.264 master."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import cut
from assets.stages.cut import CODE_VERSION
from resources.upscale.final_cut import Upscaler


@chain_asset(
    cut.ASSET,
    code_version=CODE_VERSION,
    kinds={"pytorch", "mp4"},
    checks=cut.CHECKS,
    blocking=cut.BLOCKING,
)
def deliverables(
    context: AssetExecutionContext, runtime: ResourceParam[StageRuntime], upscaler: Upscaler
) -> MaterializeResult:
    """The final cut at the brief's resolution and fps, with poster and contact sheet."""
    return report(cut.cut_deliverable(runtime.run(context), upscaler))
