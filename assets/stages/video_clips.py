"""video_clips: one clip per shot, rendered by the brief's video model with the character LoRA.

Each shot is its own content-addressed unit (`shots/<version>/`), its version a hash of exactly
what its pixels depend on. A video_clips version is the list of its shots' units, included in
its folder as `shots/<id>/` without copying bytes: editing one shot renders one shot.

Every clip is scored against the reference stills the LoRA was trained on (assets/stages/
identity.py); a shot below the brief's `qc.min_identity` is rendered again with a derived seed,
up to `qc.max_attempts`. Each attempt is its own unit, kept under `attempts/<id>/<n>/`; the best
is the shot's clip. The blocking check `shots_keep_character` keeps an off-model shot out of the
cut unless a producer accepts it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from assets.stages.base import (
    Check,
    Markdown,
    Picture,
    Run,
    StageResult,
    build_or_reuse,
    stage_result,
)
from assets.stages.character_brief import prediction_metadata, read_brief
from assets.stages.character_lora import lora_of
from assets.stages.narration import ASSET as NARRATION
from assets.stages.narration import line_file, narration_of, timed_brief
from assets.stages.reference_images import ASSET as REFERENCES
from assets.stages.reference_images import stills_of
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief
from resources.domain.clip_plan import (
    SCENE_CODE_VERSION,
    SCENE_UNITS,
    SHOT_CODE_VERSION,
    SHOT_UNITS,
    ClipPlan,
    StillPlan,
    plan_clips,
    shot_unit,
    talking_lines,
)
from resources.domain.licence_check import with_licence
from resources.domain.qc import ShotVerdict
from resources.domain.registry import VideoModel, video_model
from resources.domain.render import RenderSettings
from resources.domain.tiers import checkpoint_name, shot_recipes, shot_renderings, tier_recipe
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.qc import lip_sync, retakes
from resources.qc.reference_still import ReferenceStill, StillChoice, choose_still
from resources.quote.quote import SCENE
from resources.storage.artifact_store import sha256_file
from resources.storage.publish import publish
from resources.video.generator import (
    CLIP,
    POSTER,
    SHOT_MANIFEST,
    RenderJob,
    ShotRequest,
    VideoGenerator,
    finished_shot,
)
from resources.video.scenes import render_scene

ASSET = "video_clips"
CODE_VERSION = "7"  # 7: talking shots' measured lip sync
CHECK_CLIPS = "clips_match_shot_list"
CHECK_PICTURE = "clips_have_no_black_or_frozen_stretches"
CHECK_IDENTITY = "shots_keep_character"
CHECK_SYNC = "talking_shots_in_sync"
CHECKS = (CHECK_CLIPS, CHECK_PICTURE, CHECK_IDENTITY, CHECK_SYNC)
BLOCKING = (CHECK_IDENTITY,)  # an off-model shot stops the cut (Dagster blocking check)
POSTERS = "posters.png"
ATTEMPT_POSTERS = "attempts.png"


def tier_settings(
    run: Run, generator: VideoGenerator, brief: Brief, model: VideoModel, record, lora_file
) -> dict[str, RenderSettings]:
    """The render settings of each tier the brief's shots use (the recipe resolved once)."""
    found = {}
    for recipe in [tier_recipe(model, brief.video.tier), *shot_recipes(brief, model).values()]:
        if recipe.tier not in found:
            found[recipe.tier] = _settings(run, generator, brief, model, recipe.tier, record,
                                           lora_file, "lora")  # fmt: skip
    return found


def _settings(run, generator, brief, model, tier, record, lora_file, condition) -> RenderSettings:
    """The settings of `model` at `tier`: the one place the stage turns a recipe into settings."""
    recipe = tier_recipe(model, tier)
    adapter = recipe.adapter
    return generator.settings(
        model,
        recipe,
        run.models.tier_size(model, recipe),
        record,
        lora_file=lora_file,
        lora_strength=brief.video.lora_strength if lora_file is not None else 0.0,
        distill_files=run.models.distill_adapter_files(model, adapter) if adapter else [],
        checkpoint_dir=run.models.tier_checkpoint_dir(model, recipe),
        condition=condition,
    )


