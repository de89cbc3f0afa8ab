"""What every character LoRA training backend shares: the `train` call, its request and result.

Two backends implement it: `resources.lora.trainer.LoraTrainer` (peft, in this process) and
`resources.lora.kohya.KohyaTrainer` (a studio's musubi-tuner checkout, as subprocesses).
`pipeline.settings` picks one as the `lora_trainer` resource. Both check the request the same
way, fill rank, alpha and learning rate from the family's recipe, write the same metadata into
every LoRA file and leave the same files (`resources.lora.output`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from dagster import ConfigurableResource

from resources.domain.lora_recipes import LoraRecipe, hyperparameters, recipe_for
from resources.domain.registry import VideoModel
from resources.lora.dataset import dataset_hash
from resources.runtime.interruption import StopCheck


@dataclass
class TrainResult:
    lora_file: Path
    losses: list[float]
    train_s: float
    resumed_from: int | None = None
    lora_files: list[Path] = field(default_factory=list)  # one per expert
    eval_loss_before: float = math.nan  # fixed sigmas and noise: comparable across runs
    eval_loss_after: float = math.nan
    dataset_hash: str = ""
    cache_reused: bool = False
    expert_steps: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    base_bytes: dict[str, int] = field(default_factory=dict)  # frozen weights' bytes by dtype


@dataclass
class TrainRequest:
    """One checked training request with the recipe's defaults filled in."""

    model_dir: Path
    model: VideoModel
    recipe: LoraRecipe
    images: list[Path]
    captions: list[str]
    out_dir: Path
    steps: int
    checkpoint_every: int
    seed: int
    width: int
    height: int
    rank: int
    alpha: float
    learning_rate: float
    dataset_hash: str
    metadata: dict[str, str]  # written into every LoRA file the backend leaves
    device: str
    dtype: torch.dtype
    log: Callable[[str], None]
    stop: StopCheck | None
    started: float  # time.perf_counter() when train() was called


class TrainingBackend(ConfigurableResource):
    """A character LoRA trainer; subclasses implement `settings` and `_run`."""

    def settings(self) -> dict[str, Any]:
        """The backend's name and the options that change what it trains, for the version."""
        raise NotImplementedError(f"{type(self).__name__} does not implement settings()")

    def train(
        self,
        model_dir: Path,
        model: VideoModel,
        *,
        images: list[Path],
        captions: list[str],
        out_dir: Path,
        steps: int,
        checkpoint_every: int,
        seed: int,
        width: int,
        height: int,
        rank: int | None = None,
        alpha: float | None = None,
        learning_rate: float | None = None,
        trigger: str = "",
        base_model_id: str | None = None,
        base_model_revision: str | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        log: Callable[[str], None] = print,
        stop: StopCheck | None = None,
    ) -> TrainResult:
        """Train for `steps` (resuming from what `out_dir` holds), write the LoRA and loss curve.

        rank, alpha and learning_rate default to the family's recipe. `stop` is asked between
        units of work; when it reports a reason, the state is saved and WorkInterrupted raised.
        """
        started = time.perf_counter()
        check_request(images, captions, steps, checkpoint_every, width, height, model)
        recipe = recipe_for(model)
        hyper = hyperparameters(recipe, rank=rank, alpha=alpha, learning_rate=learning_rate)
        rank, alpha, learning_rate = hyper.rank, hyper.alpha, hyper.learning_rate
        data_hash = dataset_hash(images, captions)
        metadata = {
            "base_model_id": base_model_id or model.repo_id,
            "base_model_revision": base_model_revision or model.revision,
            "trigger": trigger,
            "rank": str(rank),
            "alpha": repr(alpha),
            "steps": str(steps),
            "seed": str(seed),
            "learning_rate": repr(learning_rate),
            "dataset_sha256": data_hash,
            "family": model.family,
        }
        request = TrainRequest(
            model_dir=Path(model_dir),
            model=model,
            recipe=recipe,
            images=[Path(p) for p in images],
            captions=list(captions),
            out_dir=Path(out_dir),
            steps=steps,
            checkpoint_every=checkpoint_every,
            seed=seed,
            width=width,
            height=height,
            rank=rank,
            alpha=alpha,
            learning_rate=learning_rate,
            dataset_hash=data_hash,
            metadata=metadata,
            device=device,
            dtype=dtype,
            log=log,
            stop=stop,
            started=started,
        )
        return self._run(request)

    def _run(self, request: TrainRequest) -> TrainResult:
        raise NotImplementedError(f"{type(self).__name__} does not implement _run()")


def check_request(
    images: list[Path],
    captions: list[str],
    steps: int,
    checkpoint_every: int,
    width: int,
    height: int,
    model: VideoModel,
) -> None:
    """Refuse a request no backend can train, naming the field."""
    if not images:
        raise ValueError("character LoRA training needs at least one reference image")
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} reference images but {len(captions)} captions")
    missing = [str(p) for p in images if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"reference images not found: {', '.join(missing)}")
    if steps < 1:
        raise ValueError(f"lora.steps={steps}: at least one training step is needed")
    if checkpoint_every < 1:
        raise ValueError(f"lora.checkpoint_every={checkpoint_every}: must be at least 1")
    multiple = model.size_multiple
    for name, value in (("width", width), ("height", height)):
        if value < multiple:
            raise ValueError(f"training {name}={value} for {model.name}: at least {multiple}")
