"""The login page (a token, kept in a cookie) and the health check: open without the token."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from pipeline.review.config import config_of
from pipeline.review.i18n import text
from pipeline.review.render import form_of, lang_of, render
from pipeline.review.security import TOKEN_COOKIE


def login(request: Request) -> Response:
    if request.method == "GET":
        return render(
            request,
            "login",
            title=text(lang_of(request), "login"),
            next=request.query_params.get("next", "/"),
            bad=False,
        )
    form = form_of(request)
    offered = form.get("token", "")
    nxt = form.get("next", "/")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    token = config_of(request).token
    if token is None or not hmac.compare_digest(offered.encode(), token.encode()):
        return render(request, "login", status=401, title="login", next=nxt, bad=True)
    response = RedirectResponse(nxt, 303)
    response.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="strict")
    return response


def health(request: Request) -> Response:
    return PlainTextResponse("ok")
