"""A model family is its registry entries and one module of resources/families: the LoRA dataset
and objectives, the quote's meta forward, the generator's call and the tiny builders look it up
there, and no other engine, stage or asset names a family."""

from __future__ import annotations

import ast

import pytest
from conftest import REPO

from resources import families
from resources.domain.architectures import ARCHITECTURES, architecture
from resources.domain.registry import REFERENCE_MODELS, VIDEO_MODELS

MODELS = {**VIDEO_MODELS, **REFERENCE_MODELS}

# Modules that may compare a `.family` with a name: the family modules themselves, the domain's
# data tables (a tier recipe of one family is data), and kohya.py, whose `job.family` is
# musubi-tuner's own script family ("wan22", "sdxl"), not the registry's.
ALLOWED = ("resources/families/", "resources/domain/", "resources/lora/kohya.py")


def test_every_model_s_family_has_its_module_and_its_transformer_class():
    for name, model in sorted(MODELS.items()):
        conventions = families.family(model.family)
        if name in ARCHITECTURES:
            cls = architecture(name).transformer.cls
            assert families.for_transformer(cls) is conventions, name
            assert cls in conventions.transformer_classes, name


def test_each_family_module_names_tiny_builders_that_exist():
    """The `tiny` builders a module names can be imported (the builds themselves, and the check
    that each makes the pipeline class its models name, run in test_tiny_models)."""
    for name in sorted(families.families()):
        conventions = families.family(name)
        assert callable(conventions.tiny_builder()), name
        if conventions.tiny_checkpoint is not None:
            assert callable(conventions.tiny_checkpoint_builder()), name


def test_an_unknown_family_or_transformer_class_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown model family 'sora'; known: cogvideox, "):
        families.family("sora")
    with pytest.raises(ValueError, match="no forward recipe for transformer class Sora3D"):
        families.for_transformer("Sora3D")
    with pytest.raises(ValueError, match="family 'wan' has no tiny tier checkpoint"):
        families.family("wan").tiny_checkpoint_builder()


def _family_comparisons(path) -> list[str]:
    """`<x>.family == "name"` / `in ("a", "b")` / `!= "name"` comparisons in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        names_a_family = any(isinstance(s, ast.Attribute) and s.attr == "family" for s in sides)
        literal = any(
            isinstance(s, ast.Constant)
            and isinstance(s.value, str)
            or isinstance(s, (ast.Tuple, ast.Set, ast.List))
            and all(isinstance(e, ast.Constant) for e in s.elts)
            for s in sides
        )
        if names_a_family and literal:
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_engine_stage_or_asset_branches_on_a_family_name():
    branches = []
    for top in ("pipeline", "assets", "resources"):
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if not rel.startswith(ALLOWED):
                branches += _family_comparisons(path)
    assert branches == []


TOY = """
from resources.families.base import Family, scaled_latents

def _text(pipe, caption, device):
    return {"caption": caption.upper()}

FAMILY = Family(
    name="toy",
    transformer_classes=("ToyTransformer3DModel",),
    encode_text=_text,
    normalise_latents=scaled_latents,
    predict=lambda pipe, model, transformer, noisy, timestep, text: noisy * 2,
    forward_inputs=lambda name, arch, latent, module: {"frames": latent.frames},
    tiny="resources.tiny.video:tiny_wan",
)
"""


def test_a_new_family_is_one_module_the_engines_find(tmp_path, monkeypatch):
    from resources.lora.dataset import encode_text

    (tmp_path / "toy.py").write_text(TOY)
    monkeypatch.setattr(families, "__path__", [*families.__path__, str(tmp_path)])
    families.families.cache_clear()
    try:
        assert encode_text(None, "toy", "a doctor", "cpu") == {"caption": "A DOCTOR"}
        assert families.for_transformer("ToyTransformer3DModel").name == "toy"
        assert sorted(families.families()) == sorted([*{m.family for m in MODELS.values()}, "toy"])
    finally:
        monkeypatch.undo()
        families.families.cache_clear()
    with pytest.raises(ValueError, match="unknown model family 'toy'"):
        families.family("toy")


def test_a_family_module_must_define_the_family_it_is_named_after(tmp_path, monkeypatch):
    (tmp_path / "toy2.py").write_text(TOY)
    monkeypatch.setattr(families, "__path__", [*families.__path__, str(tmp_path)])
    families.families.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"resources/families/toy2.py defines family 'toy'"):
            families.family("wan")
    finally:
        monkeypatch.undo()
        families.families.cache_clear()
