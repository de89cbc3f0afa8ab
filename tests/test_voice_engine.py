"""The voice engine: Qwen3-TTS built tiny in code, spoken by its worker process, in its two
variants: Base clones a recorded sample, CustomVoice speaks a stock voice (a preset).

These run the real qwen-tts code (`Qwen3TTSModel.from_pretrained`, `create_voice_clone_prompt`,
`generate_voice_clone`, `generate_custom_voice`) in the voice environment, through the pipeline's
own engine client.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from quick_chain import shared_models
from sound_support import write_voice_sample

from resources.domain.registry import QWEN3_TTS_BASE, QWEN3_TTS_CUSTOM_VOICE, voice_model_for
from resources.models.model_store import ModelNotFoundError, ModelStore
from resources.sound.voice import Reference, VoiceEngine, VoiceEngineError, end_idle_workers

LINE = "Olá, eu sou a doutora Ana. Vamos estudar o caso?"


def _tiny_dir(tmp_path_factory, entry) -> Path:
    store = ModelStore(profile="tiny", models_dir=str(shared_models(tmp_path_factory)))
    return store.voice_model_dir(entry)


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory) -> Path:
    return _tiny_dir(tmp_path_factory, QWEN3_TTS_BASE)


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> dict[str, Reference]:
    folder = tmp_path_factory.mktemp("voices")
    return {
        "ana": Reference(write_voice_sample(folder / "ana.wav", f0=190.0), "Esta é a minha voz."),
        "bruno": Reference(
            write_voice_sample(folder / "bruno.wav", f0=110.0), "Esta é a minha voz."
        ),
    }


@pytest.fixture(scope="module")
def spoken(engine_dir, voices) -> dict[str, np.ndarray]:
    python = ModelStore().voice_interpreter()
    end_idle_workers()  # a worker of its own: "a" is the first line it says
    engine = VoiceEngine.load(QWEN3_TTS_BASE, engine_dir, "cpu", python)
    try:
        said = {
            "a": engine.speak(LINE, 7, "pt-BR", voices["ana"], limit_s=3.0),
            "again": engine.speak(LINE, 7, "pt-BR", voices["ana"], limit_s=3.0),
            "seed": engine.speak(LINE, 8, "pt-BR", voices["ana"], limit_s=3.0),
            "voice": engine.speak(LINE, 7, "pt-BR", voices["bruno"], limit_s=3.0),
            "short": engine.speak(LINE, 7, "pt-BR", voices["ana"], limit_s=0.5),
        }
        said["rate"] = engine.rate
        said["pid"] = engine.worker.process.pid
    finally:
        engine.close()
    return said


def _digest(samples: np.ndarray) -> str:
    return hashlib.sha256(samples.tobytes()).hexdigest()


def test_the_tiny_checkpoint_has_the_published_layout(engine_dir):
    for name in ("config.json", "model.safetensors", "generate_config.json", "tokenizer.json"):
        assert (engine_dir / name).is_file(), name
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        assert (engine_dir / "speech_tokenizer" / name).is_file(), name


def test_a_cloned_line_is_audible_24k_speech_within_its_limit(spoken):
    samples = spoken["a"]
    assert spoken["rate"] == 24_000
    assert samples.dtype == np.float32 and samples.ndim == 1
    # At most 3 s: 38 codec frames of 1920 samples at 12.5 frames a second.
    assert 0 < len(samples) <= 38 * 1920
    assert 1e-3 < float(np.sqrt(np.mean(samples**2))) and float(np.abs(samples).max()) <= 1.0
    assert len(spoken["short"]) <= 7 * 1920  # 0.5 s: 7 frames at most


def test_the_same_request_gives_the_same_samples_and_seed_and_voice_change_them(spoken):
    assert _digest(spoken["a"]) == _digest(spoken["again"])
    assert _digest(spoken["a"]) != _digest(spoken["seed"])
    # The sample steers the synthesis: another voice, same text and seed, other samples.
    assert _digest(spoken["a"]) != _digest(spoken["voice"])


def test_a_kept_worker_says_a_line_as_a_fresh_one_and_one_that_failed_is_not_kept(
    engine_dir, voices, spoken, tmp_path
):
    """A closed engine's CPU worker serves this process's next load of the checkpoint; what it
    says does not depend on what it said before. A worker that answered an error is ended."""
    python = ModelStore().voice_interpreter()
    kept = VoiceEngine.load(QWEN3_TTS_BASE, engine_dir, "cpu", python)
    try:  # the worker that said `spoken`'s five lines
        assert kept.worker.process.pid == spoken["pid"]
        again = kept.speak(LINE, 7, "pt-BR", voices["ana"], limit_s=3.0)
        gone = Reference(tmp_path / "gone.wav", "Esta é a minha voz.")
        with pytest.raises(VoiceEngineError, match="voice engine qwen3_tts_base: .*gone.wav"):
            kept.speak(LINE, 7, "pt-BR", gone, limit_s=3.0)
    finally:
        kept.close()
    with pytest.raises(VoiceEngineError, match="closed"):
        kept.speak(LINE, 7, "pt-BR", voices["ana"], limit_s=3.0)
    assert kept.worker.process.poll() is not None  # it answered an error: ended
    fresh = VoiceEngine.load(QWEN3_TTS_BASE, engine_dir, "cpu", python)
    try:
        assert fresh.worker.process.pid != spoken["pid"]
        anew = fresh.speak(LINE, 7, "pt-BR", voices["ana"], limit_s=3.0)
    finally:
        fresh.close()
    assert _digest(again) == _digest(spoken["a"]) == _digest(anew)


def _speak_once_and_leave(engine_dir: Path, voice: Reference, temp: str) -> None:
    """In a process multiprocessing started: say a line, close the engine (its CPU worker is
    kept idle), and leave as such a process does (os._exit, no atexit)."""
    import os
    import tempfile

    os.environ["TMPDIR"], tempfile.tempdir = temp, temp
    python = ModelStore().voice_interpreter()
    engine = VoiceEngine.load(QWEN3_TTS_BASE, engine_dir, "cpu", python)
    try:
        engine.speak(LINE, 7, "pt-BR", voice, limit_s=1.0)
    finally:
        engine.close()


@pytest.mark.slow  # a process started as the daemon's steps are
def test_a_dagster_step_process_leaves_nothing_of_its_voice_worker_in_the_temporary_folder(
    engine_dir, voices, tmp_path
):
    """A run the daemon launches forks each step from the job's forkserver; such a process
    leaves by os._exit, so atexit never ended its idle worker and the worker's scratch folder
    (its log, the lines' files) stayed in the temporary folder, one per narration step, with
    the `.ses` file onnxruntime writes there at import. Both are gone when the step ends."""
    import multiprocessing

    temp = tmp_path / "tmp"
    temp.mkdir()
    step = multiprocessing.get_context("forkserver").Process(
        target=_speak_once_and_leave, args=(engine_dir, voices["ana"], str(temp))
    )
    step.start()
    step.join(120)
    assert step.exitcode == 0
    assert sorted(p.name for p in temp.iterdir()) == []


def test_a_worker_that_cannot_load_says_why_in_one_line(tmp_path):
    """A folder that holds no checkpoint is named before the worker imports torch (seconds)."""
    python = ModelStore().voice_interpreter()
    said = r"voice engine qwen3_tts_base: cannot load .*missing: no config.json there"
    with pytest.raises(VoiceEngineError, match=said):
        VoiceEngine.load(QWEN3_TTS_BASE, tmp_path / "missing", "cpu", python)


def test_a_missing_voice_environment_is_named(tmp_path):
    store = ModelStore(voice_python=str(tmp_path / "nowhere" / "python"))
    with pytest.raises(ModelNotFoundError, match="voice environment not found: .*nowhere"):
        store.voice_interpreter()


def test_a_recorded_voice_is_cloned_by_base_and_a_preset_spoken_by_custom_voice():
    assert voice_model_for(True) is QWEN3_TTS_BASE and QWEN3_TTS_BASE.clones_voice
    assert voice_model_for(False) is QWEN3_TTS_CUSTOM_VOICE
    assert not QWEN3_TTS_CUSTOM_VOICE.clones_voice
    assert QWEN3_TTS_CUSTOM_VOICE.repo_id == "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
    assert {QWEN3_TTS_BASE.licence, QWEN3_TTS_CUSTOM_VOICE.licence} == {"Apache-2.0"}


@pytest.fixture(scope="module")
def stock_dir(tmp_path_factory) -> Path:
    return _tiny_dir(tmp_path_factory, QWEN3_TTS_CUSTOM_VOICE)


@pytest.fixture(scope="module")
def stock(stock_dir) -> dict[str, np.ndarray]:
    python = ModelStore().voice_interpreter()
    engine = VoiceEngine.load(QWEN3_TTS_CUSTOM_VOICE, stock_dir, "cpu", python)
    try:
        said = {
            "serena": engine.speak(LINE, 7, "pt-BR", limit_s=3.0, preset="Serena"),
            "again": engine.speak(LINE, 7, "pt-BR", limit_s=3.0, preset="Serena"),
            "aiden": engine.speak(LINE, 7, "pt-BR", limit_s=3.0, preset="Aiden"),
        }
        said["rate"] = engine.rate
        with pytest.raises(VoiceEngineError, match="speaks with a preset"):
            engine.speak(LINE, 7, "pt-BR", limit_s=3.0)
    finally:
        engine.close()
    return said


def test_the_tiny_custom_voice_checkpoint_names_the_published_speakers(stock_dir):
    import json

    config = json.loads((stock_dir / "config.json").read_text())
    assert config["tts_model_type"] == "custom_voice"
    talker = config["talker_config"]
    names = {n.lower() for n in QWEN3_TTS_CUSTOM_VOICE.preset_names()}
    assert set(talker["spk_id"]) == names == set(talker["spk_is_dialect"])
    assert talker["spk_is_dialect"]["eric"] == "sichuan_dialect"
    assert (stock_dir / "speech_tokenizer" / "model.safetensors").is_file()


def test_a_preset_speaks_the_same_samples_again_and_another_preset_other_samples(stock):
    assert stock["rate"] == 24_000
    assert stock["serena"].dtype == np.float32 and 0 < len(stock["serena"]) <= 38 * 1920
    assert float(np.sqrt(np.mean(stock["serena"] ** 2))) > 1e-3
    assert _digest(stock["serena"]) == _digest(stock["again"])
    assert _digest(stock["serena"]) != _digest(stock["aiden"])


def test_production_loads_the_stock_voices_from_the_model_store(tmp_path):
    store = ModelStore(profile="production", models_dir=str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="Qwen3-TTS-12Hz-1.7B-CustomVoice"):
        store.voice_model_dir(QWEN3_TTS_CUSTOM_VOICE)
