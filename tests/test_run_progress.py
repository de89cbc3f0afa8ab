"""A run in flight as the review app shows it: the latest run only, its stage, shot, step and end.

The records are the ones the stages write (`record_run_state`, `StageLog` through
`StepProgress`); the app's progress box is read over HTTP as the page polls it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from types import SimpleNamespace

import pytest
from conftest import gone_pid, materialize_fresh, started_run
from review_support import CHARACTER, CLIENT, config_for, get, review_settings, serve

from assets.stages.base import StageLog, record_run_state, run_state_key
from pipeline.review import progress
from resources.runtime.progress import StepProgress
from resources.storage.artifact_store import ArtifactStore


def shots_rendered(store: ArtifactStore, run_id: str, shots: list[str], steps: int = 4) -> None:
    """What the clips stage writes for a run rendering `shots` (each `steps` denoising steps)."""
    record_run_state(store, CLIENT, CHARACTER, run_id, "running", stage="video_clips")
    log = StageLog(lambda _: None, store, CLIENT, CHARACTER, "video_clips", run_id)
    for number, shot in enumerate(shots, start=1):
        tick = StepProgress(
            log, f"shot {shot}", steps, unit="denoising steps", item=(number, len(shots))
        )
        for step in range(1, steps + 1):
            log._last = 0.0  # every step recorded (the stage records at most once a second)
            tick(step)


@pytest.fixture
def store(tmp_path):
    return ArtifactStore(root=str(tmp_path / "artifacts"))


def test_the_box_shows_the_latest_run_only_with_its_shot_step_and_stage(store):
    shots_rendered(store, "run-old", ["a", "b", "c"])
    record_run_state(store, CLIENT, CHARACTER, "run-old", "finished", stage="client_report")
    record_run_state(store, CLIENT, CHARACTER, "run-new", "running", stage="character_lora")
    view = progress.run_view(store, CLIENT, CHARACTER)
    assert view.state == "running" and view.loops == []  # the old run's bars are not shown
    shots_rendered(store, "run-new", ["intro", "ecg"], steps=3)
    view = progress.run_view(store, CLIENT, CHARACTER)
    assert [progress.loop_line(loop, "pt-BR") for loop in view.loops] == [
        "Clipes de vídeo: plano 2 de 2 (ecg), passo 3/3, concluído"
    ]
    assert progress.state_line(view, "en") == "Running: Video clips"
    assert progress.state_line(view, "pt-BR") == "Em andamento: Clipes de vídeo"


def test_a_loop_in_flight_says_how_long_is_left():
    loop = {
        "asset": "video_clips",
        "label": "shot ecg",
        "item": [3, 4],
        "done": 12,
        "total": 30,
        "unit": "denoising steps",
        "eta_s": 40.2,
        "state": "running",
    }
    assert progress.loop_line(loop, "en") == (
        "Video clips: shot 3 of 4 (ecg), step 12/30, about 40 s left"
    )
    assert progress.loop_line(loop, "pt-BR") == (
        "Clipes de vídeo: plano 3 de 4 (ecg), passo 12/30, cerca de 40 s restantes"
    )
    training = {**loop, "asset": "character_lora", "label": "LoRA training", "item": None}
    assert progress.loop_line(training, "pt-BR") == (
        "Treino do LoRA do personagem: passo 12/30, cerca de 40 s restantes"
    )
    cut = {**loop, "asset": "deliverables", "label": "cut ecg", "unit": "frames"}
    assert progress.loop_line(cut, "pt-BR").startswith(
        "Corte final (ampliado, com som): plano 3 de 4 (ecg), quadros 12/30"
    )


def test_a_run_keeps_its_start_and_launcher_and_says_how_it_ended(store):
    record_run_state(
        store, CLIENT, CHARACTER, "r1", "running", stage="reference_images", launched_by="cli"
    )
    first = store.record(run_state_key(CLIENT, CHARACTER))
    record_run_state(store, CLIENT, CHARACTER, "r1", "failed", stage="video_clips", detail="OOM")
    failed = store.record(run_state_key(CLIENT, CHARACTER))
    assert (failed["started_at"], failed["launched_by"]) == (first["started_at"], "cli")
    view = progress.run_view(store, CLIENT, CHARACTER)
    assert progress.state_line(view, "pt-BR") == "A execução falhou (Clipes de vídeo): OOM"
    record_run_state(store, CLIENT, CHARACTER, "r2", "waiting", stage="client_report", detail="cut")
    view = progress.run_view(store, CLIENT, CHARACTER)
    assert view.run["launched_by"] == ""  # a new run does not inherit the last one's launcher
    assert progress.state_line(view, "en") == (
        "Stopped, waiting for you: Waiting for the final cut's approval before the client's report."
    )
    with pytest.raises(ValueError, match="run state 'paused'"):
        record_run_state(store, CLIENT, CHARACTER, "r2", "paused")


def test_a_running_run_that_went_silent_is_said_to_be(store):
    record_run_state(store, CLIENT, CHARACTER, "r1", "running", stage="video_clips")
    view = progress.run_view(store, CLIENT, CHARACTER)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=25)
    assert view.silent_s(later) > progress.SILENT_AFTER_S
    key = run_state_key(CLIENT, CHARACTER)
    stale = {**store.record(key), "updated_at": "2026-01-01T00:00:00+00:00"}
    store.put_status(key, stale)
    line = progress.state_line(progress.run_view(store, CLIENT, CHARACTER), "pt-BR")
    assert line.startswith("Em andamento: Clipes de vídeo · sem notícias há ")


def test_the_page_polls_a_box_that_offers_a_reload_once_the_run_ended(tmp_path):
    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    config = config_for(settings)
    store = config.store
    shots_rendered(store, "r9", ["intro", "ecg"])
    with serve(config) as url:
        api = f"{url}/api/c/{CLIENT}/{CHARACTER}/progress"
        status, _, body = get(f"{api}?since=running&run=r9")
        box = json.loads(body)
        assert status == 200 and (box["state"], box["run_id"]) == ("running", "r9")
        assert "plano 2 de 2 (ecg)" in box["html"] and 'id="reload"' not in box["html"]
        record_run_state(store, CLIENT, CHARACTER, "r9", "finished", stage="client_report")
        box = json.loads(get(f"{api}?since=running&run=r9&lang=en")[2])
        assert box["state"] == "finished"
        assert "Run finished." in box["html"] and 'id="reload"' in box["html"]
        # A page drawn after the end offers no reload: it already shows the result.
        box = json.loads(get(f"{api}?since=finished&run=r9")[2])
        assert 'id="reload"' not in box["html"]


class FakeContext:
    """What `tracked` reads of an asset's context: partition, asset, run id and tags."""

    def __init__(self, asset: str, tags: dict[str, str] | None = None):
        self.partition_key = f"{CLIENT}/{CHARACTER}"
        self.asset_key = SimpleNamespace(path=[asset])
        self.run = SimpleNamespace(run_id="run-7", tags=tags or {})


