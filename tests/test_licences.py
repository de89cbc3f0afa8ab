"""Licence conditions as data, checked against the studio's facts by validate and the quote."""

from __future__ import annotations

import pytest
from conftest import small_brief, write_brief

from pipeline.cli import main
from pipeline.settings import LICENCE_FACTS, Settings, SettingsError
from resources.domain.licences import EU, LICENCES, StudioFacts, conditions_broken, licence
from resources.domain.registry import (
    MUSIC_MODELS,
    SDXL,
    SPEECH_CHECK_MODELS,
    UPSCALERS,
    VIDEO_MODELS,
    VISION_MODELS,
    VOICE_MODELS,
)
from resources.domain.tiers import TIERS

ALLOWED = "; allowed video models: "


def _every_registry_entry() -> list:
    adapters = {r.adapter.name: r.adapter for t in TIERS.values() for r in t.values() if r.adapter}
    tables = (UPSCALERS, VISION_MODELS, VOICE_MODELS, MUSIC_MODELS, SPEECH_CHECK_MODELS)
    return [
        *VIDEO_MODELS.values(),
        SDXL,
        *(m for t in tables for m in t.values()),
        *adapters.values(),
    ]


def test_every_registry_model_and_adapter_names_a_licence_whose_conditions_are_data():
    entries = _every_registry_entry()
    assert len(entries) >= 25  # video models, stills, upscalers, QC, voice, music, adapters
    for entry in entries:
        record = licence(entry.licence).record()
        assert record["paid_work"] in ("yes", "conditional", "no"), entry.name
        assert record["source"], f"{entry.name}: its licence cites no source"
    # Every licence the data holds is used by some model (no orphan entries).
    assert {e.licence for e in entries} == set(LICENCES)


def test_the_licences_conditions_are_the_published_ones():
    hunyuan = licence(VIDEO_MODELS["hunyuan_video"].licence)
    assert set(hunyuan.excluded_territories) == {*EU, "GB", "KR"} and len(EU) == 27
    assert hunyuan.monthly_users_limit == 100_000_000 and hunyuan.use_restrictions
    assert licence(VIDEO_MODELS["ltx_2"].licence).revenue_limit_usd == 10_000_000
    assert licence(VIDEO_MODELS["holocine_14b"].licence).non_commercial
    assert licence(VIDEO_MODELS["cogvideox_5b"].licence).registration
    assert licence(SDXL.licence).use_restrictions  # CreativeML Open RAIL++-M, Attachment A
    # What was not established is said in the data, never left blank.
    assert licence(VIDEO_MODELS["ltx_video"].licence).unknown
    for name in ("wan21_t2v_14b", "wan22_t2v_a14b", "mochi_1"):
        assert licence(VIDEO_MODELS[name].licence).paid_work == "yes"


def test_the_client_report_says_each_condition_in_portuguese():
    from resources.domain.licences import terms_pt

    hunyuan = terms_pt(LICENCES["Tencent Hunyuan Community License"].record())
    assert hunyuan.startswith("não vale em: UE, GB, KR; ")
    assert "licença à parte acima de 100.000.000 usuários por mês" in hunyuan
    ltx2 = terms_pt(LICENCES["LTX-2 Community License"].record())
    assert ltx2.startswith("licença paga acima de US$ 10 mi de receita anual")
    assert terms_pt(LICENCES["CC BY-NC-SA 4.0"].record()).startswith(
        "não comercial: sem trabalho pago"
    )
    assert terms_pt({"licence": "X"}) == "sem condições além do aviso de licença"


def test_every_free_text_condition_of_every_licence_has_its_portuguese_line():
    """The producer's app and the client's report and package read Portuguese: a condition
    added to a licence without its line in TEXT_PT would be shown in English there."""
    from resources.domain.licences import TEXT_PT, terms_pt

    for lic in LICENCES.values():
        texts = [t for t in (lic.attribution, lic.use_restrictions, lic.registration) if t]
        texts += list(lic.unknown)
        missing = [t for t in texts if t not in TEXT_PT]
        assert not missing, f"{lic.name}: no Portuguese for {missing}"
        said = terms_pt(lic.record())
        assert not [t for t in texts if t in said], said
        assert all(TEXT_PT[t] in said for t in texts)
    assert all(TEXT_PT[t] != t for t in TEXT_PT)


