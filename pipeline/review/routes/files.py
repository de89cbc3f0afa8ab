"""An artifact's files: from a local root directly (with range requests), from S3 by redirect."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from pipeline.review.config import config_of
from resources.domain.artifacts import ArtifactError, ArtifactRef


def files(request: Request) -> Response:
    p = request.path_params
    config = config_of(request)
    store = config.store
    try:
        ref = ArtifactRef(p["client"], p["character"], p["asset"], p["version"])
        if hasattr(store, "presigned_url"):
            return RedirectResponse(
                store.presigned_url(ref, p["path"], config.settings.presign_expiry_s)
            )
        folder = store.path(ref)
        path = (folder / p["path"]).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise ArtifactError(f"no file {p['path']} in {ref.key}")
    except ArtifactError as error:
        return PlainTextResponse(str(error), status_code=404)
    download = bool(request.query_params.get("download"))
    name = f"{ref.client}-{ref.character}-{ref.version}-{path.name}" if download else path.name
    disposition = "attachment" if download else "inline"
    # Starlette's FileResponse answers Range requests with 206 and Accept-Ranges: bytes.
    return FileResponse(path, filename=name, content_disposition_type=disposition)
