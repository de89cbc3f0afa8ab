"""The kohya backend: train the character LoRA with a studio's own sd-scripts or musubi-tuner.

Given a checkout of kohya-ss/sd-scripts (SDXL character LoRA) or kohya-ss/musubi-tuner
(HunyuanVideo, Wan 2.1, Wan 2.2 A14B, HunyuanVideo 1.5, Kandinsky 5), this module writes the
dataset TOML, builds the family's caching and training commands, runs them as subprocesses with
their output streamed into a log callback (the Dagster log), saves accelerate state every
`save_every` steps (`--save_state`) and restarts from the newest state folder (`--resume`), and
converts musubi-tuner's LoRA (sd-scripts key layout) into the diffusers layout
`load_lora_weights` reads. sd-scripts' SDXL LoRA needs no
conversion: diffusers reads kohya SDXL LoRAs directly.

`KohyaTrainer` is the `lora_trainer` resource that runs a musubi-tuner job for a registry model:
the task (Wan's, HunyuanVideo 1.5's t2v|i2v, Kandinsky 5's k5-*), the flow shift and the
experts' boundary come from the model's registry entry.
The commands are checked against musubi-tuner's own argument parsers at MUSUBI_COMMIT
(tests/musubi_parser.py holds their option tables); neither tool is installed here, and the
runner is tested against a stand-in script.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from resources import families
from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS, VideoModel
from resources.lora.backend import TrainingBackend, TrainRequest, TrainResult
from resources.lora.output import (
    LORA_FILE,
    LORA_FILE_2,
    LOSS_CURVE,
    canonical_safetensors,
    plot_losses,
)
from resources.runtime.interruption import StopCheck, WorkInterrupted
from resources.storage.artifact_store import write_atomic

DATASET_TOML = "dataset.toml"
UNCAPTIONED = "stills_uncaptioned"  # empty-caption copies of the stills (caption dropout)
_STATE = re.compile(r"^(?P<name>.+?)-(?:step(?P<step>\d{8})-)?state$")
_LOSS = re.compile(r"avr_loss[=:]\s*(?P<loss>[0-9.eE+-]+)")

# The musubi-tuner commit the commands are checked against (deploy/Dockerfile pins the same).
MUSUBI_COMMIT = "30c658c4f4b0bf05038b3346eff9670259b10fc7"
# The keys of WAN_CONFIGS in src/musubi_tuner/wan/configs/__init__.py at MUSUBI_COMMIT: the
# choices of wan_train_network.py's --task. None of them is Wan 2.2 TI2V-5B.
MUSUBI_WAN_TASKS = (
    "t2v-14B", "t2v-1.3B", "i2v-14B", "t2i-14B", "flf2v-14B", "t2v-1.3B-FC", "t2v-14B-FC",
    "i2v-14B-FC", "i2v-A14B", "t2v-A14B",
)  # fmt: skip
# hv_1_5_train_network.py's --task choices, and the keys of TASK_CONFIGS in
# src/musubi_tuner/kandinsky5/configs.py (kandinsky5_train_network.py's --task) at MUSUBI_COMMIT.
MUSUBI_HV15_TASKS = ("t2v", "i2v")
MUSUBI_K5_TASKS = (
    "k5-lite-t2i-hd", "k5-lite-i2i-hd", "k5-lite-t2v-5s-sd", "k5-lite-t2v-10s-sd",
    "k5-lite-i2v-5s-sd", "k5-pro-t2v-5s-sd", "k5-pro-t2v-5s-hd", "k5-pro-t2v-10s-sd",
    "k5-pro-t2v-10s-hd", "k5-pro-i2v-5s-sd", "k5-pro-i2v-5s-hd", "k5-lite-t2v-5s-distil-sd",
    "k5-lite-t2v-10s-distil-sd", "k5-lite-t2v-5s-nocfg-sd", "k5-lite-t2v-10s-nocfg-sd",
    "k5-lite-t2v-5s-pretrain-sd", "k5-lite-t2v-10s-pretrain-sd",
)  # fmt: skip
# The --task each musubi family takes (None: its script has no --task).
MUSUBI_TASKS: dict[str, tuple[str, ...]] = {
    "wan": MUSUBI_WAN_TASKS,
    "wan22": MUSUBI_WAN_TASKS,
    "hunyuan15": MUSUBI_HV15_TASKS,
    "kandinsky5": MUSUBI_K5_TASKS,
}


class KohyaError(RuntimeError):
    """A kohya script failed or produced something unusable; the message says which."""


@dataclass(frozen=True)
class KohyaFamily:
    """How one model family is trained by a kohya tool."""

    tool: str  # "sd-scripts" | "musubi-tuner"
    train_script: str
    network_module: str
    flags: tuple[str, ...]  # the family's documented training flags
    cache_scripts: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (script, model flags)
    model_flags: tuple[str, ...] = ()  # weights the training script needs, by flag


# The flags musubi-tuner's HunyuanVideo and Wan examples share (docs/hunyuan_video.md, wan.md);
# --fp8_base and --gradient_checkpointing are the job's options, --task, --discrete_flow_shift
# and --timestep_boundary come from the model's registry entry.
_MUSUBI = (
    *("--sdpa", "--mixed_precision", "bf16", "--optimizer_type", "adamw8bit"),
    *("--max_data_loader_n_workers", "2", "--persistent_data_loader_workers"),
    *("--timestep_sampling", "shift"),
)

FAMILIES: dict[str, KohyaFamily] = {
    "sdxl": KohyaFamily(
        tool="sd-scripts",
        train_script="sdxl_train_network.py",
        network_module="networks.lora",
        flags=(
            "--network_train_unet_only",
            "--cache_latents",
            "--sdpa",
            "--mixed_precision",
            "bf16",
            "--optimizer_type",
            "AdamW8bit",
            "--save_model_as",
            "safetensors",
        ),
        model_flags=("--pretrained_model_name_or_path",),
    ),
    "hunyuan": KohyaFamily(
        tool="musubi-tuner",
        train_script="hv_train_network.py",
        network_module="networks.lora",
        flags=_MUSUBI,
        cache_scripts=(
            ("cache_latents.py", ("--vae",)),
            ("cache_text_encoder_outputs.py", ("--text_encoder1", "--text_encoder2")),
        ),
        model_flags=("--dit",),
    ),
    "wan": KohyaFamily(
        tool="musubi-tuner",
        train_script="wan_train_network.py",
        network_module="networks.lora_wan",
        flags=_MUSUBI,
        cache_scripts=(
            ("wan_cache_latents.py", ("--vae",)),
            ("wan_cache_text_encoder_outputs.py", ("--t5",)),
        ),
        model_flags=("--dit",),
    ),
    "wan22": KohyaFamily(
        tool="musubi-tuner",
        train_script="wan_train_network.py",
        network_module="networks.lora_wan",
        # One LoRA for both experts: --dit is the low-noise model, --dit_high_noise the high.
        flags=(*_MUSUBI, "--offload_inactive_dit"),
        cache_scripts=(
            ("wan_cache_latents.py", ("--vae",)),
            ("wan_cache_text_encoder_outputs.py", ("--t5",)),
        ),
        model_flags=("--dit", "--dit_high_noise"),
    ),
    # docs/hunyuan_video_1_5.md: the Qwen2.5-VL and ByT5 text encoders are cached beforehand.
    "hunyuan15": KohyaFamily(
        tool="musubi-tuner",
        train_script="hv_1_5_train_network.py",
        network_module="networks.lora_hv_1_5",
        flags=_MUSUBI,
        cache_scripts=(
            ("hv_1_5_cache_latents.py", ("--vae",)),
            ("hv_1_5_cache_text_encoder_outputs.py", ("--text_encoder", "--byt5")),
        ),
        model_flags=("--dit",),
    ),
    # docs/kandinsky5.md: the training run names its text encoders too.
    "kandinsky5": KohyaFamily(
        tool="musubi-tuner",
        train_script="kandinsky5_train_network.py",
        network_module="networks.lora_kandinsky",
        flags=_MUSUBI,
        cache_scripts=(
            ("kandinsky5_cache_latents.py", ("--vae",)),
            (
                "kandinsky5_cache_text_encoder_outputs.py",
                ("--text_encoder_qwen", "--text_encoder_clip"),
            ),
        ),
        model_flags=("--dit", "--text_encoder_qwen", "--text_encoder_clip"),
    ),
}


@dataclass(frozen=True)
class KohyaJob:
    """One character LoRA to train with a kohya tool."""

    family: str  # a key of FAMILIES
    checkout: Path  # the sd-scripts or musubi-tuner folder
    work_dir: Path  # dataset TOML, caches, state folders and the output LoRA go here
    image_dir: Path  # stills with a caption .txt beside each
    models: dict[str, Path]  # weights by flag, e.g. {"--dit": ..., "--vae": ...}
    task: str | None = None  # musubi's --task (Wan families); see musubi_model()
    flow_shift: float | None = None  # --discrete_flow_shift (musubi families)
    timestep_boundary: float | None = None  # Wan 2.2: sigma where the experts hand over
    # An image-to-video checkpoint (musubi's i2v tasks): the latent cache keeps each sample's
    # first frame as its condition (--i2v), HunyuanVideo 1.5 with its SigLIP features.
    i2v: bool = False
    output_name: str = "character"
    steps: int = 200
    save_every: int = 50
    rank: int = 32
    alpha: float = 32.0
    learning_rate: float = 2e-4
    seed: int = 0
    resolution: tuple[int, int] = (512, 512)
    caption_dropout: float = 0.0  # share of samples trained on an empty caption
    fp8_base: bool = True
    gradient_checkpointing: bool = True
    num_repeats: int = 1
    python: str = sys.executable  # the kohya environment's interpreter
    # accelerate's launcher; the tests replace it with plain python to run a stand-in.
    launcher: tuple[str, ...] = (
        "-m",
        "accelerate.commands.launch",
        "--num_cpu_threads_per_process",
        "1",
        "--mixed_precision",
        "bf16",
    )
    extra_flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def spec(self) -> KohyaFamily:
        try:
            return FAMILIES[self.family]
        except KeyError:
            known = ", ".join(sorted(FAMILIES))
            raise KohyaError(
                f"kohya backend has no family {self.family!r}; known: {known}"
            ) from None

    @property
    def output_dir(self) -> Path:
        return self.work_dir / "output"

    @property
    def uncaptioned_dir(self) -> Path:
        return self.work_dir / UNCAPTIONED


# -- registry model -> musubi-tuner job ---------------------------------------------------------


def kohya_models() -> list[str]:
    """The registry models the kohya backend trains (with musubi-tuner)."""
    return [m.name for m in VIDEO_MODELS.values() if _refusal(m) is None]


def kohya_reference_models() -> list[str]:
    """The image-to-video checkpoints (registry.REFERENCE_MODELS) musubi-tuner has a task for."""
    return [m.name for m in REFERENCE_MODELS.values() if _refusal(m) is None]


def musubi_model(model: VideoModel) -> dict[str, Any]:
    """The KohyaJob fields that say which model musubi-tuner trains: family, task, shift, boundary.

    Everything comes from the registry entry through its family's module (`Family.musubi`), so
    Wan 2.1 14B is trained as musubi's t2v-14B with its own flow shift. A model musubi-tuner has
    no trainer or task for is refused by name.
    """
    refusal = _refusal(model)
    if refusal:
        raise KohyaError(refusal)
    fields = families.family(model.family).musubi(model)
    return {**fields, "i2v": True} if model.takes_image else fields


def _refusal(model: VideoModel) -> str | None:
    """Why the kohya backend cannot train `model`, or None when it can."""
    at = f"musubi-tuner at commit {MUSUBI_COMMIT[:8]}"
    musubi = families.family(model.family).musubi
    if musubi is None:
        return (
            f"the kohya backend cannot train {model.name}: {at} has no trainer for the "
            f"{model.family} family here; use the peft backend"
        )
    script = musubi(model)["family"]
    tasks = MUSUBI_TASKS.get(script)
    if tasks is None:  # a script without --task
        return None
    if model.musubi_task is None:
        return (
            f"the kohya backend cannot train {model.name}: {at} has no task for it (its "
            f"{model.family} tasks: {', '.join(tasks)}); use the peft backend"
        )
    if model.musubi_task not in tasks:
        return (
            f"registry entry {model.name} names musubi task {model.musubi_task!r}, which "
            f"{at} does not have (its {model.family} tasks: {', '.join(tasks)})"
        )
    return None


def caption_repeats(rate: float) -> tuple[int, int]:
    """(repeats of the captioned stills, repeats of their uncaptioned copies) for `rate`.

    musubi-tuner's dataset config has no caption dropout and it caches each caption's text
    encoding once, so an empty caption cannot be drawn per step: instead the dataset holds the
    stills twice, with and without captions, repeated so that uncaptioned samples are `rate` of
    all samples (as a fraction with a denominator of at most 100: 0.05 -> 19 and 1).
    """
    if not 0.0 <= rate <= 1.0:
        raise KohyaError(f"caption_dropout={rate!r}: must be between 0 and 1")
    share = Fraction(rate).limit_denominator(100)
    return share.denominator - share.numerator, share.numerator


# -- dataset TOML ----------------------------------------------------------------------------


def dataset_toml(job: KohyaJob) -> str:
    """The dataset config for `--dataset_config`, in the layout the job's tool documents.

    sd-scripts: [general] + [[datasets]] + [[datasets.subsets]] (image_dir, num_repeats,
    caption dropout per subset). musubi-tuner's image datasets have no subsets table: the
    image directory and cache directory sit in [[datasets]], and caption dropout becomes a
    second dataset of uncaptioned copies (see caption_repeats).
    """
    width, height = job.resolution
    if job.spec.tool == "sd-scripts":
        general = {
            "caption_extension": ".txt",
            "shuffle_caption": False,
            "enable_bucket": True,
            "bucket_no_upscale": False,
            "bucket_reso_steps": 64,
            "min_bucket_reso": 256,
            "max_bucket_reso": 2048,
        }
        dataset = {"resolution": [width, height], "batch_size": 1}
        subset = {
            "image_dir": str(job.image_dir),
            "num_repeats": job.num_repeats,
            "caption_dropout_rate": job.caption_dropout,
        }
        return _toml({"general": general}, [("datasets", dataset, [("subsets", subset)])])
    general = {
        "resolution": [width, height],
        "caption_extension": ".txt",
        "batch_size": 1,
        "enable_bucket": True,
        "bucket_no_upscale": False,
    }
    captioned, uncaptioned = caption_repeats(job.caption_dropout)
    datasets = []
    # Each dataset caches into its own folder: musubi names cache files after the image files.
    for folder, cache, repeats in (
        (job.image_dir, "cache", captioned),
        (job.uncaptioned_dir, "cache_uncaptioned", uncaptioned),
    ):
        if repeats:
            dataset = {
                "image_directory": str(folder),
                "cache_directory": str(job.work_dir / cache),
                "num_repeats": job.num_repeats * repeats,
            }
            datasets.append(("datasets", dataset, []))
    return _toml({"general": general}, datasets)


def _toml(
    tables: dict[str, dict],
    arrays: list[tuple[str, dict, list[tuple[str, dict]]]],
) -> str:
    """A small TOML writer for the flat values a dataset config holds."""
    lines: list[str] = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    for name, values, children in arrays:
        lines.append(f"[[{name}]]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
        for child, child_values in children:
            lines.append(f"  [[{name}.{child}]]")
            lines += [f"  {key} = {_toml_value(value)}" for key, value in child_values.items()]
            lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string for these values
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to the dataset TOML")


# -- commands ----------------------------------------------------------------------------------


def script_path(job: KohyaJob, script: str) -> Path:
    """Where `script` lives in the checkout: musubi-tuner moved its scripts to src/musubi_tuner/."""
    for candidate in (job.checkout / "src" / "musubi_tuner" / script, job.checkout / script):
        if candidate.is_file():
            return candidate
    raise KohyaError(
        f"{script} not found in the {job.spec.tool} checkout {job.checkout} (looked in "
        f"src/musubi_tuner/ and the top level); is this a {job.spec.tool} checkout?"
    )


def cache_commands(job: KohyaJob) -> list[list[str]]:
    """musubi-tuner's latent and text-encoder caching runs (sd-scripts caches while training)."""
    toml = str(job.work_dir / DATASET_TOML)
    commands = []
    for script, flags in job.spec.cache_scripts:
        command = [job.python, str(script_path(job, script)), "--dataset_config", toml]
        for flag in flags:
            command += [flag, str(_model(job, flag))]
        if "text_encoder" in script:
            command += ["--batch_size", "16"]
        elif job.i2v:
            command += _i2v_flags(job, latents=True)
        commands.append(command)
    return commands


