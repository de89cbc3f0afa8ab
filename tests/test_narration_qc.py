"""Narration checked like identity: re-synthesis with derived seeds, a blocking check, accept."""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from conftest import materialize_fresh, write_brief
from dagster import DagsterInstance
from quick_chain import quick_brief, shared_models
from review_support import config_for, get, post, review_settings, serve
from sound_support import write_voice_sample

from assets.partitions import CHARACTERS
from pipeline.definitions import RUN_ASSETS
from pipeline.review.catalog import waiting_items
from pipeline.settings import resource_defs
from resources.domain.artifacts import ArtifactRef
from resources.domain.qc import attempt_seed
from resources.storage.artifact_store import ArtifactStore

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # whole-chain materializations

LINE = "Bom dia a todos."
KEY = "acme-health/dr-ana"


def _run(instance, folder, root, models, qc: dict):
    write_voice_sample(folder / "voz.wav")
    data = quick_brief(
        shots=[{"id": "hello", "prompt": "she talks", "duration_s": 2.0, "seed": 4, "line": LINE}],
        qc=qc,
    )
    data["character"]["voice"] = {
        "sample": "voz.wav",
        "transcript": "Esta é a minha voz.",
        "consent": {"by": "Ana Souza", "on": "2026-11-30"},
    }
    brief = write_brief(folder, data)
    instance.add_dynamic_partitions(CHARACTERS, [KEY])
    resources = resource_defs(root=root, profile="tiny", inbox=[str(brief)], models_dir=models)
    return materialize_fresh(
        RUN_ASSETS, partition_key=KEY, instance=instance, resources=resources, raise_on_error=False
    )


def _narration(root) -> dict:
    store = ArtifactStore(root=str(root))
    return store.manifest(store.current("acme-health", "dr-ana", "narration"))


def _check(outcome):
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in outcome.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "lines_pass_qc"
    ]
    return evaluation


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("narration-qc")
    root, models = base / "artifacts", shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    found = {}
    for name, qc in (
        ("lenient", {"max_cer": 10.0, "min_voice": -1.0, "max_attempts": 3}),
        ("strict", {"max_cer": 0.0, "max_attempts": 2}),
        ("accepted", {"max_cer": 0.0, "max_attempts": 2, "accept_lines": ["hello"]}),
    ):
        outcome = _run(instance, base / name, root, models, qc)
        found[name] = (outcome, _check(outcome), _narration(root))
        if name == "strict":  # the store as the blocked run left it: the app's test
            found["blocked_root"] = base / "blocked"
            shutil.copytree(root, found["blocked_root"], symlinks=True)
    found["models"], found["inbox"] = models, base / "strict"
    # The producer accepts the strict brief's take from the command line, and runs it again.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "accept",
            "acme-health",
            "dr-ana",
            "hello",
            "--line",
            "--by",
            "Ana Souza",
            "--root",
            str(root),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    found["cli"] = done
    outcome = _run(instance, base / "again", root, models, {"max_cer": 0.0, "max_attempts": 2})
    found["recorded"] = (outcome, _check(outcome), _narration(root))
    return found


def test_a_line_inside_the_limits_is_spoken_once_and_scored(runs):
    outcome, check, manifest = runs["lenient"]
    assert outcome.success and check.passed
    (line,) = manifest["lines"]
    assert len(line["attempts"]) == 1 and line["attempt"] == 0
    assert 0.0 <= line["cer"] <= 10.0 and -1.0 <= line["voice"] <= 1.0
    assert line["transcript"] == line["attempts"][0]["transcript"]


def test_a_line_outside_the_limits_is_spoken_again_with_a_derived_seed_then_blocks(runs):
    outcome, check, manifest = runs["strict"]
    assert not outcome.success  # the blocking check stops the run before video_clips
    assert not check.passed
    (line,) = manifest["lines"]
    assert [a["seed"] for a in line["attempts"]] == [4, attempt_seed(4, 1)]
    assert len({a["unit"] for a in line["attempts"]}) == 2
    assert check.description.startswith(f"line 'hello': CER {line['cer']:.3f}, voice ")
    assert "after 2 attempt(s), outside qc.max_cer 0.0, qc.min_voice -1" in check.description


