"""Tiers through the same code: a distillation adapter stacked on the character LoRA, the cache,
and the tier in each shot's unit version (a draft and a final of one shot are two artifacts)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models

from resources.domain.registry import VIDEO_MODELS
from resources.domain.tiers import TIERS, tier_recipe
from resources.models.model_store import ModelStore
from resources.storage.artifact_store import ArtifactStore
from resources.tiny.distill import build_tiny_distill_adapter
from resources.video.generator import (
    apply_distill_adapter,
    apply_lora,
    load_video_pipeline,
    render_clip,
)

pytestmark = pytest.mark.slow  # whole-chain materializations at both tiers

WAN14 = VIDEO_MODELS["wan21_t2v_14b"]


def _clip(pipe, model, steps=2, guidance=1.0):
    return render_clip(
        pipe,
        model,
        prompt="drana waves",
        negative_prompt="",
        num_frames=5,
        width=model.tiny.width,
        height=model.tiny.height,
        steps=steps,
        guidance_scale=guidance,
        seed=3,
    ).astype(np.int16)


@pytest.fixture(scope="module")
def wan14(tmp_path_factory):
    store = ModelStore(profile="tiny", models_dir=str(shared_models(tmp_path_factory)))
    folder = store.video_model_dir(WAN14)
    distill = store.distill_adapter_files(WAN14, tier_recipe(WAN14, "draft").adapter)
    character = tmp_path_factory.mktemp("character") / "character.safetensors"
    build_tiny_distill_adapter(folder, [character], seed=99)  # another random LoRA
    return folder, distill, character


def test_every_model_has_a_draft_and_a_final_recipe_and_the_14b_drafts_are_distilled():
    for name, model in VIDEO_MODELS.items():
        final, draft = TIERS[name]["final"], TIERS[name]["draft"]
        assert (final.width, final.height, final.steps) == (
            model.native_width,
            model.native_height,
            model.default_steps,
        )
        assert draft.width % model.size_multiple == 0 and draft.height % model.size_multiple == 0
        assert draft.width * 4 >= 1920 or draft.height * 4 >= 1080  # Real-ESRGAN x4 to 1080p
    for name in ("wan21_t2v_14b", "wan22_t2v_a14b"):
        draft = TIERS[name]["draft"]
        assert draft.adapter and draft.steps == 4 and draft.guidance_scale == 1.0
        assert len(draft.adapter.files) == VIDEO_MODELS[name].experts and draft.cache is None


def test_distillation_adapter_and_character_lora_both_act_when_stacked(wan14):
    folder, distill, character = wan14
    base = _clip(load_video_pipeline(folder, WAN14), WAN14)
    pipe = load_video_pipeline(folder, WAN14)
    apply_lora(pipe, character, 1.0)
    char_only = _clip(pipe, WAN14)
    apply_distill_adapter(pipe, distill, 1.0, character_strength=1.0)
    both = _clip(pipe, WAN14)
    assert sorted(pipe.get_active_adapters()) == ["character", "distill"]
    alone = load_video_pipeline(folder, WAN14)
    apply_distill_adapter(alone, distill, 1.0, character_strength=None)
    distill_only = _clip(alone, WAN14)
    for other in (base, char_only, distill_only):
        assert np.abs(both - other).mean() > 0.5  # the stack is neither adapter alone


def test_wan22_distillation_adapter_goes_into_both_experts(tmp_path_factory):
    model = VIDEO_MODELS["wan22_t2v_a14b"]
    store = ModelStore(profile="tiny", models_dir=str(shared_models(tmp_path_factory)))
    files = store.distill_adapter_files(model, tier_recipe(model, "draft").adapter)
    pipe = load_video_pipeline(store.video_model_dir(model), model)
    apply_distill_adapter(pipe, files, 1.0, character_strength=None)
    adapters = pipe.get_list_adapters()
    assert adapters.get("transformer") == ["distill"] and adapters.get("transformer_2") == [
        "distill"
    ]


def test_the_first_block_cache_skips_the_later_blocks(wan14):
    folder, _, _ = wan14
    calls = {}
    for threshold in (0.0, 1e6):
        pipe = load_video_pipeline(folder, WAN14, cache_threshold=threshold)
        # The cache wraps the block's forward; its feed-forward runs only when it is computed.
        ran: list[int] = []
        pipe.transformer.blocks[-1].ffn.register_forward_pre_hook(lambda *_, r=ran: r.append(1))
        _clip(pipe, WAN14, steps=4)
        calls[threshold] = len(ran)
    assert calls[0.0] == 4  # one call per step without the cache
    assert calls[1e6] < calls[0.0]  # the cache reused the rest of the network


@pytest.fixture(scope="module")
def draft_then_final(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiers")
    root = folder / "artifacts"
    models = shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    video = {"model": "wan21_t2v_14b", "fps": 24}
    run_quick_chain(
        instance, folder / "a", root, quick_brief(video={**video, "tier": "draft"}), models=models
    )
    store = ArtifactStore(root=str(root))
    draft = store.manifest(store.current("acme-health", "dr-ana", "video_clips"))
    run_quick_chain(
        instance, folder / "b", root, quick_brief(video={**video, "tier": "final"}), models=models
    )
    final = store.manifest(store.current("acme-health", "dr-ana", "video_clips"))
    cut = store.manifest(store.current("acme-health", "dr-ana", "deliverables"))
    return store, draft, final, cut


def test_a_draft_and_a_final_of_one_shot_are_two_units_both_kept(draft_then_final):
    store, draft, final, _ = draft_then_final
    d, f = draft["shots"][0], final["shots"][0]
    assert d["id"] == f["id"] and d["seed"] == f["seed"] and d["unit"] != f["unit"]
    assert d["rendered"] and f["rendered"]
    units = store.root_path / "acme-health" / "dr-ana" / "shots"
    kept = {p.name for p in units.iterdir() if (p / "manifest.json").is_file()}
    assert {d["unit"], f["unit"]} <= kept
    tiers = {
        json.loads((units / u / "manifest.json").read_text())["parameters"]["tier"]
        for u in (d["unit"], f["unit"])
    }
    assert tiers == {"draft", "final"}


def test_the_draft_rendered_with_the_adapter_and_the_final_without(draft_then_final):
    store, draft, final, _ = draft_then_final
    units = store.root_path / "acme-health" / "dr-ana" / "shots"
    d = json.loads((units / draft["shots"][0]["unit"] / "shot.json").read_text())
    f = json.loads((units / final["shots"][0]["unit"] / "shot.json").read_text())
    assert d["distill_adapter"] and not f["distill_adapter"]
    assert d["guidance_scale"] == 1.0 and f["guidance_scale"] == WAN14.guidance_scale
    assert draft["parameters"]["tier"] == "draft" and final["parameters"]["tier"] == "final"


def test_the_draft_records_its_distillation_adapter_and_the_adapters_licence(draft_then_final):
    draft = draft_then_final[1]
    adapter = tier_recipe(WAN14, "draft").adapter
    (record,) = [m for m in draft["models"] if m["name"] == adapter.name]
    assert record["id"] == f"tiny/{adapter.name}" and len(record["sha256"]) == 1
    assert record["licence"]["licence"] == adapter.licence
    assert record["licence"]["unknown"]  # lightx2v's model card was not read: said so
    assert all(m["licence"]["licence"] for m in draft["models"])


def test_the_deliverable_records_libx264_and_why_on_this_cpu_machine(draft_then_final):
    cut = draft_then_final[3]
    assert cut["encoder"]["codec"] == "libx264"
    assert "NVENC needs a CUDA GPU" in cut["encoder"]["reason"]
    assert cut["parameters"]["encoder"] == "libx264"
