"""A character's whole history in a producer's words, and what changed in each cut version.

The decision history reads every record a person left, whatever version it was about: saves of
the brief in the app, reviews of every references and cut version, re-rolls and promotions of
shots, re-rolls of lines, and acceptances of off-model shots and of lines outside the limits;
all in time order. Each cut
(deliverables) version is labelled by comparing it with the version made before it: which shots
were re-rolled or promoted, which lines spoken again, its format, and whether it was approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assets.stages.deliverables import ASSET as DELIVERABLES
from assets.stages.reference_images import ASSET as REFERENCES
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.review import (
    brief_saves_of,
    decision_of,
    overrides_of,
    restarts_of,
    reviews_of,
    stops_of,
)
from resources.qc.acceptance import ACCEPTANCES, LINE_ACCEPTANCES

GATE_OF = {REFERENCES: "references", DELIVERABLES: "cut"}


@dataclass(frozen=True)
class Event:
    """One thing a person did: when, who, what kind, and its details."""

    at: str
    who: str
    # brief, stop, restart, approved, rejected, reroll, promote, voice, accept_shot, accept_line
    kind: str
    what: dict[str, Any] = field(default_factory=dict)


def _versions(store: Any, client: str, character: str, asset: str) -> list[str]:
    try:
        return store.versions(client, character, asset)
    except ArtifactError:
        return []


def history_of(store: Any, client: str, character: str) -> list[Event]:
    """Every decision on the character, across all versions, oldest first."""
    events = [
        Event(r["at"], r["who"], "brief", {"file": r["file"]})
        for r in brief_saves_of(store, client, character)
    ]
    events += [Event(r["at"], r["who"], "stop", {}) for r in stops_of(store, client, character)]
    events += [
        Event(r["at"], r["who"], "restart", {}) for r in restarts_of(store, client, character)
    ]
    for asset in (REFERENCES, DELIVERABLES):
        for version in _versions(store, client, character, asset):
            for r in reviews_of(store, ArtifactRef(client, character, asset, version)):
                what = {"gate": GATE_OF[asset], "version": version, "note": r.get("note", "")}
                events.append(Event(r["at"], r["who"], r["decision"], what))
    for o in overrides_of(store, client, character):
        kind = (
            "voice" if o.line else "promote" if o.tier and o.tier != o.previous_tier else "reroll"
        )
        what = {"shot": o.shot, "seed": o.seed, "previous_seed": o.previous_seed, "tier": o.tier}
        events.append(Event(o.at, o.who, kind, what))
    for asset, kind in ((ACCEPTANCES, "accept_shot"), (LINE_ACCEPTANCES, "accept_line")):
        for version in _versions(store, client, character, asset):
            ref = ArtifactRef(client, character, asset, version)
            if not store.is_complete(ref):
                continue
            manifest = store.manifest(ref)
            record = manifest.get("acceptance", {})
            what = {"shot": record.get("shot", "")}
            events.append(Event(manifest.get("created_at", ""), record.get("by", ""), kind, what))
    return sorted(events, key=lambda e: e.at)


# (pt-BR, en) of each kind of event; {placeholders} come from the event's details.
EVENT_TEXT: dict[str, tuple[str, str]] = {
    "brief": ("salvou o briefing em {file}", "saved the brief as {file}"),
    "stop": ("parou a execução", "stopped the run"),
    "restart": ("executou de novo", "ran it again"),
    "approved_references": ("aprovou as referências {version}", "approved references {version}"),
    "rejected_references": ("rejeitou as referências {version}", "rejected references {version}"),
    "approved_cut": ("aprovou o corte {version}", "approved cut {version}"),
    "rejected_cut": ("rejeitou o corte {version}", "rejected cut {version}"),
    "reroll": (
        "refez o plano {shot}: seed {previous_seed} → {seed}",
        "re-rolled shot {shot}: seed {previous_seed} → {seed}",
    ),
    "promote": ("promoveu o plano {shot} para {tier_name}", "promoted shot {shot} to {tier_name}"),
    "voice": (
        "refez a fala do plano {shot}: seed {previous_seed} → {seed}",
        "re-rolled the line of shot {shot}: seed {previous_seed} → {seed}",
    ),
    "accept_shot": (
        "aceitou o plano {shot} abaixo do limite de identidade",
        "accepted shot {shot} below the identity limit",
    ),
    "accept_line": (
        "aceitou a fala do plano {shot} fora dos limites",
        "accepted the line of shot {shot} outside the limits",
    ),
}
TIER_NAMES = {"draft": ("rascunho", "draft"), "final": ("final", "final")}


def tier_name(tier: str | None, lang: str) -> str:
    pt, en = TIER_NAMES.get(tier or "", (tier or "-", tier or "-"))
    return en if lang == "en" else pt


def event_line(event: Event, lang: str) -> str:
    """ "ana aprovou as referências 2f62119a1cddd8ec: “rosto ok”"."""
    key = event.kind
    if key in ("approved", "rejected"):
        key = f"{key}_{event.what['gate']}"
    pt, en = EVENT_TEXT[key]
    details = {**event.what, "tier_name": tier_name(event.what.get("tier"), lang)}
    line = f"{event.who} " + (en if lang == "en" else pt).format(**details)
    note = event.what.get("note")
    return f"{line}: “{note}”" if note else line


@dataclass(frozen=True)
class VersionLabel:
    """What one cut version changed against the one made before it."""

    version: str
    created_at: str
    current: bool
    first: bool
    rerolled: tuple[str, ...] = ()
    promoted: tuple[str, ...] = ()
    voices: tuple[str, ...] = ()
    other: tuple[str, ...] = ()  # shots new or changed by the brief
    size: tuple[int, int] = (0, 0)
    decision: str | None = None
    reviewed: bool = True  # the brief asks for the cut's approval (else no "not reviewed")
    formats: tuple[str, ...] = ()  # the aspect ratios the version holds (one approval for all)


def _shots(store: Any, client: str, character: str, manifest: dict) -> dict[str, dict]:
    """The shots of a cut version by id: the clips' entry (seed, tier, unit) and `line`, the
    narration unit of its spoken line (None without one)."""
    inputs = manifest.get("inputs", {})
    shots: dict[str, dict] = {}
    if "video_clips" in inputs:
        ref = ArtifactRef(client, character, "video_clips", inputs["video_clips"])
        shots = {s["id"]: dict(s) for s in store.manifest(ref).get("shots", [])}
    if "narration" in inputs:
        ref = ArtifactRef(client, character, "narration", inputs["narration"])
        for line in store.manifest(ref).get("lines", []):
            if line["id"] in shots:
                shots[line["id"]]["line"] = line.get("unit")
    return shots


def _brief_seed(shot: dict) -> Any:
    return shot.get("brief_seed", shot.get("seed"))  # a re-roll changes it; a retake does not


def version_labels(
    store: Any, client: str, character: str, current: str | None, *, reviewed: bool = True
) -> list:
    """Every complete cut version, newest first, each labelled by what changed; `reviewed`:
    the brief requires the cut's approval (a version nobody had to review says nothing of it)."""
    made = []
    for version in _versions(store, client, character, DELIVERABLES):
        ref = ArtifactRef(client, character, DELIVERABLES, version)
        if store.is_complete(ref):
            made.append((store.manifest(ref), ref))
    made.sort(key=lambda m: m[0].get("created_at", ""))
    labels, before = [], None
    for manifest, ref in made:
        shots = _shots(store, client, character, manifest)
        changes: dict[str, list[str]] = {"rerolled": [], "promoted": [], "voices": [], "other": []}
        for shot_id, shot in shots.items() if before is not None else ():
            old = before.get(shot_id)
            if old is None:
                changes["other"].append(shot_id)
            elif old.get("tier") != shot.get("tier"):
                changes["promoted"].append(shot_id)
            elif _brief_seed(old) != _brief_seed(shot):
                changes["rerolled"].append(shot_id)
            elif old.get("line") != shot.get("line"):
                changes["voices"].append(shot_id)  # a talking shot's picture follows its line
            elif old.get("unit") != shot.get("unit"):
                changes["other"].append(shot_id)
        params = manifest.get("parameters", {})
        labels.append(
            VersionLabel(
                version=ref.version,
                created_at=manifest.get("created_at", ""),
                current=ref.version == current,
                first=before is None,
                size=(int(params.get("width", 0)), int(params.get("height", 0))),
                decision=decision_of(store, ref),
                reviewed=reviewed,
                formats=tuple(f["aspect"] for f in manifest.get("formats", [])),
                **{k: tuple(v) for k, v in changes.items()},
            )
        )
        before = shots
    return labels[::-1]


