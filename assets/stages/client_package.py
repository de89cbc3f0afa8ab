"""client_package: what the client downloads, one zip made from one deliverables version.

`<client>/<character>/client_package/<version>/package.zip` holds, under one folder named after
the client and character: every format of the cut (`video/`), its poster (`posters/`), the
subtitles when the master has sidecars (`subtitles/`), a one-page summary in Portuguese
(`LEIA-ME.txt`: what was delivered, durations, the models and their licences, the approvals with
who and when) and SHA256SUMS. Built through the publish protocol on demand (the review app's
button, `python -m pipeline package`); its version is the deliverables version, the approvals
it reports and this code, so the same cut and the same approvals give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from assets.stages.deliverables import ASSET as DELIVERABLES
from resources.domain.artifacts import ArtifactError, ArtifactRef, content_version
from resources.domain.chain import PACKAGE_ASSET
from resources.domain.lineage import Link, chain_of, model_licences
from resources.domain.review import reviews_of
from resources.media.video_io import probe_video
from resources.quote.summary import decimal, formatted
from resources.storage.package import SUMS, write_zip
from resources.storage.publish import publish_one

ASSET = PACKAGE_ASSET
# 2: numbers with a decimal comma and dates as dd/mm/aaaa in LEIA-ME.txt (pt-BR); 3: the
# licences' conditions in Portuguese.
CODE_VERSION = "3"
PACKAGE = "package.zip"
SUMMARY = "LEIA-ME.txt"


def _formats(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every format a deliverables version holds (one, final.mp4, for a version without formats)."""
    return manifest.get("formats") or [
        {"aspect": "", "file": manifest["final"], "poster": manifest["poster"], "primary": True}
    ]


def _approvals(store, chain: list[Link], ref: ArtifactRef) -> list[dict[str, str]]:
    """Who approved what in this chain, and when: the gates' reviews and accepted shots."""
    found = []
    for link in chain:
        if link.asset in ("reference_images", DELIVERABLES):
            link_ref = ArtifactRef(ref.client, ref.character, link.asset, link.version)
            for r in reviews_of(store, link_ref):
                found.append({k: r.get(k, "") for k in ("asset", "decision", "who", "at")})
    qc = store.manifest(ref).get("qc", {})
    for shot in qc.get("shots", []):
        if shot.get("accepted_by"):
            found.append(
                {
                    "asset": f"shot {shot['id']}",
                    "decision": "accepted",
                    "who": shot["accepted_by"],
                    "at": shot.get("accepted_at", ""),
                }
            )
    return found


def _seconds(video: Path) -> float:
    info = probe_video(video)
    return info.frame_count / float(info.fps)


def _when(stamp: str) -> str:
    """An ISO 8601 time as a Brazilian reader writes it: 06/12/2026 08:06 UTC (as given if not)."""
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC).strftime("%d/%m/%Y %H:%M UTC")
    return moment.strftime("%d/%m/%Y %H:%M")


def _summary(
    ref: ArtifactRef,
    folder: Path,
    manifest: dict[str, Any],
    chain: list[Link],
    approvals: list[dict[str, str]],
) -> str:
    """The one-page summary, in Portuguese."""
    lines = [
        f"Pacote de entrega: {ref.client} / {ref.character}",
        f"Versão do corte: {ref.version}",
        "",
        "O que foi entregue:",
    ]
    formats = _formats(manifest)
    for f in formats:
        info = probe_video(folder / f["file"])
        aspect = f" ({f['aspect']})" if f["aspect"] else ""
        seconds = _seconds(folder / f["file"])
        lines.append(
            f"  video/{f['file']}{aspect}: {info.width}x{info.height}, "
            f"{decimal(seconds, 'pt-BR', 2)} s, {info.frame_count} quadros a "
            f"{formatted(float(info.fps), 'g', 'pt-BR')} fps"
        )
    shots = manifest.get("shots", [])
    lines += ["", "Planos:"]
    lines += [f"  {s['id']}: {decimal(float(s['duration_s']), 'pt-BR', 2)} s" for s in shots]
    lines += ["", "Modelos e licenças:"]
    found = model_licences(chain, "pt-BR")
    lines += [f"  {m}: {lic or 'licença não registrada'}" for m, lic in found.items()]
    lines += ["", "Aprovações:"]
    words = {"approved": "aprovado", "rejected": "recusado", "accepted": "aceito"}
    lines += [
        f"  {a['asset']}: {words.get(a['decision'], a['decision'])} por {a['who']} em "
        f"{_when(a['at'])}"
        for a in approvals
    ] or ["  nenhuma aprovação registrada"]
    lines += ["", f"Somas de verificação: {SUMS} (sha256sum -c {SUMS})", ""]
    return "\n".join(lines)


def _entries(folder: Path, manifest: dict[str, Any], top: str) -> dict[str, Path]:
    """The files of the deliverables version the zip carries, by their name in the zip."""
    entries: dict[str, Path] = {}
    for f in _formats(manifest):
        entries[f"{top}video/{f['file']}"] = folder / f["file"]
        entries[f"{top}posters/{f['poster']}"] = folder / f["poster"]
    for name in (manifest.get("sound") or {}).get("subtitles") or []:
        entries[f"{top}subtitles/{name}"] = folder / name
    return entries


def package_deliverable(store, ref: ArtifactRef) -> ArtifactRef:
    """The client package of deliverables version `ref`, published if it is not yet."""
    manifest = store.manifest(ref)
    chain = chain_of(store, ref)
    approvals = _approvals(store, chain, ref)
    payload = {"deliverables": ref.version, "approvals": approvals, "code": CODE_VERSION}
    package = ArtifactRef(ref.client, ref.character, ASSET, content_version(payload))
    folder = store.path(ref)
    top = f"{ref.client}-{ref.character}/"

    def build(stage: Path) -> dict[str, Any]:
        entries: dict[str, Path | bytes] = dict(_entries(folder, manifest, top))
        summary = _summary(ref, folder, manifest, chain, approvals)
        entries[top + SUMMARY] = summary.encode()
        write_zip(stage / PACKAGE, entries, prefix=top)
        return dict(
            code_version=CODE_VERSION,
            inputs={DELIVERABLES: ref.version},
            parameters=payload,
            extra={"package": PACKAGE, "entries": sorted(entries) + [top + SUMS]},
        )

    publish_one(store, package, build, log=lambda _: None)
    return package


def deliverable_ref(store, client: str, character: str, version: str | None) -> ArtifactRef:
    """A finished deliverables version of the character (its current one when None)."""
    if not version:
        return store.current(client, character, DELIVERABLES)
    ref = ArtifactRef(client, character, DELIVERABLES, version)
    if not store.is_complete(ref):
        raise ArtifactError(f"no finished deliverables version {version} of {client}/{character}")
    return ref
