"""The pages a producer reads: clients, a client's characters, one character (and its JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pipeline.review import catalog
from pipeline.review.config import config_of
from pipeline.review.i18n import text
from pipeline.review.pages import review_form_html
from pipeline.review.render import WHO_COOKIE, lang_of, render
from pipeline.review.runs import running
from pipeline.review.security import csrf_of
from pipeline.settings import Settings, build_resource
from resources.domain.artifacts import ArtifactError


async def home(request: Request) -> Response:
    config = config_of(request)
    store = config.store
    clients = [{"name": c, "characters": store.characters(c)} for c in store.clients()]
    errors = brief_errors(config.settings)
    return render(
        request,
        "home",
        title=text(lang_of(request), "clients"),
        clients=clients,
        errors=errors,
        waiting=catalog.waiting_items(store, errors),
    )


async def client_page(request: Request) -> Response:
    client = request.path_params["client"]
    try:
        characters = config_of(request).store.characters(client)
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    return render(request, "client", title=client, client=client, characters=characters)


def _view(request: Request) -> tuple[catalog.CharacterView, str | None]:
    p = request.path_params
    version = request.query_params.get("version") or None
    view = catalog.character_view(config_of(request).store, p["client"], p["character"], version)
    return view, version


async def character_page(request: Request) -> Response:
    try:
        view, version = _view(request)
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    lang = lang_of(request)
    who = request.cookies.get(WHO_COOKIE, "")
    key = f"{view.client}/{view.character}"
    return render(
        request,
        "character",
        title=key,
        v=view,
        version=version,
        running=running(config_of(request), key),
        prices=catalog.button_prices(view.brief) if not version else {},
        illustrative=config_of(request).profile == "tiny",
        review_form=review_form_html(
            lambda k: text(lang, k), view.client, view.character, who, csrf_of(request)
        ),
    )


async def character_api(request: Request) -> Response:
    try:
        view, _ = _view(request)
    except ArtifactError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    key = f"{view.client}/{view.character}"
    body = catalog.dump(view)
    flag = "true" if running(config_of(request), key) else "false"
    return Response(body[:-1] + f', "running": {flag}}}', media_type="application/json")


def brief_errors(settings: Settings) -> list[dict[str, Any]]:
    """The inbox's briefs that do not validate, each with every problem found."""
    inbox = build_resource("inbox", settings)
    return [
        {
            "path": str(e.path),
            "en": e.error.problems,
            "pt": e.error.problems_pt,
            "since": _modified(e.path),
        }
        for e in inbox.scan()
        if e.error is not None
    ]


def _modified(path) -> str:
    """When a brief file last changed (ISO 8601, UTC): since when its errors wait."""
    try:
        stamp = Path(path).stat().st_mtime
    except OSError:
        return ""
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="seconds")
