"""The quote in a producer's words: draft and final side by side, time to ready, the price of
the format, and what the hosted services would charge, in Portuguese (pt-BR) or English.

`quote_brief` gives the figures (resources/quote/quote.py); this module only words them. A
saving is said plainly: "costs 40% less than" or, when the studio is dearer, "costs 2.3 times
as much as", never a negative percentage.
"""

from __future__ import annotations

from math import gcd
from typing import Any

from resources.domain.brief import Brief
from resources.domain.costs import HOSTED_APIS, WITHDRAWN_APIS
from resources.domain.formats import delivery_formats

LANGUAGES = ("pt-BR", "en")
ONCE = ("references", "lora_training")  # paid once per character, whatever the shot list

_WORDS = {
    "title": ("Orçamento", "Quote"),
    "intro": (
        "Vídeo de {seconds} em {shots} cenas, modelo `{model}`, numa GPU {instance} (Spot).",
        "A {seconds} video in {shots} shots, model `{model}`, on a {instance} GPU (Spot).",
    ),
    "draft": ("Rascunho (draft)", "Draft"),
    "final": ("Final", "Final"),
    "this_video": ("Custo deste vídeo", "This video costs"),
    "per_minute": ("Custo por minuto pronto", "Per finished minute"),
    "character": (
        "Dos quais a personagem (referências e LoRA, pagos uma vez)",
        "Of which the character (references and LoRA, paid once)",
    ),
    "ready_1": ("Pronto em (1 GPU)", "Ready in (1 GPU)"),
    "ready_4": ("Pronto em (4 GPUs, g5.12xlarge)", "Ready in (4 GPUs, g5.12xlarge)"),
    "format": ("Formato", "Format"),
    "format_line": (
        "{aspect} ({width}x{height}): a montagem, o upscale e a codificação custam {draft} no "
        "rascunho e {final} no final, já incluídos acima.",
        "{aspect} ({width}x{height}): the cut, upscale and encode cost {draft} at draft and "
        "{final} at final, included above.",
    ),
    "other_format_line": (
        "{aspect} ({width}x{height}): cortado dos mesmos quadros ampliados, sem custo de GPU a "
        "mais (o reenquadramento pelo rosto e a codificação rodam na CPU).",
        "{aspect} ({width}x{height}): cut from the same upscaled frames, no extra GPU cost "
        "(reframing on the face and encoding run on the CPU).",
    ),
    "hosted": (
        "Comparado com serviços hospedados (preço de tabela por segundo de vídeo):",
        "Against hosted services (list price per second of video):",
    ),
    "with_sound": ("com áudio", "with sound"),
    "silent": ("sem áudio", "without sound"),
    "cheaper": ("custa {pct} menos", "costs {pct} less"),
    "far_cheaper": ("custa {times} vezes menos", "costs {times} times less"),
    "dearer": ("custa {times} vezes o preço", "costs {times} times as much"),
    "same": ("custa o mesmo", "costs the same"),
    "versus": (
        "* {name} ({price}/min, {sound}): {their} por este vídeo. O nosso final {final}; o "
        "rascunho {draft}.",
        "* {name} ({price}/min, {sound}): {their} for this video. Our final {final}; the draft "
        "{draft}.",
    ),
    "withdrawn": ("* {name} não entra na comparação: {why}.", "* {name} is not compared: {why}."),
    "compute_only": (
        "Tempos de computação na GPU, sem a espera pelas aprovações.",
        "GPU compute times, without the wait for approvals.",
    ),
}
_WITHDRAWN_PT = {
    "sora-2": "a OpenAI retirou o Sora 2 e o Sora 2 Pro da sua API em 24/09/2026",
}


def _t(key: str, lang: str) -> str:
    return _WORDS[key][0 if lang == "pt-BR" else 1]


def money(usd: float, lang: str) -> str:
    """US$ 1.234,56 in Portuguese, $1,234.56 in English; under a cent says so."""
    if 0 < usd < 0.005:
        return "menos de US$ 0,01" if lang == "pt-BR" else "under $0.01"
    text = f"{usd:,.2f}"
    if lang == "pt-BR":
        return "US$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"${text}"


