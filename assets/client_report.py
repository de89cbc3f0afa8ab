"""client_report: one client's deliverables with thumbnails, lineage, GPU time and cost.

Partitioned per character like the chain; why, in assets/stages/client_report.py. Where the brief
asks for the cut to be approved, the report (what goes to the client) waits for that approval.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, gated_report
from assets.stages import client_report as stage
from assets.stages.client_report import CODE_VERSION


@chain_asset(stage.ASSET, code_version=CODE_VERSION, kinds={"markdown"}, gated=True)
def client_report(
    context: AssetExecutionContext, runtime: ResourceParam[StageRuntime]
) -> Iterator[MaterializeResult]:
    """Every current deliverable of this partition's client: posters, lineage, GPU time, cost."""
    run = runtime.run(context)
    yield from gated_report(context, runtime, run, "cut", lambda: stage.report_client(run))
