"""Where artifacts live: `<root>/<client>/<character>/<asset>/<version>/`, each with a manifest.

A version folder appears only when complete (staged under a hidden name, then renamed), so a
folder that exists with its `manifest.json` is finished work. Before it is reused its files are
checked against the manifest (the version it names, the files its asset always holds, then
presence, size, sha256 of each; hashes cached by size, mtime, inode change time and inode in
`<asset>/.verified-<version>.json`, so a rerun reads no file twice); a version that fails is moved
aside to `<asset>/.quarantine-<version>-<time>/` and rebuilt. Units of work finished inside an
interrupted attempt stay in the staging folder and are skipped by the next attempt. Each version
is built under a lock (`<asset>/.lock-<version>`, flock), so two runs of one brief never share a
staging folder: the second waits, then reuses what the first published.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dagster import ConfigurableResource

from resources.domain.artifacts import (
    _SLUG,
    _VERSION,
    ALWAYS_WRITTEN,
    CURRENT,
    MANIFEST,
    ArtifactError,
    ArtifactRef,
    pointer_version,
)
from resources.storage.permissions import FILE_MODE

# A staging folder's record of files included from other artifacts (not listed in the manifest).
LINKS = ".links.json"
# Records (approvals, re-rolls, progress) live beside the artifacts, under names like these.
_RECORD_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


CLIENT_RECORDS = "_client"  # records of a client itself, not of one character (review links)


def record_parts(key: str) -> list[str]:
    """The parts of a record key `client/character/_kind/...` (or `client/_client/...`); an
    ArtifactError if unsafe."""
    parts = key.split("/")
    owner = parts[1:2] == [CLIENT_RECORDS] or (len(parts) > 1 and _SLUG.match(parts[1]))
    if len(parts) < 3 or not _SLUG.match(parts[0]) or not owner:
        raise ArtifactError(f"record key {key!r} does not start with client/character/")
    if not all(_RECORD_PART.match(p) for p in parts[2:]):
        raise ArtifactError(f"unsafe record key {key!r}")
    return parts


# Names of temporary files the writers use (write_atomic, VideoWriter, checkpoints): a dead
# attempt's leftovers, removed from a staging folder before it is published.
_TEMPORARY = (".tmp", ".download")
_TEMPORARY_PARTS = (".partial.", ".tmp-")


class ArtifactCorrupt(ArtifactError):
    """A finished artifact whose files no longer match its manifest; the message names them."""

    def __init__(self, where: str, problems: list[str] | None = None):
        self.problems = problems or [where]
        super().__init__(f"{where}: {'; '.join(problems)}" if problems else where)


class NotEnoughSpace(ArtifactError):
    """Too little free space for a stage's output; the message names the path and the need."""


def safe_relative(rel: Any, where: str) -> str:
    """`rel` as a plain relative path that stays inside its folder; a clear error otherwise."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        raise ArtifactError(f"{where}: file entry {rel!r} is not a plain relative path")
    parts = rel.split("/")
    if rel.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ArtifactError(f"{where}: file entry {rel!r} leaves its version folder")
    return rel


def inside(folder: Path, rel: Any, where: str) -> Path:
    """`folder / rel`, refused unless it resolves inside `folder` (no `..`, no symlink out)."""
    target = (folder / safe_relative(rel, where)).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ArtifactError(f"{where}: file entry {rel!r} leaves its version folder")
    return target


def read_json_file(path: Path) -> Any:
    """JSON from `path`, or an ArtifactError naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactCorrupt(str(path), [f"not valid JSON ({error})"]) from None


