"""Settings: the environment is read in pipeline/settings.py only, when a run or tick starts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from conftest import REPO, small_brief, write_brief
from dagster import (
    DagsterResourceFunctionError,
    build_resources,
    build_sensor_context,
    instance_for_test,
)
from imds_server import FakeImds

from pipeline.definitions import defs
from pipeline.settings import Settings, SettingsError

# What a code location exposes, dumped as JSON by a fresh interpreter.
DUMP = """
import json

from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.serdes import serialize_value

from pipeline.definitions import defs

graph = defs.resolve_asset_graph()
job = defs.resolve_job_def("character_video")
print(json.dumps({
    "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
    "checks": sorted(key.to_user_string() for key in graph.asset_check_keys),
    "job_tags": dict(job.tags),
    "job_run_tags": dict(job.run_tags or {}),
    "resources": {
        key: {
            "type": type(res).__name__,
            "description": res.description,
        }
        for key, res in sorted(defs.resources.items())
    },
    "sensors": sorted(s.name for s in defs.sensors),
    "schedules": sorted((s.name, s.cron_schedule) for s in defs.schedules),
    # Everything the UI and the daemon see of the location: jobs, assets, resources and their
    # config, sensors, schedules.
    "snapshot": serialize_value(RepositorySnap.from_def(defs.get_repository_def())),
}, sort_keys=True))
"""

SHELLS = {
    "bare": {},
    "aws": {
        "CHARACTER_VIDEO_ROOT": "s3://studio-artifacts/prod",
        "CHARACTER_VIDEO_CACHE": "/tmp/cv-cache",
        "CHARACTER_VIDEO_PROFILE": "production",
        "CHARACTER_VIDEO_ECS_CLUSTER": "studio-prod",
        "CHARACTER_VIDEO_ON_DEMAND_FALLBACK": "1",
        "CHARACTER_VIDEO_INSTANCE_TYPE": "g5.12xlarge",
        "CHARACTER_VIDEO_PRICING": "on-demand",
        "CHARACTER_VIDEO_SPOT_MONITOR": "1",
        "CHARACTER_VIDEO_INBOX": "s3://studio-briefs/inbox/",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1/",
    },
    "other": {
        "CHARACTER_VIDEO_ROOT": "/srv/artifacts",
        "CHARACTER_VIDEO_ECS_CLUSTER": "studio-staging",
        "CHARACTER_VIDEO_INSTANCE_TYPE": "g6.xlarge",
        # Invalid values too: importing must not read them, let alone fail on them.
        "CHARACTER_VIDEO_PRICING": "reserved",
        "CHARACTER_VIDEO_SPOT_POLL_S": "often",
    },
}


def _dump(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", DUMP],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # five processes, each importing the whole code location
def test_importing_the_code_location_gives_the_same_definitions_in_every_shell():
    dumps = {name: _dump(env) for name, env in SHELLS.items()}
    bare = dumps["bare"]
    assert len(bare["assets"]) == 7 and bare["job_tags"]["character_video/gpus"] == "1"
    assert set(bare["resources"]) >= {"artifact_store", "model_store", "inbox", "spot_monitor"}
    for name, dump in dumps.items():
        assert dump == bare, name
    # No value from any shell leaked into what the code location declares.
    text = json.dumps(bare)
    for env in SHELLS.values():
        for value in env.values():
            assert len(value) < 5 or value not in text, value


SOURCES = ("pipeline", "assets", "resources")
READS_ENV = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(|\benviron\b|\bEnvVar\b")
# The one other module that touches the environment: the resources package sets the CPU
# libraries' instruction-set variables when it is imported, before any kernel runs, unless the
# operator set them (docs/operations.md). It reads no setting of ours.
CPU_ISA_SETTER = REPO / "resources" / "__init__.py"


def test_no_module_but_settings_reads_the_environment():
    readers = []
    for package in SOURCES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path in (REPO / "pipeline" / "settings.py", CPU_ISA_SETTER):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if READS_ENV.search(line):
                    readers.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert readers == []
    assert READS_ENV.search((REPO / "pipeline" / "settings.py").read_text())  # the one reader
    touches = [line.strip() for line in CPU_ISA_SETTER.read_text().splitlines()]
    assert [line for line in touches if READS_ENV.search(line)] == [
        "env = os.environ if env is None else env"
    ]


def test_the_code_locations_resources_read_the_environment_when_they_start(monkeypatch, tmp_path):
    monkeypatch.delenv("CHARACTER_VIDEO_MODELS", raising=False)  # the suite's shared tiny models
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "first"))
    monkeypatch.setenv("CHARACTER_VIDEO_INSTANCE_TYPE", "g5.2xlarge")
    with build_resources(defs.resources) as resources:
        assert resources.artifact_store.root == str(tmp_path / "first")
        assert resources.model_store.instance_type == "g5.2xlarge"
        assert resources.model_store.models_dir == str(tmp_path / "first" / "_models")
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "second"))
    monkeypatch.setenv("CHARACTER_VIDEO_PRICING", "on-demand")
    with build_resources(defs.resources) as resources:
        assert resources.artifact_store.root == str(tmp_path / "second")
        assert resources.model_store.pricing == "on-demand"


def test_a_spot_monitor_started_from_the_environment_polls_until_teardown(monkeypatch):
    with FakeImds() as imds:
        imds.announce()
        monkeypatch.setenv("CHARACTER_VIDEO_SPOT_MONITOR", "1")
        monkeypatch.setenv("CHARACTER_VIDEO_SPOT_POLL_S", "0.02")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
        with build_resources({"spot_monitor": defs.resources["spot_monitor"]}) as resources:
            monitor = resources.spot_monitor
            deadline = time.monotonic() + 10
            while monitor.check() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert "spot interruption" in (monitor.check() or "")
        assert monitor._thread is None  # teardown joined the poller


@pytest.mark.parametrize(
    ("host", "named", "priced_as"),
    [
        (("g5.2xlarge", "spot"), {}, ("g5.2xlarge", "spot")),
        (("g5.4xlarge", "on-demand"), {}, ("g5.4xlarge", "on-demand")),  # the fallback
        (
            ("g5.2xlarge", "spot"),
            {"CHARACTER_VIDEO_PRICING": "on-demand"},
            ("g5.2xlarge", "on-demand"),
        ),
        (
            ("g5.2xlarge", "spot"),
            {"CHARACTER_VIDEO_INSTANCE_TYPE": "g6.xlarge"},
            ("g6.xlarge", "spot"),
        ),
        (("x9.imaginary", "spot"), {}, ("x9.imaginary", "spot")),  # costs say: unpriced
        (None, {}, ("g5.xlarge", "spot")),  # IMDS has no instance type
    ],
)
def test_a_run_on_aws_is_priced_on_the_host_imds_names(monkeypatch, host, named, priced_as):
    """The Spot group places a run on whichever of its types has capacity, or on-demand: the
    run's costs use the host's type and life cycle, unless the environment names them."""
    kind, life = host or (None, "spot")
    with FakeImds(instance_type=kind, life_cycle=life) as imds:
        monkeypatch.setenv("CHARACTER_VIDEO_SPOT_MONITOR", "1")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
        for name in ("CHARACTER_VIDEO_INSTANCE_TYPE", "CHARACTER_VIDEO_PRICING"):
            monkeypatch.delenv(name, raising=False)
        for name, value in named.items():
            monkeypatch.setenv(name, value)
        with build_resources({"model_store": defs.resources["model_store"]}) as resources:
            store = resources.model_store
    assert (store.instance_type, store.pricing) == priced_as


def test_off_aws_imds_is_not_asked(monkeypatch):
    """Without the Spot monitor (a laptop, the review app, the daemon) nothing asks IMDS."""
    with FakeImds(instance_type="g5.2xlarge") as imds:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
        for name in ("CHARACTER_VIDEO_SPOT_MONITOR", "CHARACTER_VIDEO_INSTANCE_TYPE"):
            monkeypatch.delenv(name, raising=False)
        assert Settings.from_env().instance_type == "g5.xlarge"
    assert imds.token_requests == 0


def test_a_bad_setting_fails_when_the_resource_starts_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CHARACTER_VIDEO_SPOT_POLL_S", "often")
    with (
        pytest.raises(DagsterResourceFunctionError) as failed,
        build_resources({"spot_monitor": defs.resources["spot_monitor"]}),
    ):
        pass
    assert isinstance(failed.value.__cause__, SettingsError)
    assert "CHARACTER_VIDEO_SPOT_POLL_S='often'" in str(failed.value.__cause__)


def test_sensor_runs_are_placed_on_the_cluster_of_the_environment_at_tick_time(
    monkeypatch, tmp_path
):
    write_brief(tmp_path, small_brief())
    monkeypatch.setenv("CHARACTER_VIDEO_INBOX", str(tmp_path))
    for cluster in ("studio-prod", "studio-staging"):
        monkeypatch.setenv("CHARACTER_VIDEO_ECS_CLUSTER", cluster)
        with (
            instance_for_test() as instance,
            build_sensor_context(instance=instance, resources=defs.resources) as context,
        ):
            # Resolved while the instance lives: Dagster's definitions state refers to it.
            sensor = defs.resolve_sensor_def("brief_inbox_sensor")
            (request,) = sensor(context).run_requests
        placement = json.loads(request.tags["ecs/run_task_kwargs"])
        assert placement["cluster"] == cluster
        providers = [p["capacityProvider"] for p in placement["capacityProviderStrategy"]]
        assert providers == [f"{cluster}-gpu-1x-spot"]
        assert request.tags["character_video/gpus"] == "1"
        assert json.loads(request.tags["ecs/container_overrides"]) == {
            "resourceRequirements": [{"type": "GPU", "value": "1"}]
        }


def test_unset_variables_keep_the_laptop_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.root, settings.profile, settings.inbox) == ("artifacts", "tiny", ("examples",))
    assert (settings.ecs_cluster, settings.instance_type, settings.pricing) == (
        "character-video",
        "g5.xlarge",
        "spot",
    )


def test_the_video_generators_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHARACTER_VIDEO_ENCODER_CRF", "23")
    monkeypatch.setenv("CHARACTER_VIDEO_ENCODER_PRESET", "veryfast")
    monkeypatch.setenv("CHARACTER_VIDEO_RENDER_WORKERS", "2")
    monkeypatch.setenv("CHARACTER_VIDEO_ATTENTION", "native")
    monkeypatch.setenv("CHARACTER_VIDEO_FIRST_BLOCK_CACHE", "0.05")
    with build_resources({"video_generator": defs.resources["video_generator"]}) as resources:
        generator = resources.video_generator
        assert (generator.crf, generator.preset, generator.workers) == (23, "veryfast", 2)
        assert (generator.attention, generator.first_block_cache) == ("native", 0.05)


def test_a_runs_config_overrides_the_environments_render_settings(monkeypatch):
    monkeypatch.setenv("CHARACTER_VIDEO_ENCODER_CRF", "23")
    with build_resources(
        {"video_generator": defs.resources["video_generator"]},
        resource_config={"video_generator": {"config": {"crf": 14, "preset": "slow"}}},
    ) as resources:
        generator = resources.video_generator
        assert (generator.crf, generator.preset, generator.attention) == (14, "slow", "auto")


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("CHARACTER_VIDEO_ENCODER_CRF", "high", "is not a whole number"),
        ("CHARACTER_VIDEO_ENCODER_CRF", "60", "must be a whole number 0..51"),
        ("CHARACTER_VIDEO_ENCODER_PRESET", "quick", "is not one of ultrafast"),
        ("CHARACTER_VIDEO_RENDER_WORKERS", "-1", "is not a whole number"),
        ("CHARACTER_VIDEO_ATTENTION", "sage", "is not one of auto, flash, native"),
        ("CHARACTER_VIDEO_FIRST_BLOCK_CACHE", "2", "a threshold below 1"),
    ],
)
def test_a_bad_render_setting_is_refused_naming_the_variable(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    assert variable in str(refused.value)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_bad_render_setting_in_a_runs_config_names_the_run_config():
    with (
        pytest.raises(DagsterResourceFunctionError) as failed,
        build_resources(
            {"video_generator": defs.resources["video_generator"]},
            resource_config={"video_generator": {"config": {"preset": "quick"}}},
        ),
    ):
        pass
    message = str(failed.value.__cause__)
    assert "run config resources.video_generator.config" in message
    assert "preset='quick'" in message