def _i2v_flags(job: KohyaJob, *, latents: bool) -> list[str]:
    """What an image-to-video task adds: Wan's latent cache takes --i2v (Wan 2.2 needs no CLIP);
    HunyuanVideo 1.5 caches with --i2v and its SigLIP encoder, and trains with the encoder too
    (docs/wan.md, docs/hunyuan_video_1_5.md); Kandinsky 5's cache always keeps the first frame
    and its i2v task says the rest (docs/kandinsky5.md)."""
    if job.family in ("wan", "wan22"):
        return ["--i2v"] if latents else []
    if job.family == "hunyuan15":
        encoder = ["--image_encoder", str(_model(job, "--image_encoder"))]
        return ["--i2v", *encoder] if latents else encoder
    return []


def train_command(job: KohyaJob, resume: Path | None) -> list[str]:
    """The training run with the family's flags, saving state every `save_every` steps."""
    spec = job.spec
    command = [job.python, *job.launcher, str(script_path(job, spec.train_script))]
    for flag in spec.model_flags:
        command += [flag, str(_model(job, flag))]
    if spec.tool == "musubi-tuner" and "--vae" in job.models and "--vae" not in spec.model_flags:
        command += ["--vae", str(job.models["--vae"])]
    command += ["--dataset_config", str(job.work_dir / DATASET_TOML), *spec.flags]
    if spec.tool == "musubi-tuner":
        command += _musubi_model_flags(job)
        command += _i2v_flags(job, latents=False) if job.i2v else []
        command += ["--fp8_base"] if job.fp8_base else []
    command += ["--gradient_checkpointing"] if job.gradient_checkpointing else []
    command += [
        "--network_module",
        spec.network_module,
        "--network_dim",
        str(job.rank),
        "--network_alpha",
        repr(float(job.alpha)),
        "--learning_rate",
        repr(job.learning_rate),
        "--max_train_steps",
        str(job.steps),
        "--save_every_n_steps",
        str(job.save_every),
        "--save_state",
        "--seed",
        str(job.seed),
        "--output_dir",
        str(job.output_dir),
        "--output_name",
        job.output_name,
        *job.extra_flags,
    ]
    if resume is not None:
        command += ["--resume", str(resume)]
    return command


