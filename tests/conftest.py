"""Shared test setup: offline, and example briefs written to temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def small_brief(**overrides) -> dict:
    """A valid brief small enough for the whole chain to run in seconds on the tiny profile."""
    brief = {
        "client": "acme-health",
        "character": {
            "id": "dr-ana",
            "name": "Dra. Ana Souza",
            "description": "a physician with dark curly hair, glasses and a white coat",
            "trigger": "drana",
        },
        "references": {"count": 4, "seed": 5},
        "video": {"model": "hunyuan_video", "fps": 24},
        "lora": {"steps": 6, "rank": 4, "checkpoint_every": 3},
        "shots": [
            {"id": "intro", "prompt": "she greets the camera", "duration_s": 1, "seed": 7},
            {"id": "outro", "prompt": "she waves goodbye", "duration_s": 0.5, "seed": 9},
        ],
        "deliverable": {"resolution": [1920, 1080]},
    }
    for key, value in overrides.items():
        brief[key] = value
    return brief


def write_brief(folder: Path, data: dict, name: str = "brief.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


@pytest.fixture
def brief_file(tmp_path: Path) -> Path:
    return write_brief(tmp_path / "inbox", small_brief())


@pytest.fixture
def dagster_instance():
    """An in-memory Dagster instance, alive for the whole test.

    A run's result refers to its instance weakly: whoever reads the result must hold the instance.
    """
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(autouse=True)
def _no_definitions_state_of_a_dead_instance():
    """Start each test without the definitions-state storage an earlier test's instance left.

    A DagsterInstance puts its storage in a context variable that outlives it; loading
    Definitions afterwards (validate_loadable, resolve_sensor_def) then queried a deleted
    instance ("unable to open database file", "undefined DagsterInstance weakref") depending on
    which test files ran before.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield
