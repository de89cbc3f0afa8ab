"""HoloCine's published single files load into the Wan 2.2 A14B layout through the model store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import WanTransformer3DModel

from resources.domain.registry import VIDEO_MODELS
from resources.models.model_store import ModelNotFoundError, ModelStore
from resources.tiny.single_file import write_wan_single_file
from resources.tiny.video import build_tiny_video_pipeline
from resources.video.generator import load_video_pipeline
from resources.video.holocine import (
    HoloCineCrossAttnProcessor,
    HoloCinePipeline,
    HoloCineSelfAttnProcessor,
)

MODEL = VIDEO_MODELS["holocine_14b_sparse"]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """A production-layout models folder: the (tiny) Wan 2.2 folder and HoloCine's two files."""
    root = tmp_path_factory.mktemp("models")
    base = root / MODEL.repo_id
    build_tiny_video_pipeline(MODEL, base)
    # Stand-ins for HoloCine's experts: different weights from the base folder's, in Wan's
    # original key layout, where the published files are.
    for seed, (component, rel) in enumerate(MODEL.single_files, start=11):
        transformer = WanTransformer3DModel.from_pretrained(base, subfolder=component)
        with torch.no_grad():
            generator = torch.Generator().manual_seed(seed)
            for p in transformer.parameters():
                p.add_(torch.randn(p.shape, generator=generator) * 0.01)
        write_wan_single_file(transformer, root / MODEL.weights_repo / rel)
        torch.save(transformer.state_dict(), root / f"{component}.expected.pt")
    return root


def test_store_assembles_the_single_files_and_the_pipeline_loads_them(models_dir: Path) -> None:
    store = ModelStore(profile="production", models_dir=str(models_dir))
    folder = store.video_model_dir(MODEL)
    assert folder.name == MODEL.name and (folder / "single_files.json").is_file()
    assert store.video_model_dir(MODEL) == folder  # assembled once, then reused
    pipe = load_video_pipeline(folder, MODEL)
    assert isinstance(pipe, HoloCinePipeline)
    for component, _ in MODEL.single_files:
        loaded = getattr(pipe, component)
        expected = torch.load(models_dir / f"{component}.expected.pt", weights_only=True)
        state = loaded.state_dict()
        assert set(state) == set(expected)
        assert all(torch.equal(state[k], expected[k]) for k in expected), component
        # Both experts carry the shot-aware processors.
        block = loaded.blocks[0]
        assert isinstance(block.attn1.processor, HoloCineSelfAttnProcessor)
        assert isinstance(block.attn2.processor, HoloCineCrossAttnProcessor)
    # The text encoder and VAE are Wan 2.2's, linked from the base folder.
    assert (folder / "vae").resolve() == (models_dir / MODEL.repo_id / "vae").resolve()


def test_a_missing_single_file_is_named(tmp_path: Path, models_dir: Path) -> None:
    store = ModelStore(profile="production", models_dir=str(tmp_path))
    (tmp_path / MODEL.repo_id).parent.mkdir(parents=True)
    (tmp_path / MODEL.repo_id).symlink_to(models_dir / MODEL.repo_id)
    with pytest.raises(ModelNotFoundError, match="sparse_high_noise.safetensors of hlwang06"):
        store.video_model_dir(MODEL)
