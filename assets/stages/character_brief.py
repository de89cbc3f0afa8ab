"""character_brief: the validated snapshot of a producer's brief, the root of every lineage."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from assets.stages.base import Markdown, Run, StageResult, build_or_reuse, stage_result
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import (
    BRIEF_ASSET,
    BRIEF_JSON,
    Brief,
    BriefError,
    read_snapshot,
    sound_file,
)
from resources.domain.client_profile import load_profile, parse_client_brief
from resources.domain.costs import DEFAULT_INSTANCE_TYPE, PriceError
from resources.domain.review import (
    apply_overrides,
    brief_saves_of,
    gate_asset,
    overrides_of,
    waiting_for,
)
from resources.inbox import BriefInbox
from resources.quote.quote import quote_brief, quote_markdown
from resources.storage.artifact_store import sha256_file, write_atomic

ASSET = BRIEF_ASSET
CODE_VERSION = "2"  # 2: the quote (quote.json) is part of the snapshot
BRIEF_YAML = "brief.yaml"  # the producer's file, byte for byte
QUOTE_JSON = "quote.json"  # the quote before any GPU stage: what each stage's prediction reads
# The brief's sound files, copied into the snapshot: the voice sample and the music track.
SOUND_FILES = {"voice": "sound/voice.wav", "music": "sound/music.wav"}
LOGO_FILE = "branding/logo"  # the client's logo, copied with its own suffix (.png, .jpg)


def brief_for_run(
    key: str, inbox: BriefInbox, source: str = "", brief_yaml: str = ""
) -> tuple[Path, Brief, bytes]:
    """The brief a run snapshots: the one its launcher recorded, else the inbox's for `key`.

    The sensor and the nightly schedule record the brief they validated in the run config
    (`source`, `brief_yaml`): the run reads exactly that, whatever the inbox holds by the time
    it starts. A run launched without it (from the UI) looks the partition up in the inbox,
    where two briefs for one character are an error naming both files.
    """
    if not brief_yaml:
        entry = inbox.find_entry(key)
        return entry.path, entry.brief, entry.raw
    raw = brief_yaml.encode()
    brief = parse_client_brief(raw, source or "run config")
    if brief.partition_key != key:
        raise BriefError(
            source, [f"(run config): the brief is for {brief.partition_key}, the run for {key}"]
        )
    return Path(source), brief, raw


def snapshot_brief(run: Run, source: Path, brief: Brief, raw: bytes | None = None) -> StageResult:
    """Freeze `brief` (the bytes `raw` read from `source`) as this character's brief snapshot.

    Re-rolls recorded for the character (resources.domain.review) are merged in first: the
    snapshot, and so every stage and the lineage, sees the seed the producer asked for.
    """
    start = time.perf_counter()
    written_sha256 = brief.content_hash()
    brief, applied = apply_overrides(brief, overrides_of(run.store, run.client, run.character))
    for o in applied:
        run.log(
            f"shot {o.shot}: re-rolled by {o.who} at {o.at}, seed {o.previous_seed} -> {o.seed}"
        )
    sounds = {
        kind: path
        for kind in SOUND_FILES
        if (path := sound_file(brief, source.parent, kind)) is not None
    }
    sound_sha256 = {kind: sha256_file(path) for kind, path in sounds.items()}
    payload = {"brief": brief.content_hash(), "code": CODE_VERSION}
    if sounds:
        payload["sound"] = sound_sha256
    branding = branding_of(brief, source.parent)
    if branding:  # a brief without cards or logo keeps the version it had
        payload["branding"] = {k: v for k, v in branding.items() if k != "logo_path"}
    ref = run.ref(ASSET, payload)

    written = source.read_bytes() if raw is None else raw
    saved = _saved_by(run, written)

    def build(stage: Path) -> dict:
        write_atomic(stage / BRIEF_YAML, written)
        for kind, path in sounds.items():
            (stage / SOUND_FILES[kind]).parent.mkdir(exist_ok=True)
            write_atomic(stage / SOUND_FILES[kind], path.read_bytes())
        if "logo_path" in branding:
            logo = stage / logo_name(branding["logo_path"])
            logo.parent.mkdir(exist_ok=True)
            write_atomic(logo, branding["logo_path"].read_bytes())
        write_atomic(stage / BRIEF_JSON, brief.canonical_json() + "\n")
        write_atomic(stage / QUOTE_JSON, json.dumps(quote_of(run, brief), indent=1) + "\n")
        return dict(
            code_version=CODE_VERSION,
            inputs={},
            parameters={
                "source": str(source.resolve()),
                "sha256": brief.content_hash(),
                "written_sha256": written_sha256,  # the file's brief, before re-rolls
                "overrides": [o.record() for o in applied],
                "sound_sha256": sound_sha256,
                **({"branding": payload["branding"]} if branding else {}),
                **({"saved": saved} if saved else {}),  # who wrote these bytes in the app
            },
            timings={"wall_s": time.perf_counter() - start},
        )

    reused = build_or_reuse(run, ref, build)
    by = f" (saved by {saved['who']} at {saved['at']})" if saved else ""
    run.log(f"brief {run.client}/{run.character} from {source}{by}: version {ref.version}")
    quote = read_quote(run.store.path(ref))
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "source": source,
            "character": brief.character.name,
            "trigger": brief.character.trigger,
            "video_model": brief.video.model,
            "shots": len(brief.shots),
            "duration_s": brief.duration_s,
            "resolution": "x".join(map(str, brief.deliverable.resolution)),
            "shot_list": Markdown(
                "| shot | s | seed | prompt |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {s.id} | {s.duration_s:g} | {s.seed} | {s.prompt} |"
                    for s in brief.estimated().shots
                )
            ),
            "tier": brief.video.tier,
            "quote": Markdown(quote_markdown(quote)),
            "quote_usd_spot": quote["total"]["usd_spot"],
            "quote_usd_per_video_minute": quote["total"]["usd_per_video_minute"],
            "quote_gpu_s": quote["total"]["gpu_s"],
        },
    )


def _saved_by(run: Run, raw: bytes) -> dict | None:
    """The latest save of these exact bytes in the review app (who, when, which file), if any."""
    digest = hashlib.sha256(raw).hexdigest()
    saves = brief_saves_of(run.store, run.client, run.character)
    same = [r for r in saves if r.get("sha256") == digest]
    return {k: same[-1][k] for k in ("who", "at", "file")} if same else None


def branding_of(brief: Brief, folder: Path) -> dict:
    """The client profile's sha256 and the logo file (with its sha256) a brief's deliverable
    uses; empty when it has neither."""
    found: dict = {}
    profile = load_profile(folder, brief.client)
    if profile is not None:
        found["profile"] = str(profile.path.relative_to(folder))
        found["profile_sha256"] = profile.sha256
    logo = brief.deliverable.logo
    if logo is not None:
        found["logo_path"] = folder / logo.file
        found["logo_sha256"] = sha256_file(folder / logo.file)
    return found


def logo_name(path: Path) -> str:
    """The logo's name inside a brief snapshot."""
    return LOGO_FILE + path.suffix.lower()


