"""The client package: the form builds the zip of the version the page shows (through the
publish protocol, once) and sends the browser to its download."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from assets.stages.client_package import PACKAGE, deliverable_ref, package_deliverable
from pipeline.review.config import config_of
from pipeline.review.render import file_url, form_of
from pipeline.review.security import csrf_refusal
from resources.domain.artifacts import ArtifactError


def package(request: Request) -> Response:
    p = request.path_params
    form = form_of(request)
    if refused := csrf_refusal(request, form):
        return refused
    config = config_of(request)
    try:
        ref = deliverable_ref(config.store, p["client"], p["character"], form.get("version", ""))
        made = package_deliverable(config.store, ref)
    except (ArtifactError, ValueError) as error:
        return PlainTextResponse(str(error), status_code=400)
    return RedirectResponse(file_url(config, made, PACKAGE, download=True), status_code=303)