def free_bytes(path: Path) -> int:
    """Free bytes for unprivileged writers on the filesystem holding `path` (or its parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    stat = os.statvfs(probe)
    return stat.f_bavail * stat.f_frsize


def ensure_space(path: Path, needed: int, what: str) -> None:
    """Refuse to start `what` when the filesystem of `path` has less than `needed` bytes free."""
    free = free_bytes(path)
    if free < needed:
        raise NotEnoughSpace(
            f"{what}: not enough free space at {path}: needs about {_mb(needed)}, "
            f"{_mb(free)} free; free {_mb(needed - free)} or more and run again (finished "
            "units are kept)"
        )


def _mb(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{max(0, n)} bytes"


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and (
        name.endswith(_TEMPORARY) or any(part in name for part in _TEMPORARY_PARTS)
    )


def remove_temporary_files(folder: Path) -> list[Path]:
    """Delete a dead attempt's temporary files under `folder`; the paths removed."""
    removed = []
    for path in sorted(folder.rglob(".*"), reverse=True):
        if _is_temporary(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes | str, *, mode: int = FILE_MODE) -> None:
    """Write a file under a temporary name in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise disk_full(path, len(payload)) from None
        raise


def disk_full(path: Path, needed: int = 0) -> NotEnoughSpace:
    """The error for a write that found the disk full: the path, what it needed, what is free."""
    need = f" (about {_mb(needed)} to write)" if needed else ""
    return NotEnoughSpace(
        f"no space left on device writing {path}{need}, {_mb(free_bytes(path))} free: free "
        "space and run again (finished units are kept)"
    )


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json_text(value))


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_new(path: Path, data: bytes | str) -> None:
    """Write a file that must not exist yet: FileExistsError when the name is taken.

    Written under a temporary name and hard-linked into place: the link fails if the name is
    taken, so nothing is overwritten, and a reader never sees half of the file.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
    write_atomic(tmp, data)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def flocked(path: Path, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive flock on `path`, a folder or a file (made if missing); `waiting()` is
    called first when another holder makes this one wait.

    A flock belongs to its open file, so it excludes other threads of this process as well as
    other processes; the kernel releases it when its holder dies.
    """
    if path.is_dir():
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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
            manifest = read_json_file(path)
        except FileNotFoundError:
            raise ArtifactError(f"artifact {ref.key} has no manifest at {path}") from None
        if not isinstance(manifest, dict):
            raise ArtifactCorrupt(str(path), ["not a JSON object"])
        return manifest

    # -- integrity ------------------------------------------------------------------------

    def _verified_file(self, ref: ArtifactRef) -> Path:
        return self._inside_root(self.root_path / ref.client / ref.character / ref.asset) / (
            f".verified-{ref.version}.json"
        )

    def verify_folder(self, ref: ArtifactRef, folder: Path) -> list[str]:
        """Problems of `folder` against its manifest: another artifact's manifest, a file its
        asset always holds left unlisted, and each listed file missing, resized or changed.

        Hashes are cached by `file_signature` beside the version folder, never inside it, so a
        rerun hashes only files that changed. The signature holds the inode's change time,
        which no user can set back: a file overwritten in place with its mtime restored is
        hashed again. The cache holds what the bytes hash to, so a manifest whose sha256 values
        were edited still fails.
        """
        manifest_path = folder / MANIFEST
        try:
            manifest = read_json_file(manifest_path)
        except FileNotFoundError:
            return [f"{manifest_path} is missing"]
        except ArtifactCorrupt as error:
            return [f"{manifest_path} is {error.problems[0]}"]
        entries = manifest.get("files", []) if isinstance(manifest, dict) else None
        if not isinstance(entries, list):
            return [f"{manifest_path} has no list of files"]
        found = manifest_problems(ref, manifest, str(manifest_path))
        if found:
            return found
        cache_path = self._verified_file(ref)
        try:
            cache = json.loads(cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        problems, seen = [], {}
        for entry in entries:
            try:
                rel = safe_relative(entry.get("path"), str(manifest_path))
                path = inside(folder, rel, str(manifest_path))
            except (ArtifactError, AttributeError) as error:
                problems.append(str(error))
                continue
            try:
                stat = path.stat()
            except OSError:
                problems.append(f"{path} is missing")
                continue
            if stat.st_size != entry.get("bytes"):
                problems.append(
                    f"{path} has {stat.st_size} bytes, its manifest says {entry.get('bytes')}"
                )
                continue
            signature = file_signature(stat)
            cached = cache.get(rel)
            digest = cached[2] if cached and cached[:2] == signature else sha256_file(path)
            seen[rel] = [*signature, digest]
            if digest != entry.get("sha256"):
                problems.append(f"{path} does not match the sha256 in its manifest")
        if seen != cache:
            try:
                write_json(cache_path, seen)
            except OSError:
                pass  # a cache that cannot be written costs a rehash next time, nothing more
        return problems

    def verify(self, ref: ArtifactRef) -> list[str]:
        """Problems of the finished version `ref` (empty when every file matches its manifest)."""
        return self.verify_folder(ref, self.path(ref))

    def quarantine(self, ref: ArtifactRef, problems: list[str], log: Callable[[str], None]) -> Path:
        """Move the finished version `ref` aside (a hidden name in its asset folder); its path."""
        folder = self.path(ref)
        aside = folder.parent / f".quarantine-{ref.version}-{time.time_ns()}"
        os.replace(folder, aside)
        self._verified_file(ref).unlink(missing_ok=True)
        log(f"{ref.key} is corrupt ({'; '.join(problems)}): moved to {aside.name}, rebuilding")
        return aside

    def reusable(self, ref: ArtifactRef) -> bool:
        """True when `ref` is finished and every file matches its manifest."""
        return self.is_complete(ref) and not self.verify(ref)

    def repair(self, ref: ArtifactRef, log: Callable[[str], None] = print) -> Path | None:
        """Move a corrupt or half version folder of `ref` aside; where it went, or None.

        Call only while holding `lock(ref)`: nobody else is publishing this version then.
        """
        if not self.path(ref).exists():
            return None
        problems = self.verify(ref)
        return self.quarantine(ref, problems, log) if problems else None

    def salvage(
        self, ref: ArtifactRef, aside: Path, stage: Path, log: Callable[[str], None]
    ) -> int:
        """Link the files of a quarantined version that still match its manifest into `stage`."""
        try:
            manifest = read_json_file(aside / MANIFEST)
            entries = list(manifest["files"])
        except (OSError, ArtifactError, KeyError, TypeError):
            return 0  # no trustworthy record of what the files should be: rebuild them all
        kept = 0
        for entry in entries:
            try:
                source = inside(aside, entry["path"], str(aside / MANIFEST))
                target = inside(stage, entry["path"], str(stage))
                if (
                    source.stat().st_size != entry["bytes"]
                    or sha256_file(source) != entry["sha256"]
                ):
                    continue
            except (OSError, ArtifactError, KeyError, TypeError):
                continue
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
            kept += 1
        log(f"{ref.key}: kept {kept} of {len(entries)} files of the quarantined version")
        return kept

    def staging_parent(self, ref: ArtifactRef) -> Path:
        """The folder where `ref` is staged (for the free-space check before a build)."""
        return self._inside_root(self.root_path / ref.client / ref.character / ref.asset)

    @contextmanager
    def lock(self, ref: ArtifactRef, log: Callable[[str], None] = print) -> Iterator[None]:
        """Hold the build lock of `ref` (flock on `<asset>/.lock-<version>`): one builder at once.

        The kernel releases a flock when its holder dies, so a killed run never blocks the next.
        """
        folder = self._inside_root(self.root_path / ref.client / ref.character / ref.asset)
        folder.mkdir(parents=True, exist_ok=True)
        waiting = f"{ref.key}: another run is building it; waiting for it"
        with flocked(folder / f".lock-{ref.version}", lambda: log(waiting)):
            yield

    @contextmanager
    def staging(self, ref: ArtifactRef) -> Iterator[Path]:
        """A folder to build `ref` in; renamed to its final path when the block completes.

        The staging folder survives a failure on purpose: units already written there are
        finished work that a retry skips.
        """
        final = self.path(ref)
        stage = self._inside_root(final.parent / f".staging-{ref.version}")
        stage.mkdir(parents=True, exist_ok=True)
        remove_temporary_files(stage)  # a killed attempt's half-written files
        yield stage
        if not (stage / MANIFEST).is_file():
            raise ArtifactError(f"staged artifact {ref.key} has no {MANIFEST}; not publishing")
        self._publish_local(ref, stage, final)

    def _publish_local(self, ref: ArtifactRef, stage: Path, final: Path) -> None:
        """Rename a complete staging folder to `final`, with no temporary file inside it."""
        remove_temporary_files(stage)
        problems = self.verify(ref) if final.exists() else []
        if problems:  # a half or corrupt folder is no finished work
            self.quarantine(ref, problems, lambda _: None)
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
        problems = self.verify(source)
        if problems:
            raise ArtifactCorrupt(f"cannot include {source.key}", problems)
        links_file = stage / LINKS
        links = read_json_file(links_file) if links_file.is_file() else {}
        included = []
        for entry in self.manifest(source)["files"]:
            safe_relative(entry["path"], f"{source.key}/{MANIFEST}")
            rel = f"{safe_relative(under, 'include')}/{entry['path']}"
            target = inside(stage, rel, f"{source.key}/{MANIFEST}")
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
            pointer = json.loads((folder / CURRENT).read_bytes())
        except FileNotFoundError:
            raise ArtifactError(
                f"no finished {asset} for {client}/{character} under {self.root_path}: "
                f"materialize {asset} for partition {client}/{character} first"
            ) from None
        except (OSError, ValueError):
            pointer = None
        version = pointer_version(pointer, str(folder / CURRENT))
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

        Written by write_new: an audit record is never overwritten, nor read half-written.
        """
        try:
            write_new(self._record_path(key), json_text(value))
        except FileExistsError:
            raise ArtifactError(
                f"record {key} already exists; records are never overwritten"
            ) from None

    def put_status(self, key: str, value: dict[str, Any]) -> None:
        """Replace the JSON record `key` (a running stage's progress), atomically."""
        write_json(self._record_path(key), value)

    def record(self, key: str) -> dict[str, Any] | None:
        """The JSON record `key`, or None when there is none."""
        try:
            return json.loads(self._record_path(key).read_text(encoding="utf-8"))
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


def file_signature(info: os.stat_result) -> list[int]:
    """What a cached hash of a file is keyed on: its size and mtime, and what no user can set
    back (the inode's change time, its number and device: `touch -r` restores only the mtime)."""
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev]


