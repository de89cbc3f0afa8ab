"""musubi-tuner's command-line options and dataset config schema, as facts for the kohya tests.

Transcribed from kohya-ss/musubi-tuner at commit 30c658c4f4b0bf05038b3346eff9670259b10fc7
(the one resources/lora/kohya.py's MUSUBI_COMMIT and deploy/Dockerfile name): each table lists
the options one `add_argument` group declares, with its type, choices, nargs and whether it is
required, in the order of the source file named above it. `musubi_parser(script)` builds an
argparse parser from the tables the script's `main()` combines, so a command the backend emits
is parsed the way musubi-tuner would parse it; a parse error raises MusubiArgumentError.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # "switch" (store_true) | "str" | "int" | "float" | "path" | "int_or_float"
    choices: tuple[str, ...] = ()
    nargs: str | None = None
    required: bool = False


def _opt(name: str, kind: str, **facts: Any) -> Option:
    return Option(name, kind, **facts)


# src/musubi_tuner/training/parser_common.py, setup_parser_common() and its _add_*_args helpers
# (in their call order). --dynamo_backend's choices are accelerate's DynamoBackend values, not
# listed in musubi's source: left open here (the backend does not emit it).
TRAIN_COMMON = (
    _opt("--config_file", "str"),
    _opt("--dataset_config", "path"),
    _opt("--sdpa", "switch"),
    _opt("--flash_attn", "switch"),
    _opt("--sage_attn", "switch"),
    _opt("--xformers", "switch"),
    _opt("--flash3", "switch"),
    _opt("--split_attn", "switch"),
    _opt("--compile", "switch"),
    _opt("--compile_backend", "str"),
    _opt(
        "--compile_mode",
        "str",
        choices=("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"),
    ),
    _opt("--compile_dynamic", "str", choices=("true", "false", "auto")),
    _opt("--compile_fullgraph", "switch"),
    _opt("--compile_cache_size_limit", "int"),
    _opt("--cuda_allow_tf32", "switch"),
    _opt("--cuda_cudnn_benchmark", "switch"),
    _opt("--dynamo_backend", "str"),
    _opt("--dynamo_mode", "str", choices=("default", "reduce-overhead", "max-autotune")),
    _opt("--dynamo_fullgraph", "switch"),
    _opt("--dynamo_dynamic", "switch"),
    _opt("--max_train_steps", "int"),
    _opt("--max_train_epochs", "int"),
    _opt("--max_data_loader_n_workers", "int"),
    _opt("--persistent_data_loader_workers", "switch"),
    _opt("--seed", "int"),
    _opt("--gradient_checkpointing", "switch"),
    _opt("--gradient_checkpointing_cpu_offload", "switch"),
    _opt("--gradient_accumulation_steps", "int"),
    _opt("--mixed_precision", "str", choices=("no", "fp16", "bf16")),
    _opt("--save_precision", "str", choices=("float", "fp32", "fp16", "bf16")),
    _opt("--logging_dir", "str"),
    _opt("--log_with", "str", choices=("tensorboard", "wandb", "all")),
    _opt("--log_prefix", "str"),
    _opt("--log_tracker_name", "str"),
    _opt("--wandb_run_name", "str"),
    _opt("--log_tracker_config", "str"),
    _opt("--wandb_api_key", "str"),
    _opt("--log_config", "switch"),
    _opt("--ddp_timeout", "int"),
    _opt("--ddp_gradient_as_bucket_view", "switch"),
    _opt("--ddp_static_graph", "switch"),
    _opt("--sample_every_n_steps", "int"),
    _opt("--sample_at_first", "switch"),
    _opt("--sample_every_n_epochs", "int"),
    _opt("--sample_prompts", "str"),
    _opt("--optimizer_type", "str"),
    _opt("--optimizer_args", "str", nargs="*"),
    _opt("--learning_rate", "float"),
    _opt("--max_grad_norm", "float"),
    _opt("--lr_scheduler", "str"),
    _opt("--lr_warmup_steps", "int_or_float"),
    _opt("--lr_decay_steps", "int_or_float"),
    _opt("--lr_scheduler_num_cycles", "int"),
    _opt("--lr_scheduler_power", "float"),
    _opt("--lr_scheduler_timescale", "int"),
    _opt("--lr_scheduler_min_lr_ratio", "float"),
    _opt("--lr_scheduler_type", "str"),
    _opt("--lr_scheduler_args", "str", nargs="*"),
    _opt("--fp8_base", "switch"),
    _opt("--blocks_to_swap", "int"),
    _opt("--use_pinned_memory_for_block_swap", "switch"),
    _opt("--block_swap_h2d_only", "switch"),
    _opt("--block_swap_ring_size", "int"),
    _opt("--img_in_txt_in_offloading", "switch"),
    _opt("--disable_numpy_memmap", "switch"),
    _opt("--guidance_scale", "float"),
    _opt(
        "--timestep_sampling",
        "str",
        choices=(
            "sigma",
            "uniform",
            "sigmoid",
            "shift",
            "flux_shift",
            "flux2_shift",
            "ideogram4_shift",
            "qwen_shift",
            "krea2_shift",
            "logsnr",
            "qinglong_flux",
            "qinglong_qwen",
        ),
    ),
    _opt("--discrete_flow_shift", "float"),
    _opt("--sigmoid_scale", "float"),
    _opt(
        "--weighting_scheme",
        "str",
        choices=("logit_normal", "mode", "cosmap", "sigma_sqrt", "none"),
    ),
    _opt("--logit_mean", "float"),
    _opt("--logit_std", "float"),
    _opt("--mode_scale", "float"),
    _opt("--min_timestep", "int"),
    _opt("--max_timestep", "int"),
    _opt("--preserve_distribution_shape", "switch"),
    _opt("--num_timestep_buckets", "int"),
    _opt("--show_timesteps", "str", choices=("image", "console")),
    _opt("--no_metadata", "switch"),
    _opt("--network_weights", "str"),
    _opt("--network_module", "str"),
    _opt("--network_dim", "int"),
    _opt("--network_alpha", "float"),
    _opt("--network_dropout", "float"),
    _opt("--network_args", "str", nargs="*"),
    _opt("--training_comment", "str"),
    _opt("--dim_from_weights", "switch"),
    _opt("--scale_weight_norms", "float"),
    _opt("--base_weights", "str", nargs="*"),
    _opt("--base_weights_multiplier", "float", nargs="*"),
    _opt("--output_dir", "str"),
    _opt("--output_name", "str"),
    _opt("--resume", "str"),
    _opt("--save_every_n_epochs", "int"),
    _opt("--save_every_n_steps", "int"),
    _opt("--save_last_n_epochs", "int"),
    _opt("--save_last_n_epochs_state", "int"),
    _opt("--save_last_n_steps", "int"),
    _opt("--save_last_n_steps_state", "int"),
    _opt("--save_state", "switch"),
    _opt("--save_state_on_train_end", "switch"),
    _opt("--metadata_title", "str"),
    _opt("--metadata_author", "str"),
    _opt("--metadata_description", "str"),
    _opt("--metadata_license", "str"),
    _opt("--metadata_tags", "str"),
    _opt("--metadata_reso", "str"),
    _opt("--metadata_arch", "str"),
    _opt("--huggingface_repo_id", "str"),
    _opt("--huggingface_repo_type", "str"),
    _opt("--huggingface_path_in_repo", "str"),
    _opt("--huggingface_token", "str"),
    _opt("--huggingface_repo_visibility", "str"),
    _opt("--save_state_to_huggingface", "switch"),
    _opt("--resume_from_huggingface", "switch"),
    _opt("--async_upload", "switch"),
    _opt("--dit", "str"),
    _opt("--vae", "str"),
    _opt("--vae_dtype", "str"),
)

# src/musubi_tuner/hv_train_network.py, hv_setup_parser()
HV_TRAIN = (
    _opt("--dit_dtype", "str"),
    _opt("--dit_in_channels", "int"),
    _opt("--fp8_llm", "switch"),
    _opt("--text_encoder1", "str"),
    _opt("--text_encoder2", "str"),
    _opt("--text_encoder_dtype", "str"),
    _opt("--vae_tiling", "switch"),
    _opt("--vae_chunk_size", "int"),
    _opt("--vae_spatial_tile_sample_min_size", "int"),
)

# src/musubi_tuner/wan_train_network.py, wan_setup_parser(); --task's choices are the keys of
# WAN_CONFIGS in src/musubi_tuner/wan/configs/__init__.py (no Wan 2.2 TI2V-5B task).
WAN_TASKS = (
    "t2v-14B", "t2v-1.3B", "i2v-14B", "t2i-14B", "flf2v-14B", "t2v-1.3B-FC", "t2v-14B-FC",
    "i2v-14B-FC", "i2v-A14B", "t2v-A14B",
)  # fmt: skip
WAN_TRAIN = (
    _opt("--task", "str", choices=WAN_TASKS),
    _opt("--fp8_scaled", "switch"),
    _opt("--t5", "str"),
    _opt("--fp8_t5", "switch"),
    _opt("--clip", "str"),
    _opt("--vae_cache_cpu", "switch"),
    _opt("--one_frame", "switch"),
    _opt("--force_v2_1_time_embedding", "switch"),
    _opt("--dit_high_noise", "str"),
    _opt("--timestep_boundary", "int"),
    _opt("--offload_inactive_dit", "switch"),
)

# src/musubi_tuner/cache_latents.py, setup_parser_common() and hv_setup_parser()
CACHE_LATENTS = (
    _opt("--dataset_config", "str", required=True),
    _opt("--vae", "str"),
    _opt("--vae_dtype", "str"),
    _opt("--device", "str"),
    _opt("--batch_size", "int"),
    _opt("--num_workers", "int"),
    _opt("--skip_existing", "switch"),
    _opt("--keep_cache", "switch"),
    _opt("--debug_mode", "str", choices=("image", "console", "video")),
    _opt("--console_width", "int"),
    _opt("--console_back", "str"),
    _opt("--console_num_images", "int"),
    _opt("--disable_cudnn_backend", "switch"),
)
CACHE_LATENTS_HV = (
    _opt("--vae_tiling", "switch"),
    _opt("--vae_chunk_size", "int"),
    _opt("--vae_spatial_tile_sample_min_size", "int"),
)

# src/musubi_tuner/wan_cache_latents.py, wan_setup_parser()
CACHE_LATENTS_WAN = (
    _opt("--vae_cache_cpu", "switch"),
    _opt("--i2v", "switch"),
    _opt("--clip", "str"),
    _opt("--one_frame", "switch"),
)

# src/musubi_tuner/cache_text_encoder_outputs.py, setup_parser_common() and hv_setup_parser()
CACHE_TEXT = (
    _opt("--dataset_config", "str", required=True),
    _opt("--device", "str"),
    _opt("--batch_size", "int"),
    _opt("--num_workers", "int"),
    _opt("--skip_existing", "switch"),
    _opt("--keep_cache", "switch"),
)
CACHE_TEXT_HV = (
    _opt("--text_encoder1", "str", required=True),
    _opt("--text_encoder2", "str", required=True),
    _opt("--text_encoder_dtype", "str"),
    _opt("--fp8_llm", "switch"),
)

# src/musubi_tuner/wan_cache_text_encoder_outputs.py, wan_setup_parser()
CACHE_TEXT_WAN = (
    _opt("--t5", "str", required=True),
    _opt("--fp8_t5", "switch"),
)

# src/musubi_tuner/hv_1_5_train_network.py, hv1_5_setup_parser()
HV15_TRAIN = (
    _opt("--task", "str", choices=("t2v", "i2v")),
    _opt("--dit_dtype", "str"),
    _opt("--fp8_scaled", "switch"),
    _opt("--text_encoder", "str"),
    _opt("--fp8_vl", "switch"),
    _opt("--byt5", "str"),
    _opt("--image_encoder", "str"),
    _opt("--vae_sample_size", "int"),
    _opt("--vae_enable_patch_conv", "switch"),
)

# src/musubi_tuner/kandinsky5_train_network.py, kandinsky5_setup_parser(). --task is a required
# str whose value the trainer's __init__ checks against TASK_CONFIGS' keys
# (src/musubi_tuner/kandinsky5/configs.py), raising ValueError otherwise: those keys are its
# choices here. --no_nabla_add_sta is a store_false switch on the same destination.
K5_TASKS = (
    "k5-lite-t2i-hd", "k5-lite-i2i-hd", "k5-lite-t2v-5s-sd", "k5-lite-t2v-10s-sd",
    "k5-lite-i2v-5s-sd", "k5-pro-t2v-5s-sd", "k5-pro-t2v-5s-hd", "k5-pro-t2v-10s-sd",
    "k5-pro-t2v-10s-hd", "k5-pro-i2v-5s-sd", "k5-pro-i2v-5s-hd", "k5-lite-t2v-5s-distil-sd",
    "k5-lite-t2v-10s-distil-sd", "k5-lite-t2v-5s-nocfg-sd", "k5-lite-t2v-10s-nocfg-sd",
    "k5-lite-t2v-5s-pretrain-sd", "k5-lite-t2v-10s-pretrain-sd",
)  # fmt: skip
K5_TRAIN = (
    _opt("--task", "str", choices=K5_TASKS, required=True),
    _opt("--override_dit", "str"),
    _opt("--fp8_scaled", "switch"),
    _opt("--text_encoder_qwen", "str"),
    _opt("--text_encoder_clip", "str"),
    _opt("--offload_dit_during_sampling", "switch"),
    _opt("--no_vae_load", "switch"),
    _opt("--scheduler_scale", "float"),
    _opt("--i2v_mode", "str", choices=("first", "first_last")),
    _opt("--force_nabla_attention", "switch"),
    _opt("--nabla_P", "float"),
    _opt("--nabla_wT", "int"),
    _opt("--nabla_wH", "int"),
    _opt("--nabla_wW", "int"),
    _opt("--nabla_method", "str"),
    _opt("--nabla_add_sta", "switch"),
    _opt("--no_nabla_add_sta", "switch"),
)

# src/musubi_tuner/hv_1_5_cache_latents.py, hv1_5_setup_parser()
CACHE_LATENTS_HV15 = (
    _opt("--vae_sample_size", "int"),
    _opt("--vae_enable_patch_conv", "switch"),
    _opt("--i2v", "switch"),
    _opt("--image_encoder", "str"),
)
# src/musubi_tuner/kandinsky5_cache_latents.py, main()
CACHE_LATENTS_K5 = (_opt("--nabla_resize", "switch"),)
# src/musubi_tuner/hv_1_5_cache_text_encoder_outputs.py, hunyuan_video_1_5_setup_parser()
CACHE_TEXT_HV15 = (
    _opt("--text_encoder", "str", required=True),
    _opt("--byt5", "str", required=True),
    _opt("--fp8_vl", "switch"),
)
# src/musubi_tuner/kandinsky5_cache_text_encoder_outputs.py, main()
CACHE_TEXT_K5 = (
    _opt("--text_encoder_qwen", "str", required=True),
    _opt("--text_encoder_clip", "str", required=True),
    _opt("--qwen_max_length", "int"),
    _opt("--clip_max_length", "int"),
    _opt("--quantized_qwen", "switch"),
)

# Which tables each script's main() puts into its parser.
SCRIPTS = {
    "hv_1_5_train_network.py": TRAIN_COMMON + HV15_TRAIN,
    "kandinsky5_train_network.py": TRAIN_COMMON + K5_TRAIN,
    "hv_1_5_cache_latents.py": CACHE_LATENTS + CACHE_LATENTS_HV15,
    "kandinsky5_cache_latents.py": CACHE_LATENTS + CACHE_LATENTS_K5,
    "hv_1_5_cache_text_encoder_outputs.py": CACHE_TEXT + CACHE_TEXT_HV15,
    "kandinsky5_cache_text_encoder_outputs.py": CACHE_TEXT + CACHE_TEXT_K5,
    "hv_train_network.py": TRAIN_COMMON + HV_TRAIN,
    "wan_train_network.py": TRAIN_COMMON + WAN_TRAIN,
    "cache_latents.py": CACHE_LATENTS + CACHE_LATENTS_HV,
    "wan_cache_latents.py": CACHE_LATENTS + CACHE_LATENTS_WAN,
    "cache_text_encoder_outputs.py": CACHE_TEXT + CACHE_TEXT_HV,
    "wan_cache_text_encoder_outputs.py": CACHE_TEXT + CACHE_TEXT_WAN,
}

# The Wan task configs the backend trains (src/musubi_tuner/wan/configs/wan_t2v_*.py): width,
# layers, and the expert boundary of the two-expert task (None: one expert).
WAN_TASK_CONFIGS = {
    "t2v-1.3B": {"dim": 1536, "num_layers": 30, "boundary": None},
    "t2v-14B": {"dim": 5120, "num_layers": 40, "boundary": None},
    "t2v-A14B": {"dim": 5120, "num_layers": 40, "boundary": 0.875},
    # wan_i2v_A14B.py: in_dim 36 (noise, mask, the condition frame's latent).
    "i2v-A14B": {"dim": 5120, "num_layers": 40, "boundary": 0.9},
}

# src/musubi_tuner/dataset/config_utils.py, ConfigSanitizer: keys allowed in [general] and in
# each image dataset of [[datasets]], with their types ("int2": an int or a pair of ints).
DATASET_ASCENDABLE = {
    "caption_extension": str, "batch_size": int, "num_repeats": int, "resolution": "int2",
    "enable_bucket": bool, "bucket_no_upscale": bool,
}  # fmt: skip
IMAGE_DATASET_DISTINCT = {
    "image_directory": str, "image_jsonl_file": str, "cache_directory": str,
    "control_directory": str, "multiple_target": bool, "fp_latent_window_size": int,
    "fp_1f_clean_indices": [int], "fp_1f_target_index": int, "fp_1f_no_post": bool,
    "no_resize_control": bool, "control_resolution": "int2",
}  # fmt: skip


class MusubiArgumentError(ValueError):
    """musubi-tuner's parser would refuse this command line."""


