"""Per-step time of the full-size video transformers under each memory plan; cost of a deliverable.

    python benchmarks/render_gpu.py                       # on a CUDA host (A10G, L40S, A100, H100)
    python benchmarks/render_gpu.py --usd-per-hour 0.45   # today's g5.xlarge Spot price
    python benchmarks/render_gpu.py --tiny                # the same code on the CPU, tiny configs

For HunyuanVideo (13B) and Wan 2.1 14B, built from their published transformer configs with
random weights (speed does not depend on the values), at 720p and the frame count of a 5 s shot:

* every memory plan of the registry (24 GB A10G, 48 GB, 80 GB): the process is capped to the
  plan's GPU class with `torch.cuda.set_per_process_memory_fraction`, so the A10G plan is
  measured under A10G memory on a bigger card; plans for a class above this card are skipped;
* each plan twice: native attention without cache, then flash-attn (when installed) with the
  first-block cache at the default threshold.

It then times the deliverable stage (full-size Real-ESRGAN x4plus, random weights, fp16, tiles)
on a synthetic 720p shot and adds it all up into GPU-seconds and dollars for one 5 second 1080p
deliverable on g5 Spot. Excluded (small next to 50 transformer steps, and reported as such):
text encoding and VAE decoding. With random weights the first-block cache skips steps at a rate
that says nothing about real prompts: its rows bound the cache's overhead and best case, and the
quality margin is documented in docs/models.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from diffusers import (  # noqa: E402
    HunyuanVideoTransformer3DModel,
    LTX2VideoTransformer3DModel,
    WanTransformer3DModel,
)

from resources.domain.architectures import LTX25_FLAGS  # noqa: E402
from resources.domain.costs import INSTANCES  # noqa: E402
from resources.domain.registry import VIDEO_MODELS, MemoryPlan, VideoModel  # noqa: E402
from resources.media.video_io import write_video  # noqa: E402
from resources.tiny.realesrgan import build_tiny_realesrgan  # noqa: E402
from resources.upscale.final_cut import CutClip, cut  # noqa: E402
from resources.upscale.super_resolution import load_upscaler  # noqa: E402
from resources.video.generator import attention_backend, configure_transformer  # noqa: E402

DELIVERABLE_S = 5.0
WIDTH, HEIGHT = 1280, 720
CACHE_THRESHOLD = 0.05
# g5.xlarge (1x A10G) Spot from the project's one price table; Spot moves daily, so pass
# --usd-per-hour with the day's price (`python -m pipeline prices --refresh`).
DEFAULT_USD_PER_HOUR = INSTANCES["g5.xlarge"].spot_usd_per_hour

# Published transformer configs (transformer/config.json of each Diffusers checkpoint).
WAN_14B = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 40,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 13824,
    "num_layers": 40,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}
TINY_WAN = {**WAN_14B, "num_attention_heads": 2, "attention_head_dim": 12, "ffn_dim": 32}
TINY_WAN.update(num_layers=2, text_dim=32)
# LTX-2's is diffusers' default for LTX2VideoTransformer3DModel; LTX-2.5 adds gated attention
# and prompt modulation (resources/domain/architectures.py).
LTX2_CONFIGS = {"ltx_2": {}, "ltx_2_5": LTX25_FLAGS}
TINY_LTX2 = dict(
    in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
    cross_attention_dim=16, audio_in_channels=8, audio_out_channels=8,
    audio_num_attention_heads=2, audio_attention_head_dim=4, audio_cross_attention_dim=8,
    num_layers=2, caption_channels=16,
)  # fmt: skip
# HunyuanVideo's published config is diffusers' default for the class.
HUNYUAN = {}
TINY_HUNYUAN = {
    "num_attention_heads": 2,
    "attention_head_dim": 10,
    "num_layers": 1,
    "num_single_layers": 1,
    "num_refiner_layers": 1,
    "text_embed_dim": 16,
    "pooled_projection_dim": 8,
    "rope_axes_dim": (2, 4, 4),
}


def build_transformer(model: VideoModel, tiny: bool, device: str) -> torch.nn.Module:
    """A random-weight transformer with the published (or tiny) config, in bf16 on `device`."""
    cls, config = {
        "hunyuan": (HunyuanVideoTransformer3DModel, TINY_HUNYUAN if tiny else HUNYUAN),
        "ltx2": (LTX2VideoTransformer3DModel, TINY_LTX2 if tiny else LTX2_CONFIGS[model.name]),
    }.get(model.family, (WanTransformer3DModel, TINY_WAN if tiny else WAN_14B))
    dtype = torch.float32 if tiny else torch.bfloat16
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            transformer = cls(**config)
    finally:
        torch.set_default_dtype(previous)
    return transformer.eval()


def transformer_inputs(
    model: VideoModel, transformer: torch.nn.Module, frames: int, device: str, dtype: torch.dtype
) -> dict:
    """Latents and text conditioning of one 720p shot, as the pipeline passes them."""
    config = transformer.config
    latent_frames = (frames - 1) // 4 + 1
    g = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).to(device, dtype)

    if model.family == "ltx2":
        return ltx2_inputs(transformer, frames, device, dtype)
    latents = randn(1, config.in_channels, latent_frames, HEIGHT // 8, WIDTH // 8)
    if model.family == "hunyuan":
        return {
            "hidden_states": latents,
            "encoder_hidden_states": randn(1, 256, config.text_embed_dim),
            "encoder_attention_mask": torch.ones(1, 256, device=device),
            "pooled_projections": randn(1, config.pooled_projection_dim),
            "guidance": torch.tensor([model.guidance_scale * 1000.0], device=device, dtype=dtype),
        }
    return {"hidden_states": latents, "encoder_hidden_states": randn(1, 512, config.text_dim)}


def ltx2_inputs(transformer: torch.nn.Module, frames: int, device: str, dtype) -> dict:
    """One LTX-2 forward at 1280x704 (its native size; 704 = 22 x 32) with the shot's audio."""
    config = transformer.config
    g = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).to(device, dtype)

    f, w = (frames - 1) // 8 + 1, WIDTH // 32
    h = 704 // 32 if HEIGHT == 720 else HEIGHT // 32
    audio = round(frames / 24 * 25)  # 25 audio latents a second
    text = randn(1, 1024 if HEIGHT == 720 else 16, config.caption_channels)
    mask = torch.ones(1, text.shape[1], device=device)
    one = torch.ones(1, device=device, dtype=dtype) * 500.0  # the audio branch's timestep
    return {
        "hidden_states": randn(1, f * h * w, config.in_channels),
        "audio_hidden_states": randn(1, audio, config.audio_in_channels),
        "encoder_hidden_states": text,
        "audio_encoder_hidden_states": text,
        "audio_timestep": one, "sigma": one, "audio_sigma": one,
        "encoder_attention_mask": mask, "audio_encoder_attention_mask": mask,
        "num_frames": f, "height": h, "width": w, "fps": 24.0, "audio_num_frames": audio,
    }  # fmt: skip


