"""HunyuanVideo 1.5's character LoRA: diffusers has no LoRA loader for its pipeline, so it is
attached with peft (resources/video/peft_lora.py). It must act, vanish at strength 0, and its file
must be in the layout diffusers writes and reads for every other family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lora_support import build_model, make_stills, render_args, train
from safetensors import safe_open

from resources.lora.trainer import LoraTrainer
from resources.video.generator import attach_lora, load_video_pipeline, render_clip

MODEL = "hunyuan_video_1_5"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("peft_lora")
    model, model_dir = build_model(MODEL, root / "models")
    result = train(LoraTrainer(), model, model_dir, make_stills(root / "stills"), root / "out")
    return {"model": model, "model_dir": model_dir, "lora": result.lora_file}


def _render(trained: dict, strength: float | None) -> np.ndarray:
    model = trained["model"]
    pipe = load_video_pipeline(trained["model_dir"], model)
    if strength is not None:
        attach_lora(pipe, model, trained["lora"], strength)
    return render_clip(pipe, model, **render_args(model))


def test_the_lora_acts_at_strength_one_and_adds_nothing_at_zero(trained: dict) -> None:
    base = _render(trained, None)
    assert np.array_equal(_render(trained, 0.0), base)
    assert np.abs(_render(trained, 1.0).astype(int) - base).mean() > 0.01


def test_the_file_is_in_diffusers_lora_layout(trained: dict) -> None:
    with safe_open(str(trained["lora"]), framework="pt") as handle:
        keys = sorted(handle.keys())  # noqa: SIM118
        header = json.loads(handle.metadata()["lora_adapter_metadata"])
    assert keys and all(k.startswith("transformer.") for k in keys)
    assert all(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys)
    assert any(".attn.add_q_proj." in k for k in keys)  # the text stream is trained too
    assert header["transformer.r"] == 4


def test_diffusers_own_model_loader_reads_it_to_the_same_clip(trained: dict) -> None:
    """ModelMixin.load_lora_adapter (diffusers' loader below the pipelines' mixins) reads the
    file with its `transformer.` prefix and renders the clip peft's attachment renders."""
    model = trained["model"]
    pipe = load_video_pipeline(trained["model_dir"], model)
    pipe.transformer.load_lora_adapter(
        str(trained["lora"]), prefix="transformer", adapter_name="character"
    )
    by_diffusers = render_clip(pipe, model, **render_args(model))
    assert np.array_equal(by_diffusers, _render(trained, 1.0))


def test_a_file_of_another_model_is_refused_naming_the_mismatch(
    trained: dict, tmp_path: Path
) -> None:
    other = train(
        LoraTrainer(), *build_model("kandinsky5_lite", tmp_path / "models"),
        make_stills(tmp_path / "stills"), tmp_path / "other", steps=2,
    )  # fmt: skip
    pipe = load_video_pipeline(trained["model_dir"], trained["model"])
    with pytest.raises(ValueError, match="does not fit HunyuanVideo15Transformer3DModel"):
        attach_lora(pipe, trained["model"], other.lora_file, 1.0)
