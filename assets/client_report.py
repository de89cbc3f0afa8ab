"""client_report: one client's deliverables with thumbnails, lineage, GPU time and cost.

Partitioned like the chain (`client/character`) but summarizing the whole client: Dagster has no
partition mapping from a "client" partition set to the "client/character" set, and a report that
sits at the end of each character's chain is refreshed by the same run that changes it. The
newest report of any character of a client is therefore that client's report.
"""

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, MetadataValue
from PIL import Image

from assets.materialize import (
    build_or_reuse,
    chain_asset,
    image_markdown,
    new_ref,
    partition,
    result,
)
from pipeline.domain.artifacts import ArtifactRef
from pipeline.domain.chain import GPU_STAGES, RENDER_STAGES
from pipeline.domain.costs import COMPARED_WITH, HOSTED_APIS, hosted_cost
from pipeline.domain.lineage import Deliverable, deliverables_of, format_markdown
from resources.media.contact_sheet import contact_sheet
from resources.storage.artifact_store import ArtifactStore, write_json

CODE_VERSION = "1"


@dataclass(frozen=True)
class VideoCost:
    """What one deliverable took and cost, next to what the hosted APIs would charge."""

    character: str
    version: str
    duration_s: float
    gpu_s: float
    compute_s: float
    cost_usd: float
    render_cost_usd: float
    cost_per_minute_usd: float
    hosted_usd: dict[str, float]
    saving_pct: dict[str, float]
    illustrative: bool  # priced from CPU seconds (tiny profile), not GPU seconds


def video_cost(deliverable: Deliverable, parameters: dict[str, Any]) -> VideoCost:
    """Sum the chain's compute records; compare with the hosted APIs for the same length."""
    duration = sum(float(seconds) for _, seconds in parameters.get("shots", []))
    stages = {link.asset: link.compute for link in deliverable.chain if link.compute}
    # A stage priced on an instance type the table lacks counts as $0 and marks the row.
    cost = sum(c["estimated_cost_usd"] or 0.0 for a, c in stages.items() if a in GPU_STAGES)
    render = sum(c["estimated_cost_usd"] or 0.0 for a, c in stages.items() if a in RENDER_STAGES)
    hosted = hosted_cost(duration)
    return VideoCost(
        character=deliverable.character,
        version=deliverable.version,
        duration_s=duration,
        gpu_s=sum(float(c["gpu_s"]) for c in stages.values()),
        compute_s=sum(float(c["seconds"]) for c in stages.values()),
        cost_usd=cost,
        render_cost_usd=render,
        cost_per_minute_usd=cost / (duration / 60.0) if duration else 0.0,
        hosted_usd=hosted,
        saving_pct={k: 100.0 * (1 - cost / v) if v else 0.0 for k, v in hosted.items()},
        illustrative=any(
            not c.get("gpu_s") or c.get("estimated_cost_usd") is None for c in stages.values()
        ),
    )


def deliverables_table(costs: list[VideoCost]) -> str:
    head = " | ".join(f"{HOSTED_APIS[k].name} $ / saving" for k in COMPARED_WITH)
    rows = [
        f"| character | video s | GPU s | compute s | cost $ | render $ | $ / video min | {head} |",
        "|---|---|---|---|---|---|---|" + "---|" * len(COMPARED_WITH),
    ]
    for c in costs:
        hosted = " | ".join(
            f"{c.hosted_usd[k]:.2f} / {c.saving_pct[k]:.1f}%" for k in COMPARED_WITH
        )
        rows.append(
            f"| {c.character} | {c.duration_s:g} | {c.gpu_s:.1f} | {c.compute_s:.1f} | "
            f"{c.cost_usd:.4f} | {c.render_cost_usd:.4f} | {c.cost_per_minute_usd:.4f} | "
            f"{hosted} |"
        )
    return "\n".join(rows)


@chain_asset("client_report", code_version=CODE_VERSION, kinds={"markdown"})
def client_report(context: AssetExecutionContext, artifact_store: ArtifactStore):
    """Every current deliverable of this partition's client: posters, lineage, GPU time, cost."""
    start = time.perf_counter()
    client, _ = partition(context)
    current = [d for d in deliverables_of(artifact_store, client) if d.current]
    refs = {
        d.character: ArtifactRef(client, d.character, "deliverables", d.version) for d in current
    }
    manifests = {name: artifact_store.manifest(ref) for name, ref in refs.items()}
    costs = [video_cost(d, manifests[d.character]["parameters"]) for d in current]
    payload = {
        "deliverables": {name: ref.version for name, ref in sorted(refs.items())},
        "hosted": {k: HOSTED_APIS[k].usd_per_second for k in COMPARED_WITH},
        "code": CODE_VERSION,
    }
    ref = new_ref(context, "client_report", payload)

    def build(stage: Path) -> dict:
        posters = [Image.open(artifact_store.path(refs[c.character]) / "poster.jpg") for c in costs]
        contact_sheet(posters, stage / "posters.png", labels=[c.character for c in costs])
        report = _report_markdown(client, current, costs)
        (stage / "report.md").write_text(report)
        write_json(stage / "report.json", [asdict(c) for c in costs])
        return dict(
            code_version=CODE_VERSION,
            inputs={},
            parameters=payload,
            timings={"wall_s": time.perf_counter() - start},
        )

    reused = build_or_reuse(artifact_store, ref, build)
    folder = artifact_store.path(ref)
    total_cost = sum(c.cost_usd for c in costs)
    total_minutes = sum(c.duration_s for c in costs) / 60.0
    context.log.info(f"client {client}: {len(costs)} deliverable(s), ${total_cost:.4f} estimated")
    return result(
        artifact_store,
        ref,
        reused=reused,
        metadata={
            "client": client,
            "report": MetadataValue.path(str(folder / "report.md")),
            "deliverable_count": len(costs),
            "posters": image_markdown(folder / "posters.png", title=f"{client} posters"),
            "deliverables": MetadataValue.md(deliverables_table(costs)),
            "lineage": MetadataValue.md(
                "\n\n".join(
                    f"**{d.character}** `{d.version}`\n\n{format_markdown(d)}" for d in current
                )
            ),
            "gpu_s_total": sum(c.gpu_s for c in costs),
            "compute_s_total": sum(c.compute_s for c in costs),
            "cost_usd_total": total_cost,
            "cost_per_video_minute_usd": total_cost / total_minutes if total_minutes else 0.0,
            "cost_basis": (
                "illustrative: CPU seconds (tiny profile) priced as GPU seconds"
                if any(c.illustrative for c in costs)
                else "GPU seconds x price table"
            ),
        },
    )


def _report_markdown(client: str, current: list[Deliverable], costs: list[VideoCost]) -> str:
    lines = [f"# {client}: deliverables, lineage and cost", ""]
    if any(c.illustrative for c in costs):
        lines += [
            "> Tiny profile: these are CPU seconds priced as if they were GPU seconds. The",
            "> arithmetic is real, the dollar figures are not.",
            "",
        ]
    lines += [deliverables_table(costs), ""]
    for d in current:
        lines += [f"## {d.character} `{d.version}`", "", format_markdown(d), ""]
    return "\n".join(lines)
