"""Validation completes: duplicate keys, deep nesting, seed ranges, NaN/inf, hostile files."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, small_brief, write_brief
from pydantic import BaseModel

from resources.domain.brief import (
    MAX_BRIEF_BYTES,
    MAX_DEPTH,
    MAX_SEED,
    Brief,
    BriefError,
    load_brief,
    parse_brief_bytes,
)


def problems_of_yaml(text: str) -> list[str]:
    with pytest.raises(BriefError) as caught:
        parse_brief_bytes(text.encode(), "brief.yaml")
    return caught.value.problems


def brief_yaml(data: dict | None = None) -> str:
    return yaml.safe_dump(data or small_brief(), allow_unicode=True, sort_keys=False)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_duplicate_top_level_key_is_refused_naming_key_and_lines():
    text = brief_yaml()
    first = text.splitlines().index("shots:") + 1
    text += "shots:\n- {id: only, prompt: a second list, duration_s: 1}\n"
    second = len(text.splitlines()) - 1
    assert problems_of_yaml(text) == [
        f"shots: duplicate key at line {second} (first at line {first})"
    ]


def test_a_brief_saved_by_an_older_windows_editor_is_refused_naming_where_and_what_to_do():
    text = brief_yaml(small_brief(character={**small_brief()["character"], "name": "Dr. João"}))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "João" in row)
    column = text.splitlines()[line - 1].index("ã") + 1
    with pytest.raises(BriefError) as caught:
        parse_brief_bytes(text.encode("cp1252"), "brief.yaml")
    assert caught.value.problems == [
        f"(file): not UTF-8 text: byte 0xE3 ('ã' in Windows-1252) at line {line}, column "
        f"{column}; save the file as UTF-8"
    ]
    assert caught.value.problems_pt == [
        f"(file): o texto não é UTF-8: byte 0xE3 ('ã' em Windows-1252) na linha {line}, coluna "
        f"{column}; salve o arquivo como UTF-8"
    ]
    with pytest.raises(BriefError) as caught:
        parse_brief_bytes(text.encode("utf-16"), "brief.yaml")
    assert caught.value.problems == ["(file): UTF-16 text, not UTF-8: save the file as UTF-8"]
    # A byte no Windows-1252 letter is, after UTF-8 letters on its line: counted in letters.
    with pytest.raises(BriefError) as caught:
        parse_brief_bytes("client: ção".encode() + b"\x81\n", "brief.yaml")
    assert caught.value.problems == [
        "(file): not UTF-8 text: byte 0x81 at line 1, column 12; save the file as UTF-8"
    ]


def test_duplicate_nested_key_is_named_by_its_field_path():
    text = brief_yaml().replace("  seed: 5\n", "  seed: 5\n  seed: 6\n")
    (problem,) = problems_of_yaml(text)
    assert problem.startswith("references.seed: duplicate key at line ")


def test_duplicate_key_inside_a_shot_names_the_shot():
    text = brief_yaml().replace("  seed: 7\n", "  seed: 7\n  seed: 8\n")
    (problem,) = problems_of_yaml(text)
    assert problem.startswith("shots[0].seed: duplicate key at line ")


def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(brief_yaml() + "extra: " + "[" * 2000 + "]" * 2000 + "\n")
    line = len(brief_yaml().splitlines()) + 1
    message = f"(file): nested deeper than {MAX_DEPTH} levels at line {line}"
    assert problems_of_yaml(path.read_text()) == [message]
    done = run_cli("validate", str(path))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{path}: {message}"]


def test_nesting_up_to_the_limit_is_read():
    # MAX_DEPTH - 1 levels of list under a top-level key: the document root is level one.
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert problems_of_yaml(brief_yaml() + f"extra: {nested}\n") == ["extra: unknown field"]


def test_malformed_typed_value_is_a_problem_line_not_a_crash():
    assert problems_of_yaml(brief_yaml() + "extra: 2001-02-30\n") == [
        f"(file): the value at line {len(brief_yaml().splitlines()) + 1} cannot be read: "
        "day is out of range for month"
    ]


SEED_FIELDS = [
    (lambda b, v: b["references"].update(seed=v), "references.seed"),
    (lambda b, v: b["lora"].update(seed=v), "lora.seed"),
    (lambda b, v: b["shots"][1].update(seed=v), "shots[1].seed"),
]


@pytest.mark.parametrize(("set_seed", "field"), SEED_FIELDS)
@pytest.mark.parametrize("value", [2**64, 2**63, MAX_SEED + 1, -1])
def test_seed_outside_the_generators_range_is_refused(set_seed, field, value):
    data = small_brief()
    set_seed(data, value)
    problems = problems_of_yaml(brief_yaml(data))
    assert len(problems) == 1 and problems[0].startswith(f"{field}: "), problems


@pytest.mark.parametrize(("set_seed", "field"), SEED_FIELDS)
def test_largest_seed_is_accepted(set_seed, field):
    data = small_brief()
    set_seed(data, MAX_SEED)
    parse_brief_bytes(brief_yaml(data).encode(), "brief.yaml")


def test_seed_range_is_what_every_generator_accepts():
    """MAX_SEED is the common range: numpy's legacy seeding (accelerate.set_seed) stops there."""
    # Stages add small offsets: reference i uses seed + i (i < 200), training seed + 2.
    torch.Generator().manual_seed(MAX_SEED + 200)
    torch.manual_seed(MAX_SEED + 200)
    np.random.RandomState(MAX_SEED)
    with pytest.raises(ValueError):
        np.random.RandomState(MAX_SEED + 1)
    with pytest.raises((ValueError, RuntimeError, OverflowError)):
        torch.Generator().manual_seed(2**64)  # what 2**64 used to do at materialize


