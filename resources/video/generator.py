"""Text-to-video rendering through diffusers: HunyuanVideo, Wan 2.1/2.2, LTX-Video, CogVideoX.

One code path for every family and profile: the pipeline class named in the registry is loaded
from a local folder and placed on the device by the model's memory plan (offloading, FP8 weight
storage, VAE tiling), the character LoRA is attached through diffusers' LoRA loader, and each clip
is rendered with a CPU-seeded generator so the same seed gives the same clip wherever it runs.
Shots are rendered by `render_assigned`, in this process or in one worker process per GPU (see
`resources.video.shot_workers`), and each is saved with its own manifest as soon as it is done.
"""

from __future__ import annotations

import importlib.util
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from dagster import ConfigurableResource
from PIL import Image

from resources import families
from resources.domain.registry import MemoryPlan, RenderSize, VideoModel
from resources.domain.render import ATTENTION_CHOICES, RenderSettings, ShotRequest
from resources.domain.sound_files import read_wav, write_wav
from resources.domain.tiers import TierRecipe
from resources.media.video_io import ENCODER_THREADS, write_video
from resources.models.model_store import weights_digest
from resources.runtime.cpu_convolution import onednn_conv3d_on_cpu
from resources.runtime.interruption import StopCheck, stop_if_asked
from resources.runtime.progress import StepProgress
from resources.storage.artifact_store import sha256_file, write_atomic, write_json
from resources.video.shot_workers import run_in_workers, worker_devices

# diffusers (and with it peft, torch._dynamo, scipy.stats: seconds) is imported where a pipeline
# is loaded: what imports the code location (the daemon, the webserver's code server, `dagster
# job launch`) renders nothing. docs/architecture.md "Settings".
if TYPE_CHECKING:
    import diffusers

# In a model folder the store assembled for single-file weights (HoloCine): which file each
# transformer component is loaded from with from_single_file.
SINGLE_FILES = "single_files.json"
# Components a memory plan treats as "the transformer": Wan 2.2 A14B has two experts.
_TRANSFORMERS = ("transformer", "transformer_2")


def cpu_plan() -> MemoryPlan:
    """The plan on the CPU: everything in host memory, whole-frame VAE decoding."""
    return MemoryPlan(gpu_gb=0)


def choose_plan(model: VideoModel, device: str, gpu_gb: float | None = None) -> MemoryPlan:
    """The registry's memory plan for `device`'s GPU class (or `gpu_gb` when given)."""
    if not str(device).startswith("cuda"):
        return cpu_plan()
    if gpu_gb is None:
        gpu_gb = torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**30
    return model.memory_plan(gpu_gb)


def attention_backend(requested: str, device: str) -> str:
    """diffusers attention backend: flash-attn when asked or importable on CUDA, else native."""
    if requested not in ATTENTION_CHOICES:
        raise ValueError(f"attention={requested!r}: expected one of {', '.join(ATTENTION_CHOICES)}")
    flash_ok = str(device).startswith("cuda") and importlib.util.find_spec("flash_attn") is not None
    if requested == "flash" and not flash_ok:
        raise ValueError(
            "attention='flash' needs the flash-attn package and a CUDA device "
            "(install the `gpu` extra on the GPU image); use 'auto' to fall back to native"
        )
    if requested == "auto":
        return "flash" if flash_ok else "native"
    return requested


def configure_transformer(
    transformer: torch.nn.Module,
    plan: MemoryPlan,
    backend: str,
    cache_threshold: float,
    compute_dtype: torch.dtype,
) -> None:
    """Attention backend, FP8 layerwise storage and first-block cache for one transformer."""
    transformer.set_attention_backend(backend)
    if plan.fp8_layerwise:
        # Weights stay float8 in memory (half of bf16); each layer is upcast as it runs.
        transformer.enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=compute_dtype
        )
    if cache_threshold > 0:
        from diffusers.hooks import FirstBlockCacheConfig

        transformer.enable_cache(FirstBlockCacheConfig(threshold=cache_threshold))


