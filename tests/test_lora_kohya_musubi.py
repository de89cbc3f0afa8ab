"""The kohya backend's musubi-tuner commands and dataset, parsed the way musubi-tuner parses them.

tests/musubi_parser.py holds musubi-tuner's option tables and dataset schema at commit 30c658c4;
every command the backend emits for every registry model it trains is parsed with them.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from lora_support import build_model, fake_checkout, make_stills, train
from musubi_parser import (
    K5_TASKS,
    WAN_TASK_CONFIGS,
    WAN_TASKS,
    MusubiArgumentError,
    check_dataset_config,
    parse_command,
)

from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS, reference_model_of
from resources.lora.kohya import (
    KohyaError,
    KohyaJob,
    KohyaTrainer,
    cache_commands,
    dataset_toml,
    kohya_models,
    kohya_reference_models,
    musubi_model,
    musubi_to_diffusers,
    train_command,
)
from resources.video.generator import load_video_pipeline

# What musubi-tuner trains each registry model as; the refused ones have no musubi task/trainer.
TASKS = {
    "hunyuan_video": None,  # hv_train_network.py has no --task
    "wan21_t2v_1_3b": "t2v-1.3B",
    "wan21_t2v_14b": "t2v-14B",
    "wan22_t2v_a14b": "t2v-A14B",
    "hunyuan_video_1_5": "t2v",  # hv_1_5_train_network.py --task t2v|i2v
    "kandinsky5_lite": "k5-lite-t2v-5s-sd",
    "kandinsky5_pro": "k5-pro-t2v-5s-hd",
}
# Each musubi family's training script.
TRAIN_SCRIPTS = {
    "hunyuan": "hv_train_network.py",
    "wan": "wan_train_network.py",
    "wan22": "wan_train_network.py",
    "hunyuan15": "hv_1_5_train_network.py",
    "kandinsky5": "kandinsky5_train_network.py",
}
# musubi-tuner has no task for TI2V, LTX, CogVideoX, HoloCine (its single-file DiT) or Mochi.
REFUSED = {
    "wan22_ti2v_5b",
    "ltx_video",
    "ltx_2",
    "ltx_2_5",
    "cogvideox_5b",
    "holocine_14b",
    "holocine_14b_sparse",
    "mochi_1",
}
WEIGHTS = {
    "hunyuan": ("--dit", "--vae", "--text_encoder1", "--text_encoder2"),
    "wan": ("--dit", "--vae", "--t5"),
    "wan22": ("--dit", "--dit_high_noise", "--vae", "--t5"),
    "hunyuan15": ("--dit", "--vae", "--text_encoder", "--byt5"),
    "kandinsky5": ("--dit", "--vae", "--text_encoder_qwen", "--text_encoder_clip"),
}


# The image-to-video checkpoints musubi trains, as the task each is trained as (LTX-2's has none).
I2V_TASKS = {
    "wan22_i2v_a14b": "i2v-A14B",
    "hunyuan_video_1_5_i2v": "i2v",
    "kandinsky5_pro_i2v": "k5-pro-i2v-5s-hd",
}


def _job(tmp_path: Path, name: str, **overrides) -> KohyaJob:
    fields = musubi_model({**VIDEO_MODELS, **REFERENCE_MODELS}[name])
    weights = WEIGHTS[fields["family"]] + (("--image_encoder",) if fields.get("i2v") else ())
    args = {
        **fields,
        "checkout": fake_checkout(tmp_path / "checkout"),
        "work_dir": tmp_path / "work",
        "image_dir": tmp_path / "stills",
        "models": {flag: tmp_path / flag.strip("-") for flag in weights},
        "python": sys.executable,
        **overrides,
    }
    return KohyaJob(**args)


def test_every_registry_model_is_either_trained_or_refused() -> None:
    assert set(kohya_models()) == set(TASKS)
    assert set(TASKS) | REFUSED == set(VIDEO_MODELS)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_command_parses_with_musubis_own_options(tmp_path: Path, name: str) -> None:
    job = _job(tmp_path, name, caption_dropout=0.05)
    state = job.output_dir / "character-step00000004-state"
    commands = [*cache_commands(job), train_command(job, None), train_command(job, state)]
    parsed = dict(parse_command(c) for c in commands[:-1])
    script = TRAIN_SCRIPTS[job.family]
    assert set(parsed) >= {script} and len(parsed) == 3  # two caching runs and the training
    train_args = parsed[script]
    model = VIDEO_MODELS[name]
    assert train_args.discrete_flow_shift == model.flow_shift
    assert train_args.max_train_steps == job.steps and train_args.network_dim == job.rank
    assert train_args.fp8_base and train_args.gradient_checkpointing
    assert parse_command(commands[-1])[1].resume == str(state)
    if TASKS[name] is None:
        return
    assert train_args.task == TASKS[name]
    if job.family not in ("wan", "wan22"):
        return
    config = WAN_TASK_CONFIGS[train_args.task]
    if config["boundary"] is None:
        assert train_args.timestep_boundary is None and train_args.dit_high_noise is None
    else:
        # musubi divides a boundary above 1 by 1000; the registry's is the one rendering uses.
        assert train_args.timestep_boundary / 1000 == model.boundary_ratio == config["boundary"]
        assert train_args.dit_high_noise == str(tmp_path / "dit_high_noise")


def test_a_decimal_boundary_is_refused_by_musubis_parser() -> None:
    # The command the backend used to emit for Wan 2.2 A14B.
    with pytest.raises(MusubiArgumentError, match="invalid int value: '0.875'"):
        parse_command(["wan_train_network.py", "--timestep_boundary", "0.875"])


def test_wan21_14b_is_trained_as_musubis_14b_task_not_the_1_3b(tmp_path: Path) -> None:
    _, args = parse_command(train_command(_job(tmp_path, "wan21_t2v_14b"), None))
    assert WAN_TASK_CONFIGS[args.task]["dim"] == 5120  # the 14B width, not 1.3B's 1536
    assert args.discrete_flow_shift == 5.0


def test_a_boundary_musubi_cannot_express_is_refused(tmp_path: Path) -> None:
    job = _job(tmp_path, "wan22_t2v_a14b", timestep_boundary=0.8755)
    with pytest.raises(KohyaError, match="timestep_boundary=0.8755"):
        train_command(job, None)


def test_fp8_and_checkpointing_options_reach_the_command(tmp_path: Path) -> None:
    job = _job(tmp_path, "wan21_t2v_14b", fp8_base=False, gradient_checkpointing=False)
    _, args = parse_command(train_command(job, None))
    assert not args.fp8_base and not args.gradient_checkpointing


def test_registry_musubi_tasks_are_tasks_musubi_has() -> None:
    allowed = {"wan": WAN_TASKS, "hunyuan15": ("t2v", "i2v"), "kandinsky5": K5_TASKS}
    for model in VIDEO_MODELS.values():
        if model.musubi_task:
            assert model.musubi_task in allowed[model.family], model.name


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_models_musubi_cannot_train_are_refused_by_name(name: str) -> None:
    with pytest.raises(KohyaError) as error:
        musubi_model(VIDEO_MODELS[name])
    message = str(error.value)
    assert name in message and "peft" in message and "\n" not in message
    if name == "wan22_ti2v_5b":
        assert all(task in message for task in WAN_TASKS)


def test_kohya_trainer_refuses_ti2v_5b_before_writing_anything(tmp_path: Path) -> None:
    model, model_dir = build_model("wan22_ti2v_5b", tmp_path / "models")
    stills = make_stills(tmp_path / "stills")
    trainer = KohyaTrainer(checkout=str(fake_checkout(tmp_path / "checkout")))
    with pytest.raises(KohyaError, match="cannot train wan22_ti2v_5b: musubi-tuner at commit"):
        train(trainer, model, model_dir, stills, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("dropout", [0.0, 0.05, 1.0])
def test_dataset_toml_passes_musubis_schema(tmp_path: Path, dropout: float) -> None:
    for name in TASKS:
        job = _job(tmp_path, name, caption_dropout=dropout)
        check_dataset_config(tomllib.loads(dataset_toml(job)))


def test_schema_check_rejects_a_key_musubi_does_not_have() -> None:
    with pytest.raises(MusubiArgumentError, match="caption_dropout_rate"):
        check_dataset_config({"datasets": [{"image_directory": "x", "caption_dropout_rate": 0.1}]})


def test_caption_dropout_is_an_uncaptioned_share_of_the_samples(tmp_path: Path) -> None:
    config = tomllib.loads(dataset_toml(_job(tmp_path, "wan21_t2v_1_3b", caption_dropout=0.05)))
    captioned, uncaptioned = config["datasets"]
    assert captioned["image_directory"] == str(tmp_path / "stills")
    assert uncaptioned["image_directory"] == str(tmp_path / "work" / "stills_uncaptioned")
    assert captioned["cache_directory"] != uncaptioned["cache_directory"]
    repeats = captioned["num_repeats"], uncaptioned["num_repeats"]
    assert repeats == (19, 1) and repeats[1] / sum(repeats) == pytest.approx(0.05)
    no_dropout = tomllib.loads(dataset_toml(_job(tmp_path, "wan21_t2v_1_3b")))
    assert len(no_dropout["datasets"]) == 1


def test_kohya_trainer_writes_the_uncaptioned_copies_and_records_them(tmp_path: Path) -> None:
    model, model_dir = build_model("hunyuan_video", tmp_path / "models")
    stills = make_stills(tmp_path / "stills")
    checkout = fake_checkout(tmp_path / "checkout")
    weights = {flag: str(tmp_path / flag.strip("-")) for flag in WEIGHTS["hunyuan"]}
    trainer = KohyaTrainer(checkout=str(checkout), models=weights, caption_dropout=0.25)
    result = train(trainer, model, model_dir, stills, tmp_path / "out", steps=4)
    copies = tmp_path / "out" / "kohya" / "stills_uncaptioned"
    assert sorted(p.name for p in copies.glob("*.png")) == ["0000.png", "0001.png", "0002.png"]
    assert all(p.read_text().strip() == "" for p in copies.glob("*.txt"))
    captioned = tmp_path / "out" / "kohya" / "stills"
    assert (captioned / "0000.txt").read_text().strip() == "drana, portrait"
    applied = result.settings["caption_dropout_applied"]
    assert (applied["captioned_repeats"], applied["uncaptioned_repeats"]) == (3, 1)
    assert result.settings["backend"] == "kohya" and result.settings["discrete_flow_shift"] == 7.0


def test_both_backends_report_their_name_and_options_for_the_version() -> None:
    from resources.lora.trainer import LoraTrainer

    peft, kohya = LoraTrainer().settings(), KohyaTrainer(caption_dropout=0.1).settings()
    assert peft["backend"] == "peft" and kohya["backend"] == "kohya"
    assert set(peft) == set(kohya) == {
        "backend", "caption_dropout", "gradient_checkpointing", "fp8_base",
    }  # fmt: skip
    assert kohya["caption_dropout"] == 0.1


@pytest.mark.parametrize(
    ("family", "module", "target"),
    [
        ("hunyuan15", "double_blocks_3_img_attn_q", "transformer_blocks.3.attn.to_q"),
        ("hunyuan15", "double_blocks_3_txt_attn_v", "transformer_blocks.3.attn.add_v_proj"),
        ("hunyuan15", "double_blocks_0_txt_attn_proj", "transformer_blocks.0.attn.to_add_out"),
        ("hunyuan15", "double_blocks_1_img_mlp_fc2", "transformer_blocks.1.ff.net.2"),
        (
            "kandinsky5",
            "visual_transformer_blocks_12_cross_attention_to_key",
            "visual_transformer_blocks.12.cross_attention.to_key",
        ),
        (
            "kandinsky5",
            "text_transformer_blocks_0_feed_forward_in_layer",
            "text_transformer_blocks.0.feed_forward.in_layer",
        ),
    ],
)
def test_musubi_loras_of_the_new_families_convert_to_diffusers_names(family, module, target):
    """musubi's modules (the original repositories' names) land on diffusers' layer names, with
    alpha / rank folded into A: the product B @ A is musubi's scaled up @ down."""
    rank, alpha = 2, 1.0
    down, up = torch.randn(rank, 8), torch.randn(8, rank)
    state = {
        f"lora_unet_{module}.lora_down.weight": down,
        f"lora_unet_{module}.lora_up.weight": up,
        f"lora_unet_{module}.alpha": torch.tensor(alpha),
    }
    out = musubi_to_diffusers(state, family)
    b, a = out[f"transformer.{target}.lora_B.weight"], out[f"transformer.{target}.lora_A.weight"]
    assert torch.allclose(b @ a, (alpha / rank) * up @ down, atol=1e-6)


