"""Stopping a character's run (pipeline.decisions.stop_character): from the review app, which
stops the run it started and those on the Dagster instance, and from the CLI; who stopped it is
recorded, and the page says the run was stopped, by whom, in which stage. And running the chain
again from the app after a run failed, was stopped or went silent
(pipeline.decisions.restart_character)."""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import urllib.parse

import pytest
from conftest import REPO, started_run
from dagster import DagsterInstance, DagsterRunStatus
from review_support import CHARACTER, CLIENT, KEY, config_for, get, post, review_settings, serve

from assets.stages.base import record_run_state
from pipeline.cli import main
from pipeline.launch import how_run_ended, stop_runs
from pipeline.review import runs
from resources.domain.review import stops_of


def _sleeper(**kwargs) -> subprocess.Popen:
    """A process that would run for minutes, as a chain does."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], **kwargs)


@pytest.fixture
def sleepers():
    made: list[subprocess.Popen] = []
    yield made
    for process in made:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture
def app(tmp_path, monkeypatch, sleepers):
    """A review app's config that starts runs: each chain it launches is a sleeper in its own
    session, as launch_run starts the chain."""

    def launch(*args, **kwargs):
        sleepers.append(_sleeper(start_new_session=True))
        return sleepers[-1]

    monkeypatch.setattr(runs, "launch_run", launch)
    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    return config_for(settings, launch=True)


def test_a_producer_stops_the_run_the_app_started_and_the_page_says_so(app, sleepers):
    config = app
    store = config.store
    assert runs.start_run(config, CLIENT, CHARACTER, "approve")
    record_run_state(store, CLIENT, CHARACTER, "run-1", "running", stage="video_clips")
    stop_url = f"/c/{CLIENT}/{CHARACTER}/stop?lang=en"
    with serve(config) as url:
        page = html.unescape(get(f"{url}/c/{KEY}?lang=en")[2].decode())
        nobody = post(url + stop_url, {"who": " "})
        status, headers, _ = post(url + stop_url, {"who": "bia"})
        after = html.unescape(get(f"{url}/c/{KEY}?lang=en")[2].decode())
        again = post(url + stop_url, {"who": "bia"})
    (process,) = sleepers
    assert 'id="stop-run"' in page and "what it finished is kept" in page
    assert nobody[0] == 400 and nobody[2].decode() == "who: say who stops the run (it is recorded)"
    assert status == 303 and "Run stopped." in urllib.parse.unquote(headers["location"])
    assert process.returncode == -signal.SIGTERM
    assert "Run stopped by bia (Video clips)" in after and 'id="stop-run"' not in after
    assert "bia stopped the run" in after.split('id="history"')[1]
    assert again[0] == 400 and again[2].decode() == f"{KEY}: no run in flight to stop"
    (record,) = stops_of(store, CLIENT, CHARACTER)
    assert (record["who"], record["runs"]) == ("bia", [f"pid {process.pid}"])


def test_runs_on_the_instance_are_cancelled_killed_or_named_when_they_cannot_be(sleepers):
    instance = DagsterInstance.ephemeral()
    queued = started_run(instance, KEY, status="NOT_STARTED")
    sleepers.append(_sleeper())
    local = started_run(instance, KEY, pid=sleepers[0].pid)
    elsewhere = started_run(instance, KEY)  # on another host: only its launcher could stop it
    other = started_run(instance, "acme-health/dr-leo", pid=sleepers[0].pid)
    stopped, refused = stop_runs(instance, KEY)
    assert sorted(stopped) == sorted([queued.run_id, local.run_id])
    assert refused == [f"run {elsewhere.run_id}: its launcher could not stop it"]
    assert sleepers[0].wait(60) == -signal.SIGTERM
    assert instance.get_run_by_id(queued.run_id).status == DagsterRunStatus.CANCELED
    assert how_run_ended(instance, local.run_id) == ("stopped", "")
    assert instance.get_run_by_id(elsewhere.run_id).status == DagsterRunStatus.STARTED
    assert instance.get_run_by_id(other.run_id).status == DagsterRunStatus.STARTED  # not dr-ana


def test_the_cli_stops_a_run_on_the_instance_beside_the_artifacts(tmp_path, capsys):
    root = tmp_path / "artifacts"
    home = root / "_dagster"
    home.mkdir(parents=True)
    instance = DagsterInstance.from_config(str(home))
    run = started_run(instance, KEY, status="NOT_STARTED")
    assert main(["stop", CLIENT, CHARACTER, "--who", "ana", "--root", str(root)]) == 0
    assert capsys.readouterr().out == f"stopped {KEY}: {run.run_id}\n"
    assert main(["stop", CLIENT, CHARACTER, "--who", "ana", "--root", str(root)]) == 1
    assert capsys.readouterr().err == f"{KEY}: no run in flight to stop\n"
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
    store_record = stops_of(config_for(review_settings(root, tmp_path, tmp_path)).store,
                            CLIENT, CHARACTER)  # fmt: skip
    assert [(r["who"], r["runs"]) for r in store_record] == [("ana", [run.run_id])]


def test_after_a_failed_run_a_producer_runs_the_chain_again_from_the_app(app, sleepers):
    """A run that failed (a transient fault, a host lost) no longer needs the CLI or the Dagster
    UI: the page offers to run it again, which starts the chain (reusing what was finished),
    records who asked, and refuses while that run is in flight."""

    config = app
    store = config.store
    record_run_state(store, CLIENT, CHARACTER, "run-1", "running", stage="video_clips")
    record_run_state(store, CLIENT, CHARACTER, "run-1", "failed", detail="S3 timed out")
    restart_url = f"/c/{CLIENT}/{CHARACTER}/restart?lang=en"
    with serve(config) as url:
        page = html.unescape(get(f"{url}/c/{KEY}?lang=en")[2].decode())
        nobody = post(url + restart_url, {"who": " "})
        forged = post(url + restart_url, {"who": "bia"}, csrf=False)
        status, headers, _ = post(url + restart_url, {"who": "bia"})
        after = html.unescape(get(f"{url}/c/{KEY}?lang=en")[2].decode())
        again = post(url + restart_url, {"who": "bia"})
        pt = html.unescape(get(f"{url}/c/{KEY}")[2].decode())
    assert "The run failed" in page and 'id="restart-run"' in page
    assert "only what is missing runs again" in page and 'id="stop-run"' not in page
    assert nobody[0] == 400 and nobody[2].decode() == "who: say who runs it again (it is recorded)"
    assert forged[0] == 403
    assert status == 303 and "Run started." in urllib.parse.unquote(headers["location"])
    (process,) = sleepers
    assert process.poll() is None  # the chain's process runs
    assert 'id="restart-run"' not in after and 'id="stop-run"' in after
    assert "bia ran it again" in after.split('id="history"')[1]
    assert "bia executou de novo" in pt.split('id="history"')[1]
    assert again[0] == 400 and again[2].decode() == f"{KEY}: a run is in flight already"
    assert len(sleepers) == 1  # no second run
    assert [(r["who"], r["runs"]) for r in runs_restarted(store)] == [("bia", ["run-1"])]


def runs_restarted(store):
    from resources.domain.review import restarts_of

    return restarts_of(store, CLIENT, CHARACTER)


@pytest.mark.parametrize("state", ["finished", "waiting", "none"])
def test_a_run_that_did_not_fail_or_stop_is_not_run_again(app, sleepers, state):
    config = app
    if state != "none":
        record_run_state(config.store, CLIENT, CHARACTER, "run-1", state, detail="cut")
    with serve(config) as url:
        page = html.unescape(get(f"{url}/c/{KEY}?lang=en")[2].decode())
        refused = post(f"{url}/c/{CLIENT}/{CHARACTER}/restart?lang=en", {"who": "bia"})
    assert 'id="restart-run"' not in page
    assert refused[0] == 400 and refused[2].decode() == (
        f"{KEY}: its last run did not fail, stop or go silent: there is nothing to run again"
    )
    assert sleepers == [] and runs_restarted(config.store) == []


def test_a_run_gone_silent_with_no_process_behind_it_can_be_run_again(app, monkeypatch, sleepers):
    """A chain process killed outright (the host rebooted) leaves its records saying it runs:
    once silent, with no process of this app and no run on the instance behind it, the page
    offers to run it again (Stop would find nothing to stop)."""
    from pipeline.review import progress

    monkeypatch.setattr(progress, "SILENT_AFTER_S", -1)  # silent from the start
    config = app
    record_run_state(config.store, CLIENT, CHARACTER, "run-9", "running", stage="deliverables")
    with serve(config) as url:
        page = html.unescape(get(f"{url}/c/{KEY}?lang=en")[2].decode())
        status = post(f"{url}/c/{CLIENT}/{CHARACTER}/restart?lang=en", {"who": "ana"})[0]
    assert "process stopped?" in page and 'id="restart-run"' in page
    assert status == 303 and len(sleepers) == 1
    assert [(r["who"], r["runs"]) for r in runs_restarted(config.store)] == [("ana", ["run-9"])]


# A process a shell started in the background ignores SIGINT; a run in it, then a process it
# starts, which the app or `stop` would stop with SIGTERM.
_BACKGROUND_RUN = """
import signal, subprocess, sys
from dagster import asset, materialize
from pipeline.launch import keeping_sigterm

signal.signal(signal.SIGINT, signal.SIG_IGN)


@asset
def one():
    return 1


with keeping_sigterm():
    materialize([one])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
child.terminate()
try:
    print(child.wait(60))
except subprocess.TimeoutExpired:
    child.kill()
    print("SIGTERM ignored")
"""


def test_a_process_started_after_a_run_in_a_background_process_still_stops_on_sigterm(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _BACKGROUND_RUN],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(-signal.SIGTERM)
