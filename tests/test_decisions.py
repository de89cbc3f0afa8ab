"""Producer decisions (pipeline.decisions): the CLI and the review app refuse bad input alike."""

from __future__ import annotations

import pytest
from conftest import small_brief, write_brief
from review_support import CHARACTER, CLIENT, config_for, post, review_settings, serve

from pipeline.cli import main
from pipeline.decisions import DecisionError, promote_brief, reroll_shot, review_gate
from resources.storage.artifact_store import ArtifactStore


def test_a_seed_that_is_not_a_number_is_one_line_from_the_app_and_the_module(tmp_path):
    settings = review_settings(tmp_path / "root", tmp_path / "inbox", tmp_path / "models")
    with serve(config_for(settings)) as url:
        status, _, body = post(
            f"{url}/c/{CLIENT}/{CHARACTER}/reroll", {"shot": "hello", "seed": "abc", "who": "bia"}
        )
    with pytest.raises(DecisionError) as caught:
        reroll_shot(None, CLIENT, CHARACTER, "hello", seed="abc", who="bia")
    assert (status, body.decode()) == (400, "seed 'abc': a seed is a whole number >= 0")
    assert caught.value.lines == ["seed 'abc': a seed is a whole number >= 0"]


def test_a_decision_on_a_gate_that_does_not_exist_is_refused_naming_the_gates(tmp_path):
    settings = review_settings(tmp_path / "root", tmp_path / "inbox", tmp_path / "models")
    fields = {"gate": "music", "version": "v1", "decision": "approved", "who": "ana"}
    with serve(config_for(settings)) as url:
        status, _, body = post(f"{url}/c/{CLIENT}/{CHARACTER}/review", fields)
    store = ArtifactStore(root=str(tmp_path / "root"))
    with pytest.raises(DecisionError, match="^no approval gate 'music'; gates: references, cut$"):
        review_gate(store, CLIENT, CHARACTER, "music", "approved", who="ana")
    assert (status, body.decode()) == (400, "no approval gate 'music'; gates: references, cut")


def test_promoting_to_an_unknown_tier_names_the_file_and_leaves_it_as_written(tmp_path, capsys):
    path = write_brief(tmp_path, small_brief(video={"model": "wan21_t2v_14b", "tier": "draft"}))
    before = path.read_bytes()
    with pytest.raises(DecisionError) as caught:
        promote_brief(path, "best")
    assert caught.value.lines == [f"{path}: video.tier: 'best' is not one of draft, final"]
    assert path.read_bytes() == before
    assert main(["promote", str(path), "--tier", "draft"]) == 0
    assert "video.tier is already 'draft'" in capsys.readouterr().out
