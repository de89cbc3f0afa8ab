"""`python -m pipeline`: validate briefs, run the chain in process, register partitions."""

from __future__ import annotations

import argparse
import re
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _briefs_in(paths: list[str]) -> list[Path]:
    from resources.brief_files import briefs_in

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found += briefs_in(path) if path.is_dir() else [path]
    return found


def _read_briefs(raw: str) -> tuple[list, list[str]]:
    """The briefs a command-line argument names, read as the inbox reads them; its problems.

    A folder's briefs are read as the inbox sensor reads a folder (a link is refused); a file
    named on the command line is followed.
    """
    from resources.brief_files import briefs_in, read_entry

    path = Path(raw)
    if not path.is_dir():
        return [read_entry(path, follow_symlinks=True)], []
    try:
        files = briefs_in(path)
    except OSError as error:
        return [], [f"{path}: (file): cannot list the folder: {error.strerror}"]
    if not files:
        return [], [f"{path}: (file): a folder with no briefs (*.yaml, *.yml)"]
    return [read_entry(p, follow_symlinks=False) for p in files], []


def _licences_refuse(source: object, brief) -> bool:
    """Print the brief's licence refusals and warnings (stderr); whether any model is refused.

    The studio's facts (country, audiences, revenue band, paid work) are the settings'.
    """
    from pipeline.settings import LICENCE_FACTS_WHERE, Settings
    from resources.domain.licence_check import licence_problems

    found = licence_problems(brief, Settings.from_env().studio_facts(), LICENCE_FACTS_WHERE)
    for warning in found.warnings:
        print(f"{source}: warning: {warning.line()}", file=sys.stderr)
    for problem in found.refused:
        print(f"{source}: {problem.line()}", file=sys.stderr)
    return bool(found.refused)


def cmd_validate(args: argparse.Namespace) -> int:
    """One line per problem (`file: field: message`); exit 1 if any brief is refused.

    Reads briefs as the inbox sensor does: a FIFO, device, directory or file over 1 MB is
    refused without being read, a symbolic link inside a folder is refused (one named on the
    command line is followed), and two briefs for one client/character are a conflict.
    """
    from pipeline.settings import Settings
    from resources.brief_files import partition_conflicts
    from resources.domain.brief import brief_notes

    settings = Settings.from_env()
    failed, valid = 0, []
    for raw in args.briefs:
        entries, problems = _read_briefs(raw)
        for line in problems:
            print(line, file=sys.stderr)
        failed += len(problems)
        for entry in entries:
            if entry.error is None:
                valid.append(entry)
                continue
            failed += 1
            for problem in entry.error.problems:
                print(f"{entry.path}: {problem}", file=sys.stderr)
    conflicts = partition_conflicts({str(e.path): e.brief.partition_key for e in valid})
    order: dict[str, int] = {}  # the briefs of one character together, in the order first seen
    for entry in valid:
        order.setdefault(entry.brief.partition_key, len(order))
    for entry in sorted(valid, key=lambda e: order[e.brief.partition_key]):
        brief, key = entry.brief, entry.brief.partition_key
        if key in conflicts and str(entry.path) in conflicts[key].refused:
            failed += 1
            print(f"{entry.path}: {conflicts[key].problem(str(entry.path))}", file=sys.stderr)
            continue
        if _licences_refuse(entry.path, brief):
            failed += 1
            continue
        print(
            f"{entry.path}: ok ({key}, {len(brief.shots)} shots, "
            f"{brief.duration_s:g} s, {brief.video.model})"
        )
        for note in brief_notes(brief, settings.prompt_warnings(brief)):
            print(f"{entry.path}: {'warning: ' if note.warning else ''}{note.line}")
    return 1 if failed else 0


def _instance(root: str):
    """The instance the UI reads: DAGSTER_HOME's, else the one beside the artifacts of `root`."""
    from pipeline.launch import open_instance
    from pipeline.settings import Settings

    return open_instance(replace(Settings.from_env(), root=root))


def _stage_times(instance, run_id: str) -> list[tuple[str, float]]:
    from dagster import DagsterEventType

    starts: dict[str, float] = {}
    times: list[tuple[str, float]] = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            times.append((event.step_key, entry.timestamp - starts.get(event.step_key, 0.0)))
    return times


