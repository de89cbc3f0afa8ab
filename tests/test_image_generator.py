"""Reference stills: the plan (views, prompts, captions, seeds) and reproducible SDXL renders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from resources.domain.registry import SDXL
from resources.stills.image_generator import (
    ImageGenerator,
    generate_still,
    load_sdxl_pipeline,
    reference_plan,
)
from resources.tiny.sdxl import build_tiny_sdxl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CHARACTER = {
    "name": "Dra. Ana Souza",
    "description": "a physician with dark curly hair, glasses and a white coat",
    "trigger": "drana",
}


def _plan(count: int = 12, base_seed: int = 5):
    return reference_plan(**CHARACTER, count=count, base_seed=base_seed)


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sdxl") / "sdxl"
    build_tiny_sdxl(folder)
    return folder


@pytest.fixture(scope="module")
def pipe(sdxl_dir: Path):
    return load_sdxl_pipeline(sdxl_dir)


def _still(pipe, spec, size: tuple[int, int] = (SDXL.tiny.width, SDXL.tiny.height)):
    return generate_still(pipe, spec, width=size[0], height=size[1], steps=2, guidance_scale=6.0)


@pytest.mark.parametrize("count", [1, 5, 12, 30])
def test_plan_has_the_requested_count(count: int) -> None:
    plan = _plan(count)
    assert [spec.index for spec in plan] == list(range(count))


def test_every_prompt_has_trigger_description_and_view() -> None:
    for spec in _plan(30):
        assert spec.prompt.startswith("drana, ")
        assert CHARACTER["description"] in spec.prompt
        assert spec.negative_prompt


def test_every_caption_starts_with_the_trigger() -> None:
    assert all(spec.caption.startswith("drana, ") for spec in _plan(30))


def test_views_vary_across_the_set_and_cycle_past_the_list() -> None:
    plan = _plan(30)
    views = [spec.view for spec in plan]
    distinct = len(set(views))
    assert distinct >= 8
    assert views[:distinct] == views[distinct : 2 * distinct]  # cycles, in the same order
    assert len({spec.prompt for spec in plan[:distinct]}) == distinct


def test_seeds_are_distinct_and_stable() -> None:
    seeds = [spec.seed for spec in _plan(30, base_seed=100)]
    assert len(set(seeds)) == 30
    assert seeds == [spec.seed for spec in _plan(30, base_seed=100)]


def test_plan_refuses_zero_count() -> None:
    with pytest.raises(ValueError, match="count"):
        _plan(0)


def test_still_has_the_requested_size(pipe) -> None:
    assert _still(pipe, _plan(1)[0]).size == (SDXL.tiny.width, SDXL.tiny.height)


def test_still_is_reproducible_by_seed(pipe) -> None:
    spec = _plan(1)[0]
    np.testing.assert_array_equal(np.asarray(_still(pipe, spec)), np.asarray(_still(pipe, spec)))


def test_different_seeds_give_different_stills(pipe) -> None:
    first, second = _plan(1, base_seed=0)[0], _plan(1, base_seed=1)[0]
    assert not np.array_equal(np.asarray(_still(pipe, first)), np.asarray(_still(pipe, second)))


@pytest.mark.parametrize("param", ["width", "height"])
def test_still_size_off_multiple_of_8_is_refused(pipe, param: str) -> None:
    width, height = SDXL.tiny.width, SDXL.tiny.height
    size = (width + 4, height) if param == "width" else (width, height + 4)
    with pytest.raises(ValueError, match=param):
        _still(pipe, _plan(1)[0], size)


def test_generate_references_writes_stills_with_captions_once(
    sdxl_dir: Path, tmp_path: Path
) -> None:
    plan = _plan(3)
    size = {"width": SDXL.tiny.width, "height": SDXL.tiny.height}
    kwargs = {**size, "steps": 1, "guidance_scale": 6.0, "log": lambda _: None}
    paths = ImageGenerator().generate_references(sdxl_dir, plan, tmp_path, **kwargs)
    written = {p: p.stat().st_mtime_ns for p in paths}
    again = ImageGenerator().generate_references(sdxl_dir, plan, tmp_path, **kwargs)
    assert [p.name for p in paths] == ["ref_000.png", "ref_001.png", "ref_002.png"]
    assert [p.with_suffix(".txt").read_text().strip() for p in paths] == [s.caption for s in plan]
    assert {p: p.stat().st_mtime_ns for p in again} == written  # finished stills are kept
