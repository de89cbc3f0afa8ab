"""The character brief: the one schema a producer writes, validated before anything runs."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from resources.domain.brief_problems import Problem, problems_of
from resources.domain.formats import ASPECTS, delivery_formats
from resources.domain.lora_recipes import RECIPES
from resources.domain.registry import (
    DEFAULT_PRESET,
    DEFAULT_UPSCALER,
    DEFAULT_VIDEO_MODEL,
    LANGUAGE_NAMES,
    QWEN3_TTS_CUSTOM_VOICE,
    UPSCALERS,
    VIDEO_MODELS,
    preset_named,
    reference_capable,
    reference_model_of,
)
from resources.domain.scenes import plan_scene
from resources.domain.sound_files import music_problem, sample_problem
from resources.domain.speech import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LEAD_IN_S,
    SYLLABLES_PER_S,
    TAIL_S,
    shot_seconds,
    speakable,
    speech_seconds,
    syllables,
    syllables_that_fit,
)
from resources.domain.spoken import said, unread

MAX_GLOSSARY = 200  # terms in one glossary (audio.say, a client profile's say)


def _glossary(value: dict[str, str]) -> dict[str, str]:
    """How the voice says terms it would read badly ({"PA": "pressão arterial"}): each term a
    word or phrase of letters and digits, each reading something to say."""
    if len(value) > MAX_GLOSSARY:
        raise ValueError(f"{len(value)} terms: at most {MAX_GLOSSARY}")
    for term, reading in value.items():
        if not speakable(term) or len(term) > 60:
            raise ValueError(f"term {term!r}: write the word as the lines write it (1-60 letters)")
        if not speakable(reading) or len(reading) > 300:
            raise ValueError(f"term {term!r}: {reading!r} is not something to say (1-300 letters)")
    return value


Glossary = Annotated[dict[str, str], AfterValidator(_glossary)]

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=SLUG_PATTERN)]
# 4K UHD / DCI 4K: the largest deliverable the upscaler and encoder are planned for.
MAX_WIDTH, MAX_HEIGHT = 4096, 2160
MIN_SIDE = 144  # 144p (256x144), the smallest size video players offer
# Seeds every generator of the chain accepts: torch takes 0..2**64-1, but the kohya backend
# hands lora.seed to musubi-tuner, whose accelerate.set_seed also seeds numpy's legacy
# generator (np.random.seed: 0..2**32-1). One range for every seed field, the common one.
MAX_SEED = 2**32 - 1
# A brief is a few kilobytes; anything past 1 MB is not a brief, and reading it is not free.
MAX_BRIEF_BYTES = 1_000_000
# Deepest nesting a brief needs is 4 (shots[0].seed); 50 leaves room and stays far below the
# recursion limit the YAML composer would otherwise hit (2 frames per level).
MAX_DEPTH = 50
# Aliases (`*name`) a brief may use: a shared negative prompt needs a few; nested aliases are
# how a small file expands to billions of values.
MAX_ALIASES = 100

Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
# Free text a prompt-like field may hold (prompts, descriptions, negative prompts).
MAX_TEXT = 2000
# Problems listed for one brief: a file of 10,000 unknown keys gets the first ones and a count.
MAX_PROBLEMS = 20
# Characters no field of a brief may hold, even written as YAML escapes ("\x01", "\e"): control
# characters (C0 but tab and newline, DEL, C1), the text direction overrides and isolates that
# show a name other than the one stored, and the noncharacters (U+FFFE, U+FFFF, ...).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def forbidden_character(text: str, *, newlines: bool = True) -> str | None:
    """The first character of `text` a brief may not hold, as `U+XXXX`, or None."""
    for char in text:
        if char in "\t\n" and newlines:
            continue
        code = ord(char)
        if (
            unicodedata.category(char) in ("Cc", "Cs")
            or char in _BIDI_CONTROLS
            or 0xFDD0 <= code <= 0xFDEF
            or (code & 0xFFFE) == 0xFFFE
        ):
            return f"U+{code:04X}"
    return None


class _Strict(BaseModel):
    # No NaN or infinity in any float field: `.inf` or `.nan` would pass the range checks'
    # intent and fail hours later (a LoRA alpha of inf fails training at step 1).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`fps: yes` is YAML for true, which pydantic would take as 1: only bool fields take it."""
        flags = (value,) if isinstance(value, bool) else ()
        if isinstance(value, list | tuple):
            flags = tuple(v for v in value if isinstance(v, bool))
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if flags and annotation not in (bool, bool | None):
            raise ValueError(
                f"{str(flags[0]).lower()} is a yes/no value (YAML reads yes, no, on, off, true "
                "and false so); write the number or text itself"
            )
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        """A text of spaces alone says nothing: a prompt, name or licence note of "   " would pass
        the length checks and reach the models, the pages and the report as a blank."""
        if isinstance(value, str) and not value.strip():
            raise PydanticCustomError(
                "blank_text", "only spaces: write the text or leave the field out"
            )
        return value


class Consent(_Strict):
    """Who consented to the use of a recorded voice, and when (LGPD: a voice is personal data)."""

    by: str = Field(min_length=1, max_length=200)
    on: dt.date


class Voice(_Strict):
    """The character's voice: a recorded sample (with its transcript and consent) or a preset."""

    sample: str | None = Field(default=None, min_length=1, max_length=500)
    transcript: str | None = Field(default=None, min_length=1, max_length=2000)
    consent: Consent | None = None
    preset: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        """A stock voice of the engine, in any case, kept in its published spelling."""
        if value is None:
            return None
        found = preset_named(value)
        if found is not None:
            return found
        names = ", ".join(QWEN3_TTS_CUSTOM_VOICE.preset_names())
        raise ValueError(f"unknown preset {value!r}: the stock voices are {names}")

    @model_validator(mode="after")
    def _sample_or_preset(self) -> Voice:
        if (self.sample is None) == (self.preset is None):
            raise ValueError("give either `sample` (with transcript and consent) or `preset`")
        if self.sample is not None and self.transcript is None:
            raise ValueError("a voice sample needs its `transcript`: what is said in it")
        if self.sample is not None and self.consent is None:
            raise ValueError(
                "a recorded voice needs `consent: {by: NAME, on: DATE}`: the person's consent "
                "to the use of their voice (LGPD treats a voice as personal data)"
            )
        return self