class StageFailed(RuntimeError):
    """A stage of an in-process run failed; the message is one line naming stage and cause."""

    def __init__(self, failures: list[tuple[str, str]], traceback: str):
        self.failures, self.traceback = failures, traceback
        super().__init__("; ".join(f"{step}: {message}" for step, message in failures))


def _without_module(line: str) -> str:
    """`pkg.module.SomeError: text` as `SomeError: text`: the class names the kind of failure,
    its module path says nothing to the person reading the line."""
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*): ", r"\1: ", line)


def _failures(outcome) -> tuple[list[tuple[str, str]], str]:
    """(stage, the innermost error's first line) per failed step, and the full tracebacks."""
    found, traces = [], []
    for event in outcome.all_events:
        if not event.is_step_failure or event.step_failure_data.error is None:
            continue
        error = event.step_failure_data.error
        traces.append(error.to_string())
        while error.cause is not None:  # Dagster wraps the stage's own exception
            error = error.cause
        lines = (error.message or error.cls_name or "").strip().splitlines() or ["failed"]
        found.append((event.step_key, _without_module(lines[0])))
    return found, "\n".join(traces)


class ChainBlocked(RuntimeError):
    """A blocking asset check failed: the chain stopped before the cut, on purpose."""


def _blocked_checks(outcome) -> list[str]:
    """The failed blocking checks of a run, with their descriptions (what a producer acts on)."""
    return [
        f"{e.asset_key.to_user_string()} {e.check_name}: {e.description or 'failed'}"
        for e in outcome.get_asset_check_evaluations()
        if e.blocking and not e.passed
    ]


def materialize_brief(
    path: Path,
    *,
    root: str,
    profile: str,
    models_dir: str | None = None,
    instance=None,
    launched_by: str = "cli",
    debug: bool = False,
) -> Path | None:
    """Run the whole chain for one brief in this process; the deliverable's path.

    None when the chain stopped at an approval gate (the brief's `approval:`): the log names
    what waits for whom, and `python -m pipeline approve` starts the rest. A failed blocking
    check (an off-model shot) raises ChainBlocked naming it; a failed stage raises StageFailed
    (one line per failed stage). Dagster's own console log, which prints every traceback, is
    shown only with `debug`.
    """
    from pipeline.launch import current_deliverable, run_chain
    from pipeline.settings import resource_defs
    from resources.domain.brief import load_brief

    _quiet_libraries()  # the chain loads models in this process: their bars drown our output
    brief = load_brief(path)
    instance = instance or _instance(root)
    resources = resource_defs(root=root, profile=profile, inbox=[str(path)], models_dir=models_dir)
    with progress_bars(resources["artifact_store"], brief.client, brief.character.id):
        outcome = run_chain(
            path,
            resources=resources,
            instance=instance,
            launched_by=launched_by,
            brief=brief,
            raise_on_error=False,
            log_level="INFO" if debug else "CRITICAL",
        )
    if not outcome.success:
        blocked = _blocked_checks(outcome)
        if blocked:
            raise ChainBlocked("\n".join(blocked))
        failures, traceback = _failures(outcome)
        raise StageFailed(failures or [("run", "failed before any stage started")], traceback)
    for step, seconds in _stage_times(instance, outcome.run_id):
        print(f"  {step:<18} {seconds:8.2f} s", file=sys.stderr)
    store = resources["artifact_store"]
    waiting = _waiting(outcome)
    if waiting:
        print(waiting, file=sys.stderr)
        return None
    return current_deliverable(store, brief.client, brief.character.id)


