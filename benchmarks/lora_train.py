"""LoRA training speed and memory: the trainer's options against a plain baseline, same process.

    .venv/bin/python benchmarks/lora_train.py [--steps 20] [--models hunyuan_video,ltx_video]
    .venv/bin/python benchmarks/lora_train.py --cuda-only      # the full-size section alone

CPU section (always): each tiny model trains `--steps` steps with the baseline (float32, no
gradient checkpointing) and with each option; steps/s and the peak resident memory above the
level before the variant are reported, with ratios to the baseline. Setup (VAE and text
encoding) is outside the timed steps.

CUDA section (only where CUDA is available): the full-size HunyuanVideo transformer (the real
model's config, random weights) trains at 512x512 with the 24 GB plan (float8 base storage,
bfloat16 compute, gradient checkpointing, the recipe's rank 32 LoRA) while
`torch.cuda.set_per_process_memory_fraction` caps this process at 24 GiB: it fits if no step
runs out of memory. Peak allocated memory and steps/s are reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resources.domain.lora_recipes import recipe_for  # noqa: E402
from resources.domain.registry import VIDEO_MODELS, VideoModel  # noqa: E402
from resources.lora.dataset import Dataset, Example, encode_dataset  # noqa: E402
from resources.lora.trainer import LoraTrainer, _Progress  # noqa: E402
from resources.tiny.video import build_tiny_video_pipeline  # noqa: E402
from resources.video.generator import load_video_pipeline  # noqa: E402

GIB = 1024**3
# transformer/config.json of hunyuanvideo-community/HunyuanVideo (the diffusers-format 13B model).
HUNYUAN_VIDEO_CONFIG = {
    "in_channels": 16,
    "out_channels": 16,
    "num_attention_heads": 24,
    "attention_head_dim": 128,
    "num_layers": 20,
    "num_single_layers": 40,
    "num_refiner_layers": 2,
    "mlp_ratio": 4.0,
    "patch_size": 2,
    "patch_size_t": 1,
    "qk_norm": "rms_norm",
    "guidance_embeds": True,
    "text_embed_dim": 4096,
    "pooled_projection_dim": 768,
    "rope_theta": 256.0,
    "rope_axes_dim": (16, 56, 56),
}
VARIANTS = {
    "baseline": {"gradient_checkpointing": False, "fp8_base": False},
    "grad_ckpt": {"gradient_checkpointing": True, "fp8_base": False},
    "fp8_base": {"gradient_checkpointing": False, "fp8_base": True},
    "fp8+ckpt": {"gradient_checkpointing": True, "fp8_base": True},
}


class PeakRss:
    """Samples this process's resident memory every few ms; `peak` is the highest seen."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.start = self.peak = _rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(self.interval_s)


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def prepare(trainer: LoraTrainer, pipe, model: VideoModel, dataset: Dataset, device: str):
    """Attach a LoRA with `trainer`'s options; the run and progress its real steps work on."""
    recipe = recipe_for(model)
    experts = trainer._attach_lora(pipe, model, recipe, 4, 4.0, seed=0)
    run = trainer._new_run(
        pipe, model, recipe, experts, dataset, recipe.learning_rate, 10**6, 0, device
    )
    progress = _Progress(expert_steps={e.name: 0 for e in experts})
    trainer._train_step(run, progress)  # warm-up step: allocations, kernels
    return run, progress


