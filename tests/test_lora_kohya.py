"""The kohya backend, checked against the tools' documented keys and a stand-in script.

sd-scripts and musubi-tuner cannot be installed here: the TOML and commands are checked
against the keys and flags their docs list (and, in test_lora_kohya_musubi.py, against
musubi-tuner's own parser tables), and the runner runs tests/kohya_standin.py placed in a fake
checkout under the real script names.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
import torch
from lora_support import build_model, fake_checkout, make_stills, train
from safetensors import safe_open

from resources.domain.registry import VIDEO_MODELS
from resources.lora.kohya import (
    KohyaError,
    KohyaJob,
    KohyaTrainer,
    dataset_toml,
    musubi_model,
    musubi_to_diffusers,
    newest_state,
    train_command,
    train_with_kohya,
)
from resources.runtime.interruption import WorkInterrupted
from resources.video.generator import apply_lora, load_video_pipeline

# sd-scripts docs/config_README-en.md: options by where they may appear.
SD_DATASET_OPTIONS = {
    "batch_size", "bucket_no_upscale", "bucket_reso_steps", "enable_bucket",
    "max_bucket_reso", "min_bucket_reso", "resolution", "skip_image_resolution",
}  # fmt: skip
SD_SUBSET_OPTIONS = {
    "color_aug", "face_crop_aug_range", "flip_aug", "keep_tokens", "num_repeats",
    "random_crop", "shuffle_caption", "caption_prefix", "caption_suffix", "caption_separator",
    "keep_tokens_separator", "secondary_separator", "enable_wildcard", "resize_interpolation",
    "caption_extension", "cache_info", "caption_dropout_every_n_epochs",
    "caption_dropout_rate", "caption_tag_dropout_rate",
}  # fmt: skip
SD_SUBSET_ONLY = {"image_dir", "class_tokens", "is_reg", "metadata_file"}
# musubi-tuner docs/dataset_config.md, image dataset with caption text files.
MUSUBI_COMMON = {
    "resolution", "caption_extension", "batch_size", "num_repeats", "enable_bucket",
    "bucket_no_upscale",
}  # fmt: skip
MUSUBI_DATASET_ONLY = {"image_directory", "cache_directory"}
# musubi-tuner docs/hunyuan_video.md training example (flag -> value, None for switches).
HUNYUAN_DOC_FLAGS = {
    "--sdpa": None, "--mixed_precision": "bf16", "--fp8_base": None,
    "--optimizer_type": "adamw8bit", "--gradient_checkpointing": None,
    "--max_data_loader_n_workers": "2", "--persistent_data_loader_workers": None,
    "--network_module": "networks.lora", "--timestep_sampling": "shift",
    "--discrete_flow_shift": "7.0",
}  # fmt: skip


def _job(tmp_path: Path, family: str, **overrides) -> KohyaJob:
    models = {
        "sdxl": {"--pretrained_model_name_or_path": tmp_path / "sdxl.safetensors"},
        "hunyuan": {
            "--dit": tmp_path / "dit.pt",
            "--vae": tmp_path / "vae.pt",
            "--text_encoder1": tmp_path / "te1",
            "--text_encoder2": tmp_path / "te2",
        },
        "wan22": {
            "--dit": tmp_path / "low.safetensors",
            "--dit_high_noise": tmp_path / "high.safetensors",
            "--vae": tmp_path / "vae.safetensors",
            "--t5": tmp_path / "t5.pth",
        },
    }[family]
    # The musubi families take their task, flow shift and boundary from a registry model.
    registry = {"hunyuan": "hunyuan_video", "wan22": "wan22_t2v_a14b"}.get(family)
    args = {
        **(musubi_model(VIDEO_MODELS[registry]) if registry else {"family": family}),
        "checkout": fake_checkout(tmp_path / "checkout"),
        "work_dir": tmp_path / "work",
        "image_dir": tmp_path / "stills",
        "models": models,
        "steps": 10,
        "save_every": 4,
        "rank": 2,
        "alpha": 1.0,
        "python": sys.executable,
        "launcher": (),
        **overrides,
    }
    return KohyaJob(**args)


def _flags(command: list[str]) -> dict[str, str | None]:
    flags: dict[str, str | None] = {}
    for i, item in enumerate(command):
        if item.startswith("--"):
            following = command[i + 1] if i + 1 < len(command) else None
            flags[item] = None if following is None or following.startswith("--") else following
    return flags


def test_sd_scripts_toml_puts_each_documented_key_where_the_docs_allow(tmp_path: Path) -> None:
    config = tomllib.loads(dataset_toml(_job(tmp_path, "sdxl")))
    assert set(config) == {"general", "datasets"}
    assert set(config["general"]) <= SD_DATASET_OPTIONS | SD_SUBSET_OPTIONS
    (dataset,) = config["datasets"]
    assert set(dataset) - {"subsets"} <= SD_DATASET_OPTIONS | SD_SUBSET_OPTIONS
    (subset,) = dataset["subsets"]
    assert set(subset) <= SD_SUBSET_OPTIONS | SD_SUBSET_ONLY
    assert subset["image_dir"] == str(tmp_path / "stills")


def test_musubi_toml_uses_its_documented_image_dataset_keys(tmp_path: Path) -> None:
    config = tomllib.loads(dataset_toml(_job(tmp_path, "hunyuan", resolution=(960, 544))))
    assert set(config["general"]) <= MUSUBI_COMMON
    assert config["general"]["resolution"] == [960, 544]
    (dataset,) = config["datasets"]
    assert set(dataset) <= MUSUBI_COMMON | MUSUBI_DATASET_ONLY
    assert dataset["image_directory"] == str(tmp_path / "stills")


def test_hunyuan_command_carries_the_documented_flags_and_resume(tmp_path: Path) -> None:
    job = _job(tmp_path, "hunyuan")
    state = tmp_path / "work" / "output" / "character-step00000004-state"
    command = train_command(job, resume=state)
    flags = _flags(command)
    assert command[1].endswith("src/musubi_tuner/hv_train_network.py")
    assert {k: flags.get(k) for k in HUNYUAN_DOC_FLAGS} == HUNYUAN_DOC_FLAGS
    assert flags["--dit"] == str(tmp_path / "dit.pt")
    assert (flags["--network_dim"], flags["--max_train_steps"]) == ("2", "10")
    assert (flags["--save_every_n_steps"], flags["--resume"]) == ("4", str(state))
    assert "--save_state" in flags


def test_wan22_command_trains_both_experts_split_at_the_boundary(tmp_path: Path) -> None:
    flags = _flags(train_command(_job(tmp_path, "wan22"), resume=None))
    # musubi's --timestep_boundary is an int: thousandths (875 -> 0.875), not "0.875".
    assert flags["--task"] == "t2v-A14B" and flags["--timestep_boundary"] == "875"
    assert flags["--dit"] == str(tmp_path / "low.safetensors")
    assert flags["--dit_high_noise"] == str(tmp_path / "high.safetensors")
    assert flags["--network_module"] == "networks.lora_wan" and "--resume" not in flags


def test_sdxl_command_runs_sd_scripts_unet_only(tmp_path: Path) -> None:
    command = train_command(_job(tmp_path, "sdxl"), resume=None)
    flags = _flags(command)
    assert command[1].endswith("checkout/sdxl_train_network.py")
    assert flags["--pretrained_model_name_or_path"] == str(tmp_path / "sdxl.safetensors")
    assert "--network_train_unet_only" in flags and flags["--save_model_as"] == "safetensors"


def test_missing_weights_are_named(tmp_path: Path) -> None:
    job = _job(tmp_path, "hunyuan", models={"--vae": tmp_path / "vae.pt"})
    with pytest.raises(KohyaError, match="needs the weights for --dit"):
        train_command(job, resume=None)


def test_newest_state_skips_a_save_that_was_cut_short(tmp_path: Path) -> None:
    for step, complete in ((4, True), (8, False)):
        folder = tmp_path / f"character-step{step:08d}-state"
        folder.mkdir()
        if complete:
            (folder / "optimizer.bin").write_bytes(b"x")
    assert newest_state(tmp_path, "character").name == "character-step00000004-state"


def test_crashed_kohya_run_resumes_from_its_state_and_yields_a_loadable_lora(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, model_dir = build_model("hunyuan_video", tmp_path / "models")
    make_stills(tmp_path / "stills")
    job = _job(tmp_path, "hunyuan")
    log: list[str] = []
    monkeypatch.setenv("KOHYA_STANDIN_DIE_AT", "6")
    with pytest.raises(KohyaError, match="hv_train_network.py exited with status 3"):
        train_with_kohya(job, log=log.append)
    assert any("caching 3 items" in line for line in log)
    monkeypatch.delenv("KOHYA_STANDIN_DIE_AT")
    pipe = load_video_pipeline(model_dir, model)
    result = train_with_kohya(job, log=log.append, hidden_size=20)
    assert result.resumed_from.name == "character-step00000004-state"
    assert any("resumed at step 4" in line for line in log)
    assert result.losses[-1] == pytest.approx(0.1)
    apply_lora(pipe, result.lora_file, 1.0)
    assert any(name.endswith("proj_mlp.lora_A") for name, _ in pipe.transformer.named_modules())


def test_stop_request_ends_the_kohya_process(tmp_path: Path, monkeypatch) -> None:
    make_stills(tmp_path / "stills")
    monkeypatch.setenv("KOHYA_STANDIN_DELAY", "0.5")
    job = _job(tmp_path, "wan22")
    with pytest.raises(WorkInterrupted, match="spot interruption"):
        train_with_kohya(job, stop=lambda: "spot interruption", log=lambda _: None)
    assert not (job.output_dir / "character.safetensors").exists()


def test_musubi_lora_converts_exactly_including_fused_projections() -> None:
    rank, alpha, hidden = 2, 1.0, 20
    down = torch.randn(rank, hidden)
    up = torch.randn(3 * hidden + 4 * hidden, rank)
    state = {
        "lora_unet_single_blocks_0_linear1.lora_down.weight": down,
        "lora_unet_single_blocks_0_linear1.lora_up.weight": up,
        "lora_unet_single_blocks_0_linear1.alpha": torch.tensor(alpha),
    }
    out = musubi_to_diffusers(state, "hunyuan", hidden_size=hidden)
    prefix = "transformer.single_transformer_blocks.0"
    fused = (alpha / rank) * up @ down
    parts = ["attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"]
    rebuilt = torch.cat([out[f"{prefix}.{p}.lora_B.weight"] @ out[f"{prefix}.{p}.lora_A.weight"]
                         for p in parts])  # fmt: skip
    assert torch.allclose(rebuilt, fused, atol=1e-5)


def test_lora_trainer_kohya_backend_runs_through_accelerate_and_writes_the_lora(
    tmp_path: Path,
) -> None:
    model, model_dir = build_model("hunyuan_video", tmp_path / "models")
    stills = make_stills(tmp_path / "stills")
    job = _job(tmp_path, "hunyuan")
    trainer = KohyaTrainer(
        checkout=str(job.checkout),
        models={flag: str(path) for flag, path in job.models.items()},
    )
    result = train(trainer, model, model_dir, stills, tmp_path / "out", steps=6)
    with safe_open(result.lora_file, framework="pt") as handle:
        assert handle.metadata()["trigger"] == "drana"
    assert (tmp_path / "out" / "loss_curve.png").is_file() and len(result.losses) >= 1
    pipe = load_video_pipeline(model_dir, model)
    apply_lora(pipe, result.lora_file, 1.0)