@dataclass(frozen=True)
class StillShots:
    """The shots whose identity comes from the reference still: the image-to-video checkpoint
    they render with, each shot's chosen still, and the plan's view of both."""

    model: VideoModel
    model_dir: Path
    choices: dict[str, StillChoice]
    plan: StillPlan

    def files(self, shots: list[ShotRequest]) -> dict[str, Path]:
        """shot id -> the still each of `shots` conditioned on the still starts from."""
        return {s.id: self.choices[s.id].still.path for s in shots if s.reference_still}


def approved_stills(run: Run, version: str) -> list[ReferenceStill]:
    """The stills of reference_images version `version` (the set the LoRA was trained on and
    the producer approved), with the view and caption reference_images recorded for each."""
    ref = ArtifactRef(run.client, run.character, REFERENCES, version)
    folder, manifest = run.store.path(ref), run.store.manifest(ref)
    found = []
    for entry in manifest["stills"]:
        path = folder / entry["image"]
        caption = folder / entry["caption"]
        text = caption.read_text(encoding="utf-8") if caption.is_file() else ""
        found.append(
            ReferenceStill(path, sha256_file(path), entry["view"], f"{entry['view']} {text}")
        )
    return found


def still_shots(run, generator, brief, model, lora_file, scoring) -> StillShots | None:
    """Choose each still-conditioned shot's still and resolve the settings its tier and
    condition render at (None: every shot takes its identity from the LoRA alone)."""
    # The shots the image-to-video checkpoint renders, as the quote reads them.
    renderings = shot_renderings(brief, model)
    from_still = {k: r for k, r in renderings.items() if r.model.name != model.name}
    if not from_still:
        return None
    reference = next(iter(from_still.values())).model
    wanted = {shot_id: brief.condition_of(shot_id) for shot_id in from_still}
    model_dir = run.models.video_model_dir(reference)
    record = run.models.record(reference.name, reference.repo_id, reference.revision, model_dir)
    stills = approved_stills(run, scoring.references_version)
    embeddings = scoring.references[retakes.PRIMARY]
    trigger = brief.character.trigger
    choices = {}
    for shot in brief.shots:
        if shot.id in wanted:
            choices[shot.id] = choose_still(f"{trigger}, {shot.prompt}", stills, embeddings)
            still = choices[shot.id].still
            run.log(f"shot {shot.id}: identity from {wanted[shot.id]}, still {still.path.name} "
                    f"({still.view})")  # fmt: skip
    settings = {}
    for shot_id, condition in wanted.items():
        tier = from_still[shot_id].recipe.tier
        if (tier, condition) not in settings:
            lora = lora_file if condition == "both" else None
            settings[(tier, condition)] = _settings(
                run, generator, brief, reference, tier, record, lora, condition
            )
    plan = StillPlan({k: c.still.sha256 for k, c in choices.items()}, settings)
    return StillShots(reference, model_dir, choices, plan)


def timed_by(run: Run) -> dict[str, str]:
    """The narration version that timed shots without duration_s, or whose lines talking shots
    follow, as a manifest input."""
    brief, _ = read_brief(run)
    talking = video_model(brief.video.model).generates_audio and brief.has_lines
    if all(s.duration_s is not None for s in brief.shots) and not talking:
        return {}
    return {NARRATION: run.upstream(NARRATION).version}


def lines_followed(run: Run, brief: Brief, model: VideoModel) -> dict[str, str]:
    """shot id -> the narration unit a talking shot's picture follows (LTX-2 shots with a line)."""
    if not (model.generates_audio and brief.has_lines):
        return {}
    _, manifest = narration_of(run)
    return talking_lines(brief, model, {line["id"]: line["unit"] for line in manifest["lines"]})


def clip_folder(folder: Path, shot_id: str) -> Path:
    """Where a video_clips version holds the files of shot `shot_id`."""
    return folder / "shots" / shot_id


def attempt_folder(folder: Path, shot_id: str, attempt: int) -> Path:
    """Where a video_clips version keeps attempt `attempt` (0-based) of shot `shot_id`."""
    return folder / "attempts" / shot_id / str(attempt + 1)


def scoring_of(run: Run, lora_ref: ArtifactRef) -> retakes.Scoring:
    """Identity scoring against the reference stills this LoRA was trained on."""
    return scoring_against(run, run.store.manifest(lora_ref)["inputs"][REFERENCES])


