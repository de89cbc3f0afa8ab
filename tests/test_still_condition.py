"""Identity from the reference still, without rendering: the brief's field, validate's messages,
the still chooser, the still in a shot's version, and the still a renderer refuses.

The rendered path (Wan 2.2 I2V A14B on the tiny profile) is tests/test_reference_still.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, small_brief, write_brief
from test_clip_plan import _ref_of, _settings

from assets.stages.client_report import identity_table
from resources.domain.brief import BriefError, parse_brief
from resources.domain.clip_plan import StillPlan, plan_clips
from resources.domain.registry import REFERENCE_MODELS, reference_capable, video_model
from resources.domain.render import ShotRequest
from resources.qc.reference_still import ReferenceStill, choose_still
from resources.video.generator import check_stills


def _brief(video_condition: str | None = None, model: str = "wan22_t2v_a14b", **shot) -> dict:
    """Two shots; `video_condition` is video.condition, `shot` goes into the first shot."""
    video = {"model": model, "fps": 16}
    if video_condition:
        video["condition"] = video_condition
    return small_brief(
        video=video,
        shots=[
            {"id": "a", "prompt": "she greets", "duration_s": 1, "seed": 1, **shot},
            {"id": "b", "prompt": "she points", "duration_s": 1, "seed": 2},
        ],
    )


# -- the brief ----------------------------------------------------------------------------------


def test_lora_is_the_default_and_a_shot_may_take_its_own_condition():
    brief = parse_brief(_brief())
    assert [brief.condition_of(s) for s in ("a", "b")] == ["lora", "lora"]
    brief = parse_brief(_brief("reference", condition="both"))
    assert [brief.condition_of(s) for s in ("a", "b")] == ["both", "reference"]


def test_a_brief_that_leaves_condition_out_keeps_its_version():
    # The default is not in the brief's canonical form: every brief written before keeps its
    # version, and so its whole chain of artifacts.
    data = _brief()
    explicit = _brief("lora")
    assert parse_brief(data).content_hash() == parse_brief(explicit).content_hash()
    assert parse_brief(_brief("reference")).content_hash() != parse_brief(data).content_hash()


def test_a_bad_condition_is_one_line_naming_the_field():
    with pytest.raises(BriefError) as error:
        parse_brief(_brief("still"))
    assert error.value.problems == [
        "video.condition: Input should be 'lora', 'reference' or 'both' (got 'still')"
    ]


def test_a_model_without_an_image_to_video_checkpoint_is_refused_naming_the_ones_that_can():
    with pytest.raises(BriefError) as error:
        parse_brief(_brief(model="wan21_t2v_1_3b", condition="reference"))
    (line,) = error.value.problems
    assert "shots[0].condition: reference" in line
    assert "wan21_t2v_1_3b cannot" in line
    assert f"models that can: {', '.join(reference_capable())})" in line
    assert {"wan22_t2v_a14b", "kandinsky5_pro"} <= set(reference_capable())


def test_validate_says_which_shots_take_the_still_and_refuses_a_model_that_cannot(tmp_path):
    good = write_brief(tmp_path, _brief("both", condition="lora"), name="good.yaml")
    wrong = small_brief(video={"model": "hunyuan_video", "condition": "reference"})
    bad = write_brief(tmp_path, wrong | {"client": "other"}, name="bad.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 1
    assert (
        f"{good}: identity from the reference still for b (both): wan22_t2v_a14b renders them "
        "with wan22_i2v_a14b (WanImageToVideoPipeline)"
    ) in done.stdout.splitlines()
    (refused,) = done.stderr.strip().splitlines()
    assert refused.startswith(f"{bad}: video: `video.condition: reference` needs a model")
    assert f"hunyuan_video cannot (models that can: {', '.join(reference_capable())})" in refused


# -- the still chooser --------------------------------------------------------------------------


def _stills(tmp_path: Path, views: list[str]) -> list[ReferenceStill]:
    return [ReferenceStill(tmp_path / f"{i}.png", f"sha{i}", v, v) for i, v in enumerate(views)]


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


VIEWS = ["front portrait", "left side profile", "full body, standing", "front view close-up"]
NEAR = _unit([1.0, 0.0, 0.1], [1.0, 0.1, 0.0], [0.9, 0.1, 0.1], [0.0, 1.0, 0.0])


def test_the_still_whose_view_the_prompt_names_is_chosen(tmp_path):
    stills = _stills(tmp_path, VIEWS)
    chosen = choose_still("drana, left side profile, she listens", stills, NEAR)
    assert chosen.still.view == "left side profile"
    assert chosen.record()["view_words"] == ["left", "profile", "side"]
    assert chosen.record()["file"] == "1.png" and chosen.record()["sha256"] == "sha1"


def test_among_equal_views_the_still_most_like_the_set_is_chosen_never_an_outlier(tmp_path):
    stills = _stills(tmp_path, VIEWS)
    # "front" matches stills 0 and 3; still 3 is the outlier of the set (its embedding is far
    # from the others'), so still 0 is chosen.
    chosen = choose_still("drana, front, she smiles", stills, NEAR)
    assert chosen.still.path.name == "0.png"
    # No view word at all: the most typical still of the whole set (still 2 sits between 0 and
    # 1, nearest the set's mean: cosine 0.962 against 0.958 and 0.927).
    typical = choose_still("drana walks in the rain", stills, NEAR)
    assert typical.still.path.name == "2.png" and typical.view_words == ()
    assert typical.typicality == pytest.approx(0.962, abs=1e-3)


def test_the_choice_is_the_same_every_time_and_ties_go_to_the_earlier_still(tmp_path):
    stills = _stills(tmp_path, ["front portrait", "front portrait"])
    same = _unit([1.0, 0.0], [1.0, 0.0])
    picks = {choose_still("front portrait", stills, same).still.path.name for _ in range(5)}
    assert picks == {"0.png"}


def test_the_chooser_refuses_an_empty_set_and_mismatched_embeddings(tmp_path):
    with pytest.raises(ValueError, match="no approved reference still"):
        choose_still("front", [], torch.empty(0, 3))
    with pytest.raises(ValueError, match="2 embeddings for 4 reference stills"):
        choose_still("front", _stills(tmp_path, VIEWS), NEAR[:2])


# -- the still in the version -------------------------------------------------------------------


def _still_plan(data: dict, shas: dict[str, str]):
    brief = parse_brief(data)
    model = video_model(brief.video.model)
    reference = REFERENCE_MODELS[model.reference_model]
    tiers = {t: _settings(model, t) for t in ("draft", "final")}
    still = {
        (t, c): _settings(reference, t, condition=c)
        for t in ("draft", "final")
        for c in ("reference", "both")
    }
    return plan_clips(_ref_of, brief, model, tiers, stills=StillPlan(shas, still))


def test_changing_the_still_renders_that_shot_again_and_no_other():
    data = _brief("lora", condition="reference")
    first = _still_plan(data, {"a": "still-1"})
    second = _still_plan(data, {"a": "still-2"})
    assert first.units["a"] != second.units["a"]
    assert first.units["b"] == second.units["b"]
    assert first.shots[0].reference_still == "still-1"
    assert first.settings["a"].condition == "reference" and first.settings["b"].condition == "lora"


def test_a_lora_only_shot_keeps_the_unit_it_had_before_stills_existed():
    data = _brief()
    model = video_model("wan22_t2v_a14b")
    tiers = {t: _settings(model, t) for t in ("draft", "final")}
    plain = plan_clips(_ref_of, parse_brief(data), model, tiers)
    assert "condition" not in plain.settings["a"].payload()
    with_stills = _still_plan(data, {})
    assert plain.units == with_stills.units


def test_the_same_still_with_the_lora_and_without_are_two_units():
    both = _still_plan(_brief("lora", condition="both"), {"a": "still-1"})
    still = _still_plan(_brief("lora", condition="reference"), {"a": "still-1"})
    assert both.units["a"] != still.units["a"]


# -- the renderer's guard and the report --------------------------------------------------------


def test_a_still_changed_since_it_was_chosen_is_refused_naming_the_file(tmp_path):
    image = tmp_path / "reference_03.png"
    image.write_bytes(b"not the chosen still")
    shot = ShotRequest("a", "p", "", 1, 17, 1.0, reference_still="0" * 64)
    with pytest.raises(ValueError, match=r"shot a: reference still reference_03.png changed"):
        check_stills([shot], {"a": image})
    with pytest.raises(ValueError, match="shot a: reference still .* missing"):
        check_stills([shot], {})


def test_the_client_report_says_where_each_shots_identity_came_from():
    scores = {"dinov2_base": 0.5, "clip_vit_large_patch14": 0.6}
    shot = {"identity": scores, "subject_consistency": 0.9, "attempts": 1}
    manifest = {
        "qc": {
            "primary": "dinov2_base",
            "min_identity": 0.2,
            "cross_shot": {"min": {}},
            "shots": [
                {"id": "a", **shot},
                {"id": "b", **shot, "identity_from": "reference", "still": "reference_01.png"},
                {"id": "c", **shot, "identity_from": "both", "still": "reference_02.png"},
            ],
        }
    }
    rows = identity_table("dr-ana", manifest).splitlines()
    assert rows[0].startswith("| shot | identity from |")
    assert rows[2].startswith("| a | LoRA |")
    assert rows[3].startswith("| b | reference still (reference_01.png) |")
    assert rows[4].startswith("| c | LoRA + still (reference_02.png) |")
    pt = identity_table("dr-ana", manifest, "pt-BR").splitlines()
    assert pt[3].startswith("| b | still de referência (reference_01.png) |")


def test_a_shot_too_short_for_the_image_to_video_pipeline_is_refused_naming_its_duration():
    data = _brief(model="kandinsky5_pro", condition="reference", duration_s=0.5)
    data["video"]["fps"] = 24
    with pytest.raises(BriefError) as error:
        parse_brief(data)
    (line,) = error.value.problems
    assert "shots[0].duration_s: 0.5 s is shorter than kandinsky5_pro_i2v renders" in line
    assert "17 frames" in line
    data["shots"][0]["duration_s"] = 1
    assert parse_brief(data).condition_of("a") == "reference"


def test_a_talking_ltx2_shot_keeps_its_identity_from_the_lora():
    data = _brief(model="ltx_2", condition="reference", line="Olá!", duration_s=None)
    data["video"]["fps"] = 24
    with pytest.raises(BriefError) as error:
        parse_brief(data)
    (line,) = error.value.problems
    assert "shots[0].condition: shot 'a' talks" in line and "give it `condition: lora`" in line
    data["shots"][0]["condition"] = "lora"
    data["video"]["condition"] = "reference"
    brief = parse_brief(data)
    assert [brief.condition_of(s) for s in ("a", "b")] == ["lora", "reference"]


def test_the_pipeline_that_conditions_on_the_still_is_part_of_the_still_shot_s_version():
    """LTX-2's checkpoint conditions differently through its image-to-video and condition
    pipelines: a still unit names the class the generator renders it with; LoRA units do not."""
    from dataclasses import replace

    from resources.domain.registry import RenderSize
    from resources.domain.tiers import tier_recipe
    from resources.video.generator import VideoGenerator

    reference = REFERENCE_MODELS["ltx_2_i2v"]
    recipe = tier_recipe(reference, "final")
    args = dict(lora_file=None, lora_strength=0.0)
    size, record = RenderSize(128, 64, 2), {"id": reference.repo_id}
    still = VideoGenerator().settings(
        reference, recipe, size, record, condition="reference", **args
    )
    lora = VideoGenerator().settings(reference, recipe, size, record, **args)
    assert still.payload()["pipeline"] == "LTX2ConditionPipeline"
    assert "pipeline" not in lora.payload()
    other = replace(still, pipeline="LTX2ImageToVideoPipeline")
    assert other.payload() != still.payload()
