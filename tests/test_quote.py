"""The quote: per shot and stage, consistent totals, tiers an order of magnitude apart, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import small_brief, write_brief

from assets.stages.base import Run
from assets.stages.character_brief import QUOTE_JSON, snapshot_brief
from pipeline.cli import main
from resources.domain.brief import load_brief, parse_brief
from resources.domain.costs import INSTANCES
from resources.domain.promote import set_tier
from resources.domain.scenes import plan_scene
from resources.models.model_store import ModelStore
from resources.quote import quote as quoting
from resources.quote.quote import add_stage_estimator, quote_brief
from resources.storage.artifact_store import ArtifactStore

WAN_MODELS = ("wan21_t2v_1_3b", "wan21_t2v_14b", "wan22_t2v_a14b", "wan22_ti2v_5b")


def _brief(model: str = "hunyuan_video", tier: str = "final"):
    return parse_brief(small_brief(video={"model": model, "fps": 24, "tier": tier}))


def test_quote_totals_are_the_sum_of_its_stages_and_shots_priced_from_the_table(tmp_path):
    q = quote_brief(_brief("wan21_t2v_14b"), instance_type="g5.xlarge", cache_dir=tmp_path)
    assert [s["id"] for s in q["shots"]] == ["intro", "outro"]
    for shot in q["shots"]:
        assert shot["transformer_flops"] > 0 and shot["gpu_s"] > 0
        # Wan 2.1 14B at guidance 5: two transformer passes per step (CFG).
        assert shot["transformer_passes"] == 2 * shot["steps"]
        assert shot["transformer_flops"] == shot["transformer_passes"] * shot["flops_per_forward"]
    total = q["total"]
    assert total["gpu_s"] == pytest.approx(sum(s["gpu_s"] for s in q["stages"]))
    assert total["flops"] == pytest.approx(sum(s["flops"] for s in q["stages"]))
    once = sum(s["gpu_s"] for s in q["stages"] if s["stage"] in ("references", "lora_training"))
    cut = next(s["gpu_s"] for s in q["stages"] if s["stage"] == "deliverable")
    assert total["gpu_s"] == pytest.approx(sum(s["gpu_s"] for s in q["shots"]) + once + cut)
    g5 = INSTANCES["g5.xlarge"]
    assert total["usd_spot"] == pytest.approx(total["gpu_s"] * g5.spot_usd_per_hour / 3600, 1e-4)
    assert total["usd_per_video_minute"] == pytest.approx(total["usd_spot"] / (1.5 / 60), 1e-4)
    assert q["hosted"]["veo-3.1-lite-1080p"]["usd"] == pytest.approx(0.08 * 1.5)
    assert q["memory"]["plan"]["offload"] == "group" and q["memory"]["fits"]


@pytest.mark.parametrize("model", WAN_MODELS)
def test_draft_costs_at_least_ten_times_fewer_transformer_flops_than_final(model, tmp_path):
    final = quote_brief(_brief(model), tier="final", cache_dir=tmp_path)
    draft = quote_brief(_brief(model), tier="draft", cache_dir=tmp_path)
    for f, d in zip(final["shots"], draft["shots"], strict=True):
        assert f["id"] == d["id"] and f["duration_s"] == d["duration_s"]
        assert f["transformer_flops"] >= 10 * d["transformer_flops"], model


def test_wan22_routes_steps_to_both_experts_by_the_boundary(tmp_path):
    final = quote_brief(_brief("wan22_t2v_a14b"), tier="final", cache_dir=tmp_path)
    draft = quote_brief(_brief("wan22_t2v_a14b"), tier="draft", cache_dir=tmp_path)
    high, low = final["shots"][0]["expert_steps"]
    assert high + low == 40 and high > 0 and low > 0
    # Both experts guided (4.0 and 3.0): two passes per step; the distilled draft: one.
    assert final["shots"][0]["transformer_passes"] == 80
    assert (
        draft["shots"][0]["transformer_passes"] == 4 and sum(draft["shots"][0]["expert_steps"]) == 4
    )


def test_a_second_quote_reads_every_count_from_the_cache(tmp_path):
    brief = _brief("ltx_video")
    quote_brief(brief, cache_dir=tmp_path)
    again = quote_brief(brief, cache_dir=tmp_path)
    assert again["flop_cache"]["misses"] == 0 and again["flop_cache"]["hits"] > 0


def test_a_stage_added_by_another_module_joins_the_table_and_the_totals(tmp_path, monkeypatch):
    monkeypatch.setattr(quoting, "STAGE_ESTIMATORS", list(quoting.STAGE_ESTIMATORS))

    def colour_grading(ctx):
        return [ctx.line("colour_grading", "sdxl", 1e15, shot=None)]

    add_stage_estimator(colour_grading)
    q = quote_brief(_brief(), cache_dir=tmp_path)
    names = [s["stage"] for s in q["stages"]]
    assert names.index("colour_grading") == names.index("deliverable") - 1
    grading = next(s for s in q["stages"] if s["stage"] == "colour_grading")
    assert grading["flops"] == 1e15
    assert q["total"]["gpu_s"] == pytest.approx(sum(s["gpu_s"] for s in q["stages"]))


def test_cli_quote_json_has_the_issue_fields(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "root"))
    path = write_brief(tmp_path, small_brief())
    assert main(["quote", str(path), "--instance", "g6.xlarge", "--json"]) == 0
    q = json.loads(capsys.readouterr().out)
    assert q["instance_type"] == "g6.xlarge" and q["gpu"]["name"] == "L4"
    assert {"id", "transformer_flops", "gpu_s"} <= set(q["shots"][0])
    assert {"usd_spot", "usd_per_video_minute"} <= set(q["total"])


def test_cli_quote_errors_are_one_line_naming_the_file_and_field(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "root"))
    bad = write_brief(tmp_path, small_brief(video={"model": "hunyuan_video", "tier": "cheap"}))
    assert main(["quote", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{bad}: video.tier:")
    good = write_brief(tmp_path, small_brief(), name="good.yaml")
    assert main(["quote", str(good), "--instance", "p9.mega"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(good) in err[0] and "p9.mega" in err[0]


def test_promote_rewrites_only_the_tier_and_keeps_shots_and_seeds(tmp_path, capsys):
    path = write_brief(tmp_path, small_brief(video={"model": "wan21_t2v_14b", "tier": "draft"}))
    before = load_brief(path)
    assert main(["promote", str(path)]) == 0
    after = load_brief(path)
    assert before.video.tier == "draft" and after.video.tier == "final"
    assert after.shots == before.shots and after.video.model == before.video.model
    assert not set_tier(path, "final")  # already final: nothing written


def test_the_brief_snapshot_carries_the_quote_before_any_gpu_stage(tmp_path):
    path = write_brief(tmp_path / "inbox", small_brief())
    run = Run(
        client="acme-health",
        character="dr-ana",
        store=ArtifactStore(root=str(tmp_path / "root")),
        models=ModelStore(profile="tiny", models_dir=str(tmp_path / "models")),
        device="cpu",
        dtype=torch.float32,
        log=lambda _: None,
    )
    result = snapshot_brief(run, path, load_brief(path))
    quote = json.loads(Path(result.folder / QUOTE_JSON).read_text())
    assert quote["total"]["usd_spot"] == result.metadata["quote_usd_spot"]
    assert "| intro |" in result.metadata["quote"].text
    assert "transformer FLOPs" in result.metadata["quote"].text


def test_a_holocine_scene_is_quoted_as_one_generation_of_all_its_frames(tmp_path):
    shots = [
        {"id": "a", "prompt": "she waves", "duration_s": 1.0, "seed": 1},
        {"id": "b", "prompt": "she points", "duration_s": 1.0, "seed": 2},
        {"id": "c", "prompt": "she smiles", "duration_s": 2.0, "seed": 3},
    ]
    video = {"model": "holocine_14b", "licence_ack": "non-commercial", "fps": 24}
    q = quote_brief(
        parse_brief(small_brief(video=video, shots=shots)),
        instance_type="g5.12xlarge",
        cache_dir=tmp_path,
    )
    (scene,) = q["shots"]
    frames = plan_scene([1.0, 1.0, 2.0], 15).num_frames
    assert scene["id"] == "scene" and scene["shots"] == ["a", "b", "c"]
    assert scene["frames"] == frames and scene["duration_s"] == 4.0
    # Every latent frame of the scene in one sequence: (frames - 1) / 4 + 1 latent frames of
    # (480 / 16) x (832 / 16) tokens each (VAE 8x, patch 2x2).
    assert scene["tokens"] == ((frames - 1) // 4 + 1) * 30 * 52
    assert [line["shot"] for line in q["lines"] if line["stage"] == "render"] == ["scene"]
    assert q["total"]["gpu_s"] == pytest.approx(sum(s["gpu_s"] for s in q["stages"]))


def test_the_quote_says_when_lora_training_needs_a_larger_gpu(tmp_path):
    brief = parse_brief(small_brief(video={"model": "mochi_1", "fps": 24}))
    q = quote_brief(brief, instance_type="g5.xlarge", cache_dir=tmp_path)
    assert q["lora_training_gpu"] == {
        "gpu_gb_needed": 80,
        "gpu_gb": 24,
        "fits": False,
        "int8_gpu_gb_needed": None,  # genmo's fine-tuner documents no 8-bit base
        "basis": "registry lora_train_gpu_gb (docs/models.md, LoRA training memory)",
    }
    assert "LoRA training needs a GPU with 80 GB; g5.xlarge's has 24 GB" in quoting.quote_markdown(
        q
    )
    ltx = quote_brief(_brief("ltx_2"), instance_type="g5.xlarge", cache_dir=tmp_path)
    assert (ltx["lora_training_gpu"]["gpu_gb_needed"], ltx["lora_training_gpu"]["fits"]) == (
        80,
        False,
    )
    assert "needs a GPU with 80 GB (32 GB with an INT8 base)" in quoting.quote_markdown(ltx)
    wan = quote_brief(_brief("wan21_t2v_1_3b"), instance_type="g5.xlarge", cache_dir=tmp_path)
    assert wan["lora_training_gpu"]["fits"]
    assert "LoRA training needs" not in quoting.quote_markdown(wan)


def test_identity_scoring_re_rolls_and_the_lora_effect_are_in_the_quote(tmp_path):
    from resources.qc.flops import scoring_flops

    data = small_brief(
        video={"model": "wan21_t2v_1_3b", "fps": 24},
        qc={"min_identity": 0.5, "max_attempts": 3, "measure_lora_effect": True},
    )
    q = quote_brief(parse_brief(data), cache_dir=tmp_path)
    lines = q["lines"]
    for shot in q["shots"]:
        scoring = next(
            x for x in lines if x["stage"] == "identity_scoring" and x["shot"] == shot["id"]
        )
        assert (
            scoring["flops"] == scoring_flops(shot["frames"], shot["width"], shot["height"]).total
        )
        assert scoring["flops"] < 0.05 * shot["transformer_flops"]  # issue 11: under 5%
        effect = [x for x in lines if x["stage"] == "lora_effect" and x["shot"] == shot["id"]]
        render = [
            x for x in lines if x["stage"] in ("render", "vae_decode") and x["shot"] == shot["id"]
        ]
        assert [x["flops"] for x in effect] == [x["flops"] for x in render]  # rendered twice
    total = q["total"]
    assert total["worst_case_retakes"] == 2 and total["worst_case_gpu_s"] > total["gpu_s"]
    assert "worst case with re-rolls" in quoting.quote_markdown(q)
    plain = quote_brief(
        parse_brief(small_brief(video={"model": "wan21_t2v_1_3b"})), cache_dir=tmp_path
    )
    assert not [x for x in plain["lines"] if x["stage"] == "lora_effect"]
    assert plain["total"]["worst_case_gpu_s"] == plain["total"]["gpu_s"]


def test_the_quote_counts_the_narration_of_each_line():
    from conftest import small_brief

    from resources.domain.brief import parse_brief
    from resources.quote.quote import quote_brief

    shots = [
        {"id": "a", "prompt": "p", "duration_s": 3.0, "line": "Olá, eu sou a Ana."},
        {"id": "b", "prompt": "p", "duration_s": 4.0, "line": "Olá, eu sou a Ana e hoje falo."},
        {"id": "c", "prompt": "p", "duration_s": 1.0},
    ]
    brief = parse_brief(small_brief(shots=shots))
    quote = quote_brief(brief)
    spoken = {line["shot"]: line for line in quote["lines"] if line["stage"] == "narration"}
    assert set(spoken) == {"a", "b"}
    # A longer line costs more to speak; every line is transcribed over one 30 s window.
    assert spoken["b"]["flops"] > spoken["a"]["flops"] > 0
    assert spoken["b"]["detail"]["voice_flops"] > spoken["a"]["detail"]["voice_flops"]
    assert spoken["a"]["detail"]["asr_flops"] == spoken["b"]["detail"]["asr_flops"]
    assert spoken["a"]["gpu_s"] > 0
    silent = quote_brief(parse_brief(small_brief()))
    assert not [line for line in silent["lines"] if line["stage"] == "narration"]


def test_the_quote_speaks_each_line_at_qwen3_tts_full_size_counted_on_the_meta_device():
    """The voice figure is the meta-device count of Qwen3-TTS 1.7B at the line's own shape."""
    from conftest import small_brief

    from resources.domain.brief import parse_brief
    from resources.domain.registry import QWEN3_TTS_CUSTOM_VOICE
    from resources.quote.quote import quote_brief
    from resources.sound.flops import voice_counts, voice_shape

    shots = [
        {"id": "a", "prompt": "p", "duration_s": 3.0, "line": "Olá, eu sou a Ana."},
        {"id": "b", "prompt": "p", "duration_s": 4.0, "line": "Olá, eu sou a Ana e hoje falo."},
    ]
    brief = parse_brief(small_brief(shots=shots))
    spoken = [line for line in quote_brief(brief)["lines"] if line["stage"] == "narration"]
    rate = QWEN3_TTS_CUSTOM_VOICE.frame_rate
    shapes = [voice_shape(s["line"], "pt-BR", rate) for s in shots]
    counted = voice_counts(shapes)  # the full-size talker, predictor and decoder, on meta
    for line, shape, count in zip(spoken, shapes, counted, strict=True):
        assert line["detail"]["voice_engine"] == "qwen3_tts_custom_voice"
        assert line["detail"]["voice_flops"] == count["flops"]
        assert line["detail"]["voice_frames"] == shape.frames
    # About 2.9e9 FLOPs a talker position: twice the 1.4B parameters of 28 layers 2048 wide.
    assert 2.5e9 < counted[0]["talker"] / shapes[0].positions < 3.5e9
    assert counted[1]["decoder"] > counted[0]["decoder"] > 0
    # A recorded voice is cloned by Base: its transcript and codec frames precede every line.
    data = small_brief(shots=shots)
    data["character"]["voice"] = {
        "sample": "voz.wav",
        "transcript": "Esta é a minha voz.",
        "consent": {"by": "Ana Souza", "on": "2026-11-30"},
    }
    cloned = [x for x in quote_brief(parse_brief(data))["lines"] if x["stage"] == "narration"]
    assert cloned[0]["detail"]["voice_engine"] == "qwen3_tts_base"
    assert cloned[0]["detail"]["voice_positions"] > spoken[0]["detail"]["voice_positions"]
    assert cloned[0]["detail"]["voice_flops"] > spoken[0]["detail"]["voice_flops"]


