"""What the review pages show, read from the artifact store by the manifests' named fields."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from assets.stages.character_brief import ASSET as BRIEF
from assets.stages.deliverables import ASSET as DELIVERABLES
from assets.stages.narration import ASSET as NARRATION
from assets.stages.narration import LINE_UNITS
from assets.stages.reference_images import ASSET as REFERENCES
from assets.stages.reference_images import CONTACT_SHEET
from assets.stages.video_clips import ASSET as CLIPS
from assets.stages.video_clips import POSTERS
from pipeline.launch import brief_snapshot
from pipeline.review.progress import RunView, run_view
from pipeline.settings import Settings
from resources.domain.artifacts import ArtifactError, ArtifactRef
from resources.domain.brief import Brief
from resources.domain.clip_plan import SHOT_UNITS
from resources.domain.lineage import Link, chain_of
from resources.domain.registry import VIDEO_MODELS
from resources.domain.review import (
    REQUIRED,
    Override,
    comments_of,
    decision_of,
    overrides_of,
    reviews_of,
)
from resources.qc.acceptance import accepted_lines
from resources.qc.identity import PRIMARY
from resources.qc.retakes import shot_verdicts


@dataclass
class Gate:
    """One approval gate of a character: is it required, and what was decided on its version."""

    name: str
    required: bool
    ref: ArtifactRef | None
    decision: str | None
    reviews: list[dict[str, Any]]

    @property
    def waiting(self) -> bool:
        return self.required and self.ref is not None and self.decision != "approved"


AMBER_MARGIN = 0.05  # within this of its threshold, a passing score shows amber


@dataclass(frozen=True)
class Score:
    """One score a person reads: its value, the threshold it is held to, and its light."""

    value: float
    threshold: float | None  # None: measured only (the brief sets no limit)
    higher_is_better: bool = True

    @property
    def light(self) -> str:
        """green: passes with room; amber: within AMBER_MARGIN of failing; red: fails; grey: no
        limit to hold it to."""
        if self.threshold is None:
            return "grey"
        margin = (
            self.value - self.threshold if self.higher_is_better else self.threshold - self.value
        )
        if margin < 0:
            return "red"
        return "amber" if margin < AMBER_MARGIN else "green"


def shot_scores(brief: Brief | None, identity: Any, cer: Any, voice: Any) -> dict[str, Score]:
    """Identity (DINOv2, the thresholded backbone), CER and voice against the brief's qc."""
    qc = brief.qc if brief is not None else None
    found: dict[str, Score] = {}
    if isinstance(identity, dict) and PRIMARY in identity:
        limit = qc.min_identity if qc is not None and qc.min_identity > -1 else None
        found["identity"] = Score(float(identity[PRIMARY]), limit)
    if cer is not None:
        found["cer"] = Score(float(cer), qc.max_cer if qc is not None else None, False)
    if voice is not None:
        limit = qc.min_voice if qc is not None and qc.min_voice > -1 else None
        found["voice"] = Score(float(voice), limit)
    return found


@dataclass
class ShotView:
    id: str
    prompt: str
    seed: int
    duration_s: float
    num_frames: int
    unit: str
    rendered: bool
    clip: str
    poster: str
    tier: str | None
    render_s: float | None
    cost_usd: float | None
    identity: Any
    # The shot's line as the narration spoke it: the script, its CER and voice score.
    line: str | None = None
    said: str | None = None  # what the voice said, when it reads the line differently
    cer: float | None = None
    voice: float | None = None
    # A talking shot: its picture was generated to its line's sound (LTX-2); else voice-over.
    lip_synced: bool = False
    sync: dict | None = None  # the measured lag (resources/qc/lip_sync): verdict, lag_frames
    # Where the shot's identity came from: "lora", "reference" (the still) or "both"; the still.
    identity_from: str = "lora"
    still: str | None = None
    # The same scores as one number each with a traffic light against the brief's threshold.
    scores: dict[str, Score] = field(default_factory=dict)


@dataclass
class CharacterView:
    """Everything the character page shows for one deliverable version (or the current state)."""

    client: str
    character: str
    brief: Brief | None
    references: ArtifactRef | None = None
    stills: list[dict[str, Any]] = field(default_factory=list)
    contact_sheet: str | None = None
    clips: ArtifactRef | None = None
    posters: str | None = None
    shots: list[ShotView] = field(default_factory=list)
    deliverable: ArtifactRef | None = None
    final: str | None = None
    poster: str | None = None
    formats: list[dict[str, Any]] = field(default_factory=list)  # every format but the primary
    comments: list[dict[str, Any]] = field(default_factory=list)  # the client's, per shot
    current_deliverable: str | None = None
    chain: list[Link] = field(default_factory=list)
    total_cost_usd: float | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    gates: dict[str, Gate] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)

    @property
    def promotable(self) -> bool:
        """Whether a shot can be promoted alone (not for a scene model: one scene, one tier)."""
        if self.brief is None:
            return False
        return not VIDEO_MODELS[self.brief.video.model].is_scene_model


