"""Notices to producers (resources/runtime/notify.py): Slack-compatible JSON, retried, sent by a
detached process so a run never waits for them; tested against a local HTTP server."""

from __future__ import annotations

import json
import threading

import pytest
from webhook_server import log_lines, webhook

from pipeline.settings import ENV_WEBHOOK_URL, Settings, SettingsError, build_resource
from resources.runtime.notify import LOG_NAME, Notice, Notifier, deliver, dispatch, page_url
from resources.storage.artifact_store import ArtifactStore

NOTICE = Notice(
    "waiting",
    "acme-health",
    "dr-ana",
    "reference_images",
    "waiting for approval: reference_images 1a2b",
    "run-1",
    page_url("https://review.studio.example/", "acme-health", "dr-ana"),
)


def test_the_payload_is_slack_text_with_a_link_and_the_event_as_metadata():
    payload = NOTICE.payload()
    assert payload["text"].startswith(
        "⏳ Esperando você: <https://review.studio.example/c/acme-health/dr-ana|acme-health/dr-ana>"
    )
    assert "etapa reference_images" in payload["text"]
    meta = payload["metadata"]
    assert meta["event_type"] == "character_video_run"
    assert (
        meta["event_payload"]["event"] == "waiting" and meta["event_payload"]["run_id"] == "run-1"
    )
    with pytest.raises(ValueError, match="event='done'"):
        Notice("done", "a", "b", "c", "", "r").payload()


def test_a_failed_delivery_is_retried_with_growing_pauses_until_taken():
    pauses, attempts = [], []
    with webhook(statuses=[503, 500, 429]) as hook:
        taken = deliver(hook.url, NOTICE.payload(), sleep=pauses.append, report=attempts.append)
        assert taken and hook.answered == [503, 500, 429, 200]
        assert hook.received == [NOTICE.payload()]
    assert pauses == [1.0, 2.0, 4.0]
    assert [a["status"] for a in attempts] == [503, 500, 429, 200]


def test_a_refusal_that_will_not_change_is_not_retried_and_a_dead_host_gives_up():
    with webhook(statuses=[404]) as hook:
        assert not deliver(hook.url, NOTICE.payload(), sleep=lambda s: None)
        assert hook.answered == [404]
    pauses = []
    with webhook() as hook:
        dead = hook.url  # the server is gone after this block
    assert not deliver(dead, NOTICE.payload(), attempts=3, sleep=pauses.append)
    assert pauses == [1.0, 2.0]


def test_dispatch_returns_while_the_webhook_is_still_answering(tmp_path):
    release = threading.Event()
    log = tmp_path / "_notifications.jsonl"
    with webhook(hold=release) as hook:
        assert dispatch(NOTICE, url=hook.url, log=log)
        assert hook.received == []  # the server holds the request: dispatch did not wait for it
        release.set()
        (got,) = hook.wait_for(1)
    assert got == NOTICE.payload()
    lines = log_lines(log, 1)
    assert lines[-1]["status"] == 200 and lines[-1]["event"] == "waiting"


def test_the_settings_give_the_run_its_notifier_and_a_bad_url_is_one_line(tmp_path):
    settings = Settings.from_env(
        {
            ENV_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/x",
            "CHARACTER_VIDEO_ROOT": str(tmp_path),
        }
    )
    notifier = build_resource("notifier", settings)
    assert notifier.webhook_url == "https://hooks.slack.com/services/T/B/x"
    assert notifier.log_dir == str(tmp_path.resolve())
    assert Notifier().send("finished", "a/b", "client_report", "", "r") is False  # none set
    with pytest.raises(SettingsError, match=f"{ENV_WEBHOOK_URL}='mailto:a@b': must be an http"):
        Settings.from_env({ENV_WEBHOOK_URL: "mailto:a@b"})


def test_a_failed_step_of_a_character_s_run_is_announced_with_its_error(tmp_path):
    """The job's failure hook (assets/notifications.py) on a real Dagster run whose step fails."""
    from dagster import DagsterInstance, job, op

    from assets.notifications import run_failed

    @op
    def video_clips():
        raise RuntimeError("shot intro: CUDA out of memory\nTraceback ...")

    with webhook() as hook, DagsterInstance.ephemeral() as instance:
        notifier = Notifier(webhook_url=hook.url, log_dir=str(tmp_path))
        store = ArtifactStore(root=str(tmp_path / "artifacts"))  # as the chain job has it

        @job(hooks={run_failed}, resource_defs={"notifier": notifier, "artifact_store": store})
        def chain():
            video_clips()

        done = chain.execute_in_process(
            instance=instance,
            tags={"dagster/partition": "acme-health/dr-ana"},
            raise_on_error=False,
        )
        assert not done.success
        (notice,) = hook.wait_for(1)
    event = notice["metadata"]["event_payload"]
    assert (event["event"], event["stage"], event["client"]) == (
        "failed",
        "video_clips",
        "acme-health",
    )
    assert event["detail"] == "shot intro: CUDA out of memory"  # the error's first line
    assert notice["text"].startswith("❌ Falhou: acme-health/dr-ana, etapa video_clips")
    assert json.loads((tmp_path / LOG_NAME).read_text().splitlines()[-1])["status"] == 200
    # The review app reads the same end from the run's state record.
    state = store.record("acme-health/dr-ana/_run/state.json")
    assert (state["run_id"], state["state"], state["stage"]) == (
        done.run_id,
        "failed",
        "video_clips",
    )
    assert state["detail"] == "shot intro: CUDA out of memory"
