"""The brief inbox: where producers drop brief YAML files (folders, single files, S3 prefixes).

An `s3://bucket/prefix/` entry is mirrored into a local folder (only objects whose ETag changed
are downloaded), so everything downstream reads briefs as local files; the errors report of an
invalid brief is written back next to the object.

Every brief is read through `BriefInbox.read` (resources.domain.brief.read_brief_bytes): only a
regular file of at most 1 MB, opened without blocking; a symbolic link inside an inbox folder
is refused, one named directly in `paths` is followed. An S3 object over 1 MB is mirrored only
up to the limit (plus one byte), so it is refused like a local one without being downloaded.
The folders are listed, the files read and two briefs for one character told apart by
resources.brief_files, as `python -m pipeline validate` does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from dagster import ConfigurableResource

from resources.brief_files import (
    BRIEF_SUFFIXES,
    InboxEntry,
    briefs_in,
    partition_conflicts,
    read_entry,
)
from resources.domain.brief import MAX_BRIEF_BYTES, Brief, BriefError, read_brief_bytes
from resources.storage.artifact_store import write_atomic, write_new

S3_SCHEME = "s3://"


class BriefInbox(ConfigurableResource):
    """Briefs found under `paths` (folders are scanned for *.yaml / *.yml, not recursively)."""

    paths: list[str] = ["examples"]
    # Local copy of briefs under S3 prefixes (default: <system temp>/character-video-inbox).
    mirror: str = ""

    @property
    def mirror_root(self) -> Path:
        return Path(self.mirror or Path(tempfile.gettempdir()) / "character-video-inbox").resolve()

    def files(self) -> list[Path]:
        """Every brief file of the inbox, each once (a file named and in a named folder, too)."""
        found: list[Path] = []
        for raw in self.paths:
            if raw.startswith(S3_SCHEME):
                found += self._mirror_s3(raw)
                continue
            path = Path(raw)
            if path.is_dir():
                try:
                    found += briefs_in(path)
                except OSError:  # an unlistable folder holds nothing this tick can read
                    continue
            elif path.exists() or path.is_symlink():  # a FIFO too: read() refuses it by name
                found.append(path)
        return list(dict.fromkeys(found))

    def _follows(self, path: Path) -> bool:
        """Links are followed only for a file named directly in `paths` (someone chose it); in a
        folder a link could point anywhere (outside the inbox, at a device) and is refused."""
        return path in {Path(raw) for raw in self.paths if not raw.startswith(S3_SCHEME)}

    def read(self, path: Path) -> bytes:
        """A brief's bytes; BriefError for anything that is not a regular file under 1 MB."""
        return read_brief_bytes(path, follow_symlinks=self._follows(path))

    def scan(self) -> Iterator[InboxEntry]:
        for path in self.files():
            yield read_entry(path, follow_symlinks=self._follows(path))

    def find_entry(self, key: str) -> InboxEntry:
        """The inbox entry for partition `client/character`; an error if none or several match."""
        matches = [e for e in self.scan() if e.brief and e.brief.partition_key == key]
        if not matches:
            where = ", ".join(self.paths)
            raise BriefError(key, [f"(inbox): no valid brief for {key} in {where}"])
        conflict = partition_conflicts({str(e.path): key for e in matches}).get(key)
        if conflict is not None:
            raise conflict.error()
        return matches[0]

    def find(self, key: str) -> tuple[Path, Brief]:
        """The brief for partition `client/character`; an error if none or several match."""
        entry = self.find_entry(key)
        return entry.path, entry.brief

    def folder(self) -> Path | None:
        """Where a brief saved from the review app goes: the first folder of `paths` (an S3
        prefix's local mirror), or None when `paths` names files only."""
        for raw in self.paths:
            if raw.startswith(S3_SCHEME):
                return self._mirror_folder(raw)[2]
            if Path(raw).is_dir():
                return Path(raw)
        return None

    def location(self, path: Path) -> str:
        """A brief's name for people: `s3://bucket/key` for a mirrored one, else its path."""
        where = self._s3_location(path)
        return f"{S3_SCHEME}{where[0]}/{where[1]}" if where else str(path)

    def save(self, path: Path, raw: bytes, *, new: bool) -> None:
        """Write the brief `path` of `folder()` (and its S3 object, for a mirrored one).

        A `new` file is written only if no file has that name by then (BriefError otherwise;
        on S3 a conditional put): a brief saved meanwhile by someone else is never overwritten.
        Either way the file appears whole, never half-written.
        """
        where = self._s3_location(path)
        if where is not None:
            _put_s3(where, raw, new=new, name=path)
        elif not new:  # a file named in `paths` may be a link someone chose: its target
            write_atomic(path.resolve() if path.is_symlink() else path, raw)
        else:
            try:
                write_new(path, raw)
            except FileExistsError:
                raise _taken(path) from None

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

    def _mirror_folder(self, uri: str) -> tuple[str, str, Path]:
        """An `s3://bucket/prefix/` entry's bucket, key prefix (with its "/") and local mirror."""
        bucket, _, prefix = uri[len(S3_SCHEME) :].partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, prefix, self.mirror_root / bucket / prefix

    def _mirror_s3(self, uri: str) -> list[Path]:
        bucket, prefix, folder = self._mirror_folder(uri)
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
            if local.is_file() and tag.is_file() and tag.read_text(encoding="utf-8") == etag:
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


def _put_s3(where: tuple[str, str], raw: bytes, *, new: bool, name: Path) -> None:
    """Put a brief's object; a `new` one by a conditional put, refused if the key exists."""
    from botocore.exceptions import ClientError

    from resources.storage.s3_artifact_store import KEY_TAKEN, error_code

    condition = {"IfNoneMatch": "*"} if new else {}
    try:
        _s3().put_object(Bucket=where[0], Key=where[1], Body=raw, **condition)
    except ClientError as error:
        if error_code(error) in KEY_TAKEN:
            raise _taken(name) from None
        raise


def _taken(path: Path) -> BriefError:
    return BriefError(
        str(path),
        [f"(inbox): {path.name} was saved meanwhile by someone else; check again"],
        [f"(inbox): {path.name} foi salvo por outra pessoa agora; verifique de novo"],
    )


def _s3():
    from resources.storage.s3_artifact_store import s3_client

    return s3_client()
