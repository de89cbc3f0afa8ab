"""The review app: a small Starlette app over the artifact store (pages in pipeline/review/pages).

Bound to loopback (the default) it is open to whoever can reach that port, like `dagster dev`;
bound to any other address it requires the token in CHARACTER_VIDEO_REVIEW_TOKEN, sent as
`Authorization: Bearer <token>` or through the login page's cookie, and refuses to start
without one (pipeline/review/security). Files are served from a local root directly (with HTTP
range requests, so video seeking works) and from an S3 root as presigned URLs valid
`presign_expiry_s` seconds. The routes live in pipeline/review/routes; each reads the
ReviewConfig from the app's state.

Every route is a plain function, which Starlette runs in a worker thread: what one request
waits for (a first quote's FLOP counts, a package's zip, an S3 listing) never holds the event
loop, so the other producers' pages, the client's links and the health check still answer.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from pipeline.review.config import LOOPBACK_HOSTS, ReviewConfig
from pipeline.review.routes import briefs, decisions, files, login, package, pages, share
from pipeline.review.security import TokenGate, gate, is_loopback
from pipeline.settings import Settings, SettingsError, build_resource

ROUTES = [
    Route("/", pages.home),
    Route("/healthz", login.health),
    Route("/login", login.login, methods=["GET", "POST"]),
    Route("/briefs/new", briefs.new_brief),
    Route("/briefs/edit", briefs.fix_brief),
    Route("/briefs", briefs.post_brief, methods=["POST"]),
    Route("/c/{client}", pages.client_page),
    Route("/c/{client}/report", pages.report_page),
    Route("/c/{client}/_links", decisions.issue_link, methods=["POST"]),
    Route("/c/{client}/_links/{nonce}/revoke", decisions.revoke_link, methods=["POST"]),
    Route("/c/{client}/{character}", pages.character_page),
    Route("/c/{client}/{character}/compare", pages.compare_page),
    Route("/c/{client}/{character}/brief", briefs.edit_brief),
    Route("/api/c/{client}/{character}", pages.character_api),
    Route("/api/c/{client}/{character}/progress", pages.progress_api),
    Route("/c/{client}/{character}/review", decisions.review, methods=["POST"]),
    Route("/c/{client}/{character}/reroll", decisions.reroll, methods=["POST"]),
    Route("/c/{client}/{character}/accept", decisions.accept, methods=["POST"]),
    Route("/c/{client}/{character}/stop", decisions.stop, methods=["POST"]),
    Route("/c/{client}/{character}/restart", decisions.restart, methods=["POST"]),
    Route("/c/{client}/{character}/package", package.package, methods=["POST"]),
    Route("/share/{token}", share.share_page),
    Route("/share/{token}/comment", share.share_comment, methods=["POST"]),
    Route("/share/{token}/files/{character}/{version}/{path:path}", share.share_file),
    Route("/files/{client}/{character}/{asset}/{version}/{path:path}", files.files),
]


def create_app(config: ReviewConfig) -> Starlette:
    """The review app over `config.store`."""
    app = Starlette(
        routes=ROUTES,
        # A plain ASGI middleware: Starlette's BaseHTTPMiddleware re-streams every body, and a
        # range response of a clip once came out empty through it under load (CI, 33d88dd).
        middleware=[Middleware(TokenGate, refusal=gate)],
    )
    app.state.review = config
    return app


def review_config(
    *,
    host: str,
    root: str | None = None,
    profile: str | None = None,
    settings: Settings | None = None,
) -> ReviewConfig:
    """The app's configuration for an address; a SettingsError if it needs a token and has none."""
    s = settings or Settings.from_env()
    if root is not None:
        s = replace(s, root=root)
    if s.review_token is not None and not s.review_token.strip():
        raise SettingsError("CHARACTER_VIDEO_REVIEW_TOKEN is blank: set a real token or unset it")
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
        hosts=served_hosts(host, s),
    )


def served_hosts(host: str, settings: Settings) -> tuple[str, ...]:
    """The host names the app answers to: loopback's, the bind address unless it is a wildcard,
    the review URL's and CHARACTER_VIDEO_REVIEW_HOSTS."""
    names = list(LOOPBACK_HOSTS)
    if host not in ("0.0.0.0", "::", ""):
        names.append(host.lower())
    if settings.review_url:
        names.append((urllib.parse.urlsplit(settings.review_url).hostname or "").lower())
    names += settings.review_hosts
    return tuple(dict.fromkeys(n for n in names if n))


def _dagster_instance(settings: Settings) -> Any:
    """The instance the app's runs are recorded in (pipeline.launch.open_instance)."""
    from pipeline.launch import open_instance

    return open_instance(settings) if settings.instance_home else None


def serve(*, host: str, port: int, root: str | None = None, profile: str | None = None) -> None:
    """Run the review app with uvicorn until interrupted."""
    import uvicorn

    config = review_config(host=host, root=root, profile=profile)
    where = "token required" if config.token else "open on loopback"
    print(f"review app on http://{host}:{port} ({where}); artifacts in {config.settings.root}")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
