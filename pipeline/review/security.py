"""Who may use the review app: the token gate, and the forged-form (CSRF) check of every POST.

Bound to loopback the app is open to whoever can reach that port, like `dagster dev`; bound to
any other address it requires the token, sent as `Authorization: Bearer <token>` or through the
login page's cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import urllib.parse

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from pipeline.review.config import config_of
from resources.domain.brief import forbidden_character

TOKEN_COOKIE = "review_token"
# Cross-site request forgery: every form carries the token of this browser's csrf cookie
# (double submit); a POST whose field differs, or whose Origin is another site, is refused.
CSRF_COOKIE = "review_csrf"
CSRF_FIELD = "csrf"
OPEN_PATHS = ("/login", "/healthz")
# A client's review link carries its own signed token (routes/share.py checks it): only those
# routes, read-only but for comments, open without the studio's token.
SHARE_PREFIX = "/share/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenGate:
    """ASGI middleware: an HTTP request `refusal` answers is refused; the rest pass untouched."""

    def __init__(self, app, refusal) -> None:
        self.app, self.refusal = app, refusal

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            answer = self.refusal(Request(scope))
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def request_host(value: str) -> str:
    """The host name of a `Host` header or an Origin's netloc, without port or brackets."""
    return (urllib.parse.urlsplit(f"//{value}").hostname or "") if value else ""


def gate(request: Request) -> Response | None:
    """The first refusal of a request: a host not served here, a malformed path, no token."""
    return host_refusal(request) or path_refusal(request) or refusal(request)


def host_refusal(request: Request) -> Response | None:
    """A request naming a host this app does not serve (DNS rebinding: a page on evil.example
    whose name now points at 127.0.0.1) is refused before anything is read or written."""
    try:
        host = request_host(request.headers.get("host", ""))
    except ValueError:
        host = ""
    if host in config_of(request).hosts:
        return None
    return PlainTextResponse("refused: this host name is not served here", status_code=421)


def path_refusal(request: Request) -> Response | None:
    """A path holding a NUL or another control character (`%00`) is answered 400."""
    if forbidden_character(request.url.path, newlines=False) is None:
        return None
    return PlainTextResponse("refused: the path holds a control character", status_code=400)


def authorized(request: Request) -> bool:
    token = config_of(request).token
    if token is None:
        return True
    if not token.strip():
        return False  # a blank token is no token: nothing opens with it
    header = request.headers.get("authorization", "")
    offered = header[7:] if header.lower().startswith("bearer ") else ""
    offered = offered or request.cookies.get(TOKEN_COOKIE, "")
    return bool(offered) and hmac.compare_digest(offered.encode(), token.encode())


def refusal(request: Request) -> Response | None:
    """The answer to a request without the token, or None when it may go on."""
    path = request.url.path
    if path in OPEN_PATHS or path.startswith(SHARE_PREFIX) or authorized(request):
        return None
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        quoted = urllib.parse.quote(request.url.path)
        return RedirectResponse(f"/login?next={quoted}", 303)
    return PlainTextResponse(
        "a review token is required (Authorization: Bearer <token>)",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def csrf_of(request: Request) -> str:
    """This browser's form token: its cookie's, or a new one (set with this page)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = getattr(request.state, "csrf", None) or secrets.token_urlsafe(24)
        request.state.csrf = token
    return token


def csrf_refusal(request: Request, form: dict[str, str]) -> Response | None:
    """Why a POST is refused as possibly forged, or None when it may go on."""
    origin = request.headers.get("origin")
    if origin is not None:
        try:
            parts = urllib.parse.urlsplit(origin)
            served = parts.hostname in config_of(request).hosts
            same = served and parts.netloc == request.headers.get("host")
        except ValueError:
            same = False
        if not same:
            return PlainTextResponse(f"refused: a form posted from {origin}", status_code=403)
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return None  # a script with the token, not a browser's cookie: nothing to forge
    cookie, offered = request.cookies.get(CSRF_COOKIE, ""), form.get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), offered.encode()):
        return PlainTextResponse(
            "refused: the form is stale or came from another page; reload it and retry",
            status_code=403,
        )
    return None