class _StrictParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit; the test must fail instead
        raise MusubiArgumentError(message)


def _int_or_float(value: str) -> int | float:
    # parser_common.py _int_or_float: "N%" is a fraction, whole numbers >= 1 are ints.
    if value.endswith("%"):
        return float(value[:-1]) / 100.0
    number = float(value)
    return int(number) if number >= 1 and number.is_integer() else number


_TYPES = {"str": str, "int": int, "float": float, "path": str, "int_or_float": _int_or_float}


def musubi_parser(script: str) -> argparse.ArgumentParser:
    """An argparse parser with exactly the options musubi-tuner's `script` declares."""
    # allow_abbrev=False: stricter than musubi (which accepts prefixes), so a typo never passes.
    parser = _StrictParser(prog=script, allow_abbrev=False)
    for option in SCRIPTS[script]:
        if option.kind == "switch":
            parser.add_argument(option.name, action="store_true")
            continue
        parser.add_argument(
            option.name,
            type=_TYPES[option.kind],
            choices=option.choices or None,
            nargs=option.nargs,
            required=option.required,
        )
    return parser


def parse_command(command: list[str]) -> tuple[str, argparse.Namespace]:
    """The musubi script a command runs and its arguments as musubi's parser reads them."""
    for index, item in enumerate(command):
        name = item.rsplit("/", 1)[-1]
        if name in SCRIPTS:
            return name, musubi_parser(name).parse_args(command[index + 1 :])
    raise MusubiArgumentError(f"no musubi-tuner script in {command}")


def check_dataset_config(config: dict[str, Any]) -> None:
    """Raise MusubiArgumentError unless `config` passes musubi's image dataset schema."""
    unknown = set(config) - {"general", "datasets"}
    if unknown:
        raise MusubiArgumentError(f"dataset config has top-level keys {sorted(unknown)}")
    _check_section("general", config.get("general", {}), DATASET_ASCENDABLE)
    for index, dataset in enumerate(config.get("datasets", [])):
        schema = {**DATASET_ASCENDABLE, **IMAGE_DATASET_DISTINCT}
        _check_section(f"datasets[{index}]", dataset, schema)


def _check_section(where: str, values: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in schema:
            raise MusubiArgumentError(f"{where}: musubi has no dataset key {key!r}")
        wanted = schema[key]
        if wanted == "int2":
            ok = _is_int(value) or (
                isinstance(value, list) and len(value) == 2 and all(map(_is_int, value))
            )
        elif isinstance(wanted, list):
            ok = isinstance(value, list) and all(_is_int(v) for v in value)
        elif wanted is int:
            ok = _is_int(value)
        else:
            ok = isinstance(value, wanted)
        if not ok:
            raise MusubiArgumentError(f"{where}.{key}={value!r} is not a {wanted}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
