"""client_report: one client's deliverables with thumbnails, lineage, GPU time and cost.

Partitioned like the chain (`client/character`) but summarizing the whole client: Dagster has no
partition mapping from a "client" partition set to the "client/character" set, and a report that
sits at the end of each character's chain is refreshed by the same run that changes it. The
newest report of any character of a client is therefore that client's report.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from assets.stages.base import Markdown, Picture, Run, StageResult, build_or_reuse, stage_result
from assets.stages.character_brief import ASSET as BRIEF
from assets.stages.character_brief import QUOTE_JSON
from assets.stages.deliverables import ASSET as DELIVERABLES
from assets.stages.deliverables import poster_file
from resources.domain.artifacts import ArtifactRef
from resources.domain.chain import GPU_STAGES, RENDER_STAGES
from resources.domain.costs import COMPARED_WITH, HOSTED_APIS, hosted_cost
from resources.domain.lineage import (
    Deliverable,
    deliverables_of,
    format_markdown,
    licences_table,
)
from resources.media.contact_sheet import contact_sheet
from resources.qc.acceptance import accepted_lines
from resources.quote.summary import formatted as num
from resources.storage.artifact_store import write_json

ASSET = "client_report"
# 3: quote accuracy; 4: the character, measured; 5: the voice, measured; 6: in Portuguese too;
# 7: a hosted service cheaper than ours is "2.3x its price", not a negative saving; 8: the
# Portuguese report names each model with its licence (conditions in Portuguese below) and
# its compute in Portuguese; "no minimum" for the default min_identity
CODE_VERSION = "8"
REPORT_MD = "report.md"
REPORT_PT_MD = "relatorio.md"  # the same report in Portuguese, for the client and the producers
REPORTS = {"en": REPORT_MD, "pt-BR": REPORT_PT_MD}
REPORT_JSON = "report.json"
POSTERS = "posters.png"


@dataclass(frozen=True)
class VideoCost:
    """What one deliverable took and cost, next to what the hosted APIs would charge."""

    character: str
    version: str
    duration_s: float
    gpu_s: float
    compute_s: float
    cost_usd: float
    render_cost_usd: float
    cost_per_minute_usd: float
    hosted_usd: dict[str, float]
    saving_pct: dict[str, float]
    illustrative: bool  # priced from CPU seconds (tiny profile), not GPU seconds
    licence: str = ""  # the video model's licence, and whether it allows paid work


def video_cost(deliverable: Deliverable, manifest: dict[str, Any]) -> VideoCost:
    """Sum the chain's compute records; compare with the hosted APIs for the same length.

    The length is what the deliverables version recorded it cut (`shots[].duration_s`).
    """
    duration = sum(float(shot["duration_s"]) for shot in manifest["shots"])
    stages = {link.asset: link.compute for link in deliverable.chain if link.compute}
    # A stage priced on an instance type the table lacks counts as $0 and marks the row.
    cost = sum(c["estimated_cost_usd"] or 0.0 for a, c in stages.items() if a in GPU_STAGES)
    render = sum(c["estimated_cost_usd"] or 0.0 for a, c in stages.items() if a in RENDER_STAGES)
    hosted = hosted_cost(duration)
    return VideoCost(
        character=deliverable.character,
        version=deliverable.version,
        duration_s=duration,
        gpu_s=sum(float(c["gpu_s"]) for c in stages.values()),
        compute_s=sum(float(c["seconds"]) for c in stages.values()),
        cost_usd=cost,
        render_cost_usd=render,
        cost_per_minute_usd=cost / (duration / 60.0) if duration else 0.0,
        hosted_usd=hosted,
        saving_pct={k: 100.0 * (1 - cost / v) if v else 0.0 for k, v in hosted.items()},
        illustrative=any(
            not c.get("gpu_s") or c.get("estimated_cost_usd") is None for c in stages.values()
        ),
        licence=next((link.licence for link in deliverable.chain if link.licence), ""),
    )


# The report's words (en, pt-BR): headings, table heads and verdicts.
WORDS: dict[str, tuple[str, str]] = {
    "title": ("{client}: deliverables, lineage and cost", "{client}: entregas, linhagem e custo"),
    "tiny": (
        "> Tiny profile: these are CPU seconds priced as if they were GPU seconds. The\n"
        "> arithmetic is real, the dollar figures are not.",
        "> Perfil tiny: segundos de CPU cobrados como se fossem segundos de GPU. A conta é\n"
        "> real, os valores em dólar não.",
    ),
    "costs_head": (
        "| character | video s | GPU s | compute s | cost $ | render $ | $ / video min |",
        "| personagem | vídeo s | GPU s | cálculo s | custo US$ | render US$ | "
        "US$ / min de vídeo |",
    ),
    "vs": ("{name} $ / saving", "{name} US$ / economia"),
    "dearer": ("{times}x its price", "{times}x o preço"),
    "licences": ("Licences of the models used", "Licenças dos modelos usados"),
    "lineage": ("How it was made", "Como foi feito"),
    "character": ("The character, measured", "O personagem, medido"),
    "voice": ("The voice, measured", "A voz, medida"),
    "accuracy": ("Quote accuracy", "Precisão do orçamento"),
}


def say(key: str, lang: str, **values: Any) -> str:
    en, pt = WORDS[key]
    return (en if lang == "en" else pt).format(**values)


def _saving(pct: float, lang: str) -> str:
    """'86.0%' saved, or, when the hosted service is the cheaper one, how many times its price
    ours is ('2.3x its price', not '-133.0%')."""
    if pct >= 0:
        return f"{num(pct, '.1f', lang)}%"
    return say("dearer", lang, times=num(1 - pct / 100, ".1f", lang))


def deliverables_table(costs: list[VideoCost], lang: str = "en") -> str:
    head = " | ".join(say("vs", lang, name=HOSTED_APIS[k].name) for k in COMPARED_WITH)
    rows = [
        f"{say('costs_head', lang)} {head} |",
        "|---|---|---|---|---|---|---|" + "---|" * len(COMPARED_WITH),
    ]
    for c in costs:
        hosted = " | ".join(
            f"{num(c.hosted_usd[k], '.2f', lang)} / {_saving(c.saving_pct[k], lang)}"
            for k in COMPARED_WITH
        )
        figures = [
            num(c.duration_s, "g", lang),
            num(c.gpu_s, ".1f", lang),
            num(c.compute_s, ".1f", lang),
            num(c.cost_usd, ".4f", lang),
            num(c.render_cost_usd, ".4f", lang),
            num(c.cost_per_minute_usd, ".4f", lang),
        ]
        rows.append(f"| {c.character} | {' | '.join(figures)} | {hosted} |")
    return "\n".join(rows)


def quote_accuracy(run: Run, deliverable: Deliverable, cost: VideoCost) -> dict[str, Any]:
    """The brief's quote next to what the chain measured: GPU-seconds and dollars."""
    brief = ArtifactRef(run.client, deliverable.character, BRIEF, deliverable.chain[-1].version)
    path = run.store.path(brief) / QUOTE_JSON
    if not path.is_file():
        return {"character": deliverable.character, "quoted": False}
    quote = json.loads(path.read_text(encoding="utf-8"))
    quoted_s = float(quote["total"]["gpu_s"])
    return {
        "character": deliverable.character,
        "quoted": True,
        "tier": quote["tier"],
        "quoted_gpu_s": quoted_s,
        "quoted_usd_spot": float(quote["total"]["usd_spot"]),
        "measured_gpu_s": cost.gpu_s,
        # None on the CPU (tiny profile): no GPU-seconds to compare with.
        "measured_over_quoted": round(cost.gpu_s / quoted_s, 3) if cost.gpu_s else None,
    }