@contextmanager
def progress_bars(store, client: str, character: str, every_s: float = 1.0):
    """While the block runs, a bar per stage on stderr from the stages' progress records."""
    import threading

    halt = threading.Event()
    shown: dict[str, tuple] = {}

    def draw() -> None:
        from resources.domain.artifacts import ArtifactError

        try:
            keys = store.records(f"{client}/{character}/_progress")
        except (ArtifactError, OSError):
            return  # progress is a courtesy: the run's own failure names what is wrong
        for key in keys:
            try:
                p = store.record(key) or {}
            except (ArtifactError, OSError, ValueError):
                continue
            seen = (p.get("label"), p.get("done"), p.get("total"))
            if not p or shown.get(key) == seen or p.get("updated_at", "") < started:
                continue
            shown[key] = seen
            done, total = int(p["done"]), max(int(p["total"]), 1)
            bar = "#" * round(20 * done / total)
            eta = f" ETA {p['eta_s']:.0f} s" if p.get("eta_s") else ""
            print(
                f"  {p['asset']:<18} [{bar:<20}] {done}/{total} {p['unit']} ({p['label']}){eta}",
                file=sys.stderr,
            )

    def loop() -> None:
        while not halt.wait(every_s):
            draw()

    import datetime as dt

    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    thread = threading.Thread(target=loop, name="progress-bars", daemon=True)
    thread.start()
    try:
        yield
    finally:
        halt.set()
        thread.join()
        draw()


def _waiting(outcome) -> str | None:
    """The approval a run stopped at, from its observations; None if it ran to the end."""
    for event in outcome.all_events:
        if event.event_type_value == "ASSET_OBSERVATION":
            metadata = event.event_specific_data.asset_observation.metadata
            if "detail" in metadata:
                return metadata["detail"].value
    return None


def _report_failure(error: BaseException, *, debug: bool, source: object = None) -> int:
    """One line per failure on stderr (the traceback too with --debug); the exit status."""
    import traceback

    from resources.domain.brief import BriefError

    if isinstance(error, BriefError):
        for problem in error.problems:
            print(f"{error.source}: {problem}", file=sys.stderr)
        return 1
    if debug:
        detail = error.traceback if isinstance(error, StageFailed) else None
        print(detail or "".join(traceback.format_exception(error)), file=sys.stderr)
    if isinstance(error, StageFailed):
        for step, message in error.failures:
            print(f"{source or 'materialize'}: stage {step} failed: {message}", file=sys.stderr)
    else:
        print(f"{source or 'materialize'}: {type(error).__name__}: {error}", file=sys.stderr)
    return 1


def cmd_materialize(args: argparse.Namespace) -> int:
    from resources.domain.brief import BriefError, load_brief

    try:
        brief = load_brief(args.brief)
    except (BriefError, OSError):
        brief = None  # materialize_brief reports it, one line per problem, as it always did
    if brief is not None and _licences_refuse(args.brief, brief):
        return 1
    try:
        final = materialize_brief(
            Path(args.brief),
            root=args.root,
            profile=args.profile,
            models_dir=args.models,
            debug=args.debug,
        )
    except ChainBlocked as blocked:
        print(f"blocked before the cut:\n{blocked}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - every failure becomes one line a person can act on
        return _report_failure(error, debug=args.debug, source=args.brief)
    if final is not None:
        print(final)
    return 0


def _store(root: str):
    from pipeline.settings import Settings, build_resource

    return build_resource("artifact_store", replace(Settings.from_env(), root=root))


def _who(args: argparse.Namespace) -> str:
    import getpass

    return args.who or getpass.getuser()


def _continue(args: argparse.Namespace, launched_by: str) -> int:
    """Run the chain again for a character from its brief file (after an approval, a re-roll)."""
    from pipeline.launch import brief_source
    from resources.domain.artifacts import ArtifactError
    from resources.domain.brief import BriefError

    if getattr(args, "no_run", False):
        return 0
    if getattr(args, "launch", "process") == "instance":
        return _submit(args, launched_by)
    try:
        source = brief_source(_store(args.root), args.client, args.character)
        final = materialize_brief(
            source,
            root=args.root,
            profile=args.profile,
            models_dir=args.models,
            launched_by=launched_by,
        )
    except (BriefError, ArtifactError) as error:
        print(error, file=sys.stderr)
        return 1
    except ChainBlocked as blocked:
        print(f"blocked before the cut:\n{blocked}", file=sys.stderr)
        return 2
    if final is not None:
        print(final)
    return 0


def _submit(args: argparse.Namespace, launched_by: str) -> int:
    """Queue the chain on the DAGSTER_HOME instance (the daemon's run launcher starts it)."""
    from dagster import DagsterInstance

    from pipeline.launch import brief_source, submit_chain
    from pipeline.settings import Settings
    from resources.domain.artifacts import ArtifactError
    from resources.domain.brief import BriefError

    home = Settings.from_env().dagster_home
    if not home:
        print(
            "--launch instance: set DAGSTER_HOME to the instance the daemon reads", file=sys.stderr
        )
        return 1
    try:
        source = brief_source(_store(args.root), args.client, args.character)
        run_id = submit_chain(source, launched_by=launched_by, instance=DagsterInstance.get())
    except (BriefError, ArtifactError, RuntimeError) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"queued run {run_id} of character_video for {args.client}/{args.character} ({home})")
    return 0