def _current(store, client: str, character: str, asset: str) -> ArtifactRef | None:
    try:
        return store.current(client, character, asset)
    except ArtifactError:
        return None


def deliverable_versions(store, client: str, character: str) -> list[dict[str, Any]]:
    """Every deliverable version of a character, newest first, with when it was made."""
    current = _current(store, client, character, DELIVERABLES)
    found = []
    for version in store.versions(client, character, DELIVERABLES):
        ref = ArtifactRef(client, character, DELIVERABLES, version)
        if not store.is_complete(ref):
            continue
        manifest = store.manifest(ref)
        found.append(
            {
                "version": version,
                "created_at": manifest.get("created_at", ""),
                "current": current is not None and current.version == version,
                # Which formats (aspect ratios) this version holds; one approval covers all.
                "formats": [f["aspect"] for f in manifest.get("formats", [])],
            }
        )
    return sorted(found, key=lambda v: v["created_at"], reverse=True)


def cut_review_required(store, client: str, character: str) -> bool:
    """Whether the character's brief asks for the cut's approval."""
    try:
        brief = brief_snapshot(store, client, character)
    except (ArtifactError, ValueError, OSError):
        return False
    return brief.approval is not None and brief.approval.cut == REQUIRED


def character_view(
    store, client: str, character: str, version: str | None = None, run: RunView | None = None
) -> CharacterView:
    """The character as of deliverable `version` (default: the current state of each stage).

    `run`: the character's latest run as the caller already read it (else it is read here)."""
    try:
        brief = brief_snapshot(store, client, character)
    except (ArtifactError, ValueError, OSError):
        brief = None
    view = CharacterView(client, character, brief)
    view.versions = deliverable_versions(store, client, character)
    current = _current(store, client, character, DELIVERABLES)
    view.current_deliverable = current.version if current else None
    if version:
        deliverable = ArtifactRef(client, character, DELIVERABLES, version)
        view.chain = chain_of(store, deliverable)
        by_asset = {link.asset: link.version for link in view.chain}
        refs = {
            a: ArtifactRef(client, character, a, v)
            for a, v in by_asset.items()
            if a in (REFERENCES, CLIPS, DELIVERABLES)
        }
    else:
        refs = {a: _current(store, client, character, a) for a in (REFERENCES, CLIPS)}
        refs[DELIVERABLES] = current
        if current is not None:
            view.chain = chain_of(store, current)
    view.references = refs.get(REFERENCES)
    view.clips = refs.get(CLIPS)
    view.deliverable = refs.get(DELIVERABLES)
    if view.references is not None:
        manifest = store.manifest(view.references)
        view.stills = manifest.get("stills", [])
        view.contact_sheet = CONTACT_SHEET
    if view.clips is not None:
        _read_shots(store, view)
    if view.deliverable is not None:
        manifest = store.manifest(view.deliverable)
        view.final, view.poster = manifest.get("final"), manifest.get("poster")
        view.formats = [f for f in manifest.get("formats", []) if not f.get("primary")]
    costs = [link.compute.get("estimated_cost_usd") for link in view.chain if link.compute]
    if costs and all(c is not None for c in costs):
        view.total_cost_usd = float(sum(costs))
    approval = brief.approval if brief is not None else None
    for gate, ref in (("references", view.references), ("cut", view.deliverable)):
        required = approval is not None and getattr(approval, gate) == REQUIRED
        view.gates[gate] = Gate(
            gate,
            required,
            ref,
            decision_of(store, ref) if ref else None,
            reviews_of(store, ref) if ref else [],
        )
    view.overrides = overrides_of(store, client, character)
    view.comments = comments_of(store, client, character)
    view.progress = (run or run_view(store, client, character)).loops
    return view


