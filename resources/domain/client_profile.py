"""A client's profile: the title card, end card and logo every brief of that client gets.

The file is `clients/<client>/client.yaml` in the folder that holds the client's briefs (the
inbox scans only the folder's own *.yaml files, so the profile is never taken for a brief):

```yaml
title_card: {text: "Introdução à Cardiologia", duration_s: 2, background: "#0B3D5C"}
end_card: {text: "acme-health.com.br", duration_s: 2}
logo: {file: logo.png, corner: top-right, opacity: 0.8}  # file: beside client.yaml
say: {PA: "pressão arterial", FC: "frequência cardíaca"}  # how the voice says these terms
```

A brief's own `deliverable.title_card`, `end_card` or `logo` wins over the profile's, and its
`audio.say` over the profile's `say` for a term both give. The profile
is read once per client (cached on its path, size and modification time) and validated like a
brief: one line per problem naming the file and the field. The merged brief carries the logo as a
path relative to the brief's folder; the character_brief snapshot copies the logo and records the
profile's sha256, so both are part of every version made from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError

from resources.domain.brief import (
    Brief,
    BriefError,
    Card,
    Glossary,
    Logo,
    _BriefLoader,
    _Strict,
    parse_brief_bytes,
    read_brief_bytes,
)
from resources.domain.brief_problems import problems_of

PROFILE_FILE = "client.yaml"
LOGO_MAX_BYTES = 5 * 1024 * 1024
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


class ClientProfile(_Strict):
    """What every brief of one client gets unless the brief says otherwise."""

    title_card: Card | None = None
    end_card: Card | None = None
    logo: Logo | None = None
    # How the voice says the client's terms in every brief's lines ({"PA": "pressão arterial"});
    # a brief's own `audio.say` wins for a term both give.
    say: Glossary = Field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """A validated profile file: its fields, where it is and the sha256 of its bytes."""

    fields: ClientProfile
    path: Path
    sha256: str


def profile_path(folder: Path, client: str) -> Path:
    """Where the profile of `client` lives for briefs in `folder`."""
    return folder / "clients" / client / PROFILE_FILE


def load_profile(folder: Path, client: str) -> Profile | None:
    """The client's profile beside briefs in `folder`, or None when there is none."""
    path = profile_path(folder, client)
    if not path.is_file():
        return None
    stat = path.stat()
    return _read(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _read(path: str, size: int, mtime_ns: int) -> Profile:
    """Parse and validate one profile file (cached: read once per client while unchanged)."""
    raw = read_brief_bytes(path)
    try:
        data = _BriefLoader(raw.decode("utf-8")).get_single_data()
    except Exception as error:  # noqa: BLE001 - one line naming the file, whatever broke
        line = f"(file): not a readable YAML profile: {error}".splitlines()[0]
        raise BriefError(path, [line]) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise BriefError(path, ["(file): must be a mapping of title_card, end_card, logo, say"])
    try:
        fields = ClientProfile.model_validate(data)
    except ValidationError as error:
        found = problems_of(error, data, ClientProfile)
        raise BriefError.of(path, found) from None
    if fields.logo is not None:
        problem = logo_problem(Path(path).parent / fields.logo.file)
        if problem:
            raise BriefError(path, [f"logo.file: {problem}"])
    return Profile(fields, Path(path), hashlib.sha256(raw).hexdigest())


def logo_problem(path: Path) -> str | None:
    """Why `path` cannot be a logo (missing, too large, not PNG or JPEG), or None."""
    if not path.is_file():
        return f"{path.name} is not a file beside it"
    if path.stat().st_size > LOGO_MAX_BYTES:
        return f"{path.name} is over {LOGO_MAX_BYTES // (1024 * 1024)} MB"
    with path.open("rb") as handle:
        head = handle.read(8)
    if not any(head.startswith(magic) for magic in _IMAGE_MAGIC):
        return f"{path.name} is not a PNG or JPEG image"
    return None


def profile_digest(folder: Path, client: str | None = None) -> str:
    """16 hex digits of the names and bytes of every file under `folder`/clients/`client` (every
    client's when None), "" when there is none: what changes when a profile or its logo is edited.
    A file too large to be a profile or a logo counts by its size and modification time."""
    base = folder / "clients" / client if client else folder / "clients"
    if not base.is_dir():
        return ""
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.is_symlink()):
        stat = path.stat()
        body = (
            path.read_bytes()
            if stat.st_size <= LOGO_MAX_BYTES
            else b"%d:%d"
            % (
                stat.st_size,
                stat.st_mtime_ns,
            )
        )
        digest.update(path.relative_to(base).as_posix().encode() + b"\0" + body + b"\0")
    return digest.hexdigest()[:16]


def brief_identity(brief: Brief, folder: Path) -> str:
    """16 hex digits naming what a run of `brief` (from `folder`) makes: its content, and its
    client's profile and logo where it has one (an edited profile is a new brief to run)."""
    content = brief.content_hash()
    client = profile_digest(folder, brief.client)
    if not client:
        return content[:16]
    return hashlib.sha256(f"{content}:{client}".encode()).hexdigest()[:16]


def with_client_profile(
    brief: Brief, folder: Path, source: str = "brief"
) -> tuple[Brief, Profile | None]:
    """`brief` (read from `source` in `folder`) with its client's profile filling the
    deliverable fields it leaves out, and the profile (None: the client has none)."""
    deliverable = brief.deliverable
    if deliverable.logo is not None:
        problem = logo_problem(folder / deliverable.logo.file)
        if problem:
            raise BriefError(source, [f"deliverable.logo.file: {problem}"])
    profile = load_profile(folder, brief.client)
    if profile is None:
        return brief, None
    filled = {}
    for name in ("title_card", "end_card"):
        if getattr(deliverable, name) is None and getattr(profile.fields, name) is not None:
            filled[name] = getattr(profile.fields, name)
    if deliverable.logo is None and profile.fields.logo is not None:
        beside = (profile.path.parent / profile.fields.logo.file).relative_to(folder)
        filled["logo"] = profile.fields.logo.model_copy(update={"file": beside.as_posix()})
    update = {"deliverable": deliverable.model_copy(update=filled)} if filled else {}
    glossary = {**profile.fields.say, **brief.audio.say}
    if glossary != brief.audio.say:
        update["audio"] = brief.audio.model_copy(update={"say": glossary})
    return (brief.model_copy(update=update) if update else brief), profile


def parse_client_brief(raw: bytes, source: str) -> Brief:
    """A brief's YAML bytes validated (parse_brief_bytes) and merged with its client's profile
    from the brief's folder: what validate, the sensor and a run read."""
    brief = parse_brief_bytes(raw, source)
    return with_client_profile(brief, Path(source).parent, source)[0]
