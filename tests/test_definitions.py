"""The code location loads and its graph is whole: the cheapest test there is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME
from definitions_snapshot import SNAPSHOT, snapshot

from assets.stages import (
    character_brief,
    character_lora,
    deliverables,
    narration,
    reference_images,
    video_clips,
)
from pipeline.definitions import defs
from pipeline.jobs import STEP_PRELOAD, character_video_job
from resources.domain.chain import CHAIN_NAMES as CHAIN
from resources.domain.chain import RUN_NAMES, stage


def test_code_location_loads_with_every_resource_bound():
    Definitions.validate_loadable(defs)


def test_chain_assets_depend_on_what_the_chain_says_they_read():
    graph = defs.resolve_asset_graph()
    for name in CHAIN[1:]:
        parents = graph.get(AssetKey(name)).parent_keys
        assert parents == {AssetKey(dep) for dep in stage(name).deps}, (name, parents)
        # The chain's order is a topological order: what a stage reads comes before it.
        assert all(CHAIN.index(dep) < CHAIN.index(name) for dep in stage(name).deps)


def test_every_asset_is_partitioned_per_character():
    graph = defs.resolve_asset_graph()
    for name in CHAIN:
        node = graph.get(AssetKey(name))
        assert node.partitions_def is not None
        assert node.partitions_def.name == "characters"


def test_job_targets_the_whole_chain_and_the_report():
    job = defs.resolve_job_def("character_video")
    assert {key.path[-1] for key in job.asset_layer.selected_asset_keys} == set(RUN_NAMES)


def test_sensor_and_schedule_launch_the_named_job():
    from dagster import instance_for_test

    # One job for every launcher: the UI's runs list shows `character_video`, not an asset job.
    with instance_for_test():  # resolving reads definitions state through a live instance
        assert defs.resolve_sensor_def("brief_inbox_sensor").job_name == "character_video"
        assert defs.resolve_schedule_def("nightly_briefs").job_name == "character_video"


def test_the_loaded_definitions_match_their_snapshot():
    found = snapshot(defs)
    expected = json.loads(SNAPSHOT.read_text())
    changed = [part for part in expected if found.get(part) != expected[part]]
    assert found == expected, (
        f"the code location's {', '.join(changed)} differ from {SNAPSHOT.name}; if intended, run "
        "`.venv/bin/python tests/definitions_snapshot.py --update` and commit the diff"
    )


def _declared(name: str) -> dict[str, set[str]]:
    """Each stage's checks as its module declares them (`CHECKS` or `BLOCKING`), by asset."""
    return {
        stage.ASSET: set(getattr(stage, name, ()))
        for stage in (
            character_brief,
            reference_images,
            character_lora,
            narration,
            video_clips,
            deliverables,
        )
    }


def test_asset_checks_are_declared():
    graph = defs.resolve_asset_graph()
    found: dict[str, set[str]] = {}
    for key in graph.asset_check_keys:
        found.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    assert found == {asset: names for asset, names in _declared("CHECKS").items() if names}
    assert {c["name"] for a in json.loads(SNAPSHOT.read_text())["assets"] for c in a["checks"]} == {
        key.name for key in graph.asset_check_keys
    }


def test_lora_backend_is_chosen_by_the_environment(tmp_path):
    from pipeline.settings import Settings, build_resource
    from resources.lora.kohya import KohyaTrainer
    from resources.lora.trainer import LoraTrainer

    assert isinstance(build_resource("lora_trainer", Settings.from_env({})), LoraTrainer)
    env = {
        "CHARACTER_VIDEO_LORA_BACKEND": "kohya",
        "CHARACTER_VIDEO_KOHYA_CHECKOUT": str(tmp_path),
        "CHARACTER_VIDEO_KOHYA_MODELS": '{"--dit": "/w/dit.safetensors"}',
    }
    trainer = build_resource("lora_trainer", Settings.from_env(env))
    assert isinstance(trainer, KohyaTrainer) and trainer.settings()["backend"] == "kohya"
    assert (trainer.checkout, trainer.models) == (str(tmp_path), {"--dit": "/w/dit.safetensors"})
    # The GPU image's checkout, when the variable names none.
    image = build_resource("lora_trainer", Settings.from_env({**env, "MUSUBI_TUNER": "/opt/m"}))
    assert image.checkout == str(tmp_path)
    del env["CHARACTER_VIDEO_KOHYA_CHECKOUT"]
    image = build_resource("lora_trainer", Settings.from_env({**env, "MUSUBI_TUNER": "/opt/m"}))
    assert image.checkout == "/opt/m"