def manifest_problems(ref: ArtifactRef, manifest: dict[str, Any], where: str) -> list[str]:
    """A manifest that is not `ref`'s (a unit folder replaced by a copy of another unit's) or
    that leaves out a file its asset always writes (a file list emptied by hand)."""
    problems = []
    for name in ("client", "character", "asset", "version"):
        said = manifest.get(name)
        if said is not None and said != getattr(ref, name):
            problems.append(f"{where} names {name} {str(said)[:80]!r}, its folder is {ref.key}")
    # An acceptance is its manifest alone: only the files named in ALWAYS_WRITTEN are required.
    listed = {e.get("path") for e in manifest.get("files", []) if isinstance(e, dict)}
    for name in ALWAYS_WRITTEN.get(ref.asset, ()):
        if name not in listed:
            problems.append(f"{where} does not list {name}, which every {ref.asset} holds")
    return problems


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
        "software": software_versions(),
        "files": files,
        **(extra or {}),
    }


# The installed packages whose code computes an artifact's bytes: the same brief, models and code
# on another install of these (the pins are ranges) may give other bytes, and the manifest says
# which install made it. PyAV's wheel carries the FFmpeg and libx264 the masters are encoded with.
SOFTWARE = (
    "torch",
    "diffusers",
    "transformers",
    "peft",
    "spandrel",
    "av",
    "numpy",
    "pillow",
    "opencv-python-headless",
    "scipy",
    "dagster",
)


@functools.cache
def software_versions() -> dict[str, str]:
    """Python's and each SOFTWARE package's installed version (read from its metadata, not
    imported); a package that is not installed is left out."""
    found = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
