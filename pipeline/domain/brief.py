"""The character brief: the one schema a producer writes, validated before anything runs."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.domain.brief_problems import problems_of
from pipeline.domain.lora_recipes import RECIPES
from pipeline.domain.registry import DEFAULT_UPSCALER, DEFAULT_VIDEO_MODEL, UPSCALERS, VIDEO_MODELS
from pipeline.domain.scenes import plan_scene

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=SLUG_PATTERN)]
# 4K UHD / DCI 4K: the largest deliverable the upscaler and encoder are planned for.
MAX_WIDTH, MAX_HEIGHT = 4096, 2160


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Character(_Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    trigger: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")] | None = None

    @model_validator(mode="after")
    def _default_trigger(self) -> Character:
        if self.trigger is None:
            # A rare single token: the slug without hyphens ("dr-ana" -> "drana").
            object.__setattr__(self, "trigger", re.sub(r"[^a-z0-9]", "", self.id) or "sks")
        return self


class References(_Strict):
    count: int = Field(default=12, ge=1, le=200)
    seed: int = Field(default=0, ge=0)
    negative_prompt: str = "blurry, deformed, extra limbs, text, watermark"


class Video(_Strict):
    model: str = DEFAULT_VIDEO_MODEL
    fps: int = Field(default=24, ge=1, le=120)
    negative_prompt: str = "low quality, blurry, distorted face, flicker, watermark"
    lora_strength: float = Field(default=1.0, ge=0.0, le=2.0)
    # A model whose licence forbids paid work (HoloCine: CC BY-NC-SA 4.0) is only selected with
    # this acknowledgement; the registry names the value (`VideoModel.licence_ack`).
    licence_ack: Literal["non-commercial"] | None = None

    @model_validator(mode="after")
    def _licence_acknowledged(self) -> Video:
        model = VIDEO_MODELS[self.model]
        if model.licence_ack is not None and self.licence_ack != model.licence_ack:
            raise ValueError(
                f"video model {self.model!r} is licensed {model.licence} ({model.licence_terms}); "
                f"a brief that selects it must carry `video.licence_ack: {model.licence_ack}`"
            )
        return self

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in VIDEO_MODELS:
            known = ", ".join(sorted(VIDEO_MODELS))
            raise ValueError(f"unknown video model {value!r}; choose one of: {known}")
        if VIDEO_MODELS[value].family not in RECIPES:
            # The chain trains a character LoRA for every brief; without a recipe it would fail
            # hours in, at character_lora. Say so before anything runs.
            usable = ", ".join(sorted(n for n, m in VIDEO_MODELS.items() if m.family in RECIPES))
            raise ValueError(
                f"video model {value!r} has no character-LoRA trainer yet; choose one of: {usable}"
            )
        return value


class Lora(_Strict):
    steps: int = Field(default=200, ge=1, le=100_000)
    rank: int | None = Field(default=None, ge=1, le=256)  # None: the model family's recipe
    alpha: float | None = Field(default=None, gt=0)
    learning_rate: float | None = Field(default=None, gt=0, le=1.0)  # None: the recipe's
    checkpoint_every: int = Field(default=50, ge=1)
    seed: int = Field(default=0, ge=0)


class Shot(_Strict):
    id: Slug
    prompt: str = Field(min_length=1, max_length=2000)
    duration_s: float = Field(gt=0, le=60)
    seed: int = Field(default=0, ge=0)
    negative_prompt: str | None = None


class Deliverable(_Strict):
    resolution: tuple[int, int] = (1920, 1080)
    fit: Literal["fit", "crop"] = "fit"
    crf: int = Field(default=18, ge=0, le=51)
    upscaler: str = DEFAULT_UPSCALER

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: tuple[int, int]) -> tuple[int, int]:
        width, height = value
        if width <= 0 or height <= 0:
            raise ValueError(f"resolution {width}x{height} must be positive")
        if width > MAX_WIDTH or height > MAX_HEIGHT:
            raise ValueError(
                f"resolution {width}x{height} is above 4K ({MAX_WIDTH}x{MAX_HEIGHT} at most)"
            )
        if width % 2 or height % 2:
            raise ValueError(f"resolution {width}x{height} must be even (H.264 yuv420p)")
        return value

    @field_validator("upscaler")
    @classmethod
    def _known_upscaler(cls, value: str) -> str:
        if value not in UPSCALERS:
            raise ValueError(f"unknown upscaler {value!r}; choose one of: {', '.join(UPSCALERS)}")
        return value


class Approval(_Strict):
    """Which steps wait for a producer's approval (default: none, the chain runs unattended)."""

    references: Literal["required", "optional"] = "optional"  # before LoRA training
    cut: Literal["required", "optional"] = "optional"  # before the client's report


