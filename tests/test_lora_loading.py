"""LoRA files are read only as safetensors, and only when their keys fit the model."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from lora_support import build_model
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file, save_file

from resources.video.generator import apply_lora, load_video_pipeline


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("lora_loading")
    built = {name: build_model(name, root) for name in ("hunyuan_video", "ltx_video")}
    return {name: load_video_pipeline(folder, model) for name, (model, folder) in built.items()}


def _random_lora(pipe, folder: Path) -> Path:
    torch.manual_seed(0)
    pipe.transformer.add_adapter(
        LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_v"], init_lora_weights=False),
        adapter_name="probe",
    )
    layers = get_peft_model_state_dict(pipe.transformer, adapter_name="probe")
    pipe.transformer.delete_adapters("probe")
    type(pipe).save_lora_weights(folder, transformer_lora_layers=layers)
    return folder / "pytorch_lora_weights.safetensors"


class _Marker:
    """Unpickling this creates a file: proof that a file was (or was not) unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_lora_for_another_model_is_rejected_naming_model_and_mismatch(
    models: dict, tmp_path: Path
) -> None:
    ltx_lora = _random_lora(models["ltx_video"], tmp_path)
    with pytest.raises(ValueError, match=r"does not fit HunyuanVideoPipeline .* keys name no"):
        apply_lora(models["hunyuan_video"], ltx_lora, 1.0)


def test_lora_with_wrong_layer_shapes_is_rejected(models: dict, tmp_path: Path) -> None:
    good = _random_lora(models["ltx_video"], tmp_path / "good")
    tensors = load_file(good)
    key = next(k for k in tensors if k.endswith("lora_A.weight"))
    tensors[key] = torch.zeros(tensors[key].shape[0], tensors[key].shape[1] + 3)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, bad)
    with pytest.raises(ValueError, match=r"does not fit LTXPipeline .* shapes differ"):
        apply_lora(models["ltx_video"], bad, 1.0)


def test_pickle_disguised_as_safetensors_is_rejected_without_unpickling(
    models: dict, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    disguised = tmp_path / "lora.safetensors"
    disguised.write_bytes(pickle.dumps({"transformer.x.lora_A.weight": _Marker(marker)}))
    with pytest.raises(ValueError, match="lora.safetensors could not be read"):
        apply_lora(models["ltx_video"], disguised, 1.0)
    assert not marker.exists()
