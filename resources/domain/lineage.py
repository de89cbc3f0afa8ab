"""Lineage per client: the chain of artifacts behind each deliverable, read from the manifests.

Every manifest names the version of the artifact it was built from (`inputs`), so a deliverable's
lineage is found by following those links back to the brief snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from resources.domain.artifacts import ArtifactError, ArtifactReader, ArtifactRef
from resources.domain.brief import SLUG_PATTERN, Brief
from resources.domain.chain import FINAL_STAGE, PACKAGE_ASSET, STAGES
from resources.domain.licences import PAID_WORK_PT, terms_pt

FINAL_ASSET = FINAL_STAGE


class LineageError(LookupError):
    """No lineage where one was asked for: the message names the client or character."""


@dataclass(frozen=True)
class Link:
    """One artifact in a deliverable's chain, as its manifest describes it."""

    asset: str
    version: str
    code_version: str
    created_at: str
    models: list[str]
    seeds: Any
    compute: dict[str, Any]
    parameters: dict[str, Any] = field(repr=False)
    licence: str = ""  # the video model's licence and whether it allows paid work
    licence_of: str = ""  # whose licence `licence` is: the video model, the voice engine
    # Each model's licence and its conditions, in the order of `models` ("" where the manifest
    # predates licence records).
    licences: list[str] = field(default_factory=list)
    # The same licences as recorded (dicts; a name or None for older manifests), for reports
    # in another language.
    licence_records: list[Any] = field(default_factory=list, repr=False)
    licence_record: Any = field(default=None, repr=False)  # `licence` as recorded

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> Link:
        return cls(
            asset=manifest["asset"],
            version=manifest["version"],
            code_version=str(manifest.get("code_version", "")),
            created_at=manifest.get("created_at", ""),
            models=[f"{m['id']}@{m['revision']}" for m in manifest.get("models", [])],
            seeds=manifest.get("seeds", []),
            compute=manifest.get("compute") or {},
            parameters=manifest.get("parameters", {}),
            licence=_licence_text(manifest.get("licence")),
            licence_of=_licence_subject(manifest.get("licence")),
            licences=[_licence_text(m.get("licence")) for m in manifest.get("models", [])],
            licence_records=[m.get("licence") for m in manifest.get("models", [])],
            licence_record=manifest.get("licence"),
        )


@dataclass(frozen=True)
class Deliverable:
    """A deliverable version and the chain that made it, newest stage first."""

    client: str
    character: str
    version: str
    current: bool
    chain: list[Link]
    packages: list[str] = field(default_factory=list)  # client packages made of this version

    @property
    def brief_sha256(self) -> str:
        return self.chain[-1].parameters.get("sha256", "") if self.chain else ""


def chain_of(store: ArtifactReader, ref: ArtifactRef) -> list[Link]:
    """The artifact `ref` and everything upstream of it, following each manifest's inputs.

    The walk follows each stage's upstream (resources.domain.chain); what a stage also read
    (`Stage.reads`: the narration a cut mixed) is listed once, before the brief snapshot.
    """
    links: list[Link] = []
    seen: set[str] = set()
    side: dict[str, ArtifactRef] = {}
    brief_version = None
    while True:
        manifest = store.manifest(ref)
        links.append(Link.from_manifest(manifest))
        seen.add(ref.key)
        # Stages that read the brief name the snapshot they read; the first one seen wins, as
        # a reused upstream artifact may come from an older snapshot of the same character.
        brief_version = brief_version or manifest.get("brief_version")
        inputs = manifest.get("inputs") or {}
        if not inputs:
            break
        entry = STAGES.get(ref.asset)
        upstream = entry.upstream if entry is not None and entry.upstream in inputs else None
        asset, version = (upstream, inputs[upstream]) if upstream else sorted(inputs.items())[0]
        for other, other_version in inputs.items():
            if other != asset:
                side.setdefault(other, ArtifactRef(ref.client, ref.character, other, other_version))
        if asset == "character_brief" and brief_version:
            version = brief_version
        ref = ArtifactRef(ref.client, ref.character, asset, version)
        if ref.key in seen:
            raise ArtifactError(f"manifest inputs loop back to {ref.key}")
    extra = [Link.from_manifest(store.manifest(r)) for r in side.values() if r.key not in seen]
    return links[:-1] + extra + links[-1:] if extra else links


def characters_of(store: ArtifactReader, client: str) -> list[str]:
    """The characters of `client` that have artifacts in the store."""
    if not re.match(SLUG_PATTERN, client):
        raise LineageError(f"client {client!r} is not a slug")
    return store.characters(client)


