"""One brief scan and one duplicate check: the CLI, the sensor and a run read the inbox alike."""

from __future__ import annotations

import pytest
from conftest import small_brief, write_brief

from pipeline.cli import main
from pipeline.sensors import scan_inbox
from resources.brief_files import partition_conflicts
from resources.domain.brief import BriefError
from resources.inbox import BriefInbox

KEY = "acme-health/dr-ana"


def _two_briefs_for_one_character(folder):
    a = write_brief(folder, small_brief(), name="a.yaml")
    other = small_brief()
    other["shots"][0]["seed"] = 99
    b = write_brief(folder, other, name="b.yaml")
    return a, b


def test_the_cli_the_sensor_and_a_run_refuse_the_same_two_briefs(tmp_path, capsys):
    a, b = _two_briefs_for_one_character(tmp_path)
    inbox = BriefInbox(paths=[str(tmp_path)])

    assert main(["validate", str(tmp_path)]) == 1
    refused_by_cli = capsys.readouterr().err.splitlines()
    tick = scan_inbox(inbox.files(), {}, set(), log=lambda line: None)
    with pytest.raises(BriefError) as caught:
        inbox.find_entry(KEY)

    expected = {
        str(a): f"character: {KEY} is also the partition of {b}; keep one brief per "
        "client/character",
        str(b): f"character: {KEY} is also the partition of {a}; keep one brief per "
        "client/character",
    }
    assert refused_by_cli == [f"{name}: {line}" for name, line in expected.items()]
    assert tick.run_requests == []
    assert {name: lines[0] for name, lines in tick.problems.items()} == expected
    assert caught.value.problems == [
        f"(inbox): several briefs for {KEY}: {a}, {b}; keep one of them"
    ]
    # The review app's home page lists both among the briefs with errors, in each language.
    from pipeline.review.routes.pages import brief_errors
    from pipeline.settings import Settings

    listed = brief_errors(Settings(root=str(tmp_path / "artifacts"), inbox=(str(tmp_path),)))
    assert {e["path"]: e["en"] for e in listed} == {n: [line] for n, line in expected.items()}
    assert {e["path"]: e["pt"] for e in listed} == {
        str(a): [
            f"character: {KEY} também é a partição de {b}; mantenha um briefing por "
            "cliente/personagem"
        ],
        str(b): [
            f"character: {KEY} também é a partição de {a}; mantenha um briefing por "
            "cliente/personagem"
        ],
    }


def test_a_brief_named_and_in_a_named_folder_is_one_brief_everywhere(tmp_path, capsys):
    path = write_brief(tmp_path, small_brief(), name="a.yaml")
    inbox = BriefInbox(paths=[str(tmp_path), str(path)])

    assert inbox.files() == [path]
    assert inbox.find_entry(KEY).path == path
    assert [r.partition_key for r in scan_inbox(inbox.files(), {}, set()).run_requests] == [KEY]
    assert main(["validate", str(tmp_path), str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_the_brief_that_held_the_partition_keeps_it_and_only_the_copy_is_refused():
    conflicts = partition_conflicts(
        {"inbox/a.yaml": KEY, "inbox/b.yaml": KEY, "inbox/pip.yaml": "sunny-foods/pip"},
        held={"inbox/a.yaml": KEY},
    )
    (conflict,) = conflicts.values()
    assert (conflict.key, conflict.holder, conflict.refused) == (
        KEY,
        "inbox/a.yaml",
        ("inbox/b.yaml",),
    )
    assert conflict.problem("inbox/b.yaml") == (
        f"character: {KEY} is already the partition of inbox/a.yaml; this copy was not run: "
        "keep one brief per client/character"
    )