def _float_fields(annotation, path: str) -> list[str]:
    """Paths of every float field under `annotation` (models, lists of models, optionals)."""
    if annotation is float:
        return [path]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [
            found
            for name, info in annotation.model_fields.items()
            for found in _float_fields(info.annotation, f"{path}.{name}".lstrip("."))
        ]
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _float_fields(item, f"{path}[0]")
    return [found for arg in typing.get_args(annotation) for found in _float_fields(arg, path)]


FLOAT_FIELDS = [
    "video.lora_strength",
    "lora.alpha",
    "lora.learning_rate",
    "shots[0].duration_s",
    "qc.min_identity",
    "qc.min_cross_shot",
    "qc.outlier_gap",
    "qc.duplicate_above",
    "audio.loudness",
    "qc.max_cer",
    "qc.min_voice",
    "deliverable.title_card.duration_s",
    "deliverable.end_card.duration_s",
    "deliverable.logo.opacity",
]
# What a nested section needs besides the float under test.
SECTION_NEEDS = {
    "title_card": {"text": "Olá"},
    "end_card": {"text": "Até"},
    "logo": {"file": "l.png"},
}


def test_float_field_list_covers_every_float_of_the_schema():
    assert sorted(_float_fields(Brief, "")) == sorted(FLOAT_FIELDS)


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_float_fields_refuse_nan_and_infinity(field, value):
    data = small_brief()
    section, *inner, name = field.split(".")
    target = data["shots"][0] if section == "shots[0]" else data.setdefault(section, {})
    for part in inner:
        target = target.setdefault(part, dict(SECTION_NEEDS[part]))
    target[name] = "__VALUE__"
    text = brief_yaml(data).replace("__VALUE__", value)
    typed = {".inf": "inf", "-.inf": "-inf", ".nan": "nan"}[value]  # echoed as YAML read it
    assert problems_of_yaml(text) == [f"{field}: Input should be a finite number (got {typed})"]


def test_cli_validate_refuses_inf_alpha_and_huge_seed(tmp_path):
    data = small_brief()
    data["lora"]["alpha"] = float("inf")
    data["shots"][0]["seed"] = 2**64
    path = write_brief(tmp_path, data)
    done = run_cli("validate", str(path))
    assert done.returncode == 1
    fields = sorted(line.split(": ")[1] for line in done.stderr.splitlines())
    assert fields == ["lora.alpha", "shots[0].seed"]


