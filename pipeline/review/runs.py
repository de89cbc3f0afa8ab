"""The chain runs the review app starts after an approval or a re-roll: one per character.

Each run is a separate process (`python -m pipeline run CLIENT CHARACTER`), so the app keeps
serving while the chain runs, and a crash of the run is the run's own (the app shows it through
the progress records and the artifacts).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

from assets.stages.base import RUN_LOGS
from pipeline.decisions import stop_character
from pipeline.launch import active_runs
from pipeline.review.config import ReviewConfig


def run_log(work_root: Path, client: str, character: str, why: str) -> Path:
    """A new, empty log file for a run the app starts, `<client>/<character>/RUN_LOGS/<UTC
    start>-<why>-*.log` in the local root (an S3 root's local cache)."""
    folder = Path(work_root) / client / character / RUN_LOGS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.NamedTemporaryFile(
        dir=folder, prefix=f"{stamp}-{why}-", suffix=".log", delete=False
    ) as made:
        return Path(made.name)


def launch_run(
    client: str,
    character: str,
    *,
    root: str,
    profile: str,
    models_dir: str | None,
    launched_by: str,
    log: Path,
    launch: str = "process",
) -> subprocess.Popen:
    """Start `python -m pipeline run CLIENT CHARACTER` in the background, its output in `log`.

    With `launch="instance"` that process only queues the run on the Dagster instance and exits.
    """
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "run",
        client,
        character,
        "--root",
        root,
        "--profile",
        profile,
        "--launched-by",
        launched_by,
        "--launch",
        launch,
    ]
    if models_dir:
        command += ["--models", models_dir]
    with open(log, "ab") as out:  # the child keeps its own handle
        return subprocess.Popen(
            command,
            cwd=Path(__file__).resolve().parents[2],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def running(config: ReviewConfig, key: str, active: dict[str, list] | None = None) -> bool:
    """A run of the character in flight: started by this app, or on the Dagster instance.

    `active`: the instance's runs in flight by character, read once for a page that lists many
    (`active_runs_by_character`); None: ask the instance for this character alone.
    """
    process = config.runs.get(key)
    if process is not None and process.poll() is None:
        return True
    if config.instance is None:
        return False
    return bool(active.get(key) if active is not None else active_runs(config.instance, key))


def start_run(config: ReviewConfig, client: str, character: str, why: str) -> bool:
    """Start the chain for the character unless one runs already; whether one was started."""
    if not config.launch:
        return False
    key = f"{client}/{character}"
    with config.starting:
        process = config.runs.get(key)
        if process is not None and process.poll() is None:
            return False  # one run per character at a time; the running one reads the new state
        if config.instance is not None and active_runs(config.instance, key):
            return False  # queued or running on the instance (started before a restart, too)
        config.runs[key] = launch_run(
            client,
            character,
            root=config.settings.root,
            profile=config.profile,
            models_dir=config.models_dir,
            launched_by=f"review-app:{why}",
            log=run_log(config.settings.work_root, client, character, why),
            launch=config.settings.launch,
        )
    return True


def stop_run(config: ReviewConfig, client: str, character: str, who: str) -> list[str]:
    """Stop the character's runs in flight, this app's own process and the instance's
    (pipeline.decisions.stop_character); the runs stopped, or a DecisionError."""
    key = f"{client}/{character}"
    with config.starting:  # not while an approval starts one
        own = config.runs.get(key)
        return stop_character(
            config.store,
            config.instance,
            client,
            character,
            who=who,
            processes=(own,) if own is not None else (),
        )