def test_code_location_loads_with_the_kohya_backend_bound():
    from pipeline.definitions import RUN_ASSETS
    from pipeline.settings import Settings, resource_defs

    resources = resource_defs(Settings(lora_backend="kohya"))
    Definitions.validate_loadable(Definitions(assets=RUN_ASSETS, resources=resources))
    assert resources["lora_trainer"].settings()["backend"] == "kohya"


def test_bad_lora_backend_settings_name_the_variable():
    from pipeline.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="CHARACTER_VIDEO_LORA_BACKEND='sd-scripts'"):
        Settings.from_env({"CHARACTER_VIDEO_LORA_BACKEND": "sd-scripts"})
    with pytest.raises(SettingsError, match="CHARACTER_VIDEO_KOHYA_MODELS is not JSON"):
        Settings.from_env({"CHARACTER_VIDEO_KOHYA_MODELS": "--dit=/w/dit"})


def test_the_code_locations_lora_trainer_follows_the_environment_when_it_starts(monkeypatch):
    from dagster import build_resources

    for backend in ("kohya", "peft"):
        monkeypatch.setenv("CHARACTER_VIDEO_LORA_BACKEND", backend)
        with build_resources({"lora_trainer": defs.resources["lora_trainer"]}) as resources:
            assert resources.lora_trainer.settings()["backend"] == backend


def test_identity_checks_block_what_follows_them():
    graph = defs.resolve_asset_graph()
    blocking = {key.name for key in graph.asset_check_keys if graph.get(key).blocking}
    assert blocking == set().union(*_declared("BLOCKING").values())
    assert blocking == {
        video_clips.CHECK_IDENTITY,
        deliverables.CHECK_CROSS_SHOT,
        deliverables.CHECK_LOUDNESS,
        narration.CHECK_QC,
    }


# The chain's job, and the job the UI builds for "Materialize" on the asset graph.
@pytest.mark.parametrize("job", [character_video_job.name, IMPLICIT_ASSET_JOB_NAME])
def test_a_launched_runs_steps_fork_from_a_server_that_imported_the_chain(job):
    resolve = defs.resolve_job_def(job).executor_def.config_schema.resolve_config

    def executor(config: dict | None) -> dict:
        found = resolve({} if config is None else {"config": config})
        assert found.success, found.errors
        return found.value["config"]

    preloaded = {"forkserver": {"preload_modules": list(STEP_PRELOAD)}}
    # No execution config (the daemon's, the UI's and ECS's runs): one step per process, each
    # forked from a server that imported STEP_PRELOAD once.
    assert executor(None)["multiprocess"]["start_method"] == preloaded
    limited = executor({"multiprocess": {"max_concurrent": 1}})["multiprocess"]
    assert (limited["max_concurrent"], limited["start_method"]) == (1, preloaded)
    # A run config still chooses: in process (tests/run_worker.py) or Dagster's spawn.
    assert executor({"in_process": {}}).keys() == {"in_process"}
    spawned = executor({"multiprocess": {"start_method": {"spawn": {}}}})
    assert spawned["multiprocess"]["start_method"] == {"spawn": {}}


_ASKS_CUDA = """
import sys, torch
asked = []
for name in ("_cuda_getDeviceCount", "_cuda_init"):
    def count(*args, _real=getattr(torch._C, name)):
        asked.append(name)
        return _real(*args)
    setattr(torch._C, name, count)
for module in sys.argv[1:]:
    __import__(module)
    print(module, len(asked))
"""


def test_nothing_the_step_server_preloads_asks_cuda_for_its_devices():
    """A process forked after asking CUDA how many devices there are (cuInit) cannot use the
    GPU: a step forked from the preloading server must find CUDA untouched."""
    env = {k: v for k, v in os.environ.items() if k != "PYTORCH_NVML_BASED_CUDA_CHECK"}
    done = subprocess.run(
        [sys.executable, "-c", _ASKS_CUDA, *STEP_PRELOAD, "diffusers.utils"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    asked = dict(line.split() for line in done.stdout.splitlines())
    assert [int(asked[module]) for module in STEP_PRELOAD] == [0] * len(STEP_PRELOAD)
    # The probe sees the question when it is asked: importing diffusers, after them, asks it.
    assert int(asked["diffusers.utils"]) > 0