def _read_shots(store, view: CharacterView) -> None:
    manifest = store.manifest(view.clips)
    view.posters = POSTERS
    compute = manifest.get("compute") or {}
    rate = compute.get("usd_per_gpu_hour")
    tiers = {}
    if view.brief is not None:
        default_tier = getattr(view.brief.video, "tier", None)
        tiers = {s.id: getattr(s, "tier", None) or default_tier for s in view.brief.shots}
    lines = _lines(store, view)
    for s in manifest.get("shots", []):
        unit = ArtifactRef(view.client, view.character, SHOT_UNITS, s["unit"])
        try:
            render_s = float(store.manifest(unit).get("timings", {}).get("render_s"))
        except (ArtifactError, TypeError, ValueError):
            render_s = None
        view.shots.append(
            ShotView(
                id=s["id"],
                prompt=s.get("prompt", ""),
                seed=int(s.get("seed", 0)),
                duration_s=float(s.get("duration_s", 0.0)),
                num_frames=int(s.get("num_frames", 0)),
                unit=s["unit"],
                rendered=bool(s.get("rendered")),
                clip=s["clip"],
                poster=s["poster"],
                tier=s.get("tier") or tiers.get(s["id"]),
                render_s=render_s,
                cost_usd=render_s * rate / 3600 if render_s is not None and rate else None,
                identity=s.get("identity_score", s.get("identity")),
                lip_synced=bool(s.get("lip_synced")),
                sync=s.get("sync"),
                identity_from=s.get("identity_from") or "lora",
                still=(s.get("still") or {}).get("file"),
                **lines.get(s["id"], {}),
            )
        )
        shot = view.shots[-1]
        shot.scores = shot_scores(view.brief, shot.identity, shot.cer, shot.voice)


def _lines(store, view: CharacterView) -> dict[str, dict[str, Any]]:
    """Each shot's line, CER and voice score from the current narration (none before sound)."""
    ref = _current(store, view.client, view.character, "narration")
    if ref is None:
        return {}
    return {
        line["id"]: {
            "line": line["text"],
            # Figures and units in words (a narration made before it was recorded: none).
            "said": line["said"] if line.get("said") not in (None, line["text"]) else None,
            "cer": line.get("cer"),
            "voice": line.get("voice"),
        }
        for line in store.manifest(ref).get("lines", [])
    }


def dump(view: CharacterView) -> str:
    """The view as JSON (the app's /api endpoint; tests read it)."""
    return json.dumps(
        {
            "client": view.client,
            "character": view.character,
            "references": view.references.version if view.references else None,
            "clips": view.clips.version if view.clips else None,
            "deliverable": view.deliverable.version if view.deliverable else None,
            "shots": [s.__dict__ for s in view.shots],
            "gates": {
                g.name: {"required": g.required, "decision": g.decision, "waiting": g.waiting}
                for g in view.gates.values()
            },
            "versions": view.versions,
            "progress": view.progress,
            "total_cost_usd": view.total_cost_usd,
        },
        default=str,
    )


@dataclass(frozen=True)
class Waiting:
    """One thing that waits for a person: what, whose, since when, and the page that settles it."""

    kind: str  # "references", "cut", "shot", "line" or "brief"
    client: str | None
    character: str | None
    what: str  # the gate's version, the shot or line id, the brief's file
    since: str  # ISO 8601 (UTC): when it started waiting
    link: str  # the page (and section) where a producer settles it
    detail: str = ""
    detail_pt: str = ""  # the detail in Portuguese, where it has its own words
    take: ArtifactRef | None = None  # a line's: the unit of its take, to listen to
    said: str = ""  # a line's: what the voice was given to say


def _created(store, ref: ArtifactRef) -> str:
    return str(store.manifest(ref).get("created_at", ""))


def waiting_shots(store, view: CharacterView) -> list[Waiting]:
    """Shots below the brief's min_identity nobody accepted, and lines outside qc, on the
    current versions."""
    found: list[Waiting] = []
    page = f"/c/{view.client}/{view.character}"
    brief_ref = _current(store, view.client, view.character, BRIEF)
    if view.brief is not None and view.clips is not None and brief_ref is not None:
        manifest = store.manifest(view.clips)
        for v in shot_verdicts(store, view.client, view.character, view.brief, brief_ref, manifest):
            if not v.passed:
                found.append(Waiting("shot", view.client, view.character, v.shot,
                                     _created(store, view.clips), f"{page}#shots",
                                     f"{v.best:.3f} < {v.threshold:.3f}"))  # fmt: skip
    narration = _current(store, view.client, view.character, NARRATION)
    if view.brief is not None and narration is not None:
        lines = store.manifest(narration).get("lines", [])
        settled = set(view.brief.qc.accept_lines) | accepted_lines(
            store, view.client, view.character, lines
        )
        for line in lines:
            if not line.get("passed", True) and line["id"] not in settled:
                take = ArtifactRef(view.client, view.character, LINE_UNITS, line["unit"])
                said = line.get("said") or line.get("text", "")
                found.append(Waiting("line", view.client, view.character, line["id"],
                                     _created(store, narration), f"{page}#shots",
                                     f"CER {line['cer']:.3f}, voice {line['voice']}",
                                     take=take, said=said))  # fmt: skip
    return found


