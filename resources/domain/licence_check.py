"""Which models a brief would use, their licences, and whether the studio's facts allow them.

`python -m pipeline validate` and `python -m pipeline quote` refuse a brief whose models would
break a licence condition given the studio's facts (pipeline/settings.py: country, audiences,
revenue band, paid work); a condition the facts cannot settle is a warning. Every model any stage
loads is listed by `model_licence`, so manifests record the licence of each (ModelStore.record).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from resources.domain.brief import Brief, Problem
from resources.domain.licences import Breach, Licence, StudioFacts, conditions_broken, licence
from resources.domain.lora_recipes import RECIPES
from resources.domain.registry import (
    MUSIC_MODELS,
    REFERENCE_MODELS,
    SDXL,
    SPEECH_CHECK_MODELS,
    UPSCALERS,
    VIDEO_MODELS,
    VISION_MODELS,
    VOICE_MODELS,
    VideoModel,
    voice_model_for,
)
from resources.domain.tiers import TIERS, checkpoint_name, shot_renderings


def _licence_names() -> dict[str, str]:
    """Every model the pipeline can load, by its registry name, to its licence's name."""
    names = {m.name: m.licence for m in (*VIDEO_MODELS.values(), *REFERENCE_MODELS.values())}
    names[SDXL.name] = SDXL.licence
    for table in (UPSCALERS, VISION_MODELS, VOICE_MODELS, MUSIC_MODELS, SPEECH_CHECK_MODELS):
        names.update({m.name: m.licence for m in table.values()})
    for model_name, recipes in TIERS.items():
        for recipe in recipes.values():
            if recipe.adapter is not None:
                names[recipe.adapter.name] = recipe.adapter.licence
            if recipe.checkpoint:  # a distilled checkpoint published under the model's licence
                names[checkpoint_name(model_name, recipe.tier)] = names[model_name]
    return names


MODEL_LICENCES: dict[str, str] = _licence_names()


def model_licence(name: str) -> Licence:
    """The licence of the registry model (or distillation adapter) called `name`."""
    try:
        return licence(MODEL_LICENCES[name])
    except KeyError:
        raise KeyError(f"no registry model {name!r} with a licence") from None


def licence_entry(name: str) -> dict:
    """What a manifest records of a model's licence: its name and conditions."""
    return model_licence(name).record()


def with_licence(record: dict) -> dict:
    """A manifest's model record (ModelStore.record: name, id, revision, sha256) with its licence.

    Added where a manifest lists its models, not in the record itself: the record is part of
    unit versions, and a licence note must not re-render anything.
    """
    return {**record, "licence": licence_entry(record["name"])}


@dataclass(frozen=True)
class Use:
    """One model a brief would use, and the brief field that chose it."""

    field: str
    model: str


def models_of(brief: Brief) -> list[Use]:
    """Every model the chain would load for `brief`: stills, video (and its tiers' adapters),
    upscaler, identity scorers, voice and its checks, music."""
    video = VIDEO_MODELS[brief.video.model]
    uses = [Use("references", SDXL.name), Use("video.model", video.name)]
    uses += _render_uses(brief, video)
    uses.append(Use("deliverable.upscaler", brief.deliverable.upscaler))
    uses += [Use("qc", m) for m in VISION_MODELS]
    if brief.has_lines:
        voice = brief.character.voice
        uses.append(Use("character.voice", voice_model_for(bool(voice and voice.sample)).name))
        uses += [Use("qc", m) for m in SPEECH_CHECK_MODELS]
    music = brief.audio.music
    if music is not None and music.prompt is not None:
        uses += [Use("audio.music", m) for m in MUSIC_MODELS]
    return list(dict.fromkeys(uses))


def _render_uses(brief: Brief, video: VideoModel) -> list[Use]:
    """What the shots render with besides `video` (tiers.shot_renderings, as the quote reads it):
    each tier's distillation adapter, the image-to-video checkpoint of still-conditioned shots."""
    uses = []
    for rendering in shot_renderings(brief, video).values():
        if rendering.model.name != video.name:
            uses.append(Use("video.condition", rendering.model.name))
        if rendering.recipe.adapter is not None:
            uses.append(Use("video.tier", rendering.recipe.adapter.name))
    return list(dict.fromkeys(uses))


def allowed_video_models(brief: Brief, facts: StudioFacts) -> list[str]:
    """The video models this brief could switch to: a LoRA trainer, its shots fit, its licence
    (and its tiers' adapters) refuse nothing under `facts`."""
    found = []
    for name, model in VIDEO_MODELS.items():
        if model.family not in RECIPES or model.licence_ack not in (None, brief.video.licence_ack):
            continue
        if not all(model.takes(s.duration_s) for s in brief.estimated().shots):
            continue
        other = brief.model_copy(update={"video": brief.video.model_copy(update={"model": name})})
        if not any(b.refused for u in _video_uses(other) for b in _breaches(u.model, facts)):
            found.append(name)
    return found


def _video_uses(brief: Brief) -> list[Use]:
    return [u for u in models_of(brief) if u.field in ("video.model", "video.tier")]


def _breaches(model: str, facts: StudioFacts, where: dict[str, str] | None = None) -> list[Breach]:
    return conditions_broken(model_licence(model), facts, where=where)


@dataclass(frozen=True)
class LicenceReport:
    """What the licence check found: refusals and warnings, one Problem each."""

    refused: list[Problem]
    warnings: list[Problem]


def licence_problems(
    brief: Brief, facts: StudioFacts, where: dict[str, str] | None = None
) -> LicenceReport:
    """Refusals and warnings of `brief`'s models under the studio's `facts`.

    A refusal reads `video.model: hunyuan_video - Tencent Hunyuan Community License excludes
    audiences in GB (CHARACTER_VIDEO_AUDIENCE); allowed: ...`; `where` names each fact's source.
    """
    if brief.deliverable.audiences is not None:
        facts = replace(facts, audiences=tuple(brief.deliverable.audiences))
        where = {**(where or {}), "audiences": "brief deliverable.audiences"}
    refused: list[Problem] = []
    # One warning per licence condition: its field, licence and breach, with the models under it.
    unsettled: dict[tuple[str, str, Breach], list[str]] = {}
    allowed: list[str] | None = None
    stated: set[tuple[str, str]] = set()
    for use in models_of(brief):
        lic = model_licence(use.model)
        for breach in _breaches(use.model, facts, where):
            if not breach.refused:
                key = (use.field.split(".")[0], lic.name, breach)
                unsettled.setdefault(key, []).append(use.model)
                continue
            if (lic.name, breach.text) in stated:
                continue  # an adapter under its model's licence: the model's line says it
            stated.add((lic.name, breach.text))
            line = f"{use.model} - {lic.name} {breach.text}"
            line_pt = f"licença de {use.model} violada: {lic.name} {breach.text_pt}"
            if use.field in ("video.model", "video.tier"):
                allowed = allowed if allowed is not None else allowed_video_models(brief, facts)
                line += f"; allowed video models: {', '.join(allowed) or 'none'}"
                line_pt += f"; modelos de vídeo permitidos: {', '.join(allowed) or 'nenhum'}"
            refused.append(Problem(use.field, line, line_pt))
    warnings = [
        Problem(
            field,
            f"{', '.join(models)} - {name} {breach.text}",
            f"a confirmar: {', '.join(models)} - {name} {breach.text_pt}",
        )
        for (field, name, breach), models in unsettled.items()
    ]
    return LicenceReport(refused, warnings)
