"""character_brief: the validated snapshot of a producer's brief, the root of every lineage."""

import time
from pathlib import Path

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from assets.materialize import build_or_reuse, chain_asset, new_ref, partition, result
from pipeline.inbox import BriefInbox
from resources.storage.artifact_store import ArtifactStore, write_atomic

CODE_VERSION = "1"


@chain_asset("character_brief", code_version=CODE_VERSION, kinds={"yaml"})
def character_brief(
    context: AssetExecutionContext, inbox: BriefInbox, artifact_store: ArtifactStore
) -> MaterializeResult:
    """The brief for this client/character, validated and frozen as JSON."""
    start = time.perf_counter()
    client, character = partition(context)
    source, brief = inbox.find(context.partition_key)
    ref = new_ref(context, "character_brief", {"brief": brief.content_hash(), "code": CODE_VERSION})

    def build(stage: Path) -> dict:
        write_atomic(stage / "brief.yaml", source.read_bytes())
        write_atomic(stage / "brief.json", brief.canonical_json() + "\n")
        return dict(
            code_version=CODE_VERSION,
            inputs={},
            parameters={"source": str(source.resolve()), "sha256": brief.content_hash()},
            timings={"wall_s": time.perf_counter() - start},
        )

    reused = build_or_reuse(artifact_store, ref, build)
    context.log.info(f"brief {client}/{character} from {source}: version {ref.version}")
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "source": MetadataValue.path(str(source)),
            "character": brief.character.name,
            "trigger": brief.character.trigger,
            "video_model": brief.video.model,
            "shots": len(brief.shots),
            "duration_s": brief.duration_s,
            "resolution": "x".join(map(str, brief.deliverable.resolution)),
            "shot_list": MetadataValue.md(
                "| shot | s | seed | prompt |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {s.id} | {s.duration_s:g} | {s.seed} | {s.prompt} |" for s in brief.shots
                )
            ),
        },
    )