def logo_file_of(folder: Path) -> Path | None:
    """The client's logo a brief snapshot holds, if its deliverable has one."""
    found = (
        sorted((folder / LOGO_FILE).parent.glob("logo.*")) if (folder / "branding").is_dir() else []
    )
    return found[0] if found else None


def read_brief(run: Run) -> tuple[Brief, ArtifactRef]:
    """The validated brief snapshot this partition's chain is built from."""
    ref = run.upstream(ASSET)
    return read_snapshot(run.store.path(ref), ref.key), ref


def voice_sample_of(folder: Path) -> Path:
    """The voice sample a brief snapshot holds."""
    return folder / SOUND_FILES["voice"]


def music_file_of(folder: Path) -> Path | None:
    """The music track a brief snapshot holds, if the brief has one."""
    path = folder / SOUND_FILES["music"]
    return path if path.is_file() else None


def quote_of(run: Run, brief: Brief) -> dict:
    """The brief's quote on the run's instance type (FLOP counts cached in the model folder)."""
    where = dict(
        cache_dir=Path(run.models.models_dir) / "_flops", voice_python=run.models.voice_python
    )
    try:
        return quote_brief(brief, instance_type=run.models.instance_type, **where)
    except PriceError as error:
        # An unpriced host must not stop the chain: quote the default instance and say so.
        run.log(f"quote: {error}; quoting {DEFAULT_INSTANCE_TYPE} instead")
        return quote_brief(brief, instance_type=DEFAULT_INSTANCE_TYPE, **where)


def read_quote(folder: Path) -> dict:
    """The quote a brief snapshot recorded before any GPU stage ran."""
    return json.loads((folder / QUOTE_JSON).read_text(encoding="utf-8"))


def predicted(run: Run, stages: tuple[str, ...], shots: list[str] | None = None) -> dict:
    """The quote's GPU-seconds for `stages` (only `shots`' lines where given), for metadata."""
    quote = read_quote(run.store.path(run.upstream(ASSET)))
    lines = [
        line
        for line in quote["lines"]
        if line["stage"] in stages and (shots is None or line["shot"] in (None, *shots))
    ]
    return {
        "gpu_s": round(sum(line["gpu_s"] for line in lines), 3),
        "flops": sum(line["flops"] for line in lines),
        "instance_type": quote["instance_type"],
        "tier": quote["tier"],
    }


def prediction_metadata(
    run: Run, stages: tuple[str, ...], manifest: dict, shots: list[str] | None = None
) -> dict:
    """Predicted (the quote) next to measured GPU-seconds, for a GPU stage's metadata."""
    guess = predicted(run, stages, shots)
    measured = float(manifest.get("compute", {}).get("gpu_s", 0.0))
    return {
        "gpu_s_predicted": guess["gpu_s"],
        "gpu_s_measured": measured,
        # measured / predicted; None on the CPU (tiny profile), where no GPU-seconds exist.
        "quote_ratio": round(measured / guess["gpu_s"], 3) if measured and guess["gpu_s"] else None,
    }


def approval_wait(run: Run, gate: str) -> str | None:
    """Why this stage waits for a producer's approval at `gate`, or None when it may run.

    The approved thing is the current version of the gate's asset (reference_images for
    `references`, deliverables for `cut`); an approval of an older version does not count.
    """
    brief, _ = read_brief(run)
    return waiting_for(run.store, brief, gate, run.upstream(gate_asset(gate)))