def deliverables_of(
    store: ArtifactReader, client: str, character: str | None = None
) -> list[Deliverable]:
    """Every deliverable version of a client (or one character), each with its chain."""
    characters = [character] if character else characters_of(store, client)
    found: list[Deliverable] = []
    for name in characters:
        current = _current_version(store, client, name, FINAL_ASSET)
        for version in store.versions(client, name, FINAL_ASSET):
            ref = ArtifactRef(client, name, FINAL_ASSET, version)
            if not store.is_complete(ref):
                continue
            chain = chain_of(store, ref)
            packages = packages_of(store, ref)
            found.append(Deliverable(client, name, version, version == current, chain, packages))
    # Oldest first per character, so the current one reads last.
    found.sort(key=lambda d: (d.character, d.chain[0].created_at, d.version))
    if not found:
        who = f"{client}/{character}" if character else client
        raise LineageError(f"no deliverables for {who} under {store.root_path}")
    return found


def packages_of(store: ArtifactReader, ref: ArtifactRef) -> list[str]:
    """The client packages (their versions) made from deliverables version `ref`."""
    found = []
    for version in store.versions(ref.client, ref.character, PACKAGE_ASSET):
        package = ArtifactRef(ref.client, ref.character, PACKAGE_ASSET, version)
        if store.is_complete(package):
            inputs = store.manifest(package).get("inputs") or {}
            if inputs.get(FINAL_ASSET) == ref.version:
                found.append(version)
    return sorted(found)


def is_up_to_date(store: ArtifactReader, brief: Brief) -> bool:
    """Whether the character's current deliverable was made from exactly this brief."""
    current = _current_version(store, brief.client, brief.character.id, FINAL_ASSET)
    if current is None:
        return False
    ref = ArtifactRef(brief.client, brief.character.id, FINAL_ASSET, current)
    try:
        chain = chain_of(store, ref)
    except ArtifactError:
        return False
    made_from = chain[-1].parameters
    # A snapshot with re-rolls merged in names the file's own brief separately.
    return made_from.get("written_sha256", made_from.get("sha256")) == brief.content_hash()


def format_text(deliverables: list[Deliverable]) -> str:
    """The lineage as plain text for the terminal: one block per deliverable."""
    lines: list[str] = []
    for d in deliverables:
        mark = " (current)" if d.current else ""
        lines.append(f"{d.client}/{d.character} deliverable {d.version}{mark}")
        for link in d.chain:
            lines.append(
                f"  {link.asset:<17} {link.version}  code v{link.code_version}  {link.created_at}"
            )
            if link.models:
                lines.append(f"    models: {', '.join(link.models)}")
            for model, licence in zip(link.models, link.licences, strict=False):
                lines.append(f"    licence of {model}: {licence or 'not recorded'}")
            if link.licence and link.licence not in link.licences:
                whose = f" of {link.licence_of}" if link.licence_of else ""
                lines.append(f"    licence{whose}: {link.licence}")
            if link.seeds:
                lines.append(f"    seeds:  {_seeds_text(link.seeds)}")
            if link.compute:
                lines.append(f"    compute: {_compute_text(link.compute)}")
        lines.append(f"    brief sha256: {d.brief_sha256}")
        for package in d.packages:
            lines.append(f"  {PACKAGE_ASSET:<17} {package}  package.zip for the client")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def format_markdown(deliverable: Deliverable, lang: str = "en") -> str:
    """One deliverable's chain as a markdown table (Dagster metadata, the client's report).

    In Portuguese a model is named with its licence's name only: the report's licence table
    says each one's conditions in Portuguese."""
    pt = lang != "en"
    rows = [
        "| etapa | versão | código | modelos | seeds | cálculo |"
        if pt
        else "| asset | version | code | models | seeds | compute |",
        "|---|---|---|---|---|---|",
    ]
    for link in deliverable.chain:
        models = _with_licence_names(link) if pt else _with_licences(link)
        rows.append(
            f"| {link.asset} | `{link.version}` | v{link.code_version} | "
            f"{'<br>'.join(models) or '-'} | "
            f"{_seeds_text(link.seeds) or '-'} | "
            f"{_compute_text(link.compute, lang) if link.compute else '-'} |"
        )
    return "\n".join(rows)