def place(transformer: torch.nn.Module, plan: MemoryPlan, device: str) -> None:
    """Put one transformer where `plan` says (the per-step view of the pipeline's placement)."""
    if plan.offload == "group":
        transformer.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=device.startswith("cuda"),
        )
    else:
        # Model CPU offload keeps the transformer on the GPU for all of its steps: same per step.
        transformer.to(device)


def time_steps(
    transformer: torch.nn.Module, inputs: dict, steps: int, forwards_per_step: int, device: str
) -> dict:
    """Mean seconds per denoising step over `steps` steps after one warm-up step."""
    timesteps = torch.linspace(999, 1, steps + 1)

    def step(t: float) -> None:
        for branch in range(forwards_per_step):
            with transformer.cache_context(f"branch{branch}"):
                transformer(timestep=torch.tensor([t], device=device), return_dict=False, **inputs)

    with torch.inference_mode():
        step(float(timesteps[0]))
        _sync(device)
        start = time.perf_counter()
        for t in timesteps[1:]:
            step(float(t))
        _sync(device)
    elapsed = time.perf_counter() - start
    return {"step_s": elapsed / steps}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_plans(args: argparse.Namespace, device: str) -> list[dict]:
    rows = []
    total_gib = (
        torch.cuda.get_device_properties(0).total_memory / 2**30
        if device.startswith("cuda")
        else float("inf")
    )
    for name in args.models:
        model = VIDEO_MODELS[name]
        frames = model.valid_frame_count(DELIVERABLE_S)
        # Wan runs true CFG: two passes; HunyuanVideo's guidance and LTX-2's distilled recipe one.
        forwards = 1 if model.family in ("hunyuan", "ltx2") else 2
        for plan in model.memory_plans:
            # Cards report about 0.93x their class (A10G: 22.5 GiB of "24 GB").
            cap_gib = plan.gpu_gb * 0.93
            if cap_gib > total_gib:
                rows.append({"model": name, "plan_gb": plan.gpu_gb, "skipped": "card too small"})
                continue
            # LTX-2's distilled steps run without the first-block cache (diffusers has none for
            # its blocks, and every one of 8 + 3 steps matters).
            cached = 0.0 if model.family == "ltx2" else CACHE_THRESHOLD
            for attention, cache in (("native", 0.0), ("auto", cached)):
                row = {"model": name, "plan": asdict(plan), "frames": frames, "size": "1280x720"}
                backend = attention_backend(attention, device)
                row.update(attention=backend, cache_threshold=cache)
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
                    torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib / total_gib))
                    torch.cuda.reset_peak_memory_stats()
                # Offloaded plans are built in host memory; the others straight on the GPU.
                build_on = "cpu" if plan.offload == "group" or plan.fp8_layerwise else device
                try:
                    transformer = build_transformer(model, args.tiny, build_on)
                    dtype = next(transformer.parameters()).dtype
                    configure_transformer(transformer, plan, backend, cache, dtype)
                    place(transformer, plan, device)
                    inputs = transformer_inputs(model, transformer, frames, device, dtype)
                    row.update(time_steps(transformer, inputs, args.steps, forwards, device))
                    row["forwards_per_step"] = forwards
                    if device.startswith("cuda"):
                        row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                except torch.OutOfMemoryError:
                    row["error"] = f"out of memory under the {plan.gpu_gb} GB cap"
                finally:
                    transformer = inputs = None
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def measure_upscale(args: argparse.Namespace, device: str, work: Path) -> dict:
    """Seconds of the deliverable stage for 5 s of a 720p @ 24 fps shot."""
    weights = work / "RealESRGAN_x4plus.pth"
    features, blocks = (8, 1) if args.tiny else (64, 23)  # the published x4plus: 64 x 23
    build_tiny_realesrgan(weights, scale=4, num_feat=features, num_block=blocks)
    model = load_upscaler(weights, device=device, half=True)
    fps, size = 24, (320, 176) if args.tiny else (WIDTH, HEIGHT)
    frames = np.random.default_rng(0).integers(
        0, 256, (round(DELIVERABLE_S * fps), size[1], size[0], 3), dtype=np.uint8
    )
    clip = work / "shot.mp4"
    write_video(clip, frames, fps=fps, preset="ultrafast")
    _sync(device)
    start = time.perf_counter()
    stats = cut(
        model,
        [CutClip("shot", clip, DELIVERABLE_S)],
        work / "final.mp4",
        width=1920,
        height=1080,
        fps=24,
        tile=384,
        batch_size=4,
    )
    _sync(device)
    seconds = time.perf_counter() - start
    return {"frames": stats.frames, "seconds": seconds, "fps": stats.frames / seconds}


