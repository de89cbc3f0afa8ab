"""What an artifact is: `<client>/<character>/<asset>/<version>`, named by a content hash.

The storage engines (resources/storage/) keep the bytes; everything that only names or reads
artifacts (lineage, the CLI) uses these types and the `ArtifactReader` protocol.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ASSET = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^[0-9a-f]{8,64}$")
MANIFEST = "manifest.json"
CURRENT = "current.json"
# The files every version of an asset holds: a manifest that does not list them is not trusted
# (emptied by hand, its final.mp4 would never be checked again). Units named here too.
ALWAYS_WRITTEN: dict[str, tuple[str, ...]] = {
    "character_brief": ("brief.json", "brief.yaml"),
    "reference_images": ("contact_sheet.png",),
    "character_lora": ("pytorch_lora_weights.safetensors",),
    "shots": ("clip.mp4", "poster.png", "shot.json"),
    "shot_scores": ("scores.json",),
    "video_clips": ("posters.png",),
    "deliverables": ("final.mp4", "poster.jpg"),
    "music": ("music.wav",),
    "client_report": ("report.json", "report.md"),
}


class ArtifactError(RuntimeError):
    """An artifact that is missing or unusable; the message names it."""


@dataclass(frozen=True)
class ArtifactRef:
    client: str
    character: str
    asset: str
    version: str

    def __post_init__(self) -> None:
        for field, value, pattern in (
            ("client", self.client, _SLUG),
            ("character", self.character, _SLUG),
            ("asset", self.asset, _ASSET),
            ("version", self.version, _VERSION),
        ):
            if not isinstance(value, str) or not pattern.match(value):
                raise ArtifactError(f"unsafe artifact {field} {value!r}"[:200])

    @property
    def key(self) -> str:
        return f"{self.client}/{self.character}/{self.asset}/{self.version}"


def pointer_version(pointer: Any, where: str) -> str:
    """The version a `current.json` names; ArtifactError naming the file when it names none."""
    version = pointer.get("version") if isinstance(pointer, dict) else None
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ArtifactError(
            f'{where} is malformed (it must be {{"version": "<hash>"}}); '
            "delete it and run the asset again"
        )
    return version


def content_version(payload: Any) -> str:
    """A short content hash of JSON-serialisable inputs: same inputs, same version."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ArtifactReader(Protocol):
    """What reading code needs of an artifact store (local or S3)."""

    def manifest(self, ref: ArtifactRef) -> dict[str, Any]: ...

    def current(self, client: str, character: str, asset: str) -> ArtifactRef: ...

    def characters(self, client: str) -> list[str]: ...

    def versions(self, client: str, character: str, asset: str) -> list[str]: ...

    def path(self, ref: ArtifactRef) -> Path: ...
