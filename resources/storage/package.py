"""A deterministic zip: the same files give the same bytes, whenever and wherever it is made.

Entries are written in sorted order, each with the same timestamp (1980-01-01 00:00, the
earliest a zip can record), the same permissions (0644), no extra fields and no comment. Videos
and images are already compressed and are stored as they are; text is deflated at a fixed level.
A SHA256SUMS entry (the `sha256sum -c` format) lists every other entry.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SUMS = "SHA256SUMS"
_STORED = (".mp4", ".jpg", ".jpeg", ".png", ".zip")
_CHUNK = 1 << 20


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = 0o100644 << 16
    info.create_system = 3  # unix, whatever the host
    stored = name.lower().endswith(_STORED)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    return info


def _sha256(source: Path | bytes) -> str:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sums(entries: Mapping[str, Path | bytes], prefix: str = "") -> bytes:
    """`sha256sum` lines for `entries`, sorted by name, paths relative to `prefix`."""
    lines = [f"{_sha256(entries[n])}  {n.removeprefix(prefix)}\n" for n in sorted(entries)]
    return "".join(lines).encode()


def write_zip(out_file: Path, entries: Mapping[str, Path | bytes], prefix: str = "") -> None:
    """Write `entries` (name -> file or bytes) and their SHA256SUMS into `out_file`, atomically.

    `prefix` is the folder the zip's entries sit in (`acme-health-dr-ana/`); SHA256SUMS goes in
    it too and names the files relative to it.
    """
    everything = {**entries, prefix + SUMS: sha256sums(entries, prefix)}
    fd, tmp = tempfile.mkstemp(prefix=f".{out_file.name}.", suffix=".partial", dir=out_file.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name in sorted(everything):
                source = everything[name]
                info = _info(name)
                with archive.open(info, "w", force_zip64=False) as target:
                    if isinstance(source, bytes):
                        target.write(source)
                        continue
                    with source.open("rb") as handle:
                        while chunk := handle.read(_CHUNK):
                            target.write(chunk)
        os.replace(tmp, out_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
