"""Which artifact store a root setting names: a local folder, or an S3 bucket and prefix."""

from __future__ import annotations

from pathlib import Path

from resources.storage.artifact_store import ArtifactStore
from resources.storage.s3_artifact_store import S3ArtifactStore

S3_SCHEME = "s3://"


def artifact_store_for(
    root: str | Path, cache_dir: str | Path, public_url: str | None = None
) -> ArtifactStore:
    """The store for `root`: `s3://bucket/prefix` works in `cache_dir`, anything else is a folder.

    The resources (pipeline.settings) and the CLI's commands both build their store here, so a
    command given an S3 root reads the same bucket a run published to.
    """
    root = str(root)
    if root.startswith(S3_SCHEME):
        # Work happens in a local cache; S3 holds the published versions and mirrored units.
        return S3ArtifactStore(url=root, root=str(Path(cache_dir).resolve()), public_url=public_url)
    return ArtifactStore(root=str(Path(root).resolve()), public_url=public_url)
