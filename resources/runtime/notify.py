"""Tell producers when a run finishes, fails or waits for them: a Slack-compatible webhook.

The URL is the setting CHARACTER_VIDEO_WEBHOOK_URL (pipeline/settings.py), handed to the run as
the `notifier` resource: a Slack incoming webhook, or anything that takes the same JSON (`text`,
plus Slack's message `metadata` with the event as data). Unset: no notice is sent.

A notice never holds up a run: `dispatch` hands the JSON to a detached process
(`python -m resources.runtime.notify`) and returns at once. That process posts it, retrying a
failed delivery (a connection error, a timeout, HTTP 429 or 5xx) with growing pauses, and gives up
on an answer that will not change (another 4xx). Each attempt is one JSON line on its standard
error, which `dispatch` points at `log` when given (the artifact root's `_notifications.jsonl`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

LOG_NAME = "_notifications.jsonl"
ATTEMPTS = 5
FIRST_PAUSE_S = 1.0  # then 2, 4, 8 s
TIMEOUT_S = 10.0
EVENT_TYPE = "character_video_run"

_WORDS = {
    "finished": ("✅ Pronto", "finished"),
    "failed": ("❌ Falhou", "failed"),
    "waiting": ("⏳ Esperando você", "waiting for you"),
}


@dataclass(frozen=True)
class Notice:
    """What happened to which character's run, where, and the page that shows it."""

    event: str  # "finished", "failed" or "waiting"
    client: str
    character: str
    stage: str
    detail: str
    run_id: str
    url: str | None = None  # the character's page in the review app

    def payload(self) -> dict[str, Any]:
        """Slack's incoming-webhook JSON: the text people read, the event as metadata."""
        if self.event not in _WORDS:
            raise ValueError(f"event={self.event!r}: one of {', '.join(_WORDS)}")
        pt, en = _WORDS[self.event]
        who = f"{self.client}/{self.character}"
        link = f"<{self.url}|{who}>" if self.url else who
        text = f"{pt}: {link}, etapa {self.stage} ({en}). {self.detail}".strip()
        return {
            "text": text,
            "metadata": {"event_type": EVENT_TYPE, "event_payload": asdict(self)},
        }


def page_url(public_url: str | None, client: str, character: str) -> str | None:
    """The character's page in the review app served at `public_url`, if it is known."""
    return f"{public_url.rstrip('/')}/c/{client}/{character}" if public_url else None


class Notifier(ConfigurableResource):
    """The run's way to tell producers: the webhook, the review app's URL, the log's folder."""

    webhook_url: str | None = None
    public_url: str | None = None  # the review app (CHARACTER_VIDEO_REVIEW_URL), for links
    log_dir: str | None = None  # a local artifact root: `_notifications.jsonl` goes there

    def send(self, event: str, partition_key: str, stage: str, detail: str, run_id: str) -> bool:
        """Dispatch `event` for the character of `partition_key` (client/character)."""
        if not self.webhook_url:
            return False
        client, _, character = partition_key.partition("/")
        url = page_url(self.public_url, client, character)
        notice = Notice(event, client, character, stage, detail, run_id, url)
        log = (
            Path(self.log_dir) / LOG_NAME if self.log_dir and Path(self.log_dir).is_dir() else None
        )
        return dispatch(notice, url=self.webhook_url, log=log)


def dispatch(notice: Notice, *, url: str, log: Path | None = None) -> bool:
    """Hand `notice` to a detached sender for `url` and return at once."""
    sink = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        sender = subprocess.Popen(
            [sys.executable, "-m", "resources.runtime.notify", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            cwd=Path(__file__).resolve().parents[2],
            start_new_session=True,  # not stopped with the run's process group
        )
        sender.stdin.write(json.dumps(notice.payload()).encode())
        sender.stdin.close()
    finally:
        if log is not None:
            sink.close()
    return True


def deliver(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = ATTEMPTS,
    pause_s: float = FIRST_PAUSE_S,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[dict[str, Any]], None] = lambda _: None,
) -> bool:
    """POST `payload` to `url` until it is taken (2xx), for at most `attempts` tries."""
    body = json.dumps(payload).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
                status, why = answer.status, "taken"
        except urllib.error.HTTPError as error:
            status, why = error.code, error.reason
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            status, why = None, str(getattr(error, "reason", error))
        report({"attempt": attempt, "status": status, "why": str(why)})
        if status is not None and 200 <= status < 300:
            return True
        if status is not None and 400 <= status < 500 and status != 429:
            return False  # the same request will be refused again
        if attempt < attempts:
            sleep(pause_s * 2 ** (attempt - 1))
    return False


def main(argv: list[str]) -> int:
    """The detached sender: the payload on standard input, the URL as the argument."""
    payload = json.loads(sys.stdin.read())
    event = payload["metadata"]["event_payload"]

    def report(outcome: dict[str, Any]) -> None:
        line = {"time": time.time(), "event": event["event"], "run_id": event["run_id"], **outcome}
        print(json.dumps(line), file=sys.stderr, flush=True)

    return 0 if deliver(argv[0], payload, report=report) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
