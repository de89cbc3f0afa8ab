"""Artifacts in S3 (`s3://bucket/prefix`), with the local store's layout, manifests and rules.

Objects live at `<prefix>/<client>/<character>/<asset>/<version>/...`, exactly the local layout,
and a version counts as finished only when its `manifest.json` exists: publication uploads every
file of the version first and the manifest last, so a reader never sees half an artifact.
Work happens in a local cache folder (the inherited `root`): downloads are verified against the
manifest's sha256 and kept there; a version is staged locally and published at the end.

Finished units inside a staging folder (a checkpoint, a rendered shot) are mirrored to
`.staging-<version>/` in the bucket while the work runs and when it stops, so a run relaunched on
another instance after a Spot reclaim resumes from them instead of starting over.

Every key and manifest entry read from the bucket is checked to stay inside its own version
folder before anything is written for it. A version is built under a lease object
`<asset>/.lock-<version>` created with a conditional write (If-None-Match: *), renewed while the
build runs and ignored once expired, so a holder that died blocks others for one lease at most.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import PrivateAttr

from resources.domain.artifacts import (
    _SLUG,
    _VERSION,
    CURRENT,
    MANIFEST,
    ArtifactError,
    ArtifactRef,
    pointer_version,
)
from resources.storage.artifact_store import (
    LINKS,
    ArtifactCorrupt,
    ArtifactStore,
    _now,
    flocked,
    inside,
    json_text,
    read_json_file,
    record_parts,
    remove_temporary_files,
    safe_relative,
    sha256_file,
    write_atomic,
)

MiB = 1 << 20
# Mirrored units carry this tag; the bucket's lifecycle rule (terraform/s3.tf) expires them.
CHECKPOINT_TAGGING = "kind=checkpoint"


_MAKING_CLIENTS = threading.Lock()


def s3_client(**kwargs: Any) -> Any:
    """An S3 client (boto3.client's keywords). Clients are thread-safe, but making them from
    boto3's shared default session in several threads at once is not: made one at a time."""
    with _MAKING_CLIENTS:
        return boto3.client("s3", **kwargs)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`; a clear error naming the URL otherwise."""
    if not url.startswith("s3://"):
        raise ArtifactError(f"artifact root {url!r} is not an s3://bucket/prefix URL")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket or any(part in (".", "..") for part in prefix.split("/")):
        raise ArtifactError(f"artifact root {url!r}: bucket missing or prefix not a plain path")
    return bucket, prefix.strip("/")


class S3ArtifactStore(ArtifactStore):
    """Artifacts in an S3 bucket under a prefix; `root` is the local working cache."""

    url: str  # s3://bucket/prefix
    endpoint_url: str | None = None  # a non-AWS endpoint (tests, S3-compatible stores)
    region: str | None = None
    multipart_threshold_mb: int = 64  # files at least this big go up in parts
    multipart_chunk_mb: int = 16
    sync_seconds: float = 30.0  # how often finished units are mirrored while work runs
    lease_seconds: float = 120.0  # a build lock's lifetime unless renewed (renewed every third)

    _client: Any = PrivateAttr(default=None)
    _signer: Any = PrivateAttr(default=None)

    @property
    def bucket(self) -> str:
        return parse_s3_url(self.url)[0]

    @property
    def prefix(self) -> str:
        return parse_s3_url(self.url)[1]

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(endpoint_url=self.endpoint_url, region_name=self.region)
        return self._client

    @property
    def transfer_config(self) -> TransferConfig:
        return TransferConfig(
            multipart_threshold=self.multipart_threshold_mb * MiB,
            multipart_chunksize=self.multipart_chunk_mb * MiB,
        )

    def object_key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    # -- reads ----------------------------------------------------------------------------

    def _get_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ArtifactCorrupt(
                f"s3://{self.bucket}/{key}", [f"not valid JSON ({error})"]
            ) from None

    def is_complete(self, ref: ArtifactRef) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(ref.key, MANIFEST))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def manifest(self, ref: ArtifactRef) -> dict[str, Any]:
        manifest = self._get_json(self.object_key(ref.key, MANIFEST))
        if manifest is None:
            raise ArtifactError(
                f"artifact {ref.key} has no manifest at s3://{self.bucket}/"
                f"{self.object_key(ref.key, MANIFEST)}"
            )
        return manifest

    def path(self, ref: ArtifactRef) -> Path:
        """The local copy of a finished version, downloaded and verified on first use.

        A cached copy is checked against its manifest (hashes cached by size and mtime) before
        it is returned; a damaged one is dropped and downloaded again.
        """
        local = super().path(ref)
        if (local / MANIFEST).is_file() and not self.verify_folder(ref, local):
            return local
        if not self.is_complete(ref):
            return local  # not published (yet): the caller decides what that means
        local.parent.mkdir(parents=True, exist_ok=True)
        # One download into the asset's folder at a time on this host (its folder locked: no
        # lock file is left in the cache): the review app reads pages in threads, and the app
        # and a run may share this cache.
        with flocked(local.parent):
            if (local / MANIFEST).is_file():
                if not self.verify_folder(ref, local):
                    return local  # downloaded by the reader this one waited for
                shutil.rmtree(local)  # the bucket holds the good copy
            self._download(ref, local)
        return local

    def _download(self, ref: ArtifactRef, local: Path) -> None:
        """Download the published `ref` into `local`, every file checked against its manifest;
        nothing stays in the cache when one does not match."""
        manifest = self.manifest(ref)
        where = f"s3://{self.bucket}/{self.object_key(ref.key, MANIFEST)}"
        download = self._inside_root(local.parent / f".download-{ref.version}")
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        try:
            for entry in manifest.get("files", []):
                target = inside(download, entry.get("path"), where)
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(
                    self.bucket,
                    self.object_key(ref.key, entry["path"]),
                    str(target),
                    Config=self.transfer_config,
                )
                if sha256_file(target) != entry["sha256"]:
                    key = self.object_key(ref.key, entry["path"])
                    raise ArtifactCorrupt(
                        f"s3://{self.bucket}/{key} does not match the sha256 in its manifest; "
                        f"not using artifact {ref.key}"
                    )
            write_atomic(download / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
            if local.exists():  # a run on this host published the same version meanwhile
                shutil.rmtree(download)
            else:
                os.replace(download, local)
        except BaseException:
            shutil.rmtree(download, ignore_errors=True)
            raise

    def verify(self, ref: ArtifactRef) -> list[str]:
        """Problems of the published `ref`: its download is checked object by object."""
        try:
            local = self.path(ref)
        except ArtifactError as error:
            return [str(error)]
        return self.verify_folder(ref, local) if (local / MANIFEST).is_file() else []

    def repair(self, ref: ArtifactRef, log: Callable[[str], None] = print) -> Path | None:
        """A published version in the bucket that fails its manifest stops the run, named."""
        if not self.is_complete(ref):
            return super().repair(ref, log)  # a half local copy only
        problems = self.verify(ref)
        if problems:
            raise ArtifactCorrupt(
                f"published artifact {ref.key} is corrupt (remove s3://{self.bucket}/"
                f"{self.object_key(ref.key, MANIFEST)} to rebuild it)",
                problems,
            )
        return None

    @contextmanager
    def lock(self, ref: ArtifactRef, log: Callable[[str], None] = print) -> Iterator[None]:
        """This host's flock, then the bucket's lease for `ref`: one builder across hosts."""
        key = self.object_key(ref.client, ref.character, ref.asset, f".lock-{ref.version}")
        with super().lock(ref, log), S3Lease(self, key, log):
            yield

    def current(self, client: str, character: str, asset: str) -> ArtifactRef:
        key = self.object_key(client, character, asset, CURRENT)
        pointer = self._get_json(key)
        if pointer is None:
            raise ArtifactError(
                f"no finished {asset} for {client}/{character} under {self.url}: "
                f"materialize {asset} for partition {client}/{character} first"
            )
        version = pointer_version(pointer, f"s3://{self.bucket}/{key}")
        ref = ArtifactRef(client, character, asset, version)
        if not self.is_complete(ref):
            raise ArtifactError(f"s3://{self.bucket}/{key} points at {ref.version}, incomplete")
        return ref

    def _folders(self, *parts: str) -> list[str]:
        """Names of the 'folders' (common prefixes) directly under `parts`."""
        base = self.object_key(*parts)
        listed = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{base}/" if base else "", Delimiter="/"
        )
        return [
            p["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            for page in listed
            for p in page.get("CommonPrefixes", [])
        ]

    def clients(self) -> list[str]:
        return sorted(n for n in self._folders() if _SLUG.match(n))

    def characters(self, client: str) -> list[str]:
        if not _SLUG.match(client or ""):
            raise ArtifactError(f"unsafe artifact client {client!r}")
        return sorted(n for n in self._folders(client) if _SLUG.match(n))

    def versions(self, client: str, character: str, asset: str) -> list[str]:
        ArtifactRef(client, character, asset, "0" * 16)  # validates the names
        return sorted(n for n in self._folders(client, character, asset) if _VERSION.match(n))

    def presigned_url(self, ref: ArtifactRef, rel: str, expires_s: int) -> str:
        """A GET URL for one file of a published version, valid for `expires_s` seconds."""
        # SigV4 (X-Amz-Expires): valid up to 7 days; the default SigV2 URL of some endpoints
        # carries an absolute expiry instead.
        if self._signer is None:
            self._signer = s3_client(
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=Config(signature_version="s3v4"),
            )
        return self._signer.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(ref.key, rel)},
            ExpiresIn=expires_s,
        )

    # -- records ---------------------------------------------------------------------------

    def _record_key(self, key: str) -> str:
        return self.object_key(*record_parts(key))

    def put_record(self, key: str, value: dict[str, Any]) -> None:
        body = json_text(value).encode()
        try:
            # A conditional put: S3 refuses it when the key exists, so a record is never replaced.
            self.client.put_object(
                Bucket=self.bucket, Key=self._record_key(key), Body=body, IfNoneMatch="*"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in ("PreconditionFailed", "412"):
                raise ArtifactError(
                    f"record {key} already exists; records are never overwritten"
                ) from None
            raise

    def put_status(self, key: str, value: dict[str, Any]) -> None:
        body = json_text(value).encode()
        self.client.put_object(Bucket=self.bucket, Key=self._record_key(key), Body=body)

    def record(self, key: str) -> dict[str, Any] | None:
        return self._get_json(self._record_key(key))

    def records(self, prefix: str) -> list[str]:
        base = self._record_key(prefix) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base, Delimiter="/"
        )
        names = [o["Key"][len(base) :] for page in pages for o in page.get("Contents", [])]
        return sorted(f"{prefix}/{n}" for n in names if n.endswith(".json"))

    # -- writes ----------------------------------------------------------------------------

    def set_current(self, ref: ArtifactRef) -> None:
        if not self.is_complete(ref):
            raise ArtifactError(f"artifact {ref.key} is not complete")
        body = json.dumps({"version": ref.version, "updated_at": _now()}, indent=2) + "\n"
        key = self.object_key(ref.client, ref.character, ref.asset, CURRENT)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body.encode())

    def upload(self, path: Path, key: str, *, tagging: str | None = None) -> None:
        """One file to `key`; boto3 splits it into parts above the multipart threshold."""
        extra = {"Tagging": tagging} if tagging else None
        self.client.upload_file(
            str(path), self.bucket, key, Config=self.transfer_config, ExtraArgs=extra
        )

    def publish(self, ref: ArtifactRef, folder: Path) -> None:
        """Upload a finished version: every file its manifest lists, then the manifest last.

        Files included from another published artifact (`include`) are copied inside the
        bucket (server-side), not uploaded again.
        """
        manifest = read_json_file(folder / MANIFEST)
        links = read_json_file(folder / LINKS) if (folder / LINKS).is_file() else {}
        for entry in manifest["files"]:
            key = self.object_key(ref.key, safe_relative(entry["path"], str(folder / MANIFEST)))
            if entry["path"] in links:
                source = {"Bucket": self.bucket, "Key": self.object_key(_link_key(links, entry))}
                self.client.copy(source, self.bucket, key, Config=self.transfer_config)
            else:
                self.upload(folder / entry["path"], key)
        self.upload(folder / MANIFEST, self.object_key(ref.key, MANIFEST))

    def _staging_key(self, ref: ArtifactRef) -> str:
        return self.object_key(ref.client, ref.character, ref.asset, f".staging-{ref.version}")

    def _staged_objects(self, ref: ArtifactRef) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._staging_key(ref) + "/"
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    @contextmanager
    def staging(self, ref: ArtifactRef) -> Iterator[Path]:
        """Build `ref` in a local folder seeded from its mirrored units; publish when complete."""
        local_final = super().path(ref)
        stage = self._inside_root(local_final.parent / f".staging-{ref.version}")
        stage.mkdir(parents=True, exist_ok=True)
        remove_temporary_files(stage)  # a killed attempt's half-written files
        mirror = StagingMirror(self, ref, stage)
        mirror.restore()
        mirror.start()
        try:
            yield stage
        except BaseException:
            mirror.stop()
            try:  # e.g. a Spot notice: the next attempt may run on another instance
                mirror.sync()
            except (OSError, ClientError):
                pass  # the original failure is the one to report
            raise
        mirror.stop()
        if not (stage / MANIFEST).is_file():
            mirror.sync()
            raise ArtifactError(f"staged artifact {ref.key} has no {MANIFEST}; not publishing")
        if not self.is_complete(ref):
            self.publish(ref, stage)
        mirror.discard()
        remove_temporary_files(stage)
        if local_final.exists():
            shutil.rmtree(stage)
        else:
            os.replace(stage, local_final)
        self.set_current(ref)


class StagingMirror:
    """Keeps `.staging-<version>/` in the bucket in step with the local staging folder."""

    def __init__(self, store: S3ArtifactStore, ref: ArtifactRef, stage: Path):
        self.store, self.ref, self.stage = store, ref, stage
        self.sent: dict[str, tuple[int, int]] = {}  # relative path -> (size, mtime_ns) uploaded
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _finished_files(self) -> dict[str, tuple[int, int]]:
        """Finished files: temporary names (a leading dot) are still being written."""
        found = {}
        for path in self.stage.rglob("*"):
            rel = path.relative_to(self.stage)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                stat = path.stat()
                found[rel.as_posix()] = (stat.st_size, stat.st_mtime_ns)
        return found

    def restore(self) -> int:
        """Download units a previous attempt mirrored; the count of files restored."""
        prefix = self.store._staging_key(self.ref) + "/"
        restored = 0
        for key in self.store._staged_objects(self.ref):
            rel = key[len(prefix) :]
            where = f"s3://{self.store.bucket}/{key}"
            target = inside(self.stage, rel, where)
            if rel == MANIFEST:
                # A staging folder's manifest is written by its build, last: never restored.
                raise ArtifactError(f"{where}: a mirrored staging folder holds no {MANIFEST}")
            if target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.download")
            self.store.client.download_file(self.store.bucket, key, str(tmp))
            os.replace(tmp, target)
            restored += 1
        self.sent = self._finished_files()
        return restored

    def sync(self) -> int:
        """Upload finished files new or changed since the last sync; the count uploaded."""
        with self._lock:
            # Snapshot first: a file listed here was complete when seen, and its upload reads
            # the same or newer bytes; anything changed later goes in the next sync.
            snapshot = self._finished_files()
            changed = {rel: sig for rel, sig in snapshot.items() if self.sent.get(rel) != sig}
            # Markers of finished units (shot.json, checkpoint.json) go after their data files.
            for rel in sorted(changed, key=lambda r: r.endswith(".json")):
                self.store.upload(
                    self.stage / rel,
                    f"{self.store._staging_key(self.ref)}/{rel}",
                    tagging=CHECKPOINT_TAGGING,
                )
                self.sent[rel] = changed[rel]
            return len(changed)

    def discard(self) -> None:
        """Remove the mirrored units once the version is published."""
        keys = self.store._staged_objects(self.ref)
        for start in range(0, len(keys), 1000):
            self.store.client.delete_objects(
                Bucket=self.store.bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]},
            )

    def start(self) -> None:
        if self.store.sync_seconds > 0:
            self._thread = threading.Thread(target=self._run, name="staging-mirror", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._halt.wait(self.store.sync_seconds):
            try:
                self.sync()
            except (OSError, ClientError):
                pass  # the final sync on stop reports errors; a missed round is retried next


def _link_key(links: dict[str, Any], entry: dict[str, Any]) -> str:
    """The `<client>/<character>/<asset>/<version>/<path>` an included file came from, checked."""
    value = links[entry["path"]]
    parts = value.split("/") if isinstance(value, str) else []
    if len(parts) < 5:
        raise ArtifactError(f"{LINKS}: {entry['path']!r} links to {value!r}, not an artifact file")
    ArtifactRef(*parts[:4])  # names checked like every artifact's
    safe_relative("/".join(parts[4:]), f"{LINKS} entry {entry['path']!r}")
    return value


class S3Lease:
    """A lock object in the bucket: created only if absent, renewed while held, expires if not.

    Creation uses S3's conditional write (PutObject with If-None-Match: *), so of two hosts
    racing for it exactly one succeeds; a lease past its expiry is deleted only if its ETag is
    still the one read (DeleteObject If-Match), so two waiters cannot both take it.
    """

    def __init__(
        self, store: S3ArtifactStore, key: str, log: Callable[[str], None], poll_s: float = 0.5
    ):
        self.store, self.key, self.log, self.poll_s = store, key, log, poll_s
        self.owner = uuid.uuid4().hex
        self.etag: str | None = None
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        expires = time.time() + self.store.lease_seconds
        return json.dumps({"owner": self.owner, "expires_at": expires}).encode()

    def __enter__(self) -> S3Lease:
        client, bucket = self.store.client, self.store.bucket
        waited = False
        while True:
            try:
                put = client.put_object(
                    Bucket=bucket, Key=self.key, Body=self._body(), IfNoneMatch="*"
                )
                self.etag = put["ETag"]
                break
            except ClientError as error:
                if error_code(error) not in KEY_TAKEN:
                    raise
            try:
                held = client.get_object(Bucket=bucket, Key=self.key)
                record = json.loads(held["Body"].read())
                if float(record["expires_at"]) < time.time():
                    self.log(f"s3://{bucket}/{self.key}: lease of a dead holder expired; taking it")
                    client.delete_object(Bucket=bucket, Key=self.key, IfMatch=held["ETag"])
                    continue
            except ClientError as error:
                if error_code(error) not in ("NoSuchKey", "404", "PreconditionFailed", "412"):
                    raise
                continue  # released or taken meanwhile: try again at once
            except (ValueError, KeyError, TypeError):
                pass  # unreadable lease: wait for its writer to finish or for the lease to go
            if not waited:
                self.log(f"s3://{bucket}/{self.key}: another host is building it; waiting")
                waited = True
            time.sleep(self.poll_s)
        self._thread = threading.Thread(target=self._renew, name="s3-lease", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._halt.wait(self.store.lease_seconds / 3):
            try:
                put = self.store.client.put_object(
                    Bucket=self.store.bucket, Key=self.key, Body=self._body(), IfMatch=self.etag
                )
                self.etag = put["ETag"]
            except ClientError:
                return  # lost (expired and taken): the holder's publication is still atomic

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.store.client.delete_object(
                Bucket=self.store.bucket, Key=self.key, IfMatch=self.etag
            )
        except ClientError:
            pass  # already expired and taken by another host: theirs now


# What S3 answers a conditional put (IfNoneMatch: *) whose key exists, or is being written by
# another conditional put at that moment.
KEY_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