def load_video_pipeline(
    model_dir: Path,
    model: VideoModel,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    plan: MemoryPlan | None = None,
    attention: str = "auto",
    cache_threshold: float = 0.0,
    checkpoint_dir: Path | None = None,
) -> diffusers.DiffusionPipeline:
    """Load `model`'s pipeline from the local folder `model_dir` and place it by `plan`.

    `plan` None picks the registry's plan for the device's GPU class (everything on the CPU when
    the device is the CPU). `cache_threshold` > 0 turns on diffusers' first-block cache: a step
    whose first-block residual changed less than the threshold reuses the cached rest.
    `checkpoint_dir`: a published folder whose `transformer` replaces the model's (a tier's
    distilled checkpoint).
    """
    import diffusers

    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise FileNotFoundError(
            f"{model_dir} is not a diffusers pipeline folder (no model_index.json) for "
            f"{model.name}; resolve it through the model store first"
        )
    pipeline_class = getattr(diffusers, model.pipeline_class, None)
    if pipeline_class is None:
        raise ValueError(
            f"registry entry {model.name!r} names pipeline {model.pipeline_class!r}, which "
            f"diffusers {diffusers.__version__} does not provide"
        )
    if cache_threshold < 0 or not np.isfinite(cache_threshold):
        raise ValueError(f"cache_threshold={cache_threshold}: must be 0 (off) or positive")
    plan = plan or choose_plan(model, device)
    backend = attention_backend(attention, device)
    if model.is_scene_model:
        from resources.video.holocine import HoloCinePipeline

        pipeline_class = HoloCinePipeline
    # local_files_only: a folder path must never turn into a Hub lookup.
    parts = _single_file_transformers(model_dir, model, dtype)
    if checkpoint_dir is not None:
        loader = getattr(diffusers, model.transformer_class)
        parts["transformer"] = loader.from_pretrained(
            checkpoint_dir, subfolder="transformer", torch_dtype=dtype, local_files_only=True
        )
    pipe = pipeline_class.from_pretrained(model_dir, dtype=dtype, local_files_only=True, **parts)
    pipe.set_progress_bar_config(disable=True)
    if model.is_scene_model:
        pipe._scene_state()  # the shot-aware processors, before the attention backend is set
    for name in _TRANSFORMERS:
        transformer = getattr(pipe, name, None)
        if transformer is not None:
            configure_transformer(transformer, plan, backend, cache_threshold, dtype)
    if plan.offload == "group":
        on_cuda = str(device).startswith("cuda")
        # Block by block: only the running transformer block is on the GPU; on CUDA the next
        # block's upload overlaps the current block's compute on a side stream.
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=on_cuda,
        )
    elif plan.offload == "model":
        # Needs an accelerator (diffusers refuses it on the CPU): one whole component at a time.
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if plan.vae_tiling:
        # Decoding a full-size clip in one pass needs tens of GB; tiles trade a little speed.
        pipe.vae.enable_tiling()
    onednn_conv3d_on_cpu(pipe.vae, device)
    return pipe


def _single_file_transformers(
    model_dir: Path, model: VideoModel, dtype: torch.dtype
) -> dict[str, torch.nn.Module]:
    """Transformers published as single files, loaded into the folder's diffusers layout."""
    listing = model_dir / SINGLE_FILES
    if not listing.is_file():
        return {}
    import diffusers

    loader = getattr(diffusers, model.transformer_class)
    parts = {}
    for component, path in json.loads(listing.read_text(encoding="utf-8")).items():
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"{model.name}: single-file weights {path} ({component}) missing"
            )
        # The config of the base layout (Wan 2.2 A14B) says which architecture the keys map to.
        parts[component] = loader.from_single_file(
            path, config=str(model_dir), subfolder=component, torch_dtype=dtype,
            local_files_only=True,
        )  # fmt: skip
    return parts


