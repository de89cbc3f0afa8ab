"""Does a run the daemon launches (multiprocess executor) give the bytes of an in-process run?

    python scripts/compare_executors.py [WORK_DIR]

One two-shot tiny brief is materialized twice into fresh roots with one shared tiny-model folder:
by `python -m pipeline materialize` (in process), and queued with `submit_chain` on a throwaway
DAGSTER_HOME (QueuedRunCoordinator) for a real `dagster-daemon`, whose run launcher runs each
step in its own process (forked from a server that preloaded pipeline.jobs.STEP_PRELOAD).
Prints the sha256 comparison of every still, LoRA, clip, poster and final.mp4. Not part of
`make test` (about 1 minute on 2 cores).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTANCE_YAML = """run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
telemetry:
  enabled: false
"""
SHOTS = [
    {"id": "a", "prompt": "she nods", "duration_s": 0.7, "seed": 1},
    {"id": "b", "prompt": "she waves", "duration_s": 1.3, "seed": 2},
]


def digests(root: Path) -> dict[str, str]:
    """sha256 of every still, LoRA, clip and poster under `root` (hidden folders left out)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        hidden = any(part.startswith(".") for part in rel.split("/"))
        if path.is_file() and path.suffix in (".mp4", ".png", ".safetensors") and not hidden:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def main(work: Path) -> int:
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    from conftest import write_brief
    from quick_chain import quick_brief

    shutil.rmtree(work, ignore_errors=True)
    home, models = work / "dagster_home", work / "models"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    (work / "inbox").mkdir()
    data = quick_brief(shots=SHOTS, video={"model": "hunyuan_video", "fps": 30})
    brief = write_brief(work / "briefs", data)
    python = sys.executable
    base = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        "CHARACTER_VIDEO_PROFILE": "tiny",
        "CHARACTER_VIDEO_MODELS": str(models),
        "CHARACTER_VIDEO_INBOX": str(work / "inbox"),  # empty: the daemon's sensor runs nothing
    }
    start = time.time()
    command = [python, "-m", "pipeline", "materialize", str(brief), "--root", str(work / "inproc")]
    done = subprocess.run(command, cwd=REPO, env=base, capture_output=True, text=True)
    print(f"in process: exit {done.returncode} in {time.time() - start:.0f} s", flush=True)
    if done.returncode:
        print(done.stderr[-2000:])
        return 1

    env = {**base, "DAGSTER_HOME": str(home), "CHARACTER_VIDEO_ROOT": str(work / "daemon")}
    os.environ.update(env)
    from dagster import DagsterInstance, DagsterRunStatus

    from pipeline.launch import submit_chain

    instance = DagsterInstance.get()
    run_id = submit_chain(brief, launched_by="compare_executors", instance=instance)
    daemon = subprocess.Popen(
        [str(Path(python).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    start = time.time()
    try:
        while time.time() - start < 900:
            status = instance.get_run_by_id(run_id).status
            if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
                break
            time.sleep(5)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
    print(f"daemon: {status.value} in {time.time() - start:.0f} s", flush=True)

    one, other = digests(work / "inproc"), digests(work / "daemon")
    same = [k for k in one if other.get(k) == one[k]]
    print(f"files: in process {len(one)}, daemon {len(other)}, identical {len(same)}")
    for key in sorted(set(one) | set(other)):
        if one.get(key) != other.get(key):
            print(f"DIFFERENT {key}: {one.get(key, '-')[:12]} vs {other.get(key, '-')[:12]}")
    for key in (k for k in one if k.endswith("final.mp4")):
        print(f"{key}: {one[key][:16]} vs {other.get(key, '-')[:16]}")
    return 0 if len(same) == len(one) == len(other) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/compare-executors")))
