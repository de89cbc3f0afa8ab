"""The review app: a small Starlette app over the artifact store (pages in pipeline/review/pages).

Bound to loopback (the default) it is open to whoever can reach that port, like `dagster dev`;
bound to any other address it requires the token in CHARACTER_VIDEO_REVIEW_TOKEN, sent as
`Authorization: Bearer <token>` or through the login page's cookie, and refuses to start
without one. Files are served from a local root directly (with HTTP range requests, so video
seeking works) and from an S3 root as presigned URLs valid `presign_expiry_s` seconds.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from pipeline.launch import active_runs
from pipeline.review import catalog
from pipeline.review.actions import launch_run, reroll_shot
from pipeline.review.i18n import LANGUAGES, local_time, money, text
from pipeline.review.pages import ENV, review_form_html
from pipeline.settings import Settings, SettingsError, build_resource
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.brief import BriefError
from resources.domain.review import APPROVED, ReviewError, gate_asset, record_review

TOKEN_COOKIE = "review_token"
LANG_COOKIE = "lang"
WHO_COOKIE = "who"
# Cross-site request forgery: every form carries the token of this browser's csrf cookie
# (double submit); a POST whose field differs, or whose Origin is another site, is refused.
CSRF_COOKIE = "review_csrf"
CSRF_FIELD = "csrf"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ReviewConfig:
    """What the app serves and how: the store, the settings, whether a token is required."""

    store: Any
    settings: Settings
    token: str | None
    profile: str = "tiny"
    models_dir: str | None = None
    launch: bool = True  # start the chain after an approval or a re-roll
    runs: dict[str, Any] = field(default_factory=dict)  # client/character -> Popen
    # The DAGSTER_HOME instance, where one is set: runs in flight are read from it, so an app
    # restarted mid-run still knows (and does not start a second run).
    instance: Any = None


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


def _form(body: bytes) -> dict[str, str]:
    # URL-encoded forms only (no file uploads): no multipart parser needed.
    return {
        k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()
    }


def create_app(config: ReviewConfig) -> Starlette:
    """The review app over `config.store`."""
    store, settings = config.store, config.settings

    def lang_of(request: Request) -> str:
        asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return asked if asked in LANGUAGES else settings.language

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
        if origin and urllib.parse.urlsplit(origin).netloc != request.headers.get("host"):
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

    def render(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
        lang = lang_of(request)
        csrf = csrf_of(request)

        def t(key: str) -> str:
            return text(lang, key)

        page = ENV.get_template(template).render(
            lang=lang,
            t=t,
            when=lambda v: local_time(v, settings.timezone, lang),
            money=lambda v: money(v, lang),
            url=file_url,
            flash=request.query_params.get("flash"),
            who=request.cookies.get(WHO_COOKIE, ""),
            csrf=csrf,
            **values,
        )
        response = HTMLResponse(page, status_code=status)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, samesite="strict")
        return response

    def file_url(ref: ArtifactRef, rel: str, download: bool = False) -> str:
        if hasattr(store, "presigned_url"):
            return store.presigned_url(ref, rel, settings.presign_expiry_s)
        return f"/files/{ref.key}/{urllib.parse.quote(rel)}" + ("?download=1" if download else "")

    def authorized(request: Request) -> bool:
        if config.token is None:
            return True
        header = request.headers.get("authorization", "")
        offered = header[7:] if header.lower().startswith("bearer ") else ""
        offered = offered or request.cookies.get(TOKEN_COOKIE, "")
        return bool(offered) and hmac.compare_digest(offered.encode(), config.token.encode())

    async def home(request: Request) -> Response:
        clients = [{"name": c, "characters": store.characters(c)} for c in store.clients()]
        return render(
            request,
            "home",
            title=text(lang_of(request), "clients"),
            clients=clients,
            errors=_brief_errors(settings),
        )

    async def client_page(request: Request) -> Response:
        client = request.path_params["client"]
        try:
            characters = store.characters(client)
        except ArtifactError as error:
            return PlainTextResponse(str(error), status_code=404)
        return render(request, "client", title=client, client=client, characters=characters)

    def _view(request: Request):
        p = request.path_params
        version = request.query_params.get("version") or None
        return catalog.character_view(store, p["client"], p["character"], version), version

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
            running=running(key),
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
        flag = "true" if running(key) else "false"
        return Response(body[:-1] + f', "running": {flag}}}', media_type="application/json")

    def _start(client: str, character: str, why: str) -> bool:
        if not config.launch:
            return False
        key = f"{client}/{character}"
        running = config.runs.get(key)
        if running is not None and running.poll() is None:
            return False  # one run per character at a time; the running one reads the new state
        if config.instance is not None and active_runs(config.instance, key):
            return False  # queued or running on the instance (started before a restart, too)
        config.runs[key] = launch_run(
            client,
            character,
            root=settings.root,
            profile=config.profile,
            models_dir=config.models_dir,
            launched_by=f"review-app:{why}",
            launch=settings.launch,
        )
        return True

    def running(key: str) -> bool:
        """A run of the character in flight: started by this app, or on the Dagster instance."""
        process = config.runs.get(key)
        if process is not None and process.poll() is None:
            return True
        return config.instance is not None and bool(active_runs(config.instance, key))

    def _back(request: Request, lang: str, key: str, who: str = "") -> Response:
        p = request.path_params
        flash = urllib.parse.quote(text(lang, key))
        response = RedirectResponse(f"/c/{p['client']}/{p['character']}?flash={flash}", 303)
        if who:
            response.set_cookie(WHO_COOKIE, who, samesite="strict")
        return response

    async def review(request: Request) -> Response:
        p = request.path_params
        form = _form(await request.body())
        if refused := csrf_refusal(request, form):
            return refused
        lang = lang_of(request)
        try:
            asset = gate_asset(form.get("gate", ""))
            ref = ArtifactRef(p["client"], p["character"], asset, form.get("version", ""))
            if not store.is_complete(ref):
                raise ArtifactError(f"no finished {ref.key}")
            decision = form.get("decision", "")
            record_review(store, ref, decision, who=form.get("who", ""), note=form.get("note", ""))
        except (ArtifactError, ReviewError) as error:
            return PlainTextResponse(str(error), status_code=400)
        started = decision == APPROVED and _start(p["client"], p["character"], "approve")
        return _back(request, lang, "run_started" if started else "recorded", form.get("who", ""))

    async def reroll(request: Request) -> Response:
        p = request.path_params
        form = _form(await request.body())
        if refused := csrf_refusal(request, form):
            return refused
        lang = lang_of(request)
        raw_seed = form.get("seed", "").strip()
        try:
            seed = int(raw_seed) if raw_seed else None
            reroll_shot(
                store,
                p["client"],
                p["character"],
                form.get("shot", ""),
                seed=seed,
                who=form.get("who", "").strip() or "producer",
                tier=form.get("tier", "").strip() or None,
            )
        except (ArtifactError, BriefError, ValueError) as error:
            return PlainTextResponse(str(error), status_code=400)
        started = _start(p["client"], p["character"], "reroll")
        return _back(request, lang, "run_started" if started else "recorded", form.get("who", ""))

    async def files(request: Request) -> Response:
        p = request.path_params
        try:
            ref = ArtifactRef(p["client"], p["character"], p["asset"], p["version"])
            if hasattr(store, "presigned_url"):
                return RedirectResponse(
                    store.presigned_url(ref, p["path"], settings.presign_expiry_s)
                )
            folder = store.path(ref)
            path = (folder / p["path"]).resolve()
            if not path.is_relative_to(folder) or not path.is_file():
                raise ArtifactError(f"no file {p['path']} in {ref.key}")
        except ArtifactError as error:
            return PlainTextResponse(str(error), status_code=404)
        name = (
            path.name
            if not request.query_params.get("download")
            else (f"{ref.client}-{ref.character}-{ref.version}-{path.name}")
        )
        disposition = "attachment" if request.query_params.get("download") else "inline"
        # Starlette's FileResponse answers Range requests with 206 and Accept-Ranges: bytes.
        return FileResponse(path, filename=name, content_disposition_type=disposition)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return render(
                request,
                "login",
                title=text(lang_of(request), "login"),
                next=request.query_params.get("next", "/"),
                bad=False,
            )
        form = _form(await request.body())
        offered = form.get("token", "")
        nxt = form.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        if config.token is None or not hmac.compare_digest(offered.encode(), config.token.encode()):
            return render(request, "login", status=401, title="login", next=nxt, bad=True)
        response = RedirectResponse(nxt, 303)
        response.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="strict")
        return response

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    def refusal(request: Request) -> Response | None:
        """The answer to a request without the token, or None when it may go on."""
        if request.url.path in ("/login", "/healthz") or authorized(request):
            return None
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            quoted = urllib.parse.quote(request.url.path)
            return RedirectResponse(f"/login?next={quoted}", 303)
        return PlainTextResponse(
            "a review token is required (Authorization: Bearer <token>)",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/c/{client}", client_page),
            Route("/c/{client}/{character}", character_page),
            Route("/api/c/{client}/{character}", character_api),
            Route("/c/{client}/{character}/review", review, methods=["POST"]),
            Route("/c/{client}/{character}/reroll", reroll, methods=["POST"]),
            Route("/files/{client}/{character}/{asset}/{version}/{path:path}", files),
        ],
        # A plain ASGI middleware: Starlette's BaseHTTPMiddleware re-streams every body, and a
        # range response of a clip once came out empty through it under load (CI, 33d88dd).
        middleware=[Middleware(TokenGate, refusal=refusal)],
    )

    return app


def _brief_errors(settings: Settings) -> list[dict[str, Any]]:
    """The inbox's briefs that do not validate, each with every problem found."""
    inbox = build_resource("inbox", settings)
    return [
        {"path": str(e.path), "en": e.error.problems, "pt": e.error.problems_pt}
        for e in inbox.scan()
        if e.error is not None
    ]


