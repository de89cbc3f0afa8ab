"""The producer's review: approvals of one artifact version, and re-rolls of one shot.

Both are durable, auditable JSON records in the artifact store, next to the artifacts, written
once and never replaced (`put_record`):

* `<client>/<character>/_reviews/<asset>/<version>/<time>-<decision>-<id>.json`: who approved or
  rejected which version, when, with what note. The latest record of a version decides; a new
  version starts unreviewed (an approval never carries over).
* `<client>/<character>/_overrides/<time>-<shot>-<id>.json`: a re-roll (new seed) or promotion
  (new tier) of one shot. `character_brief` merges them into the snapshot it freezes, so the
  lineage names them, and only that shot's unit changes.
* `<client>/<character>/_briefs/<time>-<sha256>-<id>.json`: who saved the character's brief in
  the review app, when, as which inbox file, and the sha256 of its bytes; the snapshot of those
  bytes names its author from it.
* `<client>/<character>/_stops/<time>-<id>.json`: who stopped the character's runs, and which.
* `<client>/<character>/_restarts/<time>-<id>.json`: who ran the chain again after a run failed,
  was stopped or went silent, and which run that was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import SLUG_PATTERN, Brief, forbidden_character

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


def _put_new(store: RecordStore, prefix: str, stamp: str, *parts: str, record: dict) -> None:
    """Write `record` once under `prefix`, named `<stamp>-<parts>-<random id>.json`: a listing
    of the prefix is in time order."""
    name = "-".join([stamp, *parts, uuid.uuid4().hex[:8]])
    store.put_record(f"{prefix}/{name}.json", record)


def _records_under(store: RecordStore, prefix: str) -> list[dict[str, Any]]:
    """Every record `_put_new` wrote under `prefix`, oldest first."""
    found = [store.record(key) for key in store.records(prefix)]
    return [r for r in found if r is not None]


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
    _put_new(store, reviews_prefix(ref), stamp, decision, record=record)
    return record


def reviews_of(store: RecordStore, ref: ArtifactRef) -> list[dict[str, Any]]:
    """Every review of the version `ref`, oldest first."""
    return _records_under(store, reviews_prefix(ref))


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
    prefix = overrides_prefix(client, character)
    _put_new(store, prefix, stamp, override.shot, record=override.record())


def overrides_of(store: RecordStore, client: str, character: str) -> list[Override]:
    """Every re-roll of the character's shots, oldest first."""
    return [Override(**r) for r in _records_under(store, overrides_prefix(client, character))]


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


def brief_saves_prefix(client: str, character: str) -> str:
    return f"{client}/{character}/_briefs"


def record_brief_save(
    store: RecordStore, client: str, character: str, raw: bytes, *, who: str, file: str
) -> dict[str, Any]:
    """Record that `who` saved the brief bytes `raw` as the inbox file `file`; the record."""
    if not who.strip():
        raise ReviewError("who: say who saves the brief (it is recorded with its snapshot)")
    at, stamp = _stamp(None)
    digest = hashlib.sha256(raw).hexdigest()
    record = {"who": who.strip(), "at": at, "file": file, "sha256": digest, "bytes": len(raw)}
    _put_new(store, brief_saves_prefix(client, character), stamp, digest[:12], record=record)
    return record


def brief_saves_of(store: RecordStore, client: str, character: str) -> list[dict[str, Any]]:
    """Every save of the character's brief in the review app, oldest first."""
    return _records_under(store, brief_saves_prefix(client, character))


def stops_prefix(client: str, character: str) -> str:
    return f"{client}/{character}/_stops"


def restarts_prefix(client: str, character: str) -> str:
    return f"{client}/{character}/_restarts"


def record_stop(
    store: RecordStore, client: str, character: str, *, who: str, runs: list[str]
) -> dict[str, Any]:
    """Record that `who` stopped the character's runs `runs` (ids, or `pid N`); the record."""
    return _record_runs(store, stops_prefix(client, character), who, runs)


def record_restart(
    store: RecordStore, client: str, character: str, *, who: str, runs: list[str]
) -> dict[str, Any]:
    """Record that `who` ran the chain again after the runs `runs` ended; the record."""
    return _record_runs(store, restarts_prefix(client, character), who, runs)


def _record_runs(store: RecordStore, prefix: str, who: str, runs: list[str]) -> dict[str, Any]:
    at, stamp = _stamp(None)
    record = {"who": who, "at": at, "runs": runs}
    _put_new(store, prefix, stamp, record=record)
    return record


def stops_of(store: RecordStore, client: str, character: str) -> list[dict[str, Any]]:
    """Every stop of the character's runs, oldest first."""
    return _records_under(store, stops_prefix(client, character))


def restarts_of(store: RecordStore, client: str, character: str) -> list[dict[str, Any]]:
    """Every time the character's chain was run again by hand, oldest first."""
    return _records_under(store, restarts_prefix(client, character))


def written_line_seed(shot: Any) -> int:
    """The seed a shot's line is spoken with in the brief as written."""
    return shot.seed if getattr(shot, "voice_seed", None) is None else shot.voice_seed


