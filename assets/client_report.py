"""client_report: one client's deliverables with thumbnails, lineage, GPU time and cost.

Partitioned per character like the chain; why, in assets/stages/report.py.
"""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam

from assets.materialize import StageRuntime, chain_asset, report
from assets.stages import report as client
from assets.stages.report import CODE_VERSION


@chain_asset(client.ASSET, code_version=CODE_VERSION, kinds={"markdown"})
def client_report(
    context: AssetExecutionContext, runtime: ResourceParam[StageRuntime]
) -> MaterializeResult:
    """Every current deliverable of this partition's client: posters, lineage, GPU time, cost."""
    return report(client.report_client(runtime.run(context)))
