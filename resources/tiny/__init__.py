"""Tiny random-weight stand-ins for the registry's models: real diffusers classes, small configs.

A tiny model is built into its own folder, which `.complete` marks as finished. The marker holds a
digest of this package's code (the configs that build the tiny models): a folder built by other
code (a tiny config changed since) is not today's model, and is built again, never loaded.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

MARKER = ".complete"


@functools.cache
def builders_digest() -> str:
    """16 hex digits of the code that builds the tiny models (`resources/tiny/*.py`)."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _marker_text() -> str:
    return f"built in code from a tiny config\n{builders_digest()}\n"


def is_built(folder: Path) -> bool:
    """Whether `folder` holds a finished tiny model built by today's tiny code."""
    marker = Path(folder) / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8") == _marker_text()


def mark_built(folder: Path) -> None:
    """Mark `folder`'s tiny model finished, by today's tiny code."""
    (Path(folder) / MARKER).write_text(_marker_text(), encoding="utf-8")
