"""The model store: tiny models built once and reused; production models found or named."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from resources.domain.registry import QWEN3_TTS_BASE, QWEN3_TTS_CUSTOM_VOICE, VIDEO_MODELS
from resources.models.model_store import (
    PUBLISHED_CHECK,
    ModelCorruptError,
    ModelNotFoundError,
    ModelStore,
    verify_published_hashes,
    weights_digest,
)


def test_production_profile_names_the_missing_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    store = ModelStore(profile="production", models_dir=str(tmp_path / "models"))
    model = VIDEO_MODELS["hunyuan_video"]
    with pytest.raises(ModelNotFoundError) as caught:
        store.video_model_dir(model)
    message = str(caught.value)
    assert "hunyuanvideo-community/HunyuanVideo" in message
    assert str(tmp_path / "models") in message


def test_production_profile_names_the_missing_upscaler_file(tmp_path):
    store = ModelStore(profile="production", models_dir=str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="RealESRGAN_x4plus.pth"):
        store.upscaler_file("realesrgan_x4plus")


def test_production_profile_uses_a_local_checkpoint_folder(tmp_path):
    folder = tmp_path / "Wan-AI" / "Wan2.1-T2V-1.3B-Diffusers"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    store = ModelStore(profile="production", models_dir=str(tmp_path))
    assert store.video_model_dir(VIDEO_MODELS["wan21_t2v_1_3b"]) == folder


def test_tiny_model_is_built_once_and_recorded_by_digest(tmp_path):
    store = ModelStore(profile="tiny", models_dir=str(tmp_path))
    model = VIDEO_MODELS["wan21_t2v_1_3b"]
    first = store.video_model_dir(model)
    stamp = (first / "model_index.json").stat().st_mtime_ns
    again = store.video_model_dir(model)
    assert again == first
    assert (again / "model_index.json").stat().st_mtime_ns == stamp
    record = store.record(model.name, model.repo_id, model.revision, first)
    assert record["id"] == "tiny/wan21_t2v_1_3b" and len(record["sha256"]) == 64


def test_interrupted_tiny_build_is_redone(tmp_path):
    store = ModelStore(profile="tiny", models_dir=str(tmp_path))
    half = tmp_path / "tiny" / "sdxl_base"
    half.mkdir(parents=True)
    (half / "junk.bin").write_text("half-written")
    folder = store.sdxl_dir()
    assert (folder / "model_index.json").is_file()
    assert not (folder / "junk.bin").exists()


def test_a_tiny_model_built_by_other_tiny_code_is_built_again(tmp_path):
    """A models folder kept from before a tiny config changed is not loaded as today's model."""
    from resources.tiny import builders_digest

    store = ModelStore(profile="tiny", models_dir=str(tmp_path))
    folder = store.upscaler_file("realesrgan_x4plus").parent
    marker = (folder / ".complete").read_text()
    assert builders_digest() in marker
    built = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / ".complete").write_text(marker.replace(builders_digest(), "0" * 16))
    (folder / "stale.bin").write_text("from an older tiny config")
    assert store.upscaler_file("realesrgan_x4plus").parent == folder
    assert not (folder / "stale.bin").exists()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == built
    stamp = (folder / ".complete").stat().st_mtime_ns
    store.upscaler_file("realesrgan_x4plus")  # built by today's code: loaded as it is
    assert (folder / ".complete").stat().st_mtime_ns == stamp


def _voice_builder(tmp_path, status: int) -> str:
    """A stand-in for the voice environment's python, with the real builder's argument format
    (`qwen3_tts.py FOLDER VARIANT ...`): it notes each call, writes each folder it is given."""
    python = tmp_path / "voice-python"
    python.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp_path / "calls.txt"}\n'
        'shift; while [ "$#" -gt 1 ]; do mkdir -p "$1"; echo "$2" > "$1/variant"; shift 2; done\n'
        f"exit {status}\n"
    )
    python.chmod(0o755)
    return str(python)


def test_both_tiny_voice_variants_are_built_by_one_voice_process(tmp_path):
    """The voice environment takes seconds to import qwen-tts: asking for one tiny Qwen3-TTS
    builds both variants in one process, and the other is then found built."""
    store = ModelStore(
        profile="tiny", models_dir=str(tmp_path), voice_python=_voice_builder(tmp_path, 0)
    )
    custom = store.voice_model_dir(QWEN3_TTS_CUSTOM_VOICE)
    base = store.voice_model_dir(QWEN3_TTS_BASE)
    assert (base, custom) == (
        tmp_path / "tiny" / "qwen3_tts_base",
        tmp_path / "tiny" / "qwen3_tts_custom_voice",
    )
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert [call.split()[1:] for call in calls] == [
        [str(base), "base", str(custom), "custom_voice"]
    ]
    assert calls[0].split()[0].endswith("resources/tiny/qwen3_tts.py")
    assert [(f / "variant").read_text() for f in (base, custom)] == ["base\n", "custom_voice\n"]


