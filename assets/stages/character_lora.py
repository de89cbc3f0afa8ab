"""character_lora: a LoRA on the video model's transformer that holds the character's identity."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from assets.stages.base import Check, Picture, Run, StageResult, build_or_reuse, stage_result
from assets.stages.character_brief import prediction_metadata, read_brief
from assets.stages.reference_images import ASSET as REFERENCES
from assets.stages.reference_images import stills_of
from resources.domain.artifacts import ArtifactRef
from resources.domain.licence_check import with_licence
from resources.domain.lora_recipes import hyperparameters, recipe_for
from resources.domain.registry import video_model
from resources.lora.backend import TrainingBackend
from resources.lora.trainer import LORA_FILE, LOSS_CURVE, lora_loads_into_pipeline
from resources.stills.image_generator import caption_file
from resources.storage.artifact_store import sha256_file

ASSET = "character_lora"
CODE_VERSION = "2"
CHECK_LOADS = "lora_loads_into_pipeline"
CHECKS = (CHECK_LOADS,)


def train_lora(run: Run, trainer: TrainingBackend) -> StageResult:
    """A LoRA trained with flow matching on the reference stills as one-frame videos."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    refs = run.upstream(REFERENCES)
    images = stills_of(run.store.path(refs), run.store.manifest(refs))
    model = video_model(brief.video.model)
    model_dir = run.models.video_model_dir(model)
    record = run.models.record(model.name, model.repo_id, model.revision, model_dir)
    recipe = recipe_for(model)
    size = run.models.train_size(model, recipe)
    lora = brief.lora
    hyper = hyperparameters(
        recipe, rank=lora.rank, alpha=lora.alpha, learning_rate=lora.learning_rate
    )
    params = {
        "steps": lora.steps,
        "rank": hyper.rank,
        "alpha": hyper.alpha,
        "learning_rate": hyper.learning_rate,
        "checkpoint_every": lora.checkpoint_every,
        "seed": lora.seed,
        "width": size.width,
        "height": size.height,
        "target_modules": list(recipe.target_modules),
        "timestep_sampling": recipe.timestep_sampling,
        "flow_shift": recipe.flow_shift,
        **trainer.settings(),
        "trigger": brief.character.trigger,
    }
    ref = run.ref(
        ASSET,
        {"references": refs.version, "params": params, "model": record, "code": CODE_VERSION},
    )

    def build(stage: Path) -> dict:
        trained = trainer.train(
            model_dir,
            model,
            images=images,
            captions=[caption_file(p).read_text(encoding="utf-8").strip() for p in images],
            out_dir=stage,
            steps=lora.steps,
            rank=hyper.rank,
            alpha=hyper.alpha,
            learning_rate=hyper.learning_rate,
            checkpoint_every=lora.checkpoint_every,
            seed=lora.seed,
            width=size.width,
            height=size.height,
            trigger=brief.character.trigger or "",
            base_model_id=record["id"],
            base_model_revision=record["revision"],
            device=run.device,
            dtype=run.dtype,
            log=run.log,
            stop=run.stop,
        )
        loads, detail = lora_loads_into_pipeline(
            model_dir, model, stage / LORA_FILE, device=run.device
        )
        fields = _lora_fields(run, model, record, params, trained, start)
        fields["inputs"] = {"reference_images": refs.version}
        fields["extra"]["brief_version"] = brief_ref.version
        fields["extra"]["load_check"] = {"passed": loads, "detail": detail}
        return fields

    # musubi keeps its own checkpoints (save_every): count two, as the peft trainer keeps.
    needs = lora_bytes(model_dir, hyper.rank, getattr(trainer, "keep_checkpoints", 2))
    reused = build_or_reuse(run, ref, build, needs_bytes=needs)
    folder = run.store.path(ref)
    manifest = run.store.manifest(ref)
    lora_path = lora_file_of(folder, manifest)
    lora_sha256 = sha256_file(lora_path)
    loads, detail = _load_check(run, manifest, lora_path, lora_sha256, model_dir, model)
    losses = manifest.get("losses", [])
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "lora_file": lora_path,
            "sha256": lora_sha256,
            "base_model": record["id"],
            "steps": lora.steps,
            "rank": hyper.rank,
            "eval_loss_before": float(manifest.get("eval_loss", {}).get("before", 0.0)),
            "eval_loss_after": float(manifest.get("eval_loss", {}).get("after", 0.0)),
            "first_loss": float(losses[0]) if losses else 0.0,
            "final_loss": float(losses[-1]) if losses else 0.0,
            "loss_curve": Picture(folder / LOSS_CURVE, "loss"),
            **prediction_metadata(run, ("lora_training",), manifest),
        },
        checks=[Check(CHECK_LOADS, passed=loads, metadata={"detail": detail})],
    )


def _lora_fields(run: Run, model, record, params, trained, start: float) -> dict[str, Any]:
    """The manifest's fields of a trained LoRA: losses, evaluation, dataset, compute, licence."""
    return dict(
        code_version=CODE_VERSION,
        parameters=params,
        models=[with_licence(record)],
        seeds={"train": params["seed"]},
        timings={"wall_s": time.perf_counter() - start, "train_s": trained.train_s},
        extra={
            "lora_file": LORA_FILE,  # what the video stage loads, by name
            "losses": trained.losses,
            "resumed_from_step": trained.resumed_from,
            "eval_loss": {
                "before": trained.eval_loss_before,
                "after": trained.eval_loss_after,
            },
            "dataset_sha256": trained.dataset_hash,
            "expert_steps": trained.expert_steps,
            "base_weight_bytes": trained.base_bytes,
            "training": trained.settings,  # the backend's settings, e.g. kohya's dropout
            "compute": run.compute(start),
            "licence": model.licence_record(),
            "lora_train_gpu_gb": model.lora_train_gpu_gb,
        },
    )


def lora_bytes(model_dir: Path, rank: int, keep_checkpoints: int) -> int:
    """Space a LoRA training may take: the file, and checkpoints of weights plus Adam's moments.

    A rank-r LoRA on a d-wide linear layer holds 2rd of its d^2 weights, in float32 (twice the
    base's bf16 bytes); full-size video transformers are at least 3072 wide.
    """
    transformer = Path(model_dir) / "transformer"
    folder = transformer if transformer.is_dir() else Path(model_dir)
    base = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    lora = int(base * min(1.0, 2 * rank / 3072) * 2)
    return lora * (1 + 3 * keep_checkpoints)


def lora_file_of(folder: Path, manifest: dict[str, Any]) -> Path:
    """The LoRA file a character_lora version recorded."""
    return folder / manifest["lora_file"]


def lora_of(run: Run) -> tuple[ArtifactRef, Path]:
    """This partition's current LoRA version and its file."""
    ref = run.upstream(ASSET)
    return ref, lora_file_of(run.store.path(ref), run.store.manifest(ref))


def _load_check(run, manifest, lora_path, lora_sha256, model_dir, model) -> tuple[bool, str]:
    recorded = manifest.get("load_check")
    published = {f["path"]: f["sha256"] for f in manifest.get("files", [])}.get(
        manifest["lora_file"]
    )
    if recorded and published == lora_sha256:
        # The version hashes the base weights' digest, so these bytes were already loaded into
        # exactly this pipeline when built: no need to load a 13B model again on every rerun.
        return recorded["passed"], f"{recorded['detail']} (checked when built)"
    return lora_loads_into_pipeline(model_dir, model, lora_path, device=run.device)
