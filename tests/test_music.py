"""Generated music: `audio.music: {prompt, seed}` through diffusers' AceStepPipeline (tiny in code),
one content-addressed unit reused byte for byte, mixed under the cut like a producer's track."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models

from resources.domain.brief import Brief
from resources.domain.registry import ACE_STEP
from resources.domain.sound_files import read_wav
from resources.models.model_store import ModelStore
from resources.sound.master import decode_audio
from resources.sound.music import compose
from resources.storage.artifact_store import ArtifactStore, sha256_file

pytestmark = pytest.mark.slow  # whole-chain materializations

PROMPT = "calm piano under a medical lecture"


def _units(root: Path) -> list[Path]:
    base = root / "acme-health" / "dr-ana" / "music"
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("music")
    root, models = base / "artifacts", shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    store = ArtifactStore(root=str(root))
    found = {}
    for name, seed in (("first", 5), ("again", 5), ("other", 6)):
        data = quick_brief(audio={"music": {"prompt": PROMPT, "seed": seed}})
        data["shots"][0]["duration_s"] = 1.5
        run_quick_chain(instance, base / name, root, data, models=models)
        final = store.current("acme-health", "dr-ana", "deliverables")
        found[name] = {
            "units": _units(root),
            "final": store.path(final) / "final.mp4",
            "manifest": store.manifest(final),
            "final_sha": sha256_file(store.path(final) / "final.mp4"),
        }
    return found


def test_a_brief_with_a_music_prompt_validates():
    brief = Brief.model_validate(quick_brief(audio={"music": {"prompt": PROMPT, "seed": 3}}))
    assert brief.audio.music.prompt == PROMPT and brief.audio.music.seed == 3


def test_generated_music_is_a_unit_with_its_engine_and_licence_conditions(runs):
    (unit,) = runs["first"]["units"]
    manifest = json.loads((unit / "manifest.json").read_text())
    assert manifest["parameters"]["prompt"] == PROMPT and manifest["parameters"]["seconds"] == 2
    assert manifest["licence"]["commercial_use"] is True and manifest["licence"]["open_questions"]
    audio = read_wav(unit / "music.wav")
    assert audio.rate == 48_000 and audio.samples.shape[1] == 2
    assert abs(audio.seconds - 2.0) < 0.05 and float(np.abs(audio.samples).max()) > 1e-3


def test_the_generated_musics_engine_is_in_the_masters_lineage_with_its_licence(runs):
    master = runs["first"]["manifest"]
    (music,) = [m for m in master["models"] if m["name"] == ACE_STEP.name]
    assert music["licence"]["licence"] == ACE_STEP.licence and music["licence"]["unknown"]
    assert all(m["licence"]["licence"] for m in master["models"])


def test_the_master_carries_the_music_and_the_same_brief_reuses_the_unit_byte_for_byte(runs):
    samples, rate = decode_audio(runs["first"]["final"])
    assert rate == 48_000 and float(np.abs(samples).max()) > 1e-3
    assert runs["again"]["units"] == runs["first"]["units"]
    assert runs["again"]["final_sha"] == runs["first"]["final_sha"]
    music = runs["first"]["manifest"]["sound"]["music"]
    assert music["unit"] == runs["first"]["units"][0].name and music["licence"] == ACE_STEP.licence


def test_another_seed_makes_another_bed(runs):
    assert len(runs["other"]["units"]) == 2
    new = [u for u in runs["other"]["units"] if u not in runs["first"]["units"]]
    (unit,) = new
    (old,) = runs["first"]["units"]
    assert sha256_file(unit / "music.wav") != sha256_file(old / "music.wav")
    assert runs["other"]["final_sha"] != runs["first"]["final_sha"]


def test_the_same_prompt_length_and_seed_give_the_same_samples(tmp_path_factory):
    folder = ModelStore(models_dir=str(shared_models(tmp_path_factory))).music_model_dir(ACE_STEP)
    a, rate = compose(ACE_STEP, folder, PROMPT, 1.0, 9)
    b, _ = compose(ACE_STEP, folder, PROMPT, 1.0, 9)
    c, _ = compose(ACE_STEP, folder, "upbeat drums", 1.0, 9)
    assert rate == 48_000 and a.shape == (48_000, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
