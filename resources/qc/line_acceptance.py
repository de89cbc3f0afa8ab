"""A producer's acceptance of one spoken line outside qc.max_cer / qc.min_voice, as a record.

Like a shot's (resources/qc/retakes.accept_shot): one record per exact take (the line's unit),
published through the one publish protocol; a new take of the line needs a new acceptance.
"""

from __future__ import annotations

from typing import Any

from resources.domain.artifacts import ArtifactRef, content_version
from resources.storage.publish import publish_acceptance

LINE_ACCEPTANCES = "line_acceptances"  # <client>/<character>/line_acceptances/<version>/
CODE_VERSION = "1"


def line_acceptance_ref(client: str, character: str, shot: str, unit: str) -> ArtifactRef:
    return ArtifactRef(
        client, character, LINE_ACCEPTANCES, content_version({"shot": shot, "line_unit": unit})
    )


def accept_line(store, client: str, character: str, shot: str, by: str) -> dict[str, Any]:
    """Record that `by` accepts the current take of `shot`'s line whatever its scores."""
    narration = store.current(client, character, "narration")
    manifest = store.manifest(narration)
    entry = next((line for line in manifest["lines"] if line["id"] == shot), None)
    if entry is None:
        known = ", ".join(line["id"] for line in manifest["lines"]) or "none"
        raise ValueError(
            f"shot {shot!r} has no line in narration {narration.version} (lines: {known})"
        )
    if not by.strip():
        raise ValueError("--by: name who accepts the line")
    record = {
        "shot": shot,
        "unit": entry["unit"],
        "narration": narration.version,
        "cer": entry.get("cer"),
        "voice": entry.get("voice"),
        "by": by.strip(),
        "via": "python -m pipeline accept --line",
    }
    ref = line_acceptance_ref(client, character, shot, entry["unit"])
    return publish_acceptance(
        store, ref, record, code_version=CODE_VERSION, inputs={"narration": narration.version}
    )


def accepted_lines(store, client: str, character: str, lines: list[dict[str, Any]]) -> set[str]:
    """The shots whose current line take a producer accepted."""
    return {
        line["id"]
        for line in lines
        if store.reusable(line_acceptance_ref(client, character, line["id"], line["unit"]))
    }