def cmd_review_decision(args: argparse.Namespace) -> int:
    from pipeline.decisions import DecisionError, review_gate
    from resources.domain.review import APPROVED

    try:
        ref, record = review_gate(
            _store(args.root),
            args.client,
            args.character,
            args.gate,
            args.decision,
            who=_who(args),
            note=args.note,
        )
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{record['decision']}: {ref.key} by {record['who']} at {record['at']}")
    if args.decision != APPROVED:
        return 0
    return _continue(args, "cli-approve")


def cmd_reroll(args: argparse.Namespace) -> int:
    from pipeline.decisions import DecisionError, reroll_line, reroll_shot

    if args.line and args.tier is not None:
        print("--line re-rolls a line's voice; --tier belongs to a shot's picture", file=sys.stderr)
        return 2
    asked = {"seed": args.seed, "who": _who(args), **({} if args.line else {"tier": args.tier})}
    try:
        override = (reroll_line if args.line else reroll_shot)(
            _store(args.root), args.client, args.character, args.shot, **asked
        )
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 1
    if override.line:
        print(
            f"line of shot {override.shot}: voice seed {override.previous_seed} -> "
            f"{override.seed} (by {override.who}); its picture is kept"
        )
        return _continue(args, "cli-reroll-line")
    change = f"seed {override.previous_seed} -> {override.seed}"
    if override.tier is not None:
        change += f", tier {override.previous_tier} -> {override.tier}"
    print(f"shot {override.shot}: {change} (by {override.who})")
    return _continue(args, "cli-reroll")


