"""A client's review link: read-only pages of that client's ready and approved cuts, and their
time-coded comments per shot (stored as records beside the cut, shown to the producers).

The link is `/share/<token>`: signed (HMAC with CHARACTER_VIDEO_CLIENT_LINK_SECRET), expiring and
revocable (resources/domain/review.py). It opens only these routes: it cannot approve, re-roll,
see another client or read a file that is not a cut's format, poster or subtitles.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from pipeline.review.config import config_of
from pipeline.review.i18n import refusal
from pipeline.review.render import form_of, lang_of, render
from pipeline.review.security import csrf_refusal
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.review import (
    APPROVED,
    ReviewError,
    comments_of,
    decision_of,
    link_client,
    record_comment,
)

DELIVERABLES = "deliverables"


def _client(request: Request) -> str | Response:
    """The client the request's link opens, or the refusal (403, saying why)."""
    secret = config_of(request).settings.client_link_secret
    if not secret:
        return _refused(request, "client review links are not enabled here", 404)
    try:
        return link_client(config_of(request).store, secret, request.path_params["token"])
    except ReviewError as error:
        return _refused(request, str(error), 403)


def _refused(request: Request, message: str, status: int) -> Response:
    """The refusal in the reader's language (Portuguese unless asked), English in parentheses."""
    return PlainTextResponse(refusal(message, lang_of(request)), status_code=status)


def _shown(store, client: str) -> list[dict[str, Any]]:
    """The client's cuts a link shows: each character's current one and every approved one."""
    found = []
    for character in store.characters(client):
        try:
            current = store.current(client, character, DELIVERABLES).version
        except ArtifactError:
            current = None
        for version in store.versions(client, character, DELIVERABLES):
            ref = ArtifactRef(client, character, DELIVERABLES, version)
            if not store.is_complete(ref):
                continue
            approved = decision_of(store, ref) == APPROVED
            if version == current or approved:
                found.append(_cut(store, ref, approved, version == current))
    return found


def _cut(store, ref: ArtifactRef, approved: bool, current: bool) -> dict[str, Any]:
    manifest = store.manifest(ref)
    fps = float(manifest.get("parameters", {}).get("fps") or 24)
    start = (manifest.get("branding") or {}).get("title_card", {}).get("frames", 0)
    shots = []
    for shot in manifest.get("shots", []):
        shots.append({"id": shot["id"], "start_s": round(start / fps, 2)})
        start += int(shot["frames"])
    formats = manifest.get("formats") or [
        {"aspect": "", "file": manifest["final"], "poster": manifest["poster"]}
    ]
    return {"ref": ref, "approved": approved, "current": current, "shots": shots,
            "formats": formats}  # fmt: skip


def _files(manifest: dict[str, Any]) -> set[str]:
    """The files of a cut a client may open: every format, its poster, the subtitles."""
    formats = manifest.get("formats") or [{"file": manifest["final"], "poster": manifest["poster"]}]
    names = {f["file"] for f in formats} | {f["poster"] for f in formats}
    return names | set((manifest.get("sound") or {}).get("subtitles") or [])


def seconds_of(typed: str) -> float:
    """A moment in seconds as a client types it: 12.5 or, in Portuguese, 12,5."""
    try:
        return float(typed.strip().replace(",", "."))
    except ValueError:
        raise ReviewError(f"the time {typed!r} is not a number of seconds") from None


def share_page(request: Request) -> Response:
    client = _client(request)
    if isinstance(client, Response):
        return client
    store = config_of(request).store
    cuts = _shown(store, client)
    comments = {c: comments_of(store, client, c) for c in {cut["ref"].character for cut in cuts}}
    token = urllib.parse.quote(request.path_params["token"])
    return render(request, "share", title=client, client=client, cuts=cuts, comments=comments,
                  base=f"/share/{token}")  # fmt: skip


def share_file(request: Request) -> Response:
    client = _client(request)
    if isinstance(client, Response):
        return client
    p, store = request.path_params, config_of(request).store
    try:
        ref = ArtifactRef(client, p["character"], DELIVERABLES, p["version"])
        shown = {(c["ref"].character, c["ref"].version) for c in _shown(store, client)}
        if (ref.character, ref.version) not in shown:
            raise ArtifactError(f"no cut {ref.version} for this link")
        if p["path"] not in _files(store.manifest(ref)):
            raise ArtifactError(f"no file {p['path']} for this link")
        path = store.path(ref) / p["path"]
    except (ArtifactError, ValueError) as error:
        return PlainTextResponse(str(error), status_code=404)
    return FileResponse(path, filename=path.name)


def share_comment(request: Request) -> Response:
    client = _client(request)
    if isinstance(client, Response):
        return client
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    store = config_of(request).store
    shown = {(c["ref"].character, c["ref"].version): c for c in _shown(store, client)}
    cut = shown.get((form.get("character", ""), form.get("version", "")))
    if cut is None or form.get("shot") not in {s["id"] for s in cut["shots"]}:
        return _refused(request, "no such shot in this link's cuts", 400)
    try:
        record_comment(
            store,
            cut["ref"],
            shot=form["shot"],
            at_s=seconds_of(form.get("at_s") or "0"),
            text=form.get("text", ""),
            who=form.get("who", ""),
        )
    except (ReviewError, ValueError) as error:
        return _refused(request, str(error), 400)
    token = urllib.parse.quote(request.path_params["token"])
    return RedirectResponse(f"/share/{token}?flash=ok", status_code=303)