class Character(_Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=MAX_TEXT)
    trigger: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")] | None = None
    voice: Voice | None = None

    @model_validator(mode="after")
    def _default_trigger(self) -> Character:
        if self.trigger is None:
            # A rare single token: the slug without hyphens ("dr-ana" -> "drana").
            object.__setattr__(self, "trigger", re.sub(r"[^a-z0-9]", "", self.id) or "sks")
        return self


class References(_Strict):
    count: int = Field(default=12, ge=1, le=200)
    seed: Seed = 0
    negative_prompt: str = Field(
        default="blurry, deformed, extra limbs, text, watermark", max_length=MAX_TEXT
    )


class Video(_Strict):
    model: str = DEFAULT_VIDEO_MODEL
    fps: int = Field(default=24, ge=1, le=120)
    negative_prompt: str = Field(
        default="low quality, blurry, distorted face, flicker, watermark", max_length=MAX_TEXT
    )
    lora_strength: float = Field(default=1.0, ge=0.0, le=2.0)
    # draft: cheap approval renders; final: the model's published recipe (resources/domain/tiers)
    tier: Literal["draft", "final"] = "final"
    # A model whose licence forbids paid work (HoloCine: CC BY-NC-SA 4.0) is only selected with
    # this acknowledgement; the registry names the value (`VideoModel.licence_ack`).
    licence_ack: Literal["non-commercial"] | None = None
    # Where each shot's identity comes from: the character LoRA (today's behaviour), the approved
    # reference still given to the model's image-to-video checkpoint, or both (docs/identity.md).
    condition: Condition = "lora"

    @model_validator(mode="after")
    def _licence_acknowledged(self) -> Video:
        model = VIDEO_MODELS[self.model]
        if model.licence_ack is not None and self.licence_ack != model.licence_ack:
            raise ValueError(
                f"video model {self.model!r} is licensed {model.licence} ({model.licence_terms}); "
                f"a brief that selects it must carry `video.licence_ack: {model.licence_ack}`"
            )
        return self

    @model_validator(mode="after")
    def _can_condition(self) -> Video:
        problem = condition_problem(self.model, self.condition, "video.condition")
        if problem:
            raise ValueError(problem)
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


Condition = Literal["lora", "reference", "both"]


def condition_problem(model_name: str, condition: str, field: str) -> str | None:
    """Why `model_name` cannot render a shot whose identity comes from `condition` (None: it
    can): the reference still needs the model's image-to-video checkpoint."""
    model = VIDEO_MODELS.get(model_name)
    if condition == "lora" or model is None or reference_model_of(model) is not None:
        return None
    able = ", ".join(reference_capable()) or "none"
    return (
        f"`{field}: {condition}` needs a model that can condition on the reference still; "
        f"{model_name} cannot (models that can: {able})"
    )


def condition_summary(brief: Brief, lang: str = "en") -> str | None:
    """Which shots take their identity from the reference still and which checkpoint renders
    them, in one line for `validate` (None: every shot's identity comes from the LoRA)."""
    used = {s.id: brief.condition_of(s.id) for s in brief.shots}
    still = [f"{k} ({v})" for k, v in used.items() if v != "lora"]
    model = VIDEO_MODELS[brief.video.model]
    reference = reference_model_of(model)
    if not still or reference is None:
        return None
    how = f"{reference.name} ({reference.pipeline_class})"
    if lang == "pt-BR":
        return (
            f"identidade a partir da imagem de referência em {', '.join(still)}: o {model.name} "
            f"renderiza esses planos com {how}"
        )
    return (
        f"identity from the reference still for {', '.join(still)}: {model.name} renders them "
        f"with {how}"
    )


class Lora(_Strict):
    steps: int = Field(default=200, ge=1, le=100_000)
    rank: int | None = Field(default=None, ge=1, le=256)  # None: the model family's recipe
    alpha: float | None = Field(default=None, gt=0)
    learning_rate: float | None = Field(default=None, gt=0, le=1.0)  # None: the recipe's
    checkpoint_every: int = Field(default=50, ge=1)
    seed: Seed = 0