def steps_per_second(trainer: LoraTrainer, run, progress, steps: int, device: str) -> float:
    """Time `steps` of the trainer's real training step."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        trainer._train_step(run, progress)
        progress.step += 1
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def cpu_section(model_names: list[str], steps: int, rounds: int) -> None:
    threads = torch.get_num_threads()
    print(f"## CPU, tiny models: best of {rounds} interleaved rounds of {steps} steps, "
          f"{threads} torch threads")  # fmt: skip
    print(f"{'model':<16}{'variant':<11}{'steps/s':>9}{'x base':>8}{'peak RSS MB':>13}"
          f"{'+MB setup':>11}")  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        stills = _stills(root / "stills")
        for name in model_names:
            model = VIDEO_MODELS[name]
            build_tiny_video_pipeline(model, root / name)
            encoder = load_video_pipeline(root / name, model)
            dataset = encode_dataset(
                encoder,
                model,
                stills,
                ["drana portrait", "drana waving", "drana smiling"],
                area=(model.tiny.width, model.tiny.height),
                multiple=model.size_multiple,
                device="cpu",
                cache_file=root / "unused.safetensors",
            )
            del encoder
            prepared, memory = {}, {}
            for variant, options in VARIANTS.items():
                pipe = load_video_pipeline(root / name, model)
                for component in ("vae", "text_encoder", "text_encoder_2"):
                    if getattr(pipe, component, None) is not None:
                        setattr(pipe, component, None)
                trainer = LoraTrainer(caption_dropout=0.0, **options)
                with PeakRss() as rss:
                    run, progress = prepare(trainer, pipe, model, dataset, "cpu")
                    steps_per_second(trainer, run, progress, steps, "cpu")
                prepared[variant] = (trainer, run, progress)
                memory[variant] = (rss.peak, rss.peak - rss.start)
            best = dict.fromkeys(VARIANTS, 0.0)
            for _ in range(rounds):  # interleaved: a busy neighbour slows every variant alike
                for variant, (trainer, run, progress) in prepared.items():
                    rate = steps_per_second(trainer, run, progress, steps, "cpu")
                    best[variant] = max(best[variant], rate)
            for variant in VARIANTS:
                print(
                    f"{name:<16}{variant:<11}{best[variant]:>9.2f}"
                    f"{best[variant] / best['baseline']:>8.2f}"
                    f"{memory[variant][0] / 1e6:>13.1f}{memory[variant][1] / 1e6:>11.1f}"
                )


def cuda_section(steps: int) -> None:
    if not torch.cuda.is_available():
        print("## CUDA section skipped: no CUDA device in this process")
        return
    from diffusers import HunyuanVideoTransformer3DModel

    total = torch.cuda.get_device_properties(0).total_memory
    fraction = min(1.0, 24 * GIB / total)
    torch.cuda.set_per_process_memory_fraction(fraction, 0)
    print(f"## CUDA {torch.cuda.get_device_name(0)}: capped at {fraction * total / GIB:.1f} GiB")
    model = VIDEO_MODELS["hunyuan_video"]
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # 13B parameters: build them in bf16 directly
    try:
        transformer = HunyuanVideoTransformer3DModel(**HUNYUAN_VIDEO_CONFIG)
    finally:
        torch.set_default_dtype(default_dtype)
    params = sum(p.numel() for p in transformer.parameters())
    print(f"HunyuanVideo transformer: {params / 1e9:.2f}B parameters (random weights)")
    trainer = LoraTrainer(gradient_checkpointing=True, fp8_base=True, caption_dropout=0.0)
    pipe = SimpleNamespace(transformer=transformer)
    recipe = recipe_for(model)
    # Cast to float8 storage on the CPU first: the bfloat16 model alone would not fit 24 GB.
    experts = trainer._attach_lora(pipe, model, recipe, recipe.rank, recipe.alpha, seed=0)
    transformer.to("cuda")
    torch.cuda.reset_peak_memory_stats()
    latents = torch.randn(16, 1, 512 // 8, 512 // 8)  # one 512x512 frame in latent space
    text = {
        "encoder_hidden_states": torch.randn(1, 256, 4096, dtype=torch.bfloat16),
        "encoder_attention_mask": torch.ones(1, 256, dtype=torch.int64),
        "pooled_projections": torch.randn(1, 768, dtype=torch.bfloat16),
    }
    dataset = Dataset([Example(latents, text, (512, 512))], text, Path("-"), from_cache=True)
    run = trainer._new_run(
        pipe, model, recipe, experts, dataset, recipe.learning_rate, steps, 0, "cuda"
    )
    progress = _Progress(expert_steps={"transformer": 0})
    try:
        trainer._train_step(run, progress)
        rate = steps_per_second(trainer, run, progress, steps, "cuda")
    except torch.OutOfMemoryError as error:
        peak = torch.cuda.max_memory_allocated() / GIB
        print(f"does NOT fit 24 GiB: out of memory at peak {peak:.1f} GiB ({error})")
        return
    peak = torch.cuda.max_memory_allocated() / GIB
    print(f"fits 24 GiB: {rate:.3f} steps/s, peak allocated {peak:.2f} GiB, {steps} steps")


def _stills(folder: Path) -> list[Path]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate(((64, 64), (96, 64), (64, 96))):
        path = folder / f"ref_{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default="hunyuan_video,wan21_t2v_1_3b,ltx_video")
    parser.add_argument("--cuda-steps", type=int, default=5)
    parser.add_argument("--cuda-only", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    if not args.cuda_only:
        cpu_section([m for m in args.models.split(",") if m], args.steps, args.rounds)
    cuda_section(args.cuda_steps)


if __name__ == "__main__":
    main()
