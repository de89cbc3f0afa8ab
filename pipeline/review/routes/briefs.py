"""Writing a brief in the app: a new one, or a character's inbox brief edited, checked as the
inbox sensor checks it (pipeline.decisions.check_brief_text) and saved into the inbox, where the
sensor starts its run at its next tick.

A check shows every problem (in the page's language) or what the brief makes and what its run
will cost; saving checks again, so a text changed since its check is never saved unchecked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from assets.stages.character_brief import BRIEF_YAML
from pipeline.decisions import (
    BriefSave,
    check_brief_text,
    inbox_entry,
    licence_warnings,
    save_brief_text,
)
from pipeline.review import catalog
from pipeline.review.config import config_of
from pipeline.review.i18n import text as text_of
from pipeline.review.render import back_to, form_of, lang_of, render
from pipeline.review.routes.pages import priced
from pipeline.review.security import csrf_refusal
from pipeline.settings import build_resource
from resources.domain.artifacts import ArtifactError
from resources.domain.brief import BRIEF_ASSET, MAX_BRIEF_BYTES, BriefError, brief_notes

# A brief of 1 MB, URL-encoded (each byte of it can take three), and the form's other fields.
MAX_BRIEF_FORM_BYTES = 3 * MAX_BRIEF_BYTES + 4_096


def new_brief(request: Request) -> Response:
    return _editor(request, "")


def edit_brief(request: Request) -> Response:
    """The character's inbox brief, as its file holds it, to edit; where the inbox no longer
    holds one (removed after a delivery, or run from a file elsewhere), the brief of its current
    snapshot, byte for byte, to save as a new inbox file."""
    p = request.path_params
    key = f"{p['client']}/{p['character']}"
    config = config_of(request)
    for entry in build_resource("inbox", config.settings).scan():
        if entry.brief is not None and entry.brief.partition_key == key:
            return _file_editor(request, entry.path)
    lang = lang_of(request)
    try:
        ref = config.store.current(p["client"], p["character"], BRIEF_ASSET)
        raw = (config.store.path(ref) / BRIEF_YAML).read_bytes()
    except (ArtifactError, OSError):
        return PlainTextResponse(text_of(lang, "no_inbox_brief").format(key=key), status_code=404)
    note = text_of(lang, "brief_from_store").format(key=key, version=ref.version)
    return _editor(request, raw.decode("utf-8", "replace"), note=note)


def fix_brief(request: Request) -> Response:
    """An inbox file (a brief in error, say), as it holds it, to fix; only a file the inbox
    lists is ever read."""
    settings = config_of(request).settings
    wanted = request.query_params.get("file", "")
    try:
        entry = inbox_entry(list(build_resource("inbox", settings).scan()), wanted)
    except BriefError as error:
        return PlainTextResponse(_lines(request, error)[0], status_code=404)
    return _file_editor(request, entry.path)


def _file_editor(request: Request, path: Path) -> Response:
    inbox = build_resource("inbox", config_of(request).settings)
    try:
        raw = inbox.read(path)
    except BriefError as error:  # not a regular file, over 1 MB: nothing to edit here
        return PlainTextResponse(_lines(request, error)[0], status_code=422)
    return _editor(
        request, raw.decode("utf-8", "replace"), file=str(path), where=inbox.location(path)
    )


def post_brief(request: Request) -> Response:
    """Check the text (action `check`) or check and save it (`save`)."""
    form = form_of(request, limit=MAX_BRIEF_FORM_BYTES, brief_field="text")
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    text, file, who = form.get("text", ""), form.get("file", ""), form.get("who", "")
    saving = form.get("action") == "save"
    try:
        if saving:
            checked = save_brief_text(
                config.settings, text, replaces=file, who=who, store=config.store
            )
        else:
            checked = check_brief_text(config.settings, text, replaces=file)
    except BriefError as error:
        where = build_resource("inbox", config.settings).location(Path(file)) if file else ""
        lines = _lines(request, error)
        return _editor(request, text, file=file, where=where, problems=lines, status=422, who=who)
    if saving:
        return _saved(request, checked, who)
    where = checked.where if file else ""
    return _editor(request, text, file=file, where=where, checked=checked, who=who)


def _lines(request: Request, error: BriefError) -> list[str]:
    return error.problems if lang_of(request) == "en" else error.problems_pt


def _saved(request: Request, checked: BriefSave, who: str) -> Response:
    """To the character's page when the store has a brief snapshot of it, else home; the notice
    names the file, and who saved it is remembered for the next form."""
    store = config_of(request).store
    brief = checked.brief
    try:
        store.current(brief.client, brief.character.id, BRIEF_ASSET)
        path = f"/c/{brief.client}/{brief.character.id}"
    except ArtifactError:  # a new character: home, where its run shows once the sensor starts it
        path = "/"
    key = brief.partition_key
    return back_to(request, path, "brief_saved", who.strip(), file=checked.where, partition=key)


def _editor(
    request: Request,
    text: str,
    *,
    file: str = "",
    where: str = "",
    problems: list[str] | None = None,
    checked: BriefSave | None = None,
    status: int = 200,
    note: str = "",
    who: str = "",
) -> Response:
    """The editor: a new brief, or the inbox `file` (named `where`) to replace."""
    config = config_of(request)
    values: dict[str, Any] = {}
    if checked is not None:
        brief = checked.brief
        values = priced(lambda: {"price": catalog.save_price(brief, config.settings)})
        lang = lang_of(request)
        values["licence_warnings"] = licence_warnings(config.settings, brief, lang)
        values["notes"] = brief_notes(brief, config.settings.prompt_warnings(brief, lang), lang)
    title = text_of(lang_of(request), "edit_brief" if file else "new_brief")
    return render(
        request,
        "brief",
        status=status,
        title=f"{title}: {where}" if file else title,
        text=text,
        file=file,
        problems=problems or [],
        checked=checked,
        note=note,
        **({"who": who} if who else {}),  # as typed, else the browser's remembered name
        **values,
    )