def shot_seed(shot_id: str) -> int:
    """The seed of a shot whose brief gives none: a hash of its id, within MAX_SEED."""
    digest = hashlib.sha256(f"shot-id-seed:{shot_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class Shot(_Strict):
    id: Slug
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    # Optional only for a shot with a `line`: it then lasts its speech plus lead-in and tail.
    duration_s: float | None = Field(default=None, gt=0, le=60)
    # What the character says in this shot, in `audio.language`.
    line: str | None = Field(default=None, min_length=1, max_length=1000)
    # What the voice says instead of `line`, when the automatic reading of its figures, units
    # and abbreviations (resources/domain/spoken.py) is not the one wanted; subtitles show `line`.
    say: str | None = Field(default=None, min_length=1, max_length=1000)
    seed: Seed = 0
    # The seed of this shot's line when it differs from `seed`: a voice re-rolled alone
    # (`reroll --line` or the app's button write it for you); the picture keeps `seed`.
    voice_seed: Seed | None = None
    negative_prompt: str | None = Field(default=None, max_length=MAX_TEXT)
    # This shot's tier when it differs from `video.tier`: a draft shot promoted to final alone.
    tier: Literal["draft", "final"] | None = None
    # The sound a model generates with the picture (LTX-2): "keep" mixes it under narration and
    # music in the master; "none" drops it. Models without sound ignore it.
    sound: Literal["keep", "none"] = "keep"
    # This shot's identity source when it differs from `video.condition`.
    condition: Condition | None = None

    @model_validator(mode="before")
    @classmethod
    def _seeded(cls, data: Any) -> Any:
        """A shot that leaves `seed` out gets one derived from its id: distinct shots, distinct
        noise (with 0 for all, every such shot started from the same noise)."""
        if isinstance(data, dict) and "seed" not in data and isinstance(data.get("id"), str):
            return {**data, "seed": shot_seed(data["id"])}
        return data

    @field_validator("line", "say", mode="after")
    @classmethod
    def _speakable(cls, line: str | None) -> str | None:
        """A line of punctuation or emoji alone has nothing to say: the voice engine would
        invent a sound, and its transcript would match the empty script perfectly."""
        if line is not None and not speakable(line):
            raise PydanticCustomError(
                "unspeakable_line",
                "no word to speak: write what the character says (letters or digits), or leave "
                "`line` out for a silent shot",
            )
        return line

    @model_validator(mode="after")
    def _timed(self) -> Shot:
        if self.duration_s is None and self.line is None:
            raise ValueError("`duration_s` is required for a shot without a `line`")
        if self.say is not None and self.line is None:
            raise PydanticCustomError(
                "say_without_line",
                "`say` is how the voice reads the shot's `line`: write the `line` too",
            )
        return self

    def spoken(self, language: str, glossary: dict[str, str] | None = None) -> str | None:
        """What the voice says: `say` as written, else `line` with the glossary's terms as it
        says them; figures, units and abbreviations in words ("2,5 mg" -> "dois vírgula cinco
        miligramas"). None for a silent shot."""
        if self.line is None:
            return None
        if self.say is not None:
            return said(self.say, language)
        return said(self.line, language, glossary)


class Music(_Strict):
    """Music under the cut: a producer's track with its licence note, or a generated one."""

    file: str | None = Field(default=None, min_length=1, max_length=500)
    licence: str | None = Field(default=None, min_length=1, max_length=1000)
    prompt: str | None = Field(default=None, min_length=1, max_length=1000)
    seed: Seed | None = None

    @model_validator(mode="after")
    def _file_or_prompt(self) -> Music:
        if (self.file is None) == (self.prompt is None):
            raise ValueError("give either `file` (with `licence`) or `prompt` (with `seed`)")
        if self.file is not None and self.licence is None:
            raise ValueError("a music file needs its `licence`: who owns it and the terms of use")
        return self


class Audio(_Strict):
    """The sound of the deliverable: language of the lines, music, loudness target."""

    language: str = DEFAULT_LANGUAGE
    music: Music | None = None
    # Integrated loudness target in LUFS (BS.1770-4): -16 for the web, -23 for EBU R128.
    loudness: float = Field(default=-16.0, ge=-31.0, le=-10.0)
    # How the voice says terms of the lines ({"PA": "pressão arterial"}); the client profile's
    # `say` fills the terms a brief leaves out.
    say: Glossary = Field(default_factory=dict)

    @field_validator("language")
    @classmethod
    def _spoken(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(
                f"language {value!r} is not spoken by the voice engine; it speaks: "
                f"{', '.join(LANGUAGES)}"
            )
        return value


Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]


class Card(_Strict):
    """A title or end card: its text on a plain background, for `duration_s` seconds."""

    text: str = Field(min_length=1, max_length=200)
    duration_s: float = Field(default=2.0, ge=0.5, le=10.0)
    background: Colour = "#000000"  # hex RGB

    @field_validator("text")
    @classmethod
    def _printable(cls, value: str) -> str:
        bad = forbidden_character(value)
        if bad:
            raise ValueError(f"the text holds a control character ({bad})")
        return value


class Logo(_Strict):
    """The client's logo drawn into every frame: an image file beside the brief or profile."""

    file: str = Field(min_length=1, max_length=500)
    corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "top-right"
    opacity: float = Field(default=0.8, gt=0.0, le=1.0)


class Deliverable(_Strict):
    resolution: tuple[int, int] = (1920, 1080)
    fit: Literal["fit", "crop"] = "fit"
    crf: int = Field(default=18, ge=0, le=51)
    upscaler: str = DEFAULT_UPSCALER
    # None: `sidecar` when any shot has a line, else `none` (Brief.subtitles).
    subtitles: Literal["sidecar", "burn_in", "none"] | None = None
    # Countries (ISO 3166-1 alpha-2) where this client shows the deliverable, when they differ
    # from the studio's CHARACTER_VIDEO_AUDIENCE; licences that exclude a territory check them.
    audiences: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    # Aspect ratios cut in the same version from the same shots (resources/domain/formats.py);
    # None: the one file at `resolution`, as before formats existed.
    formats: list[str] | None = Field(default=None, min_length=1, max_length=len(ASPECTS))
    # Cards before and after the shots and the client's logo; None: the client profile's
    # (clients/<client>/client.yaml beside the brief), if any.
    title_card: Card | None = None
    end_card: Card | None = None
    logo: Logo | None = None

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        for aspect in value:
            if aspect not in ASPECTS:
                raise ValueError(f"unknown format {aspect!r}; choose from: {', '.join(ASPECTS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"a format is listed twice (got {', '.join(value)})")
        return value

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: tuple[int, int]) -> tuple[int, int]:
        width, height = value
        if width <= 0 or height <= 0:
            raise ValueError(f"resolution {width}x{height} must be positive")
        if min(width, height) < MIN_SIDE:
            raise PydanticCustomError(
                "resolution_too_small",
                "resolution {size} is below {min_side} pixels on a side, the smallest a player "
                "offers (144p); the master is meant for screens: 1920x1080 is the usual",
                {"size": f"{width}x{height}", "min_side": MIN_SIDE},
            )
        if width > MAX_WIDTH or height > MAX_HEIGHT:
            raise ValueError(
                f"resolution {width}x{height} is above 4K ({MAX_WIDTH}x{MAX_HEIGHT} at most)"
            )
        if width % 2 or height % 2:
            raise ValueError(f"resolution {width}x{height} must be even (H.264 yuv420p)")
        return value

    @model_validator(mode="after")
    def _formats_fit_4k(self) -> Deliverable:
        for f in delivery_formats(self.resolution, self.formats):
            if max(f.width, f.height) > MAX_WIDTH or min(f.width, f.height) > MAX_HEIGHT:
                raise ValueError(
                    f"formats: {f.aspect} at {f.width}x{f.height} (from resolution "
                    f"{self.resolution[0]}x{self.resolution[1]}) is above 4K"
                )
        return self

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
    docs/identity.md. The defaults (-1, the lowest cosine) measure and record without re-rolling
    or blocking (a cosine can be below 0: tiny Mochi clips scored so); a threshold is set per
    production once calibrated on real weights.
    """

    # -1, the lowest cosine: every score passes (measured, never re-rolled or blocked).
    min_identity: float = Field(default=-1.0, ge=-1.0, le=1.0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    # The lowest cross-shot consistency of the deliverable (any two shots) it may be cut with.
    min_cross_shot: float = Field(default=-1.0, ge=-1.0, le=1.0)
    # Shots the producer accepts below min_identity, by id (recorded as accepted by the brief).
    accept: list[Slug] = Field(default_factory=list)
    # Render each shot again at LoRA strength 0 (same seed) to measure what the LoRA buys.
    measure_lora_effect: bool = False
    # Reference stills: an outlier's mean similarity to the others is this far below the median;
    # a near-duplicate pair is more alike than this.
    outlier_gap: float = Field(default=0.15, ge=0.0, le=2.0)
    duplicate_above: float = Field(default=0.99, ge=-1.0, le=1.0)
    # Narration: the highest character error rate of a line's transcript against its script
    # (None: measured, never re-synthesized or blocked), the lowest cosine of its voice to the
    # sample's (-1: every voice passes), and the lines accepted below them, by shot id.
    max_cer: float | None = Field(default=None, ge=0.0, le=10.0)
    min_voice: float = Field(default=-1.0, ge=-1.0, le=1.0)
    accept_lines: list[Slug] = Field(default_factory=list)

    def line_passes(self, cer: float, voice: float | None) -> bool:
        """Whether a line's scores are inside `max_cer` and `min_voice`."""
        cer_ok = self.max_cer is None or cer <= self.max_cer
        return cer_ok and (voice is None or voice >= self.min_voice)


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
    audio: Audio = Audio()

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
        spoken = {shot.id for shot in self.shots if shot.line}
        silent = [s for s in self.qc.accept_lines if s not in spoken]
        if silent:
            raise ValueError(f"qc.accept_lines names shot(s) without a line: {', '.join(silent)}")
        return self

    @field_validator("shots")
    @classmethod
    def _scene_fits(cls, shots: list[Shot], info: ValidationInfo) -> list[Shot]:
        """A scene model renders the whole shot list at once: it must fit its longest scene."""
        video = info.data.get("video")
        model = VIDEO_MODELS.get(video.model) if video is not None else None
        if model is None or not model.is_scene_model:
            return shots
        fps = model.native_fps
        durations = [_estimated_s(s) for s in shots]
        plan = plan_scene(durations, fps)
        if plan.num_frames > model.max_frames:
            total = sum(durations)
            raise ValueError(
                f"the shot list totals {total:g} s ({plan.num_frames} frames at {fps} fps), but "
                f"{model.name} renders it as one scene of at most {model.max_frames} frames "
                f"({model.max_frames / fps:.1f} s): shorten the shots or split the brief"
            )
        return shots

    @model_validator(mode="after")
    def _one_tier_per_scene(self) -> Brief:
        model = VIDEO_MODELS[self.video.model]
        odd = [s.id for s in self.shots if s.tier not in (None, self.video.tier)]
        if model.is_scene_model and odd:
            raise ValueError(
                f"shots {', '.join(odd)}: {model.name} renders the shot list as one scene at one "
                "tier; set video.tier instead of shots[].tier"
            )
        return self

    @model_validator(mode="after")
    def _shots_can_condition(self) -> Brief:
        reference = reference_model_of(VIDEO_MODELS[self.video.model])
        for index, shot in enumerate(self.shots):
            field = f"shots[{index}].condition"
            problem = condition_problem(self.video.model, shot.condition or "lora", field)
            if problem:
                raise ValueError(problem)
            talking = shot.line and VIDEO_MODELS[self.video.model].generates_audio
            if talking and (shot.condition or self.video.condition) != "lora":
                raise ValueError(
                    f"{field}: shot {shot.id!r} talks (its picture follows its line on "
                    f"{self.video.model}) and cannot also start from the reference still; "
                    f"give it `condition: lora`"
                )
            short = shot.duration_s is not None and reference is not None
            if short and reference.valid_frame_count(shot.duration_s) < reference.min_frames:
                if (shot.condition or self.video.condition) != "lora":
                    least = reference.min_frames / reference.native_fps
                    raise ValueError(
                        f"shots[{index}].duration_s: {shot.duration_s:g} s is shorter than "
                        f"{reference.name} renders from the reference still (at least "
                        f"{least:.2f} s, {reference.min_frames} frames)"
                    )
        return self

    def condition_of(self, shot_id: str) -> str:
        """Where shot `shot_id`'s identity comes from: its own `condition`, else the video's."""
        shot = next(s for s in self.shots if s.id == shot_id)
        return shot.condition or self.video.condition

    def tier_of(self, shot_id: str) -> str:
        """The tier shot `shot_id` renders at: its own `tier`, else `video.tier`."""
        shot = next(s for s in self.shots if s.id == shot_id)
        return shot.tier or self.video.tier

    @property
    def partition_key(self) -> str:
        return partition_key(self.client, self.character.id)

    @property
    def duration_s(self) -> float:
        return sum(self.estimated().shot_duration(s.id) for s in self.shots)

    @property
    def has_lines(self) -> bool:
        return any(shot.line for shot in self.shots)

    @property
    def subtitles(self) -> str:
        """The subtitles asked for: the brief's, else `sidecar` when any shot has a line."""
        chosen = self.deliverable.subtitles
        return chosen if chosen is not None else ("sidecar" if self.has_lines else "none")

    def shot_duration(self, shot_id: str) -> float:
        """Shot `shot_id`'s length in a timed brief (see `timed`)."""
        shot = next(s for s in self.shots if s.id == shot_id)
        if shot.duration_s is None:
            raise ValueError(f"shot {shot_id!r} is timed by its line: time the brief first")
        return shot.duration_s

    def timed(self, speech_s: dict[str, float]) -> Brief:
        """This brief with every shot timed by its line filled in: speech + lead-in + tail.

        `speech_s` holds the measured speech of each such shot (the narration units'); a shot
        with a fixed `duration_s` keeps it. Every stage that turns shots into frames reads a
        timed brief, so the one frames formula applies to spoken shots too.
        """
        shots = [
            s
            if s.duration_s is not None
            else s.model_copy(update={"duration_s": round(shot_seconds(speech_s[s.id]), 3)})
            for s in self.shots
        ]
        return self.model_copy(update={"shots": shots})

    def estimated(self) -> Brief:
        """`timed` with each line's length at the language's normal rate (before synthesis)."""
        language = self.audio.language
        return self.timed(
            {s.id: speech_seconds(self.spoken(s), language) for s in self.shots if s.line}
        )

    def spoken(self, shot: Shot) -> str | None:
        """What the voice says in `shot` (Shot.spoken with this brief's language and glossary)."""
        return shot.spoken(self.audio.language, self.audio.say)

    def canonical_json(self) -> str:
        """Stable JSON of every field, defaults included: the input of the brief's version.

        The sound fields are left out while unset, so a brief without sound keeps the version
        it had before they existed (and reuses every artifact made from it).
        """
        data = self.model_dump(mode="json")
        if self.audio == Audio():
            data.pop("audio")
        elif not self.audio.say:
            data["audio"].pop("say")
        if self.character.voice is None:
            data["character"].pop("voice")
        for unset in ("subtitles", "audiences", "formats", "title_card", "end_card", "logo"):
            if data["deliverable"][unset] is None:
                data["deliverable"].pop(unset)
        if data["video"]["condition"] == "lora":
            data["video"].pop("condition")
        for shot in data["shots"]:
            for unset in ("line", "say", "voice_seed", "condition"):
                if shot[unset] is None:
                    shot.pop(unset)
            if shot["sound"] == "keep":
                shot.pop("sound")
        narration_qc = {"max_cer": None, "min_voice": -1.0, "accept_lines": []}
        for key, default in narration_qc.items():
            if data["qc"][key] == default:
                data["qc"].pop(key)
        return json.dumps(data, sort_keys=True, ensure_ascii=False)

    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _estimated_s(shot: Shot, language: str = DEFAULT_LANGUAGE) -> float:
    """A shot's length: its own, or its line's at a normal rate plus lead-in and tail."""
    if shot.duration_s is not None:
        return shot.duration_s
    return shot_seconds(speech_seconds(shot.spoken(language) or "", language))


class BriefError(ValueError):
    """A brief that cannot be used; `problems` holds one line per problem, each naming a field.

    `problems_pt` holds the same lines in Portuguese (pt-BR), for the producers' screens.
    """

    def __init__(self, source: str, problems: list[str], problems_pt: list[str] | None = None):
        self.source = source
        self.problems = problems
        self.problems_pt = problems_pt or problems
        super().__init__(f"{source}: invalid brief\n" + "\n".join(f"  {p}" for p in problems))

    @classmethod
    def of(cls, source: str, found: list[Problem]) -> BriefError:
        """The error listing `found` (the first MAX_PROBLEMS, then how many more)."""
        more = len(found) - MAX_PROBLEMS
        en = [p.line("en") for p in found[:MAX_PROBLEMS]]
        pt = [p.line("pt-BR") for p in found[:MAX_PROBLEMS]]
        if more > 0:
            en.append(f"(brief): {more} more problem(s) not listed")
            pt.append(f"(brief): mais {more} problema(s) não listado(s)")
        return cls(source, en, pt)


def partition_key(client: str, character: str) -> str:
    """The Dagster partition of one client's character: `client/character`."""
    return f"{client}/{character}"


def split_partition_key(key: str) -> tuple[str, str]:
    client, sep, character = key.partition("/")
    if not sep or not re.match(SLUG_PATTERN, client) or not re.match(SLUG_PATTERN, character):
        raise ValueError(f"partition key {key!r} is not of the form client/character")
    return client, character


def shot_length_problems(brief: Brief) -> list[Problem]:
    """One problem per shot longer than the brief's video model renders in one clip.

    Each names the shot, the model and its longest clip, and the registry models (with a LoRA
    trainer) that can take that length, so the producer can shorten, split or switch. A model
    whose licence forbids paid work is suggested only to a brief that acknowledged it.
    """
    model = VIDEO_MODELS[brief.video.model]
    problems: list[Problem] = []
    for index, (written, shot) in enumerate(zip(brief.shots, brief.estimated().shots, strict=True)):
        if model.takes(shot.duration_s):
            continue
        others = [
            f"{m.name} ({m.max_duration_s:.2f} s)"
            for m in VIDEO_MODELS.values()
            if m.family in RECIPES
            and m.takes(shot.duration_s)
            and m.licence_ack in (None, brief.video.licence_ack)
        ]
        seconds, longest = f"{shot.duration_s:g} s", f"{model.max_duration_s:.2f} s"
        frames = f"{model.max_frames} frames at {model.native_fps} fps"
        frames_pt = f"{model.max_frames} quadros a {model.native_fps} fps"
        if others:
            fits = f"models that take {seconds}: {', '.join(others)}"
            fits_pt = f"modelos que aceitam {seconds}: {', '.join(others)}"
        else:
            fits = f"no registry model takes {seconds} in one clip; split the shot"
            fits_pt = f"nenhum modelo do registro gera {seconds} num só clipe; divida a cena"
        field, by_line, by_line_pt = f"shots[{index}].duration_s", "", ""
        if written.duration_s is None:
            # Timed by its line: the line makes it long, so the line is the field to change.
            field = f"shots[{index}].line"
            by_line, by_line_pt = ", timed by its line,", ", com a duração da sua fala,"
            fits += "; or split the line over two shots"
            fits_pt += "; ou divida a fala em duas cenas"
        problems.append(
            Problem(
                field,
                f"shot {shot.id!r}{by_line} is {seconds}, longer than {model.name}'s longest "
                f"clip, {longest} ({frames}); {fits}",
                f"a cena {shot.id!r}{by_line_pt} tem {seconds}, mais que o clipe mais longo de "
                f"{model.name}, {longest} ({frames_pt}); {fits_pt}",
            )
        )
    return problems


def line_fit_problems(brief: Brief) -> list[Problem]:
    """One problem per line that cannot be spoken at a normal rate within its fixed shot."""
    language = brief.audio.language
    rate = SYLLABLES_PER_S[language]
    problems = []
    for index, shot in enumerate(brief.shots):
        if shot.line is None or shot.duration_s is None:
            continue
        needed = syllables(brief.spoken(shot))
        room = syllables_that_fit(shot.duration_s, language)
        if needed <= room:
            continue
        margin = f"{LEAD_IN_S:g} s lead-in and {TAIL_S:g} s tail"
        plural = "" if needed == 1 else "s"  # "1 syllable", "1 sílaba"
        problems.append(
            Problem(
                f"shots[{index}].line",
                f"shot {shot.id!r}: the line needs {needed} syllable{plural}, about "
                f"{needed / rate:.1f} s at a normal {language} rate of {rate:g} syllables/s, "
                f"but the shot's {shot.duration_s:g} s hold {room} after the {margin}; shorten "
                "the line, lengthen the shot, or leave out duration_s to time the shot by its line",
                f"cena {shot.id!r}: a fala precisa de {needed} sílaba{plural}, cerca de "
                f"{needed / rate:.1f} s no ritmo normal de {rate:g} sílabas/s, mas os "
                f"{shot.duration_s:g} s da cena comportam {room} depois de {LEAD_IN_S:g} s de "
                f"entrada e {TAIL_S:g} s de saída; encurte a fala, alongue a cena ou omita "
                "duration_s para a cena durar o que a fala dura",
            )
        )
    return problems


def sound_file_problems(brief: Brief, base: Path) -> list[Problem]:
    """The voice sample and the music file, read relative to the brief's folder `base`."""
    problems = []
    voice = brief.character.voice
    if voice is not None and voice.sample is not None:
        found = sample_problem(base / voice.sample)
        if found:
            problems.append(Problem("character.voice.sample", *found))
    music = brief.audio.music
    if music is not None and music.file is not None:
        found = music_problem(base / music.file)
        if found:
            problems.append(Problem("audio.music.file", *found))
    return problems


def sound_file(brief: Brief, base: Path, kind: str) -> Path | None:
    """Where the brief's voice sample (`kind` "voice") or music file ("music") is, if any."""
    voice, music = brief.character.voice, brief.audio.music
    name = (voice.sample if voice else None) if kind == "voice" else (music.file if music else None)
    return None if name is None else base / name


@dataclass(frozen=True)
class BriefNote:
    """A line `validate` prints of a valid brief, and the brief editor shows beside its check."""

    line: str
    warning: bool  # advice to act on, not only information


def brief_notes(brief: Brief, prompt_warnings: list[str], lang: str = "en") -> list[BriefNote]:
    """What is said of a valid brief besides "ok", in `lang`: the shots whose identity comes
    from the reference still, how the voice reads each line it reads differently (figures,
    units, the glossary), the voice's warnings and then `prompt_warnings` (the prompts the
    video model would cut: Settings.prompt_warnings)."""
    still = condition_summary(brief, lang)
    notes = [BriefNote(still, False)] if still else []
    said_as = "lida como" if lang == "pt-BR" else "said as"
    for index, shot in enumerate(brief.shots):
        spoken = brief.spoken(shot)
        if spoken is not None and spoken != shot.line:
            notes.append(BriefNote(f'shots[{index}].line: {said_as} "{spoken}"', False))
    notes += [BriefNote(w.line(lang), True) for w in voice_warnings(brief)]
    return notes + [BriefNote(line, True) for line in prompt_warnings]


def voice_warnings(brief: Brief) -> list[Problem]:
    """What `validate` advises about a brief's voice without refusing it: a stock voice whose
    native language is not the lines' (none of the engine's presets is Portuguese), and what a
    line's reading holds that the voice has no word for ("→", "#", a web address)."""
    if not brief.has_lines:
        return []
    warnings = _accent_warnings(brief)
    for index, shot in enumerate(brief.shots):
        left = unread(brief.spoken(shot) or "")
        if not left:
            continue
        shown = ", ".join(f"'{text}'" for text in left)
        field = f"shots[{index}].{'say' if shot.say is not None else 'line'}"
        say = "" if shot.say is not None else f", or give shots[{index}].say"
        say_pt = "" if shot.say is not None else f" ou use shots[{index}].say"
        warnings.append(
            Problem(
                field,
                f"the voice has no words for {shown}: the voice engine reads them its own way, "
                f"or skips them; write them out{say}",
                f"a voz não tem palavras para {shown}: o motor de voz as lê a seu modo, ou as "
                f"omite; escreva-as por extenso{say_pt}",
            )
        )
    return warnings


def _accent_warnings(brief: Brief) -> list[Problem]:
    """A stock voice whose native language is not the lines'."""
    voice = brief.character.voice
    if voice is not None and voice.preset is None:
        return []
    preset = voice.preset if voice is not None else DEFAULT_PRESET
    native = dict(QWEN3_TTS_CUSTOM_VOICE.presets)[preset]
    language = LANGUAGE_NAMES[brief.audio.language]
    if native.startswith(language):
        return []
    field = "character.voice.preset" if voice is not None else "character.voice"
    unset = "no voice given: the lines use the stock voice" if voice is None else "the stock voice"
    unset_pt = "sem voz definida: as falas usam a voz pronta" if voice is None else "a voz pronta"
    return [
        Problem(
            field,
            f"{unset} {preset}'s native language is {native}, not {language}: its "
            f"{brief.audio.language} may carry a foreign accent; for a Brazilian voice a "
            "recorded sample is recommended (docs/producers.md, section 9)",
            f"{unset_pt} {preset} tem {native} como língua nativa, não {language}: seu "
            f"{brief.audio.language} pode ter sotaque estrangeiro; para uma voz brasileira, "
            "recomenda-se uma amostra gravada (docs/producers.md, seção 9)",
        )
    ]


def parse_brief(data: Any, source: str = "brief", base: Path | None = None) -> Brief:
    """Validate already-loaded brief data; raises BriefError listing every problem."""
    if not isinstance(data, dict):
        raise BriefError(source, ["(brief): must be a mapping of fields (client, character, ...)"])
    found = text_problems(data)
    if found:
        raise BriefError.of(source, found)
    try:
        brief = Brief.model_validate(data)
    except ValidationError as error:
        raise BriefError.of(source, problems_of(error, data, Brief)) from None
    found = shot_length_problems(brief) + line_fit_problems(brief)
    if base is not None:
        found += sound_file_problems(brief, base)
    if found:
        raise BriefError.of(source, found)
    return brief


# Fields that name something on a page, a file or a log line: one line of text, no newline.
_ONE_LINE = {
    "name", "id", "client", "trigger", "model", "upscaler", "tier", "accept",
    "sample", "file", "preset", "by", "language", "licence", "accept_lines", "audiences",
}  # fmt: skip


def text_problems(data: Any) -> list[Problem]:
    """A problem per key or text value holding a character a brief may not hold.

    Each list and mapping is walked once, however many aliases (`*name`) point at it, so a
    document of nested aliases costs its size, not the size it would expand to.
    """
    found: list[Problem] = []
    seen: set[int] = set()
    todo: list[tuple[str, Any]] = [("", data)]
    while todo and len(found) < MAX_PROBLEMS:
        path, value = todo.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (bad := forbidden_character(key, newlines=False)):
                    found.append(_character_problem(path or "(brief)", bad, "a key"))
                else:
                    todo.append((where, item))
        elif isinstance(value, list):
            todo += [(f"{path}[{index}]", item) for index, item in enumerate(value)]
        elif isinstance(value, str):
            name = path.rsplit(".", 1)[-1].split("[")[0]
            if bad := forbidden_character(value, newlines=name not in _ONE_LINE):
                found.append(_character_problem(path, bad, "the text"))
    return sorted(found, key=lambda p: p.field)


def _character_problem(field: str, code: str, where: str) -> Problem:
    return Problem(
        field,
        f"{where} holds the character {code} (a control, direction or non-character); remove it",
        f"{'uma chave' if where == 'a key' else 'o texto'} contém o caractere {code} "
        "(de controle, de direção ou não-caractere); remova-o",
    )


_PLAIN_KEY_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "null")}


