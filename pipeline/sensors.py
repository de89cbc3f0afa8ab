"""The brief inbox sensor: a new or changed brief becomes a partition and a run, untouched.

Each tick hashes every brief file in the inbox (folders, or S3 prefixes mirrored locally) and
parses only the ones whose bytes changed since the cursor. A valid brief adds its
`client/character` partition and requests a run of the chain whose run key carries the brief's
content hash, so an unchanged brief (or one whose edit only touched comments or layout) is never
run twice. An invalid brief gets its problems in the sensor's log and in `<brief>.errors.txt`
next to it (next to the S3 object too), removed again once the brief is fixed; the other briefs
of the tick run as usual.

No file can stop a tick. Only regular files of at most 1 MB are read, without blocking (a FIFO,
a directory named `x.yaml`, a link to /dev/zero or to a file outside the inbox, an unreadable
file: each is reported like an invalid brief); YAML nesting is capped (resources.domain.brief);
an errors file that cannot be written (a read-only inbox) is reported in the log and on the
tick; and parsing stops after TICK_BUDGET_S seconds, the rest carried over by the cursor.

The run reads the brief the sensor validated: its YAML travels in the run's config for
character_brief (BRIEF_CONFIG), so a copy dropped in the inbox while the run waits in the queue
cannot change or fail it. A second brief for a character that already runs is reported on the
second file; the first keeps its partition.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    AddDynamicPartitionsRequest,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from assets.partitions import CHARACTERS
from pipeline.jobs import character_video_job
from pipeline.settings import LICENCE_FACTS_WHERE, Settings, run_placement_tags
from resources.brief_files import partition_conflicts
from resources.domain.brief import BriefError, read_brief_bytes
from resources.domain.chain import RUN_NAMES
from resources.domain.client_profile import brief_identity, parse_client_brief, profile_digest
from resources.domain.licence_check import licence_problems
from resources.domain.licences import StudioFacts
from resources.inbox import BriefInbox
from resources.storage.artifact_store import write_atomic
from resources.storage.permissions import FILE_MODE

# What a brief's run materializes: the chain, then the client's report.
BRIEF_RUN_TARGET = AssetSelection.assets(*RUN_NAMES)


def brief_run_tags(
    source: str,
    version: str,
    settings: Settings | None = None,
    *,
    key: str = "",
    launched_by: str = "sensor",
) -> dict[str, str]:
    """A brief's run tags: the chain job's own (GPUs, retries), its placement, the brief's.

    The placement (`ecs/run_task_kwargs`: cluster, capacity provider) comes from the settings
    now, when the run is submitted, not from the code location's import. `character` and
    `brief/file` are what a producer recognises a run by in the UI's run list.
    """
    job_tags = {**(character_video_job.tags or {}), **(character_video_job.run_tags or {})}
    named = {"character": key} if key else {}
    return {
        **job_tags,
        **run_placement_tags(job_tags, settings),
        **named,
        "brief/file": Path(source).name,
        "brief/source": source,
        "brief/version": version,
        "launched_by": launched_by,
    }


def brief_run_config(source: str, raw: bytes) -> dict:
    """Run config handing character_brief the exact brief the sensor validated."""
    return {"ops": {"character_brief": {"config": {"source": source, "brief_yaml": raw.decode()}}}}


ERRORS_SUFFIX = ".errors.txt"
# Parse at most this many changed briefs per tick, so a tick stays well inside Dagster's
# sensor timeout when thousands of briefs arrive at once; the cursor carries the rest over.
MAX_CHANGED_PER_TICK = 1000
# And for at most this long: Dagster gives a sensor evaluation 60 s by default
# (DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS); a brief is at most 1 MB and 50 levels deep, so one
# parse is bounded, and the briefs left when the budget is spent wait for the next tick.
TICK_BUDGET_S = 20.0
CURSOR_FORMAT = "v1:"

OK, INVALID, DUPLICATE = "ok", "invalid", "duplicate"


@dataclass
class BriefState:
    """What the sensor remembers of one brief file between ticks."""

    sha: str  # first 16 hex digits of sha256 of the file's bytes
    status: str = OK
    key: str = ""  # partition key of a valid brief
    brief: str = ""  # first 16 hex digits of the brief's content hash
    ran: str = ""  # the `brief` value a run was last requested for

    def pack(self) -> list[str]:
        return [self.sha, self.status, self.key, self.brief, self.ran]


@dataclass
class Tick:
    """The outcome of one look at the inbox."""

    state: dict[str, BriefState]
    run_requests: list[RunRequest] = field(default_factory=list)
    new_partitions: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    problems_pt: dict[str, list[str]] = field(default_factory=dict)  # the same, in Portuguese
    deferred: int = 0  # changed briefs left for the next tick
    unreported: list[str] = field(default_factory=list)  # errors files that could not be written


def errors_file(brief: Path) -> Path:
    return brief.with_name(brief.name + ERRORS_SUFFIX)


def encode_cursor(state: dict[str, BriefState]) -> str:
    """The state as a compact cursor: zlib-compressed JSON, base64 (10,000 briefs fit easily)."""
    packed = json.dumps({name: s.pack() for name, s in sorted(state.items())}).encode()
    return CURSOR_FORMAT + base64.b64encode(zlib.compress(packed, 9)).decode()


def decode_cursor(cursor: str | None) -> dict[str, BriefState]:
    """The state a cursor holds; an empty or unreadable cursor starts afresh (briefs rescanned)."""
    if not cursor or not cursor.startswith(CURSOR_FORMAT):
        return {}
    try:
        packed = json.loads(zlib.decompress(base64.b64decode(cursor[len(CURSOR_FORMAT) :])))
    except (ValueError, zlib.error):
        return {}
    return {name: BriefState(*values) for name, values in packed.items()}


def write_errors_locally(brief: Path, text: str) -> None:
    """`<brief>.errors.txt`, readable by no one the brief itself is not readable by."""
    try:
        mode = FILE_MODE & brief.lstat().st_mode
    except OSError:
        mode = FILE_MODE & 0o600
    write_atomic(errors_file(brief), text, mode=mode)


def remove_errors_locally(brief: Path) -> None:
    errors_file(brief).unlink(missing_ok=True)


def read_in_folder(path: Path) -> bytes:
    """A brief found in an inbox folder: a regular file under 1 MB; links are not followed."""
    return read_brief_bytes(path, follow_symlinks=False)


def scan_inbox(
    files: list[Path],
    state: dict[str, BriefState],
    known_partitions: set[str],
    *,
    log: Callable[[str], None] = print,
    max_changed: int = MAX_CHANGED_PER_TICK,
    write_errors: Callable[[Path, str], None] = write_errors_locally,
    remove_errors: Callable[[Path], None] = remove_errors_locally,
    read: Callable[[Path], bytes] = read_in_folder,
    budget_s: float = TICK_BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
    facts: StudioFacts | None = None,
) -> Tick:
    """Compare the inbox with the previous state; what to run, add and report this tick.

    A brief whose models' licences the studio's `facts` (default: the settings' defaults) would
    break is refused like an invalid one, with the same lines as `validate`.
    """
    facts = facts or StudioFacts()
    new_state: dict[str, BriefState] = {}
    problems: dict[str, list[str]] = {}
    problems_pt: dict[str, list[str]] = {}
    changed: set[str] = set()
    raws: dict[str, bytes] = {}  # the bytes of each brief that may be run this tick
    deferred = 0
    deadline = clock() + budget_s
    profiles: dict[Path, str] = {}  # each local folder's client profiles, read once a tick

    def look(path: Path) -> tuple[bytes | None, str | None, list[str]]:
        raw, sha, refused = _look(path, read)
        folder = path.parent
        if folder not in profiles:
            profiles[folder] = profile_digest(folder) if folder.is_dir() else ""
        if sha is not None and not refused and profiles[folder]:  # an edited profile: changed
            sha = hashlib.sha256(f"{sha}:{profiles[folder]}".encode()).hexdigest()[:16]
        return raw, sha, refused

    looked = [(path, *look(path)) for path in files]
    # The smallest changed briefs are parsed first: a producer's brief of a few kilobytes is
    # never kept waiting behind megabyte files that take the tick's budget (they wait instead).
    for path, raw, sha, refused in sorted(looked, key=lambda item: len(item[1] or b"")):
        if sha is None:  # removed since listed: it is gone
            continue
        name = str(path)
        old = state.get(name)
        if old is not None and old.sha == sha:
            new_state[name] = BriefState(*old.pack())
            if raw is not None and old.status in (OK, DUPLICATE) and old.brief != old.ran:
                raws[name] = raw  # validated before, not run yet (it was a duplicate)
            continue
        if len(changed) >= max_changed or clock() > deadline:
            deferred += 1
            if old is not None:  # keep what we knew; it is looked at again next tick
                new_state[name] = BriefState(*old.pack())
            continue
        changed.add(name)
        ran = old.ran if old else ""
        try:
            if raw is None:
                raise BriefError(name, refused)
            brief = parse_client_brief(raw, name)
            refused = licence_problems(brief, facts, LICENCE_FACTS_WHERE).refused
            if refused:
                raise BriefError.of(name, refused)
        except BriefError as error:
            new_state[name] = BriefState(sha, INVALID, ran=ran)
            problems[name] = error.problems
            problems_pt[name] = error.problems_pt
            continue
        except Exception as error:  # noqa: BLE001 - no file may stop a tick for the others
            new_state[name] = BriefState(sha, INVALID, ran=ran)
            problems[name] = problems_pt[name] = [f"(file): cannot be read: {_reason(error)}"]
            continue
        identity = brief_identity(brief, path.parent)
        new_state[name] = BriefState(sha, OK, brief.partition_key, identity, ran)
        raws[name] = raw

    _mark_duplicates(new_state, problems, changed, state)
    tick = Tick(new_state, problems=problems, problems_pt=problems_pt, deferred=deferred)
    tick.unreported = _sync_error_files(
        new_state, state, problems, log, write_errors, remove_errors
    )

    for name, entry in sorted(new_state.items()):
        if entry.status != OK or entry.brief == entry.ran:
            continue
        tick.run_requests.append(
            RunRequest(
                run_key=f"{entry.key}@{entry.brief}",
                partition_key=entry.key,
                tags=brief_run_tags(name, entry.brief, key=entry.key),
                run_config=brief_run_config(name, raws[name]),
            )
        )
        entry.ran = entry.brief
        if entry.key not in known_partitions and entry.key not in tick.new_partitions:
            tick.new_partitions.append(entry.key)
    return tick


def _look(path: Path, read: Callable[[Path], bytes]) -> tuple[bytes | None, str | None, list[str]]:
    """(bytes, sha, refusal) of one inbox file; sha None when the file went away."""
    try:
        raw = read(path)
        return raw, hashlib.sha256(raw).hexdigest()[:16], []
    except BriefError as error:
        if not path.exists() and not path.is_symlink():
            return None, None, []
        # Not a readable brief (a FIFO, a directory, too large...): reported once, until what
        # is refused changes (a different problem is a different "content").
        return (
            None,
            "!" + hashlib.sha256("\n".join(error.problems).encode()).hexdigest()[:15],
            (error.problems),
        )


def skip_reason(tick: Tick) -> str | None:
    """The invalid briefs of a tick and every problem of each, in English and Portuguese.

    Also what the tick could not do: an errors file it could not write (a read-only inbox),
    changed briefs left for the next tick.
    """
    if not tick.problems and not tick.unreported and not tick.deferred:
        return None
    parts = []
    for name, lines in sorted(tick.problems.items()):
        pt = tick.problems_pt.get(name, [])
        text = "; ".join(lines)
        if pt and pt != lines:
            text += " | pt-BR: " + "; ".join(pt)
        parts.append(f"{Path(name).name} was not run / não foi executado: {text}")
    parts += tick.unreported
    if tick.deferred:
        parts.append(f"{tick.deferred} changed brief(s) left for the next tick")
    return "\n".join(parts)


def _mark_duplicates(
    new_state: dict[str, BriefState],
    problems: dict[str, list[str]],
    changed: set[str],
    old_state: dict[str, BriefState],
) -> None:
    """Two briefs for one client/character: the one already running keeps it, a copy waits.

    If exactly one of them held the partition before this tick, it stays valid (its run, which
    carries its own brief, is not disturbed) and only the others are reported. Two new ones at
    once: neither runs until one of them is removed (resources.brief_files.partition_conflicts).
    A copy is reported once, when it appears or changes, not on every tick it waits.
    """
    keys = {n: e.key for n, e in new_state.items() if e.status in (OK, DUPLICATE) and e.key}
    held = {n: was.key for n, was in old_state.items() if was.status == OK}
    conflicts = partition_conflicts(keys, held)
    for name, key in keys.items():
        entry, conflict = new_state[name], conflicts.get(key)
        if conflict is None or name == conflict.holder:
            entry.status = OK
            continue
        was = old_state.get(name)
        if name in changed or was is None or was.status != DUPLICATE:
            problems[name] = [conflict.problem(name)]
        entry.status = DUPLICATE


def _sync_error_files(
    new_state: dict[str, BriefState],
    old_state: dict[str, BriefState],
    problems: dict[str, list[str]],
    log: Callable[[str], None],
    write_errors: Callable[[Path, str], None],
    remove_errors: Callable[[Path], None],
) -> list[str]:
    """Write and remove errors files; returns what could not be done (also logged)."""
    failed: list[str] = []

    def attempt(action: Callable[[Path], None], brief: Path, what: str) -> None:
        # A read-only inbox, a directory named like the errors file, S3 refusing the put:
        # the tick still runs the good briefs; the failure is in the log and on the tick.
        try:
            action(brief)
        except Exception as error:  # noqa: BLE001 - whatever the store raises, report it
            line = f"{brief.name}: cannot {what} {errors_file(brief).name}: {_reason(error)}"
            log(line)
            failed.append(line)

    for name, lines in sorted(problems.items()):
        for line in lines:
            log(f"{name}: {line}")
        text = (
            f"{Path(name).name} was not run. Fix these problems and save the brief again;\n"
            "this file disappears when the brief is valid.\n\n" + "\n".join(lines) + "\n"
        )
        attempt(lambda brief, text=text: write_errors(brief, text), Path(name), "write")
    for name, entry in new_state.items():
        was = old_state.get(name)
        if entry.status == OK and (was is None or was.status != OK):
            attempt(remove_errors, Path(name), "remove")
    for name, was in old_state.items():
        if name not in new_state and was.status != OK:  # the brief is gone: so is its report
            attempt(remove_errors, Path(name), "remove")
    return failed


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


@sensor(
    job=character_video_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="New or changed briefs in the inbox: validate, add the partition, run the chain.",
)
def brief_inbox_sensor(context: SensorEvaluationContext, inbox: BriefInbox) -> SensorResult:
    """Turn new or changed briefs into partitions and runs; report invalid ones next to them."""
    state = decode_cursor(context.cursor)
    known = set(context.instance.get_dynamic_partitions(CHARACTERS))
    tick = scan_inbox(
        inbox.files(),
        state,
        known,
        log=context.log.warning,
        write_errors=lambda brief, text: inbox.write_report(brief, ERRORS_SUFFIX, text),
        remove_errors=lambda brief: inbox.remove_report(brief, ERRORS_SUFFIX),
        read=inbox.read,
        facts=Settings.from_env().studio_facts(),
    )
    for request in tick.run_requests:
        context.log.info(f"brief {request.tags['brief/source']}: run {request.run_key}")
    if tick.deferred:
        context.log.info(f"{tick.deferred} changed brief(s) left for the next tick")
    return SensorResult(
        # Dagster shows a skip reason on the tick (Automation > the sensor): an invalid brief is
        # seen there, not only as one more tick that "requested 0 runs". (Only a tick without
        # runs can carry one; with runs, the problems are in the tick's log and errors files.)
        skip_reason=None if tick.run_requests else skip_reason(tick),
        run_requests=tick.run_requests,
        dynamic_partitions_requests=(
            [AddDynamicPartitionsRequest(CHARACTERS, tick.new_partitions)]
            if tick.new_partitions
            else []
        ),
        cursor=encode_cursor(tick.state),
    )