def cmd_run(args: argparse.Namespace) -> int:
    return _continue(args, args.launched_by)


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the character's runs in flight on the Dagster instance (DAGSTER_HOME's, else the
    one beside the artifacts)."""
    from pipeline.decisions import DecisionError, stop_character

    try:
        stopped = stop_character(
            _store(args.root), _instance(args.root), args.client, args.character, who=_who(args)
        )
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"stopped {args.client}/{args.character}: {', '.join(stopped)}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from pipeline.review.app import serve
    from pipeline.settings import SettingsError

    try:
        serve(host=args.host, port=args.port, root=args.root, profile=args.profile)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    from pipeline.decisions import DecisionError, accept_line, accept_shot

    accept = accept_line if args.line else accept_shot
    via = "python -m pipeline accept" + (" --line" if args.line else "")
    try:
        record = accept(
            _store(args.root), args.client, args.character, args.shot, by=args.by, via=via
        )
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 1
    what = "line of shot" if args.line else "shot"
    print(
        f"accepted {what} {record['shot']} (unit {record['unit']}) by {record['by']} at "
        f"{record['at']}; materialize the brief again to cut it"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    briefs = _briefs_in([str(EXAMPLES)])
    instance = _instance(args.root)
    blocked = 0
    for path in briefs:
        print(f"{path.name}:", file=sys.stderr)
        try:
            final = materialize_brief(
                path,
                root=args.root,
                profile=args.profile,
                models_dir=args.models,
                instance=instance,
                debug=args.debug,
            )
        except ChainBlocked as error:
            blocked += 1
            print(f"blocked before the cut:\n{error}", file=sys.stderr)
            continue
        except Exception as error:  # noqa: BLE001 - as in materialize
            return _report_failure(error, debug=args.debug, source=path)
        print(final or "(waiting for approval)")
    return 2 if blocked else 0


def cmd_register(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from assets.partitions import CHARACTERS
    from resources.domain.brief import BriefError, load_brief

    instance = DagsterInstance.get()
    keys = []
    for path in _briefs_in(args.briefs):
        try:
            keys.append(load_brief(path).partition_key)
        except BriefError as error:
            print(str(error), file=sys.stderr)
    instance.add_dynamic_partitions(CHARACTERS, keys)
    print(f"registered {len(keys)} partition(s): {', '.join(keys)}")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from pipeline.settings import Settings
    from resources.domain.artifacts import ArtifactError
    from resources.domain.lineage import LineageError, deliverables_of, format_text
    from resources.storage.root import artifact_store_for

    # The resources' own factory: an s3:// root reads the bucket, through the local cache.
    store = artifact_store_for(args.root, Settings.from_env().cache_dir)
    try:
        found = deliverables_of(store, args.client, args.character)
    except (LineageError, ArtifactError) as error:
        print(error, file=sys.stderr)
        return 1
    print(format_text(found), end="")
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from assets.stages.client_package import PACKAGE, deliverable_ref, package_deliverable
    from pipeline.settings import Settings
    from resources.domain.artifacts import ArtifactError
    from resources.storage.root import artifact_store_for

    store = artifact_store_for(args.root, Settings.from_env().cache_dir)
    try:
        ref = deliverable_ref(store, args.client, args.character, args.version)
        package = package_deliverable(store, ref)
    except (ArtifactError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    print(store.path(package) / PACKAGE)
    return 0


def cmd_client_link(args: argparse.Namespace) -> int:
    """Issue a client's review link (print its URL), or revoke one by its nonce."""
    from pipeline.decisions import DecisionError, issue_client_link, revoke_client_link
    from pipeline.settings import Settings

    settings = Settings.from_env()
    store = _store(args.root)
    try:
        if args.revoke:
            revoke_client_link(store, args.client, args.revoke, by=args.by)
            print(f"revoked {args.client} link {args.revoke}")
            return 0
        base = settings.review_url or "http://127.0.0.1:8500"
        url, record = issue_client_link(
            store, settings.client_link_secret, args.client, args.days, base_url=base
        )
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{url}  (link {record['nonce']}, expires at {record['expires']})")
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    from resources.domain.costs import HOSTED_APIS, INSTANCES, refresh_spot_prices

    table = INSTANCES
    if args.refresh:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            table = refresh_spot_prices(boto3.client("ec2", region_name=args.region))
        except (BotoCoreError, ClientError) as error:
            print(f"cannot read the EC2 Spot price history: {error}", file=sys.stderr)
            return 1
    print(f"{'instance':<12} {'GPUs':>4} {'on-demand $/h':>13} {'spot $/h':>9}  spot source (date)")
    for p in table.values():
        print(
            f"{p.instance_type:<12} {p.gpus:>4} {p.on_demand_usd_per_hour:>13.3f} "
            f"{p.spot_usd_per_hour:>9.4f}  {p.spot_source} ({p.spot_date})"
        )
    print(f"on-demand: {next(iter(table.values())).on_demand_source}")
    for h in HOSTED_APIS.values():
        print(f"{h.name:<14} {h.resolution:>9} ${h.usd_per_minute:.2f}/min  {h.source} ({h.date})")
    return 0


def cmd_quote(args: argparse.Namespace) -> int:
    import json

    from pipeline.settings import Settings
    from resources.domain.brief import BriefError, load_brief
    from resources.domain.costs import PriceError

    try:
        brief = load_brief(args.brief)
    except BriefError as error:
        for problem in error.problems:
            print(f"{error.source}: {problem}", file=sys.stderr)
        return 1
    if _licences_refuse(args.brief, brief):
        return 1
    from resources.quote.quote import quote_brief, quote_markdown

    settings = Settings.from_env()
    try:
        quote = quote_brief(
            brief,
            instance_type=args.instance,
            tier=args.tier,
            cache_dir=settings.flop_cache,
            voice_python=settings.voice_python,
        )
    except (PriceError, KeyError) as error:
        print(f"{args.brief}: {str(error).strip(chr(39))}", file=sys.stderr)
        return 1
    if args.summary:
        from resources.quote.summary import quote_summary

        other = "final" if quote["tier"] == "draft" else "draft"
        again = quote_brief(
            brief,
            instance_type=args.instance,
            tier=other,
            cache_dir=settings.flop_cache,
            voice_python=settings.voice_python,
        )
        tiers = {quote["tier"]: quote, other: again}
        print(quote_summary(brief, tiers["draft"], tiers["final"], args.lang))
        _print_prompt_warnings(args.brief, settings.prompt_warnings(brief, args.lang))
        return 0
    if args.json:
        print(json.dumps({**quote, "prompt_warnings": settings.prompt_warnings(brief)}, indent=2))
        return 0
    print(quote_markdown(quote))
    _print_prompt_warnings(args.brief, settings.prompt_warnings(brief))
    return 0


