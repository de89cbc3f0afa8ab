"""Helpers shared by this suite's sensor, lineage, report, cost and browser tests."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import materialize_fresh, small_brief, write_brief
from dagster import DagsterInstance, build_schedule_context
from moto.server import ThreadedMotoServer

from assets.partitions import CHARACTERS
from pipeline.definitions import RUN_ASSETS
from pipeline.schedules import nightly_briefs
from pipeline.settings import resource_defs
from resources.inbox import BriefInbox
from resources.storage.artifact_store import ArtifactStore


def quick_brief(**overrides) -> dict:
    """Two references, two LoRA steps, one half-second shot, a 320x180 deliverable."""
    data = small_brief(
        references={"count": 2, "seed": 5},
        lora={"steps": 2, "rank": 2, "checkpoint_every": 1},
        shots=[{"id": "hello", "prompt": "she nods", "duration_s": 0.5, "seed": 1}],
        deliverable={"resolution": [320, 180]},
    )
    data.update(overrides)
    return data


def shared_models(tmp_path_factory) -> Path:
    """One tiny-model folder for the whole session: the models are built once, then loaded.

    The same folder as every chain a test runs without naming one, and every worker's.
    """
    return Path(os.environ["CHARACTER_VIDEO_MODELS"])  # tests/conftest.py pytest_configure


def built_chain_models(tmp_path_factory) -> Path:
    """`shared_models` with the default chain's models (SDXL, HunyuanVideo, Real-ESRGAN) built,
    here if no test has built them yet, for tests whose runs are processes of their own."""
    from resources.domain.registry import (
        DEFAULT_UPSCALER,
        DEFAULT_VIDEO_MODEL,
        SDXL,
        video_model,
    )
    from resources.models.model_store import ModelStore

    models = shared_models(tmp_path_factory)
    store = ModelStore(profile="tiny", models_dir=str(models))
    store.sdxl_dir(SDXL)
    store.video_model_dir(video_model(DEFAULT_VIDEO_MODEL))
    store.upscaler_file(DEFAULT_UPSCALER)
    return models


def run_quick_chain(
    instance: DagsterInstance,
    inbox: Path,
    root: Path,
    data: dict,
    name: str = "brief.yaml",
    models: Path | None = None,
):
    """Write `data` as a brief and materialize the chain and the client report for it.

    The result refers to `instance` weakly: the caller holds it while reading the result.
    """
    brief = write_brief(inbox, data, name=name)
    key = f"{data['client']}/{data['character']['id']}"
    instance.add_dynamic_partitions(CHARACTERS, [key])
    resources = resource_defs(root=root, profile="tiny", inbox=[str(brief)], models_dir=models)
    # No definitions-state storage while the chain resolves (conftest.materialize_fresh).
    outcome = materialize_fresh(
        RUN_ASSETS, partition_key=key, instance=instance, resources=resources
    )
    assert outcome.success
    return brief, outcome


def evaluate_nightly(instance: DagsterInstance, inbox: Path, root: Path):
    """The nightly schedule's evaluation for 2026-11-21 02:00 UTC."""
    context = build_schedule_context(
        instance=instance,
        scheduled_execution_time=dt.datetime(2026, 11, 21, 2, tzinfo=dt.UTC),
        resources={
            "inbox": BriefInbox(paths=[str(inbox)]),
            "artifact_store": ArtifactStore(root=str(root)),
        },
    )
    return nightly_briefs(context)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's AWS server on a free loopback port; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