def apply_lora(
    pipe: Any, lora_file: Path, strength: float, adapter_name: str = "character"
) -> None:
    """Attach the LoRA in `lora_file` (.safetensors) to `pipe` at `strength`.

    Only safetensors files are read, never pickle. A LoRA whose keys or shapes do not fit the
    pipeline's transformer is refused with the mismatch named. For a two-expert pipeline (Wan
    2.2), `<stem>_transformer_2.safetensors` beside `lora_file`, if present, goes into
    `transformer_2`.
    """
    lora_file = Path(lora_file)
    if lora_file.suffix != ".safetensors":
        raise ValueError(
            f"LoRA file {lora_file} is not a .safetensors file; only safetensors LoRAs are "
            f"loaded (pickle formats can run code on load)"
        )
    if not lora_file.is_file():
        raise FileNotFoundError(f"LoRA file {lora_file} does not exist")
    if not np.isfinite(strength):
        raise ValueError(f"strength={strength} for LoRA {lora_file.name}: must be a finite number")
    parts: list[tuple[str, Path]] = [("transformer", lora_file)]
    second = lora_file.with_name(f"{lora_file.stem}_transformer_2.safetensors")
    if getattr(pipe, "transformer_2", None) is not None and second.is_file():
        parts.append(("transformer_2", second))
    for component, path in parts:
        _check_lora_fits(pipe, component, path)
    if adapter_name in _adapter_names(pipe):
        # Re-applying under the same name replaces the earlier weights instead of failing.
        pipe.delete_adapters(adapter_name)
    for component, path in parts:
        extra = {"load_into_transformer_2": True} if component == "transformer_2" else {}
        # use_safetensors=True: diffusers would otherwise fall back to torch.load (pickle).
        pipe.load_lora_weights(
            str(path.parent),
            weight_name=path.name,
            adapter_name=adapter_name,
            use_safetensors=True,
            **extra,
        )
    pipe.set_adapters([adapter_name], [strength])


def attach_lora(pipe: Any, model: VideoModel, lora_file: Path, strength: float) -> None:
    """The character LoRA through the family's loader: diffusers' (`apply_lora`), or peft on
    the transformer where diffusers has none (HunyuanVideo 1.5, resources/video/peft_lora.py)."""
    if model.lora_loader != "peft":
        apply_lora(pipe, lora_file, strength)
        return
    lora_file = Path(lora_file)
    if lora_file.suffix != ".safetensors" or not lora_file.is_file():
        raise FileNotFoundError(f"LoRA file {lora_file} is not a .safetensors file here")
    if not np.isfinite(strength):
        raise ValueError(f"strength={strength} for LoRA {lora_file.name}: must be a finite number")
    from resources.video.peft_lora import attach_peft_lora

    attach_peft_lora(pipe.transformer, lora_file, strength, "character")


DISTILL_ADAPTER = "distill"


def apply_distill_adapter(
    pipe: Any, files: list[Path], strength: float, character_strength: float | None
) -> None:
    """Load a step-distillation LoRA as a second adapter beside the character's, both active.

    `files` holds one file per expert (the second goes into `transformer_2`). The character LoRA
    (adapter "character", if loaded) keeps `character_strength`: the character stays.
    """
    experts = [c for c in _TRANSFORMERS if getattr(pipe, c, None) is not None]
    if len(files) != len(experts):
        raise ValueError(
            f"distillation adapter has {len(files)} file(s) for {len(experts)} transformer(s) "
            f"({', '.join(experts)}): one per expert is needed"
        )
    if DISTILL_ADAPTER in _adapter_names(pipe):
        pipe.delete_adapters(DISTILL_ADAPTER)
    for component, path in zip(experts, files, strict=True):
        path = Path(path)
        if path.suffix != ".safetensors" or not path.is_file():
            raise FileNotFoundError(f"distillation LoRA {path} is not a .safetensors file here")
        _check_lora_fits(pipe, component, path)
        extra = {"load_into_transformer_2": True} if component == "transformer_2" else {}
        pipe.load_lora_weights(
            str(path.parent),
            weight_name=path.name,
            adapter_name=DISTILL_ADAPTER,
            use_safetensors=True,
            **extra,
        )
    names, weights = [DISTILL_ADAPTER], [strength]
    if character_strength is not None and "character" in _adapter_names(pipe):
        names, weights = ["character", DISTILL_ADAPTER], [character_strength, strength]
    pipe.set_adapters(names, weights)


