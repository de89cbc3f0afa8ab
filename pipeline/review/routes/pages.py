"""The pages a producer reads: clients, a client's characters, one character (and its JSON)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from assets.stages.client_report import ASSET as REPORT
from assets.stages.client_report import POSTERS, REPORT_MD, REPORTS
from assets.stages.deliverables import ASSET as DELIVERABLES
from assets.stages.narration import LINE_WAV
from pipeline.launch import active_runs_by_character, how_run_ended
from pipeline.review import catalog, history, progress
from pipeline.review.catalog import fix_link
from pipeline.review.config import ReviewConfig, config_of
from pipeline.review.i18n import text
from pipeline.review.pages import review_form_html
from pipeline.review.render import WHO_COOKIE, lang_of, render, render_text
from pipeline.review.runs import running
from pipeline.review.security import csrf_of
from pipeline.settings import Settings, build_resource
from resources.brief_files import partition_conflicts
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.brief import split_partition_key


def home(request: Request) -> Response:
    config = config_of(request)
    store = config.store
    clients = [{"name": c, "characters": store.characters(c)} for c in store.clients()]
    errors = brief_errors(config.settings)
    # Every character's run in flight (queued or in a stage), whoever launched it; the
    # instance is asked once for all of them.
    active = active_runs_by_character(config.instance) if config.instance is not None else None
    known = [(c["name"], ch) for c in clients for ch in c["characters"]]
    stored = set(known)
    runs = [
        {"client": client, "character": ch, "rv": rv, "known": (client, ch) in stored}
        for client, ch in known + _new_characters(active, stored)
        if (rv := run_view_of(config_of(request), client, ch, active)).in_flight
    ]
    return render(
        request,
        "home",
        title=text(lang_of(request), "clients"),
        clients=clients,
        errors=errors,
        waiting=catalog.waiting_items(store, errors),
        runs=runs,
    )


def _new_characters(
    active: dict[str, list] | None, known: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Characters with a run in flight and nothing in the store yet: a brief just saved, whose
    run waits in the queue or for a GPU host (minutes on Spot)."""
    found = []
    for key in sorted(active or {}):
        try:
            pair = split_partition_key(key)
        except ValueError:  # a run tagged by hand with something that is no character
            continue
        if pair not in known:
            found.append(pair)
    return found


def client_page(request: Request) -> Response:
    return client_view(request, request.path_params["client"])


def client_view(request: Request, client: str, issued: str | None = None) -> Response:
    """A client's page: their characters, and their review links (with `issued`, the URL of the
    link just issued, shown this once)."""
    from resources.domain.review import links_of

    config = config_of(request)
    try:
        characters = config.store.characters(client)
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    now = datetime.now(UTC)
    links = [
        {
            **link,
            "expires_at": datetime.fromtimestamp(link["expires"], UTC).isoformat(),
            "expired": now.timestamp() >= link["expires"],
        }
        for link in links_of(config.store, client)
        if isinstance(link.get("expires"), int)
    ]
    return render(
        request,
        "client",
        title=client,
        client=client,
        characters=characters,
        links=links,
        issued=issued,
        can_sign=bool(config.settings.client_link_secret),
    )


def _view(
    request: Request, run: progress.RunView | None = None
) -> tuple[catalog.CharacterView, str | None]:
    p = request.path_params
    version = request.query_params.get("version") or None
    store = config_of(request).store
    view = catalog.character_view(store, p["client"], p["character"], version, run=run)
    return view, version


def character_page(request: Request) -> Response:
    p = request.path_params
    try:
        # Read once: the box and the view.
        rv = run_view_of(config_of(request), p["client"], p["character"])
        view, version = _view(request, rv)
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    lang = lang_of(request)
    who = request.cookies.get(WHO_COOKIE, "")
    key = f"{view.client}/{view.character}"
    store = config_of(request).store
    return render(
        request,
        "character",
        title=key,
        v=view,
        version=version,
        rv=rv,
        reload_hint=False,
        labels=history.version_labels(
            store,
            view.client,
            view.character,
            view.current_deliverable,
            reviewed=view.gates["cut"].required,
        ),
        events=history.history_of(store, view.client, view.character),
        # Shots and lines holding up the cut, each with its form to accept it.
        held=[] if version else catalog.waiting_shots(store, view),
        line_wav=LINE_WAV,
        **(_prices(view.brief, config_of(request).settings) if not version else {"prices": {}}),
        illustrative=config_of(request).profile == "tiny",
        prompt_warnings=(
            config_of(request).settings.prompt_warnings(view.brief, lang) if view.brief else []
        ),
        review_form=review_form_html(
            lambda k: text(lang, k), view.client, view.character, who, csrf_of(request)
        ),
    )


def _prices(brief: Any, settings: Settings) -> dict[str, Any]:
    """The buttons' prices (see `priced`)."""
    return priced(lambda: {"prices": catalog.button_prices(brief, settings)})


