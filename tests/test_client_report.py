"""client_report: a client's deliverables with posters, lineage, GPU time, cost and savings."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import materialize_fresh
from dagster import DagsterInstance
from PIL import Image
from quick_chain import quick_brief, run_quick_chain, shared_models

from assets.client_report import client_report
from assets.partitions import CHARACTERS
from pipeline.settings import resource_defs
from resources.domain.costs import HOSTED_APIS
from resources.storage.artifact_store import write_json

pytestmark = pytest.mark.slow  # whole-chain materializations

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
    # Each deliverable names the licence of the model that made it, with its conditions.
    licence = "Tencent Hunyuan Community License (paid work: conditional; not in the EU, GB, KR;"
    assert all(r["licence"].startswith(licence) for r in rows)
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
        veo = HOSTED_APIS["veo-3.1-lite-1080p"].usd_per_second * 0.5
        assert row["hosted_usd"]["veo-3.1-lite-1080p"] == pytest.approx(veo)
        saving = row["saving_pct"]["veo-3.1-lite-1080p"]
        assert saving == pytest.approx(100 * (1 - row["cost_usd"] / veo))
    total = sum(r["cost_usd"] for r in rows)
    assert metadata["cost_per_video_minute_usd"] == pytest.approx(total / (1.0 / 60))


def test_tiny_profile_is_labelled_cpu_seconds_not_gpu_seconds(report):
    root, metadata = report
    assert metadata["gpu_s_total"] == 0.0
    assert metadata["compute_s_total"] > 0
    assert metadata["cost_basis"].startswith("illustrative: CPU seconds")
    text = (Path(metadata["path"]) / "report.md").read_text()
    assert "CPU seconds priced as if they were GPU seconds" in text


# Known costs per GPU stage, powers of two (in $0.001 and in GPU-seconds) so that every sum
# says exactly which stages it took: the client pays for the four GPU stages of the chain
# (references, LoRA, clips, upscale), and "render" is the clips and the upscale.
KNOWN = {
    "reference_images": 1,
    "character_lora": 2,
    "video_clips": 4,
    "deliverables": 8,
    "narration": 16,
}


def test_report_sums_match_figures_known_from_the_stage_manifests(report, tmp_path):
    built, _ = report
    root = tmp_path / "artifacts"
    shutil.copytree(built, root, ignore=shutil.ignore_patterns("_models"))
    for character in ("dr-ana", "nurse-bia"):
        for folder in sorted((root / CLIENT / character).iterdir()):
            if not (folder / "current.json").is_file():
                continue
            data = manifest(root, character, folder.name)
            if folder.name == "client_report":
                shutil.rmtree(folder)  # built again below, from the rewritten records
                continue
            if not data.get("compute"):
                continue
            assert folder.name in KNOWN, f"{folder.name} has a compute record the test lacks"
            units = KNOWN[folder.name]
            data["compute"] = {
                **data["compute"],
                "device": "cuda:0",
                "gpu_s": float(units),
                "seconds": float(units),
                "estimated_cost_usd": units / 1000,
            }
            version = json.loads((folder / "current.json").read_text())["version"]
            write_json(folder / version / "manifest.json", data)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(CHARACTERS, [f"{CLIENT}/nurse-bia"])
        outcome = materialize_fresh(
            [client_report],
            partition_key=f"{CLIENT}/nurse-bia",
            instance=instance,
            resources=resource_defs(root=root, profile="tiny", inbox=[]),
        )
        assert outcome.success
        event = outcome.asset_materializations_for_node("client_report")[0]
        metadata = {key: value.value for key, value in event.metadata.items()}
    rows = json.loads((Path(metadata["path"]) / "report.json").read_text())
    assert sorted(r["character"] for r in rows) == ["dr-ana", "nurse-bia"]
    for row in rows:
        # 1 + 2 + 4 + 8 thousandths: a brief without lines mixes no narration, so the
        # narration version (16) is not part of its deliverable's lineage or cost.
        assert row["cost_usd"] == pytest.approx(0.015)
        assert row["render_cost_usd"] == pytest.approx(0.012)  # clips 4 + upscale 8
        assert row["gpu_s"] == pytest.approx(15.0)
        assert row["duration_s"] == 0.5  # the brief's one half-second shot
        assert row["cost_per_minute_usd"] == pytest.approx(0.015 * 120)
        assert row["illustrative"] is False
    assert metadata["cost_usd_total"] == pytest.approx(0.030)  # two characters
    assert metadata["gpu_s_total"] == pytest.approx(30.0)
    assert metadata["cost_per_video_minute_usd"] == pytest.approx(0.030 / (1.0 / 60))


@pytest.mark.parametrize(
    ("floor", "en", "pt"),
    [(-1.0, "min_identity: none;", "identidade mínima exigida: nenhuma;"),
     (0.35, "min_identity: 0.35;", "identidade mínima exigida: 0,35;")],
)  # fmt: skip
def test_the_identity_floor_reads_none_when_the_brief_asked_for_none(floor, en, pt):
    """-1, the brief's default min_identity, is the lowest a similarity can be: the client reads
    that no minimum was asked for, not a figure."""
    from assets.stages.client_report import identity_table

    shot = {"id": "intro", "identity": {"dinov2_base": 0.5, "clip": 0.1}, "attempts": 1}
    qc = {
        "primary": "dinov2_base",
        "min_identity": floor,
        "cross_shot": {"min": {"dinov2_base": 0.9}},
        "shots": [{**shot, "subject_consistency": 0.95}],
    }
    assert en in identity_table("dr-ana", {"qc": qc}, "en")
    assert pt in identity_table("dr-ana", {"qc": qc}, "pt-BR")