def duration(seconds: float, lang: str) -> str:
    """'3 h 16 min', '25 min', 'under a minute'."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "menos de 1 min" if lang == "pt-BR" else "under a minute"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def formatted(value: float, spec: str, lang: str) -> str:
    """`value` formatted by `spec` (".2f", "g") with the language's decimal mark: 2,3 (pt-BR),
    2.3 (en)."""
    text = format(value, spec)
    return text.replace(".", ",") if lang == "pt-BR" else text


def decimal(value: float, lang: str, digits: int = 1) -> str:
    """`value` to `digits` places with the language's decimal mark: 2,3 (pt-BR), 2.3 (en)."""
    return formatted(value, f".{digits}f", lang)


def comparison(ours: float, theirs: float, lang: str) -> str:
    """'costs 40% less' or 'costs 2.3 times as much' (ours against theirs)."""
    if theirs <= 0 or abs(ours - theirs) < 0.005 * theirs:
        return _t("same", lang)
    if ours * 10 <= theirs:  # "100% less" would hide what is left: say how many times
        return _t("far_cheaper", lang).format(times=f"{theirs / ours:.0f}" if ours else "∞")
    if ours < theirs:
        return _t("cheaper", lang).format(pct=f"{1 - ours / theirs:.0%}")
    return _t("dearer", lang).format(times=decimal(ours / theirs, lang))


def aspect(width: int, height: int) -> str:
    """16:9, 9:16, 1:1, 4:5 ... (the reduced ratio)."""
    d = gcd(width, height)
    return f"{width // d}:{height // d}"


def _stage_usd(quote: dict[str, Any], names: tuple[str, ...]) -> float:
    return sum(s["usd_spot"] for s in quote["stages"] if s["stage"] in names)


def quote_summary(brief: Brief, draft: dict[str, Any], final: dict[str, Any], lang: str) -> str:
    """Markdown a producer reads: `draft` and `final` are `quote_brief` at each tier."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang={lang!r}: one of {', '.join(LANGUAGES)}")
    tiers = {"draft": draft, "final": final}
    seconds = f"{final['total']['video_s']:g} s".replace(".", "," if lang == "pt-BR" else ".")
    out = [
        f"## {_t('title', lang)}: {final['brief']} ({brief.character.name})",
        "",
        _t("intro", lang).format(
            seconds=seconds,
            shots=len(brief.shots),
            model=final["model"],
            instance=final["instance_type"],
        ),
        "",
        f"| | {_t('draft', lang)} | {_t('final', lang)} |",
        "|---|---|---|",
    ]
    rows = {
        "this_video": lambda q: money(q["total"]["usd_spot"], lang),
        "per_minute": lambda q: money(q["total"]["usd_per_video_minute"], lang),
        "character": lambda q: money(_stage_usd(q, ONCE), lang),
        "ready_1": lambda q: duration(q["wall_s"]["1_gpu"], lang),
        "ready_4": lambda q: duration(q["wall_s"]["4_gpus"], lang),
    }
    for key, show in rows.items():
        out.append(f"| {_t(key, lang)} | {show(draft)} | {show(final)} |")
    primary, *others = delivery_formats(brief.deliverable.resolution, brief.deliverable.formats)
    out += [
        "",
        _t("compute_only", lang),
        "",
        f"**{_t('format', lang)}** "
        + _t("format_line", lang).format(
            aspect=aspect(primary.width, primary.height),
            width=primary.width,
            height=primary.height,
            **{k: money(_stage_usd(q, ("deliverable",)), lang) for k, q in tiers.items()},
        ),
        *(
            f"**{_t('format', lang)}** "
            + _t("other_format_line", lang).format(aspect=f.aspect, width=f.width, height=f.height)
            for f in others
        ),
        "",
        _t("hosted", lang),
    ]
    for name, hosted in final["hosted"].items():
        api = HOSTED_APIS[name]
        out.append(
            _t("versus", lang).format(
                name=name,
                price=money(api.usd_per_minute, lang),
                sound=_t("with_sound" if api.sound else "silent", lang),
                their=money(hosted["usd"], lang),
                **{
                    k: comparison(q["total"]["usd_spot"], hosted["usd"], lang)
                    for k, q in tiers.items()
                },
            )
        )
    for name, why in WITHDRAWN_APIS.items():
        said = _WITHDRAWN_PT.get(name, why) if lang == "pt-BR" else why
        out.append(_t("withdrawn", lang).format(name=name, why=said))
    return "\n".join(out)