def test_converted_names_are_layers_of_the_tiny_diffusers_transformers(tmp_path: Path) -> None:
    for name, module in (
        ("hunyuan_video_1_5", "double_blocks_1_txt_attn_k"),
        ("kandinsky5_lite", "visual_transformer_blocks_1_self_attention_out_layer"),
    ):
        model, model_dir = build_model(name, tmp_path / "models")
        pipe = load_video_pipeline(model_dir, model)
        layers = dict(pipe.transformer.named_modules())
        state = {f"lora_unet_{module}.lora_down.weight": torch.zeros(2, 4),
                 f"lora_unet_{module}.lora_up.weight": torch.zeros(4, 2)}  # fmt: skip
        (key, *_) = musubi_to_diffusers(state, model.family)
        layer = key.removeprefix("transformer.").rsplit(".lora_", 1)[0]
        assert isinstance(layers[layer], torch.nn.Linear), key


@pytest.mark.parametrize("name", ["hunyuan_video_1_5", "kandinsky5_lite"])
def test_kohya_trained_lora_of_the_new_families_renders_through_their_loader(
    tmp_path: Path, name: str
) -> None:
    """The stand-in's musubi LoRA, converted by the backend, attaches through the family's
    loader (peft for HunyuanVideo 1.5, diffusers' for Kandinsky 5) and changes the clip."""
    from lora_support import render_args

    from resources.video.generator import attach_lora, render_clip

    model, model_dir = build_model(name, tmp_path / "models")
    family = musubi_model(model)["family"]
    weights = {flag: str(tmp_path / flag.strip("-")) for flag in WEIGHTS[family]}
    checkout = fake_checkout(tmp_path / "checkout")
    trainer = KohyaTrainer(checkout=str(checkout), models=weights)
    result = train(trainer, model, model_dir, make_stills(tmp_path / "stills"), tmp_path / "out")
    assert result.settings["musubi_task"] == TASKS[name]
    pipe = load_video_pipeline(model_dir, model)
    base = render_clip(pipe, model, **render_args(model))
    attach_lora(pipe, model, result.lora_file, 1.0)
    assert not np.array_equal(render_clip(pipe, model, **render_args(model)), base)


