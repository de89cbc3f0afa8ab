"""Promote one approved draft shot to the final tier: only it renders again, at final, same seed.

One draft chain of two shots runs for the module (tiny profile); the app's "promote" form on the
shot `wave` records the promotion, the chain runs again, and the other shot is reused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import copy_of_root, small_brief, write_brief
from dagster import DagsterInstance
from review_support import (
    CHARACTER,
    CLIENT,
    config_for,
    gated_brief,
    get,
    post,
    review_settings,
    serve,
)

from pipeline.cli import main, materialize_brief
from pipeline.decisions import reroll_shot
from pipeline.launch import brief_source, run_chain
from pipeline.settings import resource_defs
from resources.domain.brief import BriefError, parse_brief
from resources.domain.review import overrides_of
from resources.quote.quote import quote_brief
from resources.storage.artifact_store import sha256_file

pytestmark = pytest.mark.slow  # whole-chain materializations


def _current(root: Path, asset: str) -> str:
    return json.loads((root / CLIENT / CHARACTER / asset / "current.json").read_text())["version"]


def _manifest(root: Path, asset: str) -> dict:
    folder = root / CLIENT / CHARACTER / asset / _current(root, asset)
    return json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    from quick_chain import shared_models

    folder = tmp_path_factory.mktemp("promote")
    root, inbox = folder / "artifacts", folder / "inbox"
    data = gated_brief(approval={}, video={**gated_brief()["video"], "tier": "draft"})
    brief = write_brief(inbox, data)
    settings = review_settings(root, inbox, shared_models(tmp_path_factory))
    with DagsterInstance.ephemeral() as instance:
        materialize_brief(
            brief, root=str(root), profile="tiny", models_dir=settings.models_dir, instance=instance
        )
        state = {
            "before": _manifest(root, "video_clips"),
            "first_cut": _current(root, "deliverables"),
        }
        config = config_for(settings)
        with serve(config) as url:
            state["page"] = get(f"{url}/c/{CLIENT}/{CHARACTER}")[2].decode()
            state["post"] = post(
                f"{url}/c/{CLIENT}/{CHARACTER}/reroll",
                {"shot": "wave", "tier": "final", "who": "bia"},
            )
        source = brief_source(config.store, CLIENT, CHARACTER)
        resources = resource_defs(settings, inbox=[str(source)])
        assert run_chain(source, resources=resources, instance=instance, launched_by="t").success
        state["after"] = _manifest(root, "video_clips")
        state["second_cut"] = _current(root, "deliverables")
        snapshot = root / CLIENT / CHARACTER / "character_brief" / _current(root, "character_brief")
        yield {"root": root, "store": config.store, "snapshot": snapshot, **state}


def test_the_page_offers_promotion_on_each_draft_shot(promoted):
    page = promoted["page"]
    assert page.count('class="promote"') == 2  # both shots are drafts
    assert 'name="tier" value="final"' in page
    assert promoted["post"][0] == 303


def test_only_the_promoted_shot_renders_again_at_final_with_its_seed(promoted):
    before = {s["id"]: s for s in promoted["before"]["shots"]}
    after = {s["id"]: s for s in promoted["after"]["shots"]}
    assert before["wave"]["tier"] == before["hello"]["tier"] == "draft"
    assert after["wave"]["tier"] == "final" and after["wave"]["rendered"]
    assert after["wave"]["seed"] == before["wave"]["seed"] == 2
    assert after["wave"]["unit"] != before["wave"]["unit"]
    assert after["hello"]["tier"] == "draft" and not after["hello"]["rendered"]
    assert after["hello"]["unit"] == before["hello"]["unit"]
    units = promoted["root"] / CLIENT / CHARACTER / "shots"
    kept = units / before["hello"]["unit"] / "clip.mp4"
    clips = (
        promoted["root"]
        / CLIENT
        / CHARACTER
        / "video_clips"
        / _current(promoted["root"], "video_clips")
    )
    assert sha256_file(clips / "shots" / "hello" / "clip.mp4") == sha256_file(kept)
    # The draft of `wave` is kept beside its final: two units.
    assert (units / before["wave"]["unit"] / "clip.mp4").is_file()
    assert promoted["after"]["parameters"]["shot_tiers"] == {"hello": "draft", "wave": "final"}
    assert promoted["second_cut"] != promoted["first_cut"]


def test_the_promotion_is_recorded_and_quoted_per_shot(promoted):
    (override,) = overrides_of(promoted["store"], CLIENT, CHARACTER)
    assert (override.shot, override.tier, override.previous_tier, override.who) == (
        "wave",
        "final",
        "draft",
        "bia",
    )
    assert override.seed == override.previous_seed == 2
    brief = json.loads((promoted["snapshot"] / "brief.json").read_text())
    shots = {s["id"]: s for s in brief["shots"]}
    assert shots["wave"]["tier"] == "final" and shots["hello"]["tier"] is None
    quote = json.loads((promoted["snapshot"] / "quote.json").read_text())
    assert {s["id"]: s["tier"] for s in quote["shots"]} == {"hello": "draft", "wave": "final"}


def test_promoting_twice_or_an_unknown_tier_is_refused(promoted):
    store = promoted["store"]
    with pytest.raises(ValueError, match="already renders at tier final, seed 2"):
        reroll_shot(store, CLIENT, CHARACTER, "wave", seed=None, who="bia", tier="final")
    with pytest.raises(ValueError, match="tier 'best': one of draft, final"):
        reroll_shot(store, CLIENT, CHARACTER, "wave", seed=None, who="bia", tier="best")


def test_cli_reroll_tier_records_a_promotion_without_running(promoted, capsys, tmp_path):
    # The module's other tests read the one promotion the app recorded.
    root = copy_of_root(promoted["root"], tmp_path)
    code = main(
        [
            "reroll",
            CLIENT,
            CHARACTER,
            "hello",
            "--tier",
            "final",
            "--who",
            "caio",
            "--no-run",
            "--root",
            str(root),
        ]
    )
    assert code == 0
    assert "shot hello: seed 1 -> 1, tier draft -> final (by caio)" in capsys.readouterr().out


def test_a_quote_prices_each_shot_at_its_own_tier(tmp_path):
    data = small_brief(video={"model": "wan21_t2v_1_3b", "fps": 24, "tier": "draft"})
    data["shots"][1]["tier"] = "final"
    q = quote_brief(parse_brief(data), cache_dir=tmp_path)
    intro, outro = q["shots"]
    assert (intro["tier"], outro["tier"]) == ("draft", "final")
    assert (intro["width"], outro["width"]) == (480, 832)
    assert outro["steps"] > intro["steps"]
    # With `tier` given the whole brief is priced at it (what promoting it all would cost).
    whole = quote_brief(parse_brief(data), tier="final", cache_dir=tmp_path)
    assert [s["tier"] for s in whole["shots"]] == ["final", "final"]


def test_a_scene_model_refuses_a_shot_tier_of_its_own():
    data = small_brief(video={"model": "holocine_14b", "licence_ack": "non-commercial"})
    data["shots"][0]["tier"] = "draft"
    with pytest.raises(BriefError, match="renders the shot list as one scene at one tier"):
        parse_brief(data)