def test_a_failed_tiny_voice_build_leaves_neither_variant_built(tmp_path):
    store = ModelStore(
        profile="tiny", models_dir=str(tmp_path), voice_python=_voice_builder(tmp_path, 1)
    )
    with pytest.raises(ModelNotFoundError, match="tiny Qwen3-TTS could not be built"):
        store.voice_model_dir(QWEN3_TTS_BASE)
    # Asked again, both are built again (the half-written folders removed first).
    with pytest.raises(ModelNotFoundError):
        store.voice_model_dir(QWEN3_TTS_CUSTOM_VOICE)
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 2


def test_the_model_digest_covers_configs_tokenizers_links_and_single_files(tmp_path, monkeypatch):
    from resources.models import model_store
    from resources.models.model_store import weights_digest

    base = tmp_path / "base"
    (base / "tokenizer").mkdir(parents=True)
    (base / "transformer").mkdir()
    (base / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"w" * 64)
    (base / "tokenizer" / "vocab.json").write_text('{"a": 1}')
    (base / "scheduler_config.json").write_text('{"shift": 5.0}')
    single = tmp_path / "high_noise.safetensors"
    single.write_bytes(b"s" * 64)
    folder = tmp_path / "assembled"
    folder.mkdir()
    for entry in base.iterdir():
        (folder / entry.name).symlink_to(entry)
    (folder / "single_files.json").write_text(json.dumps({"transformer": str(single)}))
    first = weights_digest(folder)

    hashed = []
    real = model_store.sha256_file
    monkeypatch.setattr(model_store, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert weights_digest(folder) == first and hashed == []  # cached: nothing read again

    changes = [
        base / "tokenizer" / "vocab.json",  # through a symlinked component
        base / "scheduler_config.json",
        single,  # named by single_files.json, outside the folder
    ]
    seen = {first}
    for file in changes:
        time.sleep(0.01)  # a new mtime, as any edit gives
        file.write_bytes(file.read_bytes() + b" ")
        digest = weights_digest(folder)
        assert digest not in seen, file
        seen.add(digest)


WAN = VIDEO_MODELS["wan21_t2v_1_3b"]
WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"


def downloaded(tmp_path, *, commit: str = WAN.revision):
    """Wan 2.1 1.3B as `huggingface-cli download --local-dir` leaves it: files + metadata."""
    folder = tmp_path / WAN.repo_id
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    data = bytes(range(256)) * 64
    (folder / WEIGHTS).write_bytes(data)
    meta = folder / ".cache" / "huggingface" / "download" / f"{WEIGHTS}.metadata"
    meta.parent.mkdir(parents=True)
    meta.write_text(f"{commit}\n{hashlib.sha256(data).hexdigest()}\n1733300000.0\n")
    return folder


def test_production_weights_are_checked_against_the_published_sha256_once(tmp_path):
    folder = downloaded(tmp_path)
    store = ModelStore(profile="production", models_dir=str(tmp_path))
    assert store.video_model_dir(WAN) == folder
    assert (folder / PUBLISHED_CHECK).is_file()  # checked once: remembered for this download
    weights = folder / WEIGHTS
    info = weights.stat()
    with open(weights, "r+b") as handle:  # replaced in place, same size, mtime put back
        handle.write(b"\xff" * 16)
    os.utime(weights, ns=(info.st_atime_ns, info.st_mtime_ns))
    with pytest.raises(ModelCorruptError, match=r"diffusion_pytorch_model.safetensors: sha256"):
        store.video_model_dir(WAN)


def test_weights_downloaded_at_another_commit_than_the_pinned_one_are_refused(tmp_path):
    downloaded(tmp_path, commit="1" * 40)
    store = ModelStore(profile="production", models_dir=str(tmp_path))
    with pytest.raises(ModelCorruptError, match=f"registry pins {WAN.revision}"):
        store.video_model_dir(WAN)


def test_a_hugging_face_cache_blob_is_checked_against_its_name(tmp_path):
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / ("a" * 40)
    blobs.mkdir()
    (snapshot / "unet").mkdir(parents=True)
    data = b"weights" * 100
    blob = blobs / hashlib.sha256(data).hexdigest()
    blob.write_bytes(data)
    (snapshot / "unet" / "w.safetensors").symlink_to(blob)
    verify_published_hashes(snapshot, "org/model@main", "main")
    blob.write_bytes(b"x" * len(data))
    with pytest.raises(ModelCorruptError, match="w.safetensors"):
        verify_published_hashes(snapshot, "org/model@main", "main")


def test_the_weights_digest_changes_when_a_file_changes_under_a_restored_mtime(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "weights.bin"
    weights.write_bytes(b"a" * 1000)
    before = weights_digest(folder)
    info = weights.stat()
    weights.write_bytes(b"b" * 1000)
    os.utime(weights, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert weights_digest(folder) != before
