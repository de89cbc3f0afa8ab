"""The brief inbox: where producers drop brief YAML files (a folder, or single files)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

from pipeline.brief import Brief, BriefError, load_brief

BRIEF_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class InboxEntry:
    path: Path
    brief: Brief | None
    error: BriefError | None


class BriefInbox(ConfigurableResource):
    """Briefs found under `paths` (folders are scanned for *.yaml / *.yml, not recursively)."""

    paths: list[str] = ["examples"]

    def files(self) -> list[Path]:
        found: list[Path] = []
        for raw in self.paths:
            path = Path(raw)
            if path.is_dir():
                found += sorted(p for p in path.iterdir() if p.suffix in BRIEF_SUFFIXES)
            elif path.is_file():
                found.append(path)
        return found

    def scan(self) -> Iterator[InboxEntry]:
        for path in self.files():
            try:
                yield InboxEntry(path, load_brief(path), None)
            except BriefError as error:
                yield InboxEntry(path, None, error)

    def find(self, key: str) -> tuple[Path, Brief]:
        """The brief for partition `client/character`; an error if none or several match."""
        matches = [
            (e.path, e.brief) for e in self.scan() if e.brief and e.brief.partition_key == key
        ]
        if not matches:
            where = ", ".join(self.paths)
            raise BriefError(key, [f"(inbox): no valid brief for {key} in {where}"])
        if len(matches) > 1:
            files = ", ".join(str(p) for p, _ in matches)
            raise BriefError(key, [f"(inbox): several briefs for {key}: {files}"])
        return matches[0]
