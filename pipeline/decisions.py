"""Producer decisions: approve or reject a gate, re-roll or accept a shot or its line, promote,
issue or revoke a client's review link, save a brief into the inbox.

The CLI (`python -m pipeline approve|reject|reroll|accept|promote|client-link`) and the review
app call these
and nothing else to decide: each takes what the producer typed (command-line arguments or form
fields), checks it, writes the durable record, and raises DecisionError, whose lines a producer
can act on, when it cannot. Starting the chain afterwards is the caller's (a run in this
process, a queued run, the app's background run).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.launch import brief_snapshot, brief_source
from pipeline.settings import ENV_CLIENT_LINK_SECRET, LICENCE_FACTS_WHERE, build_resource
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.brief import MAX_BRIEF_BYTES, MAX_SEED, Brief, BriefError, load_brief
from resources.domain.promote import set_tier
from resources.domain.registry import VIDEO_MODELS
from resources.domain.review import (
    Override,
    ReviewError,
    gate_asset,
    issue_link,
    now_iso,
    record_brief_save,
    record_override,
    record_restart,
    record_review,
    record_stop,
    revoke_link,
    written_line_seed,
)
from resources.domain.tiers import TIER_NAMES
from resources.qc.acceptance import accept_line as record_line
from resources.qc.acceptance import accept_shot as record_acceptance


class DecisionError(ValueError):
    """A decision that cannot be recorded; one line per problem, each naming what is wrong."""

    def __init__(self, *lines: str):
        self.lines = list(lines)
        super().__init__("\n".join(lines))


@contextmanager
def _as_decision_error(source: str | None = None) -> Iterator[None]:
    """Turn what the store, the review records and the brief raise into a DecisionError."""
    try:
        yield
    except DecisionError:
        raise
    except BriefError as error:
        where = source or error.source
        raise DecisionError(*(f"{where}: {p}" for p in error.problems)) from error
    except (ArtifactError, ReviewError, ValueError) as error:
        raise DecisionError(f"{source}: {error}" if source else str(error)) from error


def review_gate(
    store: Any,
    client: str,
    character: str,
    gate: str,
    decision: str,
    *,
    who: str,
    note: str = "",
    version: str | None = None,
) -> tuple[ArtifactRef, dict[str, Any]]:
    """Approve or reject a gate's version (the current one when `version` is None).

    The artifact reviewed and the record written. A version named explicitly (the app's form,
    for the version the page showed) must be a finished one.
    """
    with _as_decision_error():
        asset = gate_asset(gate)
        if version is None:
            ref = store.current(client, character, asset)
        else:
            ref = ArtifactRef(client, character, asset, version)
            if not store.is_complete(ref):
                raise ArtifactError(f"no finished {ref.key}")
        return ref, record_review(store, ref, decision, who=who, note=note)


def _seed(seed: int | str | None) -> int | None:
    """The seed asked for: a whole number, or None for 'choose one' (an empty form field)."""
    if seed is None:
        return seed
    text = str(seed).strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise DecisionError(f"seed {text[:40]!r}: a seed is a whole number >= 0") from None
    if not 0 <= value <= MAX_SEED:
        # Recorded as asked, a seed the brief's schema refuses would fail every later run.
        raise DecisionError(f"seed {text[:40]}: a seed is a whole number from 0 to {MAX_SEED}")
    return value


def _shots(store: Any, client: str, character: str, shot_id: str) -> tuple[Any, dict, dict]:
    """The brief snapshot, its shots and the written brief's shots by id; `shot_id` among both."""
    with _as_decision_error():
        snapshot = brief_snapshot(store, client, character)
        source = load_brief(brief_source(store, client, character))
    current = {s.id: s for s in snapshot.shots}
    written = {s.id: s for s in source.shots}
    if shot_id not in current or shot_id not in written:
        known = ", ".join(current)
        raise DecisionError(f"{client}/{character}: shots: no shot {shot_id!r}; shots: {known}")
    return snapshot, current, written