def scoring_against(run: Run, version: str) -> retakes.Scoring:
    """Identity scoring against the stills of reference_images version `version`."""
    refs = ArtifactRef(run.client, run.character, REFERENCES, version)
    return retakes.Scoring(run, stills_of(run.store.path(refs), run.store.manifest(refs)), version)


@dataclass
class ClipsRun:
    """What the execution of one plan holds: the model, where it is, the scorer."""

    run: Run
    generator: VideoGenerator
    model: VideoModel
    model_dir: Path
    plan: ClipPlan
    scoring: retakes.Scoring
    stills: StillShots | None = None  # shots whose identity comes from the reference still

    def render(self, pending: list[ShotRequest], units: dict[str, ArtifactRef]) -> list:
        """Render the pending requests, one pipeline load per tier and identity source."""
        rendered = []
        for (tier, condition), settings in self.plan.groups().items():
            mine = [
                r
                for r in pending
                if self.plan.tiers[r.id] == tier and self.plan.settings[r.id].condition == condition
            ]
            if mine:
                rendered += render_units(self, mine, units, settings)
        return rendered

    def renderer(self, settings: RenderSettings) -> tuple[VideoModel, Path]:
        """The model (and its folder) that renders with `settings`: the brief's, or for the
        reference still its image-to-video checkpoint."""
        if settings.condition == "lora" or self.stills is None:
            return self.model, self.model_dir
        return self.stills.model, self.stills.model_dir

    def still_record(self, shot_id: str) -> dict[str, Any] | None:
        """The still shot `shot_id` is conditioned on, as manifests record it (None: none)."""
        if self.stills is None or shot_id not in self.stills.choices:
            return None
        return self.stills.choices[shot_id].record()