LABEL_TEXT: dict[str, tuple[str, str]] = {
    "first": ("primeira versão", "first version"),
    "rerolled": ("refação de {shots}", "re-roll of {shots}"),
    "promoted": ("{shots} promovido(s) a final", "{shots} promoted to final"),
    "voices": ("fala refeita: {shots}", "line re-rolled: {shots}"),
    "other": ("briefing alterado: {shots}", "brief changed: {shots}"),
    "same": ("mesmos planos (recorte ou som)", "same shots (cut or sound)"),
    "approved": ("aprovada", "approved"),
    "rejected": ("rejeitada", "rejected"),
    "unreviewed": ("não revisada", "not reviewed"),
    "horizontal": ("horizontal", "horizontal"),
    "vertical": ("vertical", "vertical"),
    "square": ("quadrado", "square"),
}


def _say(key: str, lang: str, **values: str) -> str:
    pt, en = LABEL_TEXT[key]
    return (en if lang == "en" else pt).format(**values)


def label_line(label: VersionLabel, lang: str) -> str:
    """ "refação de wave · vertical 1080x1920 · aprovada"."""
    parts = [_say("first", lang)] if label.first else []
    for key in ("rerolled", "promoted", "voices", "other"):
        shots = getattr(label, key)
        if shots:
            parts.append(_say(key, lang, shots=", ".join(shots)))
    if not parts:
        parts.append(_say("same", lang))
    width, height = label.size
    if width and height:
        shape = "vertical" if height > width else "square" if height == width else "horizontal"
        parts.append(f"{_say(shape, lang)} {width}x{height}")
    if label.decision or label.reviewed:
        parts.append(_say(label.decision or "unreviewed", lang))
    return " · ".join(parts)
