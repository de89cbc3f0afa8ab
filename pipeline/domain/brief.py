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
    field_validator,
    model_validator,
)

from pipeline.domain.brief_problems import problems_of
from pipeline.domain.lora_recipes import RECIPES
from pipeline.domain.registry import DEFAULT_UPSCALER, DEFAULT_VIDEO_MODEL, UPSCALERS, VIDEO_MODELS

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


class Qc(_Strict):
    """How the character is enforced: identity threshold, re-rolls, acceptances (docs/identity.md).

    Scores are cosines in [-1, 1] of DINOv2 embeddings; what a value means for real weights is in
    docs/identity.md. The defaults (0) measure and record without re-rolling or blocking: a
    threshold is set per production once calibrated on real weights.
    """

    min_identity: float = Field(default=0.0, ge=-1.0, le=1.0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    # The lowest cross-shot consistency of the deliverable (any two shots) it may be cut with.
    min_cross_shot: float = Field(default=0.0, ge=-1.0, le=1.0)
    # Shots the producer accepts below min_identity, by id (recorded as accepted by the brief).
    accept: list[Slug] = Field(default_factory=list)
    # Render each shot again at LoRA strength 0 (same seed) to measure what the LoRA buys.
    measure_lora_effect: bool = False
    # Reference stills: an outlier's mean similarity to the others is this far below the median;
    # a near-duplicate pair is more alike than this.
    outlier_gap: float = Field(default=0.15, ge=0.0, le=2.0)
    duplicate_above: float = Field(default=0.99, ge=-1.0, le=1.0)


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
    qc: Qc = Qc()

    @field_validator("shots")
    @classmethod
    def _unique_shot_ids(cls, shots: list[Shot]) -> list[Shot]:
        seen: set[str] = set()
        for shot in shots:
            if shot.id in seen:
                raise ValueError(f"shot id {shot.id!r} is used twice")
            seen.add(shot.id)
        return shots

    @model_validator(mode="after")
    def _accepted_shots_exist(self) -> Brief:
        ids = {shot.id for shot in self.shots}
        unknown = [s for s in self.qc.accept if s not in ids]
        if unknown:
            raise ValueError(f"qc.accept names shot(s) not in the shot list: {', '.join(unknown)}")
        return self

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
