"""video_clips: one clip per shot, rendered by the brief's video model with the character LoRA."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import video_clips as stage
from assets.stages.video_clips import CODE_VERSION
from resources.video.generator import VideoGenerator


@chain_asset(
    stage.ASSET,
    code_version=CODE_VERSION,
    kinds={"pytorch", "mp4"},
    checks=stage.CHECKS,
    blocking=stage.BLOCKING,
)
def video_clips(
    context: AssetExecutionContext,
    runtime: ResourceParam[StageRuntime],
    video_generator: VideoGenerator,
) -> MaterializeResult:
    """One clip per shot at the model's native fps; each unchanged or finished shot is reused."""
    return report(stage.render_clips(runtime.run(context), video_generator))
