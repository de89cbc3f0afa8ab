"""Shared pieces of the LoRA tests: tiny stills, tiny model folders, one training call."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from resources.domain.registry import VIDEO_MODELS, VideoModel
from resources.lora.backend import TrainingBackend, TrainResult

# Three aspect ratios: square, landscape, portrait, so training runs over several buckets.
STILL_SIZES = ((64, 64), (96, 64), (64, 96))
CAPTIONS = ("drana, portrait", "drana, waving", "drana, smiling")
KOHYA_STANDIN = Path(__file__).resolve().parent / "kohya_standin.py"


def make_stills(folder: Path, seed: int = 0) -> list[Path]:
    """Three smooth random stills (noise-free gradients train faster than white noise)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (width, height) in enumerate(STILL_SIZES):
        low = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        image = Image.fromarray(low).resize((width, height), Image.Resampling.BICUBIC)
        path = folder / f"ref_{i:03d}.png"
        image.save(path)
        paths.append(path)
    return paths


def build_model(name: str, root: Path) -> tuple[VideoModel, Path]:
    model = VIDEO_MODELS[name]
    folder = root / name
    if not (folder / "model_index.json").is_file():
        # Here, not at the top: tests/lora_train_job.py imports this module in every training
        # process it starts, and none of them builds a model (every family's classes: ~1 s).
        from resources.tiny.video import build_tiny_video_pipeline

        build_tiny_video_pipeline(model, folder)
    return model, folder


def train(
    trainer: TrainingBackend,
    model: VideoModel,
    model_dir: Path,
    stills: list[Path],
    out_dir: Path,
    **overrides,
) -> TrainResult:
    """One tiny training run with small, fast settings; keyword arguments override them."""
    args = {
        "images": stills,
        "captions": list(CAPTIONS[: len(stills)]),
        "out_dir": out_dir,
        "steps": 8,
        "checkpoint_every": 2,
        "seed": 0,
        "width": model.tiny.width,
        "height": model.tiny.height,
        "rank": 4,
        "learning_rate": 1e-3,
        "trigger": "drana",
        "log": lambda _: None,
        **overrides,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    return trainer.train(model_dir, model, **args)


def render_args(model: VideoModel) -> dict:
    """A short, fixed render of `model` for comparing clips with and without a LoRA."""
    return {
        "prompt": "drana waves",
        "negative_prompt": "",
        "num_frames": model.frame_multiple + 1,
        "width": model.tiny.width,
        "height": model.tiny.height,
        "steps": 2,
        "guidance_scale": 1.0,
        "seed": 3,
    }


def fake_checkout(folder: Path) -> Path:
    """A kohya checkout with the stand-in under every script name (musubi's src/ layout)."""
    scripts = folder / "src" / "musubi_tuner"
    scripts.mkdir(parents=True, exist_ok=True)
    for name in (
        "cache_latents.py",
        "cache_text_encoder_outputs.py",
        "hv_train_network.py",
        "wan_cache_latents.py",
        "wan_cache_text_encoder_outputs.py",
        "wan_train_network.py",
        "hv_1_5_cache_latents.py",
        "hv_1_5_cache_text_encoder_outputs.py",
        "hv_1_5_train_network.py",
        "kandinsky5_cache_latents.py",
        "kandinsky5_cache_text_encoder_outputs.py",
        "kandinsky5_train_network.py",
    ):
        shutil.copyfile(KOHYA_STANDIN, scripts / name)
    shutil.copyfile(KOHYA_STANDIN, folder / "sdxl_train_network.py")  # sd-scripts: top level
    return folder
