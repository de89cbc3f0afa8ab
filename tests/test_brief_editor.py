"""Writing a brief in the review app (pipeline/review/routes/briefs.py, pipeline.decisions):
checked as the sensor checks it, priced, saved whole into the inbox (a folder or an S3 prefix),
where the sensor picks it up; a refused brief writes nothing; one brief per character."""

from __future__ import annotations

import hashlib
import html
import tempfile
import threading
import urllib.parse
from dataclasses import replace

import boto3
import pytest
import torch
import yaml
from conftest import small_brief, started_run
from moto_aws import aws_env  # noqa: F401 - the fixture
from review_support import CHARACTER, CLIENT, KEY, config_for, gated_brief, get, post, serve

from assets.stages.base import Run
from assets.stages.character_brief import snapshot_brief
from pipeline.decisions import check_brief_text, save_brief_text
from pipeline.review import catalog
from pipeline.review.catalog import save_price
from pipeline.sensors import scan_inbox
from pipeline.settings import Settings, build_resource
from resources.brief_files import briefs_in
from resources.domain.brief import BriefError, load_brief
from resources.domain.review import brief_saves_of
from resources.inbox import BriefInbox
from resources.models.model_store import ModelStore


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture
def studio(tmp_path):
    """The app's settings over an empty store and an empty inbox folder."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    models = tmp_path / "models"  # prices are production figures: no model is loaded
    settings = replace(Settings(), root=str(tmp_path / "artifacts"), inbox=(str(inbox),),
                       models_dir=str(models))  # fmt: skip
    return settings, inbox


def test_a_brief_checked_in_the_app_is_priced_then_saved_whole_where_the_sensor_runs_it(studio):
    settings, inbox = studio
    text = _yaml(gated_brief()).replace("\n", "\r\n")  # as a browser sends a text area
    with serve(config_for(settings)) as url:
        status, _, body = get(f"{url}/briefs/new?lang=en")
        assert status == 200 and 'id="brief-text"' in body.decode()
        status, _, body = post(f"{url}/briefs?lang=en", {"text": text, "action": "check"})
        page = html.unescape(body.decode())
        assert status == 200, page
        assert '<strong id="brief-key">acme-health/dr-ana</strong>' in page
        assert f"Will be saved as\n <code>{inbox / 'acme-health-dr-ana.yaml'}</code>" in page
        assert "Saving starts the reference stills (the rest waits for your approval):" in page
        assert "of GPU (g5.xlarge Spot" in page and 'id="save-brief"' in page
        assert briefs_in(inbox) == []  # a check writes nothing
        status, headers, _ = post(
            f"{url}/briefs?lang=en", {"text": text, "action": "save", "who": "bia"}
        )
    assert status == 303 and headers["location"].startswith("/?flash=Brief%20of%20acme-health")
    saved = inbox / "acme-health-dr-ana.yaml"
    assert briefs_in(inbox) == [saved]
    assert saved.read_bytes() == text.replace("\r\n", "\n").encode()
    assert [p.name for p in inbox.iterdir()] == [saved.name]  # nothing staged left behind
    tick = scan_inbox(briefs_in(inbox), {}, set())
    assert [(r.partition_key, r.run_key.split("@")[0]) for r in tick.run_requests] == [(KEY, KEY)]


def test_a_check_that_takes_long_holds_up_no_other_request(studio, monkeypatch):
    """A first quote of new shapes counts FLOPs for a minute or more on a CPU: the app answers
    the other producers, the client's links and the health check meanwhile (each route runs in
    a worker thread, not on the event loop)."""
    settings, _ = studio
    counting, counted = threading.Event(), threading.Event()
    price = catalog.save_price

    def slow_price(brief, settings):
        counting.set()
        counted.wait(120)
        return price(brief, settings)

    monkeypatch.setattr(catalog, "save_price", slow_price)
    answers = {}
    with serve(config_for(settings)) as url:
        text = _yaml(gated_brief())
        check = threading.Thread(
            target=lambda: answers.update(check=post(f"{url}/briefs?lang=en", {"text": text})),
        )
        check.start()
        try:
            assert counting.wait(60), "the check never reached its quote"
            health = get(f"{url}/healthz", timeout=15)
            home = get(f"{url}/?lang=en", timeout=15)
            editor = get(f"{url}/briefs/new?lang=en", timeout=15)
            assert "check" not in answers  # all three answered while the check still counts
        finally:
            counted.set()
            check.join(120)
    assert health == (200, health[1], b"ok")
    assert home[0] == 200 and 'href="/briefs/new"' in home[2].decode()
    assert editor[0] == 200 and 'id="brief-text"' in editor[2].decode()
    status, _, body = answers["check"]
    page = html.unescape(body.decode())
    assert status == 200 and '<strong id="brief-key">acme-health/dr-ana</strong>' in page, page


def test_the_price_is_of_what_saving_starts():
    """A brief that waits for its references' approval starts its stills only; one that does
    not starts the whole chain, which costs more."""
    from resources.domain.brief import Brief

    gated = Brief.model_validate(gated_brief())
    whole = Brief.model_validate(gated_brief(approval={"references": "optional"}))
    assert 0 < save_price(gated).usd < save_price(whole).usd


def test_a_refused_brief_lists_every_problem_in_the_page_s_language_and_writes_nothing(studio):
    settings, inbox = studio
    bad = gated_brief()
    bad["character"]["descricao"] = bad["character"].pop("description")
    ringing = gated_brief()
    ringing["shots"][0]["prompt"] = "she nods\x07"  # a control character: the brief's own check
    with serve(config_for(settings)) as url:
        status, _, body = post(
            f"{url}/briefs", {"text": _yaml(bad), "action": "save", "who": "bia"}
        )
        pt = html.unescape(body.decode())
        status_en, _, body = post(f"{url}/briefs?lang=en", {"text": _yaml(bad), "action": "check"})
        en = html.unescape(body.decode())
        status_bell, _, body = post(f"{url}/briefs?lang=en", {"text": _yaml(ringing)})
        bell = html.unescape(body.decode())
    assert (status, status_en, status_bell) == (422, 422, 422)
    assert "O briefing não pode ser salvo:" in pt
    assert "character.description: campo obrigatório ausente" in pt
    assert "character.descricao: unknown field; did you mean `description`?" in en
    assert "descricao: a physician" in en  # the text is kept, to be fixed
    assert "shots[0].prompt: the text holds the character U+0007" in bell
    assert 'id="save-brief"' not in en + bell
    assert list(inbox.iterdir()) == []


def test_a_forged_form_is_refused_and_writes_nothing(studio):
    settings, inbox = studio
    with serve(config_for(settings)) as url:
        fields = {"text": _yaml(gated_brief()), "action": "save", "who": "bia"}
        status, _, _ = post(f"{url}/briefs", fields, csrf=False)
        origin = {"Origin": "http://evil.example"}
        status_origin, _, _ = post(f"{url}/briefs", fields, origin)
    assert (status, status_origin) == (403, 403)
    assert list(inbox.iterdir()) == []


def test_editing_a_character_s_brief_rewrites_its_file_and_a_second_brief_is_refused(studio):
    settings, inbox = studio
    held = inbox / "dra-ana-2027.yaml"
    held.write_text("# Dra. Ana, temporada 2027\n" + _yaml(gated_brief()))
    changed = gated_brief()
    changed["shots"][1]["prompt"] = "she waves and smiles"
    other = gated_brief()
    other["character"] = {**other["character"], "id": "dr-leo", "name": "Dr. Leo"}
    with serve(config_for(settings)) as url:
        status, _, body = post(
            f"{url}/briefs?lang=en", {"text": _yaml(changed), "action": "save", "who": "bia"}
        )
        duplicate = html.unescape(body.decode())
        status_page, _, body = get(f"{url}/c/{CLIENT}/{CHARACTER}/brief")
        editor = html.unescape(body.decode())
        edit = {"text": _yaml(changed), "action": "save", "who": "bia", "file": str(held)}
        status_save, headers, _ = post(f"{url}/briefs?lang=en", edit)
        elsewhere = {**edit, "text": _yaml(other)}
        status_other, _, body = post(f"{url}/briefs?lang=en", elsewhere)
    assert status == 422
    assert f"character: {KEY} has a brief in the inbox already, {held}: edit that one" in duplicate
    assert status_page == 200
    assert "# Dra. Ana, temporada 2027\n" in editor and f'name="file" value="{held}"' in editor
    assert status_save == 303 and "Brief%20of%20acme-health/dr-ana%20saved" in headers["location"]
    assert briefs_in(inbox) == [held] and held.read_text() == _yaml(changed)
    assert status_other == 422
    assert "this file is the brief of acme-health/dr-ana; this text is acme-health/dr-leo's" in (
        html.unescape(body.decode())
    )


def test_a_new_brief_never_overwrites_another_file(studio):
    """The name `<client>-<character>.yaml` taken by another character's brief: the new one is
    `-2`; and a file that appears under the chosen name meanwhile is never overwritten."""
    settings, inbox = studio
    other = gated_brief()
    other["character"] = {**other["character"], "id": "dr-leo", "name": "Dr. Leo"}
    (inbox / "acme-health-dr-ana.yaml").write_text(_yaml(other))
    saved = save_brief_text(settings, _yaml(gated_brief()), who="bia")
    assert saved.path == inbox / "acme-health-dr-ana-2.yaml" and not saved.replaces
    late = check_brief_text(settings, _yaml({**gated_brief(), "client": "beta-clinic"}))
    late.path.write_text("# saved by someone else meanwhile\n")
    with pytest.raises(BriefError, match="saved meanwhile by someone else"):
        BriefInbox(paths=[str(inbox)]).save(late.path, late.raw, new=True)
    assert late.path.read_text() == "# saved by someone else meanwhile\n"
    assert sorted(p.name for p in inbox.iterdir()) == [
        "acme-health-dr-ana-2.yaml", "acme-health-dr-ana.yaml", "beta-clinic-dr-ana.yaml"
    ]  # fmt: skip


def test_an_inbox_of_files_only_says_where_to_save(studio, tmp_path):
    settings, _ = studio
    settings = replace(settings, inbox=(str(tmp_path / "one.yaml"),))
    with pytest.raises(BriefError) as error:
        check_brief_text(settings, _yaml(gated_brief()))
    assert error.value.problems == [
        "(inbox): the inbox lists files only: name a folder or an S3 prefix to save into"
    ]


def test_a_brief_saved_into_an_s3_inbox_is_the_object_the_sensor_reads(
    studio,
    tmp_path,
    monkeypatch,
    aws_env,  # noqa: F811
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the inbox's local mirror
    (tmp_path / "tmp").mkdir()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="studio-briefs")
    settings = replace(studio[0], inbox=("s3://studio-briefs/inbox/",))
    text = _yaml(gated_brief())
    saved = save_brief_text(settings, text, who="bia")
    assert saved.where == "s3://studio-briefs/inbox/acme-health-dr-ana.yaml"
    body = s3.get_object(Bucket="studio-briefs", Key="inbox/acme-health-dr-ana.yaml")["Body"]
    assert body.read() == text.encode()
    inbox = BriefInbox(paths=["s3://studio-briefs/inbox/"])
    assert [e.brief.partition_key for e in inbox.scan()] == [KEY]
    with pytest.raises(BriefError, match=f"{KEY} has a brief in the inbox already, {saved.where}"):
        check_brief_text(settings, text)
    # An object put under the chosen name meanwhile is not overwritten: a conditional put.
    late = check_brief_text(settings, _yaml({**gated_brief(), "client": "beta-clinic"}))
    s3.put_object(Bucket="studio-briefs", Key="inbox/beta-clinic-dr-ana.yaml", Body=b"# theirs\n")
    with pytest.raises(BriefError, match="saved meanwhile by someone else"):
        inbox.save(late.path, late.raw, new=True)
    theirs = s3.get_object(Bucket="studio-briefs", Key="inbox/beta-clinic-dr-ana.yaml")["Body"]
    assert theirs.read() == b"# theirs\n"


def test_the_home_page_shows_the_run_of_a_brief_just_saved_before_its_character_has_a_page(studio):
    """The sensor queued the run of a new character; nothing of it is in the store yet (the run
    waits for a GPU host): the home page lists it in flight, without a link that would 404."""
    from dagster import DagsterInstance

    settings, _ = studio
    with DagsterInstance.ephemeral() as instance:
        started_run(instance, "acme-health/dr-novo")
        started_run(instance, "not a character")  # a run tagged by hand: not listed
        config = replace(config_for(settings), instance=instance)
        with serve(config) as url:
            status, _, body = get(f"{url}/?lang=en")
    page = html.unescape(body.decode())
    assert status == 200
    rows = page.split('<section id="in-flight">')[1].split("</section>")[0]
    assert rows.count('class="run-item"') == 1
    new = "(a new character: its page opens once the run starts)"
    assert f"acme-health/dr-novo <small>{new}" in rows
    assert 'href="/c/acme-health/dr-novo"' not in page


def test_a_brief_in_error_is_fixed_in_its_own_file_and_no_other_file_is_opened(studio, tmp_path):
    settings, inbox = studio
    broken = gated_brief()
    broken["character"]["descricao"] = broken["character"].pop("description")
    draft = inbox / "rascunho.yaml"
    draft.write_text(_yaml(broken))
    secret = tmp_path / "outside.yaml"
    secret.write_text("client: not-in-the-inbox\n")
    with serve(config_for(settings)) as url:
        _, _, body = get(f"{url}/?lang=en")
        home = html.unescape(body.decode())
        link = f"/briefs/edit?file={urllib.parse.quote(str(draft), safe='/')}"
        status_page, _, body = get(url + link)
        editor = html.unescape(body.decode())
        fixed = {"text": _yaml(gated_brief()), "action": "save", "who": "bia", "file": str(draft)}
        status_save, _, _ = post(f"{url}/briefs?lang=en", fixed)
        _, _, body = get(f"{url}/?lang=en")
        after = html.unescape(body.decode())
        status_outside, _, outside = get(f"{url}/briefs/edit?file={secret}&lang=en")
        planted = {**fixed, "file": str(secret)}
        status_planted, _, _ = post(f"{url}/briefs?lang=en", planted)
    assert f'href="{link}"' in home
    assert status_page == 200 and "descricao: a physician" in editor
    assert status_save == 303
    assert briefs_in(inbox) == [draft] and draft.read_text() == _yaml(gated_brief())
    assert str(draft) not in after.split('id="brief-errors"')[-1] and "No brief in error." in after
    assert status_outside == 404 and b"client: not-in-the-inbox" not in outside
    assert f"{secret} is not a brief of the inbox" in outside.decode()
    assert status_planted == 422 and secret.read_text() == "client: not-in-the-inbox\n"


def test_a_character_whose_brief_left_the_inbox_is_edited_from_its_snapshot(studio):
    """The inbox no longer holds the character's brief (removed after a delivery): its page's
    Edit brief opens the brief of its current snapshot, byte for byte, saved as a new file."""
    settings, inbox = studio
    written = "# Dra. Ana, temporada 2026\n" + _yaml(gated_brief())
    path = inbox / "temporada-2026.yaml"
    path.write_text(written)
    run = Run(
        client=CLIENT,
        character=CHARACTER,
        store=build_resource("artifact_store", settings),
        models=ModelStore(profile="tiny", models_dir=settings.models_dir),
        device="cpu",
        dtype=torch.float32,
        log=lambda line: None,
    )
    version = snapshot_brief(run, path, load_brief(path)).ref.version
    path.unlink()
    with serve(config_for(settings)) as url:
        status, _, body = get(f"{url}/c/{CLIENT}/{CHARACTER}/brief?lang=en")
        editor = html.unescape(body.decode())
        text = editor.split('id="brief-text"')[1].split(">", 1)[1].split("</textarea>")[0]
        saved = post(f"{url}/briefs?lang=en", {"text": text, "action": "save", "who": "bia"})
        missing = get(f"{url}/c/{CLIENT}/dr-leo/brief?lang=en")
    assert status == 200
    assert (
        f"The inbox no longer holds the brief of {KEY}: this is the current version's ({version})"
    ) in editor
    assert text == written and 'name="file" value=""' in editor
    assert saved[0] == 303
    assert briefs_in(inbox) == [inbox / "acme-health-dr-ana.yaml"]
    assert (inbox / "acme-health-dr-ana.yaml").read_text() == written
    assert missing[0] == 404 and missing[2].decode() == f"No brief of {CLIENT}/dr-leo in the inbox."


def test_a_check_says_what_validate_says_of_a_valid_brief_in_the_page_s_language(studio):
    """Beside "valid": the licence conditions to confirm, how the voice reads a line with
    figures, the stock voice's accent, as `validate` prints them (brief.brief_notes)."""
    settings, _ = studio
    line = "A PA é 120x80 mmHg."
    shots = [{"id": "fala", "prompt": "she talks", "line": line, "seed": 1}]
    text = _yaml(small_brief(video={"model": "ltx_2"}, shots=shots))
    with serve(config_for(settings)) as url:
        pages = {
            lang: html.unescape(post(f"{url}/briefs?lang={lang}", {"text": text})[2].decode())
            for lang in ("en", "pt-BR")
        }
    said = "cento e vinte por oitenta milímetros de mercúrio"
    licence = "ltx_2, ltx_2_19b_distilled_lora_384 - LTX-2 Community License needs a paid licence"
    en, pt = pages["en"], pages["pt-BR"]
    assert "Licence conditions the studio's facts do not settle" in en
    assert f'<li class="warning">video: {licence} above US$10M annual revenue' in en
    assert f'<li>shots[0].line: said as "A PA é {said}."</li>' in en
    assert '<li class="warning">character.voice: no voice given: the lines use the stock' in en
    assert "Condições de licença que os dados do estúdio não resolvem" in pt
    models = "ltx_2, ltx_2_19b_distilled_lora_384 - LTX-2 Community License"
    assert (
        f'<li class="warning">video: a confirmar: {models} exige licença paga acima de US$ 10 mi '
        "de receita anual; faixa de receita não informada (settings CHARACTER_VIDEO_REVENUE"
    ) in pt
    assert "needs a paid" not in pt
    assert f'<li>shots[0].line: lida como "A PA é {said}."</li>' in pt
    assert '<li class="warning">character.voice: sem voz definida: as falas usam a voz' in pt
    assert 'id="save-brief"' in en and 'id="save-brief"' in pt


