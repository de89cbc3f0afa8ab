"""A client's review link in headless Chromium against the running app: the client watches only
its own cuts and leaves a time-coded comment on a shot, which the producers see next to the
shot; a tampered or an expired link opens nothing, and the link cannot approve, re-roll, read
another client's files or the studio's pages."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import replace

import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models
from review_support import config_for, get, post, review_settings, serve
from test_review_browser import browser  # noqa: F401 - the module's Chromium

from resources.domain.review import issue_link
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # a browser over the running app

SECRET, STUDIO = "link-secret-for-tests", "studio-token"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("client-link")
    root, models = base / "artifacts", shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    run_quick_chain(instance, base / "acme", root, quick_brief(), models=models)
    other = quick_brief(client="beta-clinic")
    other["character"] = {**other["character"], "id": "leo", "name": "Leo"}
    run_quick_chain(instance, base / "beta", root, other, models=models)
    store = ArtifactStore(root=str(root))
    settings = replace(review_settings(root, base / "acme", models), client_link_secret=SECRET)
    token, _ = issue_link(store, SECRET, "acme-health", 7)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    expired, _ = issue_link(store, SECRET, "acme-health", 7, now=past)
    with serve(config_for(settings, token=STUDIO, launch=False)) as url:
        yield {"url": url, "token": token, "expired": expired, "store": store}


@pytest.fixture(scope="module")
def page(browser, app):  # noqa: F811
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(60_000)
    yield page
    page.close()


def _version(store, client: str, character: str) -> str:
    return store.current(client, character, "deliverables").version


def test_the_client_watches_its_cut_and_comments_on_a_shot(page, app):
    url, token, store = app["url"], app["token"], app["store"]
    version = _version(store, "acme-health", "dr-ana")
    page.goto(f"{url}/share/{token}?lang=en")
    cut = page.locator(f'section.cut[data-version="{version}"]')
    assert cut.count() == 1 and "beta-clinic" not in page.content()
    src = cut.locator("video").first.get_attribute("src")
    assert (
        page.request.get(url + src).body()
        == (
            store.path(store.current("acme-health", "dr-ana", "deliverables")) / "final.mp4"
        ).read_bytes()
    )
    form = cut.locator("form.comment-form")
    form.locator('select[name="shot"]').select_option("hello")
    form.locator('input[name="at_s"]').fill("0.3")
    form.locator('input[name="who"]').fill("Dra. Ana")
    form.locator('input[name="text"]').fill("Sorriso mais aberto, por favor")
    form.locator("button").click()
    page.wait_for_url(f"**/share/{token}?flash=ok")
    # Among the cut's comments (another test of this module may have left one of its own).
    assert (
        "0.30 s · Dra. Ana: Sorriso mais aberto, por favor"
        in page.locator("li.comment").all_inner_texts()
    )
    # The producers see it next to the shot, on the studio's page (with the studio's token).
    status, _, body = get(f"{url}/c/acme-health/dr-ana", {"Authorization": f"Bearer {STUDIO}"})
    assert status == 200 and "Sorriso mais aberto, por favor" in body.decode()
    assert '<li class="client-comment">0,30 s · Dra. Ana (' in body.decode()
    assert 'class="client-comments"' in body.decode()


@pytest.mark.parametrize("which", ["tampered", "expired"])
def test_a_tampered_or_expired_link_shows_nothing(page, app, which):
    token = app["token"]
    if which == "tampered":
        token = token[:-1] + ("0" if token[-1] != "0" else "1")
    else:
        token = app["expired"]
    response = page.goto(f"{app['url']}/share/{token}?lang=pt-BR")
    assert response.status == 403
    words = "altered" if which == "tampered" else "expired"
    assert f"refused: this link has {'been ' if which == 'tampered' else ''}{words}" in (
        page.content()
    )
    # A Portuguese reader (the pages' default) reads it in Portuguese first.
    said = "foi alterado" if which == "tampered" else "expirou"
    assert f"recusado: este link {said} (refused: this link has" in page.content()
    assert "<video" not in page.content()


def test_the_link_opens_no_other_client_no_other_file_and_no_studio_action(app):
    url, token, store = app["url"], app["token"], app["store"]
    share = f"{url}/share/{urllib.parse.quote(token)}"
    beta = _version(store, "beta-clinic", "leo")
    acme = _version(store, "acme-health", "dr-ana")
    assert get(f"{share}/files/leo/{beta}/final.mp4")[0] == 404  # beta's cut, acme's link
    assert get(f"{share}/files/dr-ana/{acme}/manifest.json")[0] == 404  # not a client's file
    assert get(f"{share}/files/dr-ana/{acme}/../../_client/links")[0] == 404
    # The studio's routes want the studio's token, whatever link the browser holds.
    assert get(f"{url}/c/acme-health/dr-ana")[0] in (303, 401)
    assert get(f"{url}/files/acme-health/dr-ana/deliverables/{acme}/final.mp4")[0] == 401
    for action, fields in (
        ("review", {"gate": "cut", "decision": "approved", "who": "x", "version": acme}),
        ("reroll", {"shot": "hello", "who": "x"}),
    ):
        status, _, _ = post(f"{url}/c/acme-health/dr-ana/{action}", fields, csrf=False)
        assert status == 401
    # A comment on another client's cut, posted with this link's own form token, is refused.
    _, headers, _ = get(share)
    cookie = headers["set-cookie"].split(";")[0]
    fields = {"character": "leo", "version": beta, "shot": "hello", "text": "x", "who": "y"}
    fields["csrf"] = cookie.split("=", 1)[1]
    status, _, body = post(f"{share}/comment", fields, {"Cookie": cookie}, csrf=False)
    assert status == 400 and b"no such shot" in body


def test_a_portuguese_page_writes_times_with_a_comma_and_takes_one_typed_so(app):
    """A Brazilian client may type 1,25 (a form posted without a browser's number field too);
    the page writes starts and comment times with the decimal comma; a time that is not a
    number is refused in one line."""
    url, token, store = app["url"], app["token"], app["store"]
    share = f"{url}/share/{urllib.parse.quote(token)}"
    version = _version(store, "acme-health", "dr-ana")
    _, headers, _ = get(share)
    cookie = headers["set-cookie"].split(";")[0]
    fields = {"character": "dr-ana", "version": version, "shot": "hello", "who": "Bia"}
    fields["csrf"] = cookie.split("=", 1)[1]
    sent = {**fields, "at_s": "0,25", "text": "Luz mais quente"}
    status, _, _ = post(f"{share}/comment", sent, {"Cookie": cookie}, csrf=False)
    assert status == 303
    page = get(share)[2].decode()
    assert "0,25 s · Bia: Luz mais quente" in page
    assert "<td>0,00 s</td>" in page  # the first shot's start
    bad = {**fields, "at_s": "meio segundo", "text": "x"}
    status, _, body = post(f"{share}/comment", bad, {"Cookie": cookie}, csrf=False)
    assert (status, body.decode()) == (
        400,
        "recusado: o momento 'meio segundo' não é um número de segundos "
        "(refused: the time 'meio segundo' is not a number of seconds)",
    )


def test_a_producer_sends_a_client_link_from_the_app_and_revokes_it(browser, app):  # noqa: F811
    """Signed in with the studio's token, the producer issues the client's link on the client's
    page, copies it (shown once), and revokes it there; the client's browser, holding only the
    link, watches the cut until the revocation, then is refused."""
    from test_review_browser import SCREENSHOTS

    url, store = app["url"], app["store"]
    producer = browser.new_page(viewport={"width": 1200, "height": 800})
    client = browser.new_context().new_page()
    try:
        producer.goto(f"{url}/login")
        producer.locator('input[name="token"]').fill(STUDIO)
        producer.get_by_role("button", name="Entrar").click()
        producer.goto(f"{url}/c/acme-health?lang=pt-BR")
        producer.locator('#issue-link input[name="days"]').fill("10")
        producer.get_by_role("button", name="Criar link para o cliente").click()
        link = producer.locator("#issued-url").input_value()
        assert link.startswith(f"{url}/share/acme-health.")
        producer.locator("#client-links").screenshot(
            path=str(SCREENSHOTS / "review-client-links.png")
        )
        version = _version(store, "acme-health", "dr-ana")
        assert client.goto(link).status == 200
        assert client.locator(f'section.cut[data-version="{version}"]').count() == 1

        nonce = link.rsplit(".", 2)[1]
        producer.goto(f"{url}/c/acme-health?lang=pt-BR")
        row = producer.locator(f'tr.link[data-nonce="{nonce}"]')
        row.locator('input[name="who"]').fill("Marina")
        row.get_by_role("button", name="Revogar").click()
        producer.wait_for_url("**/c/acme-health?flash=*")
        assert "Link revogado" in producer.locator("#flash").inner_text()
        assert (
            "revogado por Marina" in producer.locator(f'tr.link[data-nonce="{nonce}"]').inner_text()
        )
        assert client.goto(link).status == 403
        assert "<video" not in client.content()
    finally:
        producer.close()
        client.context.close()
