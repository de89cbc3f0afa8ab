"""What every stage shares: the run bundle, build-or-reuse, and plain results for the assets."""

from __future__ import annotations

import datetime as dt
import errno
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from resources.domain.artifacts import ArtifactRef, content_version
from resources.domain.costs import compute_record
from resources.models.model_store import ModelStore
from resources.runtime.interruption import StopCheck
from resources.storage.artifact_store import (
    ArtifactStore,
    build_manifest,
    disk_full,
    ensure_space,
    write_json,
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class Run:
    """What every stage of one run passes down: the partition, store, models, device, log, stop.

    Built once per run by the `StageRuntime` resource (assets/materialize.py); stages take it
    as their first argument and never rebuild any part of it.
    """

    client: str
    character: str
    store: ArtifactStore
    models: ModelStore
    device: str
    dtype: torch.dtype
    log: Log = print
    stop: StopCheck | None = None

    def ref(self, asset: str, payload: Any) -> ArtifactRef:
        """The version of `asset` that `payload` (everything it depends on) names."""
        return ArtifactRef(self.client, self.character, asset, content_version(payload))

    def upstream(self, asset: str) -> ArtifactRef:
        """The finished version of an upstream asset for this partition."""
        return self.store.current(self.client, self.character, asset)

    def compute(self, start: float) -> dict[str, Any]:
        """The manifest's `compute` entry for work on this device since perf_counter `start`."""
        return compute_record(
            self.device,
            time.perf_counter() - start,
            instance_type=self.models.instance_type,
            pricing=self.models.pricing,
        )


PROGRESS = "_progress"  # <client>/<character>/_progress/<asset>.json: the running loop's state


class StageLog:
    """A stage's log that also records its loops' progress in the store, for the review app.

    Long loops (resources/runtime/progress.py) call `progress`; the record is replaced at
    most once a second and at the end, and a failure to write it never fails the work.
    """

    def __init__(self, log: Log, store: ArtifactStore, client: str, character: str, asset: str):
        self._log, self.store, self.asset = log, store, asset
        self.key = f"{client}/{character}/{PROGRESS}/{asset}.json"
        self._last = 0.0

    def __call__(self, message: str) -> None:
        self._log(message)

    def progress(
        self, label: str, done: int, total: int, unit: str, rate: float, eta_s: float | None
    ) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 1.0:
            return
        self._last = now
        record = {
            "asset": self.asset,
            "label": label,
            "done": done,
            "total": total,
            "unit": unit,
            "rate": round(rate, 3),
            "eta_s": None if eta_s is None else round(eta_s, 1),
            "state": "done" if done >= total else "running",
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

    `build(stage)` writes the artifact's files into the staging folder and returns the
    manifest's fields (`build_manifest`'s keyword arguments); the manifest is written last.
    A corrupt version is moved aside and rebuilt; with `salvage`, its files that still match
    the manifest seed the staging folder, so a stage that skips finished units (one still)
    redoes only the broken ones. The build holds the version's lock: a concurrent run of the
    same version waits, then reuses. `needs_bytes` (the stage's expected output) is checked
    against the free space before any work starts.
    """
    if run.store.reusable(ref):
        run.store.set_current(ref)
        return True
    with run.store.lock(ref, run.log):
        if run.store.reusable(ref):
            run.store.set_current(ref)  # built by the run we waited for
            return True
        aside = run.store.repair(ref, run.log)
        where = run.store.staging_parent(ref)
        ensure_space(where, needs_bytes, f"{ref.asset} ({ref.key})")
        try:
            with run.store.staging(ref) as stage:
                if salvage and aside is not None:
                    run.store.salvage(ref, aside, stage, run.log)
                fields = build(stage)
                write_json(stage / "manifest.json", build_manifest(ref, stage, **fields))
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            # Writers deep in a library (the encoder, torch.save) name no file: name the folder.
            raise disk_full(Path(error.filename or where), needs_bytes) from None
    return False


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