def cost(rows: list[dict], upscale: dict, usd_per_hour: float) -> list[dict]:
    """GPU-seconds and dollars of one 5 s 1080p deliverable per model, plan and variant."""
    out = []
    for row in rows:
        if "step_s" not in row:
            continue
        model = VIDEO_MODELS[row["model"]]
        # LTX-2's final: 8 steps at half size (about a quarter of the work each) + 3 at full.
        steps = 8 / 4 + 3 if model.family == "ltx2" else model.default_steps
        render_s = row["step_s"] * steps
        gpu_s = render_s + upscale["seconds"]
        out.append(
            {
                **{k: row[k] for k in ("model", "attention", "cache_threshold")},
                "plan_gb": row["plan"]["gpu_gb"],
                "render_gpu_s": round(render_s, 1),
                "upscale_gpu_s": round(upscale["seconds"], 1),
                "gpu_s": round(gpu_s, 1),
                "usd": round(gpu_s / 3600 * usd_per_hour, 4),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["hunyuan_video", "wan21_t2v_14b", "ltx_2", "ltx_2_5"]
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps per configuration")
    parser.add_argument("--usd-per-hour", type=float, default=DEFAULT_USD_PER_HOUR)
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU (smoke run)")
    args = parser.parse_args()
    if args.tiny:
        device = "cpu"
        global WIDTH, HEIGHT
        WIDTH, HEIGHT = 128, 64
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        print("CUDA is not available: nothing measured (use --tiny for a CPU smoke run)")
        sys.exit(2)
    report: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu"}
    report["plans"] = measure_plans(args, device)
    with tempfile.TemporaryDirectory(prefix="render-gpu-") as tmp:
        report["upscale_5s_720p"] = measure_upscale(args, device, Path(tmp))
    report["usd_per_hour"] = args.usd_per_hour
    report["deliverable_5s_1080p"] = cost(
        report["plans"], report["upscale_5s_720p"], args.usd_per_hour
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