class Brief(_Strict):
    """A producer's brief for one recurring character of one client."""

    client: Slug
    character: Character
    references: References = References()
    video: Video = Video()
    lora: Lora = Lora()
    shots: list[Shot] = Field(min_length=1, max_length=100)
    deliverable: Deliverable = Deliverable()
    approval: Approval = Approval()

    @field_validator("shots")
    @classmethod
    def _unique_shot_ids(cls, shots: list[Shot]) -> list[Shot]:
        seen: set[str] = set()
        for shot in shots:
            if shot.id in seen:
                raise ValueError(f"shot id {shot.id!r} is used twice")
            seen.add(shot.id)
        return shots

    @field_validator("shots")
    @classmethod
    def _scene_fits(cls, shots: list[Shot], info: ValidationInfo) -> list[Shot]:
        """A scene model renders the whole shot list at once: it must fit its longest scene."""
        video = info.data.get("video")
        model = VIDEO_MODELS.get(video.model) if video is not None else None
        if model is None or not model.is_scene_model:
            return shots
        fps = model.native_fps
        plan = plan_scene([s.duration_s for s in shots], fps)
        if plan.num_frames > model.max_frames:
            total = sum(s.duration_s for s in shots)
            raise ValueError(
                f"the shot list totals {total:g} s ({plan.num_frames} frames at {fps} fps), but "
                f"{model.name} renders it as one scene of at most {model.max_frames} frames "
                f"({model.max_frames / fps:.1f} s): shorten the shots or split the brief"
            )
        return shots

    @property
    def partition_key(self) -> str:
        return partition_key(self.client, self.character.id)

    @property
    def duration_s(self) -> float:
        return sum(shot.duration_s for shot in self.shots)

    def canonical_json(self) -> str:
        """Stable JSON of every field, defaults included: the input of the brief's version."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)

    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class BriefError(ValueError):
    """A brief that cannot be used; `problems` holds one line per problem, each naming a field.

    `problems_pt` holds the same lines in Portuguese (pt-BR), for the producers' screens.
    """

    def __init__(self, source: str, problems: list[str], problems_pt: list[str] | None = None):
        self.source = source
        self.problems = problems
        self.problems_pt = problems_pt or problems
        super().__init__(f"{source}: invalid brief\n" + "\n".join(f"  {p}" for p in problems))


def partition_key(client: str, character: str) -> str:
    """The Dagster partition of one client's character: `client/character`."""
    return f"{client}/{character}"


def split_partition_key(key: str) -> tuple[str, str]:
    client, sep, character = key.partition("/")
    if not sep or not re.match(SLUG_PATTERN, client) or not re.match(SLUG_PATTERN, character):
        raise ValueError(f"partition key {key!r} is not of the form client/character")
    return client, character


def parse_brief(data: Any, source: str = "brief") -> Brief:
    """Validate already-loaded brief data; raises BriefError listing every problem."""
    if not isinstance(data, dict):
        raise BriefError(source, ["(brief): must be a mapping of fields (client, character, ...)"])
    try:
        return Brief.model_validate(data)
    except ValidationError as error:
        found = problems_of(error, data, Brief)
        raise BriefError(
            source, [p.line("en") for p in found], [p.line("pt-BR") for p in found]
        ) from None


def load_brief(path: Path | str) -> Brief:
    """Read and validate a brief YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BriefError(str(path), [f"(file): cannot read: {error.strerror}"]) from None
    except UnicodeDecodeError:
        raise BriefError(str(path), ["(file): not UTF-8 text"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BriefError(str(path), [f"(file): not valid YAML{where}"]) from None
    return parse_brief(data, str(path))