# Files that are not briefs: read without blocking, refused in one line.


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "z.yaml"
    os.mkfifo(fifo)
    with pytest.raises(BriefError) as caught:
        load_brief(fifo)
    assert caught.value.problems == ["(file): not a regular file (a FIFO)"]


def test_link_to_dev_zero_is_refused_without_reading(tmp_path):
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(BriefError) as caught:
        load_brief(link)
    assert caught.value.problems == ["(file): not a regular file (a character device)"]


def test_symlink_is_refused_where_links_are_not_followed(tmp_path):
    target = write_brief(tmp_path / "elsewhere", small_brief())
    link = tmp_path / "inbox" / "ana.yaml"
    link.parent.mkdir()
    link.symlink_to(target)
    assert load_brief(link).partition_key == "acme-health/dr-ana"  # named explicitly: followed
    with pytest.raises(BriefError) as caught:
        load_brief(link, follow_symlinks=False)
    (problem,) = caught.value.problems
    assert problem.startswith(f"(file): a symbolic link (to {target})")


def test_directory_is_refused(tmp_path):
    folder = tmp_path / "x.yaml"
    folder.mkdir()
    with pytest.raises(BriefError) as caught:
        load_brief(folder)
    assert caught.value.problems == ["(file): not a regular file (a directory)"]


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(brief_yaml() + "#" * MAX_BRIEF_BYTES + "\n")
    with pytest.raises(BriefError) as caught:
        load_brief(path)
    (problem,) = caught.value.problems
    assert problem.startswith("(file): ") and "at most 1,000,000 bytes (1 MB)" in problem
    exactly = tmp_path / "exactly.yaml"
    text = brief_yaml()
    exactly.write_text(text + "#" * (MAX_BRIEF_BYTES - len(text.encode())))
    assert exactly.stat().st_size == MAX_BRIEF_BYTES
    assert load_brief(exactly).partition_key == "acme-health/dr-ana"


def test_unreadable_file_is_named(tmp_path, monkeypatch):
    path = write_brief(tmp_path, small_brief())
    real_open = os.open

    def refuse(target, flags, *args):
        if Path(target) == path:
            raise PermissionError(13, "Permission denied", str(target))
        return real_open(target, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(BriefError) as caught:
        load_brief(path)
    assert caught.value.problems == ["(file): cannot read: Permission denied"]


def test_cli_validate_refuses_a_fifo_and_a_directory_with_a_message(tmp_path):
    fifo = tmp_path / "inbox" / "z.yaml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    (tmp_path / "inbox" / "x.yaml").mkdir()
    good = write_brief(tmp_path / "inbox", small_brief(), name="ana.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("validate", str(tmp_path / "inbox"), str(fifo), str(empty))
    assert done.returncode == 1
    assert sorted(done.stderr.splitlines()) == sorted(
        [
            f"{tmp_path / 'inbox' / 'x.yaml'}: (file): not a regular file (a directory)",
            f"{fifo}: (file): not a regular file (a FIFO)",
            f"{fifo}: (file): not a regular file (a FIFO)",
            f"{empty}: (file): a folder with no briefs (*.yaml, *.yml)",
        ]
    )
    assert done.stdout.splitlines() == [
        f"{good}: ok (acme-health/dr-ana, 2 shots, 1.5 s, hunyuan_video)"
    ]


def test_cli_validate_of_two_briefs_for_one_character_reports_the_conflict(tmp_path):
    a = write_brief(tmp_path, small_brief(), name="a.yaml")
    other = small_brief()
    other["shots"][0]["seed"] = 99
    b = write_brief(tmp_path, other, name="b.yaml")
    done = run_cli("validate", str(a), str(b))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{a}: character: acme-health/dr-ana is also the partition of {b}; "
        "keep one brief per client/character",
        f"{b}: character: acme-health/dr-ana is also the partition of {a}; "
        "keep one brief per client/character",
    ]
    assert run_cli("validate", str(a)).returncode == 0
