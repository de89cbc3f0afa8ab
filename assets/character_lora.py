"""character_lora: a LoRA on the video model's transformer that holds the character's identity."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, gated_report
from assets.stages import character_lora as stage
from assets.stages.character_lora import CODE_VERSION
from resources.lora.backend import TrainingBackend


@chain_asset(
    stage.ASSET,
    code_version=CODE_VERSION,
    kinds={"pytorch", "safetensors"},
    checks=stage.CHECKS,
    gated=True,
)
def character_lora(
    context: AssetExecutionContext,
    runtime: ResourceParam[StageRuntime],
    lora_trainer: TrainingBackend,
) -> Iterator[MaterializeResult]:
    """A LoRA trained on the reference stills, once they are approved where the brief asks."""
    run = runtime.run(context)
    yield from gated_report(
        context, runtime, run, "references", lambda: stage.train_lora(run, lora_trainer)
    )
