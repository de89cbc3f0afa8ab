"""The mode of every file the pipeline writes: what a plain open() gives, not mkstemp's 0600.

Artifacts are read by colleagues, the review app and the webserver's user on a shared machine;
the process umask decides how far they are shared (docs/operations.md).
"""

from __future__ import annotations

import os


def _process_umask() -> int:
    # The umask can only be read by setting it: done once, at import, before worker threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _process_umask()
FILE_MODE = 0o666 & ~UMASK  # 0644 under umask 022, 0664 under 002
