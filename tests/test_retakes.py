"""Re-rolls and the blocking identity check, on the tiny profile.

One brief whose min_identity (1.0) no clip can reach: every shot is rendered max_attempts times.
The stages run first as plain Python with a stop hook that interrupts between attempts, then
resume; then the Dagster chain on the same root shows the blocking check stopping the cut, and a
producer's acceptance letting it through.
"""

from __future__ import annotations

import html
import json
import shutil
import urllib.parse
from pathlib import Path

import pytest
import torch
from conftest import materialize_fresh, write_brief
from dagster import AssetKey, DagsterInstance
from quick_chain import quick_brief, shared_models
from review_support import config_for, get, post, review_settings, serve

from assets.partitions import CHARACTERS
from assets.stages.base import Run
from assets.stages.character_brief import snapshot_brief
from assets.stages.character_lora import train_lora
from assets.stages.reference_images import make_references
from assets.stages.video_clips import render_clips
from pipeline import cli
from pipeline.definitions import RUN_ASSETS
from pipeline.review.catalog import waiting_items
from pipeline.settings import resource_defs
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import load_brief
from resources.domain.qc import attempt_seed
from resources.lora.trainer import LoraTrainer
from resources.models.model_store import ModelStore
from resources.runtime.interruption import WorkInterrupted
from resources.stills.image_generator import ImageGenerator
from resources.storage.artifact_store import ArtifactStore
from resources.video.generator import VideoGenerator

pytestmark = pytest.mark.slow  # whole-chain materializations with re-rolls

KEY = "acme-health/dr-ana"
ATTEMPTS = 3
SHOT = {"id": "hello", "prompt": "she nods", "duration_s": 0.3, "seed": 1}


def _run(root: Path, models: Path, lines: list[str], stop=None) -> Run:
    return Run(
        client="acme-health",
        character="dr-ana",
        store=ArtifactStore(root=str(root)),
        models=ModelStore(profile="tiny", models_dir=str(models)),
        device="cpu",
        dtype=torch.float32,
        log=lines.append,
        stop=stop,
    )


def _snapshot(run: Run, inbox: Path, qc: dict, name: str = "brief.yaml") -> Path:
    path = write_brief(inbox, quick_brief(shots=[SHOT], qc=qc), name=name)
    snapshot_brief(run, path, load_brief(path))
    return path


def _units(root: Path) -> dict[str, int]:
    """Every finished shot unit and its clip's modification time."""
    folder = root / "acme-health" / "dr-ana" / "shots"
    return {
        p.name: (p / "clip.mp4").stat().st_mtime_ns
        for p in folder.iterdir()
        if (p / "manifest.json").is_file()
    }


def _check(outcome, name: str):
    return next(e for e in outcome.get_asset_check_evaluations() if e.check_name == name)


@pytest.fixture(scope="module")
def retakes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retakes")
    root, models, inbox = folder / "artifacts", shared_models(tmp_path_factory), folder / "inbox"
    lines: list[str] = []
    run = _run(root, models, lines)
    brief = _snapshot(run, inbox, {"min_identity": 1.0, "max_attempts": ATTEMPTS})
    make_references(run, ImageGenerator())
    train_lora(run, LoraTrainer())

    # Stop when asked between attempts: the first call comes after attempt 1's shot is saved,
    # the second at the boundary before attempt 2.
    calls: list[str] = []

    def stop() -> str | None:
        calls.append("asked")
        return "operator stop" if len(calls) == 2 else None

    with pytest.raises(WorkInterrupted, match="attempt 2 of 3"):
        render_clips(_run(root, models, lines, stop), VideoGenerator())
    after_stop = _units(root)
    resumed_log: list[str] = []
    resumed = render_clips(_run(root, models, resumed_log), VideoGenerator())
    after_resume = _units(root)

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHARACTERS, [KEY])
    resources = resource_defs(root=root, profile="tiny", inbox=[str(brief)], models_dir=models)
    blocked = materialize_fresh(
        RUN_ASSETS, partition_key=KEY, instance=instance, resources=resources, raise_on_error=False
    )
    cuts_while_blocked = ArtifactStore(root=str(root)).versions(
        "acme-health", "dr-ana", "deliverables"
    )
    waiting_while_blocked = waiting_items(ArtifactStore(root=str(root)), [])
    blocked_root = folder / "blocked"  # the store as the blocked run left it: the app's test
    shutil.copytree(root, blocked_root, symlinks=True)
    accept_rc = cli.main(
        ["accept", "acme-health", "dr-ana", "hello", "--by", "maria", "--root", str(root)]
    )
    accepted = materialize_fresh(
        RUN_ASSETS, partition_key=KEY, instance=instance, resources=resources
    )
    return {
        "root": root,
        "blocked_root": blocked_root,
        "models": models,
        "inbox": inbox,
        "after_stop": after_stop,
        "after_resume": after_resume,
        "resumed": resumed,
        "resumed_log": "\n".join(resumed_log),
        "blocked": blocked,
        "accept_rc": accept_rc,
        "cuts_while_blocked": cuts_while_blocked,
        "waiting_while_blocked": waiting_while_blocked,
        "waiting_after": waiting_items(ArtifactStore(root=str(root)), []),
        "accepted": accepted,
        "instance": instance,
    }


