"""The brief inbox: where producers drop brief YAML files (folders, single files, S3 prefixes).

An `s3://bucket/prefix/` entry is mirrored into a local folder (only objects whose ETag changed
are downloaded), so everything downstream reads briefs as local files; the errors report of an
invalid brief is written back next to the object.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource

from pipeline.domain.brief import Brief, BriefError, load_brief
from resources.storage.artifact_store import write_atomic

BRIEF_SUFFIXES = (".yaml", ".yml")
S3_SCHEME = "s3://"


@dataclass(frozen=True)
class InboxEntry:
    path: Path
    brief: Brief | None
    error: BriefError | None


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
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                # Like a folder: briefs directly under the prefix, no sub-"folders".
                if "/" not in name and name.endswith(BRIEF_SUFFIXES):
                    etags[name] = item["ETag"]
        folder.mkdir(parents=True, exist_ok=True)
        for name, etag in etags.items():
            local, tag = folder / name, folder / f".{name}.etag"
            if local.is_file() and tag.is_file() and tag.read_text() == etag:
                continue
            body = client.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
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