@pytest.mark.parametrize(
    ("name", "facts", "pt"),
    [
        ("CC BY-NC-SA 4.0", StudioFacts(), "é não comercial (paid work)"),
        (
            "Tencent Hunyuan Community License",
            StudioFacts(country="DE"),
            "não permite operar em DE",
        ),
        (
            "Tencent Hunyuan Community License",
            StudioFacts(audiences=("BR", "KR")),
            "não permite exibir em KR",
        ),
        (
            "LTX-2 Community License",
            StudioFacts(revenue_band="over_10m"),
            "exige licença paga acima de US$ 10 mi de receita anual (revenue band: over_10m)",
        ),
        (
            "LTX-2 Community License",
            StudioFacts(),
            "exige licença paga acima de US$ 10 mi de receita anual; faixa de receita não "
            "informada (revenue band)",
        ),
        ("CogVideoX License", StudioFacts(), "a verificar: se o estúdio registrou a licença"),
    ],
)
def test_each_broken_or_unsettled_condition_is_said_in_portuguese_too(name, facts, pt):
    found = conditions_broken(licence(name), facts)
    assert any(b.text_pt.startswith(pt) for b in found), [b.text_pt for b in found]
    assert all(b.text_pt and b.text_pt != b.text for b in found)


@pytest.mark.parametrize(
    ("band", "refused", "warned"),
    [
        ("under_1m", False, False),
        ("1m_10m", False, False),
        ("over_10m", True, False),
        (None, False, True),
    ],
)
def test_a_revenue_threshold_refuses_above_it_and_warns_when_the_band_is_unknown(
    band, refused, warned
):
    found = conditions_broken(licence("LTX-2 Community License"), StudioFacts(revenue_band=band))
    revenue = [b for b in found if b.condition == "revenue"]
    assert any(b.refused for b in revenue) is refused
    assert any(not b.refused for b in revenue) is warned


@pytest.fixture
def studio(monkeypatch, tmp_path):
    """The CLI with the studio's defaults (BR, audience BR, revenue unknown, paid work) and a
    models folder of its own, so a quote that is refused is seen to write nothing."""
    for var in LICENCE_FACTS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CHARACTER_VIDEO_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("CHARACTER_VIDEO_ROOT", str(tmp_path / "artifacts"))
    return monkeypatch


def _brief(tmp_path, video: dict, **overrides) -> str:
    return str(write_brief(tmp_path / "inbox", small_brief(video=video, **overrides)))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_passes_a_brief_whose_licences_the_facts_allow(studio, tmp_path, capsys):
    code, out, err = _cli(capsys, "validate", _brief(tmp_path, {"model": "wan21_t2v_14b"}))
    assert code == 0 and ": ok (acme-health/dr-ana, 2 shots" in out
    assert err == ""


def test_validate_refuses_a_territory_the_licence_excludes_and_suggests_allowed_models(
    studio, tmp_path, capsys
):
    studio.setenv("CHARACTER_VIDEO_AUDIENCE", "BR,GB")
    path = _brief(tmp_path, {"model": "hunyuan_video"})
    code, out, err = _cli(capsys, "validate", path)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(
        f"{path}: video.model: hunyuan_video - Tencent Hunyuan Community License excludes "
        f"audiences in GB (settings CHARACTER_VIDEO_AUDIENCE){ALLOWED}"
    )
    allowed = line.split(ALLOWED)[1].split(", ")
    assert "hunyuan_video" not in allowed and {"wan21_t2v_14b", "ltx_2", "mochi_1"} <= set(allowed)
    assert "holocine_14b" not in allowed  # non-commercial, and not acknowledged by this brief


def test_the_studios_own_country_and_a_briefs_audiences_are_checked_too(studio, tmp_path, capsys):
    studio.setenv("CHARACTER_VIDEO_COUNTRY", "DE")
    code, _, err = _cli(capsys, "validate", _brief(tmp_path, {"model": "hunyuan_video"}))
    assert code == 1 and "excludes operation in DE (settings CHARACTER_VIDEO_COUNTRY)" in err
    studio.delenv("CHARACTER_VIDEO_COUNTRY")
    path = _brief(tmp_path, {"model": "hunyuan_video"}, deliverable={"audiences": ["BR", "KR"]})
    code, _, err = _cli(capsys, "validate", path)
    assert code == 1 and "excludes audiences in KR (brief deliverable.audiences)" in err


@pytest.mark.parametrize(("band", "code"), [("over_10m", 1), ("1m_10m", 0), ("", 0)])
def test_validate_applies_the_ltx2_revenue_threshold_to_the_declared_band(
    studio, tmp_path, capsys, band, code
):
    if band:
        studio.setenv("CHARACTER_VIDEO_REVENUE_BAND", band)
    done, out, err = _cli(capsys, "validate", _brief(tmp_path, {"model": "ltx_2"}))
    assert done == code
    threshold = "LTX-2 Community License needs a paid licence above US$10M annual revenue"
    if band == "over_10m":
        assert f"video.model: ltx_2 - {threshold} (settings CHARACTER_VIDEO_REVENUE_BAND: " in err
        assert ": ok" not in out
    elif band == "":  # unknown: refused nothing, said so
        assert f"warning: video: ltx_2, ltx_2_19b_distilled_lora_384 - {threshold}" in err
        assert "CHARACTER_VIDEO_REVENUE_BAND unset" in err and ": ok" in out
    else:
        assert threshold not in err and ": ok" in out