def _musubi_model_flags(job: KohyaJob) -> list[str]:
    """--task, --timestep_boundary and --discrete_flow_shift, as musubi's parser takes them."""
    flags: list[str] = []
    if job.family in MUSUBI_TASKS:
        tasks = MUSUBI_TASKS[job.family]
        if job.task not in tasks:
            raise KohyaError(
                f"kohya {job.family} job has task {job.task!r}; musubi-tuner's tasks for it "
                f"are {', '.join(tasks)}"
            )
        flags += ["--task", job.task]
    if job.timestep_boundary is not None:
        # musubi declares --timestep_boundary an int and divides values above 1 by 1000.
        permille = job.timestep_boundary * 1000.0
        if not 1 < round(permille) < 1000 or abs(permille - round(permille)) > 1e-6:
            raise KohyaError(
                f"timestep_boundary={job.timestep_boundary!r}: musubi-tuner takes whole "
                "thousandths between 0.002 and 0.999"
            )
        flags += ["--timestep_boundary", str(round(permille))]
    if job.flow_shift is None:
        raise KohyaError(f"kohya {job.family} job needs a flow shift (--discrete_flow_shift)")
    return [*flags, "--discrete_flow_shift", repr(float(job.flow_shift))]


def _model(job: KohyaJob, flag: str) -> Path:
    try:
        return job.models[flag]
    except KeyError:
        raise KohyaError(
            f"kohya {job.family} training needs the weights for {flag}; "
            f"set it in the job's models (have: {', '.join(sorted(job.models)) or 'none'})"
        ) from None