def test_every_run_records_how_it_ended_whoever_launched_it(store):
    from assets.materialize import OUTCOME_TAG, tracked

    runtime = SimpleNamespace(store=store)

    def clips(context, runtime):
        raise RuntimeError("CUDA out of memory\nwhile rendering shot ecg")

    with pytest.raises(RuntimeError):
        tracked(clips)(FakeContext("video_clips"), runtime=runtime)
    state = store.record(run_state_key(CLIENT, CHARACTER))
    assert (state["state"], state["stage"], state["detail"]) == (
        "failed",
        "video_clips",
        "CUDA out of memory",
    )

    def report(context, runtime):
        yield "the report"

    assert list(tracked(report)(FakeContext("client_report"), runtime=runtime)) == ["the report"]
    assert store.record(run_state_key(CLIENT, CHARACTER))["state"] == "finished"
    waiting = FakeContext("client_report", {OUTCOME_TAG: "waiting for approval (cut)"})
    record_run_state(store, CLIENT, CHARACTER, "run-7", "waiting", stage="client_report")
    assert list(tracked(report)(waiting, runtime=runtime)) == ["the report"]
    assert store.record(run_state_key(CLIENT, CHARACTER))["state"] == "waiting"
    # A stage before the last one ends without saying the run finished.
    record_run_state(store, CLIENT, CHARACTER, "run-8", "running", stage="video_clips")
    tracked(lambda context, runtime: 1)(FakeContext("video_clips"), runtime=runtime)
    assert store.record(run_state_key(CLIENT, CHARACTER))["state"] == "running"


def test_a_cut_version_s_label_says_what_changed_and_its_review_only_where_one_is_asked():
    from pipeline.review.history import VersionLabel, label_line

    base = dict(version="v2", created_at="", current=True, first=False, size=(1080, 1920))
    asked = VersionLabel(**base, rerolled=("ecg",), promoted=("intro",))
    assert label_line(asked, "pt-BR") == (
        "refação de ecg · intro promovido(s) a final · vertical 1080x1920 · não revisada"
    )
    assert label_line(VersionLabel(**base, decision="approved"), "en") == (
        "same shots (cut or sound) · vertical 1080x1920 · approved"
    )
    unasked = VersionLabel(**base, voices=("ecg",), reviewed=False)
    assert label_line(unasked, "pt-BR") == "fala refeita: ecg · vertical 1080x1920"