def accuracy_table(rows: list[dict[str, Any]], lang: str = "en") -> str:
    pt = lang != "en"
    head = (
        "| personagem | qualidade | GPU s orçados | US$ spot orçados | GPU s medidos | "
        "medido / orçado |"
        if pt
        else "| character | tier | quoted GPU s | quoted $ spot | measured GPU s | "
        "measured / quoted |"
    )
    out = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        if not r["quoted"]:
            why = (
                "(sem orçamento: o briefing é anterior aos orçamentos)"
                if pt
                else "(no quote: brief snapshot predates quotes)"
            )
            out.append(f"| {r['character']} | {why} | | | | |")
            continue
        ratio = r["measured_over_quoted"]
        no_gpu = "n/d (sem GPU)" if pt else "n/a (no GPU)"
        tier = TIER_WORDS[r["tier"]][pt] if r["tier"] in TIER_WORDS else r["tier"]
        figures = [
            num(r["quoted_gpu_s"], ".0f", lang),
            num(r["quoted_usd_spot"], ".4f", lang),
            num(r["measured_gpu_s"], ".1f", lang),
            no_gpu if ratio is None else num(ratio, ".2f", lang),
        ]
        out.append(f"| {r['character']} | {tier} | {' | '.join(figures)} |")
    return "\n".join(out)