def test_an_interruption_between_attempts_keeps_the_finished_attempt(retakes):
    assert len(retakes["after_stop"]) == 1  # attempt 1 published before the stop


def test_resuming_renders_only_the_missing_attempts(retakes):
    before, after = retakes["after_stop"], retakes["after_resume"]
    assert len(after) == ATTEMPTS
    (first,) = before
    assert after[first] == before[first]  # the finished attempt was not rendered again
    log = retakes["resumed_log"]
    assert f"shot hello: unchanged, reusing unit {first}" in log
    assert log.count("shot hello: rendered as unit") == ATTEMPTS - 1
    assert f"rendered as unit {first}" not in log


def test_exactly_max_attempts_are_rendered_kept_and_scored(retakes):
    (shot,) = retakes["resumed"].manifest["shots"]
    attempts = shot["attempts"]
    assert [a["attempt"] for a in attempts] == list(range(ATTEMPTS))
    assert [a["seed"] for a in attempts] == [attempt_seed(1, a) for a in range(ATTEMPTS)]
    assert len({a["unit"] for a in attempts}) == ATTEMPTS
    folder = retakes["resumed"].folder
    for a in attempts:
        assert (folder / a["poster"]).is_file()
        assert set(a["identity"]) == {"dinov2_base", "clip_vit_large_patch14"}
    best = max(attempts, key=lambda a: a["identity"]["dinov2_base"])
    assert shot["attempt"] == best["attempt"] and shot["unit"] == best["unit"]
    assert shot["seed"] == best["seed"] and shot["brief_seed"] == 1
    # The chosen clip is the chosen attempt's bytes.
    chosen = folder / shot["clip"]
    kept = folder / "attempts" / "hello" / str(best["attempt"] + 1) / "clip.mp4"
    assert chosen.stat().st_ino == kept.stat().st_ino


def test_the_blocking_check_fails_naming_the_shot_its_best_score_and_the_threshold(retakes):
    outcome = retakes["blocked"]
    assert not outcome.success
    check = _check(outcome, "shots_keep_character")
    assert not check.passed
    best = max(
        a["identity"]["dinov2_base"] for a in retakes["resumed"].manifest["shots"][0]["attempts"]
    )
    assert check.description.startswith("shot hello is off-model")
    assert f"best identity {best:.3f} < min_identity 1.000" in check.description
    assert "best of 3 attempt(s)" in check.description


def test_deliverables_is_not_cut_while_a_shot_is_off_model(retakes):
    outcome = retakes["blocked"]
    assert outcome.asset_materializations_for_node("video_clips")  # recorded, reused
    materialized = {e.asset_key for e in outcome.get_asset_materialization_events() if e.asset_key}
    assert AssetKey("deliverables") not in materialized
    assert AssetKey("client_report") not in materialized
    events = retakes["instance"].all_logs(outcome.run_id)
    started = {e.step_key for e in events if e.dagster_event and e.dagster_event.is_step_start}
    assert "video_clips" in started and "deliverables" not in started
    assert retakes["cuts_while_blocked"] == []


def test_the_review_app_lists_the_off_model_shot_as_waiting_until_it_is_accepted(retakes):
    (item,) = retakes["waiting_while_blocked"]
    assert (item.kind, item.client, item.character, item.what) == (
        "shot", "acme-health", "dr-ana", "hello")  # fmt: skip
    assert item.link == "/c/acme-health/dr-ana#shots" and item.detail.endswith("< 1.000")
    assert retakes["waiting_after"] == []  # accepted by maria: nothing waits


