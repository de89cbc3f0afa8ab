"""Hostile text in briefs: one line naming the file and field, never a traceback, nothing stored.

Raw control characters (which PyYAML's reader refuses), the same characters written as YAML
escapes (which it accepts), yes/no values where numbers belong, merge keys, unbounded text,
floods of unknown keys; then the inbox's names and links.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, small_brief, write_brief

from pipeline.sensors import errors_file, scan_inbox, write_errors_locally
from resources.brief_files import briefs_in
from resources.domain.brief import MAX_PROBLEMS, BriefError, parse_brief_bytes
from resources.inbox import BriefInbox

RAW_CHARACTERS = ["\x00", "\x01", "\x1b", "\x7f", "\u009b", "\ufffe"]


def brief_text(**overrides) -> str:
    return yaml.safe_dump(small_brief(**overrides), allow_unicode=True, sort_keys=False)


def problems(text: str) -> list[str]:
    with pytest.raises(BriefError) as caught:
        parse_brief_bytes(text.encode(), "hostile.yaml")
    return caught.value.problems


@pytest.mark.parametrize("char", RAW_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_raw_control_character_is_one_line_naming_it_and_its_line(char):
    text = brief_text().replace("Dra. Ana", f"Dra.{char} Ana", 1)
    assert f"Dra.{char} Ana" in text
    (line,) = problems(text)
    assert f"U+{ord(char):04X}" in line and "line " in line and line.startswith("(file):")


@pytest.mark.parametrize("escape", ["\\x01", "\\e", "\\x7f", "\\u202e", "\\x9b", "\\uFFFF"])
def test_a_control_character_written_as_an_escape_is_refused_naming_the_field(escape):
    text = brief_text().replace("name: Dra. Ana Souza", f'name: "Dra.{escape} Ana"', 1)
    (line,) = problems(text)
    assert line.startswith("character.name: ") and "U+" in line


def test_a_newline_is_refused_in_a_name_and_kept_in_a_prompt():
    assert problems(brief_text(character={**small_brief()["character"], "name": "a\nb"})) == [
        "character.name: the text holds the character U+000A (a control, direction or "
        "non-character); remove it"
    ]
    shot = {**small_brief()["shots"][0], "prompt": "she smiles,\nthen nods"}
    assert parse_brief_bytes(brief_text(shots=[shot]).encode(), "b.yaml").shots[0].prompt


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("video.fps", "video: {fps: yes}"),
        ("references.seed", "references: {seed: true}"),
        ("references.count", "references: {count: on}"),
        ("deliverable.resolution", "deliverable: {resolution: [yes, 1080]}"),
        ("shots[0].duration_s", None),
    ],
)
def test_a_yes_or_no_where_a_number_belongs_is_refused(field, text):
    data = small_brief()
    if text is None:
        data["shots"][0]["duration_s"] = True
    else:
        data.update(yaml.safe_load(text))
    found = problems(yaml.safe_dump(data))
    assert [line.split(":")[0] for line in found] == [field]
    assert "yes/no value" in found[0]


def test_a_yes_or_no_field_still_takes_one():
    brief = parse_brief_bytes(brief_text(qc={"measure_lora_effect": True}).encode(), "b.yaml")
    assert brief.qc.measure_lora_effect is True


def test_a_merge_key_is_refused_naming_its_line():
    # `<<: *base` then `fps: 24`: PyYAML keeps one fps and drops the other without a word.
    text = brief_text() + "base: &base {fps: 30}\nvideo_extra:\n  <<: *base\n  fps: 24\n"
    (line,) = problems(text)
    assert line.startswith("video_extra: ") and "merge key (<<)" in line and "line " in line


@pytest.mark.parametrize("where", ["references", "video", "shot"])
def test_a_negative_prompt_has_a_length_limit(where):
    long = "blurry, " * 300
    data = small_brief()
    if where == "shot":
        data["shots"][0]["negative_prompt"] = long
        field = "shots[0].negative_prompt"
    else:
        data.setdefault(where, {})["negative_prompt"] = long
        field = f"{where}.negative_prompt"
    (line,) = problems(yaml.safe_dump(data))
    assert line.startswith(f"{field}: ") and "2000" in line


def test_ten_thousand_unknown_keys_give_a_bounded_report():
    data = small_brief()
    data.update({f"key{i}": i for i in range(10_000)})
    found = problems(yaml.safe_dump(data))
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1] == f"(brief): {10_000 - MAX_PROBLEMS} more problem(s) not listed"


def test_an_upper_case_suffix_is_a_brief(tmp_path):
    write_brief(tmp_path, small_brief(), name="Brief.YAML")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in briefs_in(tmp_path)] == ["Brief.YAML"]


def test_a_hard_link_in_an_inbox_folder_is_refused_and_its_values_not_echoed(tmp_path):
    outside = tmp_path / "private" / "secret.yaml"
    outside.parent.mkdir()
    outside.write_text(brief_text(client="Segredo-Do-Cliente"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    os.link(outside, inbox / "linked.yaml")
    (entry,) = list(BriefInbox(paths=[str(inbox)]).scan())
    assert entry.brief is None
    assert entry.error.problems == [
        "(file): a hard link (2 names for one file); put a copy of the brief here"
    ]
    assert "Segredo" not in str(entry.error)


def test_the_errors_file_is_no_more_readable_than_the_brief(tmp_path):
    brief = tmp_path / "private.yaml"
    brief.write_text("client: [")
    brief.chmod(0o600)
    write_errors_locally(brief, "problems")
    assert stat.S_IMODE(errors_file(brief).stat().st_mode) & 0o077 == 0


def test_a_brief_with_a_raw_control_character_never_stops_a_tick(tmp_path):
    good = write_brief(tmp_path, small_brief(), name="good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(brief_text(client="other").replace("Dra. Ana", "Dra.\x00 Ana"))
    tick = scan_inbox([bad, good], {}, set(), log=lambda line: None)
    assert [r.partition_key for r in tick.run_requests] == ["acme-health/dr-ana"]
    assert "U+0000" in errors_file(bad).read_text()
    assert not errors_file(good).exists()


def test_small_briefs_are_parsed_before_large_ones_when_the_budget_runs_out(tmp_path):
    flood = small_brief(client="flood")
    flood.update({f"unknown{i}": "x" * 50 for i in range(4000)})
    large = [write_brief(tmp_path, flood, name=f"a{i:02}.yaml") for i in range(5)]
    good = write_brief(tmp_path, small_brief(), name="z-good.yaml")
    ticks = iter(range(1000))  # each look at the clock is one second later
    tick = scan_inbox(
        [*large, good], {}, set(), log=lambda line: None, budget_s=2.5, clock=lambda: next(ticks)
    )
    assert [r.partition_key for r in tick.run_requests] == ["acme-health/dr-ana"]
    assert tick.deferred == 4  # the good brief first, then one large one, then the budget is out
    (report,) = [errors_file(p) for p in large if errors_file(p).exists()]
    assert len(report.read_bytes()) < 5_000  # the first problems and a count, not 4000 lines


def test_validate_and_quote_answer_one_line_per_file_and_go_on(tmp_path):
    write_brief(tmp_path, small_brief(), name="good.yaml")
    (tmp_path / "bad.yaml").write_text(
        brief_text(client="other").replace("Dra. Ana", "Dra.\x1b Ana")
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "pipeline", *a], capture_output=True, text=True, cwd=REPO, env=env
    )
    validated = run("validate", str(tmp_path))
    quoted = run("quote", str(tmp_path / "bad.yaml"))
    assert validated.returncode == 1 and "Traceback" not in validated.stderr
    lines = (validated.stdout + validated.stderr).strip().splitlines()
    assert any(
        line.startswith(f"{tmp_path / 'bad.yaml'}: (file): the character U+001B") for line in lines
    )
    assert any("good.yaml" in line and "valid" in line for line in lines), lines
    assert quoted.returncode == 1 and "Traceback" not in quoted.stderr
    assert quoted.stderr.strip().count("\n") == 0 and "U+001B" in quoted.stderr


def test_nested_aliases_are_refused_before_they_expand():
    lines = ["client: acme-health", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    (line,) = problems("\n".join(lines) + "\n")
    assert line.startswith("(file): more than 100 aliases")


def test_a_megabyte_unknown_key_is_named_by_its_start():
    data = small_brief()
    data["k" * 500_000] = 1
    (line,) = problems(yaml.safe_dump(data, width=10**7))
    assert len(line) < 300 and line.startswith("kkk") and "unknown field" in line