def reroll_shot(
    store: Any,
    client: str,
    character: str,
    shot_id: str,
    *,
    seed: int | str | None,
    who: str,
    tier: str | None = None,
) -> Override:
    """Record a re-roll of one shot (a new seed, or a new tier); the next run renders only it.

    With a tier and no seed it is a promotion: the shot keeps its seed (the approved draft's
    shot, now at the new tier). Without either, the new seed is random.
    """
    seed, tier = _seed(seed), (tier or "").strip() or None
    snapshot, current, written = _shots(store, client, character, shot_id)
    previous = current[shot_id].seed
    previous_tier = snapshot.tier_of(shot_id)
    if tier is not None and tier not in TIER_NAMES:
        raise DecisionError(f"tier {tier!r}: one of {', '.join(TIER_NAMES)}")
    if tier is not None and VIDEO_MODELS[snapshot.video.model].is_scene_model:
        raise DecisionError(
            f"{snapshot.video.model} renders every shot in one scene at one tier: "
            "promote the whole brief (python -m pipeline promote BRIEF)"
        )
    if seed is None:
        seed = previous if tier is not None else secrets.randbelow(2**31 - 1)
    if seed == previous and tier in (None, previous_tier):
        if tier is not None:
            raise DecisionError(f"shot {shot_id} already renders at tier {tier}, seed {previous}")
        raise DecisionError(f"shot {shot_id} already renders with seed {previous}")
    override = Override(
        shot=shot_id,
        brief_seed=written[shot_id].seed,
        seed=seed,
        who=who,
        at=now_iso(),
        previous_seed=previous,
        tier=tier,
        previous_tier=previous_tier,
    )
    with _as_decision_error():
        record_override(store, client, character, override)
    return override


def reroll_line(
    store: Any, client: str, character: str, shot_id: str, *, seed: int | str | None, who: str
) -> Override:
    """Record a re-roll of one shot's line: spoken again with a new seed, the picture kept.

    The next run synthesizes that line alone and re-cuts; no shot renders again (a shot timed
    by its line, without `duration_s`, follows its new length). Without a seed it is random.
    """
    seed = _seed(seed)
    snapshot, current, written = _shots(store, client, character, shot_id)
    if current[shot_id].line is None:
        spoken = ", ".join(s.id for s in snapshot.shots if s.line is not None) or "none"
        raise DecisionError(
            f"shot {shot_id} has no line to speak again; shots with lines: {spoken}"
        )
    previous = written_line_seed(current[shot_id])
    if seed is None:
        seed = secrets.randbelow(2**31 - 1)
    if seed == previous:
        raise DecisionError(f"the line of shot {shot_id} is already spoken with seed {previous}")
    override = Override(
        shot=shot_id,
        brief_seed=written_line_seed(written[shot_id]),
        seed=seed,
        who=who,
        at=now_iso(),
        previous_seed=previous,
        line=True,
    )
    with _as_decision_error():
        record_override(store, client, character, override)
    return override


def accept_shot(
    store: Any, client: str, character: str, shot: str, *, by: str, via: str
) -> dict[str, Any]:
    """Accept the current clip of `shot` for the cut whatever its identity score; the record
    (`via`: the command or the app it was accepted with)."""
    with _as_decision_error():
        return record_acceptance(store, client, character, shot, by, via)


def accept_line(
    store: Any, client: str, character: str, shot: str, *, by: str, via: str
) -> dict[str, Any]:
    """Accept the current take of `shot`'s line whatever its CER and voice score; the record."""
    with _as_decision_error():
        return record_line(store, client, character, shot, by, via)


def stop_character(
    store: Any,
    instance: Any,
    client: str,
    character: str,
    *,
    who: str,
    processes: tuple[Any, ...] = (),
) -> list[str]:
    """Stop the character's runs in flight: those on the Dagster `instance` (queued, running in
    a process on this host, or through its launcher) and the local `processes` (the review
    app's own, each in its own session: SIGTERM to its group). Who stopped which is recorded,
    and the run's state says it was stopped; the runs stopped. DecisionError when there is none
    to stop, or one could not be."""
    from pipeline.launch import stop_runs
    from resources.runtime.progress import record_run_state, run_state_key

    who = who.strip()
    if not who:
        raise DecisionError("who: say who stops the run (it is recorded)")
    key = f"{client}/{character}"
    stopped, refused = stop_runs(instance, key) if instance is not None else ([], [])
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
            stopped.append(f"pid {process.pid}")
    if stopped:
        record_stop(store, client, character, who=who, runs=stopped)
        state = store.record(run_state_key(client, character)) or {}
        if state.get("state") == "running":
            record_run_state(store, client, character, state["run_id"], "stopped", detail=who)
    if refused:
        raise DecisionError(*refused)
    if not stopped:
        raise DecisionError(f"{key}: no run in flight to stop")
    return stopped


