"""Lineage per client: every deliverable traced back to its brief through the manifests."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_brief
from dagster import DagsterInstance, instance_for_test
from quick_chain import evaluate_nightly, quick_brief, run_quick_chain, shared_models

from resources.domain.brief import parse_brief
from resources.domain.lineage import deliverables_of, is_up_to_date
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # whole-chain materializations

CHAIN = ["deliverables", "video_clips", "character_lora", "reference_images", "character_brief"]


def changed_brief() -> dict:
    data = quick_brief()
    data["shots"] = [{"id": "hello", "prompt": "she waves", "duration_s": 0.5, "seed": 2}]
    return data


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One character rendered twice: the brief, then the brief with its shot changed."""
    folder = tmp_path_factory.mktemp("lineage")
    root = folder / "artifacts"
    models = shared_models(tmp_path_factory)
    with DagsterInstance.ephemeral() as instance:
        run_quick_chain(instance, folder / "first", root, quick_brief(), models=models)
        first = current_versions(root)
        run_quick_chain(instance, folder / "second", root, changed_brief(), models=models)
    return root, first, current_versions(root)


def current_versions(root: Path) -> dict[str, str]:
    base = root / "acme-health" / "dr-ana"
    return {a: json.loads((base / a / "current.json").read_text())["version"] for a in CHAIN}


def lineage(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "lineage", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_command_prints_every_stage_with_version_model_seed_and_code(built):
    root, _, newest = built
    done = lineage(root, "acme-health", "dr-ana")
    assert done.returncode == 0, done.stderr
    block = done.stdout.split("(current)")[1]
    for asset in CHAIN:
        code = importlib.import_module(f"assets.{asset}").CODE_VERSION
        assert f"{asset:<17} {newest[asset]}  code v{code}" in block
    assert "models: tiny/hunyuan_video@built-in" in block
    # The video model's licence is named in the lineage, with whether paid work may use it and
    # its conditions as the registry records them (resources/domain/licences.py).
    assert (
        "licence of tiny/hunyuan_video@built-in: Tencent Hunyuan Community License "
        "(paid work: conditional; not in the EU, GB, KR; separate licence above 100,000,000 "
        "monthly users" in block
    )
    # The cut's own licence line (the video model's, carried to the master) names its model.
    assert "    licence of hunyuan_video: Tencent Hunyuan Community License (paid work" in block
    assert not re.search(r"^    licence: ", block, re.MULTILINE)
    assert "models: tiny/sdxl_base@built-in" in block
    assert "seeds:  hello=2" in block
    assert "seeds:  5, 6" in block


def test_every_deliverable_is_listed_and_only_the_newest_is_current(built):
    root, first, newest = built
    done = lineage(root, "acme-health")
    assert done.returncode == 0, done.stderr
    assert f"deliverable {first['deliverables']}\n" in done.stdout
    assert f"deliverable {newest['deliverables']} (current)" in done.stdout
    assert done.stdout.count("(current)") == 1


def test_both_deliverables_share_references_and_lora(built):
    root, first, newest = built
    found = deliverables_of(ArtifactStore(root=str(root)), "acme-health")
    chains = {d.version: {link.asset: link.version for link in d.chain} for d in found}
    assert chains[first["deliverables"]]["reference_images"] == newest["reference_images"]
    assert chains[first["deliverables"]]["character_lora"] == newest["character_lora"]
    assert chains[first["deliverables"]]["video_clips"] == first["video_clips"]


def test_gpu_stages_record_device_and_seconds_in_the_chain(built):
    root, _, _ = built
    (current,) = [
        d for d in deliverables_of(ArtifactStore(root=str(root)), "acme-health") if d.current
    ]
    computed = {link.asset: link.compute for link in current.chain if link.compute}
    assert set(computed) == {"reference_images", "character_lora", "video_clips", "deliverables"}
    for record in computed.values():
        assert record["device"] == "cpu" and record["gpu_s"] == 0 and record["seconds"] > 0


def test_unknown_client_is_named_in_the_error(built):
    root, _, _ = built
    done = lineage(root, "nobody-here")
    assert done.returncode == 1
    assert "no deliverables for nobody-here" in done.stderr


def test_deliverable_is_up_to_date_only_for_the_brief_that_made_it(built):
    root, _, _ = built
    store = ArtifactStore(root=str(root))
    assert is_up_to_date(store, parse_brief(changed_brief()))
    assert not is_up_to_date(store, parse_brief(quick_brief()))


def test_nightly_schedule_skips_briefs_whose_deliverable_is_current(built, tmp_path):
    root, _, _ = built
    write_brief(tmp_path / "inbox", changed_brief())
    with instance_for_test() as instance:
        outcome = evaluate_nightly(instance, tmp_path / "inbox", root)
    assert "up to date" in outcome.skip_message
