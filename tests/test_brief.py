"""The brief schema: good briefs pass, every bad field is named."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import EXAMPLES, REPO, small_brief, write_brief

from resources.domain.brief import MAX_SEED, BriefError, load_brief, parse_brief


def problems_of(data: dict) -> list[str]:
    with pytest.raises(BriefError) as caught:
        parse_brief(data)
    return caught.value.problems


def test_example_briefs_are_valid():
    from resources.brief_files import partition_conflicts

    paths = sorted(EXAMPLES.glob("*.yaml"))
    briefs = [load_brief(p) for p in paths]
    assert len(briefs) >= 2
    assert {b.partition_key for b in briefs} >= {"acme-health/dr-ana", "sunny-foods/pip"}
    # examples/ is the default inbox (`make dev`, `make review`): two briefs for one partition
    # there and the sensor would run neither.
    claims = {str(p): b.partition_key for p, b in zip(paths, briefs, strict=True)}
    assert partition_conflicts(claims) == {}


def test_defaults_fill_optional_sections_and_trigger_from_id():
    data = small_brief()
    del data["character"]["trigger"]
    for section in ("references", "video", "lora", "deliverable"):
        del data[section]
    brief = parse_brief(data)
    assert brief.character.trigger == "drana"
    assert brief.video.model == "hunyuan_video"
    assert brief.deliverable.resolution == (1920, 1080)
    assert brief.references.count == 12


def test_unicode_name_is_kept():
    brief = parse_brief(small_brief())
    assert brief.character.name == "Dra. Ana Souza"
    data = small_brief()
    data["character"]["name"] = "Dr. Zoë Łukasiewicz 医生"
    assert parse_brief(data).character.name == "Dr. Zoë Łukasiewicz 医生"


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda b: b.update(colour="red"), "colour", "unknown field"),
        (lambda b: b["character"].update(hair="red"), "character.hair", "unknown field"),
        (lambda b: b.update(client="../x"), "client", "not a slug"),
        (lambda b: b.update(client="Acme Health"), "client", "not a slug"),
        (lambda b: b.update(client="a" * 64), "client", "at most 63"),
        (lambda b: b["character"].update(id="dr/ana"), "character.id", "not a slug"),
        (lambda b: b.pop("shots"), "shots", "missing"),
        (lambda b: b.update(shots=[]), "shots", "at least 1"),
        (lambda b: b["shots"][1].update(duration_s=0), "shots[1].duration_s", "greater than 0"),
        (lambda b: b["shots"][0].update(duration_s=-2), "shots[0].duration_s", "greater than 0"),
        (lambda b: b["shots"][1].update(id="intro"), "shots", "used twice"),
        (lambda b: b["video"].update(model="sora"), "video.model", "unknown video model"),
        (
            lambda b: b["video"].update(model="holocine_14b"),
            "video",
            "licensed CC BY-NC-SA 4.0 (non-commercial: no paid work",
        ),
        (
            lambda b: b["deliverable"].update(resolution=[7680, 4320]),
            "deliverable.resolution",
            "above 4K",
        ),
        (
            lambda b: b["deliverable"].update(resolution=[1921, 1080]),
            "deliverable.resolution",
            "even",
        ),
        (
            lambda b: b["deliverable"].update(resolution=[0, 1080]),
            "deliverable.resolution",
            "positive",
        ),
        (
            lambda b: b["deliverable"].update(resolution=[256, 142]),
            "deliverable.resolution",
            "resolution 256x142 is below 144 pixels on a side",
        ),
        (
            lambda b: b["character"].update(trigger="two words"),
            "character.trigger",
            "one lowercase",
        ),
        (lambda b: b["lora"].update(steps=0), "lora.steps", "greater than or equal to 1"),
    ],
)
def test_bad_field_is_named(mutate, field, words):
    data = small_brief()
    mutate(data)
    problems = problems_of(data)
    assert any(p.startswith(f"{field}:") and words in p for p in problems), problems


def test_every_problem_gets_its_own_line():
    data = small_brief(client="../x")
    data["video"]["model"] = "sora"
    data["shots"][0]["duration_s"] = -1
    problems = problems_of(data)
    assert [p.split(":")[0] for p in problems] == ["client", "video.model", "shots[0].duration_s"]


def test_content_hash_changes_with_content_only(tmp_path):
    a = parse_brief(small_brief())
    b = load_brief(write_brief(tmp_path, small_brief()))
    assert a.content_hash() == b.content_hash()
    changed = small_brief()
    changed["shots"][0]["prompt"] = "she nods"
    assert parse_brief(changed).content_hash() != a.content_hash()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=REPO
    )


def test_cli_validate_exits_zero_on_good_brief(brief_file):
    done = run_cli("validate", str(brief_file))
    assert done.returncode == 0, done.stderr
    assert "acme-health/dr-ana" in done.stdout


def test_cli_validate_prints_one_line_per_problem(tmp_path):
    data = small_brief(client="../x", extra="1")
    data["shots"][0]["duration_s"] = 0
    data["video"]["model"] = "sora"
    data["deliverable"]["resolution"] = [8192, 4320]
    path = write_brief(tmp_path, data)
    done = run_cli("validate", str(path))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    fields = sorted(line.split(": ")[1] for line in lines)
    assert fields == sorted(
        ["client", "extra", "shots[0].duration_s", "video.model", "deliverable.resolution"]
    )


def test_cli_validate_names_unreadable_and_malformed_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("client: [unclosed\n")
    done = run_cli("validate", str(broken), str(tmp_path / "absent.yaml"))
    assert done.returncode != 0
    assert f"{broken}: (file): not valid YAML" in done.stderr
    assert "absent.yaml: (file): cannot read" in done.stderr


def test_an_unknown_field_suggests_the_closest_known_one():
    data = small_brief()
    data["character"]["descricao"] = data["character"].pop("description")
    problems = problems_of(data)
    assert "character.descricao: unknown field; did you mean `description`?" in problems


def test_problems_come_in_portuguese_too_with_duplicates_among_the_rest():
    from resources.domain.brief import BriefError, parse_brief

    data = small_brief()
    data["shots"][1].update(id="intro", duration_s=-1)  # a duplicate inside an invalid shot
    data["video"]["fps"] = 0
    with pytest.raises(BriefError) as caught:
        parse_brief(data)
    assert caught.value.problems == [
        "video.fps: Input should be greater than or equal to 1 (got 0)",
        "shots[1].duration_s: Input should be greater than 0 (got -1)",
        "shots: shot id 'intro' is used twice (shots[0] and shots[1])",
    ]
    assert caught.value.problems_pt == [
        "video.fps: deve ser maior ou igual a 1 (recebido: 0)",
        "shots[1].duration_s: deve ser maior que 0 (recebido: -1)",
        "shots: o id de plano 'intro' aparece duas vezes (shots[0] e shots[1])",
    ]


@pytest.mark.parametrize(
    ("path", "mutate"),
    [
        ("shots[0].prompt", lambda d: d["shots"][0].update(prompt="   ")),
        ("character.name", lambda d: d["character"].update(name="\u00a0 ")),  # no-break space
        ("character.description", lambda d: d["character"].update(description=" \n ")),
        ("shots[1].line", lambda d: d["shots"][1].update(line="  ")),
    ],
)
def test_a_text_of_spaces_alone_is_refused_as_blank(path, mutate):
    data = small_brief()
    mutate(data)
    with pytest.raises(BriefError) as caught:
        parse_brief(data)
    (en,), (pt,) = caught.value.problems, caught.value.problems_pt
    assert en.startswith(f"{path}: only spaces: write the text or leave the field out (got ")
    assert pt.startswith(f"{path}: só espaços: escreva o texto ou deixe o campo de fora")


@pytest.mark.parametrize(
    ("typed", "slug"),
    [("introdução", "introducao"), ("Cena 2 - Diagnóstico", "cena-2-diagnostico"), ("a__b", "a-b")],
)
def test_an_accented_or_spaced_shot_id_gets_a_suggested_slug(typed, slug):
    data = small_brief()
    data["shots"][0]["id"] = typed
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (en,), (pt,) = refused.value.problems, refused.value.problems_pt
    assert en.startswith(f"shots[0].id: {typed!r} is not a slug") and en.endswith(f"try {slug!r}")
    assert pt.endswith(f"tente {slug!r}")
    data["shots"][0]["id"] = slug  # the suggestion is itself a valid id
    assert parse_brief(data).shots[0].id == slug


def test_a_bad_value_is_echoed_in_its_message_unless_the_message_names_it_already():
    data = small_brief()
    data["video"]["fps"] = "vinte"
    data["shots"][0]["seed"] = 2**40
    data["deliverable"]["crf"] = 99
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    lines = refused.value.problems
    assert any(line.startswith("video.fps: ") and line.endswith("(got 'vinte')") for line in lines)
    assert any(line.startswith("shots[0].seed: ") and f"(got {2**40})" in line for line in lines)
    assert any(line.startswith("deliverable.crf: ") and "(got 99)" in line for line in lines)
    data = small_brief(video={"model": "nope"})
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (line,) = refused.value.problems
    assert line.count("'nope'") == 1  # the model validator's own message names it: no echo


def test_shots_that_leave_seed_out_get_distinct_seeds_derived_from_their_ids():
    data = small_brief()
    for shot in data["shots"]:
        shot.pop("seed", None)
    first = parse_brief(data)
    seeds = [s.seed for s in first.shots]
    assert len(set(seeds)) == len(seeds) and all(0 <= s <= MAX_SEED for s in seeds)
    assert [s.seed for s in parse_brief(data).shots] == seeds  # the same ids, the same seeds
    data["shots"][0]["seed"] = 0  # a seed given, even 0, is kept
    assert parse_brief(data).shots[0].seed == 0
    renamed = small_brief()
    renamed["shots"][0].pop("seed", None)
    renamed["shots"][0]["id"] = "abertura"
    assert parse_brief(renamed).shots[0].seed not in seeds


def test_a_shot_longer_than_the_models_longest_clip_is_refused_naming_what_fits():
    data = small_brief()
    data["shots"][1]["duration_s"] = 8
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (line,) = refused.value.problems
    # HunyuanVideo's longest clip: 129 frames at 24 fps; LTX-Video's: 257 frames at 24 fps; LTX-2's
    # 481 frames (20 s).
    assert line.startswith("shots[1].duration_s: shot 'outro' is 8 s")
    assert f"hunyuan_video's longest clip, {129 / 24:.2f} s (129 frames at 24 fps)" in line
    ltx2 = f"{481 / 24:.2f}"
    assert line.endswith(
        f"models that take 8 s: ltx_video ({257 / 24:.2f} s), ltx_2 ({ltx2} s), ltx_2_5 ({ltx2} s)"
    )


def test_a_shot_too_long_because_of_its_line_names_the_line_in_both_languages():
    data = small_brief()
    line = "Hoje vamos falar de hipertensão, diabetes e insuficiência cardíaca no idoso frágil."
    data["shots"][1] = {"id": "fala", "prompt": "p", "line": line}  # timed by its line: 6.6 s
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (en,), (pt,) = refused.value.problems, refused.value.problems_pt
    assert en.startswith("shots[1].line: shot 'fala', timed by its line, is 6.6 s, longer than")
    assert en.endswith("; or split the line over two shots")
    assert pt.startswith("shots[1].line: a cena 'fala', com a duração da sua fala, tem 6.6 s")
    assert pt.endswith("; ou divida a fala em duas cenas")


def test_a_shot_no_model_can_render_in_one_clip_says_to_split_it():
    data = small_brief()
    data["shots"][0]["duration_s"] = 60
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (line,) = refused.value.problems
    assert "shot 'intro' is 60 s" in line
    assert "no registry model takes 60 s in one clip; split the shot" in line


@pytest.mark.parametrize(
    ("model", "longest_s"),
    [("hunyuan_video", 129 / 24), ("wan21_t2v_1_3b", 81 / 16), ("ltx_video", 257 / 24)],
)
def test_a_shot_as_long_as_the_longest_clip_is_accepted_and_a_little_longer_is_not(
    model, longest_s
):
    data = small_brief(video={"model": model})
    data["shots"][0]["duration_s"] = longest_s
    assert parse_brief(data).shots[0].duration_s == longest_s
    data["shots"][0]["duration_s"] = longest_s + 0.1
    with pytest.raises(BriefError, match=f"longer than {model}'s longest clip"):
        parse_brief(data)


def test_cli_validate_refuses_a_shot_too_long_for_the_model(tmp_path):
    data = small_brief(video={"model": "wan21_t2v_1_3b", "fps": 16})
    data["shots"][0]["duration_s"] = 5.2
    path = write_brief(tmp_path, data)
    done = run_cli("validate", str(path))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{path}: shots[0].duration_s: shot 'intro' is 5.2 s")
    assert f"wan21_t2v_1_3b's longest clip, {81 / 16:.2f} s (81 frames at 16 fps)" in line
    assert "hunyuan_video" in line and "ltx_video" in line and "wan22_ti2v_5b" not in line


def test_a_too_long_shot_is_explained_in_portuguese_too():
    data = small_brief()
    data["shots"][0]["duration_s"] = 60
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (line,) = refused.value.problems_pt
    assert line.startswith("shots[0].duration_s: a cena 'intro' tem 60 s")
    assert "nenhum modelo do registro gera 60 s num só clipe; divida a cena" in line


def test_every_registered_model_is_accepted_with_its_licence_acknowledged():
    from resources.domain.registry import VIDEO_MODELS

    for name, model in VIDEO_MODELS.items():
        video = {"model": name, "fps": 24}
        if model.licence_ack:
            video["licence_ack"] = model.licence_ack
        assert parse_brief(small_brief(video=video)).video.model == name


def test_scene_model_refuses_a_shot_list_longer_than_its_longest_scene():
    shots = [{"id": f"s{i}", "prompt": "she talks", "duration_s": 7.5, "seed": i} for i in range(4)]
    data = small_brief(
        video={"model": "holocine_14b", "licence_ack": "non-commercial"}, shots=shots
    )
    (problem,) = problems_of(data)
    assert problem.startswith("shots:")
    assert "totals 30 s (449 frames at 15 fps)" in problem
    assert "holocine_14b" in problem and "at most 241 frames (16.1 s)" in problem
    # 16 s at 15 fps is 240 frames -> 241: exactly the longest scene, accepted.
    data["shots"] = [{**s, "duration_s": 4.0} for s in shots]
    assert parse_brief(data).duration_s == 16.0


def test_scene_shots_too_short_to_cut_are_refused():
    shots = [
        {"id": "a", "prompt": "x", "duration_s": 1.0},
        {"id": "b", "prompt": "y", "duration_s": 0.1},
        {"id": "c", "prompt": "z", "duration_s": 1.0},
    ]
    data = small_brief(
        video={"model": "holocine_14b_sparse", "licence_ack": "non-commercial"}, shots=shots
    )
    (problem,) = problems_of(data)
    assert problem.startswith("shots:") and "at least 4 frames" in problem


def test_formats_written_plainly_in_yaml_are_aspect_names_with_their_sizes(tmp_path):
    path = tmp_path / "brief.yaml"
    text = write_brief(tmp_path, small_brief()).read_text()
    path.write_text(text.replace("deliverable:\n", "deliverable:\n  formats: [16:9, 9:16, 1:1]\n"))
    from resources.domain.formats import delivery_formats

    brief = load_brief(path)
    assert brief.deliverable.formats == ["16:9", "9:16", "1:1"]  # not 969, 556 and 61
    sizes = [(f.aspect, f.width, f.height, f.file) for f in delivery_formats(
        brief.deliverable.resolution, brief.deliverable.formats)]  # fmt: skip
    assert sizes == [
        ("16:9", 1920, 1080, "final.mp4"),
        ("9:16", 1080, 1920, "final-9x16.mp4"),
        ("1:1", 1080, 1080, "final-1x1.mp4"),
    ]


@pytest.mark.parametrize(
    ("formats", "words"),
    [(["16:9", "3:2"], "unknown format '3:2'"), (["1:1", "1:1"], "listed twice"), ([], "at least")],
)
def test_a_bad_format_list_is_refused_naming_the_field(formats, words):
    with pytest.raises(BriefError) as error:
        parse_brief(small_brief(deliverable={"formats": formats}))
    assert "deliverable.formats" in str(error.value) and words in str(error.value)


def test_a_deliverable_smaller_than_144p_is_refused_in_both_languages():
    data = small_brief()
    data["deliverable"]["resolution"] = [64, 36]
    with pytest.raises(BriefError) as refused:
        parse_brief(data)
    (en,), (pt,) = refused.value.problems, refused.value.problems_pt
    assert en == (
        "deliverable.resolution: resolution 64x36 is below 144 pixels on a side, the smallest a "
        "player offers (144p); the master is meant for screens: 1920x1080 is the usual"
    )
    assert pt.startswith("deliverable.resolution: a resolução 64x36 tem menos de 144 pixels")
    data["deliverable"]["resolution"] = [256, 144]  # 144p itself is a size
    assert parse_brief(data).deliverable.resolution == (256, 144)
