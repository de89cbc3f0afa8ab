"""A line's voice re-rolled alone: the override, the snapshot's seeds, the report's scores."""

from __future__ import annotations

from conftest import small_brief

from assets.stages.client_report import voice_table
from assets.stages.narration import line_seed
from resources.domain.brief import parse_brief
from resources.domain.review import Override, apply_overrides

SHOTS = [
    {"id": "intro", "prompt": "she greets", "duration_s": 2, "seed": 7, "line": "Olá, tudo bem?"},
    {"id": "outro", "prompt": "she waves", "duration_s": 2, "seed": 9, "line": "Até logo."},
]


def _brief(**shot_two):
    shots = [dict(SHOTS[0]), {**SHOTS[1], **shot_two}]
    return parse_brief(small_brief(shots=shots, character={**small_brief()["character"]}))


def _override(shot: str, seed: int, brief_seed: int, line: bool) -> Override:
    return Override(shot, brief_seed, seed, "ana", "2026-12-05T00:00:00Z", brief_seed, line=line)


def test_a_line_reroll_sets_the_voice_seed_and_keeps_the_picture_seed():
    brief, applied = apply_overrides(_brief(), [_override("outro", 4242, 9, line=True)])
    outro = brief.shots[1]
    assert (outro.seed, outro.voice_seed, line_seed(outro)) == (9, 4242, 4242)
    assert line_seed(brief.shots[0]) == 7 and brief.shots[0].voice_seed is None
    assert [o.line for o in applied] == [True]


def test_a_picture_reroll_and_a_line_reroll_of_one_shot_both_apply():
    overrides = [_override("outro", 77, 9, line=False), _override("outro", 4242, 9, line=True)]
    brief, applied = apply_overrides(_brief(), overrides)
    assert (brief.shots[1].seed, brief.shots[1].voice_seed) == (77, 4242)
    assert len(applied) == 2


def test_editing_the_voice_seed_in_the_brief_wins_over_a_line_reroll():
    brief, applied = apply_overrides(_brief(voice_seed=5), [_override("outro", 4242, 9, line=True)])
    assert brief.shots[1].voice_seed == 5 and applied == []


def test_a_brief_without_voice_seed_keeps_its_version():
    plain = _brief()
    assert "voice_seed" not in plain.canonical_json()
    assert plain.content_hash() != _brief(voice_seed=9).content_hash()


def _narration(**qc) -> dict:
    lines = [
        {"id": "intro", "text": "Olá | tudo bem?", "cer": 0.05, "voice": 0.812, "passed": True},
        {"id": "outro", "text": "Até logo.", "cer": 0.4, "voice": None, "passed": False},
    ]
    lines[1]["attempts"] = [{}, {}, {}]
    limits = {"max_cer": None, "min_voice": -1.0, "accept_lines": [], **qc}
    return {"lines": lines, "parameters": {"qc": limits}}


def test_the_report_lists_each_line_with_cer_voice_verdict_and_limits():
    table = voice_table(_narration(max_cer=0.25, min_voice=0.6), accepted=set())
    assert "| intro | Olá / tudo bem? | 0.050 | 0.812 | 1 | pass |" in table
    assert "| outro | Até logo. | 0.400 | no sample | 3 | outside the limits |" in table
    assert table.endswith("qc.max_cer 0.25; qc.min_voice 0.6")


def test_the_report_names_a_line_a_producer_accepted():
    by_record = voice_table(_narration(), accepted={"outro"})
    by_brief = voice_table(_narration(accept_lines=["outro"]), accepted=set())
    for table in (by_record, by_brief):
        assert "| outro | Até logo. | 0.400 | no sample | 3 | accepted by a producer |" in table
        assert "qc.max_cer not set (measured only); qc.min_voice -1 (measured only)" in table
    assert voice_table(None, set()) == "no lines spoken"