def set_flow_shift(pipe: Any, shift: float | None) -> None:
    """Give the scheduler the tier's flow shift (distilled recipes use their own)."""
    if shift is None:
        return
    config = pipe.scheduler.config
    key = next((k for k in ("flow_shift", "shift") if k in config), None)
    if key is not None and config[key] != shift:
        pipe.scheduler = type(pipe.scheduler).from_config(config, **{key: shift})


def _check_lora_fits(pipe: Any, component: str, lora_file: Path) -> None:
    """Raise ValueError, naming the model and the mismatch, if the LoRA does not fit."""
    what = f"{type(pipe).__name__} ({pipe.name_or_path or 'in memory'}) {component}"
    try:
        state = pipe.lora_state_dict(
            str(lora_file.parent), weight_name=lora_file.name, use_safetensors=True
        )
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise ValueError(f"LoRA file {lora_file} could not be read as a LoRA: {error}") from error
    if isinstance(state, tuple):
        state = state[0]
    not_finite = [k for k, t in state.items() if t.is_floating_point() and not t.isfinite().all()]
    if not_finite:
        # NaN or inf weights render black frames without any error: refuse them here.
        raise ValueError(
            f"LoRA file {lora_file} holds NaN or infinite values in {len(not_finite)} tensor(s) "
            f"(e.g. {not_finite[0]}): the file is damaged; rebuild character_lora"
        )
    modules = dict(getattr(pipe, component).named_modules())
    unknown, wrong_shape = [], []
    for key, tensor in state.items():
        name = key.removeprefix("transformer.")
        module_name, sep, rest = name.partition(".lora_")
        module = modules.get(module_name) if sep and key.startswith("transformer.") else None
        if module is None:
            unknown.append(key)
            continue
        base = getattr(module, "base_layer", module)
        if isinstance(base, torch.nn.Linear) and rest.startswith(("A.", "B.")):
            expected = base.in_features if rest.startswith("A.") else base.out_features
            got = tensor.shape[1] if rest.startswith("A.") else tensor.shape[0]
            if got != expected:
                wrong_shape.append(f"{key} has {got} features where the model has {expected}")
    if not state:
        raise ValueError(f"LoRA {lora_file.name} holds no LoRA weights for {what}")
    problems = []
    if unknown:
        problems.append(
            f"{len(unknown)} of {len(state)} keys name no layer of the model (e.g. {unknown[0]})"
        )
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shapes differ (e.g. {wrong_shape[0]})")
    if problems:
        raise ValueError(f"LoRA {lora_file.name} does not fit {what}: {'; '.join(problems)}")


def _adapter_names(pipe: Any) -> set[str]:
    return {name for names in pipe.get_list_adapters().values() for name in names}


