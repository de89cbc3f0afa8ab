"""docs/briefs.md: its annotated examples are valid briefs, the same in both languages, and its
table documents every field a brief has."""

from __future__ import annotations

import re

from conftest import REPO
from sound_support import write_voice_sample

from resources.domain.brief import Brief, parse_brief_bytes
from resources.domain.brief_problems import _model_of

DOC = (REPO / "docs" / "briefs.md").read_text()


def _leaf_paths(model, prefix: str = ""):
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        path = f"{prefix}{name}"
        if inner is None:
            yield path
        else:
            listed = "list" in str(field.annotation)
            yield from _leaf_paths(inner, f"{path}[]." if listed else f"{path}.")


def test_the_annotated_examples_are_one_valid_brief_in_both_languages(tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    assert len(blocks) == 2
    write_voice_sample(tmp_path / "ana-voz.wav")  # the sample the examples name, beside them
    pt, en = (parse_brief_bytes(b.encode(), str(tmp_path / "brief.yaml")) for b in blocks)
    assert pt == en
    assert pt.character.voice.sample == "ana-voz.wav" and pt.approval.references == "required"
    # The shot without a seed got its own, derived from its id.
    assert pt.shots[0].seed != pt.shots[1].seed == 11


def test_every_field_of_a_brief_is_in_the_table():
    """A field has its own row, or the row of the mapping that holds it names it (`sample:`)."""
    rows = {
        name: row.group(0)
        for row in re.finditer(r"^\| ([^|]+) \|.*$", DOC, re.M)
        for name in re.findall(r"`([^`]+)`", row.group(1))
    }
    missing = []
    for path in _leaf_paths(Brief):
        parts = path.split(".")
        for cut in range(len(parts), 0, -1):
            row = rows.get(".".join(parts[:cut]))
            if row is not None:
                if all(f"{p}:" in row for p in parts[cut:]):
                    break
        else:
            missing.append(path)
    assert missing == []