def test_who_saved_a_brief_is_recorded_shown_in_the_history_and_named_by_its_snapshot(studio):
    settings, inbox = studio
    text = _yaml(gated_brief())
    with serve(config_for(settings)) as url:
        status, _, body = post(f"{url}/briefs?lang=en", {"text": text, "action": "save"})
        nameless = html.unescape(body.decode())
        written_before = list(inbox.iterdir())
        checked = post(f"{url}/briefs?lang=en", {"text": text, "who": "Bia Lima"})
        saved = post(f"{url}/briefs?lang=en", {"text": text, "action": "save", "who": "Bia Lima"})
    assert status == 422 and written_before == []  # nobody named: nothing written
    assert "who: say who saves the brief (it is recorded with its snapshot)" in nameless
    assert 'id="brief-who" value="Bia Lima"' in checked[2].decode()  # kept for the save
    assert saved[0] == 303 and 'who="Bia Lima"' in saved[1]["set-cookie"]
    path = inbox / "acme-health-dr-ana.yaml"
    store = build_resource("artifact_store", settings)
    (record,) = brief_saves_of(store, CLIENT, CHARACTER)
    assert (record["who"], record["file"]) == ("Bia Lima", str(path))
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    run = Run(
        client=CLIENT,
        character=CHARACTER,
        store=store,
        models=ModelStore(profile="tiny", models_dir=settings.models_dir),
        device="cpu",
        dtype=torch.float32,
        log=lambda line: None,
    )
    snapshot = snapshot_brief(run, path, load_brief(path))
    saved_by = store.manifest(snapshot.ref)["parameters"]["saved"]
    assert saved_by == {"who": "Bia Lima", "at": record["at"], "file": str(path)}
    with serve(config_for(settings)) as url:
        page = html.unescape(get(f"{url}/c/{CLIENT}/{CHARACTER}?lang=pt-BR")[2].decode())
    history = page.split('id="history"')[1].split("</section>")[0]
    assert f"Bia Lima salvou o briefing em {path}" in history
