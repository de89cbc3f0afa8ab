"""The run bundle every stage and engine passes down: partition, store, models, device, stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from resources.domain.artifacts import ArtifactRef, content_version
from resources.domain.costs import compute_record
from resources.models.model_store import ModelStore
from resources.runtime.interruption import StopCheck
from resources.storage.artifact_store import ArtifactStore

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
