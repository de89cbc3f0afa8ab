"""The producer's review: approvals of one artifact version, and re-rolls of one shot.

Both are durable, auditable JSON records in the artifact store, next to the artifacts, written
once and never replaced (`put_record`):

* `<client>/<character>/_reviews/<asset>/<version>/<time>-<decision>-<id>.json`: who approved or
  rejected which version, when, with what note. The latest record of a version decides; a new
  version starts unreviewed (an approval never carries over).
* `<client>/<character>/_overrides/<time>-<shot>-<id>.json`: a re-roll (new seed) or promotion
  (new tier) of one shot. `character_brief` merges them into the snapshot it freezes, so the
  lineage names them, and only that shot's unit changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief

APPROVED, REJECTED = "approved", "rejected"
DECISIONS = (APPROVED, REJECTED)
# What a brief's `approval:` gates, and the asset whose version is approved.
GATES = {"references": "reference_images", "cut": "deliverables"}
REQUIRED = "required"


class RecordStore(Protocol):
    """What review records need of an artifact store (local or S3)."""

    def put_record(self, key: str, value: dict[str, Any]) -> None: ...

    def record(self, key: str) -> dict[str, Any] | None: ...

    def records(self, prefix: str) -> list[str]: ...


class ReviewError(ValueError):
    """A review that cannot be recorded: the message names what is wrong."""


def _stamp(now: dt.datetime | None) -> tuple[str, str]:
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return when.isoformat(timespec="seconds"), when.strftime("%Y%m%dT%H%M%S%fZ")


def reviews_prefix(ref: ArtifactRef) -> str:
    return f"{ref.client}/{ref.character}/_reviews/{ref.asset}/{ref.version}"


def record_review(
    store: RecordStore,
    ref: ArtifactRef,
    decision: str,
    *,
    who: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Record that `who` approved or rejected the artifact version `ref`; the record written."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if not who.strip():
        raise ReviewError("a review names who made it")
    at, stamp = _stamp(now)
    record = {
        "decision": decision,
        "asset": ref.asset,
        "version": ref.version,
        "client": ref.client,
        "character": ref.character,
        "who": who.strip(),
        "at": at,
        "note": note.strip(),
    }
    name = f"{stamp}-{decision}-{uuid.uuid4().hex[:8]}.json"
    store.put_record(f"{reviews_prefix(ref)}/{name}", record)
    return record


def reviews_of(store: RecordStore, ref: ArtifactRef) -> list[dict[str, Any]]:
    """Every review of the version `ref`, oldest first."""
    found = [store.record(key) for key in store.records(reviews_prefix(ref))]
    return [r for r in found if r is not None]


def decision_of(store: RecordStore, ref: ArtifactRef) -> str | None:
    """The latest decision on the version `ref` (approved, rejected), or None if unreviewed."""
    reviews = reviews_of(store, ref)
    return reviews[-1]["decision"] if reviews else None


def gate_asset(gate: str) -> str:
    try:
        return GATES[gate]
    except KeyError:
        raise ReviewError(f"no approval gate {gate!r}; gates: {', '.join(GATES)}") from None


def waiting_for(store: RecordStore, brief: Brief, gate: str, ref: ArtifactRef) -> str | None:
    """Why the chain waits at `gate` for the version `ref`, or None when it may go on."""
    if getattr(brief.approval, gate) != REQUIRED:
        return None
    decision = decision_of(store, ref)
    if decision == APPROVED:
        return None
    state = "was rejected" if decision == REJECTED else "is not approved yet"
    return (
        f"waiting for approval: {ref.asset} {ref.version} of {ref.client}/{ref.character} "
        f"{state} (brief: approval.{gate}: required); approve it in the review app or with "
        f"`python -m pipeline approve {ref.client} {ref.character} {gate}`"
    )


# -- re-rolls -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """A re-roll or promotion of one shot, as recorded."""

    shot: str
    brief_seed: int  # the seed in the brief when the re-roll was made: an edit there wins
    seed: int
    who: str
    at: str
    previous_seed: int
    tier: str | None = None
    previous_tier: str | None = None
    line: bool = False  # a re-roll of the shot's line (its voice) alone: the picture stays

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def overrides_prefix(client: str, character: str) -> str:
    return f"{client}/{character}/_overrides"


def record_override(store: RecordStore, client: str, character: str, override: Override) -> None:
    _, stamp = _stamp(None)
    name = f"{stamp}-{override.shot}-{uuid.uuid4().hex[:8]}.json"
    store.put_record(f"{overrides_prefix(client, character)}/{name}", override.record())


def overrides_of(store: RecordStore, client: str, character: str) -> list[Override]:
    """Every re-roll of the character's shots, oldest first."""
    found = [store.record(k) for k in store.records(overrides_prefix(client, character))]
    return [Override(**r) for r in found if r is not None]


def apply_overrides(brief: Brief, overrides: list[Override]) -> tuple[Brief, list[Override]]:
    """The brief with each shot's latest re-roll applied, and the re-rolls that applied.

    A shot's picture re-roll and its line's (voice) re-roll are separate: the latest of each
    applies. A re-roll applies while the brief still has the seed it was made against (for a
    line, `voice_seed`, else the shot's seed): once the producer edits it, the brief wins.
    """
    latest: dict[tuple[str, bool], Override] = {}
    for o in overrides:
        latest[(o.shot, o.line)] = o
    applied: list[Override] = []
    shots = []
    for shot in brief.shots:
        update: dict[str, Any] = {}
        o = latest.get((shot.id, False))
        if o is not None and o.brief_seed == shot.seed:
            update["seed"] = o.seed
            if o.tier is not None and "tier" in type(shot).model_fields:
                update["tier"] = o.tier
            applied.append(o)
        spoken = latest.get((shot.id, True))
        if spoken is not None and spoken.brief_seed == written_line_seed(shot):
            update["voice_seed"] = spoken.seed
            applied.append(spoken)
        shots.append(shot.model_copy(update=update) if update else shot)
    if not applied:
        return brief, []
    return brief.model_copy(update={"shots": shots}), applied


def written_line_seed(shot: Any) -> int:
    """The seed a shot's line is spoken with in the brief as written."""
    return shot.seed if getattr(shot, "voice_seed", None) is None else shot.voice_seed


def now_iso() -> str:
    return _stamp(None)[0]
