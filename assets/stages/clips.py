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

import hashlib
import json
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from assets.stages import identity
from assets.stages.base import (
    Check,
    Markdown,
    Picture,
    Run,
    StageResult,
    build_or_reuse,
    stage_result,
)
from assets.stages.brief import prediction_metadata, read_brief
from assets.stages.lora import lora_of
from assets.stages.references import ASSET as REFERENCES
from assets.stages.references import stills_of
from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief
from resources.domain.registry import VideoModel, video_model
from resources.domain.scenes import plan_scene
from resources.domain.tiers import tier_recipe
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
from resources.media.video_io import ENCODER_THREADS
from resources.quote.quote import SCENE
from resources.storage.artifact_store import build_manifest, sha256_file, write_json
from resources.video.generator import (
    CLIP,
    POSTER,
    SHOT_MANIFEST,
    ShotRequest,
    VideoGenerator,
    finished_shot,
)
from resources.video.scenes import SceneRequest, render_scene

ASSET = "video_clips"
SHOT_UNITS = "shots"  # <client>/<character>/shots/<version>/: one rendered shot each
CODE_VERSION = "6"  # 6: scene models (one generation cut into shots) and licences
SHOT_CODE_VERSION = "2"  # what a shot's pixels depend on in code: bump when rendering changes
# A scene model's whole shot list as one generation: <client>/<character>/scenes/<version>/.
SCENE_UNITS = "scenes"
SCENE_CODE_VERSION = "1"
CHECK_CLIPS = "clips_match_shot_list"
CHECK_PICTURE = "clips_have_no_black_or_frozen_stretches"
CHECK_IDENTITY = identity.CHECK_SHOTS
CHECKS = (CHECK_CLIPS, CHECK_PICTURE, CHECK_IDENTITY)
BLOCKING = (CHECK_IDENTITY,)  # an off-model shot stops the cut (Dagster blocking check)
POSTERS = "posters.png"
ATTEMPT_POSTERS = "attempts.png"


def shot_requests(brief: Brief, model: VideoModel) -> list[ShotRequest]:
    """The brief's shots as the renderer takes them: trigger in the prompt, valid frame count."""
    trigger = brief.character.trigger
    return [
        ShotRequest(
            id=shot.id,
            prompt=f"{trigger}, {shot.prompt}",
            negative_prompt=shot.negative_prompt or brief.video.negative_prompt,
            seed=shot.seed,
            num_frames=model.valid_frame_count(shot.duration_s),
            duration_s=shot.duration_s,
        )
        for shot in brief.shots
    ]


def scene_request(brief: Brief, model: VideoModel) -> SceneRequest:
    """The brief as one scene: the character as global caption, shots cut at the model's fps."""
    plan = plan_scene([s.duration_s for s in brief.shots], model.native_fps)
    trigger = brief.character.trigger
    seeds = [s.seed for s in brief.shots]
    # One generation has one noise seed; derived from every shot's seed so that changing any of
    # them gives a new take (a one-shot scene keeps its shot's seed).
    digest = hashlib.sha256(json.dumps(seeds).encode()).hexdigest()
    seed = seeds[0] if len(seeds) == 1 else int(digest[:8], 16) % 2**31
    shots = tuple(
        ShotRequest(
            id=shot.id,
            prompt=f"{trigger}, {shot.prompt}",
            negative_prompt=brief.video.negative_prompt,
            seed=seed,
            num_frames=end - first,
            duration_s=shot.duration_s,
        )
        for shot, (first, end) in zip(brief.shots, plan.shot_frames(), strict=True)
    )
    return SceneRequest(
        global_caption=f"{trigger}, {brief.character.description}",
        shots=shots,
        negative_prompt=brief.video.negative_prompt,
        seed=seed,
        num_frames=plan.num_frames,
        cuts=plan.cuts,
    )


def shot_unit(run: Run, shot: ShotRequest, render: dict[str, Any]) -> ArtifactRef:
    """The unit of one shot: a hash of the request and every render setting its pixels use."""
    return run.ref(SHOT_UNITS, {"shot": asdict(shot), "render": render, "code": SHOT_CODE_VERSION})


@dataclass(frozen=True)
class TierRender:
    """How shots of one tier render: the settings in their units, the adapter files, the size."""

    render: dict[str, Any]
    distill: list[Path]
    size: Any