class _BriefLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys and nesting deeper than MAX_DEPTH.

    PyYAML keeps the last of two equal keys (the first `shots:` list silently dropped) and
    composes nested nodes recursively (2,000 levels: a RecursionError). Both are refused while
    the document is composed, naming the field and line.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._path: list[str] = []
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _LoadProblem(
                    "(file)", f"more than {MAX_ALIASES} aliases (*name), at line {mark.line + 1}"
                )
        if len(self._path) >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _LoadProblem(
                "(file)", f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}"
            )
        if isinstance(index, int):
            self._path.append(f"[{index}]")
        elif isinstance(index, yaml.ScalarNode):
            self._path.append(f".{index.value}")
        else:
            self._path.append(".?")
        try:
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first: dict[str, int] = {}
        for key, _ in node.value:
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:merge":
                # `<<: *base` copies keys from elsewhere and silently drops one of two equal keys.
                field = "".join(self._path[1:]).lstrip(".") or "(brief)"
                raise _LoadProblem(
                    field, f"a YAML merge key (<<) at line {line}; write the fields out instead"
                )
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.style is None and key.tag in _PLAIN_KEY_TAGS:
                # Every brief key is a name: YAML 1.1 reads a plain `on`, `yes` or `no` as a
                # boolean (consent's `on: 2026-11-30` became True: "Keys should be strings").
                key.tag = "tag:yaml.org,2002:str"
            if key.value in first:
                field = ("".join(self._path[1:]) + f".{key.value}").lstrip(".")
                raise _LoadProblem(
                    field, f"duplicate key at line {line} (first at line {first[key.value]})"
                )
            first[key.value] = line
        return node

    def construct_yaml_int(self, node):
        # YAML 1.1 reads a plain `16:9` as the base-60 integer 969: an aspect ratio is a name.
        if ":" in str(node.value):
            return self.construct_scalar(node)
        return super().construct_yaml_int(node)

    def construct_object(self, node, deep=False):
        # A malformed typed scalar (`2001-02-30`, `!!float abc`, a 5,000-digit int) raises
        # ValueError and friends from inside PyYAML, not YAMLError: name its line instead.
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as error:
            raise _LoadProblem(
                "(file)", f"the value at line {node.start_mark.line + 1} cannot be read: {error}"
            ) from None