TIER_WORDS = {"draft": ("draft", "rascunho"), "final": ("final", "final")}


# Where a shot's identity came from (video.condition / shots[].condition), in the report.
IDENTITY_SOURCES = {
    "lora": ("LoRA", "LoRA"),
    "reference": ("still de referência", "reference still"),
    "both": ("LoRA + still", "LoRA + still"),
}


def identity_source(shot: dict[str, Any], pt: bool) -> str:
    """The LoRA, the reference still (named) or both, as the identity table says it."""
    words = IDENTITY_SOURCES[shot.get("identity_from") or "lora"][0 if pt else 1]
    still = shot.get("still")
    return f"{words} ({still})" if still else words


def identity_table(character: str, manifest: dict[str, Any], lang: str = "en") -> str:
    """Each shot's identity as the deliverable recorded it, and the cut's cross-shot scores."""
    pt = lang != "en"
    qc = manifest.get("qc")
    if not qc:
        if pt:
            return f"{character}: sem notas de identidade (corte anterior à medição)"
        return f"{character}: no identity scores (cut before identity scoring)"
    head = (
        "| plano | identidade vem de | identidade DINOv2 | identidade CLIP | consistência | "
        "tentativas | ganho do LoRA | aceito |"
        if pt
        else "| shot | identity from | DINOv2 identity | CLIP identity | subject consistency | "
        "attempts | LoRA gain | accepted |"
    )
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    primary = qc["primary"]
    for shot in qc["shots"]:
        ident = shot["identity"]
        clip = next(v for k, v in ident.items() if k != primary)
        gain = shot.get("lora_gain")
        unmeasured = "não medido" if pt else "not measured"
        rows.append(
            f"| {shot['id']} | {identity_source(shot, pt)} | {num(ident[primary], '.3f', lang)} | "
            f"{num(clip, '.3f', lang)} | "
            f"{num(shot['subject_consistency'], '.3f', lang)} | {shot['attempts']} | "
            f"{num(gain[primary], '+.3f', lang) if gain else unmeasured} | "
            f"{shot.get('accepted_by', '') or ''} {shot.get('accepted_at', '') or ''} |"
        )
    lowest = num(qc["cross_shot"]["min"].get(primary, 1.0), ".3f", lang)
    # -1, the brief's default, is the lowest a similarity can be: no minimum was asked for.
    floor = qc["min_identity"]
    if pt:
        asked = "nenhuma" if floor <= -1 else num(floor, "g", lang)
        rows.append(
            f"\nidentidade mínima exigida: {asked}; "
            f"menor consistência entre planos {lowest} ({primary})"
        )
    else:
        asked = "none" if floor <= -1 else f"{floor:g}"
        rows.append(f"\nmin_identity: {asked}; lowest cross-shot consistency {lowest} ({primary})")
    talking = (manifest.get("sound") or {}).get("lip_synced")
    if talking is not None:  # a master with sound: which lines the picture was generated to
        none = "nenhum" if pt else "none"
        head = (
            "planos com sincronia labial (imagem gerada a partir da fala)"
            if pt
            else "lip-synced shots (picture generated to the line)"
        )
        rows.append(f"{head}: {', '.join(talking) or none}")
        sync = (manifest.get("sound") or {}).get("sync") or {}
        word = "sincronia labial" if pt else "lip sync"
        rows += [f"* {shot}: {word} {v['verdict'].replace('_', ' ')}: {v['reason']}"
                 for shot, v in sync.items()]  # fmt: skip
    return "\n".join(rows)


