"""A producer's acceptance of a take outside the brief's QC limits, as a record.

* a shot's clip below qc.min_identity (`accept_shot`, `python -m pipeline accept`);
* a spoken line outside qc.max_cer / qc.min_voice (`accept_line`, `accept --line`).

One record per exact take (the shot's or the line's unit), published through the one publish
protocol; a new take needs a new acceptance. No torch here: accepting loads no model.
"""

from __future__ import annotations

from typing import Any

from resources.domain.artifacts import ArtifactRef, content_version
from resources.storage.publish import publish_acceptance

ACCEPTANCES = "acceptances"  # <client>/<character>/acceptances/<version>/: one accepted shot
LINE_ACCEPTANCES = "line_acceptances"  # <client>/<character>/line_acceptances/<version>/
CODE_VERSION = "1"


def acceptance_ref(client: str, character: str, shot: str, unit: str) -> ArtifactRef:
    """Where the acceptance of one shot's exact clip (unit) is recorded."""
    return ArtifactRef(
        client, character, ACCEPTANCES, content_version({"shot": shot, "unit": unit})
    )


def line_acceptance_ref(client: str, character: str, shot: str, unit: str) -> ArtifactRef:
    return ArtifactRef(
        client, character, LINE_ACCEPTANCES, content_version({"shot": shot, "line_unit": unit})
    )


def _current_take(store, client: str, character: str, asset: str, listing: str, shot: str):
    """The current `asset` version, its manifest, `shot`'s entry in its `listing` (None when
    absent) and the ids it lists."""
    current = store.current(client, character, asset)
    manifest = store.manifest(current)
    entry = next((e for e in manifest[listing] if e["id"] == shot), None)
    return current, manifest, entry, ", ".join(e["id"] for e in manifest[listing])


def _publish(store, ref: ArtifactRef, upstream: ArtifactRef, record: dict[str, Any], what: str):
    if not record["by"]:
        raise ValueError(f"--by: name who accepts the {what}")
    # An acceptance already recorded for this exact take is kept (the first one stands).
    return publish_acceptance(
        store, ref, record, code_version=CODE_VERSION, inputs={upstream.asset: upstream.version}
    )


def accept_shot(store, client: str, character: str, shot: str, by: str, via: str) -> dict[str, Any]:
    """Record that `by` accepts the current clip of `shot` whatever its score (through `via`: the
    CLI or the review app); return the record."""
    clips, manifest, entry, known = _current_take(
        store, client, character, "video_clips", "shots", shot
    )
    if entry is None:
        raise ValueError(f"shot {shot!r} is not in video_clips {clips.version} (shots: {known})")
    record = {
        "shot": shot,
        "unit": entry["unit"],
        "video_clips": clips.version,
        "identity": entry.get("identity", {}),
        "min_identity": manifest.get("qc", {}).get("min_identity"),
        "by": by.strip(),
        "via": via,
    }
    ref = acceptance_ref(client, character, shot, entry["unit"])
    return _publish(store, ref, clips, record, "shot")


def accept_line(store, client: str, character: str, shot: str, by: str, via: str) -> dict[str, Any]:
    """Record that `by` accepts the current take of `shot`'s line whatever its scores."""
    narration, _, entry, known = _current_take(store, client, character, "narration", "lines", shot)
    if entry is None:
        raise ValueError(
            f"shot {shot!r} has no line in narration {narration.version} (lines: {known or 'none'})"
        )
    record = {
        "shot": shot,
        "unit": entry["unit"],
        "narration": narration.version,
        "cer": entry.get("cer"),
        "voice": entry.get("voice"),
        "by": by.strip(),
        "via": via,
    }
    ref = line_acceptance_ref(client, character, shot, entry["unit"])
    return _publish(store, ref, narration, record, "line")


def accepted_lines(store, client: str, character: str, lines: list[dict[str, Any]]) -> set[str]:
    """The shots whose current line take a producer accepted."""
    return {
        line["id"]
        for line in lines
        if store.reusable(line_acceptance_ref(client, character, line["id"], line["unit"]))
    }
