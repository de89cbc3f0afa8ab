"""LoRA training resumes exactly: after SIGKILL, and past corrupt or partial checkpoints."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lora_support import build_model, make_stills, train

from resources.lora.trainer import CHECKPOINTS, LORA_FILE, LoraTrainer
from resources.runtime.interruption import WorkInterrupted
from resources.storage.artifact_store import sha256_file

REPO = Path(__file__).resolve().parent.parent
JOB = Path(__file__).resolve().parent / "lora_train_job.py"
MODEL = "ltx_video"  # the fastest tiny family; the loop is the same for all of them


def _job(model_dir: Path, out_dir: Path, *extra: str, model: str = MODEL) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, str(JOB), model, str(model_dir), str(out_dir), *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen) -> list[str]:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    return output.splitlines()


def _sha(lines: list[str]) -> str:
    return next(line.split()[1] for line in lines if line.startswith("sha256 "))


# CogVideoX's v-prediction objective, LTX-2's audio-video transformer, Kandinsky 5's channels-last
# transformer and HunyuanVideo 1.5's (its LoRA written without a diffusers loader) go through the
# same checkpoints and resume.
@pytest.mark.slow  # a fault test: the trainer is killed with SIGKILL and restarted
@pytest.mark.parametrize(
    "model", [MODEL, "cogvideox_5b", "ltx_2", "kandinsky5_lite", "hunyuan_video_1_5"]
)
def test_sigkill_mid_training_then_restart_gives_identical_lora(tmp_path: Path, model) -> None:
    entry, model_dir = build_model(model, tmp_path / "models")
    # CogVideoX's tiny model is the slower one: 8 steps still put the kill between checkpoints.
    steps = 16 if model == MODEL else 8
    args = ("--steps", str(steps), "--checkpoint-every", "4")
    # Held after step 6, so that the kill lands there however loaded the machine is.
    victim = _job(model_dir, tmp_path / "b" / "out", *args, "--hold-at", "6", model=model)
    # The uninterrupted reference trains in this process meanwhile, on the job's stills (the same
    # generator): the resumed LoRA must match a training in another process, not only its own kind.
    stills = make_stills(tmp_path / "a" / "stills")
    try:
        reference = train(LoraTrainer(), entry, model_dir, stills, tmp_path / "a" / "out",
                          steps=steps, checkpoint_every=4)  # fmt: skip
    except BaseException:  # the victim holds at step 6 for ever: it must not outlive the test
        victim.kill()
        victim.wait()
        raise
    seen = []
    for line in victim.stdout:  # kill between checkpoints: after step 6 (checkpoint at 4)
        seen.append(line)
        if line.strip() == "step 6":
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "".join(seen)
    killed_out = tmp_path / "b" / "out"
    assert not (killed_out / LORA_FILE).exists()
    assert sorted(p.name for p in (killed_out / CHECKPOINTS).glob("step-*"))

    resumed = _finish(_job(model_dir, killed_out, *args, model=model))
    resumed_at = [line for line in resumed if line.startswith("resumed LoRA training at step")]
    assert resumed_at and int(resumed_at[0].split()[5]) == 4
    assert _sha(resumed) == sha256_file(reference.lora_file)
    assert sha256_file(killed_out / LORA_FILE) == _sha(resumed)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted reference LoRA, and a run stopped at step 6 with checkpoints 2, 4, 6."""
    root = tmp_path_factory.mktemp("lora_resume")
    model, model_dir = build_model(MODEL, root / "models")
    stills = make_stills(root / "stills")
    trainer = LoraTrainer(keep_checkpoints=3)
    reference = train(trainer, model, model_dir, stills, root / "reference")
    stopped = root / "stopped"
    steps_done = []

    def stop_at_six() -> str | None:
        steps_done.append(1)
        return "operator stop" if len(steps_done) == 6 else None

    with pytest.raises(WorkInterrupted, match="LoRA training step 6"):
        train(trainer, model, model_dir, stills, stopped, stop=stop_at_six)
    return {
        "model": model,
        "model_dir": model_dir,
        "stills": stills,
        "trainer": trainer,
        "reference_sha": sha256_file(reference.lora_file),
        "stopped": stopped,
    }


def _resume_copy(interrupted: dict, tmp_path: Path) -> tuple[Path, list[str]]:
    out = tmp_path / "resume"
    shutil.copytree(interrupted["stopped"], out)
    return out, []


def _resume(interrupted: dict, out: Path, log: list[str]):
    """Run the interrupted training again in `out`, collecting its log lines."""
    trainer, model = interrupted["trainer"], interrupted["model"]
    return train(trainer, model, interrupted["model_dir"], interrupted["stills"], out,
                 log=log.append)  # fmt: skip


def test_stop_request_checkpoints_the_step_it_stopped_at(interrupted: dict) -> None:
    names = sorted(p.name for p in (interrupted["stopped"] / CHECKPOINTS).glob("step-*"))
    assert names == ["step-000002", "step-000004", "step-000006"]


def test_truncated_checkpoint_is_skipped_for_the_previous_good_one(
    interrupted: dict, tmp_path: Path
) -> None:
    out, log = _resume_copy(interrupted, tmp_path)
    state = out / CHECKPOINTS / "step-000006" / "state.pt"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    result = _resume(interrupted, out, log)
    assert result.resumed_from == 4
    assert any("skipping checkpoint step-000006" in line for line in log)
    assert sha256_file(result.lora_file) == interrupted["reference_sha"]


def test_partial_checkpoint_without_its_record_is_never_loaded(
    interrupted: dict, tmp_path: Path
) -> None:
    out, log = _resume_copy(interrupted, tmp_path)
    (out / CHECKPOINTS / "step-000006" / "checkpoint.json").unlink()
    # What a crash during a checkpoint write leaves: a temporary folder, never read.
    shutil.copytree(out / CHECKPOINTS / "step-000004", out / CHECKPOINTS / ".tmp-step-000008")
    result = _resume(interrupted, out, log)
    assert result.resumed_from == 4
    assert sha256_file(result.lora_file) == interrupted["reference_sha"]


def test_resumed_run_reuses_the_cached_latents_and_embeddings(
    interrupted: dict, tmp_path: Path
) -> None:
    out, _ = _resume_copy(interrupted, tmp_path)
    (cache,) = (out / "cache").glob("*.safetensors")
    before = (sha256_file(cache), cache.stat().st_mtime_ns)
    result = _resume(interrupted, out, [])
    assert result.cache_reused and result.resumed_from == 6
    assert (sha256_file(cache), cache.stat().st_mtime_ns) == before
    assert sha256_file(result.lora_file) == interrupted["reference_sha"]
