"""A model's bytes on the CPU do not depend on how many CPUs the process may use."""

from __future__ import annotations

import hashlib

import pytest
import torch
from conftest import materialize_fresh, small_brief, write_brief
from dagster import DagsterInstance

from assets.partitions import CHARACTERS
from pipeline.definitions import ASSETS
from pipeline.settings import resource_defs
from resources.runtime.threads import CPU_THREADS

pytestmark = pytest.mark.slow  # three stages of the chain, twice

KEY = "acme-health/dr-ana"


@pytest.fixture
def torch_threads_restored():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_stills_and_lora_are_the_same_bytes_whatever_torch_threads_the_process_started_with(
    tmp_path, torch_threads_restored
):
    """Torch splits a CPU kernel's sums by its thread count (the CPUs a process may use, or
    OMP_NUM_THREADS): with 1 and 2 threads SDXL's stills and the LoRA trained on them differed
    under one version id. A run computes with CPU_THREADS whatever it started with."""
    brief = write_brief(tmp_path / "inbox", small_brief())
    made = {}
    for threads in (2, 1):
        torch.set_num_threads(threads)  # as a process on two CPUs, then on one, would start
        root = tmp_path / f"started-with-{threads}"
        with DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(CHARACTERS, [KEY])
            materialize_fresh(
                ASSETS,
                selection=["character_brief", "reference_images", "character_lora"],
                partition_key=KEY,
                instance=instance,
                resources=resource_defs(root=root, profile="tiny", inbox=[str(brief)]),
            )
        assert torch.get_num_threads() == CPU_THREADS
        made[threads] = {
            path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for pattern in ("*/*/reference_images/*/*.png", "*/*/character_lora/*/*.safetensors")
            for path in root.glob(pattern)
        }
    stills = [name for name in made[1] if "/ref_" in name]
    assert len(stills) == small_brief()["references"]["count"], made[1]
    assert any(name.endswith("pytorch_lora_weights.safetensors") for name in made[1])
    assert made[2] == made[1]
