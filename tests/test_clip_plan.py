"""The render plan of video_clips: which units a brief renders, computed without a model.

resources/domain/clip_plan.py is plain data (tests/test_layers.py keeps torch out of the
domain); these tests read the plan the stage executes, for briefs and their edits.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from conftest import small_brief

from resources.domain.artifacts import ArtifactRef, content_version
from resources.domain.brief import parse_brief
from resources.domain.clip_plan import SCENE_UNITS, SHOT_UNITS, plan_clips
from resources.domain.registry import video_model
from resources.domain.render import RenderSettings
from resources.domain.tiers import tier_recipe


def _ref_of(asset: str, payload) -> ArtifactRef:
    return ArtifactRef("acme-health", "dr-ana", asset, content_version(payload))


def _settings(model, tier: str, **changes) -> RenderSettings:
    """What the video generator resolves for a tier, with fixed stand-ins for the files' hashes."""
    recipe = tier_recipe(model, tier)
    adapter = recipe.adapter
    settings = RenderSettings(
        tier=tier,
        width=recipe.width,
        height=recipe.height,
        steps=recipe.steps,
        guidance_scale=recipe.guidance_scale,
        guidance_scale_2=recipe.guidance_scale_2,
        flow_shift=recipe.flow_shift,
        fps=model.native_fps,
        model={"id": model.repo_id, "sha256": "weights"},
        lora_strength=1.0,
        lora_sha256="lora",
        distill_sha256=tuple(f"distill-{i}" for i in range(len(adapter.files) if adapter else 0)),
        distill_strength=adapter.strength if adapter else None,
        attention="auto",
        first_block_cache=recipe.cache_threshold(0.0),
        crf=18,
        preset="medium",
        encoder_threads=1,
    )
    return replace(settings, **changes)


def _plan(data: dict, **changes):
    brief = parse_brief(data)
    model = video_model(brief.video.model)
    tiers = {t: _settings(model, t, **changes) for t in ("draft", "final")}
    return plan_clips(_ref_of, brief, model, tiers)


def test_a_distilled_draft_carries_its_adapter_and_no_cache():
    data = _three_shots(model="wan22_t2v_a14b", tier="draft")
    draft = _plan(data).settings["a"]
    assert len(draft.distill_sha256) == 2  # one LoRA per expert
    assert draft.first_block_cache == 0.0 and draft.distill_strength is not None


def _three_shots(**video) -> dict:
    return small_brief(
        video={"model": "wan21_t2v_1_3b", "fps": 16} | video,
        shots=[
            {"id": "a", "prompt": "she greets", "duration_s": 1, "seed": 1},
            {"id": "b", "prompt": "she points", "duration_s": 1, "seed": 2},
            {"id": "c", "prompt": "she waves", "duration_s": 1, "seed": 3},
        ],
    )


def test_a_new_seed_on_one_shot_changes_that_shots_unit_alone():
    data = _three_shots()
    edited = copy.deepcopy(data)
    edited["shots"][1]["seed"] = 99
    before, after = _plan(data), _plan(edited)
    changed = {s for s in before.units if before.units[s] != after.units[s]}
    assert changed == {"b"}
    assert all(u.asset == SHOT_UNITS for u in after.units.values())


def test_a_promoted_shot_renders_at_final_beside_draft_shots():
    data = _three_shots(tier="draft")
    data["shots"][2]["tier"] = "final"
    plan = _plan(data)
    assert plan.tiers == {"a": "draft", "b": "draft", "c": "final"}
    assert set(plan.by_tier()) == {"draft", "final"}
    final = tier_recipe(video_model("wan21_t2v_1_3b"), "final")
    assert (plan.settings["c"].width, plan.settings["c"].steps) == (final.width, final.steps)
    assert plan.settings["a"].tier == "draft" and plan.default.tier == "draft"
    # Wan 2.1 1.3B's draft caches steps (it has no distilled LoRA); its final renders every step.
    assert plan.settings["a"].first_block_cache > 0 == plan.settings["c"].first_block_cache
    assert plan.units["a"] != plan.units["c"]


def test_the_encoder_settings_are_part_of_every_shots_version():
    data = _three_shots()
    plain, finer = _plan(data), _plan(data, crf=12)
    assert all(plain.units[s] != finer.units[s] for s in plain.units)
    assert _plan(data, preset="slow").units["a"] != plain.units["a"]


def test_a_scene_models_shots_are_cut_from_one_scene_unit():
    data = small_brief(
        video={"model": "holocine_14b", "fps": 16, "licence_ack": "non-commercial"},
        shots=[
            {"id": "a", "prompt": "she greets", "duration_s": 1, "seed": 1},
            {"id": "b", "prompt": "she waves", "duration_s": 1, "seed": 2},
        ],
    )
    plan = _plan(data)
    assert plan.scene is not None and plan.scene_ref.asset == SCENE_UNITS
    assert [s.id for s in plan.shots] == ["a", "b"]
    assert {plan.render_payload(s)["scene"] for s in ("a", "b")} == {plan.scene_ref.version}
    assert sum(s.num_frames for s in plan.shots) == plan.scene.num_frames
    edited = copy.deepcopy(data)
    edited["shots"][0]["prompt"] = "she frowns"
    again = _plan(edited)
    # One generation: a new caption for one shot is a new scene, and so new units for both.
    assert again.scene_ref != plan.scene_ref
    assert all(again.units[s] != plan.units[s] for s in ("a", "b"))