def restart_character(
    store: Any,
    client: str,
    character: str,
    *,
    who: str,
    ended: tuple[str, str] | None,
    in_flight: bool,
    start: Callable[[], bool],
) -> dict[str, Any]:
    """Run the character's chain again after its last run `ended` (how, run id): it failed,
    was stopped, or went silent with no process left to say more. What that run finished is
    reused; `start` starts the chain (False: one is in flight already). Who asked is recorded;
    the record. DecisionError while a run is `in_flight`, when there is nothing to run again,
    or when it could not start."""
    who = who.strip()
    if not who:
        raise DecisionError("who: say who runs it again (it is recorded)")
    key = f"{client}/{character}"
    if in_flight:
        raise DecisionError(f"{key}: a run is in flight already")
    if ended is None:
        raise DecisionError(
            f"{key}: its last run did not fail, stop or go silent: there is nothing to run again"
        )
    if not start():
        raise DecisionError(f"{key}: a run is in flight already")
    return record_restart(store, client, character, who=who, runs=[ended[1]])


def promote_brief(path: Path | str, tier: str) -> bool:
    """Set the brief's `video.tier` (same shots, same seeds); False when it already was `tier`.

    The brief must be valid before and after: a rewrite that would break it is refused.
    """
    with _as_decision_error(str(path)):
        load_brief(path)
        changed = set_tier(Path(path), tier)
        load_brief(path)
    return changed


def issue_client_link(
    store: Any, secret: str | None, client: str, days: float | str, *, base_url: str
) -> tuple[str, dict[str, Any]]:
    """A new signed review link for `client`, valid `days` days: its URL under `base_url` (the
    review app's address) and its record. The token is shown once and not kept."""
    if not secret:
        raise DecisionError(f"set {ENV_CLIENT_LINK_SECRET} to sign client links")
    try:
        days = float(days)
    except ValueError:
        raise DecisionError(f"days: {days!r} is not a number of days") from None
    with _as_decision_error():
        token, record = issue_link(store, secret, client, days)
    return f"{base_url.rstrip('/')}/share/{token}", record


def revoke_client_link(store: Any, client: str, nonce: str, *, by: str) -> None:
    """Revoke `client`'s link `nonce` for good: it opens nothing from now on."""
    if not by.strip():
        raise DecisionError("who: say who revokes the link")
    with _as_decision_error():
        revoke_link(store, client, nonce, by.strip())


@dataclass(frozen=True)
class BriefSave:
    """A brief typed in the review app, checked as the inbox sensor will check it, and the inbox
    file it is saved as: a new file, or the one that holds the character's brief (`replaces`)."""

    brief: Brief
    raw: bytes
    path: Path  # the local file (an S3 inbox's mirror)
    where: str  # the file or the S3 object, as producers and operators name it
    replaces: bool