def test_the_producer_listens_to_the_held_line_and_accepts_it_in_the_app(runs):
    """The line blocks the run before any shot renders: the page has no shot card for it, so
    the held line is listed above the shots, with its take to listen to and its form."""
    root = runs["blocked_root"]
    settings = review_settings(root, runs["inbox"], runs["models"])
    (line,) = runs["strict"][2]["lines"]
    with serve(config_for(settings)) as url:
        page = html.unescape(get(f"{url}/c/{KEY}?lang=pt-BR")[2].decode())
        held = page.split('<div id="held">')[1].split("</div>")[0]
        form = held.split("</form>")[0]
        audio = form.split('<audio controls preload="none" src="')[1].split('"')[0]
        heard = get(url + audio)
        fields = {"shot": "hello", "line": "1", "who": "Ana Souza"}
        status, headers, _ = post(f"{url}/c/{KEY}/accept?lang=pt-BR", fields)
    assert 'data-kind="line" data-shot="hello"' in form
    assert "A fala ficou fora dos limites (CER, voz): o corte espera (CER " in form
    assert f"<q>{line['said'] or LINE}</q>" in form
    assert 'class="accept">Aceitar esta fala no corte</button>' in form
    voice = held.split('class="reroll-voice-form"')[1].split("</form>")[0]  # or speak it again
    assert 'name="shot" value="hello"' in voice and 'name="line" value="1"' in voice
    take = root / KEY / "lines" / line["unit"] / "line.wav"
    assert heard[0] == 200 and heard[2] == take.read_bytes()
    assert status == 303 and "Registrado." in urllib.parse.unquote(headers["location"])
    store = ArtifactStore(root=str(root))
    assert waiting_items(store, []) == []
    (version,) = store.versions("acme-health", "dr-ana", "line_acceptances")
    record = store.manifest(ArtifactRef("acme-health", "dr-ana", "line_acceptances", version))
    assert record["acceptance"]["by"] == "Ana Souza"
    assert (
        record["acceptance"]["via"] == "review app" and record["acceptance"]["unit"] == line["unit"]
    )


def test_an_accepted_line_passes_the_check_and_the_cut_is_made(runs):
    outcome, check, manifest = runs["accepted"]
    assert outcome.success and check.passed
    assert "accepted: hello" in check.description
    assert manifest["lines"][0]["passed"] is False


def test_fit_check_names_a_line_that_runs_past_its_fixed_shot():
    from assets.stages.narration import fit_check
    from resources.domain.brief import parse_brief

    data = quick_brief(
        shots=[{"id": "hello", "prompt": "p", "duration_s": 2.0, "seed": 4, "line": LINE}]
    )
    brief = parse_brief(data)
    inside = fit_check(brief, [{"id": "hello", "speech_s": 1.5}])
    over = fit_check(brief, [{"id": "hello", "speech_s": 1.9}])
    assert inside.passed and not over.passed
    assert over.description == "line 'hello': 0.3 s + 1.90 s spoken > the shot's 2 s"


def test_a_line_accepted_from_the_command_line_lets_the_blocked_brief_through(runs):
    done = runs["cli"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("accepted line of shot hello (unit ")
    outcome, check, manifest = runs["recorded"]
    assert outcome.success and check.passed
    assert "accepted: hello" in check.description
    assert manifest["lines"][0]["passed"] is False


def test_a_recorded_voice_is_spoken_by_qwen3_tts_at_its_limit_and_recorded_with_its_licence(runs):
    _, _, manifest = runs["lenient"]
    (engine,) = [m for m in manifest["models"] if m["name"] == "qwen3_tts_base"]
    assert engine["licence"]["licence"] == "Apache-2.0" and len(engine["sha256"]) == 64
    assert engine["licence"]["paid_work"] == "yes"
    assert manifest["licence"]["engine"] == "qwen3_tts_base"
    (line,) = manifest["lines"]
    assert line["rate"] == 24_000
    # The 2 s shot holds 1.2 s of speech after lead-in and tail: 15 codec frames at most.
    assert 0 < line["speech_s"] <= 15 * 1920 / 24_000
