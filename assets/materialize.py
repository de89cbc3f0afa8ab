"""Steps every asset shares: find the partition's inputs, build or reuse a version, report it."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)
from PIL import Image

from pipeline.domain.artifacts import ArtifactRef, content_version
from pipeline.domain.brief import Brief, parse_brief, split_partition_key
from pipeline.domain.chain import stage
from pipeline.domain.costs import compute_record
from pipeline.partitions import character_partitions
from pipeline.spot import GPU_POOL
from resources.models.model_store import ModelStore
from resources.storage.artifact_store import ArtifactStore, build_manifest, write_json

GROUP = "character_video"


def chain_asset(name: str, *, code_version: str, kinds: Iterable[str], checks: Iterable[str] = ()):
    """The @asset every stage shares: one partition per character, its checks, the GPU pool.

    What the stage reads and whether it needs a GPU come from the chain (pipeline.domain.chain).
    """
    entry = stage(name)
    return asset(
        name=name,
        partitions_def=character_partitions,
        deps=[entry.upstream] if entry.upstream else None,
        code_version=code_version,
        group_name=GROUP,
        pool=GPU_POOL if entry.gpu else None,
        kinds=set(kinds),
        check_specs=[AssetCheckSpec(check, asset=name) for check in checks] or None,
    )


def build_or_reuse(
    store: ArtifactStore, ref: ArtifactRef, build: Callable[[Path], dict[str, Any]]
) -> bool:
    """Reuse the finished version `ref`, or build it; True when reused.

    `build(stage)` writes the artifact's files into the staging folder and returns the
    manifest's fields (`build_manifest`'s keyword arguments); the manifest is written last.
    """
    if store.is_complete(ref):
        store.set_current(ref)
        return True
    with store.staging(ref) as stage:
        fields = build(stage)
        write_json(stage / "manifest.json", build_manifest(ref, stage, **fields))
    return False


def partition(context: AssetExecutionContext) -> tuple[str, str]:
    return split_partition_key(context.partition_key)


def upstream(context: AssetExecutionContext, store: ArtifactStore, asset: str) -> ArtifactRef:
    """The finished version of an upstream asset for this run's partition."""
    client, character = partition(context)
    return store.current(client, character, asset)


def brief_of(context: AssetExecutionContext, store: ArtifactStore) -> tuple[Brief, ArtifactRef]:
    """The validated brief snapshot this partition's chain was built from."""
    ref = upstream(context, store, "character_brief")
    data = json.loads((store.path(ref) / "brief.json").read_text())
    return parse_brief(data, source=f"{ref.key}/brief.json"), ref


def new_ref(context: AssetExecutionContext, asset: str, payload: dict[str, Any]) -> ArtifactRef:
    client, character = partition(context)
    return ArtifactRef(client, character, asset, content_version(payload))


def result(
    store: ArtifactStore,
    ref: ArtifactRef,
    *,
    reused: bool,
    metadata: dict[str, Any],
    check_results: list | None = None,
) -> MaterializeResult:
    """A MaterializeResult that names the artifact, its version and whether it was reused."""
    manifest = store.manifest(ref)
    base = {
        "path": MetadataValue.path(str(store.path(ref))),
        "version": ref.version,
        "reused": reused,
        "wall_s": float(manifest.get("timings", {}).get("wall_s", 0.0)),
        "inputs": MetadataValue.json(manifest.get("inputs", {})),
        **compute_metadata(manifest.get("compute")),
    }
    return MaterializeResult(
        metadata={**base, **metadata},
        data_version=DataVersion(ref.version),
        check_results=check_results or [],
    )


def image_markdown(path: Path, *, max_side: int = 640, title: str = "") -> MetadataValue:
    """An image shown inline in the Dagster UI: a JPEG thumbnail in a markdown data URI."""
    with Image.open(path) as image:
        thumb = image.convert("RGB")
        thumb.thumbnail((max_side, max_side))
        buffer = io.BytesIO()
        thumb.save(buffer, format="JPEG", quality=85)
    data = base64.b64encode(buffer.getvalue()).decode()
    return MetadataValue.md(f"![{title or path.name}](data:image/jpeg;base64,{data})")


def compute(model_store: ModelStore, start: float) -> dict[str, Any]:
    """The manifest's `compute` entry for work on the model store's device since `start`."""
    return compute_record(
        model_store.torch_device,
        time.perf_counter() - start,
        instance_type=model_store.instance_type,
        pricing=model_store.pricing,
    )


def compute_metadata(record: dict[str, Any] | None) -> dict[str, Any]:
    """GPU-seconds and estimated cost as UI metadata; what it cost to build, even when reused."""
    if not record:
        return {}
    shown = {
        "device": record["device"],
        "gpu_s": float(record["gpu_s"]),
        "compute_basis": record["basis"],
    }
    if record["estimated_cost_usd"] is None:  # an instance type the price table lacks
        return shown
    return {
        **shown,
        "estimated_cost_usd": float(record["estimated_cost_usd"]),
        "priced_on": f"{record['instance_type']} {record['pricing']} "
        f"${record['usd_per_gpu_hour']:.3f}/GPU-h ({record['price_date']})",
    }
