"""Where artifacts live: `<root>/<client>/<character>/<asset>/<version>/`, each with a manifest.

A version folder appears only when complete (staged under a hidden name, then renamed), so a
folder that exists with its `manifest.json` is finished work and is reused, never recomputed.
Units of work finished inside an interrupted attempt stay in the staging folder and are skipped
by the next attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dagster import ConfigurableResource

from pipeline.domain.artifacts import (
    _SLUG,
    _VERSION,
    CURRENT,
    MANIFEST,
    ArtifactError,
    ArtifactRef,
)
from resources.storage.permissions import FILE_MODE

# A staging folder's record of files included from other artifacts (not listed in the manifest).
LINKS = ".links.json"
# Records (approvals, re-rolls, progress) live beside the artifacts, under names like these.
_RECORD_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def record_parts(key: str) -> list[str]:
    """The parts of a record key `client/character/_kind/...`; an ArtifactError if unsafe."""
    parts = key.split("/")
    if len(parts) < 3 or not all(_SLUG.match(p) for p in parts[:2]):
        raise ArtifactError(f"record key {key!r} does not start with client/character/")
    if not all(_RECORD_PART.match(p) for p in parts[2:]):
        raise ArtifactError(f"unsafe record key {key!r}")
    return parts


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file under a temporary name in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


class ArtifactStore(ConfigurableResource):
    """Artifacts under one local root folder."""

    root: str = "artifacts"
    # Where the review app serves this store (CHARACTER_VIDEO_REVIEW_URL): images and videos in
    # Dagster metadata link there instead of carrying the bytes.
    public_url: str | None = None

    @property
    def root_path(self) -> Path:
        return Path(self.root).resolve()

    def public_link(self, path: Path) -> str | None:
        """The review app's URL of a file under the root, or None without a public URL."""
        if not self.public_url:
            return None
        rel = Path(path).resolve().relative_to(self.root_path).as_posix()
        return f"{self.public_url.rstrip('/')}/files/{quote(rel)}"

    def _inside_root(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root_path):
            raise ArtifactError(f"{path} is outside the artifact root {self.root_path}")
        return resolved

    def path(self, ref: ArtifactRef) -> Path:
        return self._inside_root(self.root_path / ref.key)

    def is_complete(self, ref: ArtifactRef) -> bool:
        return (self.path(ref) / MANIFEST).is_file()

    def manifest(self, ref: ArtifactRef) -> dict[str, Any]:
        path = self.path(ref) / MANIFEST
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise ArtifactError(f"artifact {ref.key} has no manifest at {path}") from None

    @contextmanager
    def staging(self, ref: ArtifactRef) -> Iterator[Path]:
        """A folder to build `ref` in; renamed to its final path when the block completes.

        The staging folder survives a failure on purpose: units already written there are
        finished work that a retry skips.
        """
        final = self.path(ref)
        stage = self._inside_root(final.parent / f".staging-{ref.version}")
        stage.mkdir(parents=True, exist_ok=True)
        yield stage
        if not (stage / MANIFEST).is_file():
            raise ArtifactError(f"staged artifact {ref.key} has no {MANIFEST}; not publishing")
        if final.exists():  # another run finished the same version first: theirs is identical
            shutil.rmtree(stage)
        else:
            os.replace(stage, final)
        self.set_current(ref)

    def include(self, source: ArtifactRef, stage: Path, under: str) -> list[str]:
        """Place every file of the finished `source` in `stage/under/`, without copying bytes.

        Locally each file is a hard link (a copy only where the filesystem refuses links); the
        links are recorded in `stage/.links.json` so a store that publishes elsewhere can copy
        them server-side. Returns the included paths, relative to `stage`.
        """
        folder = self.path(source)
        links_file = stage / LINKS
        links = json.loads(links_file.read_text()) if links_file.is_file() else {}
        included = []
        for entry in self.manifest(source)["files"]:
            rel = f"{under}/{entry['path']}"
            target = self._inside_root(stage / rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            try:
                os.link(folder / entry["path"], target)
            except OSError:  # another filesystem, or one without hard links
                shutil.copy2(folder / entry["path"], target)
            links[rel] = f"{source.key}/{entry['path']}"
            included.append(rel)
        write_json(links_file, links)
        return included

    def set_current(self, ref: ArtifactRef) -> None:
        """Point `<client>/<character>/<asset>/current.json` at a finished version."""
        if not self.is_complete(ref):
            raise ArtifactError(f"artifact {ref.key} is not complete")
        pointer = self.path(ref).parent / CURRENT
        write_json(pointer, {"version": ref.version, "updated_at": _now()})

    def current(self, client: str, character: str, asset: str) -> ArtifactRef:
        """The newest finished version of an asset for a character, or a clear error."""
        folder = self._inside_root(self.root_path / client / character / asset)
        try:
            version = json.loads((folder / CURRENT).read_text())["version"]
        except (FileNotFoundError, KeyError, json.JSONDecodeError):
            raise ArtifactError(
                f"no finished {asset} for {client}/{character} under {self.root_path}: "
                f"materialize {asset} for partition {client}/{character} first"
            ) from None
        ref = ArtifactRef(client, character, asset, version)
        if not self.is_complete(ref):
            raise ArtifactError(f"{folder / CURRENT} points at {version}, which is incomplete")
        return ref

    def clients(self) -> list[str]:
        """The clients that have artifacts in the store."""
        if not self.root_path.is_dir():
            return []
        found = self.root_path.iterdir()
        return sorted(p.name for p in found if p.is_dir() and _SLUG.match(p.name))

    def characters(self, client: str) -> list[str]:
        """The characters of `client` that have artifacts in the store."""
        if not _SLUG.match(client or ""):
            raise ArtifactError(f"unsafe artifact client {client!r}")
        folder = self._inside_root(self.root_path / client)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _SLUG.match(p.name))

    def versions(self, client: str, character: str, asset: str) -> list[str]:
        folder = self._inside_root(self.root_path / client / character / asset)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if _VERSION.match(p.name))

    # -- records: approvals, re-rolls (write once) and progress (replaced) ------------------

    def _record_path(self, key: str) -> Path:
        return self._inside_root(self.root_path.joinpath(*record_parts(key)))

    def put_record(self, key: str, value: dict[str, Any]) -> None:
        """Write the JSON record `key` once; an ArtifactError if it already exists.

        Written to a temporary name and hard-linked into place: the link fails if the name is
        taken, so an audit record is never overwritten, and a reader never sees half of one.
        """
        path = self._record_path(key)
        tmp = path.with_name(f".{path.name}.new")
        write_json(tmp, value)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ArtifactError(
                f"record {key} already exists; records are never overwritten"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)

    def put_status(self, key: str, value: dict[str, Any]) -> None:
        """Replace the JSON record `key` (a running stage's progress), atomically."""
        write_json(self._record_path(key), value)

    def record(self, key: str) -> dict[str, Any] | None:
        """The JSON record `key`, or None when there is none."""
        try:
            return json.loads(self._record_path(key).read_text())
        except FileNotFoundError:
            return None

    def records(self, prefix: str) -> list[str]:
        """The keys of the records directly under `prefix`, sorted by name."""
        folder = self._record_path(prefix)
        if not folder.is_dir():
            return []
        return sorted(
            f"{prefix}/{p.name}"
            for p in folder.iterdir()
            if p.is_file() and p.suffix == ".json" and not p.name.startswith(".")
        )


def build_manifest(
    ref: ArtifactRef,
    folder: Path,
    *,
    code_version: str,
    inputs: dict[str, str],
    parameters: dict[str, Any],
    models: list[dict[str, Any]] | None = None,
    seeds: list[int] | dict[str, int] | None = None,
    prompts: list[str] | dict[str, str] | None = None,
    timings: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a staged artifact: what made it and every file it holds, with sha256."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST or path.name.startswith("."):
            continue
        files.append({"path": rel, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return {
        "asset": ref.asset,
        "client": ref.client,
        "character": ref.character,
        "version": ref.version,
        "code_version": code_version,
        "created_at": _now(),
        "inputs": inputs,
        "models": models or [],
        "seeds": seeds or [],
        "prompts": prompts or [],
        "parameters": parameters,
        "timings": timings or {},
        "files": files,
        **(extra or {}),
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
