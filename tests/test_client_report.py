"""client_report: a client's deliverables with posters, lineage, GPU time, cost and savings."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from dagster import DagsterInstance
from PIL import Image
from quick_chain import quick_brief, run_quick_chain, shared_models

from pipeline.domain.costs import HOSTED_APIS

CLIENT = "acme-health"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Two characters of one client; the second run's report covers both."""
    folder = tmp_path_factory.mktemp("report")
    root = folder / "artifacts"
    models = shared_models(tmp_path_factory)
    nurse = quick_brief(character={**quick_brief()["character"], "id": "nurse-bia"})
    with DagsterInstance.ephemeral() as instance:
        run_quick_chain(
            instance, folder / "inbox", root, quick_brief(), name="ana.yaml", models=models
        )
        _, outcome = run_quick_chain(
            instance, folder / "inbox2", root, nurse, name="bia.yaml", models=models
        )
        event = outcome.asset_materializations_for_node("client_report")[0]
        metadata = {key: value.value for key, value in event.metadata.items()}
    return root, metadata


def manifest(root: Path, character: str, asset: str) -> dict:
    folder = root / CLIENT / character / asset
    version = json.loads((folder / "current.json").read_text())["version"]
    return json.loads((folder / version / "manifest.json").read_text())


def test_report_covers_every_character_of_the_client(report):
    root, metadata = report
    rows = json.loads((Path(metadata["path"]) / "report.json").read_text())
    assert sorted(r["character"] for r in rows) == ["dr-ana", "nurse-bia"]
    assert metadata["deliverable_count"] == 2
    for name in ("dr-ana", "nurse-bia"):
        version = manifest(root, name, "deliverables")["version"]
        assert version in metadata["lineage"]
    # Each deliverable names the licence of the model that made it.
    licence = "Tencent Hunyuan Community License (paid work: conditional)"
    assert all(r["licence"] == licence for r in rows)
    assert licence in metadata["lineage"]


def test_posters_are_an_inline_image(report):
    _, metadata = report
    match = re.fullmatch(r"!\[.*\]\(data:image/jpeg;base64,(.+)\)", metadata["posters"])
    assert match
    with Image.open(io.BytesIO(base64.b64decode(match.group(1)))) as image:
        assert image.format == "JPEG"
        assert image.width >= 2 * 100  # two posters side by side


def test_cost_is_the_sum_of_the_gpu_stages_of_the_chain(report):
    root, metadata = report
    rows = {
        r["character"]: r for r in json.loads((Path(metadata["path"]) / "report.json").read_text())
    }
    stages = ["reference_images", "character_lora", "video_clips", "deliverables"]
    expected = sum(manifest(root, "dr-ana", a)["compute"]["estimated_cost_usd"] for a in stages)
    assert rows["dr-ana"]["cost_usd"] == pytest.approx(expected)
    render = sum(manifest(root, "dr-ana", a)["compute"]["estimated_cost_usd"] for a in stages[2:])
    assert rows["dr-ana"]["render_cost_usd"] == pytest.approx(render)


def test_cost_per_video_minute_and_saving_follow_from_duration(report):
    _, metadata = report
    rows = json.loads((Path(metadata["path"]) / "report.json").read_text())
    for row in rows:
        assert row["duration_s"] == 0.5
        assert row["cost_per_minute_usd"] == pytest.approx(row["cost_usd"] * 120)
        sora = HOSTED_APIS["sora-2"].usd_per_second * 0.5
        assert row["hosted_usd"]["sora-2"] == pytest.approx(sora)
        assert row["saving_pct"]["sora-2"] == pytest.approx(100 * (1 - row["cost_usd"] / sora))
    total = sum(r["cost_usd"] for r in rows)
    assert metadata["cost_per_video_minute_usd"] == pytest.approx(total / (1.0 / 60))


def test_tiny_profile_is_labelled_cpu_seconds_not_gpu_seconds(report):
    root, metadata = report
    assert metadata["gpu_s_total"] == 0.0
    assert metadata["compute_s_total"] > 0
    assert metadata["cost_basis"].startswith("illustrative: CPU seconds")
    text = (Path(metadata["path"]) / "report.md").read_text()
    assert "CPU seconds priced as if they were GPU seconds" in text
