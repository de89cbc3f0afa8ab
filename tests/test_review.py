"""The producer's review loop without a browser: gates, approvals, re-rolls, the app's HTTP side.

One gated chain is run for the module (tiny profile): it stops before LoRA training, is approved
through the app, finishes, then one of its two shots is re-rolled through the app.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, copy_of_root, write_brief
from dagster import DagsterInstance
from moto_aws import aws_env  # noqa: F401 - the fixture
from review_support import (
    CHARACTER,
    CLIENT,
    NoRedirect,
    config_for,
    csrf_pair,
    get,
    post,
    review_settings,
    serve,
    write_gated_brief,
)
from webhook_server import log_lines, webhook

from assets.materialize import OUTCOME_TAG, WAITING
from pipeline.cli import main, materialize_brief
from pipeline.launch import brief_source, run_chain
from pipeline.review import runs
from pipeline.review.app import review_config
from pipeline.review.i18n import money
from pipeline.review.routes.pages import brief_errors
from pipeline.settings import ENV_WEBHOOK_URL, SettingsError, resource_defs
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.review import decision_of, overrides_of, reviews_of
from resources.storage.artifact_store import ArtifactStore, sha256_file

pytestmark = pytest.mark.slow  # the review app over whole-chain runs


def current(root: Path, asset: str) -> str | None:
    pointer = root / CLIENT / CHARACTER / asset / "current.json"
    return json.loads(pointer.read_text())["version"] if pointer.is_file() else None


def clips_manifest(root: Path) -> dict:
    version = current(root, "video_clips")
    return json.loads(
        (root / CLIENT / CHARACTER / "video_clips" / version / "manifest.json").read_text()
    )


def rerun(settings, instance) -> None:
    """What the app starts after an approval or a re-roll (`python -m pipeline run`), in process."""
    store = config_for(settings).store
    source = brief_source(store, CLIENT, CHARACTER)
    resources = resource_defs(settings, inbox=[str(source)])
    assert run_chain(source, resources=resources, instance=instance, launched_by="test").success


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    from quick_chain import shared_models

    folder = tmp_path_factory.mktemp("review")
    root, inbox = folder / "artifacts", folder / "inbox"
    brief = write_gated_brief(inbox)
    settings = review_settings(root, inbox, shared_models(tmp_path_factory))
    with webhook() as hook, DagsterInstance.ephemeral() as instance:
        os.environ[ENV_WEBHOOK_URL] = hook.url  # the producers' channel, told of each run
        settings = replace(settings, webhook_url=hook.url)
        final = materialize_brief(
            brief, root=str(root), profile="tiny", models_dir=settings.models_dir, instance=instance
        )
        state = {"waiting_final": final, "lora_before": current(root, "character_lora")}
        state["references"] = current(root, "reference_images")
        config = config_for(settings)
        with serve(config) as url:
            state["home_waiting"] = get(f"{url}/")[2].decode()
            state["page_waiting"] = get(f"{url}/c/{CLIENT}/{CHARACTER}")[2].decode()
            state["approve"] = post(
                f"{url}/c/{CLIENT}/{CHARACTER}/review",
                {
                    "gate": "references",
                    "version": state["references"],
                    "decision": "approved",
                    "who": "ana",
                    "note": "rosto ok",
                },
            )
            rerun(settings, instance)
            state["first_cut"] = current(root, "deliverables")
            state["clips_before"] = clips_manifest(root)
            state["reroll"] = post(
                f"{url}/c/{CLIENT}/{CHARACTER}/reroll", {"shot": "wave", "seed": "77", "who": "bia"}
            )
            rerun(settings, instance)
            state["clips_after"] = clips_manifest(root)
            state["second_cut"] = current(root, "deliverables")
            state["home_after"] = get(f"{url}/?lang=en")[2].decode()
            yield {
                "hook": hook,
                "root": root,
                "inbox": inbox,
                "settings": settings,
                "url": url,
                "store": config.store,
                "instance": instance,
                **state,
            }
            os.environ.pop(ENV_WEBHOOK_URL, None)


def test_the_webhook_is_told_when_a_run_waits_for_a_person_and_when_one_finishes(loop):
    """The first run stopped for the references' approval; the two runs after it finished."""
    notices = [n["metadata"]["event_payload"] for n in loop["hook"].wait_for(3)]
    events = [(n["event"], n["stage"]) for n in notices]
    assert events == [
        ("waiting", "character_lora"),  # the stage that waits: training starts on approval
        ("finished", "client_report"),
        ("finished", "client_report"),
    ]
    assert all((n["client"], n["character"]) == (CLIENT, CHARACTER) for n in notices)
    assert "waiting for approval" in notices[0]["detail"]
    # The log in the artifact root holds each delivery, taken at the first attempt.
    log = log_lines(loop["root"] / "_notifications.jsonl", 3)
    assert [(entry["event"], entry["status"]) for entry in log] == [
        ("waiting", 200), ("finished", 200), ("finished", 200)]  # fmt: skip