def priced(quote: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A page's prices, `quote()`; where the quote cannot be made (an unpriced instance type, the
    voice environment missing), none and its one-line reason: the rest of the page is still
    shown."""
    from resources.domain.costs import PriceError
    from resources.models.model_store import ModelNotFoundError

    try:
        return quote()
    except (PriceError, ModelNotFoundError, RuntimeError, KeyError) as error:
        return {"prices": {}, "prices_problem": str(error).strip("'")}


def character_api(request: Request) -> Response:
    try:
        view, _ = _view(request)
    except ArtifactError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    key = f"{view.client}/{view.character}"
    body = catalog.dump(view)
    flag = "true" if running(config_of(request), key) else "false"
    return Response(body[:-1] + f', "running": {flag}}}', media_type="application/json")


def client_report_of(store: Any, client: str) -> ArtifactRef | None:
    """The client's report: the newest one any of its characters' runs made (or None)."""
    found = []
    for character in store.characters(client):
        try:
            ref = store.current(client, character, REPORT)
        except ArtifactError:
            continue
        found.append((store.manifest(ref).get("created_at", ""), ref))
    return max(found, key=lambda f: f[0])[1] if found else None


def report_page(request: Request) -> Response:
    """The client's report, in the page's language (Portuguese; English a click away)."""
    client = request.path_params["client"]
    store = config_of(request).store
    lang = lang_of(request)
    try:
        ref = client_report_of(store, client)
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    if ref is None:
        return PlainTextResponse(text(lang, "no_report"), status_code=404)
    folder = store.path(ref)
    wanted = folder / REPORTS.get(lang, REPORT_MD)
    source = wanted if wanted.is_file() else folder / REPORT_MD  # a report from before pt
    markdown = source.read_text(encoding="utf-8").replace("<br>", "; ")
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return render(
        request, "report", title=client, client=client, ref=ref, body=Markup(body), posters=POSTERS
    )


def compare_page(request: Request) -> Response:
    """Two cut versions of a character side by side, their playback kept together."""
    p = request.path_params
    store = config_of(request).store
    chosen = request.query_params.getlist("v")
    lang = lang_of(request)
    try:
        required = catalog.cut_review_required(store, p["client"], p["character"])
        labels = history.version_labels(store, p["client"], p["character"], None, reviewed=required)
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    by_version = {label.version: label for label in labels}
    if len(chosen) != 2 or len(set(chosen)) != 2 or not set(chosen) <= set(by_version):
        return PlainTextResponse(text(lang, "pick_two"), status_code=400)
    sides = []
    for version in chosen:
        ref = ArtifactRef(p["client"], p["character"], DELIVERABLES, version)
        manifest = store.manifest(ref)
        sides.append(
            {
                "ref": ref,
                "label": by_version[version],
                "final": manifest["final"],
                "poster": manifest["poster"],
            }
        )
    title = f"{p['client']}/{p['character']}"
    return render(
        request, "compare", title=title, client=p["client"], character=p["character"], sides=sides
    )


def run_view_of(
    config: ReviewConfig, client: str, character: str, active: dict[str, list] | None = None
) -> progress.RunView:
    """The character's latest run as the page shows it: the stages' records, with an end only
    the Dagster instance saw, and whether a run of it is in flight (`active`: as
    `running` takes it)."""
    queued = running(config, f"{client}/{character}", active)
    view = progress.run_view(config.store, client, character, queued=queued)
    if view.state == "running" and config.instance is not None:
        ended = how_run_ended(config.instance, view.run["run_id"])
        if ended is not None:  # an end the stages could not record (a blocking check, say)
            view = progress.settled(view, *ended)
    return view


def progress_api(request: Request) -> Response:
    """The progress box of a character's page, as the page polls it: the latest run only.

    `since` and `run` are the state and run id the page was drawn with; when the run has ended
    since (or another run took its place), the box says so and offers to reload the page.
    """
    p = request.path_params
    try:
        view = run_view_of(config_of(request), p["client"], p["character"])
    except ArtifactError as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    run_id = view.run["run_id"] if view.run else ""
    moved = (request.query_params.get("since"), request.query_params.get("run")) != (
        view.state,
        run_id,
    )
    html = render_text(request, "progress", rv=view, reload_hint=moved and not view.in_flight)
    return JSONResponse({"state": view.state, "run_id": run_id, "html": html})


def brief_errors(settings: Settings) -> list[dict[str, Any]]:
    """The inbox's briefs that do not validate, each with every problem found; and the valid
    briefs that claim one client/character together (the sensor runs no new copy of those)."""
    entries = list(build_resource("inbox", settings).scan())
    found = [
        (e.path, e.error.problems, e.error.problems_pt) for e in entries if e.error is not None
    ]
    claims = {str(e.path): e.brief.partition_key for e in entries if e.brief is not None}
    for conflict in partition_conflicts(claims).values():
        for path in conflict.briefs:
            found.append((Path(path), [conflict.problem(path)], [conflict.problem(path, "pt-BR")]))
    return [
        {
            "path": str(path),
            "en": en,
            "pt": pt,
            "since": _modified(path),
            "fix": fix_link(str(path)),
        }
        for path, en, pt in sorted(found, key=lambda item: str(item[0]))
    ]


def _modified(path) -> str:
    """When a brief file last changed (ISO 8601, UTC): since when its errors wait."""
    try:
        stamp = Path(path).stat().st_mtime
    except OSError:
        return ""
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="seconds")
