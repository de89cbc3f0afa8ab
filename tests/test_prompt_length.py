"""A shot prompt longer than its text encoder reads: validate and the quote warn, naming the
encoder, the token count (by the model folder's own tokenizer) and the words that would be cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import small_brief, write_brief

from pipeline.cli import main
from resources.domain.brief import parse_brief
from resources.domain.registry import TEXT_ENCODERS, VIDEO_MODELS
from resources.models.model_store import ModelStore
from resources.video.prompt_length import _tokenizer, model_folder, prompt_overflows

LONG = "she explains " + " ".join(f"point{i} with care" for i in range(40))


@pytest.fixture(scope="module")
def hunyuan(tmp_path_factory) -> Path:
    """The tiny HunyuanVideo folder (its Llama and CLIP tokenizers), built once."""
    import os

    store = ModelStore(profile="tiny", models_dir=os.environ["CHARACTER_VIDEO_MODELS"])
    return store.video_model_dir(VIDEO_MODELS["hunyuan_video"])


def _brief(prompt: str = LONG):
    shots = [
        {"id": "long", "prompt": prompt, "duration_s": 1, "seed": 1},
        {"id": "short", "prompt": "she nods", "duration_s": 1, "seed": 2},
    ]
    return small_brief(shots=shots)


def test_each_encoder_that_cuts_the_prompt_is_named_with_its_count_and_the_lost_words(hunyuan):
    found = prompt_overflows(parse_brief(_brief()), hunyuan)
    encoders = {e.name: e for e in TEXT_ENCODERS["hunyuan"]}
    assert {o.encoder for o in found} == set(encoders) and {o.shot for o in found} == {"long"}
    prompt = f"drana, {LONG}"
    for o in found:
        encoder = encoders[o.encoder]
        tok = _tokenizer(str(hunyuan / encoder.tokenizer))
        assert o.exact and o.limit == encoder.max_tokens
        assert o.tokens == len(tok(prompt, verbose=False).input_ids) > o.limit
        # The words named are the prompt's tail, and what is left fits the encoder.
        assert prompt.endswith(o.cut) and o.cut.split()[-1] == "care"
        kept = prompt[: len(prompt) - len(o.cut)]
        assert len(tok(kept, verbose=False).input_ids) <= o.limit


def test_a_prompt_within_every_limit_gets_no_warning(hunyuan):
    assert prompt_overflows(parse_brief(_brief("she smiles at the camera")), hunyuan) == []


def test_without_the_model_folder_the_count_is_a_lower_bound_from_the_words():
    (found,) = prompt_overflows(parse_brief(_brief()), None)
    words = f"drana, {LONG}".split()
    assert found.encoder.startswith("CLIP") and not found.exact
    assert found.tokens == len(words) and found.cut == " ".join(words[77:])
    assert "at least" in found.line() and "pelo menos" in found.line("pt-BR")


def test_validate_and_the_quote_print_the_warning(hunyuan, tmp_path, capsys, monkeypatch):
    models = hunyuan.parents[1]
    monkeypatch.setenv("CHARACTER_VIDEO_MODELS", str(models))
    assert model_folder("tiny", models, "hunyuan_video") == hunyuan
    path = write_brief(tmp_path, _brief())
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: shots[long].prompt:" in out and "CLIP ViT-L/14" in out
    assert "these words would be cut: '" in out and "shots[short]" not in out
    assert main(["quote", str(path), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "LLaVA-Llama-3" in out and "estas palavras seriam cortadas" in out


def test_every_video_family_has_its_text_encoders_limits():
    families = {model.family for model in VIDEO_MODELS.values()}
    assert families <= set(TEXT_ENCODERS), families - set(TEXT_ENCODERS)


@pytest.mark.parametrize("name", ["kandinsky5_lite", "hunyuan_video_1_5"])
def test_the_2025_families_count_with_their_own_tokenizers(name):
    import os

    store = ModelStore(profile="tiny", models_dir=os.environ["CHARACTER_VIDEO_MODELS"])
    folder = store.video_model_dir(VIDEO_MODELS[name])
    data = _brief(" ".join([LONG] * 2))  # about 1,400 characters
    data["video"] = {**data.get("video", {}), "model": name}
    found = prompt_overflows(parse_brief(data), folder)
    model = VIDEO_MODELS[name]
    limits = {e.name: e.max_tokens for e in TEXT_ENCODERS[model.family]}
    assert found and {o.encoder for o in found} <= set(limits)
    assert all(o.exact and o.tokens > limits[o.encoder] and o.shot == "long" for o in found)


def test_a_tiny_folder_built_by_other_tiny_code_is_not_counted_with(tmp_path):
    folder = tmp_path / "tiny" / "hunyuan_video"
    folder.mkdir(parents=True)
    (folder / ".complete").write_text("built in code from a tiny config\n")  # before the digest
    assert model_folder("tiny", tmp_path, "hunyuan_video") is None
