"""The whole chain on the tiny profile: brief in, a decodable 1920x1080 deliverable out."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, copy_of_root, materialize_fresh, small_brief, write_brief
from dagster import DagsterInstance
from dagster._core.storage.defs_state.base import set_defs_state_storage

from assets.partitions import CHARACTERS
from pipeline.definitions import ASSETS, defs
from pipeline.settings import resource_defs
from resources.domain.chain import CHAIN_NAMES, RUN_NAMES, stage
from resources.media.video_io import probe_video

pytestmark = pytest.mark.slow  # whole-chain materializations

KEY = "acme-health/dr-ana"


def run_chain(brief: Path, root: Path, instance: DagsterInstance, raise_on_error: bool = True):
    instance.add_dynamic_partitions(CHARACTERS, [KEY])
    resources = resource_defs(root=root, profile="tiny", inbox=[str(brief)])
    # Without definitions state, as pipeline.launch.run_chain does: an instance made and dropped
    # meanwhile must not be the one the job resolves against.
    with set_defs_state_storage(None):
        return materialize_fresh(
            ASSETS,
            partition_key=KEY,
            instance=instance,
            resources=resources,
            raise_on_error=raise_on_error,
        )


def metadata(outcome, asset: str) -> dict:
    event = outcome.asset_materializations_for_node(asset)[0]
    return {k: v.value for k, v in event.metadata.items()}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The chain run once through the CLI, as a producer would."""
    folder = tmp_path_factory.mktemp("chain")
    brief = write_brief(folder / "inbox", small_brief())
    root = folder / "artifacts"
    home = root / "_dagster"  # the instance `make dev` keeps beside the artifacts, for its UI
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster-dev.yaml").read_text())
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "materialize", str(brief), "--root", str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (folder / "materialize.stderr").write_text(done.stderr)
    return brief, root, Path(done.stdout.strip().splitlines()[-1])


def test_cli_prints_a_deliverable_under_the_root(first_run):
    _, root, final = first_run
    assert final.is_file()
    assert final.is_relative_to(root)
    assert final.parts[-5:-2] == ("acme-health", "dr-ana", "deliverables")


def test_cli_shows_its_own_stage_bars_and_times_not_the_model_libraries_bars(first_run):
    """diffusers and transformers draw a bar per component and per weight file they load; the
    CLI quiets them where it loads models, so a producer reads one bar and one time per stage."""
    _, root, _ = first_run
    err = (root.parent / "materialize.stderr").read_text()
    shown = re.findall(r"^  (\w+) +[\d.]+ s$", err, flags=re.MULTILINE)
    assert sorted(shown) == sorted(RUN_NAMES)
    assert re.search(r"^  deliverables +\[#+ *\] \d+/\d+ frames", err, flags=re.MULTILINE)
    libraries = ("Loading pipeline components", "Loading weights", "Loading checkpoint shards")
    assert [line for line in err.splitlines() if line.lstrip().startswith(libraries)] == []


def test_a_cli_run_is_recorded_in_the_instance_the_ui_reads(first_run):
    """No DAGSTER_HOME: the CLI records into the instance `make dev` keeps beside the artifacts."""
    from dagster import AssetKey

    _, root, _ = first_run
    with DagsterInstance.from_config(str(root / "_dagster")) as instance:
        assert KEY in instance.get_dynamic_partitions(CHARACTERS)
        (run,) = instance.get_runs()
        assert (run.tags["character"], run.tags["launched_by"]) == (KEY, "cli")
        assert run.tags["brief/file"] == "brief.yaml"
        for asset in RUN_NAMES:  # every asset shows as materialized for the partition
            event = instance.get_latest_materialization_event(AssetKey(asset))
            assert event is not None and event.run_id == run.run_id, asset
            assert event.asset_materialization.partition == KEY
    state = json.loads((root / "acme-health" / "dr-ana" / "_run" / "state.json").read_text())
    assert (state["run_id"], state["state"]) == (run.run_id, "finished")
    assert state["launched_by"] == "cli"


def test_deliverable_decodes_at_brief_resolution_fps_and_length(first_run):
    _, _, final = first_run
    info = probe_video(final)
    assert (info.width, info.height) == (1920, 1080)
    assert info.fps == 24
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.frame_count == 24 + 12  # 1 s + 0.5 s at 24 fps
    assert info.faststart


def test_every_stage_left_a_manifest_chained_to_its_input(first_run):
    _, root, _ = first_run
    versions = {}
    for asset in CHAIN_NAMES:
        folder = root / "acme-health" / "dr-ana" / asset
        version = json.loads((folder / "current.json").read_text())["version"]
        manifest = json.loads((folder / version / "manifest.json").read_text())
        assert manifest["version"] == version
        entry = stage(asset)
        if entry.upstream:
            # Its upstream's version, and those of the other assets it read (a brief without
            # lines reads no narration).
            assert manifest["inputs"][entry.upstream] == versions[entry.upstream]
            assert set(manifest["inputs"]) <= set(entry.deps)
            assert all(manifest["inputs"][a] == versions[a] for a in manifest["inputs"])
        for file in manifest["files"]:
            assert (folder / version / file["path"]).stat().st_size == file["bytes"]
        # And the install that computed it: the packages' versions as installed here.
        software = manifest["software"]
        assert software["python"] == platform.python_version()
        for package in ("torch", "diffusers", "av"):
            assert software[package] == importlib.metadata.version(package)
        versions[asset] = version
    assert not list(root.rglob(".staging-*")), "no half-written artifact stays behind"