def licences_table(deliverable: Deliverable, lang: str = "en") -> str:
    """Every model that touched the deliverable, once, with its licence and conditions."""
    pt = lang != "en"
    rows = ["| modelo | licença e condições |" if pt else "| model | licence and conditions |"]
    rows.append("|---|---|")
    missing = "não registrada" if pt else "not recorded"
    found = model_licences(deliverable.chain, lang)
    rows += [f"| {model} | {licence or missing} |" for model, licence in found.items()]
    return "\n".join(rows)


def model_licences(chain: list[Link], lang: str = "en") -> dict[str, str]:
    """Each model of a chain, once, with its licence and conditions in `lang` ('' when its
    manifest recorded none): the client's report and package list them."""
    found: dict[str, str] = {}
    for link in chain:
        records = link.licence_records or [None] * len(link.models)
        for model, licence, record in zip(link.models, link.licences, records, strict=False):
            found.setdefault(model, licence if lang == "en" else _licence_text_pt(record))
    return found


def _licence_text_pt(record: Any) -> str:
    """'Apache-2.0 (trabalho pago: sim; sem condições além do aviso de licença)'."""
    if isinstance(record, str):
        return record
    if not isinstance(record, dict) or not record.get("licence"):
        return ""
    paid = PAID_WORK_PT.get(record.get("paid_work", "unknown"), record.get("paid_work"))
    return f"{record['licence']} (trabalho pago: {paid}; {terms_pt(record)})"


def _with_licences(link: Link) -> list[str]:
    """Each model of a link followed by its licence, for the markdown table."""
    cells = [
        f"{model} ({licence})" if licence else model
        for model, licence in zip(link.models, link.licences, strict=False)
    ]
    if link.licence and link.licence not in link.licences:
        whose = link.licence_of
        cells.append(f"{whose} ({link.licence})" if whose else link.licence)
    return cells


def _with_licence_names(link: Link) -> list[str]:
    """Each model of a link followed by its licence's name (the conditions are said apart)."""
    records = link.licence_records or [None] * len(link.models)
    cells = [
        f"{model} ({name})" if (name := _licence_name(record)) else model
        for model, record in zip(link.models, records, strict=False)
    ]
    if link.licence and link.licence not in link.licences:
        name = _licence_name(link.licence_record) or link.licence
        cells.append(f"{link.licence_of} ({name})" if link.licence_of else name)
    return cells


def _licence_name(record: Any) -> str:
    """The licence's name in a manifest's licence record (a bare name for an older record)."""
    if isinstance(record, dict):
        return str(record.get("licence") or "")
    return record if isinstance(record, str) else ""


def _current_version(store: ArtifactReader, client: str, character: str, asset: str) -> str | None:
    try:
        return store.current(client, character, asset).version
    except ArtifactError:
        return None


def _licence_subject(record: Any) -> str:
    """The model or engine a stage's own licence record is about ('' when it does not say)."""
    if not isinstance(record, dict):
        return ""
    return str(record.get("model") or record.get("engine") or "")


def _licence_text(record: Any) -> str:
    """'CC BY-NC-SA 4.0 (paid work: no; non-commercial: no paid work; ...)' from a manifest's
    licence record; a bare name for an older record; '' without one."""
    if isinstance(record, str):
        return record
    if not isinstance(record, dict) or not record.get("licence"):
        return ""
    terms = record.get("terms")
    paid = f"paid work: {record.get('paid_work', 'unknown')}"
    return f"{record['licence']} ({paid}{'; ' + terms if terms else ''})"


def _seeds_text(seeds: Any) -> str:
    if isinstance(seeds, dict):
        return ", ".join(f"{k}={v}" for k, v in seeds.items())
    if isinstance(seeds, list):
        return ", ".join(str(s) for s in seeds)
    return str(seeds)


def _compute_text(compute: dict[str, Any], lang: str = "en") -> str:
    """'2.5 CPU-s on cpu, ~$0.0003'; in Portuguese '2,5 s de CPU em cpu, ~US$ 0,0003'."""
    gpu, seconds = bool(compute.get("gpu_s")), float(compute.get("seconds", 0))
    cost, device = compute.get("estimated_cost_usd"), compute.get("device", "?")
    if lang == "en":
        priced = f"~${cost:.4f}" if cost is not None else "unpriced"
        return f"{seconds:.1f} {'GPU-s' if gpu else 'CPU-s'} on {device}, {priced}"
    priced = f"~US$ {cost:.4f}".replace(".", ",") if cost is not None else "sem preço"
    amount = f"{seconds:.1f}".replace(".", ",")
    return f"{amount} s de {'GPU' if gpu else 'CPU'} em {device}, {priced}"
