"""The quote in a producer's words (resources/quote/summary.py, `quote --summary`): draft and
final side by side, times to ready, the format, and savings said plainly in both languages."""

from __future__ import annotations

import re

import pytest
from conftest import EXAMPLES, small_brief, write_brief

from pipeline.cli import main
from resources.domain.brief import load_brief
from resources.quote.quote import quote_brief, quote_markdown
from resources.quote.summary import comparison, duration, money, quote_summary


@pytest.fixture(scope="module")
def dr_ana():
    brief = load_brief(EXAMPLES / "acme-health-dr-ana.yaml")
    return brief, quote_brief(brief, tier="draft"), quote_brief(brief, tier="final")


def test_draft_and_final_sit_side_by_side_with_their_prices_and_times(dr_ana):
    brief, draft, final = dr_ana
    text = quote_summary(brief, draft, final, "pt-BR")
    row = lambda label: next(r for r in text.splitlines() if r.startswith(f"| {label} |"))  # noqa: E731
    assert row("Custo deste vídeo") == (
        f"| Custo deste vídeo | {money(draft['total']['usd_spot'], 'pt-BR')} | "
        f"{money(final['total']['usd_spot'], 'pt-BR')} |"
    )
    assert row("Pronto em (1 GPU)").endswith(f"| {duration(final['wall_s']['1_gpu'], 'pt-BR')} |")
    assert "US$ " in text and "$0." not in text  # Portuguese money: US$ 1,31
    assert "**Formato** 16:9 (1920x1080)" in text
    assert "retirou o Sora 2" in text


def test_a_saving_is_never_a_negative_percentage(dr_ana):
    brief, draft, final = dr_ana
    for lang in ("pt-BR", "en"):
        text = quote_summary(brief, draft, final, lang)
        assert not re.search(r"-\d+ ?%", text)
    # HunyuanVideo's final is dearer than Veo 3.1 Lite 1080p for this brief: said as a ratio.
    lite = final["hosted"]["veo-3.1-lite-1080p"]["usd"]
    ours = final["total"]["usd_spot"]
    assert ours > lite
    times = f"{ours / lite:.1f}"
    assert f"O nosso final custa {times.replace('.', ',')} vezes o preço" in quote_summary(
        brief, draft, final, "pt-BR"
    )
    assert f"Our final costs {times} times as much" in quote_summary(brief, draft, final, "en")
    # The CLI's quote says it the same way ("saving -133%" before).
    text = quote_markdown(final)
    assert not re.search(r"-\d+ ?%", text)
    assert f"$4.80/min): ${lite:.2f} for this video; this one costs {times} times as much" in text


@pytest.mark.parametrize(
    ("ours", "theirs", "en", "pt"),
    [
        (0.6, 1.0, "costs 40% less", "custa 40% menos"),
        (0.01, 1.0, "costs 100 times less", "custa 100 vezes menos"),
        (2.5, 1.0, "costs 2.5 times as much", "custa 2,5 vezes o preço"),
        (1.0, 1.0, "costs the same", "custa o mesmo"),
    ],
)
def test_comparisons_read_as_words(ours, theirs, en, pt):
    assert comparison(ours, theirs, "en") == en and comparison(ours, theirs, "pt-BR") == pt


def test_money_and_durations_in_each_language():
    assert money(1234.5, "pt-BR") == "US$ 1.234,50" and money(1234.5, "en") == "$1,234.50"
    assert money(0.001, "pt-BR") == "menos de US$ 0,01"
    assert duration(196 * 60, "en") == "3 h 16 min" and duration(20, "pt-BR") == "menos de 1 min"


def test_the_review_app_prices_to_four_places_and_says_when_a_cost_is_below_them():
    from pipeline.review.i18n import money as page_money

    assert page_money(1234.56789, "pt-BR") == "US$ 1.234,5679"
    assert page_money(0.3168, "en") == "US$ 0.3168"
    # A voice re-roll costs a few hundredths of a cent: not "US$ 0,0000", which reads as free.
    assert page_money(0.00002, "pt-BR") == "menos de US$ 0,0001"
    assert page_money(0.00002, "en") == "under US$ 0.0001"
    assert page_money(0.0, "pt-BR") == "US$ 0,0000"  # nothing at all (a reused stage)


def test_cli_summary_is_portuguese_by_default_and_english_a_flag_away(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "root"))
    path = write_brief(tmp_path, small_brief(video={"model": "ltx_2", "fps": 24}))
    assert main(["quote", str(path), "--summary"]) == 0
    pt = capsys.readouterr().out
    assert pt.startswith("## Orçamento: ") and "| | Rascunho (draft) | Final |" in pt
    assert main(["quote", str(path), "--summary", "--lang", "en"]) == 0
    en = capsys.readouterr().out
    assert en.startswith("## Quote: ") and "| | Draft | Final |" in en
    # The same figures in both: the final's price per minute, worded per language.
    final = quote_brief(load_brief(path), tier="final")["total"]["usd_per_video_minute"]
    assert money(final, "pt-BR") in pt and money(final, "en") in en


def test_each_format_has_its_price_and_the_others_share_the_upscale(dr_ana):
    brief, draft, final = dr_ana
    formats = brief.model_copy(
        update={"deliverable": brief.deliverable.model_copy(update={"formats": ["9:16", "16:9"]})}
    )
    pt = quote_summary(formats, draft, final, "pt-BR")
    en = quote_summary(formats, draft, final, "en")
    cut = money(sum(s["usd_spot"] for s in final["stages"] if s["stage"] == "deliverable"), "en")
    assert "**Format** 16:9 (1920x1080): the cut, upscale and encode cost" in en
    assert f"{cut} at final" in en
    assert "**Format** 9:16 (1080x1920): cut from the same upscaled frames, no extra GPU" in en
    assert "**Formato** 9:16 (1080x1920): cortado dos mesmos quadros ampliados" in pt
    assert "1:1" not in en


def test_the_client_report_says_how_many_times_dearer_instead_of_a_negative_saving():
    from assets.stages.client_report import VideoCost, deliverables_table

    hosted = {"veo-3.1-lite-1080p": 0.56, "veo-3.1-standard": 2.80}
    cost = VideoCost(
        character="dr-ana", version="0123456789abcdef", duration_s=7, gpu_s=11760,
        compute_s=11760, cost_usd=1.3067, render_cost_usd=1.26, cost_per_minute_usd=11.2,
        hosted_usd=hosted, saving_pct={k: 100 * (1 - 1.3067 / v) for k, v in hosted.items()},
        illustrative=False,
    )  # fmt: skip
    en, pt = deliverables_table([cost], "en"), deliverables_table([cost], "pt-BR")
    assert "| 0.56 / 2.3x its price | 2.80 / 53.3% |" in en
    assert "| 0,56 / 2,3x o preço | 2,80 / 53,3% |" in pt
    assert " / -" not in en + pt  # no negative saving