def render_clips(run: Run, generator: VideoGenerator) -> StageResult:
    """One clip per shot at the model's native fps; unchanged and finished shots are reused."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    brief = timed_brief(run, brief)  # a shot without duration_s lasts as long as its line
    lora_ref, lora_file = lora_of(run)
    model = video_model(brief.video.model)
    model_dir = run.models.video_model_dir(model)
    record = run.models.record(model.name, model.repo_id, model.revision, model_dir)
    settings = tier_settings(run, generator, brief, model, record, lora_file)
    scoring = scoring_of(run, lora_ref)
    stills = still_shots(run, generator, brief, model, lora_file, scoring)
    plan = plan_clips(
        run.ref,
        brief,
        model,
        settings,
        lines_followed(run, brief, model),
        stills.plan if stills else None,
    )
    execution = ClipsRun(run, generator, model, model_dir, plan, scoring, stills)
    # Attempt 0 of each shot is the shot's own unit; which further attempts a version holds
    # follows from the thresholds and the scores, so those are part of the version too.
    ref = run.ref(
        ASSET,
        {
            "shots": [[s.id, plan.units[s.id].version] for s in plan.shots],
            "qc": retakes.retake_payload(brief.qc),
            "scoring": execution.scoring.payload(),
            "code": CODE_VERSION,
        },
    )
    sizes = {s.id: plan.settings[s.id] for s in plan.shots}
    reused = build_or_reuse(
        run,
        ref,
        lambda stage: _build_clips(execution, brief, brief_ref, lora_ref, stage, start),
        needs_bytes=clips_bytes(plan.shots, sizes),
    )
    folder = run.store.path(ref)
    manifest = run.store.manifest(ref)
    checks, table = _clip_checks(folder, manifest, sizes, model.native_fps)
    checks += [_identity_check(run, brief, brief_ref, manifest), _sync_check(manifest)]
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata=_clips_metadata(run, brief, plan, folder, manifest, reused, table),
        checks=checks,
    )


def _build_clips(ex: ClipsRun, brief: Brief, brief_ref, lora_ref, stage: Path, start: float):
    """Render (or reuse) every shot's attempts, include the chosen ones; the manifest's fields."""
    run, plan, qc = ex.run, ex.plan, brief.qc
    shots = plan.shots
    if plan.scene is not None:
        rendered = render_scene_unit(ex)
        takes = _scene_takes(ex, qc, rendered)
    else:
        rendered = []

        def render_round(pending: list[ShotRequest], units: dict[str, ArtifactRef]) -> None:
            for shot in shots:
                if units.get(shot.id) == plan.units[shot.id] and shot not in pending:
                    run.log(f"shot {shot.id}: unchanged, reusing unit {units[shot.id].version}")
            rendered.extend(ex.render(pending, units))

        unit_of = partial(plan.unit_of, run.ref)
        takes = retakes.render_takes(run, shots, qc, ex.scoring, unit_of, render_round)
    chosen = {s.id: retakes.best_take(takes[s.id]) for s in shots}
    for shot in shots:
        run.store.include(chosen[shot.id].unit, stage, clip_folder(Path(), shot.id).as_posix())
        for take in takes[shot.id]:
            where = attempt_folder(Path(), shot.id, take.attempt).as_posix()
            run.store.include(take.unit, stage, where)
    without_lora = _lora_effect(ex, chosen) if qc.measure_lora_effect and plan.scene is None else {}
    synced = {
        s.id: lip_sync.measure_clip(clip_folder(stage, s.id) / CLIP, line_file(run, s.line_unit))
        for s in (chosen[shot.id].request for shot in shots)
        if s.line_unit is not None
    }
    for shot_id, found in synced.items():
        run.log(f"shot {shot_id}: lip sync {found.verdict.replace('_', ' ')}: {found.reason}")
    _contact_sheets(stage, shots, takes)
    default = plan.default
    return dict(
        code_version=CODE_VERSION,
        inputs={"character_lora": lora_ref.version, **timed_by(run)},
        parameters={**default.parameters(), "shot_tiers": plan.tiers},
        models=[
            with_licence(default.model),
            *_reference_records(ex),
            *_adapter_records(ex),
            *_checkpoint_records(ex),
            *map(with_licence, ex.scoring.records),
        ],
        seeds={s.id: chosen[s.id].request.seed for s in shots},
        prompts={s.id: s.prompt for s in shots},
        timings={
            "wall_s": time.perf_counter() - start,
            **{f"shot_{r.id}_s": r.render_s for r in rendered},
        },
        extra={
            # What the cut reads, by name: each shot's clip, length and the unit it came from.
            "shots": [
                {
                    **_shot_entry(s, chosen[s.id], takes[s.id], plan.tiers[s.id], without_lora),
                    "sync": synced[s.id].record() if s.id in synced else None,
                    # Where the shot's identity came from: the LoRA, the still, or both.
                    "identity_from": plan.settings[s.id].condition,
                    "still": ex.still_record(s.id),
                }
                for s in shots
            ],
            "qc": {
                **retakes.retake_payload(qc),
                "primary": retakes.PRIMARY,
                "frames": ex.scoring.payload()["frames"],
                "reference_images": ex.scoring.references_version,
                "scorers": ex.scoring.records,
            },
            "compute": run.compute(start),
            "brief_version": brief_ref.version,
            "licence": ex.model.licence_record(),
            "scene": (
                {
                    "unit": plan.scene_ref.version,
                    "num_frames": plan.scene.num_frames,
                    "cuts": plan.scene.cuts,
                }
                if plan.scene is not None
                else None
            ),
        },
    )


def _reference_records(ex: ClipsRun) -> list[dict[str, Any]]:
    """The image-to-video checkpoint still-conditioned shots rendered with, as a model record."""
    found = {s.model["name"]: s.model for s in ex.plan.groups().values() if s.condition != "lora"}
    return [with_licence(record) for record in found.values()]


def _adapter_records(ex: ClipsRun) -> list[dict[str, Any]]:
    """The step-distillation adapters the shots' tiers loaded, as manifest model records."""
    found: dict[str, dict[str, Any]] = {}
    production = ex.run.models.profile == "production"
    for (tier, _), settings in ex.plan.groups().items():
        adapter = tier_recipe(ex.renderer(settings)[0], tier).adapter
        if adapter is None or not settings.distill_sha256:
            continue
        record = {
            "name": adapter.name,
            "id": adapter.repo_id if production else f"tiny/{adapter.name}",
            "revision": "main" if production else "built-in",
            "profile": ex.run.models.profile,
            "sha256": list(settings.distill_sha256),
        }
        found[adapter.name] = with_licence(record)
    return list(found.values())