def test_the_home_page_lists_every_run_in_flight_and_drops_it_once_ended(tmp_path):
    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    config = config_for(settings)
    store = config.store
    record_run_state(store, CLIENT, CHARACTER, "r1", "running", stage="character_lora")
    record_run_state(store, CLIENT, "dr-beto", "r2", "finished", stage="client_report")
    with serve(config) as url:
        status, _, body = get(f"{url}/")
        page = body.decode()
        assert status == 200
        section = page.split('id="in-flight"')[1].split("</section>")[0]
        assert f"{CLIENT}/{CHARACTER}" in section
        assert "Em andamento: Treino do LoRA do personagem" in section
        assert "dr-beto" not in section  # its run ended: nothing of it is in flight
        record_run_state(store, CLIENT, CHARACTER, "r1", "failed", stage="character_lora")
        page = get(f"{url}/?lang=en")[2].decode()
        section = page.split('id="in-flight"')[1].split("</section>")[0]
        assert 'id="nothing-in-flight"' in section and "No run in progress." in section


def test_the_home_page_asks_the_instance_once_however_many_characters_there_are(tmp_path):
    """40 characters on a SQLite instance (as `make dev`'s), three with a run started there: the
    page lists the two whose run is alive, asking the runs table once, not once per character;
    the run whose local process is gone is marked failed, as for one character."""
    from dagster import DagsterInstance, DagsterRunStatus
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    config = config_for(settings)
    keys = [f"client-{i // 10}/dr-{i % 10}" for i in range(40)]
    for i, key in enumerate(keys):
        record_run_state(config.store, *key.split("/"), f"r{i}", "finished", stage="client_report")
    started = {
        "client-1/dr-3": None,  # launched elsewhere (the daemon, ECS): no local process to check
        "client-2/dr-0": gone_pid(),
        "client-3/dr-9": os.getpid(),
    }
    selects: list[str] = []

    def count(conn, cursor, statement, *args):
        if "runs.status IN" in statement:  # a query for the runs in flight
            selects.append(statement)

    (tmp_path / "home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        runs = {key: started_run(instance, key, pid) for key, pid in started.items()}
        config.instance = instance
        with serve(config) as url:
            event.listen(Engine, "before_cursor_execute", count)
            try:
                status, _, body = get(f"{url}/?lang=en")
            finally:
                event.remove(Engine, "before_cursor_execute", count)
        killed = instance.get_run_by_id(runs["client-2/dr-0"].run_id)
    assert status == 200
    section = body.decode().split('id="in-flight"')[1].split("</section>")[0]
    listed = re.findall(r'data-state="(\w+)">\s*<td><a href="/c/([\w/-]+)"', section)
    assert listed == [("queued", "client-1/dr-3"), ("queued", "client-3/dr-9")]
    assert killed.status == DagsterRunStatus.FAILURE
    assert len(selects) == 1, selects


def test_an_end_only_the_dagster_instance_saw_is_shown_not_a_run_still_running(tmp_path):
    """A blocking check that fails after its asset was written, and an ad-hoc selection that
    stops before the chain's last stage, leave the stages' record at "running": the app asks the
    instance how the run ended."""
    from dagster import AssetCheckResult, DagsterInstance, asset, asset_check

    @asset
    def stills():
        return 1

    @asset_check(asset=stills, blocking=True)
    def sharp(stills):
        return AssetCheckResult(passed=False, description="two stills are blurred")

    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    config = config_for(settings)
    with DagsterInstance.ephemeral() as instance:
        config.instance = instance
        failed = materialize_fresh([stills, sharp], instance=instance, raise_on_error=False)
        fine = materialize_fresh([stills], instance=instance)

        @asset
        def broken():
            raise ValueError("the model folder is empty")

        crashed = materialize_fresh([broken], instance=instance, raise_on_error=False)
        api = f"/api/c/{CLIENT}/{CHARACTER}/progress?lang=en"
        with serve(config) as url:
            record_run_state(config.store, CLIENT, CHARACTER, failed.run_id, "running", stage="x")
            box = json.loads(get(url + api)[2])
            assert (box["state"], box["run_id"]) == ("failed", failed.run_id)
            assert "The run failed (x): sharp: two stills are blurred" in box["html"]
            record_run_state(config.store, CLIENT, CHARACTER, fine.run_id, "running", stage="x")
            box = json.loads(get(url + api)[2])
            assert (box["state"], box["run_id"]) == ("finished", fine.run_id)
            assert "Run finished." in box["html"]
            record_run_state(config.store, CLIENT, CHARACTER, crashed.run_id, "running", stage="x")
            box = json.loads(get(url + api)[2])
            assert box["state"] == "failed"
            assert "The run failed (x): the model folder is empty" in box["html"]