def now_iso() -> str:
    return _stamp(None)[0]


# -- clients' review links and their comments --------------------------------------------------


def links_prefix(client: str) -> str:
    """Where a client's links are recorded: `<client>/_client/links/<nonce>` (not a character)."""
    return f"{client}/_client/links"


def sign_link(secret: str, client: str, expires: int, nonce: str) -> str:
    """The signature of one client link: HMAC-SHA256 over its client, expiry and nonce."""
    body = f"{client}.{expires}.{nonce}".encode()
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()[:32]


def issue_link(
    store: RecordStore, secret: str, client: str, days: float, now: dt.datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """A new signed link token for `client`, valid `days` days, and its record."""
    if not re.match(SLUG_PATTERN, client):
        raise ReviewError(f"client {client!r} is not a slug")
    if not 0 < days <= 90:
        raise ReviewError(f"a client link lasts more than 0 and at most 90 days (got {days:g})")
    at, _ = _stamp(now)
    start = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    expires = int((start + dt.timedelta(days=days)).timestamp())
    nonce = uuid.uuid4().hex[:16]
    record = {"client": client, "nonce": nonce, "issued_at": at, "expires": expires}
    store.put_record(f"{links_prefix(client)}/{nonce}.json", record)
    return f"{client}.{expires}.{nonce}.{sign_link(secret, client, expires, nonce)}", record


def revoke_link(store: RecordStore, client: str, nonce: str, who: str) -> None:
    """Revoke a client link for good (a record beside the link's: records are written once)."""
    if store.record(f"{links_prefix(client)}/{nonce}.json") is None:
        raise ReviewError(f"no link {nonce} for {client}")
    at, _ = _stamp(None)
    store.put_record(f"{links_prefix(client)}/{nonce}-revoked.json", {"who": who, "at": at})


def links_of(store: RecordStore, client: str) -> list[dict[str, Any]]:
    """The links issued to `client`, newest first: each record (nonce, issued_at, expires) with
    `revoked`, the revocation's record ({"who", "at"}) or None. The tokens are not kept."""
    prefix = links_prefix(client)
    keys = store.records(prefix)  # one listing: a revocation is read only where one is listed
    found = []
    for key in keys:
        record = None if key.endswith("-revoked.json") else store.record(key)
        if not record or "nonce" not in record:
            continue
        revocation = f"{prefix}/{record['nonce']}-revoked.json"
        revoked = store.record(revocation) if revocation in keys else None
        found.append({**record, "revoked": revoked})
    return sorted(found, key=lambda r: (r.get("issued_at", ""), r["nonce"]), reverse=True)


def link_client(store: RecordStore, secret: str, token: str, now: dt.datetime | None = None) -> str:
    """The client a link token opens; ReviewError saying why it does not (tampered, expired,
    revoked or never issued)."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        raise ReviewError("this link is not a review link")
    client, expires, nonce, signature = parts
    expected = sign_link(secret, client, int(expires), nonce)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise ReviewError("this link has been altered")
    moment = (now or dt.datetime.now(dt.UTC)).timestamp()
    if moment >= int(expires):
        raise ReviewError("this link has expired")
    if not re.match(SLUG_PATTERN, client) or not re.match(r"^[0-9a-f]{16}$", nonce):
        raise ReviewError("this link has been altered")
    issued = store.record(f"{links_prefix(client)}/{nonce}.json")
    if issued is None or issued.get("expires") != int(expires):
        raise ReviewError("this link was not issued here")
    if store.record(f"{links_prefix(client)}/{nonce}-revoked.json") is not None:
        raise ReviewError("this link has been revoked")
    return client


def comments_prefix(client: str, character: str) -> str:
    return f"{client}/{character}/_comments"


def record_comment(
    store: RecordStore,
    ref: ArtifactRef,
    *,
    shot: str,
    at_s: float,
    text: str,
    who: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A client's time-coded comment on one shot of deliverables version `ref`."""
    text, who = text.strip(), who.strip()
    if not text or len(text) > 2000 or forbidden_character(text):
        raise ReviewError("a comment is 1 to 2000 characters of text")
    if not who or len(who) > 100 or forbidden_character(who, newlines=False):
        raise ReviewError("a comment names who wrote it (at most 100 characters)")
    if not 0 <= at_s < 36_000:
        raise ReviewError(f"the time {at_s} s is not inside the video")
    at, stamp = _stamp(now)
    record = {
        "client": ref.client,
        "character": ref.character,
        "version": ref.version,
        "shot": shot,
        "at_s": round(float(at_s), 2),
        "text": text,
        "who": who,
        "at": at,
    }
    _put_new(store, comments_prefix(ref.client, ref.character), stamp, record=record)
    return record


def comments_of(store: RecordStore, client: str, character: str) -> list[dict[str, Any]]:
    """Every client comment on a character's cuts, oldest first."""
    return [c for c in _records_under(store, comments_prefix(client, character)) if c]