@pytest.mark.parametrize(
    "model", ["wan22_t2v_a14b", "hunyuan_video_1_5", "kandinsky5_pro", "ltx_2"]
)
def test_a_shot_from_the_still_is_quoted_with_the_image_to_video_checkpoint(model):
    """The quote reads the shot's checkpoint and recipe where rendering does
    (tiers.shot_renderings): the still shot's row names the I2V checkpoint, its passes follow
    that checkpoint's recipe, and its still is encoded (Wan's pipeline encodes the still and
    zero frames, the clip's length; the others the still alone)."""
    from resources.domain.registry import reference_model_of, video_model
    from resources.domain.tiers import tier_recipe

    shots = [
        {"id": "a", "prompt": "she greets", "duration_s": 1, "seed": 1, "condition": "reference"},
        {"id": "b", "prompt": "she points", "duration_s": 1, "seed": 2},
    ]
    brief = parse_brief(small_brief(video={"model": model}, shots=shots))
    reference = reference_model_of(video_model(model))
    for tier in ("draft", "final"):
        quote = quote_brief(brief, tier=tier)
        rows = {row["id"]: row for row in quote["shots"]}
        assert (rows["a"]["checkpoint"], rows["b"]["checkpoint"]) == (reference.name, model)
        recipe = tier_recipe(reference, tier)
        assert rows["a"]["steps"] == recipe.steps
        if recipe.refine_steps == 0 and reference.experts == 1:
            assert rows["a"]["transformer_passes"] == recipe.steps * (2 if recipe.cfg else 1)
        encodes = {
            line["shot"]: line["detail"]["frames"]
            for line in quote["lines"]
            if line["stage"] == "still_encoding"
        }
        assert encodes == {"a": rows["a"]["frames"] if reference.still_encode == "clip" else 1}
        # The shot's own lines sum to its row, the still's encode among them.
        mine = [line["flops"] for line in quote["lines"] if line["shot"] == "a"]
        assert rows["a"]["flops"] == pytest.approx(sum(mine))


def test_hunyuan_video_1_5_from_the_still_costs_less_than_from_the_lora_at_final():
    """Its image-to-video final renders with Tencent's CFG-distilled 720p transformer (one pass
    a step) and its draft with the step-distilled 480p one; the text-to-video final runs CFG."""
    shots = [{"id": "a", "prompt": "she greets", "duration_s": 1, "seed": 1}]
    costs = {}
    for condition in ("lora", "reference"):
        video = {"model": "hunyuan_video_1_5", "condition": condition}
        brief = parse_brief(small_brief(video=video, shots=shots))
        for tier in ("draft", "final"):
            (row,) = quote_brief(brief, tier=tier)["shots"]
            costs[condition, tier] = row["transformer_flops"]
    assert costs["reference", "final"] < 0.6 * costs["lora", "final"]
    assert costs["reference", "draft"] < 0.5 * costs["lora", "draft"]
