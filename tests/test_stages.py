"""Stages are plain Python: they run and report without any Dagster context."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import write_brief
from quick_chain import quick_brief, shared_models

from assets.stages.base import Run
from assets.stages.character_brief import read_brief, snapshot_brief
from assets.stages.reference_images import CHECK_COUNT, CHECK_SET, make_references
from resources.domain.brief import load_brief
from resources.models.model_store import ModelStore
from resources.stills.image_generator import ImageGenerator
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # every stage run in turn


def _run(root: Path, models: Path, lines: list[str]) -> Run:
    return Run(
        client="acme-health",
        character="dr-ana",
        store=ArtifactStore(root=str(root)),
        models=ModelStore(profile="tiny", models_dir=str(models)),
        device="cpu",
        dtype=torch.float32,
        log=lines.append,
    )


def test_brief_and_reference_stages_build_then_reuse_with_plain_arguments(
    tmp_path, tmp_path_factory
):
    path = write_brief(tmp_path / "inbox", quick_brief())
    lines: list[str] = []
    run = _run(tmp_path / "root", shared_models(tmp_path_factory), lines)
    snapshot = snapshot_brief(run, path, load_brief(path))
    assert not snapshot.reused
    assert read_brief(run)[0] == load_brief(path)
    stills = make_references(run, ImageGenerator())
    assert not stills.reused
    assert [c.name for c in stills.checks] == [CHECK_COUNT, CHECK_SET]
    assert all(c.passed for c in stills.checks), [c.description for c in stills.checks]
    assert stills.metadata["count"] == 2
    assert [s["image"] for s in stills.manifest["stills"]] == ["ref_000.png", "ref_001.png"]
    again = make_references(run, ImageGenerator())
    assert again.reused and again.ref == stills.ref
    assert any("reference 1" in line for line in lines)