def test_a_gated_brief_stops_before_lora_training_without_failing(loop):
    assert loop["waiting_final"] is None  # the run succeeded and says it waits
    # In Dagster too: the waiting run is tagged so, the ones after it are not.
    runs = sorted(
        loop["instance"].get_runs(),
        key=lambda r: loop["instance"].get_run_record_by_id(r.run_id).create_timestamp,
    )
    outcomes = [r.tags.get(OUTCOME_TAG) for r in runs]
    assert outcomes == [f"{WAITING} (references)", None, None]
    assert loop["lora_before"] is None
    assert loop["references"] is not None


def test_an_approval_is_a_record_of_one_version_with_who_when_and_note(loop):
    store = loop["store"]
    ref = ArtifactRef(CLIENT, CHARACTER, "reference_images", loop["references"])
    (record,) = reviews_of(store, ref)
    assert (record["decision"], record["who"], record["note"]) == ("approved", "ana", "rosto ok")
    assert record["version"] == loop["references"] and record["at"].endswith("+00:00")
    assert loop["approve"][0] == 303
    other = ArtifactRef(CLIENT, CHARACTER, "reference_images", "0" * 16)
    assert decision_of(store, other) is None  # an approval does not carry over


def test_a_record_is_never_overwritten(loop):
    store = loop["store"]
    key = f"{CLIENT}/{CHARACTER}/_reviews/test/once.json"
    store.put_record(key, {"n": 1})
    with pytest.raises(ArtifactError, match="never overwritten"):
        store.put_record(key, {"n": 2})
    assert store.record(key) == {"n": 1}


def test_approving_lets_the_chain_run_to_the_cut(loop):
    assert loop["first_cut"] is not None
    assert current(loop["root"], "character_lora") is not None


def test_a_reroll_renders_only_that_shot_and_reuses_the_other_byte_for_byte(loop):
    before = {s["id"]: s for s in loop["clips_before"]["shots"]}
    after = {s["id"]: s for s in loop["clips_after"]["shots"]}
    assert after["wave"]["seed"] == 77 and after["wave"]["rendered"]
    assert after["wave"]["unit"] != before["wave"]["unit"]
    assert after["hello"]["unit"] == before["hello"]["unit"] and not after["hello"]["rendered"]
    units = loop["root"] / CLIENT / CHARACTER / "shots"
    clip = units / before["hello"]["unit"] / "clip.mp4"
    clips = loop["root"] / CLIENT / CHARACTER / "video_clips"
    reused = clips / current(loop["root"], "video_clips") / "shots" / "hello" / "clip.mp4"
    assert sha256_file(reused) == sha256_file(clip)
    assert loop["second_cut"] != loop["first_cut"]


def test_a_reroll_is_recorded_and_named_in_the_lineage(loop):
    (override,) = overrides_of(loop["store"], CLIENT, CHARACTER)
    assert (override.shot, override.previous_seed, override.seed, override.who) == (
        "wave",
        2,
        77,
        "bia",
    )
    brief = loop["root"] / CLIENT / CHARACTER / "character_brief"
    manifest = json.loads(
        (brief / current(loop["root"], "character_brief") / "manifest.json").read_text()
    )
    assert [o["seed"] for o in manifest["parameters"]["overrides"]] == [77]


def test_a_shot_is_served_with_range_requests(loop):
    clips = loop["clips_after"]
    ref = f"{CLIENT}/{CHARACTER}/video_clips/{clips['version']}"
    with serve(config_for(loop["settings"])) as url:
        status, headers, body = get(
            f"{url}/files/{ref}/shots/hello/clip.mp4", {"Range": "bytes=0-99"}
        )
        whole = get(f"{url}/files/{ref}/shots/hello/clip.mp4")[2]
    assert status == 206 and len(body) == 100
    assert headers["content-range"] == f"bytes 0-99/{len(whole)}"
    assert body == whole[:100]


