"""The one publish protocol: lock, reusable?, repair or quarantine, stage, manifest, publish.

Every artifact and every unit (a reference still set, a LoRA, a shot, a scene, a score, an
acceptance, a deliverable) is written through `publish`, so each of them:

1. is reused without a lock when its files still match its manifest;
2. otherwise takes its build lock (several units in version order, so two runs never wait on
   each other in a circle) and looks again: a run it waited for may have finished it;
3. moves a corrupt or half version aside (quarantine), optionally salvaging its intact files;
4. checks the free space, builds into a staging folder, writes the manifest last and publishes
   (a rename locally, an upload on S3).

Works with every `ArtifactStore` (local folder or S3): it only calls the store's methods.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from resources.domain.artifacts import MANIFEST, ArtifactRef
from resources.storage.artifact_store import (
    ArtifactStore,
    build_manifest,
    disk_full,
    ensure_space,
    write_json,
)

Log = Callable[[str], None]
# build(folders) writes each pending unit's files into its staging folder and returns, for each
# of them, the manifest's fields (`build_manifest`'s keyword arguments).
Build = Callable[[dict[ArtifactRef, Path]], dict[ArtifactRef, dict[str, Any]]]


def publish(
    store: ArtifactStore,
    refs: Sequence[ArtifactRef],
    build: Build,
    *,
    log: Log = print,
    needs_bytes: int = 0,
    salvage: bool = False,
    together: bool = False,
    current: bool = False,
) -> list[ArtifactRef]:
    """Publish every ref of `refs` that is not reusable; the refs this call built, in order.

    `together`: the refs are one generation (a scene and its cuts): when any of them must be
    built, all are staged and `build` receives every folder (an intact one is kept as it is
    when its staging folder is published). `salvage`: files of a quarantined version that still
    match its manifest seed the new staging folder, so a build that skips finished units redoes
    only the broken ones. `current`: point the asset's current.json at a reused version too.
    `needs_bytes` (the expected output) is checked against the free space before any work.
    """
    refs = list(refs)
    if not _pending(store, refs, together):
        _mark_current(store, refs, current)
        return []
    with ExitStack() as locks:
        for ref in sorted(refs, key=lambda r: (r.asset, r.version)):
            locks.enter_context(store.lock(ref, log))
        todo = _pending(store, refs, together)  # again: a run we waited for may have built them
        if not todo:
            _mark_current(store, refs, current)
            return []
        aside = {ref: store.repair(ref, log) for ref in todo}
        where = store.staging_parent(todo[0])
        ensure_space(where, needs_bytes, ", ".join(f"{r.asset} ({r.key})" for r in todo))
        try:
            # Staged and published (on leaving this block) inside the try: a full disk while
            # publishing is named like one while building.
            with ExitStack() as staged:
                folders = {ref: staged.enter_context(store.staging(ref)) for ref in todo}
                for ref, stage in folders.items():
                    if salvage and aside[ref] is not None:
                        store.salvage(ref, aside[ref], stage, log)
                fields = build(folders)
                for ref, stage in folders.items():  # the manifest last: it marks the work done
                    write_json(stage / MANIFEST, build_manifest(ref, stage, **fields[ref]))
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            # Writers deep in a library (the encoder, torch.save) name no file: name the folder.
            raise disk_full(Path(error.filename or where), needs_bytes) from None
    return todo


def publish_one(
    store: ArtifactStore,
    ref: ArtifactRef,
    build: Callable[[Path], dict[str, Any]],
    **options: Any,
) -> bool:
    """`publish` for one ref whose `build(stage)` returns its manifest's fields; True if reused."""
    built = publish(store, [ref], lambda folders: {ref: build(folders[ref])}, **options)
    return not built


def publish_acceptance(
    store: ArtifactStore,
    ref: ArtifactRef,
    record: dict[str, Any],
    *,
    code_version: str,
    inputs: dict[str, str],
) -> dict[str, Any]:
    """Publish a producer's acceptance (a manifest holding `record`, no files) at `ref`; the
    acceptance as recorded, with its time. One already recorded at `ref` stands."""
    publish_one(
        store,
        ref,
        lambda stage: dict(
            code_version=code_version,
            inputs=inputs,
            parameters={},
            extra={"acceptance": record},
        ),
        log=lambda message: None,
    )
    manifest = store.manifest(ref)
    return {**manifest["acceptance"], "at": manifest["created_at"]}


def _pending(store: ArtifactStore, refs: list[ArtifactRef], together: bool) -> list[ArtifactRef]:
    missing = [ref for ref in refs if not store.reusable(ref)]
    return refs if together and missing else missing


def _mark_current(store: ArtifactStore, refs: list[ArtifactRef], current: bool) -> None:
    if current:
        for ref in refs:
            store.set_current(ref)