def narration_of_deliverable(run: Run, character: str, manifest: dict[str, Any]) -> dict | None:
    """The narration manifest a deliverable mixed, or None (a master without lines)."""
    version = manifest.get("inputs", {}).get("narration")
    if version is None:
        return None
    return run.store.manifest(ArtifactRef(run.client, character, "narration", version))


def voice_table(narration: dict[str, Any] | None, accepted: set[str], lang: str = "en") -> str:
    """Each line's character error rate and voice score next to the brief's limits."""
    pt = lang != "en"
    if not narration or not narration.get("lines"):
        return "nenhuma fala" if pt else "no lines spoken"
    qc = narration["parameters"]["qc"]
    max_cer, min_voice = qc.get("max_cer"), qc.get("min_voice")
    accepted = accepted | set(qc.get("accept_lines") or [])
    head = (
        "| plano | fala | CER (Whisper) | voz (cosseno WavLM) | tentativas | veredito |"
        if pt
        else "| shot | line | CER (Whisper) | voice (WavLM cosine) | attempts | verdict |"
    )
    rows = [head, "|---|---|---|---|---|---|"]
    verdicts = (
        ("dentro dos limites", "aceita por um produtor", "fora dos limites")
        if pt
        else ("pass", "accepted by a producer", "outside the limits")
    )
    for line in narration["lines"]:
        voice = (
            ("sem amostra" if pt else "no sample")
            if line["voice"] is None
            else num(line["voice"], ".3f", lang)
        )
        verdict = (
            verdicts[0]
            if line["passed"]
            else verdicts[1]
            if line["id"] in accepted
            else verdicts[2]
        )
        text = line["text"].replace("|", "/")
        rows.append(
            f"| {line['id']} | {text} | {num(line['cer'], '.3f', lang)} | {voice} | "
            f"{len(line.get('attempts', [])) or 1} | {verdict} |"
        )
    rows.append("\n" + _limits_line(max_cer, min_voice, lang))
    reference = narration.get("voice_reference") or {}
    if reference.get("kind") == "preset_reference" and pt:
        rows.append(
            f"\nVoz de catálogo {reference['preset']}: cada nota de voz compara a fala com a "
            f'tomada de referência da voz ("{reference["text"]}", seed {reference["seed"]}), '
            "não com a gravação de uma pessoa."
        )
    elif reference.get("kind") == "preset_reference":
        rows.append(
            f"\nStock voice {reference['preset']}: each voice score compares the line with the "
            f'preset\'s reference take ("{reference["text"]}", seed {reference["seed"]}), not '
            "with a recording of a person."
        )
    elif reference.get("kind") == "sample":
        rows.append(
            "\nCada nota de voz compara a fala com a amostra de voz gravada."
            if pt
            else "\nEach voice score compares the line with the recorded voice sample."
        )
    return "\n".join(rows)


def _limits_line(max_cer: float | None, min_voice: float, lang: str) -> str:
    if lang == "en":
        return (
            f"qc.max_cer {'not set (measured only)' if max_cer is None else f'{max_cer:g}'}; "
            f"qc.min_voice {min_voice:g}{' (measured only)' if min_voice <= -1 else ''}"
        )
    cer = "não definido (só medido)" if max_cer is None else num(max_cer, "g", lang)
    only = " (só medido)" if min_voice <= -1 else ""
    return f"qc.max_cer {cer}; qc.min_voice {num(min_voice, 'g', lang)}{only}"