def test_a_non_commercial_model_is_refused_for_paid_work_and_allowed_for_unpaid(
    studio, tmp_path, capsys
):
    video = {"model": "holocine_14b", "licence_ack": "non-commercial", "fps": 24}
    path = _brief(tmp_path, video)
    code, out, err = _cli(capsys, "validate", path)
    assert code == 1 and out == ""
    assert (
        f"{path}: video.model: holocine_14b - CC BY-NC-SA 4.0 is non-commercial "
        f"(settings CHARACTER_VIDEO_PAID_WORK){ALLOWED}" in err
    )
    studio.setenv("CHARACTER_VIDEO_PAID_WORK", "0")
    code, out, err = _cli(capsys, "validate", path)
    assert code == 0 and ": ok" in out, err


def test_the_quote_refuses_the_same_brief_in_one_line_and_writes_nothing(studio, tmp_path, capsys):
    studio.setenv("CHARACTER_VIDEO_AUDIENCE", "FR")
    path = _brief(tmp_path, {"model": "hunyuan_video"})
    code, out, err = _cli(capsys, "quote", path)
    assert code == 1 and out == ""
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith(path)]
    assert "excludes audiences in FR (settings CHARACTER_VIDEO_AUDIENCE)" in err
    assert not (tmp_path / "models").exists() and not (tmp_path / "artifacts").exists()
    studio.setenv("CHARACTER_VIDEO_AUDIENCE", "BR")
    code, out, _ = _cli(capsys, "quote", path)
    assert code == 0 and "**Quote** acme-health/dr-ana: hunyuan_video" in out


def test_studio_facts_come_from_the_environment_and_bad_values_name_the_variable():
    s = Settings.from_env(
        {
            "CHARACTER_VIDEO_COUNTRY": "pt",
            "CHARACTER_VIDEO_AUDIENCE": "PT, br",
            "CHARACTER_VIDEO_REVENUE_BAND": "under_1m",
            "CHARACTER_VIDEO_PAID_WORK": "1",
        }
    )
    assert s.studio_facts() == StudioFacts("PT", ("PT", "BR"), "under_1m", True)
    assert Settings().studio_facts() == StudioFacts("BR", ("BR",), None, True)
    for var, value in (
        ("CHARACTER_VIDEO_AUDIENCE", "Brasil"),
        ("CHARACTER_VIDEO_REVENUE_BAND", "big"),
        ("CHARACTER_VIDEO_PAID_WORK", "yes"),
    ):
        with pytest.raises(SettingsError, match=var):
            Settings.from_env({var: value})


def test_the_inbox_sensor_refuses_a_brief_the_licences_forbid_and_runs_the_others(studio, tmp_path):
    from dagster import build_sensor_context, instance_for_test

    from pipeline.sensors import brief_inbox_sensor, errors_file
    from resources.inbox import BriefInbox

    studio.setenv("CHARACTER_VIDEO_AUDIENCE", "BR,PT")
    inbox = tmp_path / "inbox"
    refused = write_brief(inbox, small_brief(), name="hunyuan.yaml")
    allowed = small_brief(client="sunny-foods", video={"model": "wan21_t2v_1_3b"})
    write_brief(inbox, allowed, name="wan.yaml")
    with instance_for_test() as instance:
        context = build_sensor_context(
            instance=instance, resources={"inbox": BriefInbox(paths=[str(inbox)])}
        )
        result = brief_inbox_sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["sunny-foods/dr-ana"]
    report = errors_file(refused).read_text()
    assert "video.model: hunyuan_video - Tencent Hunyuan Community License excludes " in report
    assert "audiences in PT (settings CHARACTER_VIDEO_AUDIENCE)" in report


def test_materialize_refuses_before_any_stage_runs(studio, tmp_path, capsys):
    studio.setenv("CHARACTER_VIDEO_REVENUE_BAND", "over_10m")
    path = _brief(tmp_path, {"model": "ltx_2"})
    code, out, err = _cli(capsys, "materialize", path, "--root", str(tmp_path / "artifacts"))
    assert code == 1 and out == ""
    assert "video.model: ltx_2 - LTX-2 Community License needs a paid licence above" in err
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "models").exists()
