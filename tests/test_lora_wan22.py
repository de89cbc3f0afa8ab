"""Wan 2.2's two experts: each gets a LoRA trained on its own side of the boundary sigma."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from diffusers import WanPipeline, WanTransformer3DModel
from lora_support import build_model, make_stills, render_args, train
from safetensors import safe_open

from resources.lora.trainer import LORA_FILE_2, LoraTrainer
from resources.video.generator import apply_lora, load_video_pipeline, render_clip

BOUNDARY = 0.875  # Wan 2.2 T2V A14B's boundary_ratio


@pytest.fixture(scope="module")
def wan22(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny two-expert WanPipeline: the tiny Wan 2.1 folder plus a second tiny transformer."""
    root = tmp_path_factory.mktemp("wan22")
    base_model, base_dir = build_model("wan21_t2v_1_3b", root / "models")
    pipe = WanPipeline.from_pretrained(base_dir, local_files_only=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        low_noise = WanTransformer3DModel.from_config(pipe.transformer.config)
    two_experts = WanPipeline(
        tokenizer=pipe.tokenizer,
        text_encoder=pipe.text_encoder,
        vae=pipe.vae,
        scheduler=pipe.scheduler,
        transformer=pipe.transformer,
        transformer_2=low_noise,
        boundary_ratio=BOUNDARY,
    )
    model_dir = root / "models" / "wan22_tiny"
    two_experts.save_pretrained(model_dir, safe_serialization=True)
    model = dataclasses.replace(base_model, name="wan22_tiny")
    stills = make_stills(root / "stills")
    result = train(LoraTrainer(), model, model_dir, stills, root / "out", steps=16)
    return {"model": model, "model_dir": model_dir, "result": result}


def test_both_experts_get_a_lora_for_their_own_sigmas(wan22: dict) -> None:
    result = wan22["result"]
    assert [p.name for p in result.lora_files] == ["pytorch_lora_weights.safetensors", LORA_FILE_2]
    assert result.expert_steps["transformer"] > 0 and result.expert_steps["transformer_2"] > 0
    assert sum(result.expert_steps.values()) == 16
    sigmas = {}
    for path in result.lora_files:
        with safe_open(path, framework="pt") as handle:
            sigmas[handle.metadata()["expert"]] = handle.metadata()["expert_sigmas"]
    assert sigmas == {"transformer": "0.875-1", "transformer_2": "0-0.875"}


def test_both_expert_loras_load_and_change_the_clip(wan22: dict) -> None:
    model = wan22["model"]
    pipe = load_video_pipeline(wan22["model_dir"], model)
    args = render_args(model)
    base = render_clip(pipe, model, **args)
    apply_lora(pipe, wan22["result"].lora_file, 1.0)
    for expert in (pipe.transformer, pipe.transformer_2):
        assert any(name.endswith("lora_A") for name, _ in expert.named_modules())
    assert not np.array_equal(render_clip(pipe, model, **args), base)
