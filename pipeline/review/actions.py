"""What a producer does from the app or the CLI: re-roll a shot, launch the chain again."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pipeline.launch import brief_source
from resources.domain.brief import BriefError, load_brief, parse_brief
from resources.domain.registry import VIDEO_MODELS
from resources.domain.review import Override, now_iso, record_override
from resources.domain.tiers import TIER_NAMES

BRIEF_ASSET = "character_brief"
BRIEF_JSON = "brief.json"  # assets/stages/character_brief.py: the snapshot every stage reads


def snapshot_of(store: Any, client: str, character: str):
    """The character's current brief snapshot (re-rolls merged in)."""
    ref = store.current(client, character, BRIEF_ASSET)
    data = json.loads((store.path(ref) / BRIEF_JSON).read_text())
    return parse_brief(data, source=f"{ref.key}/{BRIEF_JSON}")


def reroll_shot(
    store: Any,
    client: str,
    character: str,
    shot_id: str,
    *,
    seed: int | None,
    who: str,
    tier: str | None = None,
) -> Override:
    """Record a re-roll of one shot (a new seed, or a new tier); the next run renders only it."""
    snapshot = snapshot_of(store, client, character)
    source = load_brief(brief_source(store, client, character))
    current = {s.id: s for s in snapshot.shots}
    written = {s.id: s for s in source.shots}
    if shot_id not in current or shot_id not in written:
        known = ", ".join(current)
        raise BriefError(f"{client}/{character}", [f"shots: no shot {shot_id!r}; shots: {known}"])
    previous = current[shot_id].seed
    previous_tier = snapshot.tier_of(shot_id)
    if tier is not None and tier not in TIER_NAMES:
        raise ValueError(f"tier {tier!r}: one of {', '.join(TIER_NAMES)}")
    if tier is not None and VIDEO_MODELS[snapshot.video.model].is_scene_model:
        raise ValueError(
            f"{snapshot.video.model} renders every shot in one scene at one tier: "
            "promote the whole brief (python -m pipeline promote BRIEF)"
        )
    # A promotion keeps the seed (the approved draft's shot, now at final); else a new seed.
    if seed is None:
        seed = previous if tier is not None else secrets.randbelow(2**31 - 1)
    new_seed = seed
    if new_seed < 0:
        raise ValueError(f"--seed {new_seed}: a seed is a whole number >= 0")
    if new_seed == previous and tier in (None, previous_tier):
        if tier is not None:
            raise ValueError(f"shot {shot_id} already renders at tier {tier}, seed {previous}")
        raise ValueError(f"shot {shot_id} already renders with seed {previous}")
    override = Override(
        shot=shot_id,
        brief_seed=written[shot_id].seed,
        seed=new_seed,
        who=who,
        at=now_iso(),
        previous_seed=previous,
        tier=tier,
        previous_tier=previous_tier,
    )
    record_override(store, client, character, override)
    return override


def launch_run(
    client: str,
    character: str,
    *,
    root: str,
    profile: str,
    models_dir: str | None,
    launched_by: str,
    launch: str = "process",
) -> subprocess.Popen:
    """Start `python -m pipeline run CLIENT CHARACTER` in the background; its log in a temp file.

    A separate process, so the app keeps serving while the chain runs, and a crash of the run
    is the run's own (the app shows it through the progress records and the artifacts). With
    `launch="instance"` that process only queues the run on the Dagster instance and exits.
    """
    log = tempfile.NamedTemporaryFile(
        prefix=f"review-run-{client}-{character}-", suffix=".log", delete=False
    )
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
    return subprocess.Popen(
        command,
        cwd=Path(__file__).resolve().parents[2],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
