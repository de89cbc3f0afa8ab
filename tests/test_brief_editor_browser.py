"""A producer writes a brief in the review app, in headless Chromium: loads a file, reads its
problems in Portuguese, fixes the text, sees what saving starts and costs, saves it into the
inbox. The save button goes as soon as the checked text changes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from review_support import config_for, gated_brief, serve
from test_review_browser import SCREENSHOTS, browser  # noqa: F401 - the module's Chromium

from pipeline.settings import Settings
from resources.brief_files import briefs_in

pytestmark = pytest.mark.slow  # a browser over the running app


def test_a_producer_writes_checks_and_saves_a_brief_in_the_app(browser, tmp_path):  # noqa: F811
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = replace(Settings(), root=str(tmp_path / "artifacts"), inbox=(str(inbox),),
                       models_dir=str(tmp_path / "models"))  # fmt: skip
    good = yaml.safe_dump(gated_brief(), allow_unicode=True, sort_keys=False)
    draft = tmp_path / "rascunho.yaml"
    draft.write_text(good.replace("description:", "descricao:"))
    page = browser.new_page(viewport={"width": 1100, "height": 1300})
    page.set_default_timeout(60_000)
    with serve(config_for(settings)) as url:
        page.goto(f"{url}/?lang=pt-BR")
        page.get_by_role("link", name="Novo briefing").click()
        page.locator("#brief-upload").set_input_files(str(draft))
        page.wait_for_function("document.getElementById('brief-text').value.length > 0")
        page.get_by_role("button", name="Verificar").click()
        problems = page.locator("#brief-problems li.problem").all_inner_texts()
        assert "character.description: campo obrigatório ausente" in problems
        assert page.locator("#save-brief").count() == 0 and briefs_in(inbox) == []

        page.locator("#brief-text").fill(good)
        page.get_by_role("button", name="Verificar").click()
        assert page.locator("#brief-key").inner_text() == "acme-health/dr-ana"
        run = page.locator("#brief-run").inner_text()
        assert run.startswith("Salvar inicia as imagens de referência") and "g5.xlarge" in run
        page.set_viewport_size({"width": 1100, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / "review-new-brief.png"))

        save = page.locator("#save-brief")
        page.locator("#brief-text").press("End")
        page.locator("#brief-text").type("\n# mudei")
        assert save.is_hidden()  # the text is not the one checked and priced any more
        page.locator("#brief-text").fill(good)
        assert save.is_visible()
        page.locator("#brief-who").fill("Bia")
        save.click()
        page.wait_for_url(lambda address: "?flash=" in address)
        assert (
            page.locator("#flash")
            .inner_text()
            .startswith("Briefing de acme-health/dr-ana salvo em ")
        )
    page.close()
    assert [p.name for p in briefs_in(inbox)] == ["acme-health-dr-ana.yaml"]
    assert (inbox / "acme-health-dr-ana.yaml").read_text() == good