def _print_prompt_warnings(brief: str, lines: list[str]) -> None:
    for line in lines:
        print(f"{brief}: warning: {line}")


def cmd_promote(args: argparse.Namespace) -> int:
    from pipeline.decisions import DecisionError, promote_brief

    try:
        changed = promote_brief(args.brief, args.tier)
    except DecisionError as error:
        print(error, file=sys.stderr)
        return 1
    state = "now" if changed else "already"
    print(f"{args.brief}: video.tier is {state} {args.tier!r} (same shots, same seeds)")
    return 0


def _quiet_libraries() -> None:
    """Progress bars from model loading drown the CLI's own output.

    Called only where this process is about to load models (the chain in process): importing
    diffusers and transformers costs ~4 s of CPU, which a command that only records a decision
    (accept, re-roll with --no-run, register) or queues a run should not pay.
    """
    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    disable_progress_bars()


def _add_chain_commands(sub, settings) -> None:
    """validate, materialize, demo, register, lineage, prices, quote: briefs in, runs out."""
    p = sub.add_parser("validate", help="check briefs; one line per problem, naming the field")
    p.add_argument("briefs", nargs="+", help="brief YAML files or folders")
    p.set_defaults(func=cmd_validate)

    for name, func, helptext in (
        ("materialize", cmd_materialize, "run the whole chain for one brief"),
        ("demo", cmd_demo, "run the whole chain for every brief in examples/"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "materialize":
            p.add_argument("brief", help="brief YAML file")
        p.add_argument("--root", default=settings.root)
        p.add_argument("--profile", choices=["tiny", "production"], default="tiny")
        p.add_argument("--models", default=None, help="model folder (default <root>/_models)")
        p.add_argument(
            "--debug", action="store_true", help="show Dagster's log and full tracebacks"
        )
        p.set_defaults(func=func)

    p = sub.add_parser("register", help="add briefs' partitions to the instance at DAGSTER_HOME")
    p.add_argument("briefs", nargs="+")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("lineage", help="the chain of artifacts behind a client's deliverables")
    p.add_argument("client")
    p.add_argument("character", nargs="?", default=None)
    p.add_argument("--root", default=settings.root)
    p.set_defaults(func=cmd_lineage)

    p = sub.add_parser("package", help="the client's zip of a deliverable (every format, ...)")
    p.add_argument("client")
    p.add_argument("character")
    p.add_argument("--version", default=None, help="a deliverables version (default: current)")
    p.add_argument("--root", default=settings.root)
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("client-link", help="a client's signed review link, or revoke one")
    p.add_argument("client")
    p.add_argument("--days", type=float, default=14.0, help="how long it opens (at most 90)")
    p.add_argument("--revoke", default="", help="the nonce of a link to revoke")
    p.add_argument("--by", default="studio", help="who revokes it")
    p.add_argument("--root", default=settings.root)
    p.set_defaults(func=cmd_client_link)

    p = sub.add_parser("prices", help="the price table; --refresh reads current Spot prices")
    p.add_argument("--refresh", action="store_true", help="EC2 Spot price history via boto3")
    p.add_argument("--region", default=settings.aws_region)
    p.set_defaults(func=cmd_prices)

    p = sub.add_parser("quote", help="FLOPs, GPU-seconds and $ per shot and stage, before a run")
    p.add_argument("brief", help="brief YAML file")
    p.add_argument("--instance", default=settings.instance_type, help="EC2 instance type")
    p.add_argument("--tier", default=None, help="quote this tier instead of the brief's")
    p.add_argument("--json", action="store_true", help="the quote as JSON")
    p.add_argument(
        "--summary",
        action="store_true",
        help="draft and final side by side, in words, against the hosted services",
    )
    p.add_argument(
        "--lang", default="pt-BR", choices=("pt-BR", "en"), help="the summary's language"
    )
    p.set_defaults(func=cmd_quote)


def _add_chain_options(p: argparse.ArgumentParser, settings) -> None:
    """Where and how a command that goes on with the chain runs it."""
    p.add_argument("--root", default=settings.root)
    p.add_argument("--profile", choices=["tiny", "production"], default=settings.profile)
    p.add_argument("--models", default=settings.models_dir, help="model folder")
    p.add_argument(
        "--launch",
        choices=["process", "instance"],
        default=settings.launch,
        help="run here, or queue on the DAGSTER_HOME instance for the daemon (ECS on AWS)",
    )


def _add_decision_commands(sub, settings) -> None:
    """approve, reject, reroll, accept, stop, promote (pipeline.decisions), and run, review."""
    for name, decision, helptext in (
        ("approve", "approved", "approve the current references or cut; the chain goes on"),
        ("reject", "rejected", "reject the current references or cut (with a --note why)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("client")
        p.add_argument("character")
        p.add_argument("gate", choices=["references", "cut"])
        p.add_argument("--note", default="")
        p.add_argument("--who", default=None, help="who decides (default: the login name)")
        p.add_argument("--no-run", action="store_true", help="record only; start nothing")
        _add_chain_options(p, settings)
        p.set_defaults(func=cmd_review_decision, decision=decision)

    p = sub.add_parser("reroll", help="render one shot again with a new seed; the cut follows")
    p.add_argument("client")
    p.add_argument("character")
    p.add_argument("shot")
    p.add_argument(
        "--seed", type=int, default=None, help="the new seed (default: random; kept with --tier)"
    )
    p.add_argument(
        "--tier",
        default=None,
        choices=["draft", "final"],
        help="render this shot alone at this tier (promote an approved draft shot to final)",
    )
    p.add_argument(
        "--line",
        action="store_true",
        help="speak the shot's line again with a new seed (--seed); the picture is kept",
    )
    p.add_argument("--who", default=None)
    p.add_argument("--no-run", action="store_true", help="record only; start nothing")
    _add_chain_options(p, settings)
    p.set_defaults(func=cmd_reroll)

    p = sub.add_parser("accept", help="accept a shot below qc.min_identity for the cut")
    p.add_argument("client")
    p.add_argument("character")
    p.add_argument("shot")
    p.add_argument("--by", required=True, help="who accepts it (recorded in the manifests)")
    p.add_argument(
        "--line", action="store_true", help="accept the shot's spoken line (CER, voice) instead"
    )
    p.add_argument("--root", default=settings.root)
    p.set_defaults(func=cmd_accept)

    p = sub.add_parser("stop", help="stop the character's runs in flight (finished units kept)")
    p.add_argument("client")
    p.add_argument("character")
    p.add_argument("--who", default=None, help="who stops it (default: the login name)")
    p.add_argument("--root", default=settings.root)
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("promote", help="turn an approved draft into a final (rewrites video.tier)")
    p.add_argument("brief", help="brief YAML file")
    p.add_argument("--tier", default="final", choices=["draft", "final"])
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("run", help="run the chain again for a character from its brief file")
    p.add_argument("client")
    p.add_argument("character")
    p.add_argument("--launched-by", default="cli")
    _add_chain_options(p, settings)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("review", help="the producers' review app (http://127.0.0.1:8500)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--root", default=settings.root)
    p.add_argument("--profile", choices=["tiny", "production"], default=settings.profile)
    p.set_defaults(func=cmd_review)


def build_parser(settings) -> argparse.ArgumentParser:
    """The command line of `python -m pipeline`, its defaults from `settings`."""
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_chain_commands(sub, settings)
    _add_decision_commands(sub, settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipeline.settings import Settings

    args = build_parser(Settings.from_env()).parse_args(argv)
    return args.func(args)
