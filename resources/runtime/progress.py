"""Progress of a long loop (training steps, denoising steps): rate and ETA, logged and recorded;
and the record of where a character's run stands, which the review app reads.

A stage's log may also carry a `progress(label, done, total, unit, rate, eta_s)` method (the
stage runtime's log does: it writes a progress record the review app shows); a plain print
or Dagster logger just gets the lines.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

PROGRESS = "_progress"  # <client>/<character>/_progress/<asset>.json: the running loop's state
# <client>/<character>/_run/state.json: the character's latest run, whoever launched it: its id,
# who launched it, the stage it is in, and how it ended (running, finished, failed, waiting).
RUN_FOLDER = "_run"
RUN_STATE = f"{RUN_FOLDER}/state.json"
# <client>/<character>/_run/logs/: the output of each run the review app starts, a file a run.
RUN_LOGS = f"{RUN_FOLDER}/logs"
RUN_STATES = ("running", "finished", "failed", "waiting", "stopped")  # stopped: by a person


def run_state_key(client: str, character: str) -> str:
    return f"{client}/{character}/{RUN_STATE}"


def record_run_state(
    store: Any,
    client: str,
    character: str,
    run_id: str,
    state: str,
    *,
    stage: str = "",
    detail: str = "",
    launched_by: str = "",
) -> None:
    """Record where the character's run `run_id` stands, for the review app; never fails the run.

    The start time and launcher of the run are kept while the same run moves on; a new run id
    starts a new record, so a page never mixes two runs.
    """
    if state not in RUN_STATES:
        raise ValueError(f"run state {state!r}: expected one of {', '.join(RUN_STATES)}")
    key = run_state_key(client, character)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        before = store.record(key) or {}
        same = before.get("run_id") == run_id
        store.put_status(
            key,
            {
                "run_id": run_id,
                "state": state,
                "stage": stage or (before.get("stage", "") if same else ""),
                "detail": detail,
                "launched_by": launched_by or (before.get("launched_by", "") if same else ""),
                "started_at": before.get("started_at", now) if same else now,
                "updated_at": now,
            },
        )
    except Exception:  # noqa: BLE001 - the record is advisory; the run goes on
        pass


class StepProgress:
    """Call with the number of units done; logs every `every` units and at the end."""

    def __init__(
        self,
        log: Callable[[str], None],
        label: str,
        total: int,
        *,
        every: int = 1,
        unit: str = "steps",
        done: int = 0,
        item: tuple[int, int] | None = None,
    ):
        self.log, self.label, self.total, self.every, self.unit = log, label, total, every, unit
        self.item = item  # (which, of how many): shot 3 of 4
        self.start_done = done
        self.start = time.perf_counter()
        self.record = getattr(log, "progress", None)

    def __call__(self, done: int) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = (done - self.start_done) / elapsed
        eta = (self.total - done) / rate if rate > 0 else None
        if done % self.every == 0 or done == self.total:
            eta_text = f"ETA {eta:.0f} s" if eta is not None else "ETA unknown"
            self.log(
                f"{self.label}: {self.unit} {done}/{self.total}, "
                f"{rate:.2f} {self.unit}/s, {eta_text}"
            )
        if self.record is not None:
            if self.item is None:
                self.record(self.label, done, self.total, self.unit, rate, eta)
            else:
                self.record(self.label, done, self.total, self.unit, rate, eta, item=self.item)