def test_buttons_are_priced_on_the_app_s_instance_or_the_page_says_why_not(loop):
    """The buttons are priced on the instance type of the app's settings
    (CHARACTER_VIDEO_INSTANCE_TYPE, as `python -m pipeline quote` prices), named on each button.
    An instance with no price leaves them unpriced: the page says so in one line and shows
    every shot, instead of failing."""
    from resources.domain.brief import load_brief

    shots = len(load_brief(brief_source(loop["store"], CLIENT, CHARACTER)).shots)
    pages = {}
    for instance in ("g6.xlarge", "p9.imaginary"):
        settings = replace(loop["settings"], instance_type=instance)
        with serve(config_for(settings)) as url:
            status, _, body = get(f"{url}/c/{CLIENT}/{CHARACTER}?lang=en")
        assert status == 200
        pages[instance] = body.decode()
        assert pages[instance].count('<div class="card shot"') == shots
    priced, unpriced = pages["g6.xlarge"], pages["p9.imaginary"]
    assert priced.count("of GPU (g6.xlarge Spot") == priced.count('class="price"') >= shots
    assert 'id="prices-unavailable"' not in priced
    assert 'class="price"' not in unpriced
    problem = unpriced.split('id="prices-unavailable">')[1].split("</p>")[0]
    assert "No prices on the buttons: the quote could not be made" in problem
    reason = problem.split("could not be made:", 1)[1].strip()
    assert (
        reason.startswith("instance type &#39;p9.imaginary&#39; has no price")
        and "\n" not in reason
    )


def test_buttons_count_the_voice_engine_s_flops_with_the_app_s_voice_environment(tmp_path):
    """The images name their voice environment with CHARACTER_VIDEO_VOICE_PYTHON (there is no
    .venv-voice beside the installed code): a line shape the FLOP caches lack is counted with
    that interpreter, and a missing one is named in the error."""
    import yaml

    from pipeline.review.catalog import button_prices
    from pipeline.settings import Settings
    from resources.domain.brief import load_brief
    from resources.models.model_store import ModelNotFoundError
    from resources.quote import flops
    from resources.quote.quote import voice_line_keys

    data = yaml.safe_load((REPO / "examples" / "ltx2-talking-minute.yaml").read_text())
    spoken = next(shot for shot in data["shots"] if shot.get("line"))
    spoken.pop("duration_s", None)  # timed by its line
    spoken["line"] = "Lembre: " + ", ".join(["hipertensão arterial sistêmica"] * 7) + "."
    brief = load_brief(write_brief(tmp_path / "inbox", data))
    shot = next(s for s in brief.shots if s.id == spoken["id"])
    _, _, (key,) = voice_line_keys(brief, [shot])
    assert flops.full_key(key) not in flops._seed(), "the committed counts hold this line's shape"

    missing = tmp_path / "image" / "voice" / "bin" / "python"
    settings = replace(Settings(), models_dir=str(tmp_path / "models"), voice_python=str(missing))
    with pytest.raises(ModelNotFoundError, match=re.escape(str(missing))):
        button_prices(brief, settings)


def test_pages_are_in_portuguese_with_english_a_switch_away_and_local_dates(loop):
    with serve(config_for(loop["settings"])) as url:
        pt = get(f"{url}/c/{CLIENT}/{CHARACTER}")[2].decode()
        en = get(f"{url}/c/{CLIENT}/{CHARACTER}?lang=en")[2].decode()
    assert "Planos" in pt and "Corte final" in pt and "Shots" not in pt
    assert "Shots" in en and "Final cut" in en
    assert "(-03)" in pt  # America/Sao_Paulo, the default producers' time zone


