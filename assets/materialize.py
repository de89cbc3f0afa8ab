"""The Dagster side of every stage: the @asset they share, the run bundle, and reporting.

Stages (assets/stages/) are plain Python and return a `StageResult`; this module turns one into
a `MaterializeResult` with UI metadata and asset check results.
"""

from __future__ import annotations

import base64
import functools
import inspect
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetObservation,
    AssetSpec,
    DataVersion,
    InitResourceContext,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
    resource,
)
from PIL import Image

from assets.partitions import character_partitions
from assets.stages.base import (
    Markdown,
    Picture,
    Playable,
    Run,
    StageLog,
    StageResult,
    record_run_state,
)
from assets.stages.character_brief import approval_wait
from resources.domain.brief import split_partition_key
from resources.domain.chain import GPU_POOL, RUN_NAMES, detail_line, stage
from resources.models.model_store import ModelStore
from resources.runtime.notify import Notifier
from resources.runtime.spot_monitor import SpotMonitor
from resources.runtime.threads import pin_cpu_threads
from resources.storage.artifact_store import ArtifactStore

GROUP = "character_video"


def chain_asset(
    name: str,
    *,
    code_version: str,
    kinds: Iterable[str],
    checks: Iterable[str] = (),
    gated: bool = False,
    blocking: Iterable[str] = (),
):
    """The @asset every stage shares: one partition per character, its checks, the GPU pool.

    What the stage reads and whether it needs a GPU come from the chain (resources.domain.chain).
    A `gated` stage may wait for a producer's approval: it then yields nothing, Dagster shows
    the step (and those after it) as skipped, not failed, and the run succeeds.
    A failed check named in `blocking` fails the step after the asset is recorded, so nothing
    downstream of it runs in that run (Dagster blocking checks).
    """
    dagster_decorator = _dagster_asset(name, code_version, kinds, checks, gated, blocking)
    return lambda fn: dagster_decorator(tracked(fn))


def tracked(fn: Callable) -> Callable:
    """`fn` (an asset's body) that also records, for the review app, how the run ended: failed
    in this stage, or finished after the chain's last stage (unless it stopped for a person).

    The job's hooks say the same for `character_video` runs; this covers every run, the UI's
    ad-hoc asset selections included.
    """
    signature = inspect.signature(fn)

    def ended(args, kwargs, error: BaseException | None) -> None:
        bound = signature.bind_partial(*args, **kwargs).arguments
        context, runtime = bound.get("context"), bound.get("runtime")
        if context is None or runtime is None:
            return
        client, character = split_partition_key(context.partition_key)
        asset = context.asset_key.path[-1]
        run_id = context.run.run_id
        if error is not None:
            first = detail_line(str(error), type(error).__name__)
            record_run_state(runtime.store, client, character, run_id, "failed", stage=asset,
                             detail=first)  # fmt: skip
        elif asset == RUN_NAMES[-1] and OUTCOME_TAG not in context.run.tags:
            record_run_state(runtime.store, client, character, run_id, "finished", stage=asset)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                ended(args, kwargs, error)
                raise
            ended(args, kwargs, None)

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except Exception as error:
            ended(args, kwargs, error)
            raise
        ended(args, kwargs, None)
        return result

    return plain


def _dagster_asset(name, code_version, kinds, checks, gated, blocking):
    blocking = set(blocking)
    entry = stage(name)
    check_specs = [
        AssetCheckSpec(check, asset=name, blocking=check in blocking) for check in checks
    ] or None
    if gated:
        # A multi_asset that may skip its output: with can_subset, its checks may be skipped too
        # (an @asset's check outputs are always required).
        return multi_asset(
            name=name,
            specs=[
                AssetSpec(
                    name,
                    deps=entry.deps,
                    code_version=code_version,
                    group_name=GROUP,
                    kinds=set(kinds),
                    partitions_def=character_partitions,
                    skippable=True,
                )
            ],
            pool=GPU_POOL if entry.gpu else None,
            check_specs=check_specs,
            can_subset=True,
        )
    return asset(
        name=name,
        partitions_def=character_partitions,
        deps=entry.deps or None,
        code_version=code_version,
        group_name=GROUP,
        pool=GPU_POOL if entry.gpu else None,
        kinds=set(kinds),
        check_specs=check_specs,
    )


def gated_report(
    context: AssetExecutionContext, runtime: StageRuntime, run: Run, gate: str, build
) -> Iterator:
    """Yield `build()`'s MaterializeResult, or nothing while the stage waits for approval (and
    tell the producers so, through the run's notifier)."""
    waiting = approval_wait(run, gate)
    if waiting:
        context.log.warning(waiting)
        # Shown on the asset's page (Events) as an observation: waiting, not failed.
        yield AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            metadata={"status": "waiting for approval", "detail": waiting},
        )
        # The run itself says so: Dagster counts it a success (nothing failed), and its `outcome`
        # tag, shown in the UI's run list and run page, says it stopped for a person.
        context.instance.add_run_tags(context.run.run_id, {OUTCOME_TAG: f"{WAITING} ({gate})"})
        stage_name = context.asset_key.path[-1]
        record_run_state(
            run.store, run.client, run.character, context.run.run_id, "waiting",
            stage=stage_name, detail=gate,
        )  # fmt: skip
        runtime.notifier.send(
            "waiting", context.partition_key, stage_name, waiting, context.run.run_id
        )
        return
    yield report(build())