def _tier_render(run, generator, model, tier, brief, record, lora_file) -> TierRender:
    recipe = tier_recipe(model, tier)
    size = run.models.tier_size(model, recipe)
    distill = run.models.distill_adapter_files(model, recipe.adapter) if recipe.adapter else []
    # The tier's cache, off with a distilled adapter; else the resource's (0 = off).
    cache = recipe.cache.threshold if recipe.cache else generator.first_block_cache
    if recipe.adapter:
        cache = 0.0
    render = {
        # The tier is part of every shot's unit: a draft and a final are two artifacts.
        "tier": recipe.tier,
        "width": size.width,
        "height": size.height,
        "steps": size.steps,
        "guidance_scale": recipe.guidance_scale,
        "guidance_scale_2": recipe.guidance_scale_2,
        "flow_shift": recipe.flow_shift,
        "fps": model.native_fps,
        "lora_strength": brief.video.lora_strength,
        "lora_sha256": sha256_file(lora_file),
        "distill": {
            "files": [sha256_file(f) for f in distill],
            "strength": recipe.adapter.strength if recipe.adapter else None,
        },
        "model": record,
        # Both change the pixels (flash vs native kernels round differently; the cache skips work).
        "attention": generator.attention,
        "first_block_cache": cache,
        "encoder_threads": ENCODER_THREADS,  # libx264's bytes depend on its thread count
    }
    return TierRender(render, distill, size)


def clip_folder(folder: Path, shot_id: str) -> Path:
    """Where a video_clips version holds the files of shot `shot_id`."""
    return folder / "shots" / shot_id


def attempt_folder(folder: Path, shot_id: str, attempt: int) -> Path:
    """Where a video_clips version keeps attempt `attempt` (0-based) of shot `shot_id`."""
    return folder / "attempts" / shot_id / str(attempt + 1)


def scoring_of(run: Run, lora_ref: ArtifactRef) -> identity.Scoring:
    """Identity scoring against the reference stills this LoRA was trained on."""
    return scoring_against(run, run.store.manifest(lora_ref)["inputs"][REFERENCES])


def scoring_against(run: Run, version: str) -> identity.Scoring:
    """Identity scoring against the stills of reference_images version `version`."""
    refs = ArtifactRef(run.client, run.character, REFERENCES, version)
    return identity.Scoring(run, stills_of(run.store.path(refs), run.store.manifest(refs)), version)