def _checkpoint_records(ex: ClipsRun) -> list[dict[str, Any]]:
    """The tiers' own transformers (distilled checkpoints) the shots rendered with, as records."""
    found = []
    production = ex.run.models.profile == "production"
    for (tier, _), settings in sorted(ex.plan.groups().items()):
        model = ex.renderer(settings)[0]
        recipe = tier_recipe(model, tier)
        if not settings.checkpoint_sha256:
            continue
        name = checkpoint_name(model.name, tier)
        record = {
            "name": name,
            "id": recipe.checkpoint if production else f"tiny/{name}",
            "revision": "main" if production else "built-in",
            "profile": ex.run.models.profile,
            "sha256": settings.checkpoint_sha256,
        }
        found.append(with_licence(record))
    return found


def _shot_entry(shot: ShotRequest, chosen, takes, tier: str, without_lora) -> dict[str, Any]:
    """One shot of the manifest: `seed` is the chosen attempt's, `brief_seed` the shot's own."""
    return {
        **asdict(chosen.request),
        "brief_seed": shot.seed,
        "tier": tier,
        "unit": chosen.unit.version,
        "rendered": any(t.rendered for t in takes),
        "clip": (clip_folder(Path(), shot.id) / CLIP).as_posix(),
        "poster": (clip_folder(Path(), shot.id) / POSTER).as_posix(),
        "attempt": chosen.attempt,
        # A talking shot: the picture was generated to its line's sound (LTX-2).
        "lip_synced": chosen.request.line_unit is not None,
        "identity": chosen.scores["identity"],
        "subject_consistency": chosen.scores["subject_consistency"],
        "attempts": [
            {
                **t.record(),
                "poster": (attempt_folder(Path(), shot.id, t.attempt) / POSTER).as_posix(),
            }
            for t in takes
        ],
        **without_lora.get(shot.id, {}),
    }


def _contact_sheets(stage: Path, shots: list[ShotRequest], takes) -> None:
    contact_sheet(
        [Image.open(clip_folder(stage, s.id) / POSTER) for s in shots],
        stage / POSTERS,
        labels=[s.id for s in shots],
    )
    every = [t for s in shots for t in takes[s.id]]
    contact_sheet(
        [Image.open(attempt_folder(stage, t.request.id, t.attempt) / POSTER) for t in every],
        stage / ATTEMPT_POSTERS,
        labels=[f"{t.request.id} #{t.attempt + 1} {t.identity:.2f}" for t in every],
    )


def _identity_check(run: Run, brief: Brief, brief_ref, manifest: dict[str, Any]) -> Check:
    """The blocking check: every shot keeps the character, or a producer accepted it."""
    qc = brief.qc
    verdicts = retakes.verdicts(run, brief, brief_ref, manifest)
    failing = [v for v in verdicts if not v.passed]
    return Check(
        CHECK_IDENTITY,
        passed=not failing,
        description="; ".join(v.message(run.client, run.character) for v in failing)
        or "every shot keeps the character",
        metadata={
            "shots": verdict_table(verdicts),
            "min_identity": qc.min_identity,
            "max_attempts": qc.max_attempts,
            "failing": ", ".join(v.shot for v in failing) or "none",
            "scores": {
                v.shot: {"best": v.best, "attempt": v.attempt + 1, "attempts": v.attempts}
                for v in verdicts
            },
        },
    )


def _sync_check(manifest: dict[str, Any]) -> Check:
    """Each talking shot's mouth follows its line within MAX_LAG_FRAMES (resources/qc/lip_sync).

    A lag beyond it fails (ERROR); a shot the measurement could not read (no face found, a mouth
    that does not move with the line) fails as a warning: sync was not shown, nor disproved.
    """
    measured = {s["id"]: s["sync"] for s in manifest["shots"] if s.get("sync")}
    late = [
        f"{k} {v['lag_frames']:+d} frames"
        for k, v in measured.items()
        if v["verdict"] == "out_of_sync"
    ]
    unread = [f"{k}: {v['reason']}" for k, v in measured.items() if v["lag_frames"] is None]
    if late:
        description = f"out of sync beyond +-{lip_sync.MAX_LAG_FRAMES} frames: {', '.join(late)}"
    elif unread:
        description = f"not measured: {'; '.join(unread)}"
    elif measured:
        description = f"{len(measured)} talking shots within +-{lip_sync.MAX_LAG_FRAMES} frames"
    else:
        description = "no talking shots (no shot's picture was generated to a line)"
    return Check(
        CHECK_SYNC,
        passed=not late and not unread,
        severity="ERROR" if late else "WARN",
        description=description,
        metadata={
            "max_lag_frames": lip_sync.MAX_LAG_FRAMES,
            "method": lip_sync.METHOD,
            "detector": lip_sync.DETECTOR,
            "shots": {
                k: {"verdict": v["verdict"], "lag_frames": v["lag_frames"],
                    "correlation": v["correlation"]}
                for k, v in measured.items()
            },
        },
    )  # fmt: skip