def check_clip_request(model: VideoModel, *, num_frames: int, width: int, height: int) -> None:
    """Raise ValueError, naming the parameter, if `model` cannot render this frame count or size."""
    if num_frames < 1 or (num_frames - 1) % model.frame_multiple:
        below = max(0, (num_frames - 1) // model.frame_multiple) * model.frame_multiple + 1
        raise ValueError(
            f"num_frames={num_frames} is not valid for {model.name}: it must be "
            f"{model.frame_multiple}*k+1 (e.g. {below} or {below + model.frame_multiple})"
        )
    if num_frames < model.min_frames:
        raise ValueError(
            f"num_frames={num_frames} is too short for {model.name}: its pipeline renders at "
            f"least {model.min_frames} frames ({model.min_frames / model.native_fps:.2f} s)"
        )
    multiple = model.size_multiple
    for name, value in (("width", width), ("height", height)):
        if value < multiple or value % multiple:
            raise ValueError(
                f"{name}={value} is not valid for {model.name}: it must be a positive multiple "
                f"of {multiple}"
            )


def render_clip(
    pipe: Any,
    model: VideoModel,
    *,
    prompt: str,
    negative_prompt: str,
    num_frames: int,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    seed: int,
    on_step: Callable[[int], None] | None = None,
    guidance_scale_2: float | None = None,
    image: Image.Image | None = None,
) -> np.ndarray:
    """Render one clip as (num_frames, height, width, 3) uint8 RGB; same seed, same frames.

    HunyuanVideo is guidance-distilled: `guidance_scale` is its embedded guidance and the
    negative prompt has no effect (it would only apply under true CFG, at twice the cost).
    `image`: the reference still an image-to-video checkpoint (`model.takes_image`) starts from.
    """
    check_clip_request(model, num_frames=num_frames, width=width, height=height)
    if model.takes_image != (image is not None):
        raise ValueError(
            f"{model.name} {'needs' if model.takes_image else 'takes no'} reference still"
        )
    if steps < 1:
        raise ValueError(f"steps={steps} for {model.name}: at least one denoising step is needed")
    if model.generates_audio:  # LTX-2: picture and sound in one generation (the picture here)
        from resources.video.ltx2 import render_audio_visual

        shot = ShotRequest("clip", prompt, negative_prompt, seed, num_frames, 0.0)
        return render_audio_visual(
            pipe, None, model, shot, width=width, height=height, steps=steps,
            guidance_scale=guidance_scale, on_step=on_step, image=image,
        ).frames  # fmt: skip
    kwargs: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "num_frames": num_frames,
        "width": width,
        "height": height,
        "num_inference_steps": steps,
        "guidance_scale": guidance_scale,
        # A CPU generator draws the same noise whatever device the pipeline runs on.
        "generator": torch.Generator(device="cpu").manual_seed(seed),
        "output_type": "np",
    }
    conventions = families.family(model.family)
    if on_step is not None and conventions.step_callback:

        def step_end(pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
            on_step(step + 1)  # diffusers counts denoising steps from 0
            return callback_kwargs

        kwargs["callback_on_step_end"] = step_end
    second = guidance_scale_2 if guidance_scale_2 is not None else model.guidance_scale_2
    if model.experts == 2 and second is not None:
        kwargs["guidance_scale_2"] = second  # the low-noise expert's guidance
    if image is not None:
        kwargs["image"] = image  # the pipeline resizes it to width x height
    if conventions.call_keywords is not None:
        conventions.call_keywords(pipe, model, kwargs)
    frames = np.asarray(pipe(**kwargs).frames[0], dtype=np.float32)
    if on_step is not None and not conventions.step_callback:
        on_step(steps)  # a pipeline without a step callback: the steps are reported at the end
    expected = (num_frames, height, width, 3)
    if frames.shape != expected:
        raise RuntimeError(
            f"{model.pipeline_class} returned frames of shape {frames.shape}, expected {expected}"
        )
    return (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)


@dataclass(frozen=True)
class RenderedShot:
    """A finished shot: its clip, a poster frame and how long rendering took (0 if reused)."""

    id: str
    clip: Path
    poster: Image.Image
    num_frames: int
    render_s: float
    reused: bool


@dataclass(frozen=True)
class RenderJob:
    """Everything a worker needs to render shots into their folders; picklable for workers."""

    model_dir: Path
    model: VideoModel
    folders: dict[str, Path]  # shot id -> the folder its files are written to
    settings: RenderSettings
    dtype: torch.dtype
    plan: MemoryPlan | None = None  # None: the registry's plan for the worker's device
    # Talking shots: shot id -> the narration WAV its picture follows (a model taking audio).
    line_files: dict[str, Path] = field(default_factory=dict)
    # Shots conditioned on the reference still: shot id -> the still's image file.
    still_files: dict[str, Path] = field(default_factory=dict)


# A rendered shot's folder: the clip, a poster frame, and its record, written last; a model that
# generates sound (LTX-2) adds the shot's own sound track beside the clip.
CLIP = "clip.mp4"
POSTER = "poster.png"
SHOT_MANIFEST = "shot.json"
SHOT_AUDIO = "audio.wav"


def finished_shot(folder: Path, shot: ShotRequest, *, reused: bool) -> RenderedShot | None:
    """The shot saved in `folder`, or None if it is not finished (no record yet)."""
    folder = Path(folder)
    done = folder / SHOT_MANIFEST
    if not (done.is_file() and (folder / CLIP).is_file() and (folder / POSTER).is_file()):
        return None
    record = json.loads(done.read_text(encoding="utf-8"))
    return RenderedShot(
        shot.id,
        folder / CLIP,
        Image.open(folder / POSTER).convert("RGB"),
        shot.num_frames,
        float(record.get("timings", {}).get("render_s", 0.0)),
        reused=reused,
    )


def prepare_pipeline(job: RenderJob, device: str) -> tuple[Any, dict[str, Any], float]:
    """The one load path of shots and scenes: load, place, adapters, scheduler; setup, load_s.

    Loads the pipeline by the memory plan with the settings' attention backend and cache, then
    attaches the character LoRA, the tier's distillation adapter and the tier's flow shift.
    """
    start = time.perf_counter()
    settings, model = job.settings, job.model
    plan = job.plan or choose_plan(model, device)
    pipe = load_video_pipeline(
        job.model_dir,
        model,
        device=device,
        dtype=job.dtype,
        plan=plan,
        attention=settings.attention,
        cache_threshold=settings.first_block_cache,
        checkpoint_dir=settings.checkpoint_dir,
    )
    if settings.lora_file is not None:
        attach_lora(pipe, model, settings.lora_file, settings.lora_strength)
    if settings.distill_files:
        strength = settings.lora_strength if settings.lora_file is not None else None
        apply_distill_adapter(
            pipe, list(settings.distill_files), settings.distill_strength or 1.0, strength
        )
    set_flow_shift(pipe, settings.flow_shift)
    if settings.refine_steps:  # the two-stage recipe's latent upsampler, beside the pipeline
        from resources.video.ltx2 import load_upsampler

        pipe.two_stage_upsampler = load_upsampler(job.model_dir, pipe, device, job.dtype)
    setup = {
        "device": device,
        "memory_plan": asdict(plan),
        "attention": attention_backend(settings.attention, device),
        "first_block_cache_threshold": settings.first_block_cache,
        "distill_adapter": [Path(f).name for f in settings.distill_files],
    }
    return pipe, setup, time.perf_counter() - start


def settings_record(job: RenderJob, setup: dict[str, Any]) -> dict[str, Any]:
    """What a clip's record says of how it was made: settings, model, LoRA and setup."""
    settings, model = job.settings, job.model
    return {
        "steps": settings.steps,
        "guidance_scale": settings.guidance_scale,
        "width": settings.width,
        "height": settings.height,
        "fps": model.native_fps,
        "model": {"name": model.name, "repo_id": model.repo_id, "revision": model.revision},
        "lora": {
            "file": settings.lora_file.name if settings.lora_file else None,
            "sha256": settings.lora_sha256,
            "strength": settings.lora_strength,
        },
        "condition": settings.condition,
        **setup,
    }


def clip_record(job: RenderJob, shot: ShotRequest, setup: dict[str, Any]) -> dict[str, Any]:
    """A shot's `shot.json` record, less its timings: the request, settings and setup (and the
    reference still it was conditioned on, by file name and sha256)."""
    record = {**asdict(shot), **settings_record(job, setup)}
    if shot.reference_still is not None:
        name = Path(job.still_files[shot.id]).name
        record["still"] = {"file": name, "sha256": shot.reference_still}
    return record


def save_clip(
    folder: Path,
    frames: np.ndarray,
    job: RenderJob,
    record: dict[str, Any],
    audio: tuple[np.ndarray, int] | None = None,
) -> float:
    """Encode `frames` as the folder's clip and poster (and `audio`, (samples, rate), as its
    sound track), then its record last; the encode time."""
    start = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    settings = job.settings
    if audio is not None:
        write_wav(folder / SHOT_AUDIO, *audio)
        record = {**record, "audio": {"file": SHOT_AUDIO, "sample_rate": audio[1]}}
    write_video(
        folder / CLIP, frames, fps=job.model.native_fps, crf=settings.crf, preset=settings.preset
    )
    write_atomic(folder / POSTER, _png_bytes(Image.fromarray(frames[len(frames) // 2])))
    encode_s = time.perf_counter() - start
    timings = {**record.get("timings", {}), "encode_s": encode_s}
    # Written last: its presence marks the shot finished for a retry.
    write_json(folder / SHOT_MANIFEST, {**record, "timings": timings})
    return encode_s


def render_assigned(
    job: RenderJob,
    device: str,
    shots: Iterable[ShotRequest],
    *,
    log: Callable[[str], None],
    stop: StopCheck | None,
) -> None:
    """Load the pipeline once on `device`, then render and save each shot `shots` yields."""
    pipe, setup, load_s = prepare_pipeline(job, device)
    settings = job.settings
    order = list(job.folders)  # the shots of this render, in order: "shot 3 of 4"
    for shot in shots:
        start = time.perf_counter()
        progress = StepProgress(
            log,
            f"shot {shot.id}",
            settings.steps,
            unit="denoising steps",
            item=(order.index(shot.id) + 1, len(order)),
        )
        audio = None
        if job.model.generates_audio:
            from resources.video.ltx2 import render_audio_visual

            upsampler = getattr(pipe, "two_stage_upsampler", None)
            line = None
            if shot.line_unit is not None:
                spoken = read_wav(job.line_files[shot.id])
                line = (spoken.samples, spoken.rate)
            clip = render_audio_visual(
                pipe, upsampler, job.model, shot, width=settings.width, height=settings.height,
                steps=settings.steps, guidance_scale=settings.guidance_scale,
                refine_steps=settings.refine_steps, on_step=progress, line=line,
                image=_still(job, shot),
            )  # fmt: skip
            frames, audio = clip.frames, (clip.audio, clip.sample_rate)
        else:
            frames = _render_shot(pipe, job, shot, progress)
        record = clip_record(job, shot, setup)
        record["timings"] = {"load_s": load_s, "render_s": time.perf_counter() - start}
        save_clip(job.folders[shot.id], frames, job, record, audio)
        size = f"{settings.width}x{settings.height}"
        log(f"shot {shot.id}: {shot.num_frames} frames {size} on {device}")
        stop_if_asked(stop, f"shot {shot.id}")


def _still(job: RenderJob, shot: ShotRequest) -> Image.Image | None:
    """The reference still `shot` starts from (None: its identity comes from the LoRA alone)."""
    if shot.reference_still is None:
        return None
    return Image.open(job.still_files[shot.id]).convert("RGB")


def _render_shot(pipe: Any, job: RenderJob, shot: ShotRequest, progress: Any) -> np.ndarray:
    settings = job.settings
    image = _still(job, shot)
    return render_clip(
        pipe,
        job.model,
        prompt=shot.prompt,
        negative_prompt=shot.negative_prompt,
        num_frames=shot.num_frames,
        width=settings.width,
        height=settings.height,
        steps=settings.steps,
        guidance_scale=settings.guidance_scale,
        seed=shot.seed,
        on_step=progress,
        guidance_scale_2=settings.guidance_scale_2,
        image=image,
    )


class VideoGenerator(ConfigurableResource):
    """Renders a shot list with the character LoRA into H.264 clips, one folder per shot.

    Its fields are settings (pipeline/settings.py reads them from the environment and run config).
    """

    crf: int = 18
    preset: str = "medium"
    # Worker processes: 0 = one per visible GPU on CUDA, one (this process) on the CPU. On the
    # CPU a number > 1 runs that many CPU worker processes: the multi-GPU code path, testable.
    workers: int = 0
    attention: str = "auto"  # auto (flash-attn if importable, else native) | flash | native
    first_block_cache: float = 0.0  # threshold; 0 = off (see docs/models.md for the margin)

    def settings(
        self,
        model: VideoModel,
        recipe: TierRecipe,
        size: RenderSize,
        record: dict[str, Any],
        *,
        lora_file: Path | None,
        lora_strength: float,
        distill_files: list[Path] | tuple[Path, ...] = (),
        checkpoint_dir: Path | None = None,
        condition: str = "lora",
    ) -> RenderSettings:
        """The render settings of one tier: the recipe at `size`, the adapters, this resource's
        encoder and kernels. The one place a tier becomes settings."""
        return RenderSettings(
            tier=recipe.tier,
            width=size.width,
            height=size.height,
            steps=size.steps,
            guidance_scale=recipe.guidance_scale,
            guidance_scale_2=recipe.guidance_scale_2,
            flow_shift=recipe.flow_shift,
            fps=model.native_fps,
            model=record,
            lora_strength=lora_strength,
            lora_sha256=sha256_file(lora_file) if lora_file is not None else None,
            distill_sha256=tuple(sha256_file(f) for f in distill_files),
            distill_strength=recipe.adapter.strength if recipe.adapter else None,
            attention=self.attention,
            first_block_cache=recipe.cache_threshold(self.first_block_cache),
            crf=self.crf,
            preset=self.preset,
            encoder_threads=ENCODER_THREADS,
            lora_file=Path(lora_file) if lora_file is not None else None,
            distill_files=tuple(Path(f) for f in distill_files),
            refine_steps=min(recipe.refine_steps, size.steps),
            checkpoint_sha256=weights_digest(checkpoint_dir) if checkpoint_dir else None,
            checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
            condition=condition,
            pipeline=model.pipeline_class,
        )

    def render_shots(
        self,
        model_dir: Path,
        model: VideoModel,
        shots: list[ShotRequest],
        folders: dict[str, Path],
        settings: RenderSettings,
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        plan: MemoryPlan | None = None,
        log: Callable[[str], None] = print,
        stop: StopCheck | None = None,
        line_files: dict[str, Path] | None = None,
        still_files: dict[str, Path] | None = None,
    ) -> list[RenderedShot]:
        """Render each shot into `folders[shot.id]` with `settings`; finished shots are kept.
        `line_files`: the narration each talking shot (`line_unit` set) follows; `still_files`:
        the reference still each still-conditioned shot (`reference_still` set) starts from."""
        for shot in shots:  # fail before loading anything if any shot is unrenderable
            check_clip_request(
                model, num_frames=shot.num_frames, width=settings.width, height=settings.height
            )
        folders = {shot.id: Path(folders[shot.id]) for shot in shots}
        pending = [s for s in shots if finished_shot(folders[s.id], s, reused=True) is None]
        for shot in shots:
            if shot not in pending:
                log(f"shot {shot.id}: already rendered, kept")
        if pending:
            missing = [s.id for s in pending if s.line_unit and s.id not in (line_files or {})]
            if missing:
                raise ValueError(f"talking shot(s) {', '.join(missing)}: no narration file given")
            stills = {k: Path(v) for k, v in (still_files or {}).items()}
            check_stills(pending, stills)
            job = RenderJob(
                Path(model_dir), model, folders, settings, dtype, plan, dict(line_files or {}),
                stills,
            )  # fmt: skip
            devices = worker_devices(device, self.workers)
            run_in_workers(render_assigned, job, pending, devices, log=log, stop=stop)
        rendered = []
        for shot in shots:
            done = finished_shot(folders[shot.id], shot, reused=shot not in pending)
            if done is None:
                raise RuntimeError(f"shot {shot.id}: rendering finished without {SHOT_MANIFEST}")
            rendered.append(done)
        return rendered


def check_stills(shots: list[ShotRequest], stills: dict[str, Path]) -> None:
    """Raise ValueError, naming the shot and file, unless each still-conditioned shot's still is
    there with the sha256 its version was made with (nothing is rendered from another still)."""
    for shot in shots:
        if shot.reference_still is None:
            continue
        path = stills.get(shot.id)
        if path is None or not path.is_file():
            raise ValueError(f"shot {shot.id}: reference still {path or '(none given)'} missing")
        if sha256_file(path) != shot.reference_still:
            raise ValueError(
                f"shot {shot.id}: reference still {path.name} changed since it was chosen "
                f"(sha256 {sha256_file(path)[:12]}, expected {shot.reference_still[:12]})"
            )


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
