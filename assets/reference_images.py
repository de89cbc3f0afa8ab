"""reference_images: SDXL stills of the character from varied views, each with a caption."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import reference_images as stage
from assets.stages.reference_images import CODE_VERSION
from resources.stills.image_generator import ImageGenerator


@chain_asset(stage.ASSET, code_version=CODE_VERSION, kinds={"pytorch", "png"}, checks=stage.CHECKS)
def reference_images(
    context: AssetExecutionContext,
    runtime: ResourceParam[StageRuntime],
    image_generator: ImageGenerator,
) -> MaterializeResult:
    """`references.count` SDXL stills of the character plus one caption .txt per image."""
    return report(stage.make_references(runtime.run(context), image_generator))