OUTCOME_TAG = "outcome"
WAITING = "waiting for approval"


class StageRuntime:
    """The run bundle every stage passes down: store, models, device, dtype, the stop hook.

    One is built per run (the `runtime` resource, from the run's own artifact store, model
    store and Spot monitor); device and dtype are resolved then, once. Each asset asks it for
    its `Run`, which adds the asset's partition and log.
    """

    def __init__(
        self, store: ArtifactStore, models: ModelStore, monitor: SpotMonitor, notifier: Notifier
    ):
        self.store, self.models, self.monitor, self.notifier = store, models, monitor, notifier
        self.device = models.torch_device
        self.dtype = models.torch_dtype
        pin_cpu_threads(self.device)  # the same bytes whatever CPUs this process may use

    def run(self, context: AssetExecutionContext) -> Run:
        """The asset's `Run`; also says, for the review app, that the run is in this stage."""
        client, character = split_partition_key(context.partition_key)
        asset = context.asset_key.path[-1]
        tags = run_tags_for(context)
        record_run_state(
            self.store,
            client,
            character,
            context.run.run_id,
            "running",
            stage=asset,
            launched_by=tags.get(LAUNCHED_BY, ""),
        )
        return Run(
            client=client,
            character=character,
            store=self.store,
            models=self.models,
            device=self.device,
            dtype=self.dtype,
            log=StageLog(
                context.log.info, self.store, client, character, asset, context.run.run_id
            ),
            stop=self.monitor.check,
        )


LAUNCHED_BY = "launched_by"
UI_LAUNCH = "dagster-ui"  # a run started from the Dagster UI (or any launcher that set no tags)


def run_tags_for(context: AssetExecutionContext, **known: str) -> dict[str, str]:
    """The run's tags, after adding the ones every run carries whoever launched it.

    The CLI, the sensor and the review app tag their runs (`character`, `launched_by`,
    `brief/file`); a run launched from the Dagster UI's partition picker has none, so the first
    stage adds them (`known` carries what only that stage knows, the brief's file name).
    """
    tags = dict(context.run.tags)
    wanted = {"character": context.partition_key, LAUNCHED_BY: UI_LAUNCH, **known}
    missing = {k: v for k, v in wanted.items() if v and k not in tags}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)
        tags.update(missing)
    return tags


@resource(
    required_resource_keys={"artifact_store", "model_store", "spot_monitor", "notifier"},
    description="the run bundle every stage passes down (store, models, device, stop hook)",
)
def stage_runtime(context: InitResourceContext) -> StageRuntime:
    found = context.resources
    return StageRuntime(found.artifact_store, found.model_store, found.spot_monitor, found.notifier)


def report(result: StageResult) -> MaterializeResult:
    """A MaterializeResult naming the artifact, its version, whether it was reused, its checks."""
    manifest = result.manifest
    base = {
        "path": MetadataValue.path(str(result.folder)),
        "version": result.ref.version,
        "reused": result.reused,
        "wall_s": float(manifest.get("timings", {}).get("wall_s", 0.0)),
        "inputs": MetadataValue.json(manifest.get("inputs", {})),
        **compute_metadata(manifest.get("compute")),
    }
    shown = {k: _metadata_value(v, result.link) for k, v in result.metadata.items()}
    return MaterializeResult(
        metadata={**base, **shown},
        data_version=DataVersion(result.ref.version),
        check_results=[
            AssetCheckResult(
                check_name=c.name,
                passed=c.passed,
                severity=AssetCheckSeverity[c.severity],
                description=c.description,
                metadata={k: _metadata_value(v, result.link) for k, v in c.metadata.items()},
            )
            for c in result.checks
        ],
    )


def _metadata_value(value: Any, link=lambda path: None) -> Any:
    if isinstance(value, Markdown):
        return MetadataValue.md(value.text)
    if isinstance(value, Picture):
        url = link(value.path)
        if url:
            # A short link renders inline; a data URI is over Dagster's 1,000 characters and
            # hides behind [Show Markdown].
            return MetadataValue.md(f"![{value.title or value.path.name}]({url})")
        return image_markdown(value.path, title=value.title)
    if isinstance(value, Playable):
        url = link(value.path)
        return MetadataValue.url(url) if url else MetadataValue.path(str(value.path))
    if isinstance(value, Path):
        return MetadataValue.path(str(value))
    if isinstance(value, dict):
        return MetadataValue.json(value)
    return value


def image_markdown(path: Path, *, max_side: int = 640, title: str = "") -> MetadataValue:
    """An image shown inline in the Dagster UI: a JPEG thumbnail in a markdown data URI."""
    with Image.open(path) as image:
        thumb = image.convert("RGB")
        thumb.thumbnail((max_side, max_side))
        buffer = io.BytesIO()
        thumb.save(buffer, format="JPEG", quality=85)
    data = base64.b64encode(buffer.getvalue()).decode()
    return MetadataValue.md(f"![{title or path.name}](data:image/jpeg;base64,{data})")


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
