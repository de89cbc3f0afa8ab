"""What a GPU does per second: bf16 dense peaks, achieved fractions per family, memory fit.

Pure data and arithmetic. GPU-seconds = FLOPs / (peak x achieved fraction). The fraction of a
family comes from a published timing of one of its models (counted FLOPs of that run / its
seconds / the peak of the GPU it ran on), computed by the quote from the same FLOP counter;
a family without a published timing borrows one and says so. benchmarks/render_gpu.py, run on
a GPU, is meant to replace these with measured fractions (`MEASURED`, empty until then).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    name: str
    bf16_dense_tflops: float
    memory_gb: float
    source: str


GPUS: dict[str, Gpu] = {
    g.name: g
    for g in (
        Gpu(
            "A10G",
            125.0,
            24,
            "NVIDIA A10 datasheet: BF16 Tensor Core 125 TFLOPS dense (250 with sparsity); "
            "the A10G is AWS's A10 variant, with no datasheet of its own (assumed equal)",
        ),
        Gpu("L4", 121.0, 24, "NVIDIA L4 datasheet: BF16 Tensor Core 242 TFLOPS with sparsity"),
        Gpu(
            "L40S",
            362.05,
            48,
            "NVIDIA L40S datasheet: BF16 Tensor Core 362.05 TFLOPS dense (733 with sparsity)",
        ),
        Gpu("A100", 312.0, 80, "NVIDIA A100 datasheet: BF16 Tensor Core 312 TFLOPS (SXM)"),
        Gpu(
            "H100",
            989.4,
            80,
            "NVIDIA H100 datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity (SXM)",
        ),
    )
}


@dataclass(frozen=True)
class PublishedTiming:
    """One published end-to-end render time: what ran, where, and how long it took."""

    model: str
    gpu: str
    width: int
    height: int
    frames: int
    steps: int
    seconds: float
    source: str


PUBLISHED: dict[str, PublishedTiming] = {
    "hunyuan": PublishedTiming(
        "hunyuan_video",
        "H100",
        1280,
        720,
        129,
        50,
        1904.08,
        "xDiT HunyuanVideo performance report (github.com/xdit-project/xDiT, "
        "docs/performance/hunyuanvideo.md), linked from Tencent/HunyuanVideo's README: "
        "1280x720, 129 frames, 50 steps, 1 GPU, official HunyuanVideo code",
    ),
}
# Families without a published single-GPU timing borrow HunyuanVideo's (also a bf16 DiT with
# full 3D attention at similar token counts): an assumption, shown as such in every quote.
BORROWED = {
    "wan": "hunyuan",
    "ltx": "hunyuan",
    "ltx2": "hunyuan",
    "cogvideox": "hunyuan",
    "sdxl": "hunyuan",
    # Kandinsky 5 Lite's model card times 5 s at 100 NFE in 139 s on an H100 (with CFG, which
    # PublishedTiming does not model yet): HunyuanVideo's is borrowed, as for HunyuanVideo 1.5.
    "kandinsky5": "hunyuan",
    "hunyuan15": "hunyuan",
}
# Real-ESRGAN is a convolutional net in fp16; no published GPU timing at this size: assumption.
UPSCALER_FRACTION = 0.35
UPSCALER_FRACTION_SOURCE = "assumption (convolutional fp16; no published timing)"
# Filled from benchmarks/render_gpu.py output when it has run on a GPU: (family, gpu) -> fraction.
MEASURED: dict[tuple[str, str], float] = {}


def gpu_of(instance_gpu: str) -> Gpu:
    """The table entry for a price table GPU description ("NVIDIA A10G 24 GB" -> A10G)."""
    for name in sorted(GPUS, key=len, reverse=True):
        if name in instance_gpu.split():
            return GPUS[name]
    raise KeyError(f"no throughput entry for GPU {instance_gpu!r}; known: {', '.join(GPUS)}")


def gpu_seconds(flops: float, gpu: Gpu, fraction: float) -> float:
    """Seconds of `gpu` that `flops` take at `fraction` of its bf16 dense peak."""
    return flops / (gpu.bf16_dense_tflops * 1e12 * fraction)


# --- memory ----------------------------------------------------------------------------------
ACTIVATION_BYTES_PER_TOKEN_DIM = 2 * 12  # bf16, ~12 live (tokens x dim) tensors in one block
VAE_TILED_GB = 4.0  # estimate: a tiled decode's working set
TEXT_ENCODER_OFFLOADED = True  # the plans free or offload the encoders before denoising


def peak_memory_gb(
    *,
    transformer_params: int,
    experts: int,
    blocks: int,
    tokens: int,
    dim: int,
    offload: str,
    fp8: bool,
    vae_tiling: bool,
    vae_params: int,
    text_params: int,
) -> float:
    """An estimate of a render's peak GPU memory under a memory plan (labelled as such).

    Weights from the meta model's parameter count (bf16 = 2 bytes, fp8 storage = 1); resident
    as the plan places them: all experts ("none"), the largest component ("model"), one block
    ("group"). Activations: ACTIVATION_BYTES_PER_TOKEN_DIM x tokens x dim (flash/SDPA attention
    keeps no L x L matrix). VAE: tiled VAE_TILED_GB, untiled scaled by pixels (rough).
    """
    per_weight = 1 if fp8 else 2
    transformer = transformer_params * per_weight
    if offload == "none":
        weights = transformer * experts + vae_params * 2 + text_params * 2
    elif offload == "model":
        weights = max(transformer, text_params * 2)
    else:
        weights = transformer / max(blocks, 1) * 2  # the running block and the next one
    activations = ACTIVATION_BYTES_PER_TOKEN_DIM * tokens * dim
    vae = VAE_TILED_GB * 2**30 if vae_tiling else 0.0
    return (weights + activations) / 2**30 + vae / 2**30