def _clips_metadata(run, brief, plan, folder, manifest, reused, table) -> dict[str, Any]:
    """What the Dagster UI shows of a video_clips version."""
    qc, model = brief.qc, video_model(brief.video.model)
    per_shot = {
        f"identity_{s['id']}": attempts_table(
            s["id"],
            [
                retakes.Take(
                    a["attempt"],
                    ShotRequest(**{**{k: s[k] for k in _REQUEST_FIELDS}, "seed": a["seed"]}),
                    ArtifactRef(run.client, run.character, SHOT_UNITS, a["unit"]),
                    a["rendered"],
                    {"identity": a["identity"], "subject_consistency": a["subject_consistency"]},
                )
                for a in s["attempts"]
            ],
            qc.min_identity,
            s["attempt"],
            s.get("identity_from") or "lora",
        )
        for s in manifest["shots"]
    }
    tiers = set(plan.tiers.values())
    return {
        "shots": len(plan.shots),
        "rendered": sum(1 for s in manifest["shots"] if s["rendered"]) if not reused else 0,
        "model": plan.default.model["id"],
        "native_fps": model.native_fps,
        "size": ", ".join(sorted({f"{z.width}x{z.height}" for z in plan.settings.values()})),
        "clips": table,
        "posters": Picture(folder / POSTERS, "posters"),
        "tier": brief.video.tier
        if len(tiers) <= 1
        else ", ".join(f"{k}: {v}" for k, v in plan.tiers.items()),
        **prediction_metadata(
            run,
            ("text_encoding", "still_encoding", "render", "vae_decode"),
            manifest,
            shots=_quoted_generations(manifest),
        ),
        "attempts": Picture(folder / ATTEMPT_POSTERS, "every attempt, with its identity"),
        **per_shot,
    }


def _quoted_generations(manifest: dict[str, Any]) -> list[str]:
    """The quote lines this version's renders match: its rendered shots, or its one scene."""
    rendered = [s["id"] for s in manifest["shots"] if s["rendered"]]
    return [SCENE] if rendered and manifest.get("scene") else rendered


def clips_bytes(shots: list[ShotRequest], sizes: dict[str, Any]) -> int:
    """Space the clips of `shots` may take: H.264 of noise-like frames stays under half raw."""
    total = 0
    for s in shots:
        frame = sizes[s.id].width * sizes[s.id].height * 3
        total += s.num_frames * frame // 2 + frame
    return total


_REQUEST_FIELDS = ("id", "prompt", "negative_prompt", "seed", "num_frames", "duration_s")


def _lora_effect(ex: ClipsRun, chosen) -> dict[str, dict]:
    """Each chosen attempt rendered again at LoRA strength 0 (same seed), scored: what it bought."""
    run, found = ex.run, {}
    for take in chosen.values():
        r = take.request
        if ex.plan.settings[r.id].condition == "reference":
            continue  # no LoRA in this shot: nothing to take away
        base = ex.plan.settings[r.id].without_lora()
        unit = shot_unit(run.ref, r, base.payload())
        render_units(ex, [r], {r.id: unit}, base)
        scores = ex.scoring.score_unit(unit)
        with_lora = take.scores["identity"]
        found[r.id] = {
            "without_lora": {"unit": unit.version, **scores},
            "lora_gain": {k: with_lora[k] - scores["identity"][k] for k in with_lora},
        }
        run.log(
            f"shot {r.id}: identity {with_lora[retakes.PRIMARY]:.3f} with the LoRA, "
            f"{scores['identity'][retakes.PRIMARY]:.3f} without (same seed)"
        )
    return found


