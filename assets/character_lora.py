"""character_lora: a LoRA on the video model's transformer that holds the character's identity."""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import lora
from assets.stages.lora import CODE_VERSION
from resources.lora.backend import TrainingBackend


@chain_asset(
    lora.ASSET, code_version=CODE_VERSION, kinds={"pytorch", "safetensors"}, checks=lora.CHECKS
)
def character_lora(
    context: AssetExecutionContext,
    runtime: ResourceParam[StageRuntime],
    lora_trainer: TrainingBackend,
) -> MaterializeResult:
    """A LoRA trained with flow matching on the reference stills as one-frame videos."""
    return report(lora.train_lora(runtime.run(context), lora_trainer))
