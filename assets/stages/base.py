"""What every stage shares: build-or-reuse, the progress log, and plain results for the assets."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resources.domain.artifacts import ArtifactRef
from resources.runtime.progress import (  # noqa: F401 - the run's records, for the stages
    PROGRESS,
    RUN_LOGS,
    RUN_STATES,
    record_run_state,
    run_state_key,
)
from resources.runtime.run import Log, Run
from resources.storage.artifact_store import ArtifactStore
from resources.storage.publish import publish_one

__all__ = ["Log", "Run"]  # the run bundle lives with the engines; stages take it from here


class StageLog:
    """A stage's log that also records its loops' progress in the store, for the review app.

    Long loops (resources/runtime/progress.py) call `progress`; the record is replaced at
    most once a second and at the end, and a failure to write it never fails the work.
    """

    def __init__(
        self,
        log: Log,
        store: ArtifactStore,
        client: str,
        character: str,
        asset: str,
        run_id: str = "",
    ):
        self._log, self.store, self.asset, self.run_id = log, store, asset, run_id
        self.key = f"{client}/{character}/{PROGRESS}/{asset}.json"
        self._last = 0.0

    def __call__(self, message: str) -> None:
        self._log(message)

    def progress(
        self,
        label: str,
        done: int,
        total: int,
        unit: str,
        rate: float,
        eta_s: float | None,
        item: tuple[int, int] | None = None,
    ) -> None:
        """Record the loop's state; `item` = (which, of how many) when the stage loops over
        several things (shot 3 of 4)."""
        now = time.monotonic()
        if done < total and now - self._last < 1.0:
            return
        self._last = now
        record = {
            "run_id": self.run_id,
            "asset": self.asset,
            "label": label,
            "done": done,
            "total": total,
            "unit": unit,
            "rate": round(rate, 3),
            "eta_s": None if eta_s is None else round(eta_s, 1),
            "state": "done" if done >= total else "running",
            "item": list(item) if item else None,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        try:
            self.store.put_status(self.key, record)
        except Exception as error:  # noqa: BLE001 - progress is advisory; the work goes on
            self._log(f"progress record not written: {error}")


@dataclass(frozen=True)
class Markdown:
    """Metadata shown as markdown (a table, a list)."""

    text: str


@dataclass(frozen=True)
class Picture:
    """Metadata shown as an image (a contact sheet, a poster, a loss curve)."""

    path: Path
    title: str = ""


@dataclass(frozen=True)
class Playable:
    """Metadata that plays in a browser: the review app's URL of a video, where one is set."""

    path: Path


@dataclass(frozen=True)
class Check:
    """An asset check's outcome: its name, pass or fail, and what it saw."""

    name: str
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None  # one line shown with the result (why it failed)
    severity: str = "ERROR"  # or "WARN": a failure that blocks nothing


@dataclass(frozen=True)
class StageResult:
    """What a stage built or reused, what to show of it, and its checks."""

    ref: ArtifactRef
    folder: Path
    manifest: dict[str, Any]
    reused: bool
    metadata: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    # The review app's URL of a file of this result (None when no app URL is configured).
    link: Callable[[Path], str | None] = field(default=lambda path: None, repr=False)


def build_or_reuse(
    run: Run,
    ref: ArtifactRef,
    build: Callable[[Path], dict[str, Any]],
    *,
    needs_bytes: int = 0,
    salvage: bool = False,
) -> bool:
    """Reuse `ref` if its files still match its manifest, or build it; True when reused.

    The storage layer's one publish protocol (resources/storage/publish.py): `build(stage)`
    writes the artifact's files and returns the manifest's fields; the manifest is written last.
    """
    return publish_one(
        run.store, ref, build, log=run.log, needs_bytes=needs_bytes, salvage=salvage, current=True
    )


def stage_result(
    run: Run,
    ref: ArtifactRef,
    *,
    reused: bool,
    metadata: dict[str, Any],
    checks: list[Check] | None = None,
) -> StageResult:
    """The result of a stage for `ref`, with its manifest read back from the store."""
    return StageResult(
        ref=ref,
        folder=run.store.path(ref),
        manifest=run.store.manifest(ref),
        reused=reused,
        metadata=metadata,
        checks=checks or [],
        link=run.store.public_link,
    )
