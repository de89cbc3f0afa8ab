"""Character LoRA training: peft LoRA on a video transformer, flow matching on one-frame videos.

The reference stills (with trigger captions) become one-frame videos in aspect-ratio buckets;
their VAE latents and text embeddings are computed once and cached with the artifacts (see
`resources.lora.dataset`). Each step noises a latent to a sigma drawn by the family's recipe
(`resources.domain.lora_recipes`) and trains the transformer's LoRA layers to predict the flow
velocity (noise - latent). Every `checkpoint_every` steps the whole training state is saved
(`resources.lora.checkpoints`), so a resumed run ends with the same bytes as an uninterrupted one.

Wan 2.2 pipelines carry two experts: `transformer` denoises sigmas at or above the pipeline's
`boundary_ratio` and `transformer_2` the ones below. Both get a LoRA; each training step goes to
the expert that owns its sampled sigma, exactly as rendering routes its steps.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resources import families
from resources.domain.lora_recipes import LoraRecipe
from resources.domain.registry import VideoModel
from resources.lora.backend import TrainingBackend, TrainRequest, TrainResult
from resources.lora.checkpoints import (
    load_newest_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from resources.lora.dataset import (
    CACHE_DIR,
    Dataset,
    cache_key,
    encode_dataset,
    load_cached,
    write_cache,
)
from resources.lora.objectives import objective_loss, sample_level
from resources.lora.output import LORA_FILE, LORA_FILE_2, LOSS_CURVE, plot_losses, write_lora_file
from resources.models.model_store import weights_digest
from resources.runtime.interruption import WorkInterrupted
from resources.runtime.progress import StepProgress
from resources.video.generator import attach_lora, load_video_pipeline

LOG_EVERY = 10  # training steps between progress lines

__all__ = ["LORA_FILE", "LORA_FILE_2", "LOSS_CURVE", "LoraTrainer", "TrainResult"]

CHECKPOINTS = "checkpoints"
EVAL_SIGMAS = (0.25, 0.5, 0.75)
EVAL_SEED = 1234
_ENCODERS = ("text_encoder", "text_encoder_2", "vae")


@dataclass
class _Expert:
    """A transformer that gets a LoRA, and the sigmas [low, high] it denoises."""

    name: str  # the pipeline component: "transformer" or "transformer_2"
    module: torch.nn.Module
    low: float
    high: float


@dataclass
class _Progress:
    """Everything about where training stands that is not a tensor inside the model."""

    step: int = 0
    order: list[int] = field(default_factory=list)
    position: int = 0
    losses: list[float] = field(default_factory=list)
    expert_steps: dict[str, int] = field(default_factory=dict)
    eval_before: float = math.nan


@dataclass
class _Run:
    """The pieces one training run works with, built once and passed between its steps."""

    pipe: Any
    model: VideoModel
    recipe: LoraRecipe
    experts: list[_Expert]
    dataset: Dataset
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    noise_rng: torch.Generator
    order_rng: torch.Generator
    device: str
    compute_dtype: torch.dtype
    autocast: torch.autocast


class LoraTrainer(TrainingBackend):
    """Trains the character LoRA with peft on the video model's transformer(s), in-process."""

    caption_dropout: float = 0.05  # share of steps trained on an empty caption
    warmup_steps: int = 10
    keep_checkpoints: int = 2
    gradient_checkpointing: bool = True  # recompute activations: memory for ~30% more time
    fp8_base: bool = False  # store the frozen base weights as float8 (24 GB cards)

    def settings(self) -> dict[str, Any]:
        """The peft backend and its options that change the LoRA it trains."""
        return {
            "caption_dropout": self.caption_dropout,
            "gradient_checkpointing": self.gradient_checkpointing,
            "fp8_base": self.fp8_base,
            "backend": "peft",
        }

    def _run(self, request: TrainRequest) -> TrainResult:
        model, recipe, out_dir = request.model, request.recipe, request.out_dir
        steps, checkpoint_every = request.steps, request.checkpoint_every
        log, stop = request.log, request.stop
        pipe, dataset = self._pipeline_and_dataset(
            request.model_dir,
            model,
            request.images,
            request.captions,
            request.dataset_hash,
            (request.width, request.height),
            out_dir,
            request.device,
            request.dtype,
        )
        log(
            f"{len(dataset.examples)} stills in buckets "
            f"{sorted({e.bucket for e in dataset.examples})}; latents and text embeddings "
            f"{'reused from' if dataset.from_cache else 'cached in'} {dataset.cache_file.name}"
        )
        experts = self._attach_lora(pipe, model, recipe, request.rank, request.alpha, request.seed)
        run = self._new_run(
            pipe,
            model,
            recipe,
            experts,
            dataset,
            request.learning_rate,
            steps,
            request.seed,
            request.device,
        )
        progress = _Progress(expert_steps={e.name: 0 for e in experts})
        checkpoints = out_dir / CHECKPOINTS
        resumed_from = self._restore(run, progress, checkpoints, log)
        if resumed_from is None:
            progress.eval_before = self._evaluation_loss(run)
        else:
            log(f"resumed LoRA training at step {resumed_from} of {steps}")

        # Every LOG_EVERY steps: rate and ETA in the log, the progress record for the review app.
        tick = StepProgress(
            log, "LoRA training", steps, every=LOG_EVERY, unit="steps", done=progress.step
        )
        while progress.step < steps:
            progress.losses.append(self._train_step(run, progress))
            progress.step += 1
            tick(progress.step)
            reason = stop() if stop is not None else None
            if progress.step % checkpoint_every == 0 or progress.step == steps or reason:
                save_checkpoint(
                    checkpoints, progress.step, _state(run, progress), self.keep_checkpoints
                )
                recent = np.mean(progress.losses[-checkpoint_every:])
                log(f"step {progress.step}/{steps}: loss {recent:.4f} (checkpoint saved)")
            if reason:
                raise WorkInterrupted(reason, f"LoRA training step {progress.step}")

        eval_after = self._evaluation_loss(run)
        settings = {
            **self.settings(),
            "rank": request.rank,
            "alpha": request.alpha,
            "learning_rate": request.learning_rate,
            "timestep_sampling": recipe.timestep_sampling,
            "flow_shift": recipe.flow_shift,
            "target_modules": list(recipe.target_modules),
            "experts": {e.name: [e.low, e.high] for e in experts},
        }
        files = self._write_outputs(
            run,
            out_dir,
            progress,
            metadata={**request.metadata, "timestep_sampling": recipe.timestep_sampling},
        )
        shutil.rmtree(checkpoints, ignore_errors=True)  # the finished LoRA supersedes them
        return TrainResult(
            lora_file=files[0],
            losses=progress.losses,
            train_s=time.perf_counter() - request.started,
            resumed_from=resumed_from,
            lora_files=files,
            eval_loss_before=progress.eval_before,
            eval_loss_after=eval_after,
            dataset_hash=request.dataset_hash,
            cache_reused=dataset.from_cache,
            expert_steps=dict(progress.expert_steps),
            settings=settings,
            base_bytes=_frozen_bytes_by_dtype(experts),
        )

    # -- setting up ----------------------------------------------------------------------

    def _pipeline_and_dataset(
        self,
        model_dir: Path,
        model: VideoModel,
        images: list[Path],
        captions: list[str],
        data_hash: str,
        area: tuple[int, int],
        out_dir: Path,
        device: str,
        dtype: torch.dtype,
    ) -> tuple[Any, Dataset]:
        """The pipeline to train and the encoded dataset: from the cache when it is there."""
        key = cache_key(data_hash, weights_digest(Path(model_dir)), area)
        cache_file = out_dir / CACHE_DIR / f"{key}.safetensors"
        dataset = load_cached(cache_file)
        if dataset is not None:
            # The cache holds everything the encoders would make: do not load them at all.
            return _load_without_encoders(model_dir, model, device, dtype), dataset
        pipe = load_video_pipeline(model_dir, model, device=device, dtype=dtype)
        encoded = encode_dataset(
            pipe,
            model,
            images,
            captions,
            area=area,
            multiple=model.size_multiple,
            device=device,
            cache_file=cache_file,
        )
        write_cache(encoded)
        for name in _ENCODERS:  # free their memory for training
            if getattr(pipe, name, None) is not None:
                setattr(pipe, name, None)
        # Train on what was written, so a first run and a resumed run see the same tensors.
        dataset = load_cached(cache_file)
        if dataset is None:
            raise OSError(f"latent cache {cache_file} could not be read back after writing it")
        dataset.from_cache = False
        return pipe, dataset

    def _attach_lora(
        self, pipe: Any, model: VideoModel, recipe: LoraRecipe, rank: int, alpha: float, seed: int
    ) -> list[_Expert]:
        """Freeze the base, add a LoRA to each expert transformer, return the experts."""
        from peft import LoraConfig

        experts = _experts(pipe)
        for index, expert in enumerate(experts):
            transformer = expert.module
            transformer.requires_grad_(False)
            if self.fp8_base:
                # Before the adapter exists: only the frozen base weights are stored as float8.
                transformer.enable_layerwise_casting(
                    storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.bfloat16
                )
            torch.manual_seed(seed + 10 * index)  # LoRA A init draws from the global RNG
            transformer.add_adapter(
                LoraConfig(
                    r=rank,
                    lora_alpha=alpha,
                    target_modules=list(recipe.target_modules),
                    init_lora_weights=True,
                )
            )
            for p in transformer.parameters():
                if p.requires_grad:
                    p.data = p.data.float()  # LoRA weights train in float32 whatever the base
            if self.gradient_checkpointing:
                transformer.enable_gradient_checkpointing()
            transformer.train()
        return experts

    def _new_run(
        self,
        pipe: Any,
        model: VideoModel,
        recipe: LoraRecipe,
        experts: list[_Expert],
        dataset: Dataset,
        learning_rate: float,
        steps: int,
        seed: int,
        device: str,
    ) -> _Run:
        from diffusers.optimization import get_scheduler

        params = [p for e in experts for p in e.module.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=1e-4)
        scheduler = get_scheduler(
            "constant_with_warmup",
            optimizer,
            num_warmup_steps=min(self.warmup_steps, max(0, steps // 10)),
            num_training_steps=steps,
        )
        on_cuda = str(device).startswith("cuda")
        # float8 storage computes in bfloat16; autocast keeps the float32 pieces compatible.
        use_autocast = on_cuda or self.fp8_base
        compute_dtype = torch.bfloat16 if self.fp8_base else experts[0].module.dtype
        return _Run(
            pipe=pipe,
            model=model,
            recipe=recipe,
            experts=experts,
            dataset=dataset,
            params=params,
            optimizer=optimizer,
            scheduler=scheduler,
            noise_rng=torch.Generator().manual_seed(seed + 1),
            order_rng=torch.Generator().manual_seed(seed + 2),
            device=device,
            compute_dtype=compute_dtype,
            autocast=torch.autocast(
                "cuda" if on_cuda else "cpu", dtype=torch.bfloat16, enabled=use_autocast
            ),
        )

    def _restore(
        self, run: _Run, progress: _Progress, folder: Path, log: Callable[[str], None]
    ) -> int | None:
        """Load the newest good checkpoint into `run` and `progress`; its step, or None."""
        from peft.utils import set_peft_model_state_dict

        state = load_newest_checkpoint(folder, log)
        if state is None:
            return None
        for expert in run.experts:
            set_peft_model_state_dict(expert.module, state["lora"][expert.name])
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
        run.noise_rng.set_state(state["noise_rng"])
        run.order_rng.set_state(state["order_rng"])
        restore_rng_states(state["rng"])
        progress.step = int(state["step"])
        progress.order = [int(i) for i in state["order"].tolist()]
        progress.position = int(state["position"])
        progress.losses = [float(v) for v in state["losses"].tolist()]
        progress.expert_steps = {k: int(v) for k, v in state["expert_steps"].items()}
        progress.eval_before = float(state["eval_before"])
        return progress.step

    # -- training --------------------------------------------------------------------------

    def _train_step(self, run: _Run, progress: _Progress) -> float:
        """One optimizer step on the next still in the shuffled order; returns its loss."""
        if progress.position >= len(progress.order):
            order = torch.randperm(len(run.dataset.examples), generator=run.order_rng)
            progress.order, progress.position = order.tolist(), 0
        example = run.dataset.examples[progress.order[progress.position]]
        progress.position += 1
        drop = torch.rand((), generator=run.noise_rng).item() < self.caption_dropout
        text = run.dataset.empty_text if drop else example.text
        x0 = example.latents[None]
        noise = torch.randn(x0.shape, generator=run.noise_rng)
        level = sample_level(run.recipe, run.noise_rng)
        expert = _expert_for(run.experts, float(level))
        with run.autocast:
            loss = self._loss(run, expert, x0, noise, level, text)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(
                f"LoRA training loss is {loss.item()} at step {progress.step + 1}"
            )
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.params, 1.0)
        run.optimizer.step()
        run.scheduler.step()
        progress.expert_steps[expert.name] += 1
        return float(loss.item())

    def _loss(
        self,
        run: _Run,
        expert: _Expert,
        x0: torch.Tensor,
        noise: torch.Tensor,
        level: torch.Tensor,
        text: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """The family's training loss of the expert on x0 noised to `level` (see objectives)."""
        text = {
            k: v.to(run.device, run.compute_dtype) if v.is_floating_point() else v.to(run.device)
            for k, v in text.items()
        }
        return objective_loss(
            run.pipe, run.model, run.recipe, expert.module,
            x0.to(run.device), noise.to(run.device), level.to(run.device), text, run.compute_dtype,
        )  # fmt: skip

    def _evaluation_loss(self, run: _Run) -> float:
        """Mean training loss over every still at fixed noise levels and noise, no dropout."""
        generator = torch.Generator().manual_seed(EVAL_SEED)
        losses = []
        for expert in run.experts:
            expert.module.eval()
        with torch.no_grad():
            for example in run.dataset.examples:
                x0 = example.latents[None]
                noise = torch.randn(x0.shape, generator=generator)
                for value in EVAL_SIGMAS:
                    sigma = torch.tensor([value])
                    expert = _expert_for(run.experts, value)
                    with run.autocast:
                        loss = self._loss(run, expert, x0, noise, sigma, example.text)
                    losses.append(loss.item())
        for expert in run.experts:
            expert.module.train()
        return float(np.mean(losses))

    # -- the result ---------------------------------------------------------------------------

    def _write_outputs(
        self, run: _Run, out_dir: Path, progress: _Progress, *, metadata: dict[str, str]
    ) -> list[Path]:
        """One canonical safetensors LoRA per expert, and the loss curve."""
        from peft.utils import get_peft_model_state_dict

        files = []
        for expert in run.experts:
            out_file = out_dir / (LORA_FILE if expert.name == "transformer" else LORA_FILE_2)
            config = expert.module.peft_config["default"].to_dict()
            write_lora_file(
                type(run.pipe),
                out_file,
                get_peft_model_state_dict(expert.module),
                adapter_config=config,
                metadata={
                    **metadata,
                    "expert": expert.name,
                    "expert_sigmas": f"{expert.low:g}-{expert.high:g}",
                    "expert_steps": str(progress.expert_steps[expert.name]),
                },
            )
            files.append(out_file)
        plot_losses(progress.losses, out_dir / LOSS_CURVE)
        return files


# -- helpers with no state of their own ------------------------------------------------------


def _experts(pipe: Any) -> list[_Expert]:
    second = getattr(pipe, "transformer_2", None)
    if second is None:
        return [_Expert("transformer", pipe.transformer, 0.0, 1.0)]
    boundary = pipe.config.get("boundary_ratio")
    if boundary is None or not 0.0 < float(boundary) < 1.0:
        raise ValueError(
            f"{type(pipe).__name__} has a transformer_2 but boundary_ratio={boundary!r}; "
            "it must be between 0 and 1 to say which expert owns which sigmas"
        )
    boundary = float(boundary)
    return [
        _Expert("transformer", pipe.transformer, boundary, 1.0),
        _Expert("transformer_2", second, 0.0, boundary),
    ]


def _expert_for(experts: list[_Expert], sigma: float) -> _Expert:
    """The expert that denoises `sigma`: WanPipeline uses `transformer` for t >= boundary."""
    if len(experts) == 1:
        return experts[0]
    high, low = experts
    return high if sigma * 1000.0 >= high.low * 1000.0 else low


def _frozen_bytes_by_dtype(experts: list[_Expert]) -> dict[str, int]:
    """How the frozen base weights are stored: bytes per dtype (float8 with `fp8_base`)."""
    totals: dict[str, int] = {}
    for expert in experts:
        for p in expert.module.parameters():
            if not p.requires_grad:
                key = str(p.dtype).removeprefix("torch.")
                totals[key] = totals.get(key, 0) + p.numel() * p.element_size()
    return totals


def _state(run: _Run, progress: _Progress) -> dict[str, Any]:
    from peft.utils import get_peft_model_state_dict

    return {
        "step": progress.step,
        "lora": {e.name: get_peft_model_state_dict(e.module) for e in run.experts},
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "noise_rng": run.noise_rng.get_state(),
        "order_rng": run.order_rng.get_state(),
        "rng": rng_states(),
        "order": torch.tensor(progress.order, dtype=torch.int64),
        "position": progress.position,
        "losses": torch.tensor(progress.losses, dtype=torch.float64),
        "expert_steps": dict(progress.expert_steps),
        "eval_before": progress.eval_before,
    }


def _load_without_encoders(
    model_dir: Path, model: VideoModel, device: str, dtype: torch.dtype
) -> Any:
    """The pipeline with only what training needs (no VAE, no text encoders)."""
    import diffusers  # here (resources/video/generator.py says why)

    pipeline_class = getattr(diffusers, model.pipeline_class)
    kept = families.family(model.family).training_keeps
    skipped = {
        name: None for name in _ENCODERS if (Path(model_dir) / name).is_dir() and name not in kept
    }
    pipe = pipeline_class.from_pretrained(model_dir, dtype=dtype, local_files_only=True, **skipped)
    pipe.to(device)
    return pipe


def lora_loads_into_pipeline(
    model_dir: Path, model: VideoModel, lora_file: Path, *, device: str = "cpu"
) -> tuple[bool, str]:
    """Load `lora_file` into the model's pipeline; (ok, what happened)."""
    try:
        pipe = load_video_pipeline(model_dir, model, device=device)
        attach_lora(pipe, model, lora_file, 1.0)
        layers = sum(1 for name, _ in pipe.transformer.named_modules() if name.endswith("lora_A"))
        if layers == 0:
            return False, f"{lora_file.name} loaded but no LoRA layer was attached"
        return True, f"{lora_file.name} loaded into {model.pipeline_class}: {layers} LoRA layers"
    except Exception as error:  # noqa: BLE001 - the check reports any failure to load
        return False, f"{lora_file.name} did not load into {model.pipeline_class}: {error}"