def render_clips(run: Run, generator: VideoGenerator) -> StageResult:
    """One clip per shot at the model's native fps; unchanged and finished shots are reused."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    lora_ref, lora_file = lora_of(run)
    model = video_model(brief.video.model)
    model_dir = run.models.video_model_dir(model)
    record = run.models.record(model.name, model.repo_id, model.revision, model_dir)
    # Each tier a shot list uses, with its render settings (a promoted shot renders at final
    # beside draft shots); the default tier's settings are the version's parameters.
    tiers = {
        name: _tier_render(run, generator, model, name, brief, record, lora_file)
        for name in dict.fromkeys([brief.video.tier, *(brief.tier_of(s.id) for s in brief.shots)])
    }
    shot_tiers = {s.id: brief.tier_of(s.id) for s in brief.shots}
    render = tiers[brief.video.tier].render
    scene, scene_ref, shot_render = None, None, render
    if model.is_scene_model:
        # One unit for the scene (every shot's prompt, seed and duration plus the render
        # settings); each shot's unit is its cut of that scene.
        scene = scene_request(brief, model)
        scene_ref = run.ref(
            SCENE_UNITS, {"scene": asdict(scene), "render": render, "code": SCENE_CODE_VERSION}
        )
        shot_render = {**render, "scene": scene_ref.version}
        shots = list(scene.shots)
    else:
        shots = shot_requests(brief, model)

    def render_of(shot_id: str) -> dict[str, Any]:
        return shot_render if scene is not None else tiers[shot_tiers[shot_id]].render

    units = {s.id: shot_unit(run, s, render_of(s.id)) for s in shots}
    qc = brief.qc
    scoring = scoring_of(run, lora_ref)
    # Attempt 0 of each shot is the shot's own unit; which further attempts a version holds
    # follows from the thresholds and the scores, so those are part of the version too.
    ref = run.ref(
        ASSET,
        {
            "shots": [[s.id, units[s.id].version] for s in shots],
            "qc": identity.retake_payload(qc),
            "scoring": scoring.payload(),
            "code": CODE_VERSION,
        },
    )

    def build(stage: Path) -> dict:
        rendered = []

        def render_round(pending: list[ShotRequest], round_units: dict[str, ArtifactRef]) -> None:
            for shot in shots:
                if shot.id in round_units and round_units[shot.id] == units.get(shot.id):
                    if shot not in pending:
                        run.log(f"shot {shot.id}: unchanged, reusing unit {units[shot.id].version}")
            for name, tier in tiers.items():  # one pipeline call per tier
                mine = [r for r in pending if shot_tiers[r.id] == name]
                if mine:
                    rendered.extend(
                        _render_units(
                            run, generator, model_dir, model, mine, round_units, tier, lora_file
                        )
                    )

        if scene is not None:
            rendered = _render_scene_unit(
                run, generator, model_dir, model, scene, scene_ref, units, shot_render, lora_file
            )
            takes = _scene_takes(run, scene, units, qc, scoring, rendered)
        else:
            takes = identity.render_takes(
                run, shots, qc, scoring, lambda r: shot_unit(run, r, render_of(r.id)), render_round
            )
        chosen = {s.id: identity.best_take(takes[s.id]) for s in shots}
        for shot in shots:
            run.store.include(chosen[shot.id].unit, stage, clip_folder(Path(), shot.id).as_posix())
            for take in takes[shot.id]:
                where = attempt_folder(Path(), shot.id, take.attempt).as_posix()
                run.store.include(take.unit, stage, where)
        without_lora = (
            _lora_effect(run, generator, model_dir, model, chosen, tiers, shot_tiers, scoring)
            if qc.measure_lora_effect and scene is None
            else {}
        )
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
        return dict(
            code_version=CODE_VERSION,
            inputs={"character_lora": lora_ref.version},
            parameters={
                **{k: v for k, v in render.items() if k != "model"},
                "shot_tiers": shot_tiers,
            },
            models=[{**record, "licence": model.licence}, *scoring.records],
            seeds={s.id: chosen[s.id].request.seed for s in shots},
            prompts={s.id: s.prompt for s in shots},
            timings={
                "wall_s": time.perf_counter() - start,
                **{f"shot_{r.id}_s": r.render_s for r in rendered},
            },
            extra={
                # What the cut reads, by name: each shot's clip, length and the unit it came from.
                # `seed` is the seed of the chosen attempt; `brief_seed` the shot's own.
                "shots": [
                    {
                        **asdict(chosen[s.id].request),
                        "brief_seed": s.seed,
                        "tier": shot_tiers[s.id],
                        "unit": chosen[s.id].unit.version,
                        "rendered": any(t.rendered for t in takes[s.id]),
                        "clip": (clip_folder(Path(), s.id) / CLIP).as_posix(),
                        "poster": (clip_folder(Path(), s.id) / POSTER).as_posix(),
                        "attempt": chosen[s.id].attempt,
                        "identity": chosen[s.id].scores["identity"],
                        "subject_consistency": chosen[s.id].scores["subject_consistency"],
                        "attempts": [
                            {
                                **t.record(),
                                "poster": (
                                    attempt_folder(Path(), s.id, t.attempt) / POSTER
                                ).as_posix(),
                            }
                            for t in takes[s.id]
                        ],
                        **without_lora.get(s.id, {}),
                    }
                    for s in shots
                ],
                "qc": {
                    **identity.retake_payload(qc),
                    "primary": identity.PRIMARY,
                    "frames": scoring.payload()["frames"],
                    "reference_images": scoring.references_version,
                    "scorers": scoring.records,
                },
                "compute": run.compute(start),
                "brief_version": brief_ref.version,
                "licence": model.licence_record(),
                "scene": (
                    {"unit": scene_ref.version, "num_frames": scene.num_frames, "cuts": scene.cuts}
                    if scene is not None
                    else None
                ),
            },
        )

    sizes = {s.id: tiers[shot_tiers[s.id]].size for s in shots}
    reused = build_or_reuse(run, ref, build, needs_bytes=clips_bytes(shots, sizes))
    folder = run.store.path(ref)
    manifest = run.store.manifest(ref)
    checks, table = _clip_checks(folder, manifest, sizes, model.native_fps)
    verdicts = identity.verdicts(run, brief, brief_ref, manifest)
    failing = [v for v in verdicts if not v.passed]
    checks.append(
        Check(
            CHECK_IDENTITY,
            passed=not failing,
            description="; ".join(v.message(run.client, run.character) for v in failing)
            or "every shot keeps the character",
            metadata={
                "shots": identity.verdict_table(verdicts),
                "min_identity": qc.min_identity,
                "max_attempts": qc.max_attempts,
                "failing": ", ".join(v.shot for v in failing) or "none",
                "scores": {
                    v.shot: {"best": v.best, "attempt": v.attempt + 1, "attempts": v.attempts}
                    for v in verdicts
                },
            },
        )
    )
    per_shot = {
        f"identity_{s['id']}": identity.attempts_table(
            s["id"],
            [
                identity.Take(
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
        )
        for s in manifest["shots"]
    }
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "shots": len(shots),
            "rendered": sum(1 for s in manifest["shots"] if s["rendered"]) if not reused else 0,
            "model": record["id"],
            "native_fps": model.native_fps,
            "size": ", ".join(sorted({f"{z.width}x{z.height}" for z in sizes.values()})),
            "clips": table,
            "posters": Picture(folder / POSTERS, "posters"),
            "tier": brief.video.tier
            if len(tiers) == 1
            else ", ".join(f"{k}: {v}" for k, v in shot_tiers.items()),
            **prediction_metadata(
                run,
                ("text_encoding", "render", "vae_decode"),
                manifest,
                shots=_quoted_generations(manifest),
            ),
            "attempts": Picture(folder / ATTEMPT_POSTERS, "every attempt, with its identity"),
            **per_shot,
        },
        checks=checks,
    )


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


def _lora_effect(
    run, generator, model_dir, model, chosen, tiers, shot_tiers, scoring
) -> dict[str, dict]:
    """Each chosen attempt rendered again at LoRA strength 0 (same seed), scored: what it bought."""
    found = {}
    for take in chosen.values():
        r, tier = take.request, tiers[shot_tiers[take.request.id]]
        base = TierRender(
            {**tier.render, "lora_strength": 0.0, "lora_sha256": None}, tier.distill, tier.size
        )
        unit = shot_unit(run, r, base.render)
        if not run.store.reusable(unit):
            _render_units(run, generator, model_dir, model, [r], {r.id: unit}, base, None)
        scores = scoring.score_unit(unit)
        with_lora = take.scores["identity"]
        found[r.id] = {
            "without_lora": {"unit": unit.version, **scores},
            "lora_gain": {k: with_lora[k] - scores["identity"][k] for k in with_lora},
        }
        run.log(
            f"shot {r.id}: identity {with_lora[identity.PRIMARY]:.3f} with the LoRA, "
            f"{scores['identity'][identity.PRIMARY]:.3f} without (same seed)"
        )
    return found


def _render_units(run, generator, model_dir, model, pending, units, tier, lora_file):
    """Render the pending shots (of one tier), each into its unit's staging folder; publish them.

    Each unit is locked first (in version order, so two runs never wait on each other in a
    circle); a unit another run finished while this one waited is reused, not rendered again.
    """
    if not pending:
        return []
    render, distill = tier.render, tier.distill
    with ExitStack() as stack:
        for shot in sorted(pending, key=lambda s: units[s.id].version):
            stack.enter_context(run.store.lock(units[shot.id], run.log))
        # In place: the caller's manifest records which shots this run rendered.
        pending[:] = [s for s in pending if not run.store.reusable(units[s.id])]
        if not pending:
            return []
        for shot in pending:
            run.store.repair(units[shot.id], run.log)
        folders = {s.id: stack.enter_context(run.store.staging(units[s.id])) for s in pending}
        rendered = generator.render_shots(
            model_dir,
            model,
            pending,
            folders,
            lora_file=lora_file,
            lora_strength=render["lora_strength"],
            width=render["width"],
            height=render["height"],
            steps=render["steps"],
            guidance_scale=render["guidance_scale"],
            guidance_scale_2=render["guidance_scale_2"],
            cache_threshold=render["first_block_cache"],
            distill_files=distill,
            distill_strength=render["distill"]["strength"] or 1.0,
            flow_shift=render["flow_shift"],
            device=run.device,
            dtype=run.dtype,
            log=run.log,
            stop=run.stop,
        )
        for shot, done in zip(pending, rendered, strict=True):
            folder = folders[shot.id]
            unit = units[shot.id]
            write_json(
                folder / "manifest.json",
                build_manifest(
                    unit,
                    folder,
                    code_version=SHOT_CODE_VERSION,
                    inputs={},
                    parameters={k: v for k, v in render.items() if k != "model"},
                    models=[render["model"]],
                    seeds={shot.id: shot.seed},
                    prompts={shot.id: shot.prompt},
                    timings={"render_s": done.render_s},
                    extra={
                        "shot": asdict(shot),
                        "record": SHOT_MANIFEST,
                        "licence": model.licence_record(),
                    },
                ),
            )
            run.log(f"shot {shot.id}: rendered as unit {unit.version}")
    return rendered


def _scene_takes(run, scene, units, qc, scoring, rendered) -> dict[str, list]:
    """Each shot of a scene scored as its one attempt.

    A scene is one generation: re-rolling a shot would re-render (and change) every shot, so a
    scene model's shots are measured and checked but not re-rolled one by one; an off-model shot
    blocks the cut until the producer accepts it or edits the brief (a new seed re-rolls the scene).
    """
    if qc.max_attempts > 1:
        run.log(
            f"{len(scene.shots)} shots from one scene: scored, not re-rolled "
            "(qc.max_attempts applies to shot-by-shot models)"
        )
    if qc.measure_lora_effect:
        run.log("qc.measure_lora_effect: not measured for a scene model (one generation)")
    fresh = {r.id for r in rendered}
    return {
        s.id: [identity.Take(0, s, units[s.id], s.id in fresh, scoring.score_unit(units[s.id]))]
        for s in scene.shots
    }


def _render_scene_unit(
    run, generator, model_dir, model, scene, scene_ref, units, render, lora_file
):
    """Render the scene once into its unit and cut it into every shot's unit; publish them all.

    Nothing is rendered when every shot's unit is intact; the scene and shot units are locked
    first (as _render_units does), and a corrupt one is moved aside before rendering again; an
    intact one is kept as it is (the re-cut of a deterministic scene is the same shot).
    """
    refs = [scene_ref, *(units[s.id] for s in scene.shots)]
    if all(run.store.reusable(u) for u in refs[1:]):
        for shot in scene.shots:
            run.log(f"shot {shot.id}: unchanged, reusing unit {units[shot.id].version}")
        return []
    with ExitStack() as stack:
        for unit in sorted(refs, key=lambda u: (u.asset, u.version)):
            stack.enter_context(run.store.lock(unit, run.log))
        if all(run.store.reusable(u) for u in refs[1:]):
            return []
        for unit in refs:
            run.store.repair(unit, run.log)
        scene_folder = stack.enter_context(run.store.staging(scene_ref))
        folders = {s.id: stack.enter_context(run.store.staging(units[s.id])) for s in scene.shots}
        timings = render_scene(
            model_dir,
            model,
            scene,
            scene_folder,
            folders,
            lora_file=lora_file,
            lora_strength=render["lora_strength"],
            width=render["width"],
            height=render["height"],
            steps=render["steps"],
            guidance_scale=render["guidance_scale"],
            guidance_scale_2=render["guidance_scale_2"],
            flow_shift=render["flow_shift"],
            device=run.device,
            dtype=run.dtype,
            crf=generator.crf,
            preset=generator.preset,
            attention=generator.attention,
            stop=run.stop,
        )
        parameters = {k: v for k, v in render.items() if k != "model"}
        model_record = {**render["model"], "licence": model.licence}
        write_json(
            scene_folder / "manifest.json",
            build_manifest(
                scene_ref,
                scene_folder,
                code_version=SCENE_CODE_VERSION,
                inputs={},
                parameters=parameters,
                models=[model_record],
                seeds={"scene": scene.seed},
                prompts={"scene": scene.prompt},
                timings=timings,
                extra={"scene": asdict(scene), "licence": model.licence_record()},
            ),
        )
        rendered = []
        for shot in scene.shots:
            folder = folders[shot.id]
            write_json(
                folder / "manifest.json",
                build_manifest(
                    units[shot.id],
                    folder,
                    code_version=SHOT_CODE_VERSION,
                    inputs={SCENE_UNITS: scene_ref.version},
                    parameters=parameters,
                    models=[model_record],
                    seeds={shot.id: shot.seed},
                    prompts={shot.id: shot.prompt},
                    timings={"render_s": 0.0},
                    extra={
                        "shot": asdict(shot),
                        "record": SHOT_MANIFEST,
                        "licence": model.licence_record(),
                    },
                ),
            )
            rendered.append(finished_shot(folder, shot, reused=False))
        run.log(
            f"scene of {len(scene.shots)} shots ({scene.num_frames} frames, cuts at "
            f"{list(scene.cuts)}) rendered as unit {scene_ref.version} in "
            f"{timings['render_s']:.1f} s"
        )
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