def test_the_producer_accepts_the_off_model_shot_on_its_card_in_the_app(retakes):
    root = retakes["blocked_root"]
    settings = review_settings(root, retakes["inbox"], retakes["models"])
    page_url, accept_url = f"/c/{KEY}?lang=en", f"/c/{KEY}/accept?lang=en"
    with serve(config_for(settings)) as url:
        page = html.unescape(get(url + page_url)[2].decode())
        nobody = post(url + accept_url, {"shot": "hello", "who": " "})
        status, headers, _ = post(url + accept_url, {"shot": "hello", "who": "bia"})
        after = html.unescape(get(url + page_url)[2].decode())
    form = page.split('<form method="post" action="/c/acme-health/dr-ana/accept"')[1]
    form = form.split("</form>")[0]
    assert 'data-kind="shot"' in form and 'name="shot" value="hello"' in form
    best = retakes["waiting_while_blocked"][0].detail
    assert f"No attempt reached the minimum identity score: the cut waits ({best})" in form
    assert 'class="accept">Accept this shot for the cut</button>' in form
    assert 'class="price"' in form  # what the cut it lets through costs
    assert nobody[0] == 400 and nobody[2].decode().startswith("who: say who accepts it")
    assert status == 303 and "Recorded." in urllib.parse.unquote(headers["location"])
    store = ArtifactStore(root=str(root))
    assert waiting_items(store, []) == []
    (version,) = store.versions("acme-health", "dr-ana", "acceptances")
    record = store.manifest(ArtifactRef("acme-health", "dr-ana", "acceptances", version))
    assert (record["acceptance"]["by"], record["acceptance"]["via"]) == ("bia", "review app")
    assert 'action="/c/acme-health/dr-ana/accept"' not in after
    assert "bia" in after.split('id="history"')[1].split("</section>")[0]


def test_an_accepted_shot_is_cut_and_the_acceptance_is_recorded(retakes):
    assert retakes["accept_rc"] == 0
    outcome = retakes["accepted"]
    assert outcome.success
    check = _check(outcome, "shots_keep_character")
    assert check.passed and "accepted by maria" in check.metadata["shots"].value
    store = ArtifactStore(root=str(retakes["root"]))
    cut = store.manifest(store.current("acme-health", "dr-ana", "deliverables"))
    (shot,) = cut["qc"]["shots"]
    assert shot["accepted_by"] == "maria" and shot["accepted_at"]
    assert shot["attempts"] == ATTEMPTS
    assert cut["qc"]["cross_shot"]["min"]["dinov2_base"] == 1.0  # one shot
    report = store.path(store.current("acme-health", "dr-ana", "client_report"))
    text = (report / "report.md").read_text()
    assert "The character, measured" in text and "maria" in text


def test_with_min_identity_zero_a_single_attempt_runs(retakes):
    lines: list[str] = []
    run = _run(retakes["root"], retakes["models"], lines)
    _snapshot(run, retakes["inbox"], {"min_identity": 0.0, "max_attempts": ATTEMPTS}, "zero.yaml")
    result = render_clips(run, VideoGenerator())
    (shot,) = result.manifest["shots"]
    assert len(shot["attempts"]) == 1 and shot["attempt"] == 0
    assert "attempt 2" not in "\n".join(lines)


def test_the_lora_effect_is_measured_at_strength_zero_with_the_same_seed(retakes):
    lines: list[str] = []
    run = _run(retakes["root"], retakes["models"], lines)
    qc = {"min_identity": 0.0, "measure_lora_effect": True}
    _snapshot(run, retakes["inbox"], qc, "effect.yaml")
    result = render_clips(run, VideoGenerator())
    (shot,) = result.manifest["shots"]
    without = shot["without_lora"]
    store = ArtifactStore(root=str(retakes["root"]))
    unit = json.loads(
        (
            store.root_path / "acme-health" / "dr-ana" / "shots" / without["unit"] / "shot.json"
        ).read_text()
    )
    assert unit["lora"]["strength"] == 0.0 and unit["lora"]["file"] is None
    assert unit["seed"] == shot["seed"]
    gain = shot["lora_gain"]["dinov2_base"]
    assert gain == pytest.approx(
        shot["identity"]["dinov2_base"] - without["identity"]["dinov2_base"]
    )
