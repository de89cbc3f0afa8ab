"""The brief inbox: where producers drop brief YAML files (folders, single files, S3 prefixes).

An `s3://bucket/prefix/` entry is mirrored into a local folder (only objects whose ETag changed
are downloaded), so everything downstream reads briefs as local files; the errors report of an
invalid brief is written back next to the object.

Every brief is read through `BriefInbox.read` (resources.domain.brief.read_brief_bytes): only a
regular file of at most 1 MB, opened without blocking; a symbolic link inside an inbox folder
is refused, one named directly in `paths` is followed. An S3 object over 1 MB is mirrored only
up to the limit (plus one byte), so it is refused like a local one without being downloaded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

from resources.domain.brief import (
    MAX_BRIEF_BYTES,
    Brief,
    BriefError,
    parse_brief_bytes,
    read_brief_bytes,
)
from resources.storage.artifact_store import write_atomic

BRIEF_SUFFIXES = (".yaml", ".yml")
S3_SCHEME = "s3://"


@dataclass(frozen=True)
class InboxEntry:
    path: Path
    brief: Brief | None
    error: BriefError | None
    raw: bytes = b""  # the file's bytes, as validated (empty if it could not be read)


class BriefInbox(ConfigurableResource):
    """Briefs found under `paths` (folders are scanned for *.yaml / *.yml, not recursively)."""

    paths: list[str] = ["examples"]
    # Local copy of briefs under S3 prefixes (default: <system temp>/character-video-inbox).
    mirror: str = ""

    @property
    def mirror_root(self) -> Path:
        return Path(self.mirror or Path(tempfile.gettempdir()) / "character-video-inbox").resolve()

    def files(self) -> list[Path]:
        found: list[Path] = []
        for raw in self.paths:
            if raw.startswith(S3_SCHEME):
                found += self._mirror_s3(raw)
                continue
            path = Path(raw)
            if path.is_dir():
                try:
                    found += sorted(p for p in path.iterdir() if p.suffix in BRIEF_SUFFIXES)
                except OSError:  # an unlistable folder holds nothing this tick can read
                    continue
            elif path.exists() or path.is_symlink():  # a FIFO too: read() refuses it by name
                found.append(path)
        return found

    def read(self, path: Path) -> bytes:
        """A brief's bytes; BriefError for anything that is not a regular file under 1 MB.

        Links are followed only for a file named directly in `paths` (someone chose it); in a
        folder a link could point anywhere (outside the inbox, at a device) and is refused.
        """
        named = {Path(raw) for raw in self.paths if not raw.startswith(S3_SCHEME)}
        return read_brief_bytes(path, follow_symlinks=path in named)

    def scan(self) -> Iterator[InboxEntry]:
        for path in self.files():
            try:
                raw = self.read(path)
                yield InboxEntry(path, parse_brief_bytes(raw, str(path)), None, raw)
            except BriefError as error:
                yield InboxEntry(path, None, error)

    def find_entry(self, key: str) -> InboxEntry:
        """The inbox entry for partition `client/character`; an error if none or several match."""
        matches = [e for e in self.scan() if e.brief and e.brief.partition_key == key]
        if not matches:
            where = ", ".join(self.paths)
            raise BriefError(key, [f"(inbox): no valid brief for {key} in {where}"])
        if len(matches) > 1:
            files = ", ".join(str(e.path) for e in matches)
            raise BriefError(key, [f"(inbox): several briefs for {key}: {files}; keep one of them"])
        return matches[0]

    def find(self, key: str) -> tuple[Path, Brief]:
        """The brief for partition `client/character`; an error if none or several match."""
        entry = self.find_entry(key)
        return entry.path, entry.brief

    def write_report(self, brief: Path, suffix: str, text: str) -> None:
        """Write `<brief><suffix>` next to the brief, in S3 too for a mirrored brief."""
        report = brief.with_name(brief.name + suffix)
        write_atomic(report, text)
        where = self._s3_location(report)
        if where:
            _s3().put_object(Bucket=where[0], Key=where[1], Body=text.encode())

    def remove_report(self, brief: Path, suffix: str) -> None:
        report = brief.with_name(brief.name + suffix)
        report.unlink(missing_ok=True)
        where = self._s3_location(report)
        if where:
            _s3().delete_object(Bucket=where[0], Key=where[1])

    def _s3_location(self, path: Path) -> tuple[str, str] | None:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.mirror_root):
            return None
        bucket, *key = resolved.relative_to(self.mirror_root).parts
        return bucket, "/".join(key)

    def _mirror_s3(self, uri: str) -> list[Path]:
        bucket, _, prefix = uri[len(S3_SCHEME) :].partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        folder = self.mirror_root / bucket / prefix
        client = _s3()
        etags: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                # Like a folder: briefs directly under the prefix, no sub-"folders".
                if "/" not in name and name.endswith(BRIEF_SUFFIXES):
                    etags[name] = item["ETag"]
                    sizes[name] = item["Size"]
        folder.mkdir(parents=True, exist_ok=True)
        for name, etag in etags.items():
            local, tag = folder / name, folder / f".{name}.etag"
            if local.is_file() and tag.is_file() and tag.read_text() == etag:
                continue
            # Over the limit: fetch one byte more than it, enough for read() to refuse it.
            limit = {"Range": f"bytes=0-{MAX_BRIEF_BYTES}"} if sizes[name] > MAX_BRIEF_BYTES else {}
            body = client.get_object(Bucket=bucket, Key=prefix + name, **limit)["Body"].read(
                MAX_BRIEF_BYTES + 1
            )
            write_atomic(local, body)
            write_atomic(tag, etag)
        for stale in folder.iterdir():  # briefs removed from S3 leave the mirror too
            if stale.suffix in BRIEF_SUFFIXES and stale.name not in etags:
                stale.unlink()
                (folder / f".{stale.name}.etag").unlink(missing_ok=True)
        return sorted(folder / name for name in etags)


def _s3():
    import boto3

    return boto3.client("s3")
