"""character_lora: a LoRA on the video model's transformer that holds the character's identity."""

import time
from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue

from assets.materialize import (
    brief_of,
    build_or_reuse,
    chain_asset,
    compute,
    image_markdown,
    new_ref,
    result,
    upstream,
)
from pipeline.domain.lora_recipes import recipe_for
from pipeline.domain.registry import video_model
from resources.lora.trainer import LORA_FILE, LOSS_CURVE, LoraTrainer, lora_loads_into_pipeline
from resources.models.model_store import ModelStore
from resources.runtime.spot_monitor import SpotMonitor
from resources.storage.artifact_store import ArtifactStore, sha256_file

CODE_VERSION = "2"
CHECK_LOADS = "lora_loads_into_pipeline"


@chain_asset(
    "character_lora",
    code_version=CODE_VERSION,
    kinds={"pytorch", "safetensors"},
    checks=[CHECK_LOADS],
)
def character_lora(
    context: AssetExecutionContext,
    artifact_store: ArtifactStore,
    model_store: ModelStore,
    spot_monitor: SpotMonitor,
    lora_trainer: LoraTrainer,
):
    """A peft LoRA trained with flow matching on the reference stills as one-frame videos."""
    start = time.perf_counter()
    brief, brief_ref = brief_of(context, artifact_store)
    refs = upstream(context, artifact_store, "reference_images")
    refs_dir = artifact_store.path(refs)
    images = sorted(refs_dir.glob("ref_*.png"))
    model = video_model(brief.video.model)
    model_dir = model_store.video_model_dir(model)
    record = model_store.record(model.name, model.repo_id, model.revision, model_dir)
    recipe = recipe_for(model)
    if model_store.profile == "tiny":
        size = model_store.train_size(model)
        width, height = size.width, size.height
    else:
        width, height = recipe.width, recipe.height
    lora = brief.lora
    rank = lora.rank or recipe.rank
    params = {
        "steps": lora.steps,
        "rank": rank,
        "alpha": lora.alpha or float(rank),
        "learning_rate": lora.learning_rate or recipe.learning_rate,
        "checkpoint_every": lora.checkpoint_every,
        "seed": lora.seed,
        "width": width,
        "height": height,
        "target_modules": list(recipe.target_modules),
        "timestep_sampling": recipe.timestep_sampling,
        "flow_shift": recipe.flow_shift,
        "caption_dropout": lora_trainer.caption_dropout,
        "gradient_checkpointing": lora_trainer.gradient_checkpointing,
        "fp8_base": lora_trainer.fp8_base,
        "backend": lora_trainer.backend,
        "trigger": brief.character.trigger,
    }
    ref = new_ref(
        context,
        "character_lora",
        {"references": refs.version, "params": params, "model": record, "code": CODE_VERSION},
    )

    def build(stage: Path) -> dict:
        trained = lora_trainer.train(
            model_dir,
            model,
            images=images,
            captions=[p.with_suffix(".txt").read_text().strip() for p in images],
            out_dir=stage,
            steps=lora.steps,
            rank=rank,
            alpha=params["alpha"],
            learning_rate=params["learning_rate"],
            checkpoint_every=lora.checkpoint_every,
            seed=lora.seed,
            width=width,
            height=height,
            trigger=brief.character.trigger or "",
            base_model_id=record["id"],
            base_model_revision=record["revision"],
            device=model_store.torch_device,
            dtype=model_store.torch_dtype,
            log=context.log.info,
            stop=spot_monitor.check,
        )
        loads, detail = lora_loads_into_pipeline(
            model_dir, model, stage / LORA_FILE, device=model_store.torch_device
        )
        return dict(
            code_version=CODE_VERSION,
            inputs={"reference_images": refs.version},
            parameters=params,
            models=[record],
            seeds={"train": lora.seed},
            timings={"wall_s": time.perf_counter() - start, "train_s": trained.train_s},
            extra={
                "losses": trained.losses,
                "resumed_from_step": trained.resumed_from,
                "eval_loss": {
                    "before": trained.eval_loss_before,
                    "after": trained.eval_loss_after,
                },
                "dataset_sha256": trained.dataset_hash,
                "expert_steps": trained.expert_steps,
                "base_weight_bytes": trained.base_bytes,
                "compute": compute(model_store, start),
                "brief_version": brief_ref.version,
                "load_check": {"passed": loads, "detail": detail},
            },
        )

    reused = build_or_reuse(artifact_store, ref, build)
    folder = artifact_store.path(ref)
    manifest = artifact_store.manifest(ref)
    losses = manifest.get("losses", [])
    lora_sha256 = sha256_file(folder / LORA_FILE)
    recorded = manifest.get("load_check")
    published = {f["path"]: f["sha256"] for f in manifest.get("files", [])}.get(LORA_FILE)
    if recorded and published == lora_sha256:
        # The version hashes the base weights' digest, so these bytes were already loaded into
        # exactly this pipeline when built: no need to load a 13B model again on every rerun.
        loads, detail = recorded["passed"], f"{recorded['detail']} (checked when built)"
    else:
        loads, detail = lora_loads_into_pipeline(
            model_dir, model, folder / LORA_FILE, device=model_store.torch_device
        )
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "lora_file": MetadataValue.path(str(folder / LORA_FILE)),
            "sha256": lora_sha256,
            "base_model": record["id"],
            "steps": lora.steps,
            "rank": rank,
            "eval_loss_before": float(manifest.get("eval_loss", {}).get("before", 0.0)),
            "eval_loss_after": float(manifest.get("eval_loss", {}).get("after", 0.0)),
            "first_loss": float(losses[0]) if losses else 0.0,
            "final_loss": float(losses[-1]) if losses else 0.0,
            "loss_curve": image_markdown(folder / LOSS_CURVE, title="loss"),
        },
        check_results=[
            AssetCheckResult(check_name=CHECK_LOADS, passed=loads, metadata={"detail": detail})
        ],
    )
