"""Runs the app and the CLI start can go through the Dagster instance, as the sensor's do.

`submit_chain` queues `character_video` with Dagster's own `dagster job launch` on a real
DAGSTER_HOME instance (QueuedRunCoordinator, as deploy/dagster.yaml); a real `dagster-daemon`
dequeues it and its run launcher runs the chain (tiny profile) to the deliverable. The review app
reads runs in flight from the instance, so it neither loses them on a restart nor starts a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from conftest import REPO, write_brief
from dagster import DagsterInstance, DagsterRunStatus
from quick_chain import quick_brief, shared_models
from review_support import CHARACTER, CLIENT, config_for, get, post, review_settings, serve

from pipeline.launch import active_runs, submit_chain

pytestmark = pytest.mark.slow  # runs queued on a Dagster daemon

INSTANCE_YAML = """
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
telemetry:
  enabled: false
"""


@pytest.fixture
def home(tmp_path, monkeypatch, tmp_path_factory):
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(INSTANCE_YAML)
    env = {
        "DAGSTER_HOME": str(folder),
        "CHARACTER_VIDEO_ROOT": str(tmp_path / "artifacts"),
        "CHARACTER_VIDEO_PROFILE": "tiny",
        # The daemon's sensor scans an empty inbox: only the submitted run runs.
        "CHARACTER_VIDEO_INBOX": str(tmp_path / "inbox"),
        "CHARACTER_VIDEO_MODELS": str(shared_models(tmp_path_factory)),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    (tmp_path / "inbox").mkdir()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with DagsterInstance.get() as instance:
        yield tmp_path, instance


def test_a_submitted_run_is_queued_with_the_sensors_tags_and_run_by_the_daemon(home):
    tmp_path, instance = home
    brief = write_brief(tmp_path / "briefs", quick_brief())
    run_id = submit_chain(brief, launched_by="review-app:reroll", instance=instance)
    run = instance.get_run_by_id(run_id)
    key = f"{CLIENT}/{CHARACTER}"
    assert run.status == DagsterRunStatus.QUEUED and run.job_name == "character_video"
    assert run.tags["dagster/partition"] == key and run.tags["character"] == key
    assert run.tags["launched_by"] == "review-app:reroll" and run.tags["brief/file"] == "brief.yaml"
    source = run.run_config["ops"]["character_brief"]["config"]
    assert source["brief_yaml"] == brief.read_text()
    assert [r.run_id for r in active_runs(instance, key)] == [run_id]

    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = instance.get_run_by_id(run_id).status
            if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
                break
            time.sleep(1)  # a read of the run storage: cheap beside the run itself
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
    assert status == DagsterRunStatus.SUCCESS
    final = tmp_path / "artifacts" / CLIENT / CHARACTER / "deliverables" / "current.json"
    assert final.is_file()
    assert active_runs(instance, key) == []
    # The review app reads how the daemon's run ended, as for a run it started itself.
    state = json.loads((tmp_path / "artifacts" / key / "_run" / "state.json").read_text())
    assert (state["run_id"], state["state"]) == (run_id, "finished")
    assert state["launched_by"] == "review-app:reroll"

    # A second run queued (the daemon is gone): the app shows it running, and a re-roll from
    # the app is recorded without starting another run beside it.
    queued = submit_chain(brief, launched_by="cli", instance=instance)
    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    config = config_for(settings, launch=True)
    config.instance = instance
    with serve(config) as url:
        body = json.loads(get(f"{url}/api/c/{CLIENT}/{CHARACTER}")[2])
        box = json.loads(get(f"{url}/api/c/{CLIENT}/{CHARACTER}/progress")[2])
        answer = post(
            f"{url}/c/{CLIENT}/{CHARACTER}/reroll", {"shot": "hello", "seed": "9", "who": "bia"}
        )
    assert body["running"] is True
    assert box["state"] == "queued" and "Na fila: a execução vai começar." in box["html"]
    location = next(v for k, v in answer[1].items() if k.lower() == "location")
    assert answer[0] == 303 and "Registrado." in urllib.parse.unquote(location)
    assert config.runs == {}
    assert [r.run_id for r in active_runs(instance, key)] == [queued]

    # The producer stops it from the app before a host takes it: cancelled, it never starts.
    with serve(config) as url:
        stopped = post(f"{url}/c/{CLIENT}/{CHARACTER}/stop", {"who": "bia"})
    assert stopped[0] == 303 and active_runs(instance, key) == []
    assert instance.get_run_by_id(queued).status == DagsterRunStatus.CANCELED
