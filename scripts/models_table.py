"""The producer's table of video models in docs/models.md, from the registry and the quote.

Run from the repository root: `python scripts/models_table.py` prints the table;
`python scripts/models_table.py --write` replaces it in docs/models.md (between the markers).
Each model is quoted on one fixed 60-second brief (twelve 5-second shots, one character, a
1080p deliverable) at `draft` and at `final` on g5.xlarge Spot; tests/test_models_table.py
checks that the table in the docs is this script's output, so the figures cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DOC = REPO / "docs" / "models.md"
DOC_PT = REPO / "docs" / "costs.md"  # its Portuguese summary for producers
BEGIN = "<!-- models_table: begin (scripts/models_table.py --write) -->"
END = "<!-- models_table: end -->"
INSTANCE = "g5.xlarge"
SHOT_S, SHOTS = 5.0, 12  # one finished minute

# What each model is good at, for a producer choosing one (docs/models.md explains each).
GOOD_AT = {
    "hunyuan_video": "realistic people and camera motion at 720p",
    "wan21_t2v_1_3b": "cheap, fast previews and simple scenes",
    "wan21_t2v_14b": "detailed 720p scenes; 4-step distilled drafts",
    "wan22_t2v_a14b": "the best open Wan quality at 720p; 4-step distilled drafts",
    "wan22_ti2v_5b": "720p at 24 fps on one consumer GPU",
    "ltx_video": "the cheapest renders; long clips (10 s)",
    "cogvideox_5b": "short 480p clips at 8 fps",
    "holocine_14b": "one multi-shot scene with consistent characters (non-commercial)",
    "holocine_14b_sparse": "as holocine_14b, cheaper attention across shots (non-commercial)",
    "mochi_1": "smooth 30 fps motion at 480p",
    "ltx_2": "talking characters: picture and sound in one generation, lip-sync",
    "ltx_2_5": "as ltx_2, newer weights",
    "kandinsky5_lite": "cheap 5 s clips at 768x512; 16-step distilled drafts; MIT",
    "kandinsky5_pro": "high-quality HD (1024x768) clips, at a high render cost; MIT",
    "hunyuan_video_1_5": "realistic 720p people at 8.3B, half HunyuanVideo's size",
}


def minute_brief(name: str, condition: str = "lora"):
    """The fixed 60-second brief for model `name` (None: the model cannot render it), its
    identity from `condition` (lora | reference | both)."""
    from resources.domain.brief import BriefError, parse_brief
    from resources.domain.registry import VIDEO_MODELS

    model = VIDEO_MODELS[name]
    video = {"model": name, "fps": model.native_fps}
    if condition != "lora":
        video["condition"] = condition
    if model.licence_ack:
        video["licence_ack"] = model.licence_ack
    data = {
        "client": "studio",
        "character": {"id": "host", "name": "Host", "description": "a presenter"},
        "video": video,
        "shots": [
            {"id": f"s{i:02d}", "prompt": "the presenter speaks to camera", "duration_s": SHOT_S}
            for i in range(SHOTS)
        ],
    }
    try:
        return parse_brief(data)
    except BriefError:  # a scene model renders at most one scene of its longest clip
        return None


def minute_costs(cache_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Per model and tier: '$ renders+cut ($ with references and LoRA)' per finished minute;
    for a model with an image-to-video checkpoint also `still_<tier>`: '$ renders+cut' with
    every shot's identity from the reference still."""
    from resources.domain.registry import VIDEO_MODELS, reference_model_of
    from resources.quote.quote import quote_brief

    found = {}
    for name, model in VIDEO_MODELS.items():
        brief = minute_brief(name)
        found[name] = {}
        for tier in ("draft", "final"):
            if brief is None:
                found[name][tier] = f"- (one scene of at most {model.max_duration_s:.0f} s)"
                continue
            total = quote_brief(brief, instance_type=INSTANCE, tier=tier, cache_dir=cache_dir)
            t = total["total"]
            found[name][tier] = (
                f"{t['render_usd_per_video_minute']:.2f} ({t['usd_per_video_minute']:.2f})"
            )
            if reference_model_of(model) is not None:
                still = minute_brief(name, "reference")
                total = quote_brief(still, instance_type=INSTANCE, tier=tier, cache_dir=cache_dir)
                found[name][f"still_{tier}"] = (
                    f"{total['total']['render_usd_per_video_minute']:.2f}"
                )
    return found


PAID_WORK_PT = {"yes": "sim", "conditional": "com condições", "no": "não"}
HEAD_EN = [
    "| `video.model` | good at | longest clip | native size | $ / finished min, draft | "
    "$ / finished min, final | identity from the reference still: checkpoint, $ / finished "
    "min draft / final | licence: conditions |",
    "|---|---|---|---|---|---|---|---|",
]
HEAD_PT = [
    "| `video.model` | US$ / min pronto, rascunho | US$ / min pronto, final | licença | "
    "trabalho pago |",
    "|---|---|---|---|---|",
]


def tables(costs: dict[str, dict[str, str]]) -> tuple[str, str]:
    """The English table of docs/models.md and the Portuguese summary of docs/costs.md: one row
    per registry video model each."""
    from resources.domain.licences import licence
    from resources.domain.registry import VIDEO_MODELS, reference_model_of

    english, portuguese = list(HEAD_EN), list(HEAD_PT)
    for name, model in VIDEO_MODELS.items():
        lic, cost = licence(model.licence), costs[name]
        conditions = "; ".join(lic.conditions()) or "-"
        reference = reference_model_of(model)
        still = (
            f"yes: `{reference.name}`, {cost['still_draft']} / {cost['still_final']}"
            if reference
            else "no (LoRA only)"
        )
        english.append(
            f"| `{name}` | {GOOD_AT[name]} | {model.max_duration_s:.1f} s | "
            f"{model.native_width}x{model.native_height} @ {model.native_fps} fps | "
            f"{cost['draft']} | {cost['final']} | {still} | {lic.name}: {conditions} |"
        )
        scene = f"- (uma cena de no máximo {model.max_duration_s:.0f} s)"
        pt = {t: scene if c.startswith("-") else c.replace(".", ",") for t, c in cost.items()}
        portuguese.append(
            f"| `{name}` | {pt['draft']} | {pt['final']} | {lic.name} | "
            f"{PAID_WORK_PT[lic.paid_work]} |"
        )
    return "\n".join(english), "\n".join(portuguese)


def replace_in_doc(text: str, new_table: str) -> str:
    """`text` with the table between the markers replaced by `new_table`."""
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{new_table}\n{END}{after}"


def table_in_doc(text: str) -> str:
    """The table a doc holds between the markers."""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: list[str]) -> None:
    """Print the tables; `--write` also puts them in docs/models.md and docs/costs.md and adds
    the FLOP counts they needed to the committed seed (resources/quote/flop_counts.json), so the
    test reads them instead of counting."""
    from resources.quote import flops as counted

    costs = minute_costs()
    english, portuguese = tables(costs)
    if "--write" in argv:
        for doc, new in ((DOC, english), (DOC_PT, portuguese)):
            doc.write_text(replace_in_doc(doc.read_text(encoding="utf-8"), new), encoding="utf-8")
        with counted._lock:
            counted.write_seed(dict(counted._memo))
    print(english, portuguese, sep="\n\n")


if __name__ == "__main__":
    main(sys.argv[1:])