def test_every_button_that_starts_gpu_work_shows_the_quote_s_price(loop):
    from pipeline.review.catalog import button_prices
    from resources.domain.brief import load_brief
    from resources.quote.quote import quote_brief
    from resources.quote.summary import duration

    brief = load_brief(brief_source(loop["store"], CLIENT, CHARACTER))
    draft, final = quote_brief(brief), quote_brief(brief, tier="final")
    with serve(config_for(loop["settings"])) as url:
        page = get(f"{url}/c/{CLIENT}/{CHARACTER}")[2].decode()
    cards = page.split('<div class="card shot"')[1:]
    for shot, card in zip(brief.shots, cards, strict=True):
        reroll = next(r for r in draft["shots"] if r["id"] == shot.id)
        promote = next(r for r in final["shots"] if r["id"] == shot.id)
        shown = re.findall(r'<span class="price">custa ≈ (US\$ [\d.,]+)', card)
        assert shown[0] == money(reroll["usd_spot"], "pt-BR")
        # Its GPU time as the quote's summary writes it ("1 h 32 min", "menos de 1 min").
        gpu = re.findall(r'<span class="price">custa ≈ US\$ [\d.,]+ · ([^<]+) de GPU', card)
        assert gpu[0] == duration(reroll["gpu_s"], "pt-BR")
        if shot.tier in (None, "draft") and brief.video.tier == "draft":
            assert shown[-1] == money(promote["usd_spot"], "pt-BR")
    # Approving the references starts the LoRA, every shot and the cut: all but the stills.
    after = [s for s in draft["stages"] if s["stage"] != "references"]
    waiting = loop["page_waiting"].split('id="approve-price"')[1].split("</p>")[0]
    assert f"custa ≈ {money(sum(s['usd_spot'] for s in after), 'pt-BR')}" in waiting
    assert 'id="approve-price"' not in page  # approved since: no such button any more
    # A final shot is never priced under its draft.
    prices = button_prices(brief)
    assert all(prices["promote"][k].usd >= prices["reroll"][k].usd for k in prices["reroll"])
    # The tiny profile's measured costs say they are illustrative.
    assert page.count('class="illustrative"') == len(brief.shots) + 1
    # The lineage's compute seconds carry the decimal comma, like every number on the page.
    lineage = page.split('id="lineage"')[1].split("</table>")[0]
    assert re.findall(r"\d+,\d s cpu", lineage) and not re.findall(r"\d\.\d s cpu", lineage)


def test_a_shot_s_identity_is_one_number_with_its_light_and_meaning(loop):
    with serve(config_for(loop["settings"])) as url:
        pt = get(f"{url}/c/{CLIENT}/{CHARACTER}")[2].decode()
        en = get(f"{url}/c/{CLIENT}/{CHARACTER}?lang=en")[2].decode()
    shots = loop["clips_after"]["shots"]
    for shot in shots:
        value = shot["identity"]["dinov2_base"]
        assert f'<strong class="value">{value:.3f}'.replace(".", ",") in pt
        assert f'<strong class="value">{value:.3f}</strong>' in en
        assert f"({shot['num_frames']} quadros)" in pt and f"({shot['num_frames']} frames)" in en
        # Its length as the brief gave it, with the decimal comma in Portuguese (0,5 s).
        seconds = f"{shot['duration_s']:g}"
        assert f"<td>{seconds.replace('.', ',')} s ({shot['num_frames']} quadros)</td>" in pt
        assert f"<td>{seconds} s ({shot['num_frames']} frames)</td>" in en
    assert "{'clip_vit_large_patch14'" not in pt and "dinov2_base': " not in pt  # no raw dict
    # The gated brief sets no min_identity: measured only, grey, and the page says so.
    assert pt.count('data-light="grey"') == len(shots)
    assert "o briefing não define limite" in pt and "the brief sets no limit" in en
    assert "maior é melhor" in pt


def test_the_final_cut_is_downloadable(loop):
    version = loop["second_cut"]
    with serve(config_for(loop["settings"])) as url:
        status, headers, body = get(
            f"{url}/files/{CLIENT}/{CHARACTER}/deliverables/{version}/final.mp4?download=1"
        )
    assert status == 200 and headers["content-disposition"].startswith("attachment")
    final = loop["root"] / CLIENT / CHARACTER / "deliverables" / version / "final.mp4"
    assert body == final.read_bytes()


def test_a_path_outside_the_artifact_is_refused(loop):
    version = loop["second_cut"]
    with serve(config_for(loop["settings"])) as url:
        status, _, _ = get(
            f"{url}/files/{CLIENT}/{CHARACTER}/deliverables/{version}/..%2F..%2Fcurrent.json"
        )
    assert status == 404


def test_beyond_loopback_the_app_refuses_to_start_without_a_token(loop):
    with pytest.raises(SettingsError, match="CHARACTER_VIDEO_REVIEW_TOKEN"):
        review_config(host="0.0.0.0", settings=loop["settings"])
    config = review_config(
        host="0.0.0.0", settings=replace(loop["settings"], review_token="s3cr3t")
    )
    assert config.token == "s3cr3t"


def test_a_request_without_the_token_is_refused(loop):
    config = config_for(loop["settings"], token="s3cr3t")
    page = f"/c/{CLIENT}/{CHARACTER}"
    with serve(config) as url:
        refused = get(f"{url}{page}")
        wrong = get(f"{url}{page}", {"Authorization": "Bearer nope"})
        bearer = get(f"{url}{page}", {"Authorization": "Bearer s3cr3t"})
        login = post(f"{url}/login", {"token": "s3cr3t", "next": page})
        cookie = login[1]["set-cookie"].split(";")[0]
        with_cookie = get(f"{url}{page}", {"Cookie": cookie})
    assert refused[0] == 401 and wrong[0] == 401
    assert bearer[0] == 200 and with_cookie[0] == 200 and login[0] == 303


