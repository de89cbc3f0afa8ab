"""What is wrong with a brief, one line per problem, in English and Portuguese (pt-BR).

Every problem names its field; an unknown field suggests the closest known one (difflib), and
duplicate shot ids are reported together with every other problem of the brief.
"""

from __future__ import annotations

import difflib
import re
import types
import unicodedata
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class Problem:
    """One problem of a brief: the field, and what is wrong in English and in Portuguese."""

    field: str
    en: str
    pt: str

    def line(self, lang: str = "en") -> str:
        # A field is named by its path; an unknown key of a megabyte is named by its start.
        field = self.field if len(self.field) <= 120 else self.field[:117] + "..."
        return f"{field}: {self.pt if lang == 'pt-BR' else self.en}"


def field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not (isinstance(part, str) and part.startswith("function-")):
            path += f".{part}" if path else str(part)
    return path or "(brief)"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (`Shot`, `list[Shot]`, `Video | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, tuple, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def known_fields(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed where `loc`'s last part was found."""
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _translate(item: dict[str, Any], field: str, root: type[BaseModel]) -> tuple[str, str]:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(item["loc"][-1])
        close = difflib.get_close_matches(name, known_fields(root, item["loc"]), n=1, cutoff=0.6)
        if close:
            return (
                f"unknown field; did you mean `{close[0]}`?",
                f"campo desconhecido; você quis dizer `{close[0]}`?",
            )
        return "unknown field", "campo desconhecido"
    if kind == "missing":
        return "required field is missing", "campo obrigatório ausente"
    if kind == "string_pattern_mismatch" and field.endswith("trigger"):
        return (
            "must be one lowercase word: a letter, then letters, digits or '_' (2-32)",
            "deve ser uma palavra minúscula: uma letra, depois letras, dígitos ou '_' (2-32)",
        )
    if kind == "string_pattern_mismatch":
        value = item["input"]
        slug = suggest_slug(value)
        return (
            f"{value!r} is not a slug: use lowercase letters, digits and single hyphens"
            + (f"; try {slug!r}" if slug else ""),
            f"{value!r} não é um identificador: use letras minúsculas, dígitos e hífens simples"
            + (f"; tente {slug!r}" if slug else ""),
        )
    pt = {
        "greater_than": f"deve ser maior que {ctx.get('gt'):g}"
        if isinstance(ctx.get("gt"), float)
        else f"deve ser maior que {ctx.get('gt')}",
        "greater_than_equal": f"deve ser maior ou igual a {ctx.get('ge')}",
        "less_than": f"deve ser menor que {ctx.get('lt')}",
        "less_than_equal": f"deve ser menor ou igual a {ctx.get('le')}",
        "string_too_short": f"texto curto demais (mínimo {ctx.get('min_length')})",
        "string_too_long": f"texto longo demais (máximo {ctx.get('max_length')})",
        "too_short": f"poucos itens (mínimo {ctx.get('min_length')})",
        "too_long": f"itens demais (máximo {ctx.get('max_length')})",
        "int_parsing": "deve ser um número inteiro",
        "int_from_float": "deve ser um número inteiro",
        "float_parsing": "deve ser um número",
        "string_type": "deve ser um texto",
        "int_type": "deve ser um número inteiro",
        "float_type": "deve ser um número",
        "bool_parsing": "deve ser verdadeiro ou falso",
        "literal_error": f"deve ser um de: {ctx.get('expected')}",
        "model_type": "deve ser um conjunto de campos",
        "model_attributes_type": "deve ser um conjunto de campos",
        "list_type": "deve ser uma lista",
        "tuple_type": "deve ser uma lista",
        "blank_text": "só espaços: escreva o texto ou deixe o campo de fora",
        "unspeakable_line": "nenhuma palavra para falar: escreva o que o personagem diz (letras "
        "ou dígitos), ou deixe `line` de fora para uma cena sem fala",
        "say_without_line": "`say` é como a voz lê a `line` da cena: escreva a `line` também",
        "resolution_too_small": f"a resolução {ctx.get('size')} tem menos de "
        f"{ctx.get('min_side')} pixels num lado, o menor que um player oferece (144p); o vídeo "
        "final é para telas: 1920x1080 é o usual",
    }.get(kind)
    en = item["msg"].removeprefix("Value error, ")
    # Our own validators' messages (models, resolutions) stay as written, marked as such.
    pt = pt or f"{en} (mensagem original em inglês)"
    got = _echo(item.get("input"), en)
    return (f"{en} (got {got})", f"{pt} (recebido: {got})") if got else (en, pt)


def _echo(value: Any, message: str) -> str | None:
    """The bad value as the producer typed it, for the message; None when it says it already
    or is a whole mapping or list (the field names it)."""
    if value is None or isinstance(value, dict | list | tuple):
        return None
    shown = repr(value) if isinstance(value, str) else str(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return None if shown in message or str(value) in message else shown


def suggest_slug(value: Any) -> str | None:
    """`value` as a slug: accents dropped, lower case, other characters as single hyphens
    (`Introdução 1` -> `introducao-1`); None when nothing is left."""
    if not isinstance(value, str):
        return None
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:63].strip("-")
    return slug or None


def duplicate_shot_ids(data: Any) -> list[Problem]:
    """Shot ids used twice in the raw brief, whatever else is wrong with it."""
    shots = data.get("shots") if isinstance(data, dict) else None
    if not isinstance(shots, list):
        return []
    seen: dict[str, int] = {}
    found = []
    for index, shot in enumerate(shots):
        shot_id = shot.get("id") if isinstance(shot, dict) else None
        if not isinstance(shot_id, str):
            continue
        if shot_id in seen:
            first, again = f"shots[{seen[shot_id]}]", f"shots[{index}]"
            found.append(
                Problem(
                    "shots",
                    f"shot id {shot_id!r} is used twice ({first} and {again})",
                    f"o id de plano {shot_id!r} aparece duas vezes ({first} e {again})",
                )
            )
        else:
            seen[shot_id] = index
    return found


def problems_of(error: ValidationError, data: Any, root: type[BaseModel]) -> list[Problem]:
    """Every problem pydantic found, plus duplicate shot ids it could not reach."""
    problems = []
    for item in error.errors():
        field = field_path(item["loc"])
        if field == "shots" and "used twice" in item["msg"]:
            continue  # reported below, with the index, even when other shots are invalid
        en, pt = _translate(item, field, root)
        problems.append(Problem(field, en, pt))
    return problems + duplicate_shot_ids(data)
