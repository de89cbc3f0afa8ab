"""Integrity on reuse: a finished artifact is checked against its manifest before it is reused.

Each test damages one kind of artifact the way a disk, an operator or a kill would, reruns, and
asserts what the rerun did: rebuilt only the broken unit with the same bytes, or stopped with one
line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_brief
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models

from assets.stages.base import Run, build_or_reuse
from assets.stages.character_brief import snapshot_brief
from assets.stages.reference_images import make_references
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.brief import load_brief
from resources.domain.registry import video_model
from resources.lora.checkpoints import load_newest_checkpoint, save_checkpoint
from resources.lora.output import canonical_safetensors
from resources.lora.trainer import lora_loads_into_pipeline
from resources.media.video_checks import inspect_video, picture_problems
from resources.media.video_io import write_video
from resources.models.model_store import ModelStore
from resources.stills.image_generator import ImageGenerator
from resources.storage.artifact_store import ArtifactStore, build_manifest, write_json

pytestmark = pytest.mark.slow  # whole-chain runs with damaged artifacts

CHARACTER = Path("acme-health") / "dr-ana"
SHOTS = [
    {"id": "one", "prompt": "she nods", "duration_s": 0.3, "seed": 1},
    {"id": "two", "prompt": "she waves", "duration_s": 0.3, "seed": 2},
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current(root: Path, asset: str) -> Path:
    folder = root / CHARACTER / asset
    return folder / json.loads((folder / "current.json").read_text())["version"]


def quarantined(root: Path, asset: str) -> list[Path]:
    return sorted((root / CHARACTER / asset).glob(".quarantine-*"))


# -- reference stills, through the plain stage functions -------------------------------------


@pytest.fixture
def stills(tmp_path, tmp_path_factory):
    """A finished reference_images version and a way to rerun the stage, with its log."""
    path = write_brief(tmp_path / "inbox", quick_brief())
    lines: list[str] = []
    run = Run(
        client="acme-health",
        character="dr-ana",
        store=ArtifactStore(root=str(tmp_path / "root")),
        models=ModelStore(profile="tiny", models_dir=str(shared_models(tmp_path_factory))),
        device="cpu",
        dtype=torch.float32,
        log=lines.append,
    )
    snapshot_brief(run, path, load_brief(path))
    first = make_references(run, ImageGenerator())
    originals = {p.name: sha256(p) for p in first.folder.glob("ref_*.png")}

    def again():
        lines.clear()
        return make_references(run, ImageGenerator())

    return first, originals, again, lines, tmp_path / "root"


def test_a_truncated_still_is_rendered_again_alone_with_the_same_bytes(stills):
    first, originals, again, lines, root = stills
    damaged = first.folder / "ref_001.png"
    damaged.write_bytes(damaged.read_bytes()[:100])
    result = again()
    assert not result.reused and result.checks[0].passed
    assert {p.name: sha256(p) for p in result.folder.glob("ref_*.png")} == originals
    rendered = [line for line in lines if line.startswith("reference ")]
    assert len(rendered) == 1 and rendered[0].startswith("reference 1 ")
    assert any("ref_001.png has 100 bytes" in line for line in lines)
    assert len(quarantined(root, "reference_images")) == 1


def test_a_manifest_whose_hashes_were_replaced_is_treated_as_corrupt(stills):
    first, originals, again, lines, _ = stills
    manifest_file = first.folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    for entry in manifest["files"]:
        entry["sha256"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))
    result = again()
    assert not result.reused
    assert {p.name: sha256(p) for p in result.folder.glob("ref_*.png")} == originals
    assert all(f["sha256"] != "0" * 64 for f in result.manifest["files"])


def test_a_manifest_that_is_not_json_is_named_and_rebuilt(stills):
    first, _, again, lines, _ = stills
    (first.folder / "manifest.json").write_text("{oops")
    result = again()
    assert not result.reused and result.checks[0].passed
    assert any(f"{first.folder / 'manifest.json'} is not valid JSON" in line for line in lines)


def test_a_sound_version_is_reused_and_its_hashes_are_cached_by_size_and_mtime(stills):
    first, _, again, _, root = stills
    assert again().reused
    cache = json.loads((first.folder.parent / f".verified-{first.ref.version}.json").read_text())
    stat = (first.folder / "ref_000.png").stat()
    assert cache["ref_000.png"][:2] == [stat.st_size, stat.st_mtime_ns]
    assert again().reused
    assert not quarantined(root, "reference_images")


def test_a_damaged_still_left_in_staging_is_rendered_again(tmp_path, tmp_path_factory):
    generator = ImageGenerator()
    from resources.stills.image_generator import reference_plan, still_file

    models = ModelStore(profile="tiny", models_dir=str(shared_models(tmp_path_factory)))
    size = models.still_size()
    plan = reference_plan(name="Ana", description="a doctor", trigger="drana", count=2, base_seed=3)
    kwargs = dict(width=size.width, height=size.height, steps=size.steps, guidance_scale=5.0)
    out = tmp_path / ".staging-x"
    lines: list[str] = []
    generator.generate_references(models.sdxl_dir(), plan, out, log=lines.append, **kwargs)
    good = sha256(still_file(out, 0))
    still_file(out, 0).write_bytes(still_file(out, 0).read_bytes()[:100])
    lines.clear()
    generator.generate_references(models.sdxl_dir(), plan, out, log=lines.append, **kwargs)
    assert sha256(still_file(out, 0)) == good
    assert [line.split(" (")[0] for line in lines if line.startswith("reference 0 ")] == [
        "reference 0"
    ]
    assert not any(line.startswith("reference 1 ") for line in lines)


# -- the whole chain: clips, shot units, LoRA, deliverable --------------------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("integrity")
    root, models = folder / "artifacts", shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    data = quick_brief(shots=SHOTS)
    run_quick_chain(instance, folder / "inbox", root, data, models=models)

    def rerun() -> str:
        _, outcome = run_quick_chain(instance, folder / "inbox", root, data, models=models)
        return "\n".join(e.user_message for e in instance.all_logs(outcome.run_id))

    return root, rerun, models


def test_a_deleted_clip_in_video_clips_is_restored_from_its_unit_without_rendering(chain):
    root, rerun, _ = chain
    clip = current(root, "video_clips") / "shots" / "one" / "clip.mp4"
    before = sha256(clip)
    clip.unlink()
    log = rerun()
    assert sha256(current(root, "video_clips") / "shots" / "one" / "clip.mp4") == before
    assert "rendered as unit" not in log
    assert "shot one: unchanged, reusing unit" in log


def test_a_truncated_shot_unit_is_rendered_again_and_only_that_shot(chain):
    root, rerun, _ = chain
    clip = current(root, "video_clips") / "shots" / "two" / "clip.mp4"
    with open(clip, "r+b") as handle:  # in place: the unit and its hard link share the bytes
        handle.truncate(100)
    log = rerun()
    assert "shot two: rendered as unit" in log
    assert "shot one: rendered" not in log
    clips = current(root, "video_clips")
    assert not ArtifactStore(root=str(root)).verify_folder(
        ArtifactRef("acme-health", "dr-ana", "video_clips", clips.name), clips
    )


def test_a_removed_lora_manifest_is_retrained_once_to_the_same_bytes(chain):
    root, rerun, _ = chain
    lora = current(root, "character_lora")
    before = sha256(lora / "pytorch_lora_weights.safetensors")
    (lora / "manifest.json").unlink()
    rerun()
    assert sha256(current(root, "character_lora") / "pytorch_lora_weights.safetensors") == before
    log = rerun()  # and from then on it is reused
    assert "is corrupt" not in log


def test_a_lora_with_two_nan_values_is_retrained_not_rendered(chain):
    root, rerun, _ = chain
    lora = current(root, "character_lora") / "pytorch_lora_weights.safetensors"
    before = sha256(lora)
    data = bytearray(lora.read_bytes())
    data[-8:] = struct.pack("<2f", float("nan"), float("nan"))
    lora.write_bytes(bytes(data))
    rerun()
    assert sha256(current(root, "character_lora") / "pytorch_lora_weights.safetensors") == before


def test_a_lora_with_nan_values_is_refused_when_loaded_naming_the_file(chain, tmp_path):
    root, _, models = chain
    source = current(root, "character_lora") / "pytorch_lora_weights.safetensors"
    damaged = tmp_path / "pytorch_lora_weights.safetensors"
    data = bytearray(source.read_bytes())
    data[-8:] = struct.pack("<2f", float("nan"), float("nan"))
    damaged.write_bytes(bytes(data))
    model = video_model("hunyuan_video")
    model_dir = ModelStore(profile="tiny", models_dir=str(models)).video_model_dir(model)
    loads, detail = lora_loads_into_pipeline(model_dir, model, damaged)
    assert not loads
    assert f"LoRA file {damaged} holds NaN or infinite values" in detail


def test_a_truncated_final_cut_is_rebuilt(chain):
    root, rerun, _ = chain
    final = current(root, "deliverables") / "final.mp4"
    final.write_bytes(final.read_bytes()[: final.stat().st_size // 2])
    rerun()
    report = inspect_video(current(root, "deliverables") / "final.mp4")
    assert report.frame_count > 0 and report.width == 320
    assert quarantined(root, "deliverables")


def test_a_clip_overwritten_in_place_with_its_mtime_restored_is_not_reused(chain):
    root, rerun, _ = chain
    clip = current(root, "video_clips") / "shots" / "one" / "clip.mp4"
    before, info = sha256(clip), clip.stat()
    data = bytearray(clip.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # same size, other bytes
    with open(clip, "r+b") as handle:  # in place: the unit and its hard link share the bytes
        handle.write(bytes(data))
    os.utime(clip, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert clip.stat().st_mtime_ns == info.st_mtime_ns and clip.stat().st_size == info.st_size
    log = rerun()
    assert "shot one: rendered as unit" in log
    assert sha256(current(root, "video_clips") / "shots" / "one" / "clip.mp4") == before


def test_a_unit_folder_replaced_by_a_copy_of_another_unit_is_not_reused(chain):
    root, rerun, _ = chain
    clips = current(root, "video_clips")
    before = {shot["id"]: sha256(clips / "shots" / shot["id"] / "clip.mp4") for shot in SHOTS}
    units = root / CHARACTER / "shots"
    by_id = {  # the published units (not those quarantined by the tests before this one)
        json.loads(p.read_text())["id"]: p.parent
        for p in units.glob("*/shot.json")
        if not p.parent.name.startswith(".")
    }
    shutil.rmtree(by_id["one"])
    shutil.copytree(by_id["two"], by_id["one"])  # the outro's files under the intro's version
    shutil.rmtree(clips)  # the clips are assembled again from the units
    (clips.parent / "current.json").unlink()
    log = rerun()
    assert "shot one: rendered as unit" in log and "shot two: rendered" not in log
    after = current(root, "video_clips")
    assert {s["id"]: sha256(after / "shots" / s["id"] / "clip.mp4") for s in SHOTS} == before


def test_an_emptied_manifest_with_a_truncated_final_is_rebuilt_not_failed_forever(chain):
    root, rerun, _ = chain
    folder = current(root, "deliverables")
    before = sha256(folder / "final.mp4")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = []
    write_json(folder / "manifest.json", manifest)
    (folder / "final.mp4").write_bytes((folder / "final.mp4").read_bytes()[:1000])
    log = rerun()
    assert "does not list final.mp4, which every deliverables holds" in log
    assert sha256(current(root, "deliverables") / "final.mp4") == before
    assert "is corrupt" not in rerun()  # and from then on it is reused


# -- writers and checks ---------------------------------------------------------------------


def test_a_lora_with_nan_values_is_never_written():
    with pytest.raises(ValueError, match="lora_A.weight holds NaN or infinite values"):
        canonical_safetensors({"lora_A.weight": torch.tensor([1.0, float("nan")])}, {})


def test_a_checkpoint_with_nan_weights_is_skipped_for_the_previous_one(tmp_path):
    save_checkpoint(tmp_path, 2, {"step": 2, "lora": {"t": {"w": torch.ones(2)}}}, keep=3)
    save_checkpoint(tmp_path, 4, {"step": 4, "lora": {"t": {"w": torch.full((2,), torch.nan)}}}, 3)
    lines: list[str] = []
    state = load_newest_checkpoint(tmp_path, lines.append)
    assert state is not None and state["step"] == 2
    assert "skipping checkpoint step-000004: NaN or infinite values" in lines[0]


@pytest.mark.parametrize("level", [0, 128])
def test_frames_of_one_flat_colour_fail_the_picture_check(tmp_path, level):
    clip = tmp_path / "flat.mp4"
    write_video(clip, np.full((12, 64, 64, 3), level, dtype=np.uint8), fps=24)
    assert "every frame is one flat colour (no picture at all)" in picture_problems(
        inspect_video(clip)
    )


def test_a_textured_clip_has_no_flat_colour_problem(tmp_path):
    clip = tmp_path / "noise.mp4"
    frames = np.random.default_rng(0).integers(0, 255, (12, 64, 64, 3), dtype=np.uint8)
    write_video(clip, frames, fps=24)
    assert not [p for p in picture_problems(inspect_video(clip)) if "flat" in p]


# -- nothing half-written in a published folder ----------------------------------------------


def test_a_dead_attempts_partial_file_never_reaches_the_published_folder(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    ref = ArtifactRef("acme-health", "dr-ana", "deliverables", "0123456789abcdef")
    staging = tmp_path / "acme-health/dr-ana/deliverables/.staging-0123456789abcdef"
    staging.mkdir(parents=True)
    (staging / ".final.k3j2h1.partial.mp4").write_bytes(b"")  # what a kill left behind
    (staging / ".poster.jpg.abc.tmp").write_bytes(b"half")
    run = Run("acme-health", "dr-ana", store, None, "cpu", torch.float32, log=lambda _: None)

    def build(stage: Path) -> dict:
        (stage / "final.mp4").write_bytes(b"the cut")
        return dict(code_version="1", inputs={}, parameters={})

    build_or_reuse(run, ref, build)
    published = sorted(p.name for p in store.path(ref).iterdir())
    assert published == ["final.mp4", "manifest.json"]


def test_a_version_folder_without_manifest_is_moved_aside_and_published_anew(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    ref = ArtifactRef("acme-health", "dr-ana", "character_lora", "0123456789abcdef")
    store.path(ref).mkdir(parents=True)
    (store.path(ref) / "half.bin").write_bytes(b"x")
    with store.staging(ref) as stage:
        (stage / "lora.bin").write_bytes(b"lora")
        write_json(
            stage / "manifest.json",
            build_manifest(ref, stage, code_version="1", inputs={}, parameters={}),
        )
    assert store.current("acme-health", "dr-ana", "character_lora") == ref
    assert (store.path(ref) / "lora.bin").read_bytes() == b"lora"


def test_an_include_of_a_corrupt_unit_names_the_file(tmp_path):
    store = ArtifactStore(root=str(tmp_path))
    unit = ArtifactRef("acme-health", "dr-ana", "shots", "fedcba9876543210")
    with store.staging(unit) as stage:
        for name in ("clip.mp4", "poster.png", "shot.json"):  # what every shot unit holds
            (stage / name).write_bytes(b"a rendered shot")
        write_json(
            stage / "manifest.json",
            build_manifest(unit, stage, code_version="1", inputs={}, parameters={}),
        )
    (store.path(unit) / "clip.mp4").unlink()
    with pytest.raises(ArtifactError, match=r"clip.mp4 is missing"):
        store.include(unit, tmp_path / "stage", "shots/intro")
