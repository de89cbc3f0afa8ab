"""What a deliverable's lineage says of the licences of the models that made it."""

from __future__ import annotations

from resources.domain.lineage import chain_of
from resources.storage.artifact_store import ArtifactStore


def lineage_licences(store: ArtifactStore, client: str, character: str) -> dict[str, str]:
    """Every model named in the current deliverable's lineage -> the licence recorded for it."""
    ref = store.current(client, character, "deliverables")
    found: dict[str, str] = {}
    for link in chain_of(store, ref):
        assert len(link.models) == len(link.licences), link.asset
        for model, licence in zip(link.models, link.licences, strict=True):
            found.setdefault(model, licence)
    return found


def unrecorded(licences: dict[str, str]) -> list[str]:
    """The models whose licence (name and conditions) is not recorded."""
    return [m for m, text in licences.items() if "(paid work: " not in text]