_BriefLoader.add_constructor("tag:yaml.org,2002:int", _BriefLoader.construct_yaml_int)


class _LoadProblem(Exception):
    def __init__(self, field: str, message: str):
        self.line = f"{field}: {message}"


def read_brief_bytes(path: Path | str, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of a brief file: a regular file of at most MAX_BRIEF_BYTES, read without blocking.

    A FIFO, a device (a link to /dev/zero), a directory or an oversized file is refused with a
    BriefError, never read: the file is opened non-blocking (a FIFO with no writer would block
    forever), checked with fstat on the open descriptor (no race with a swap after the check),
    and at most MAX_BRIEF_BYTES + 1 bytes are read (a file still growing is caught too). With
    `follow_symlinks=False` (briefs found in an inbox folder) a symbolic or hard link is refused:
    it is another name of a file outside the inbox or of one inside it.
    """
    path = Path(path)
    target = os.path.realpath(path) if follow_symlinks else path
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except OSError as error:
        if error.errno == errno.ELOOP and path.is_symlink():
            problem = f"a symbolic link (to {os.readlink(path)}); put the brief file itself here"
        else:
            problem = f"cannot read: {error.strerror}"
        raise BriefError(str(path), [f"(file): {problem}"]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BriefError(str(path), [f"(file): not a regular file ({_kind(info.st_mode)})"])
        if info.st_size > MAX_BRIEF_BYTES:
            raise BriefError(str(path), [_too_large(info.st_size)])
        if not follow_symlinks and info.st_nlink > 1:
            # Another name of a file that may live outside the inbox: refused like a link.
            problem = (
                f"a hard link ({info.st_nlink} names for one file); put a copy of the brief here"
            )
            raise BriefError(str(path), [f"(file): {problem}"])
        chunks, size = [], 0
        while size <= MAX_BRIEF_BYTES:
            chunk = os.read(fd, MAX_BRIEF_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BRIEF_BYTES:
            raise BriefError(str(path), [_too_large(size)])
        return b"".join(chunks)
    except OSError as error:
        raise BriefError(str(path), [f"(file): cannot read: {error.strerror}"]) from None
    finally:
        os.close(fd)


def _too_large(size: int) -> str:
    return f"(file): {size:,} bytes or more; a brief is at most {MAX_BRIEF_BYTES:,} bytes (1 MB)"


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"


# The character_brief asset: its snapshot holds the validated brief as canonical JSON, which
# every stage and every producer decision reads (assets/stages/character_brief.py writes it).
BRIEF_ASSET = "character_brief"
BRIEF_JSON = "brief.json"


def read_snapshot(folder: Path, key: str) -> Brief:
    """The validated brief of the character_brief snapshot in `folder` (artifact `key`)."""
    data = json.loads((folder / BRIEF_JSON).read_text(encoding="utf-8"))
    return parse_brief(data, source=f"{key}/{BRIEF_JSON}")


def _not_utf8(raw: bytes, start: int) -> tuple[list[str], list[str]]:
    """Where a brief's bytes stop being UTF-8, in English and Portuguese: UTF-16 (a byte-order
    mark), else the first byte that is not, by line and column, with the letter it is in
    Windows-1252 (what older Windows editors save: "ã" is 0xE3 there)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return (
            ["(file): UTF-16 text, not UTF-8: save the file as UTF-8"],
            ["(file): texto em UTF-16, não UTF-8: salve o arquivo como UTF-8"],
        )
    before = raw[:start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8")) + 1
    byte = raw[start]
    letter = bytes([byte]).decode("cp1252", errors="replace")
    known = letter.isprintable() and letter != "\ufffd"
    seen = f" ('{letter}' in Windows-1252)" if known else ""
    seen_pt = seen.replace(" in ", " em ")
    return (
        [
            f"(file): not UTF-8 text: byte 0x{byte:02X}{seen} at line {line}, column {column}; "
            "save the file as UTF-8"
        ],
        [
            f"(file): o texto não é UTF-8: byte 0x{byte:02X}{seen_pt} na linha {line}, coluna "
            f"{column}; salve o arquivo como UTF-8"
        ],
    )


def parse_brief_bytes(raw: bytes, source: str) -> Brief:
    """Validate a brief's YAML bytes (as read by read_brief_bytes); BriefError lists problems."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BriefError(source, *_not_utf8(raw, error.start)) from None
    try:
        # PyYAML's reader refuses unprintable characters (NUL, ESC, DEL, U+FFFE) here.
        loader = _BriefLoader(text)
    except yaml.reader.ReaderError as error:
        raise BriefError(source, [_unreadable_character(text, error.position)]) from None
    try:
        data = loader.get_single_data()
    except yaml.reader.ReaderError as error:
        raise BriefError(source, [_unreadable_character(text, error.position)]) from None
    except _LoadProblem as problem:
        raise BriefError(source, [problem.line]) from None
    except (ValueError, TypeError, AttributeError, OverflowError) as error:
        raise BriefError(source, [f"(file): not valid YAML: {error}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BriefError(source, [f"(file): not valid YAML{where}"]) from None
    finally:
        loader.dispose()
    # A brief's sound files are named relative to the brief's own folder.
    return parse_brief(data, source, base=Path(source).parent)


def _unreadable_character(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = f"U+{ord(text[position]):04X}" if position < len(text) else "?"
    return (
        f"(file): the character {code} at line {line}, column {column} cannot be in a brief "
        "(a control or non-character); remove it"
    )


def load_brief(path: Path | str, *, follow_symlinks: bool = True) -> Brief:
    """Read and validate a brief YAML file (see read_brief_bytes for which files are read)."""
    return parse_brief_bytes(read_brief_bytes(path, follow_symlinks=follow_symlinks), str(path))