def review_config(
    *,
    host: str,
    root: str | None = None,
    profile: str | None = None,
    settings: Settings | None = None,
) -> ReviewConfig:
    """The app's configuration for an address; a SettingsError if it needs a token and has none."""
    from dataclasses import replace

    s = settings or Settings.from_env()
    if root is not None:
        s = replace(s, root=root)
    if not is_loopback(host) and not s.review_token:
        raise SettingsError(
            f"the review app on {host} (beyond loopback) needs a token: set "
            "CHARACTER_VIDEO_REVIEW_TOKEN (or bind it to 127.0.0.1)"
        )
    return ReviewConfig(
        store=build_resource("artifact_store", s),
        settings=s,
        token=s.review_token if (s.review_token or not is_loopback(host)) else None,
        profile=profile or s.profile,
        models_dir=s.models_dir,
        instance=_dagster_instance(s),
    )


def _dagster_instance(settings: Settings) -> Any:
    if not settings.dagster_home:
        return None
    from dagster import DagsterInstance

    return DagsterInstance.get()


def serve(*, host: str, port: int, root: str | None = None, profile: str | None = None) -> None:
    """Run the review app with uvicorn until interrupted."""
    import uvicorn

    config = review_config(host=host, root=root, profile=profile)
    where = "token required" if config.token else "open on loopback"
    print(f"review app on http://{host}:{port} ({where}); artifacts in {config.settings.root}")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
