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


@pytest.mark.parametrize("seed", ["1180591620717411303424", "-1"])
def test_a_seed_out_of_the_briefs_range_is_refused_before_anything_is_recorded(
    tmp_path, capsys, seed
):
    root = tmp_path / "root"
    code = main(
        ["reroll", CLIENT, CHARACTER, "hello", f"--seed={seed}", "--no-run"] + ["--root", str(root)]
    )
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert f"seed {seed}: a seed is a whole number from 0 to 4294967295" in err
    assert not root.exists()


@pytest.mark.parametrize("pointer", ['{"version": 12}', "[]", "{}", '{"version": "../x"}', "\xff"])
def test_a_malformed_current_pointer_is_one_line_from_lineage_and_reroll(tmp_path, capsys, pointer):
    root = tmp_path / "root"
    for asset in ("character_brief", "video_clips", "deliverables"):
        folder = root / CLIENT / CHARACTER / asset
        folder.mkdir(parents=True)
        (folder / "current.json").write_text(pointer, errors="surrogateescape")
    codes = [
        main(["lineage", CLIENT, CHARACTER, "--root", str(root)]),
        main(
            ["reroll", CLIENT, CHARACTER, "hello", "--seed", "5", "--no-run", "--root", str(root)]
        ),
    ]
    err = capsys.readouterr().err
    assert codes[0] != 0 and codes[1] != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2, err  # one line from each command
    assert "character_brief/current.json is malformed" in err.splitlines()[-1]