def check_brief_text(settings: Any, text: str, *, replaces: str = "") -> BriefSave:
    """`text` as an inbox brief: valid, its models' licences allowed by the studio's facts, and
    the only brief of its client/character in the inbox. BriefError (English and Portuguese
    lines) otherwise.

    `replaces`: the inbox file the text is to replace (a brief in error, or a character's brief,
    which stays that character's); empty: a new brief, saved in the inbox's first folder as
    `<client>-<character>.yaml`, or `-2`, `-3`... when that name is taken.
    """
    from resources.brief_files import check_brief
    from resources.domain.licence_check import licence_problems

    inbox = build_resource("inbox", settings)
    raw = text.replace("\r\n", "\n").encode()  # a browser sends a text area's lines with CRLF
    if len(raw) > MAX_BRIEF_BYTES:
        raise BriefError(
            "(text)",
            [f"(file): {len(raw):,} bytes; a brief is at most {MAX_BRIEF_BYTES:,} bytes"],
            [f"(file): {len(raw):,} bytes; um briefing tem no máximo {MAX_BRIEF_BYTES:,} bytes"],
        )
    entries = list(inbox.scan())
    held = inbox_entry(entries, replaces) if replaces else None
    folder = held.path.parent if held else inbox.folder()
    if folder is None:
        raise BriefError(
            "(inbox)",
            ["(inbox): the inbox lists files only: name a folder or an S3 prefix to save into"],
            ["(inbox): o inbox só lista arquivos: indique uma pasta ou um prefixo S3 para salvar"],
        )
    target = held.path if held else folder / "brief.yaml"  # the folder gives the profile
    brief = check_brief(raw, target)
    key = brief.partition_key
    if held and held.brief and held.brief.partition_key != key:
        was = held.brief.partition_key
        raise BriefError(
            str(target),
            [f"character: this file is the brief of {was}; this text is {key}'s "
             "(a new character is a new brief)"],
            [f"character: este arquivo é o briefing de {was}; este texto é de {key} "
             "(um personagem novo é um briefing novo)"],
        )  # fmt: skip
    refused = licence_problems(brief, settings.studio_facts(), LICENCE_FACTS_WHERE).refused
    if refused:
        raise BriefError.of(str(target), refused)
    others = [e.path for e in entries if e.brief and e.brief.partition_key == key]
    others = [inbox.location(p) for p in others if p != target]
    if others:
        raise BriefError(
            str(target),
            [f"character: {key} has a brief in the inbox already, {others[0]}: edit that one "
             "(keep one brief per client/character)"],
            [f"character: {key} já tem um briefing no inbox, {others[0]}: edite aquele "
             "(mantenha um briefing por cliente/personagem)"],
        )  # fmt: skip
    if not held:
        taken = {p.name for p in folder.iterdir()}  # the scan above mirrored an S3 prefix
        stem = f"{brief.client}-{brief.character.id}"
        names = (f"{stem}.yaml", *(f"{stem}-{n}.yaml" for n in range(2, 1000)))
        target = folder / next(n for n in names if n not in taken)
    return BriefSave(brief, raw, target, inbox.location(target), held is not None)


def licence_warnings(settings: Any, brief: Brief, lang: str = "en") -> list[str]:
    """The conditions of the brief's models' licences that the studio's facts cannot settle
    (a revenue band unset, say): not refused, for the producer to confirm."""
    from resources.domain.licence_check import licence_problems

    found = licence_problems(brief, settings.studio_facts(), LICENCE_FACTS_WHERE).warnings
    return [warning.line(lang) for warning in found]


def inbox_entry(entries: list[Any], path: str) -> Any:
    """The inbox's entry for the file `path` (as the inbox lists it); BriefError for a file the
    inbox does not list: nothing outside it is ever read or written."""
    for entry in entries:
        if str(entry.path) == path:
            return entry
    raise BriefError(
        path,
        [f"(inbox): {path} is not a brief of the inbox (any more); save the text as a new brief"],
        [f"(inbox): {path} não é (mais) um briefing do inbox; salve o texto como briefing novo"],
    )


def save_brief_text(
    settings: Any, text: str, *, who: str, replaces: str = "", store: Any = None
) -> BriefSave:
    """Check `text` (check_brief_text), write it into the inbox, where the sensor starts its
    run at its next tick, and record that `who` saved it (in `store`, the settings' by default):
    the snapshot of these bytes names its author. BriefError when it cannot be saved."""
    if not who.strip():
        raise BriefError(
            "(form)",
            ["who: say who saves the brief (it is recorded with its snapshot)"],
            ["who: diga quem salva o briefing (fica registrado com o snapshot)"],
        )
    checked = check_brief_text(settings, text, replaces=replaces)
    build_resource("inbox", settings).save(checked.path, checked.raw, new=not checked.replaces)
    brief = checked.brief
    record_brief_save(
        store or build_resource("artifact_store", settings),
        brief.client,
        brief.character.id,
        checked.raw,
        who=who,
        file=checked.where,
    )
    return checked