def test_reference_stills_have_captions_with_the_trigger(first_run):
    _, root, _ = first_run
    folder = root / "acme-health" / "dr-ana" / "reference_images"
    version = json.loads((folder / "current.json").read_text())["version"]
    stills = sorted((folder / version).glob("ref_*.png"))
    assert len(stills) == 4
    assert all("drana" in p.with_suffix(".txt").read_text() for p in stills)


def copy_of(first_run, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The first run's brief, and its root and final in a copy of the root (`copy_of_root`)."""
    brief, root, final = first_run
    copy = copy_of_root(root, tmp_path)
    return brief, copy, copy / final.relative_to(root)


def test_rematerializing_unchanged_inputs_reuses_every_artifact(
    first_run, tmp_path, dagster_instance
):
    brief, root, final = copy_of(first_run, tmp_path)
    before = {
        p: p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file()
        and not {"_models", "_run", "_dagster"} & set(p.parts)  # models; each run's own record
        and p.name != "current.json"
    }
    outcome = run_chain(brief, root, dagster_instance)
    assert outcome.success
    for asset in (
        "character_brief",
        "reference_images",
        "character_lora",
        "video_clips",
        "deliverables",
    ):
        assert metadata(outcome, asset)["reused"] is True, asset
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before
    assert Path(metadata(outcome, "deliverables")["final"]) == final


def test_changing_a_shot_keeps_references_and_lora(first_run, tmp_path, dagster_instance):
    _, root, _ = copy_of(first_run, tmp_path)
    data = small_brief()
    data["shots"][1]["prompt"] = "she nods and smiles"
    changed = write_brief(tmp_path, data)
    outcome = run_chain(changed, root, dagster_instance)
    assert metadata(outcome, "reference_images")["reused"] is True
    assert metadata(outcome, "character_lora")["reused"] is True
    assert metadata(outcome, "video_clips")["reused"] is False
    assert metadata(outcome, "deliverables")["reused"] is False


def test_asset_checks_pass(first_run, tmp_path, dagster_instance):
    brief, root, _ = copy_of(first_run, tmp_path)
    outcome = run_chain(brief, root, dagster_instance)
    evaluations = outcome.get_asset_check_evaluations()
    # Every check the code location declares ran (the names: tests/snapshots/definitions.json).
    declared = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {e.check_name for e in evaluations} == declared
    assert all(e.passed for e in evaluations), [(e.check_name, e.metadata) for e in evaluations]


@pytest.mark.parametrize(
    "model", ["wan21_t2v_1_3b", "wan22_ti2v_5b", "wan22_t2v_a14b", "ltx_video"]
)
def test_other_video_models_run_the_whole_chain(model, tmp_path, dagster_instance):
    data = small_brief(
        video={"model": model, "fps": 24},
        references={"count": 2},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=[{"id": "only", "prompt": "she nods", "duration_s": 0.5, "seed": 1}],
    )
    outcome = run_chain(
        write_brief(tmp_path / "inbox", data), tmp_path / "artifacts", dagster_instance
    )
    assert outcome.success
    final = Path(metadata(outcome, "deliverables")["final"])
    info = probe_video(final)
    assert (info.width, info.height, info.fps, info.frame_count) == (1920, 1080, 24, 12)
    assert metadata(outcome, "video_clips")["model"] == f"tiny/{model}"


def lora_check(outcome) -> tuple[bool, str]:
    (evaluation,) = [
        e
        for e in outcome.get_asset_check_evaluations()
        if e.check_name == "lora_loads_into_pipeline"
    ]
    return evaluation.passed, evaluation.metadata["detail"].value


def test_reused_lora_reports_its_recorded_load_check_unless_the_file_changed(tmp_path):
    data = small_brief(
        references={"count": 2},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=[{"id": "only", "prompt": "she nods", "duration_s": 0.5, "seed": 1}],
        deliverable={"resolution": [320, 180]},  # the LoRA is checked, not the cut's size
    )
    brief, root = write_brief(tmp_path / "inbox", data), tmp_path / "artifacts"
    with DagsterInstance.ephemeral() as instance:
        first = lora_check(run_chain(brief, root, instance))
        again = lora_check(run_chain(brief, root, instance))
        # Checked inside the build, against the staged file; a rerun reports that same result.
        assert first[0] and first[1].endswith("LoRA layers (checked when built)")
        assert again == first
        (lora,) = root.glob("acme-health/dr-ana/character_lora/*/pytorch_lora_weights.safetensors")
        good = lora.read_bytes()
        lora.write_bytes(b"damaged after publication")
        # Run alone, the clips refuse the damaged file, naming it, rather than render without
        # the character.
        instance.add_dynamic_partitions(CHARACTERS, [KEY])
        damaged = materialize_fresh(
            ASSETS,
            selection=["video_clips"],
            partition_key=KEY,
            instance=instance,
            resources=resource_defs(root=root, profile="tiny", inbox=[str(brief)]),
            raise_on_error=False,
        )
        (failure,) = [e for e in damaged.all_events if e.is_step_failure]
        assert failure.step_key == "video_clips"
        assert str(lora) in failure.step_failure_data.error.to_string()
        # The chain checks the LoRA against its manifest before reuse: the damaged version is
        # moved aside and trained again, to the same bytes, and loads.
        passed, detail = lora_check(run_chain(brief, root, instance))
        assert passed and detail.endswith("(checked when built)")
        assert lora.read_bytes() == good  # the same version, published again
