"""Pages and answers of the review app: the page renderer, file links, forms, redirects."""

from __future__ import annotations

import urllib.parse

import anyio.from_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pipeline.review import history, progress
from pipeline.review.config import ReviewConfig, config_of
from pipeline.review.i18n import LANGUAGES, local_time, money, number, text, view_name
from pipeline.review.pages import ENV
from pipeline.review.security import CSRF_COOKIE, csrf_of
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import forbidden_character
from resources.quote.summary import duration, formatted

LANG_COOKIE = "lang"
WHO_COOKIE = "who"


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in LANGUAGES else config_of(request).settings.language


def file_url(config: ReviewConfig, ref: ArtifactRef, rel: str, download: bool = False) -> str:
    """Where the browser gets a file of an artifact: this app, or a presigned S3 URL."""
    if hasattr(config.store, "presigned_url"):
        return config.store.presigned_url(ref, rel, config.settings.presign_expiry_s)
    return f"/files/{ref.key}/{urllib.parse.quote(rel)}" + ("?download=1" if download else "")


def render_text(request: Request, template: str, **values) -> str:
    """The HTML of `template` (a page or a fragment of one) in the request's language."""
    config = config_of(request)
    lang = lang_of(request)

    def t(key: str) -> str:
        return text(lang, key)

    values.setdefault("who", request.cookies.get(WHO_COOKIE, ""))  # unless the page knows
    return ENV.get_template(template).render(
        lang=lang,
        t=t,
        when=lambda v: local_time(v, config.settings.timezone, lang),
        money=lambda v: money(v, lang),
        num=lambda v, digits=3: number(v, lang, digits),
        minutes=lambda seconds: duration(seconds, lang),
        # A length as typed in a brief, no trailing zeros: 0,5 in Portuguese, 0.5 in English.
        plain=lambda v: formatted(v, "g", lang),
        url=lambda ref, rel, download=False: file_url(config, ref, rel, download),
        state_line=lambda view: progress.state_line(view, lang),
        loop_line=lambda loop: progress.loop_line(loop, lang),
        label_line=lambda label: history.label_line(label, lang),
        view_name=lambda view: view_name(view, lang),
        tier_name=lambda tier: history.tier_name(tier, lang),
        stage_name=lambda asset: progress.stage_name(asset, lang),
        event_line=lambda event: history.event_line(event, lang),
        flash=request.query_params.get("flash"),
        csrf=csrf_of(request),
        **values,
    )


def render(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
    """The page `template` in the request's language, with this browser's form token."""
    lang = lang_of(request)
    csrf = csrf_of(request)
    page = render_text(request, template, **values)
    response = HTMLResponse(page, status_code=status)
    if request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, samesite="strict")
    return response


# A form of the app is a few hundred bytes (a note, a name, a seed).
MAX_FORM_BYTES = 64_000


def form_of(
    request: Request, *, limit: int = MAX_FORM_BYTES, brief_field: str = ""
) -> dict[str, str]:
    """A posted form's fields (the last value of each); 400 or 413 for a body that is not one.

    Called from a route, in the worker thread Starlette runs it in: the body is received on the
    event loop.

    `brief_field`: a field holding a brief's text: its control characters (a text area's CRLF
    too) are left for the brief's own check, which names the line.
    """
    # URL-encoded forms only (no file uploads): no multipart parser needed.
    body = anyio.from_thread.run(request.body)
    if len(body) > limit:
        raise HTTPException(413, f"a form is at most {limit:,} bytes")
    try:
        fields = urllib.parse.parse_qs(
            body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeError:
        raise HTTPException(400, "the form is not UTF-8 text") from None
    for name, values in fields.items():
        if name == brief_field:
            continue
        if any(forbidden_character(v) for v in values) or forbidden_character(name):
            raise HTTPException(400, f"the form field {name[:40]!r} holds a control character")
    return {k: v[-1] for k, v in fields.items()}


def back_to(request: Request, path: str, key: str, who: str = "", **values: str) -> Response:
    """Back to the page at `path`, with a notice (`key` in i18n, formatted with `values`) and
    who acted remembered."""
    flash = urllib.parse.quote(text(lang_of(request), key).format(**values))
    response = RedirectResponse(f"{path}?flash={flash}", 303)
    if who:
        response.set_cookie(WHO_COOKIE, who, samesite="strict")
    return response


def back_to_character(request: Request, key: str, who: str = "") -> Response:
    """Back to the character's page, with a notice (`key` in i18n) and who acted remembered."""
    p = request.path_params
    return back_to(request, f"/c/{p['client']}/{p['character']}", key, who)