def test_the_image_to_video_checkpoints_are_trained_as_musubis_i2v_tasks() -> None:
    assert set(kohya_reference_models()) == set(I2V_TASKS)
    for name, task in I2V_TASKS.items():
        model = REFERENCE_MODELS[name]
        assert model.musubi_task == task and "i2v" in task
        # Each is the image-to-video checkpoint of a model the backend trains from stills.
        assert any(reference_model_of(VIDEO_MODELS[n]) is model for n in kohya_models())


@pytest.mark.parametrize("name", sorted(I2V_TASKS))
def test_every_i2v_command_parses_with_musubis_own_options(tmp_path: Path, name: str) -> None:
    """The reference path's checkpoints: the i2v task, the latent cache that keeps each sample's
    first frame as its condition, and HunyuanVideo 1.5's SigLIP encoder for caching and
    training, all as musubi-tuner's parsers at the pinned commit read them."""
    job = _job(tmp_path, name)
    state = job.output_dir / "character-step00000004-state"
    commands = [*cache_commands(job), train_command(job, None), train_command(job, state)]
    parsed = dict(parse_command(c) for c in commands[:-1])
    assert len(parsed) == 3 and parse_command(commands[-1])[1].resume == str(state)
    script = TRAIN_SCRIPTS[job.family]
    train_args = parsed[script]
    model = REFERENCE_MODELS[name]
    assert train_args.task == I2V_TASKS[name]
    assert train_args.discrete_flow_shift == model.flow_shift
    latents = next(args for s, args in parsed.items() if "cache_latents" in s)
    encoder = str(tmp_path / "image_encoder")
    if job.family == "wan22":
        assert latents.i2v and latents.clip is None  # Wan 2.2 I2V needs no CLIP
        config = WAN_TASK_CONFIGS[train_args.task]
        assert train_args.timestep_boundary / 1000 == model.boundary_ratio == config["boundary"]
    elif job.family == "hunyuan15":
        assert latents.i2v and latents.image_encoder == encoder
        assert train_args.image_encoder == encoder
    else:  # Kandinsky 5: its latent cache always keeps the first frame; the task says i2v
        assert job.family == "kandinsky5" and train_args.task in K5_TASKS


def test_an_i2v_job_without_the_image_encoder_is_one_line_naming_the_flag(tmp_path: Path):
    job = _job(tmp_path, "hunyuan_video_1_5_i2v")
    models = {flag: path for flag, path in job.models.items() if flag != "--image_encoder"}
    job = replace(job, models=models)
    with pytest.raises(KohyaError, match="needs the weights for --image_encoder"):
        cache_commands(job)


def test_kohya_trainer_refuses_an_i2v_checkpoint_on_stills_before_writing_anything(tmp_path):
    """A still is one frame: an i2v task would condition each sample on itself."""
    model, model_dir = build_model("wan22_t2v_a14b", tmp_path / "models")
    stills = make_stills(tmp_path / "stills")
    trainer = KohyaTrainer(checkout=str(fake_checkout(tmp_path / "checkout")))
    i2v = REFERENCE_MODELS["wan22_i2v_a14b"]
    with pytest.raises(KohyaError, match="cannot train wan22_i2v_a14b .* on the reference stills"):
        train(trainer, i2v, model_dir, stills, tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