def _unit_fields(ex: ClipsRun, settings: RenderSettings, shot: ShotRequest, done, inputs) -> dict:
    """The manifest fields of one shot unit (with the still a still-conditioned shot used)."""
    model, _ = ex.renderer(settings)
    still = ex.still_record(shot.id) if shot.reference_still else None
    return dict(
        code_version=SHOT_CODE_VERSION,
        inputs=inputs,
        parameters=settings.parameters(),
        models=[with_licence(settings.model)],
        seeds={shot.id: shot.seed},
        prompts={shot.id: shot.prompt},
        timings={"render_s": done.render_s if done is not None else 0.0},
        extra={
            "shot": asdict(shot),
            "record": SHOT_MANIFEST,
            "licence": model.licence_record(),
            "identity_from": settings.condition,
            **({"still": still} if still else {}),
        },
    )


def render_units(ex: ClipsRun, pending, units, settings: RenderSettings) -> list:
    """Render the pending shots (of one tier) through the publish protocol, each its own unit.

    A unit another run finished while this one waited for its lock is reused, not rendered
    again.
    """
    run, by_ref = ex.run, {units[s.id]: s for s in pending}
    rendered = []
    model, model_dir = ex.renderer(settings)

    def build(folders: dict[ArtifactRef, Path]) -> dict[ArtifactRef, dict]:
        shots = [by_ref[ref] for ref in folders]
        done = ex.generator.render_shots(
            model_dir,
            model,
            shots,
            {by_ref[ref].id: folder for ref, folder in folders.items()},
            settings,
            device=run.device,
            dtype=run.dtype,
            log=run.log,
            stop=run.stop,
            line_files={s.id: line_file(run, s.line_unit) for s in shots if s.line_unit},
            still_files=ex.stills.files(shots) if ex.stills else None,
        )
        rendered.extend(done)
        for shot in shots:
            run.log(f"shot {shot.id}: rendered as unit {units[shot.id].version}")
        return {
            ref: _unit_fields(ex, settings, by_ref[ref], d, {})
            for ref, d in zip(folders, done, strict=True)
        }

    publish(run.store, [units[s.id] for s in pending], build, log=run.log)
    return rendered


def _scene_takes(ex: ClipsRun, qc, rendered) -> dict[str, list]:
    """Each shot of a scene scored as its one attempt.

    A scene is one generation: re-rolling a shot would re-render (and change) every shot, so a
    scene model's shots are measured and checked but not re-rolled one by one; an off-model shot
    blocks the cut until the producer accepts it or edits the brief (a new seed re-rolls the scene).
    """
    scene, units, run = ex.plan.scene, ex.plan.units, ex.run
    if qc.max_attempts > 1:
        run.log(
            f"{len(scene.shots)} shots from one scene: scored, not re-rolled "
            "(qc.max_attempts applies to shot-by-shot models)"
        )
    if qc.measure_lora_effect:
        run.log("qc.measure_lora_effect: not measured for a scene model (one generation)")
    fresh = {r.id for r in rendered}
    return {
        s.id: [retakes.Take(0, s, units[s.id], s.id in fresh, ex.scoring.score_unit(units[s.id]))]
        for s in scene.shots
    }


def render_scene_unit(ex: ClipsRun) -> list:
    """Render the scene once into its unit and cut it into every shot's unit; publish them all.

    One generation through the publish protocol: nothing is rendered when every unit is intact;
    otherwise all are locked and staged together (an intact one is kept as it is: the re-cut of
    a deterministic scene is the same shot).
    """
    run, plan = ex.run, ex.plan
    scene, scene_ref = plan.scene, plan.scene_ref
    settings = plan.settings[scene.shots[0].id]
    refs = [scene_ref, *(plan.units[s.id] for s in scene.shots)]
    rendered = []

    def build(folders: dict[ArtifactRef, Path]) -> dict[ArtifactRef, dict]:
        job = RenderJob(
            ex.model_dir,
            ex.model,
            {s.id: folders[plan.units[s.id]] for s in scene.shots},
            settings,
            run.dtype,
        )
        timings = render_scene(job, scene, folders[scene_ref], run.device, stop=run.stop)
        fields = {
            scene_ref: dict(
                code_version=SCENE_CODE_VERSION,
                inputs={},
                parameters=settings.parameters(),
                models=[with_licence(settings.model)],
                seeds={"scene": scene.seed},
                prompts={"scene": scene.prompt},
                timings=timings,
                extra={"scene": asdict(scene), "licence": ex.model.licence_record()},
            )
        }
        for shot in scene.shots:
            fields[plan.units[shot.id]] = _unit_fields(
                ex, settings, shot, None, {SCENE_UNITS: scene_ref.version}
            )
            rendered.append(finished_shot(folders[plan.units[shot.id]], shot, reused=False))
        run.log(
            f"scene of {len(scene.shots)} shots ({scene.num_frames} frames, cuts at "
            f"{list(scene.cuts)}) rendered as unit {scene_ref.version} in "
            f"{timings['render_s']:.1f} s"
        )
        return fields

    if all(run.store.reusable(u) for u in refs[1:]):
        for shot in scene.shots:
            run.log(f"shot {shot.id}: unchanged, reusing unit {plan.units[shot.id].version}")
        return []
    publish(run.store, refs, build, log=run.log, together=True)
    return rendered


