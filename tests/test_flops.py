"""FLOP counts of the full-size networks on the meta device: exact, attention included, cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from resources.domain.architectures import ARCHITECTURES, architecture
from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS
from resources.quote import flops


def test_every_registry_model_has_a_published_architecture_with_a_source():
    # The image-to-video checkpoints too: the quote counts a still-conditioned shot on them.
    assert set(ARCHITECTURES) == {*VIDEO_MODELS, *REFERENCE_MODELS}
    for name in ARCHITECTURES:
        arch = architecture(name)
        assert arch.transformer.source.startswith("https://huggingface.co/")
        assert arch.text_encoders, name


def test_attention_is_counted_quadratic_in_tokens_at_four_l_squared_d_per_layer(tmp_path):
    """f(3n) - 2 f(2n) + f(n) isolates the L^2 term: self-attention's 2 matmuls, 2*L^2*d each."""
    cache = flops.FlopCache(tmp_path, seeded=False)  # the counter itself, not the seed file
    counts = [
        flops.transformer_forward(cache, "wan21_t2v_1_3b", width=832, height=480, frames=f)["flops"]
        for f in (1, 5, 9)  # 1, 2 and 3 latent frames
    ]
    n = 1 * (480 // 16) * (832 // 16)  # tokens per latent frame (VAE 8x, patch 2x2)
    config = architecture("wan21_t2v_1_3b").transformer.config
    d = config["num_attention_heads"] * config["attention_head_dim"]
    second_difference = counts[2] - 2 * counts[1] + counts[0]
    assert second_difference == 2 * (4 * d * config["num_layers"]) * n * n


def test_full_size_counts_match_the_issue_figures(tmp_path):
    cache = flops.FlopCache(tmp_path, seeded=False)  # the counter itself, not the seed file
    wan = flops.transformer_forward(cache, "wan21_t2v_14b", width=832, height=480, frames=81)
    assert wan["flops"] == pytest.approx(1.68e15, rel=0.005)
    assert wan["params"] == pytest.approx(14.29e9, rel=0.01)


def test_counts_are_read_back_from_disk_without_rebuilding_the_network(tmp_path, monkeypatch):
    # Earlier tests in this process (chain runs quote their briefs) may hold the count in memory.
    flops.forget_memory()
    cache = flops.FlopCache(tmp_path, seeded=False)
    first = flops.text_encoders(cache, "ltx_video")
    assert cache.misses == 1 and list(tmp_path.glob("*.json"))
    flops.forget_memory()

    def no_build(network):
        raise AssertionError(f"{network.cls} rebuilt although its count is cached")

    monkeypatch.setattr(flops, "build_meta", no_build)
    again = flops.FlopCache(tmp_path, seeded=False)
    assert flops.text_encoders(again, "ltx_video") == first
    assert again.hits == 1 and again.misses == 0


def test_lora_backward_is_counted_on_meta_and_checkpointing_adds_a_recomputed_forward(tmp_path):
    cache = flops.FlopCache(tmp_path, seeded=False)  # the counter itself, not the seed file
    common = dict(
        width=416, height=240, rank=8, target_modules=("to_q", "to_k", "to_v", "to_out.0")
    )
    plain = flops.lora_training_step(
        cache, "wan21_t2v_1_3b", gradient_checkpointing=False, **common
    )
    checkpointed = flops.lora_training_step(
        cache, "wan21_t2v_1_3b", gradient_checkpointing=True, **common
    )
    # Frozen base: input gradients through every layer (~1x forward), weight gradients only
    # for the LoRA; checkpointing recomputes the forward once more.
    assert 0.5 * plain["forward"] < plain["backward"] < 1.5 * plain["forward"]
    assert checkpointed["backward"] - plain["backward"] == pytest.approx(plain["forward"], rel=0.02)
    assert plain["lora_params"] > 0


def test_the_committed_seed_covers_the_examples_and_agrees_with_a_fresh_count(tmp_path):
    from conftest import EXAMPLES

    from resources.domain.brief import load_brief
    from resources.quote.quote import quote_brief

    flops.forget_memory()
    for path in sorted(EXAMPLES.glob("*.yaml")):
        quote = quote_brief(load_brief(path), cache_dir=tmp_path / path.stem)
        assert quote["flop_cache"]["misses"] == 0, (
            f"{path.name}: counts missing from {flops.SEED_FILE.name}; regenerate it with "
            "`python scripts/seed_flop_counts.py --tests examples/*.yaml`"
        )
    flops.forget_memory()
    seeded = flops.text_encoders(flops.FlopCache(None), "wan21_t2v_1_3b")
    flops.forget_memory()
    cold = flops.FlopCache(None, seeded=False)
    assert flops.text_encoders(cold, "wan21_t2v_1_3b") == seeded and cold.misses == 1


def test_the_seed_script_names_each_count_a_test_run_quoted_by_its_fields():
    """`scripts/seed_flop_counts.py --keys` reads which counts a test run asked for by name: the
    voice's config digest is all decimal digits, and was once taken for a fourth shape number
    (every voice name was dropped, and each suite run counted those lines again)."""
    import importlib.util

    from resources.domain.architectures import QWEN3_TTS_DECODER, QWEN3_TTS_TALKER, REALESRGAN

    spec = importlib.util.spec_from_file_location("seed", REPO / "scripts/seed_flop_counts.py")
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    voice = flops.config_digest(QWEN3_TTS_TALKER.config, QWEN3_TTS_DECODER.config)
    compact = flops.config_digest(REALESRGAN["SRVGGNetCompact"])
    wan = flops.config_digest(architecture("wan21_t2v_1_3b"))
    p = flops.KEY_PREFIX
    names = {
        f"{p}voice-55-10-30-{voice}",
        f"{p}voice-64-13-18-{voice}",
        f"{p}upscale-SRVGGNetCompact-{compact}-1280-704",
        f"{p}music-10",
        f"{p}transformer-wan21_t2v_1_3b-{wan}-416-240-9",
        f"{p}transformer-wan21_t2v_1_3b-000000000000-416-240-9",  # an earlier config
        f"{p}voice-55-10-30-000000000000",  # an earlier voice config
        f"v1-torch2.0.0-voice-55-10-30-{voice}",  # another torch and count version
        f"{p}lora-wan21_t2v_1_3b-{wan}-416-240-8-to_q+to_k-False",  # not a shape it counts
    }
    assert seed.to_count(names, {f"{p}voice-64-13-18-{voice}"}) == {
        f"{p}voice-55-10-30-{voice}": ("voice", (55, 10, 30)),
        f"{p}upscale-SRVGGNetCompact-{compact}-1280-704": (
            "upscale",
            ("SRVGGNetCompact", 1280, 704),
        ),
        f"{p}music-10": ("music", ()),
        f"{p}transformer-wan21_t2v_1_3b-{wan}-416-240-9": (
            "transformer",
            ("wan21_t2v_1_3b", 416, 240, 9),
        ),
    }


def test_every_committed_count_is_one_the_cache_reads():
    # An entry the cache refuses is counted again by every quote that needs it: the VAE encodes
    # of still-conditioned shots were, while their kind was missing from COUNT_FIELDS.
    seeded = json.loads(flops.SEED_FILE.read_text())
    assert [key for key, entry in seeded.items() if not flops.valid_count(key, entry)] == []
    assert any("-vae_encode-" in key for key in seeded)


def test_a_quote_whose_counts_are_seeded_loads_no_model_library():
    """A fresh interpreter quotes every example without building a network: no transformers or
    diffusers import, so `pipeline quote` answers in about two seconds, torch's import included."""
    from conftest import EXAMPLES

    script = (
        "import json, sys\n"
        "from resources.domain.brief import load_brief\n"
        "from resources.quote.quote import quote_brief\n"
        "misses = [quote_brief(load_brief(p), cache_dir=None)['flop_cache']['misses']"
        " for p in sys.argv[1:]]\n"
        "libraries = ('transformers', 'diffusers', 'spandrel', 'peft')\n"
        "print(json.dumps([misses, [m for m in libraries if m in sys.modules]]))\n"
    )
    examples = sorted(str(p) for p in EXAMPLES.glob("*.yaml"))
    done = subprocess.run(
        [sys.executable, "-c", script, *examples],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [[0] * len(examples), []]


def _negated(entry: dict) -> dict:
    return {k: -v if isinstance(v, int) else v for k, v in entry.items()}


def test_a_damaged_count_on_disk_is_counted_again_not_trusted(tmp_path):
    flops.forget_memory()
    first = flops.text_encoders(flops.FlopCache(tmp_path, seeded=False), "ltx_video")
    (entry,) = tmp_path.glob("*.json")
    flops.forget_memory()
    for damaged in (_negated(first), {**first, "flops": "12"}, {**first, "flops": 1.5}, {}):
        entry.write_text(json.dumps(damaged))
        again = flops.FlopCache(tmp_path, seeded=False)
        assert flops.text_encoders(again, "ltx_video") == first
        assert again.misses == 1
        flops.forget_memory()


def test_committed_counts_that_are_not_positive_whole_numbers_are_not_used(tmp_path, monkeypatch):
    seeded = json.loads(flops.SEED_FILE.read_text())
    key, good = next((k, v) for k, v in seeded.items() if "-transformer-" in k)
    bad_key, bad = next((k, v) for k, v in seeded.items() if "-vae-" in k)
    forged = tmp_path / "flop_counts.json"
    forged.write_text(json.dumps({key: good, bad_key: _negated(bad), "v2-x-unknown-1": {}}))
    monkeypatch.setattr(flops, "SEED_FILE", forged)
    assert set(flops.FlopCache(None).seed) == {key}
    assert flops.valid_count(key, good) and not flops.valid_count(bad_key, _negated(bad))


def test_a_quote_run_in_any_folder_writes_nothing_there(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARACTER_VIDEO_")} | {
        "PYTHONPATH": str(REPO),
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "quote",
            str(REPO / "examples" / "acme-health-dr-ana.yaml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "$" in done.stdout
    assert list(tmp_path.iterdir()) == []