def waiting_items(store, errors: list[dict[str, Any]]) -> list[Waiting]:
    """Everything waiting for a person across clients, oldest first: references and cuts to
    approve, off-model shots and lines to accept, and the inbox's briefs with errors."""
    found: list[Waiting] = []
    for client in store.clients():
        for character in store.characters(client):
            view = character_view(store, client, character)
            page = f"/c/{client}/{character}"
            for name, anchor in (("references", "#references"), ("cut", "#final")):
                gate = view.gates.get(name)
                if gate is not None and gate.waiting:
                    found.append(Waiting(name, client, character, gate.ref.version,
                                         _created(store, gate.ref), page + anchor))  # fmt: skip
            found += waiting_shots(store, view)
    for error in errors:
        found.append(
            Waiting("brief", None, None, error["path"], error.get("since", ""),
                    fix_link(error["path"]), (error.get("en") or [""])[0],
                    (error.get("pt") or [""])[0])
        )  # fmt: skip
    return sorted(found, key=lambda w: (w.since, w.kind, w.what))


@dataclass(frozen=True)
class Price:
    """What a button's GPU work costs by the quote: dollars on Spot and compute time on 1 GPU
    of `instance`."""

    usd: float
    gpu_s: float
    instance: str


def fix_link(path: str) -> str:
    """The review app's page that opens the inbox file `path` to fix it."""
    return "/briefs/edit?file=" + urllib.parse.quote(path, safe="/")


def button_prices(brief: Brief | None, settings: Settings | None = None) -> dict[str, Any]:
    """The quote's price of what each button starts: approving the references (the LoRA, every
    shot and the cut), re-rolling a shot at its tier, promoting a shot to final, re-rolling a
    line's voice, accepting a shot or a line (the cut it was holding up). Production figures
    (resources/quote), whatever profile the app runs, on the settings' instance type, as
    `python -m pipeline quote` and the chain quote: FLOP counts kept where the settings keep them
    (`Settings.flop_cache`) and the voice engine's counted with the settings' voice
    environment."""
    if brief is None:
        return {}
    own = _quote(brief, settings)
    final = _quote(brief, settings, tier="final")
    on = own["instance_type"]
    once = {"references"}
    after = [s for s in own["stages"] if s["stage"] not in once]
    narration = next((s for s in own["stages"] if s["stage"] == "narration"), None)
    lines = sum(1 for s in brief.shots if s.line)
    cut = [s for s in own["stages"] if s["stage"] == "deliverable"]
    return {
        "approve_references": Price(sum(s["usd_spot"] for s in after),
                                    sum(s["gpu_s"] for s in after), on),
        "reroll": {r["id"]: Price(r["usd_spot"], r["gpu_s"], on) for r in own["shots"]},
        "promote": {r["id"]: Price(r["usd_spot"], r["gpu_s"], on) for r in final["shots"]},
        "voice": Price(narration["usd_spot"] / lines, narration["gpu_s"] / lines, on)
        if narration and lines
        else None,
        "accept": Price(sum(s["usd_spot"] for s in cut), sum(s["gpu_s"] for s in cut), on),
        "instance": on,
    }  # fmt: skip


def save_price(brief: Brief, settings: Settings | None = None) -> Price:
    """The quote's price of the run that saving `brief` into the inbox starts: its reference
    stills when the brief waits for their approval, else the whole chain. Quoted from nothing:
    a run reuses the units an earlier brief of the character made, and does not pay them again."""
    own = _quote(brief, settings)
    stages = own["stages"]
    if brief.approval.references == "required":
        stages = [s for s in stages if s["stage"] == "references"]
    return Price(
        sum(s["usd_spot"] for s in stages), sum(s["gpu_s"] for s in stages), own["instance_type"]
    )


def _quote(brief: Brief, settings: Settings | None, tier: str | None = None) -> dict[str, Any]:
    """The brief's quote on the settings' instance type, with their FLOP cache and voice
    environment."""
    from resources.quote.quote import quote_brief  # torch-heavy: only when a page needs it

    app = settings or Settings()
    return quote_brief(
        brief,
        tier=tier,
        instance_type=app.instance_type,
        cache_dir=app.flop_cache,
        voice_python=app.voice_python,
    )