def report_client(run: Run) -> StageResult:
    """Every current deliverable of this partition's client: posters, lineage, GPU time, cost."""
    start = time.perf_counter()
    client = run.client
    current = [d for d in deliverables_of(run.store, client) if d.current]
    refs = {d.character: ArtifactRef(client, d.character, DELIVERABLES, d.version) for d in current}
    manifests = {name: run.store.manifest(ref) for name, ref in refs.items()}
    costs = [video_cost(d, manifests[d.character]) for d in current]
    accuracy = [quote_accuracy(run, d, c) for d, c in zip(current, costs, strict=True)]
    voices: dict[str, dict[str, str]] = {lang: {} for lang in REPORTS}
    for name, manifest in manifests.items():
        narration = narration_of_deliverable(run, name, manifest)
        lines = narration["lines"] if narration else []
        accepted = accepted_lines(run.store, client, name, lines)
        for lang in REPORTS:
            voices[lang][name] = voice_table(narration, accepted, lang)
    payload = {
        "deliverables": {name: ref.version for name, ref in sorted(refs.items())},
        "hosted": {k: HOSTED_APIS[k].usd_per_second for k in COMPARED_WITH},
        "code": CODE_VERSION,
    }
    ref = run.ref(ASSET, payload)

    def build(stage: Path) -> dict:
        posters = [
            Image.open(poster_file(run.store.path(refs[c.character]), manifests[c.character]))
            for c in costs
        ]
        contact_sheet(posters, stage / POSTERS, labels=[c.character for c in costs])
        for lang, name in REPORTS.items():
            (stage / name).write_text(
                _report_markdown(client, current, costs, manifests, voices[lang], lang)
                + f"\n## {say('accuracy', lang)}\n\n"
                + accuracy_table(accuracy, lang)
                + "\n"
            )
        write_json(stage / REPORT_JSON, [asdict(c) for c in costs])
        return dict(
            code_version=CODE_VERSION,
            inputs={},
            parameters=payload,
            timings={"wall_s": time.perf_counter() - start},
        )

    reused = build_or_reuse(run, ref, build)
    folder = run.store.path(ref)
    total_cost = sum(c.cost_usd for c in costs)
    total_minutes = sum(c.duration_s for c in costs) / 60.0
    run.log(f"client {client}: {len(costs)} deliverable(s), ${total_cost:.4f} estimated")
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "client": client,
            "report": folder / REPORT_MD,
            "relatorio": folder / REPORT_PT_MD,
            "deliverable_count": len(costs),
            "posters": Picture(folder / POSTERS, f"{client} posters"),
            "deliverables": Markdown(deliverables_table(costs)),
            "quote_accuracy": Markdown(accuracy_table(accuracy)),
            "identity": Markdown(
                "\n\n".join(
                    f"**{c.character}**\n\n{identity_table(c.character, manifests[c.character])}"
                    for c in costs
                )
            ),
            "voice": Markdown(
                "\n\n".join(f"**{c.character}**\n\n{voices['en'][c.character]}" for c in costs)
            ),
            "lineage": Markdown(
                "\n\n".join(
                    f"**{d.character}** `{d.version}`\n\n{format_markdown(d)}" for d in current
                )
            ),
            "gpu_s_total": sum(c.gpu_s for c in costs),
            "compute_s_total": sum(c.compute_s for c in costs),
            "cost_usd_total": total_cost,
            "cost_per_video_minute_usd": total_cost / total_minutes if total_minutes else 0.0,
            "cost_basis": (
                "illustrative: CPU seconds (tiny profile) priced as GPU seconds"
                if any(c.illustrative for c in costs)
                else "GPU seconds x price table"
            ),
        },
    )


def _report_markdown(
    client: str,
    current: list[Deliverable],
    costs: list[VideoCost],
    manifests: dict[str, dict[str, Any]],
    voices: dict[str, str],
    lang: str = "en",
) -> str:
    lines = [f"# {say('title', lang, client=client)}", ""]
    if any(c.illustrative for c in costs):
        lines += [say("tiny", lang), ""]
    lines += [deliverables_table(costs, lang), ""]
    for d in current:
        lines += [f"## {d.character} `{d.version}`", ""]
        if lang != "en":
            lines += [f"### {say('lineage', lang)}", ""]
        lines += [format_markdown(d, lang), ""]
        lines += [f"### {say('licences', lang)}", "", licences_table(d, lang), ""]
        lines += [
            f"### {say('character', lang)}",
            "",
            identity_table(d.character, manifests[d.character], lang),
            "",
            f"### {say('voice', lang)}",
            "",
            voices[d.character],
            "",
        ]
    return "\n".join(lines)