def test_a_form_posted_without_its_csrf_token_or_from_another_site_is_refused(loop):
    config = config_for(loop["settings"])
    action = f"/c/{CLIENT}/{CHARACTER}/reroll"
    fields = {"shot": "wave", "seed": "5", "who": "eve"}
    with serve(config) as url:
        bare = post(f"{url}{action}", fields, csrf=False)
        cookie, token = csrf_pair(url)
        forged = post(f"{url}{action}", {**fields, "csrf": "x" * 32}, {"Cookie": cookie})
        elsewhere = post(
            f"{url}{action}",
            {**fields, "csrf": token},
            {"Cookie": cookie, "Origin": "https://evil.example"},
        )
        page = get(f"{url}/c/{CLIENT}/{CHARACTER}", {"Cookie": cookie})[2].decode()
    assert bare[0] == forged[0] == 403 and b"reload it" in bare[2]
    assert elsewhere[0] == 403 and b"evil.example" in elsewhere[2]
    assert [o.seed for o in overrides_of(loop["store"], CLIENT, CHARACTER)] == [77]  # none added
    # Every form of the page carries this browser's token.
    assert page.count(f'name="csrf" value="{token}"') == page.count('method="post"') > 0


def test_briefs_in_error_are_listed_with_every_problem(loop, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.yaml").write_text("client: acme\ncharacter: {id: x}\nshots: []\n")
    settings = replace(loop["settings"], inbox=(str(inbox),))
    with serve(config_for(settings)) as url:
        page = get(f"{url}/")[2].decode()
        english = get(f"{url}/?lang=en")[2].decode()
    assert "broken.yaml" in page and "character.name" in page and "shots" in page
    # And among what waits for a person, linking to the file opened to fix, in the page's language.
    waiting = _waiting_rows(page)
    fix = f"/briefs/edit?file={inbox}/broken.yaml"
    assert [(kind, link) for kind, link, _ in waiting][-1] == ("brief", fix)
    assert "broken.yaml" in waiting[-1][2]
    (problems,) = brief_errors(settings)
    assert problems["pt"][0] != problems["en"][0]
    assert waiting[-1][2].rstrip().endswith(problems["pt"][0])
    assert _waiting_rows(english)[-1][2].rstrip().endswith(problems["en"][0])


def _waiting_rows(page: str) -> list[tuple[str, str, str]]:
    """The home page's "waiting for you" rows: (kind, link, the row's text)."""
    section = page.split('<section id="waiting">')[1].split("</section>")[0]
    return [
        (m.group(1), m.group(2), re.sub(r"<[^>]+>", "", m.group(3)))
        for m in re.finditer(
            r'<tr class="waiting-item" data-kind="(\w+)">.*?<a href="([^"]+)">(.*?)</tr>',
            section,
            re.S,
        )
    ]


def test_the_home_page_lists_what_waits_for_a_person_until_it_is_settled(loop):
    (row,) = _waiting_rows(loop["home_waiting"])
    kind, link, shown = row
    assert (kind, link) == ("references", f"/c/{CLIENT}/{CHARACTER}#references")
    assert "Aprovar referências" in shown and f"{CLIENT}/{CHARACTER}" in shown
    assert loop["references"] in shown  # the version that waits
    # Approved, then cut without a required cut approval: nothing waits any more.
    assert _waiting_rows(loop["home_after"]) == []
    assert "Nothing waits for you." in loop["home_after"]


def test_the_cli_records_a_rejection_with_its_note(loop, tmp_path):
    # The module's other tests read the approval the app recorded.
    root = copy_of_root(loop["root"], tmp_path)
    store = ArtifactStore(root=str(root))
    code = main(
        [
            "reject",
            CLIENT,
            CHARACTER,
            "references",
            "--note",
            "olhos errados",
            "--who",
            "caio",
            "--root",
            str(root),
            "--no-run",
        ]
    )
    assert code == 0
    ref = ArtifactRef(CLIENT, CHARACTER, "reference_images", loop["references"])
    assert decision_of(store, ref) == "rejected"
    assert reviews_of(store, ref)[-1]["note"] == "olhos errados"


def test_training_and_rendering_left_their_progress_records(loop):
    store = loop["store"]
    lora = store.record(f"{CLIENT}/{CHARACTER}/_progress/character_lora.json")
    clips = store.record(f"{CLIENT}/{CHARACTER}/_progress/video_clips.json")
    assert (lora["label"], lora["done"], lora["total"], lora["state"]) == (
        "LoRA training",
        2,
        2,
        "done",
    )
    assert clips["label"] == "shot wave" and clips["unit"] == "denoising steps"
    assert clips["done"] == clips["total"] and clips["state"] == "done"


def test_the_history_is_every_decision_in_time_order_and_each_cut_says_what_changed(loop):
    page = get(f"{loop['url']}/c/{CLIENT}/{CHARACTER}")[2].decode()
    events = re.findall(r'<li class="event" data-kind="(\w+)">[^:]*:[^:]*:\s*([^<]*)</li>', page)
    kinds = [kind for kind, _ in events]
    approval = kinds.index("approved")
    assert f"ana aprovou as referências {loop['references']}: “rosto ok”" in events[approval][1]
    reroll = kinds.index("reroll")
    assert approval < reroll and "bia refez o plano wave: seed " in events[reroll][1]
    assert events[reroll][1].strip().endswith("→ 77")
    labels = dict(re.findall(r'data-version="(\w+)">.*?class="version-label">([^<]*)<', page, re.S))
    assert labels[loop["second_cut"]].startswith("refação de wave · horizontal ")
    assert labels[loop["first_cut"]].startswith("primeira versão · horizontal ")
    english = get(f"{loop['url']}/c/{CLIENT}/{CHARACTER}?lang=en")[2].decode()
    assert "bia re-rolled shot wave: seed " in english and "re-roll of wave" in english


def test_the_client_report_is_in_portuguese_with_english_a_click_away(loop):
    url = f"{loop['url']}/c/{CLIENT}/report"
    status, _, body = get(url)
    page = body.decode()
    assert status == 200
    assert f"<h1>{CLIENT}: entregas, linhagem e custo</h1>" in page
    for heading in ("Como foi feito", "Licenças dos modelos usados", "O personagem, medido"):
        assert f"<h3>{heading}</h3>" in page
    assert "trabalho pago: " in page and "<th>personagem</th>" in page
    # Every word of it: the licences' conditions and each stage's compute in Portuguese too.
    assert "manter a licença e o aviso de copyright ao redistribuir os pesos" in page
    assert re.search(r"\d+,\d s de CPU em cpu, ~US\$ \d+,\d{4}", page)
    for english in ("paid work", "keep the licence", "CPU-s", " on cpu", "not measured"):
        assert english not in page, english
    assert "Perfil tiny: segundos de CPU" in page  # the tiny profile's costs are illustrative
    english = get(f"{url}?lang=en")[2].decode()
    assert f"<h1>{CLIENT}: deliverables, lineage and cost</h1>" in english
    assert "<h3>Licences of the models used</h3>" in english and "paid work: " in english
    client = get(f"{loop['url']}/c/{CLIENT}")[2].decode()
    assert f'href="/c/{CLIENT}/report">Relatório ao cliente' in client
    assert get(f"{loop['url']}/c/nobody-here/report")[0] == 404


def test_two_cut_versions_play_side_by_side(loop):
    url = f"{loop['url']}/c/{CLIENT}/{CHARACTER}/compare"
    both = f"?v={loop['first_cut']}&v={loop['second_cut']}"
    status, _, body = get(url + both)
    page = body.decode()
    assert status == 200 and page.count("<video") == 2
    sources = re.findall(r'src="/files/[^"]*/deliverables/(\w+)/', page)
    assert sources == [loop["first_cut"], loop["second_cut"]]
    assert "refação de wave" in page and 'id="play-both"' in page
    status, _, body = get(f"{url}?v={loop['first_cut']}&v=0000000000000000")
    assert (status, body.decode()) == (400, "Escolha duas versões para comparar.")


def test_a_long_loop_logs_every_n_steps_with_rate_and_eta(tmp_path):
    from assets.stages.base import StageLog
    from resources.runtime.progress import StepProgress
    from resources.storage.artifact_store import ArtifactStore

    store = ArtifactStore(root=str(tmp_path))
    lines: list[str] = []
    log = StageLog(lines.append, store, CLIENT, CHARACTER, "character_lora")
    tick = StepProgress(log, "LoRA training", 20, every=10)
    for step in range(1, 21):
        tick(step)
    assert [line.split(",")[0] for line in lines] == [
        "LoRA training: steps 10/20",
        "LoRA training: steps 20/20",
    ]
    assert " steps/s, ETA " in lines[0]
    record = store.record(f"{CLIENT}/{CHARACTER}/_progress/character_lora.json")
    assert (record["done"], record["state"]) == (20, "done")


def test_metadata_images_and_the_cut_link_to_the_review_app_when_it_has_a_url(tmp_path):
    from PIL import Image

    from assets.materialize import _metadata_value
    from assets.stages.base import Picture, Playable
    from resources.storage.artifact_store import ArtifactStore

    store = ArtifactStore(root=str(tmp_path), public_url="http://review.test:8500")
    folder = tmp_path / CLIENT / CHARACTER / "deliverables" / "0123456789abcdef"
    folder.mkdir(parents=True)
    Image.new("RGB", (64, 36)).save(folder / "poster.jpg")
    shown = _metadata_value(Picture(folder / "poster.jpg", "poster"), store.public_link)
    base = f"http://review.test:8500/files/{CLIENT}/{CHARACTER}/deliverables/0123456789abcdef"
    assert shown.value == f"![poster]({base}/poster.jpg)"  # short: Dagster shows it inline
    assert _metadata_value(Playable(folder / "final.mp4"), store.public_link).value == (
        f"{base}/final.mp4"
    )
    without = _metadata_value(Picture(folder / "poster.jpg", "poster"))
    assert without.value.startswith("![poster](data:image/jpeg;base64,")


def test_an_s3_root_serves_presigned_urls_and_write_once_records(aws_env, tmp_path):  # noqa: F811
    import urllib.request

    import boto3

    from pipeline.settings import Settings
    from resources.storage.artifact_store import build_manifest, write_json
    from resources.storage.s3_artifact_store import S3ArtifactStore

    boto3.client("s3").create_bucket(Bucket="studio")
    store = S3ArtifactStore(url="s3://studio/prod", root=str(tmp_path / "cache"), sync_seconds=0)
    ref = ArtifactRef(CLIENT, CHARACTER, "deliverables", "0123456789abcdef")
    with store.staging(ref) as stage:
        (stage / "final.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" * 10)
        write_json(
            stage / "manifest.json",
            build_manifest(ref, stage, code_version="1", inputs={}, parameters={}),
        )
    url = store.presigned_url(ref, "final.mp4", 600)
    assert "X-Amz-Expires=600" in url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    assert opener.open(url, timeout=30).read() == b"\x00\x00\x00\x18ftypmp42" * 10
    settings = replace(Settings(), root="s3://studio/prod", presign_expiry_s=900)
    config = config_for(settings)
    config.store = store
    with serve(config) as app:
        status, headers, _ = get(f"{app}/files/{ref.key}/final.mp4")
    assert status == 307 and "X-Amz-Expires=900" in headers["location"]
    key = f"{CLIENT}/{CHARACTER}/_reviews/deliverables/{ref.version}/one.json"
    store.put_record(key, {"decision": "approved"})
    with pytest.raises(ArtifactError, match="never overwritten"):
        store.put_record(key, {"decision": "rejected"})
    assert store.records(f"{CLIENT}/{CHARACTER}/_reviews/deliverables/{ref.version}") == [key]


def test_a_host_the_app_does_not_serve_is_refused_before_anything_is_written(loop):
    # DNS rebinding: a page on evil.example, whose name now resolves to 127.0.0.1, reads a form
    # and posts it back with its own Host and Origin.
    action = f"/c/{CLIENT}/{CHARACTER}/reroll"
    rebound = {"Host": "evil.example", "Origin": "http://evil.example"}
    with serve(config_for(loop["settings"])) as url:
        page = get(f"{url}/c/{CLIENT}/{CHARACTER}", {"Host": "evil.example"})
        cookie, token = csrf_pair(url)
        posted = post(
            f"{url}{action}",
            {"shot": "wave", "seed": "5", "who": "eve", "csrf": token},
            {**rebound, "Cookie": cookie},
        )
        # Served names still work, with and without the port.
        ok = [get(f"{url}/", {"Host": host})[0] for host in ("localhost:1", "127.0.0.1")]
    assert page[0] == posted[0] == 421
    assert ok == [200, 200]
    assert [o.seed for o in overrides_of(loop["store"], CLIENT, CHARACTER)] == [77]  # none added


def test_a_configured_host_name_is_served_and_its_origin_accepted(loop):
    settings = replace(loop["settings"], review_hosts=("review.studio.example",))
    config = review_config(host="127.0.0.1", settings=settings)
    assert "review.studio.example" in config.hosts
    with serve(config_for(settings)) as url:
        refused = get(f"{url}/", {"Host": "review.studio.example"})[0]
    config_served = replace(config_for(settings), hosts=config.hosts)
    with serve(config_served) as url:
        served = get(f"{url}/", {"Host": "review.studio.example"})[0]
    assert refused == 421 and served == 200


def test_malformed_paths_and_bodies_answer_4xx_not_500(loop):
    version = loop["second_cut"]
    action = f"/c/{CLIENT}/{CHARACTER}/reroll"
    with serve(config_for(loop["settings"])) as url:
        nul = get(f"{url}/files/{CLIENT}/{CHARACTER}/deliverables/{version}/final%00.mp4")
        nul_page = get(f"{url}/c/{CLIENT}%00/{CHARACTER}")
        cookie, token = csrf_pair(url)
        opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
        body = b"shot=wave&who=\xff\xfe&csrf=" + token.encode()
        request = urllib.request.Request(
            f"{url}{action}", data=body, headers={"Cookie": cookie}, method="POST"
        )
        try:
            status = opener.open(request, timeout=60).status
        except urllib.error.HTTPError as error:
            status = error.code
        control = post(f"{url}{action}", {"shot": "wave", "who": "e\x1bve"})
    assert nul[0] == nul_page[0] == 400
    assert status == 400 and control[0] == 400
    assert [o.seed for o in overrides_of(loop["store"], CLIENT, CHARACTER)] == [77]


@pytest.mark.parametrize("token", ["", " ", "\t "])
def test_a_blank_token_is_refused(loop, token):
    with pytest.raises(SettingsError, match="blank|needs a token"):
        review_config(host="0.0.0.0", settings=replace(loop["settings"], review_token=token))
    config = config_for(loop["settings"], token=" ")
    with serve(config) as url:
        assert get(f"{url}/", {"Authorization": "Bearer  "})[0] == 401


def test_a_brief_with_a_raw_control_character_does_not_break_the_home_page(loop, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "nul.yaml").write_bytes(b"client: acme\x00\ncharacter: {id: x}\n")
    settings = replace(loop["settings"], inbox=(str(inbox),))
    with serve(config_for(settings)) as url:
        status, _, body = get(f"{url}/")
    assert status == 200 and "nul.yaml" in body.decode() and "U+0000" in body.decode()


def test_a_run_the_app_starts_logs_beside_the_character_s_run_state(tmp_path):
    from assets.stages.base import RUN_LOGS
    from pipeline.review.runs import run_log
    from pipeline.settings import Settings

    local = Settings(root=str(tmp_path / "root"))
    first = run_log(local.work_root, CLIENT, CHARACTER, "approve")
    again = run_log(local.work_root, CLIENT, CHARACTER, "approve")  # the same second: its own
    folder = tmp_path / "root" / CLIENT / CHARACTER / RUN_LOGS
    assert first.parent == again.parent == folder and first != again
    assert first.name.endswith(".log") and "-approve-" in first.name
    assert first.stat().st_size == 0
    # An S3 root's runs log in its local cache, as the rest of their work.
    s3 = Settings(root="s3://studio/artifacts", cache_dir=str(tmp_path / "cache"))
    cached = run_log(s3.work_root, CLIENT, CHARACTER, "reroll")
    assert cached.parent == tmp_path / "cache" / CLIENT / CHARACTER / RUN_LOGS


def test_two_approvals_at_once_start_one_run(tmp_path, monkeypatch):
    """Routes run in worker threads: two producers approving the same character at the same
    moment start one chain, and the second is told it was recorded."""
    started = []

    def launch(*args, **kwargs):
        time.sleep(0.5)  # the chain's process takes a moment to start: the other approval arrives
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        started.append(process)
        return process

    monkeypatch.setattr(runs, "launch_run", launch)
    settings = review_settings(tmp_path / "artifacts", tmp_path / "inbox", tmp_path / "models")
    config = config_for(settings, launch=True)
    answers = []

    def approve():
        answers.append(runs.start_run(config, CLIENT, CHARACTER, "approve"))

    approvals = [threading.Thread(target=approve) for _ in range(2)]
    try:
        for approval in approvals:
            approval.start()
        for approval in approvals:
            approval.join(60)
        assert sorted(answers) == [False, True]
        assert len(started) == 1 and config.runs == {"acme-health/dr-ana": started[0]}
    finally:
        for process in started:
            process.kill()
            process.wait()
