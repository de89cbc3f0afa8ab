"""Brief files: the one brief scan (`briefs_in`, `read_entry`) and the one duplicate check
(`partition_conflicts`).

`python -m pipeline validate`, the inbox (resources.inbox: the sensor, the nightly schedule and
a run that looks its brief up) and the review app list folders, read files and decide which of
two briefs for one client/character may run the same way, through this module. It loads no
Dagster: `validate` answers without the orchestrator's import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from resources.domain.brief import Brief, BriefError, read_brief_bytes
from resources.domain.client_profile import parse_client_brief
from resources.media.burn_in import undrawable_lines

BRIEF_SUFFIXES = (".yaml", ".yml")


ONE_BRIEF = "keep one brief per client/character"
ONE_BRIEF_PT = "mantenha um briefing por cliente/personagem"


@dataclass(frozen=True)
class InboxEntry:
    path: Path
    brief: Brief | None
    error: BriefError | None
    raw: bytes = b""  # the file's bytes, as validated (empty if it could not be read)


def briefs_in(folder: Path) -> list[Path]:
    """The brief files directly in `folder` (*.yaml, *.yml in any case; not recursive), sorted.

    OSError when the folder cannot be listed.
    """
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in BRIEF_SUFFIXES)


def read_entry(path: Path, *, follow_symlinks: bool) -> InboxEntry:
    """One brief file read (read_brief_bytes) and validated; its problems when it is refused.

    `follow_symlinks`: True for a file someone named, False for one found in a folder.
    """
    try:
        raw = read_brief_bytes(path, follow_symlinks=follow_symlinks)
        return InboxEntry(path, check_brief(raw, path), None, raw)
    except BriefError as error:
        return InboxEntry(path, None, error)
    except Exception as error:  # noqa: BLE001 - one file never stops a scan for the others
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return InboxEntry(path, None, BriefError(str(path), [f"(file): cannot be read: {reason}"]))


def check_brief(raw: bytes, path: Path) -> Brief:
    """A brief's bytes validated as a brief saved at `path` (its client's profile is the one in
    that folder): parsed, and every line drawable as a subtitle; BriefError otherwise."""
    brief = parse_client_brief(raw, str(path))
    if problems := undrawable_lines(brief):
        raise BriefError.of(str(path), problems)
    return brief


@dataclass(frozen=True)
class PartitionConflict:
    """Briefs for one client/character; the holder, if any, keeps the partition."""

    key: str
    briefs: tuple[str, ...]  # every brief for the partition, sorted
    holder: str | None = None  # the one brief that held the partition already

    @property
    def refused(self) -> tuple[str, ...]:
        """The briefs that may not run while the others are there."""
        return tuple(b for b in self.briefs if b != self.holder)

    def problem(self, brief: str, lang: str = "en") -> str:
        """The line reported on `brief`, one of the refused ones (in English or pt-BR)."""
        pt = lang == "pt-BR"
        if self.holder:
            if pt:
                return (
                    f"character: {self.key} já é a partição de {self.holder}; esta cópia não "
                    f"foi executada: {ONE_BRIEF_PT}"
                )
            return (
                f"character: {self.key} is already the partition of {self.holder}; "
                f"this copy was not run: {ONE_BRIEF}"
            )
        others = ", ".join(b for b in self.briefs if b != brief)
        if pt:
            return f"character: {self.key} também é a partição de {others}; {ONE_BRIEF_PT}"
        return f"character: {self.key} is also the partition of {others}; {ONE_BRIEF}"

    def error(self) -> BriefError:
        """A run that must pick one of the briefs and cannot: the error naming all of them."""
        files = ", ".join(self.briefs)
        return BriefError(
            self.key, [f"(inbox): several briefs for {self.key}: {files}; keep one of them"]
        )


def partition_conflicts(
    keys: Mapping[str, str], held: Mapping[str, str] | None = None
) -> dict[str, PartitionConflict]:
    """The partitions that more than one brief claims, by partition key.

    `keys` maps each valid brief (its path) to its partition; `held` maps briefs that held a
    partition before (the sensor's previous tick) to it. When exactly one brief of a partition
    held it, that one keeps it and only the others are refused; otherwise all of them are.
    """
    by_key: dict[str, list[str]] = {}
    for name, key in keys.items():
        by_key.setdefault(key, []).append(name)
    held = held or {}
    conflicts = {}
    for key, names in by_key.items():
        if len(names) < 2:
            continue
        holders = [n for n in names if held.get(n) == key]
        holder = holders[0] if len(holders) == 1 else None
        conflicts[key] = PartitionConflict(key, tuple(sorted(names)), holder)
    return conflicts