def clips_of(folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The shots a video_clips version recorded, in order, each with its clip's full path."""
    return [{**s, "path": folder / s["clip"]} for s in manifest["shots"]]


def _clip_checks(
    folder: Path, manifest: dict, sizes: dict[str, Any], fps: int
) -> tuple[list[Check], Markdown]:
    """Format and picture checks of every clip, and the per-shot table they are based on."""
    bad_format, bad_picture, rows, figures = [], [], [], {}
    for shot in clips_of(folder, manifest):
        clip = shot["path"]
        if not clip.is_file():
            bad_format.append(f"{shot['id']}: missing")
            continue
        report = inspect_video(clip)
        figures[shot["id"]] = report.metadata()
        rows.append(
            f"| {shot['id']} | {report.width}x{report.height} | {report.fps:g} | "
            f"{report.frame_count} | {report.codec} | {report.luma_mean:.1f} | "
            f"{report.motion_mean:.2f} | {report.longest_black_s:.2f} | "
            f"{report.longest_frozen_s:.2f} |"
        )
        size = sizes.get(shot["id"])
        wrong = format_problems(
            report,
            width=size.width if size else report.width,
            height=size.height if size else report.height,
            fps=fps,
            frame_count=shot["num_frames"],
        )
        if size is None:
            wrong.append("not in the brief's shot list")
        bad_format += [f"{shot['id']}: {p}" for p in wrong]
        bad_picture += [f"{shot['id']}: {p}" for p in picture_problems(report)]
    table = Markdown(
        "| shot | size | fps | frames | codec | mean luma | motion | black s | frozen s |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    checks = [
        Check(
            CHECK_CLIPS,
            passed=not bad_format,
            metadata={"problems": "; ".join(bad_format) or "none", "clips": table},
        ),
        Check(
            CHECK_PICTURE,
            passed=not bad_picture,
            metadata={"problems": "; ".join(bad_picture) or "none", "figures": figures},
        ),
    ]
    return checks, table


def attempts_table(
    shot: str, takes: list[retakes.Take], threshold: float, chosen: int, source: str = "lora"
) -> Markdown:
    """The UI's table of one shot's attempts, and where the shot's identity came from."""
    rows = [
        "| attempt | seed | DINOv2 identity | CLIP identity | subject consistency | |",
        "|---|---|---|---|---|---|",
    ]
    for t in takes:
        ident = t.scores["identity"]
        mark = "chosen" if t.attempt == chosen else ""
        rows.append(
            f"| {t.attempt + 1} | {t.request.seed} | {ident[retakes.PRIMARY]:.3f} | "
            f"{next(v for k, v in ident.items() if k != retakes.PRIMARY):.3f} | "
            f"{t.scores['subject_consistency']:.3f} | {mark} |"
        )
    rows.append(
        f"\nmin_identity {threshold:.3f} ({retakes.PRIMARY}); shot `{shot}`; identity from {source}"
    )
    return Markdown("\n".join(rows))


def verdict_table(found: list[ShotVerdict]) -> Markdown:
    rows = [
        "| shot | best identity | attempt | attempts | min_identity | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for v in found:
        verdict = "pass" if v.on_model else (f"accepted by {v.accepted_by}" if v.passed else "FAIL")
        rows.append(
            f"| {v.shot} | {v.best:.3f} | {v.attempt + 1} | {v.attempts} | {v.threshold:.3f} | "
            f"{verdict} |"
        )
    return Markdown("\n".join(rows))