def newest_state(output_dir: Path, output_name: str) -> Path | None:
    """The newest complete accelerate state folder the tool saved with `--save_state`.

    Names are `<name>-stepNNNNNNNN-state` (every N steps) and `<name>-state` (at the end).
    A folder without accelerate's optimizer file is a save that was cut short: skipped.
    """
    best: tuple[int, Path] | None = None
    for folder in output_dir.glob(f"{output_name}*-state"):
        match = _STATE.match(folder.name)
        if not match or match["name"] != output_name or not folder.is_dir():
            continue
        if not any(folder.glob("optimizer*.bin")) and not any(folder.glob("optimizer*.pt")):
            continue
        step = int(match["step"]) if match["step"] else 10**9  # the final state is newest
        if best is None or step > best[0]:
            best = (step, folder)
    return best[1] if best else None


# -- running --------------------------------------------------------------------------------


def run_streaming(
    command: Sequence[str],
    *,
    cwd: Path,
    log: Callable[[str], None],
    stop: StopCheck | None = None,
    progress_every_s: float = 10.0,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """Run `command`, sending its output to `log` line by line (progress bars throttled).

    tqdm redraws its bar with carriage returns; each redraw is a line here, and bar lines are
    logged at most every `progress_every_s`. `stop` is polled every second: on a reason the
    process gets SIGINT (then SIGKILL after 60 s) and WorkInterrupted is raised.
    """
    name = Path(command[1] if len(command) > 1 else command[0]).name
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        bufsize=0,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    last_progress, tail = 0.0, []
    while True:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            tail = (tail + [line])[-20:]
            if on_line is not None:
                on_line(line)
            is_bar = "it/s" in line or "s/it" in line or "%|" in line
            now = time.monotonic()
            if not is_bar or now - last_progress >= progress_every_s:
                log(f"{name}: {line}")
                last_progress = now if is_bar else last_progress
        reason = stop() if stop is not None else None
        if reason:
            _stop_process(process)
            raise WorkInterrupted(reason, f"kohya {name}")
    code = process.wait()
    if code != 0:
        shown = "\n".join(tail[-8:])
        raise KohyaError(f"{name} exited with status {code}; its last output:\n{shown}")


def _read_lines(stream, lines: queue.Queue) -> None:
    buffer = b""
    for chunk in iter(lambda: stream.read(4096), b""):
        buffer += chunk
        parts = re.split(rb"[\r\n]", buffer)
        buffer = parts.pop()
        for part in parts:
            text = part.decode("utf-8", "replace").strip()
            if text:
                lines.put(text)
    if buffer.strip():
        lines.put(buffer.decode("utf-8", "replace").strip())
    lines.put(None)


def _stop_process(process: subprocess.Popen) -> None:
    # SIGINT lets accelerate finish the write in progress; the newest whole state is kept.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the whole job ------------------------------------------------------------------------------


@dataclass
class KohyaResult:
    lora_file: Path  # the LoRA in the diffusers layout (or kohya SDXL, which diffusers reads)
    tool_output: Path  # what the tool wrote
    losses: list[float]  # the running average loss the tool printed, in order
    resumed_from: Path | None


def train_with_kohya(
    job: KohyaJob,
    *,
    log: Callable[[str], None] = print,
    stop: StopCheck | None = None,
    hidden_size: int | None = None,
    metadata: dict[str, str] | None = None,
) -> KohyaResult:
    """Cache, train (resuming from the newest saved state) and convert; returns the LoRA.

    `hidden_size` (the transformer's width) lets the conversion split HunyuanVideo's fused
    single-block projection; without it, only layouts that need no width are converted.
    """
    job.work_dir.mkdir(parents=True, exist_ok=True)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    if caption_repeats(job.caption_dropout)[1]:
        _write_uncaptioned_copies(job.image_dir, job.uncaptioned_dir)
    write_atomic(job.work_dir / DATASET_TOML, dataset_toml(job))
    resume = newest_state(job.output_dir, job.output_name)
    if resume is None:
        for command in cache_commands(job):
            run_streaming(command, cwd=job.checkout, log=log, stop=stop)
    else:
        log(f"kohya: resuming from {resume.name}")
    losses: list[float] = []

    def collect(line: str) -> None:
        match = _LOSS.search(line)
        if match:
            losses.append(float(match["loss"]))

    run_streaming(train_command(job, resume), cwd=job.checkout, log=log, stop=stop, on_line=collect)
    produced = job.output_dir / f"{job.output_name}.safetensors"
    if not produced.is_file():
        raise KohyaError(f"{job.spec.train_script} finished but wrote no {produced}")
    out = job.work_dir / LORA_FILE
    if job.family == "sdxl":
        shutil.copyfile(produced, out)  # diffusers' SDXL loader reads kohya keys itself
    else:
        tensors = musubi_to_diffusers(load_file(produced), job.family, hidden_size=hidden_size)
        write_atomic(out, canonical_safetensors(tensors, {"format": "pt", **(metadata or {})}))
    return KohyaResult(out, produced, losses, resume)


def _write_uncaptioned_copies(image_dir: Path, out_dir: Path) -> None:
    """Every still of `image_dir` again in `out_dir`, each with an empty caption file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for image in sorted(image_dir.iterdir()):
        if image.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
            shutil.copyfile(image, out_dir / image.name)
            (out_dir / image.with_suffix(".txt").name).write_text("\n", encoding="utf-8")


# -- the lora_trainer resource ---------------------------------------------------------------


class KohyaTrainer(TrainingBackend):
    """Trains the character LoRA with a studio's musubi-tuner checkout, as subprocesses."""

    checkout: str = ""  # the musubi-tuner folder
    python: str = ""  # that checkout's interpreter (default: this one)
    models: dict[str, str] = {}  # its weights by flag: --dit, --vae, --t5, ...
    caption_dropout: float = 0.05  # share of samples trained on an empty caption
    gradient_checkpointing: bool = True
    fp8_base: bool = True  # musubi's examples train with --fp8_base

    def settings(self) -> dict[str, Any]:
        """The kohya backend and its options that change the LoRA it trains."""
        return {
            "caption_dropout": self.caption_dropout,
            "gradient_checkpointing": self.gradient_checkpointing,
            "fp8_base": self.fp8_base,
            "backend": "kohya",
        }

    def _run(self, request: TrainRequest) -> TrainResult:
        model, out_dir = request.model, request.out_dir
        if model.takes_image:
            raise KohyaError(
                f"the kohya backend cannot train {model.name} (an image-to-video checkpoint) on "
                "the reference stills: musubi's i2v tasks condition a sample on its own first "
                "frame, so a one-frame sample would be its own condition"
            )
        target = musubi_model(model)  # refuses what musubi cannot train before any work
        if not self.checkout:
            raise ValueError("the kohya backend needs lora_trainer.checkout: a musubi-tuner folder")
        work = out_dir / "kohya"
        stills = work / "stills"  # only the stills: the tools glob the folder
        stills.mkdir(parents=True, exist_ok=True)
        pairs = zip(request.images, request.captions, strict=True)
        for index, (image, caption) in enumerate(pairs):
            shutil.copyfile(image, stills / f"{index:04d}{image.suffix}")
            (stills / f"{index:04d}.txt").write_text(caption + "\n", encoding="utf-8")
        job = KohyaJob(
            **target,
            checkout=Path(self.checkout),
            work_dir=work,
            image_dir=stills,
            models={flag: Path(path) for flag, path in self.models.items()},
            steps=request.steps,
            save_every=request.checkpoint_every,
            rank=request.rank,
            alpha=request.alpha,
            learning_rate=request.learning_rate,
            seed=request.seed,
            resolution=(request.width, request.height),
            caption_dropout=self.caption_dropout,
            fp8_base=self.fp8_base,
            gradient_checkpointing=self.gradient_checkpointing,
            python=self.python or sys.executable,
        )
        config = json.loads(
            (request.model_dir / "transformer" / "config.json").read_text(encoding="utf-8")
        )
        hidden = config.get("num_attention_heads", 0) * config.get("attention_head_dim", 0)
        result = train_with_kohya(
            job,
            log=request.log,
            stop=request.stop,
            hidden_size=hidden or None,
            metadata=request.metadata,
        )
        files = [out_dir / LORA_FILE]
        shutil.copyfile(result.lora_file, files[0])
        if model.experts == 2:  # musubi trains one LoRA for both Wan 2.2 experts
            files.append(out_dir / LORA_FILE_2)
            shutil.copyfile(result.lora_file, files[1])
        plot_losses(result.losses, out_dir / LOSS_CURVE)
        resumed = None
        if result.resumed_from is not None:
            digits = "".join(c for c in result.resumed_from.name if c.isdigit())
            resumed = int(digits) if digits else request.steps
        captioned, uncaptioned = caption_repeats(self.caption_dropout)
        return TrainResult(
            lora_file=files[0],
            losses=result.losses,
            train_s=time.perf_counter() - request.started,
            resumed_from=resumed,
            lora_files=files,
            dataset_hash=request.dataset_hash,
            settings={
                **self.settings(),
                "kohya_family": job.family,
                "musubi_task": job.task,
                "discrete_flow_shift": job.flow_shift,
                "timestep_boundary": job.timestep_boundary,
                "rank": request.rank,
                "alpha": request.alpha,
                # musubi has no caption dropout: what the dataset does instead.
                "caption_dropout_applied": {
                    "method": "uncaptioned copies of the stills in a second dataset",
                    "captioned_repeats": captioned,
                    "uncaptioned_repeats": uncaptioned,
                    "uncaptioned_share": uncaptioned / (captioned + uncaptioned),
                },
            },
        )


# -- musubi-tuner LoRA -> diffusers layout ---------------------------------------------------------

# Original (musubi) module names in a block -> diffusers module names.
_HUNYUAN_DOUBLE = {
    "img_attn_proj": ["attn.to_out.0"],
    "txt_attn_proj": ["attn.to_add_out"],
    "img_attn_qkv": ["attn.to_q", "attn.to_k", "attn.to_v"],
    "txt_attn_qkv": ["attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"],
    "img_mlp_fc1": ["ff.net.0.proj"],
    "img_mlp_fc2": ["ff.net.2"],
    "txt_mlp_fc1": ["ff_context.net.0.proj"],
    "txt_mlp_fc2": ["ff_context.net.2"],
    "img_mod_linear": ["norm1.linear"],
    "txt_mod_linear": ["norm1_context.linear"],
}
_HUNYUAN_SINGLE = {
    "linear1": ["attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"],
    "linear2": ["proj_out"],
    "modulation_linear": ["norm.linear"],
}
# HunyuanVideo 1.5's double blocks (musubi's hunyuan_video_1_5_modules.py names, the original's)
# -> diffusers' HunyuanVideo15TransformerBlock, as diffusers' convert_hunyuan_video1_5_to_diffusers
# maps the weights: q, k and v are separate layers there, no fused projection to split.
_HUNYUAN15_DOUBLE = {
    **{k: v for k, v in _HUNYUAN_DOUBLE.items() if "qkv" not in k},
    **{f"img_attn_{a}": [f"attn.to_{a}"] for a in "qkv"},
    **{f"txt_attn_{a}": [f"attn.add_{a}_proj"] for a in "qkv"},
}
# Kandinsky 5: musubi's DiT keeps the original module names, which diffusers'
# Kandinsky5Transformer3DModel keeps too; only the dots became underscores in the LoRA's keys.
_K5_MODULE = re.compile(
    r"^lora_unet_(?P<blocks>text_transformer_blocks|visual_transformer_blocks)_(?P<i>\d+)_"
    r"(?P<part>self_attention|cross_attention|feed_forward)_"
    r"(?P<layer>to_query|to_key|to_value|out_layer|in_layer)$"
)


def _kandinsky5_target(module: str) -> tuple[str, list[str]]:
    match = _K5_MODULE.match(module)
    if match is None:
        raise KohyaError(f"LoRA module {module} has no diffusers counterpart for kandinsky5")
    return f"{match['blocks']}.{match['i']}.{match['part']}", [match["layer"]]


_QKVO = (("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("o", "to_out.0"))
_WAN = {
    **{f"self_attn_{a}": [f"attn1.{b}"] for a, b in _QKVO},
    **{f"cross_attn_{a}": [f"attn2.{b}"] for a, b in _QKVO},
    "cross_attn_k_img": ["attn2.add_k_proj"],
    "cross_attn_v_img": ["attn2.add_v_proj"],
    "ffn_0": ["ffn.net.0.proj"],
    "ffn_2": ["ffn.net.2"],
}
_BLOCK = re.compile(
    r"^lora_unet_(?P<kind>double_blocks|single_blocks|blocks)_(?P<i>\d+)_(?P<rest>.+)$"
)


def musubi_to_diffusers(
    state: dict[str, torch.Tensor], family: str, *, hidden_size: int | None = None
) -> dict[str, torch.Tensor]:
    """A musubi-tuner LoRA (sd-scripts keys: `lora_unet_<module>.lora_down/up/alpha`) in the
    diffusers layout (`transformer.<module>.lora_A/B.weight`), with alpha/rank folded into A.

    Fused projections (HunyuanVideo's qkv and single-block linear1) are split along the output
    rows of `lora_up`; `lora_down` is shared by the parts, which is exact.
    """
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        module, _, part = key.partition(".")
        modules.setdefault(module, {})[part] = tensor
    out: dict[str, torch.Tensor] = {}
    for module, parts in sorted(modules.items()):
        if "lora_down.weight" not in parts or "lora_up.weight" not in parts:
            raise KohyaError(f"LoRA module {module} lacks lora_down/lora_up weights")
        down, up = parts["lora_down.weight"].float(), parts["lora_up.weight"].float()
        rank = down.shape[0]
        alpha = float(parts["alpha"]) if "alpha" in parts else float(rank)
        down = down * (alpha / rank)
        prefix, targets = _diffusers_targets(module, family)
        sizes = _split_sizes(module, targets, up.shape[0], hidden_size)
        for target, rows in zip(targets, up.split(sizes, dim=0), strict=True):
            out[f"transformer.{prefix}.{target}.lora_A.weight"] = down.clone()
            out[f"transformer.{prefix}.{target}.lora_B.weight"] = rows.clone()
    return out


def _diffusers_targets(module: str, family: str) -> tuple[str, list[str]]:
    if family == "kandinsky5":
        return _kandinsky5_target(module)
    match = _BLOCK.match(module)
    if match is None:
        raise KohyaError(f"LoRA module {module} is not in a transformer block; cannot convert it")
    kind, index, rest = match["kind"], match["i"], match["rest"]
    if family == "hunyuan" and kind == "double_blocks" and rest in _HUNYUAN_DOUBLE:
        return f"transformer_blocks.{index}", _HUNYUAN_DOUBLE[rest]
    if family == "hunyuan" and kind == "single_blocks" and rest in _HUNYUAN_SINGLE:
        return f"single_transformer_blocks.{index}", _HUNYUAN_SINGLE[rest]
    if family in ("wan", "wan22") and kind == "blocks" and rest in _WAN:
        return f"blocks.{index}", _WAN[rest]
    if family == "hunyuan15" and kind == "double_blocks" and rest in _HUNYUAN15_DOUBLE:
        return f"transformer_blocks.{index}", _HUNYUAN15_DOUBLE[rest]
    raise KohyaError(f"LoRA module {module} has no diffusers counterpart for family {family!r}")


def _split_sizes(module: str, targets: list[str], rows: int, hidden: int | None) -> list[int]:
    if len(targets) == 1:
        return [rows]
    if len(targets) == 3:
        if rows % 3:
            raise KohyaError(f"LoRA module {module}: {rows} rows do not split into q, k, v")
        return [rows // 3] * 3
    if hidden is None or rows <= 3 * hidden:
        raise KohyaError(
            f"LoRA module {module}: splitting q, k, v and the MLP needs the model's width; "
            "pass the diffusers transformer"
        )
    return [hidden, hidden, hidden, rows - 3 * hidden]
