"""The review app in headless Chromium, as a producer uses it: approve, watch, re-roll, sign in.

A gated brief (references need approval) is run until it waits; the app (in this process, its
runs started as `python -m pipeline run` like in production) is then driven through Debian's
chromium by Playwright. Screenshots go to a temporary folder, or to docs/images/ with
`UI_SCREENSHOT_DIR=docs/images` (docs/producers.md shows them). The tests are one producer's
session, in the order written: each starts where the one before it left the run (approved, then
watched, then re-rolled), as pytest runs a module's tests.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance
from review_support import CHARACTER, CLIENT, config_for, review_settings, serve, write_gated_brief
from test_ui_browser import CHROMIUM, CHROMIUM_ARGS

from assets.stages.base import RUN_LOGS
from pipeline.cli import materialize_brief

pytestmark = pytest.mark.slow  # a browser over the review app

# One folder for every run (a new one each run piled up in the system's temporary folder).
SCREENSHOTS = Path(
    os.environ.get("UI_SCREENSHOT_DIR")
    or Path(tempfile.gettempdir()) / "character-video-review-screenshots"
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
PAGE = f"/c/{CLIENT}/{CHARACTER}"


def api(page, url: str) -> dict:
    return json.loads(page.request.get(f"{url}/api{PAGE}").text())


def wait_until(what: str, probe, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def waiting_chain(tmp_path_factory):
    from quick_chain import shared_models

    folder = tmp_path_factory.mktemp("review-browser")
    root, inbox = folder / "artifacts", folder / "inbox"
    brief = write_gated_brief(inbox)
    (inbox / "rascunho.yaml").write_text(
        "client: acme-health\ncharacter: {id: leo, name: Leo, descricao: um mascote}\nshots: []\n"
    )
    settings = review_settings(root, inbox, shared_models(tmp_path_factory))
    with DagsterInstance.ephemeral() as instance:
        final = materialize_brief(
            brief, root=str(root), profile="tiny", models_dir=settings.models_dir, instance=instance
        )
    assert final is None  # waiting for the references' approval
    return settings


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_chromium.sh (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=120_000
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app(waiting_chain):
    config = config_for(waiting_chain, launch=True)
    with serve(config) as url:
        yield url, config
        for process in config.runs.values():  # runs this test started, by their own handle
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


@pytest.fixture(scope="module")
def page(browser, app):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    page.close()


def test_the_home_page_lists_clients_and_briefs_in_error(page, app):
    url, _ = app
    page.goto(f"{url}/")
    assert page.locator("#clients").inner_text().startswith("acme-health")
    errors = page.locator("#brief-errors").inner_text()
    assert "rascunho.yaml" in errors and "você quis dizer `description`?" in errors
    page.screenshot(path=str(SCREENSHOTS / "review-home.png"), full_page=True)


def test_approving_the_references_continues_the_run(page, app):
    url, config = app
    page.goto(f"{url}{PAGE}")
    assert page.locator("#waiting-references").is_visible()
    assert page.locator("#contact-sheet").evaluate("img => img.naturalWidth") > 100
    page.screenshot(path=str(SCREENSHOTS / "review-references.png"), full_page=True)
    form = page.locator('form.review[data-gate="references"]')
    form.locator('input[name="who"]').fill("ana")
    form.locator('input[name="note"]').fill("rosto e jaleco ok")
    page.locator("#approve-references").click()
    page.wait_for_url("**flash=*")
    assert page.locator("#state-references").inner_text().strip() == "aprovado"
    assert f"{CLIENT}/{CHARACTER}" in config.runs  # the app started the rest of the chain
    watch_the_run_without_reloading(page)
    done = wait_until("the cut after the approval", lambda: api(page, url)["deliverable"], 900)
    assert len(done) == 16
    # The run's output is kept beside its state, under the root (not in the system temp folder).
    logs = config.settings.work_root / CLIENT / CHARACTER / RUN_LOGS
    (log,) = logs.glob("*-approve-*.log")
    assert log.stat().st_size > 0
    page.goto(f"{url}{PAGE}")
    page.locator("#final-video").wait_for()


def watch_the_run_without_reloading(page) -> None:
    """The progress box follows the run the approval started, in place, to its end."""
    page.evaluate("window.sameDocument = 'yes'")  # gone if the page reloads
    box = page.locator("#progress")
    page.wait_for_function(
        "() => document.querySelector('#progress').dataset.state === 'running'", timeout=300_000
    )
    assert box.locator("#run-state").inner_text().startswith("Em andamento: ")
    page.wait_for_function(
        "() => /Clipes de vídeo: plano \\d de 2/.test(document.querySelector('#progress')"
        ".innerText)",
        timeout=600_000,
        polling=200,
    )
    page.screenshot(path=str(SCREENSHOTS / "review-progress.png"), full_page=False)
    page.wait_for_function(
        "() => document.querySelector('#progress').dataset.state === 'finished'", timeout=900_000
    )
    text = box.inner_text()
    assert "Execução concluída." in text and "Iniciada por: review-app" in text
    assert "Clipes de vídeo: plano 2 de 2 (wave), passo 2/2, concluído" in text
    assert page.locator("#reload").is_visible()
    assert page.evaluate("window.sameDocument") == "yes"


def test_a_shot_plays_in_the_page(page, app):
    url, _ = app
    page.goto(f"{url}{PAGE}")
    video = page.locator('.shot[data-shot="hello"] video')
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "v => v.readyState === 4 && v.duration > 0", arg=video.element_handle(), timeout=60_000
    )
    duration = video.evaluate("v => v.duration")
    assert 0.3 < duration < 1.0  # the half-second shot
    video.evaluate("v => { v.currentTime = v.duration / 2; }")  # seeking needs range requests
    page.wait_for_function("v => !v.seeking", arg=video.element_handle())
    final = page.locator("#final-video")
    final.evaluate("v => v.load()")
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=final.element_handle())
    page.screenshot(path=str(SCREENSHOTS / "review-character.png"), full_page=True)


def test_rerolling_one_shot_renders_only_it_and_a_new_cut_follows(page, app):
    url, config = app
    before = api(page, url)
    wait_until("the approval's run to end", lambda: not api(page, url)["running"], 300, 1.0)
    units = {s["id"]: s["unit"] for s in before["shots"]}
    page.goto(f"{url}{PAGE}")
    card = page.locator('.shot[data-shot="wave"]')
    card.locator('input[name="seed"]').fill("77")
    card.locator('input[name="who"]').fill("bia")
    clicked = time.monotonic()
    card.locator("button.reroll").click()
    page.wait_for_url("**flash=*")

    def new_cut():
        now = api(page, url)
        return now if now["deliverable"] not in (None, before["deliverable"]) else None

    after = wait_until("the re-rolled cut", new_cut, 900, 1.0)
    seconds = time.monotonic() - clicked
    print(f"re-roll click to new cut: {seconds:.1f} s", file=sys.stderr)
    (SCREENSHOTS / "reroll-seconds.txt").write_text(f"{seconds:.1f}\n")
    shots = {s["id"]: s for s in after["shots"]}
    assert shots["wave"]["seed"] == 77 and shots["wave"]["rendered"]
    assert shots["wave"]["unit"] != units["wave"]
    assert shots["hello"]["unit"] == units["hello"] and not shots["hello"]["rendered"]
    page.goto(f"{url}{PAGE}")
    assert page.locator('.shot[data-shot="hello"]').get_attribute("data-rendered") == "no"
    assert page.locator('.shot[data-shot="wave"]').get_attribute("data-rendered") == "yes"
    assert "bia" in page.locator("#history").inner_text()
    page.locator("#shots").screenshot(path=str(SCREENSHOTS / "review-reroll.png"))


def test_the_history_and_two_versions_side_by_side_play_in_step(page, app):
    url, _ = app
    page.goto(f"{url}{PAGE}")
    events = page.locator("#history li.event").all_inner_texts()
    kinds = page.locator("#history li.event").evaluate_all("l => l.map(e => e.dataset.kind)")
    assert kinds.index("approved") < kinds.index("reroll")  # oldest first
    assert "ana aprovou as referências" in events[kinds.index("approved")]
    assert "bia refez o plano wave: seed" in events[kinds.index("reroll")]
    labels = page.locator("#versions .version-label").all_inner_texts()
    assert labels[0].startswith("refação de wave") and labels[-1].startswith("primeira versão")
    boxes = page.locator('#versions input[name="v"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#compare").click()
    page.wait_for_url("**/compare?*")
    videos = page.locator("#side-by-side video")
    assert videos.count() == 2
    for i in range(2):
        page.wait_for_function("v => v.readyState >= 2", arg=videos.nth(i).element_handle())
    page.locator("#play-both").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#side-by-side video')].every(v => !v.paused)"
    )
    videos.nth(0).evaluate("v => v.pause()")  # pausing one pauses the other
    page.wait_for_function(
        "() => [...document.querySelectorAll('#side-by-side video')].every(v => v.paused)"
    )
    videos.nth(1).evaluate("v => { v.currentTime = 0.75; }")  # seeking one moves the other
    page.wait_for_function(
        "() => Math.abs(document.querySelectorAll('#side-by-side video')[0].currentTime - 0.75)"
        " < 0.06"
    )
    page.screenshot(path=str(SCREENSHOTS / "review-compare.png"))


def test_the_page_switches_to_english(page, app):
    url, _ = app
    page.goto(f"{url}{PAGE}")
    page.locator("#lang-switch").click()
    assert page.locator("#shots h2").inner_text() == "Shots"
    page.goto(f"{url}{PAGE}")  # the choice is remembered
    assert page.locator("#final h2").inner_text().startswith("Final cut")
    page.goto(f"{url}{PAGE}?lang=pt-BR")


def test_beyond_loopback_a_request_without_the_token_is_refused(browser, waiting_chain):
    config = config_for(waiting_chain, token="segredo-do-estudio")
    with serve(config, host="0.0.0.0") as bound:
        url = bound.replace("0.0.0.0", "127.0.0.1")
        page = browser.new_page()
        try:
            refused = page.request.get(f"{url}/api{PAGE}")
            assert refused.status == 401
            page.goto(f"{url}{PAGE}")
            assert "/login" in page.url  # a browser is sent to the sign-in page
            page.screenshot(path=str(SCREENSHOTS / "review-login.png"))
            page.locator('input[name="token"]').fill("segredo-do-estudio")
            page.get_by_role("button", name="Entrar").click()
            page.wait_for_url(f"**{PAGE}")
            assert page.locator("#shots h2").is_visible()
        finally:
            page.close()
