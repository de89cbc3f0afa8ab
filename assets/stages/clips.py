"""video_clips: one clip per shot, rendered by the brief's video model with the character LoRA.

Each shot is its own content-addressed unit (`shots/<version>/`), its version a hash of exactly
what its pixels depend on. A video_clips version is the list of its shots' units, included in
its folder as `shots/<id>/` without copying bytes: editing one shot renders one shot.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import ExitStack
from dataclasses import asdict
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
from assets.stages.brief import read_brief
from assets.stages.lora import lora_of
from pipeline.domain.artifacts import ArtifactRef
from pipeline.domain.brief import Brief
from pipeline.domain.registry import VideoModel, video_model
from pipeline.domain.scenes import plan_scene
from resources.media.contact_sheet import contact_sheet
from resources.media.video_checks import format_problems, inspect_video, picture_problems
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
CODE_VERSION = "3"
SHOT_CODE_VERSION = "1"  # what a shot's pixels depend on in code: bump when rendering changes
# A scene model's whole shot list as one generation: <client>/<character>/scenes/<version>/.
SCENE_UNITS = "scenes"
SCENE_CODE_VERSION = "1"
CHECK_CLIPS = "clips_match_shot_list"
CHECK_PICTURE = "clips_have_no_black_or_frozen_stretches"
CHECKS = (CHECK_CLIPS, CHECK_PICTURE)
POSTERS = "posters.png"


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


def clip_folder(folder: Path, shot_id: str) -> Path:
    """Where a video_clips version holds the files of shot `shot_id`."""
    return folder / "shots" / shot_id


def render_clips(run: Run, generator: VideoGenerator) -> StageResult:
    """One clip per shot at the model's native fps; unchanged and finished shots are reused."""
    start = time.perf_counter()
    brief, brief_ref = read_brief(run)
    lora_ref, lora_file = lora_of(run)
    model = video_model(brief.video.model)
    model_dir = run.models.video_model_dir(model)
    record = run.models.record(model.name, model.repo_id, model.revision, model_dir)
    size = run.models.video_size(model)
    render = {
        "width": size.width,
        "height": size.height,
        "steps": size.steps,
        "guidance_scale": model.guidance_scale,
        "fps": model.native_fps,
        "lora_strength": brief.video.lora_strength,
        "lora_sha256": sha256_file(lora_file),
        "model": record,
        # Both change the pixels (flash vs native kernels round differently; the cache skips work).
        "attention": generator.attention,
        "first_block_cache": generator.first_block_cache,
    }
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
    units = {s.id: shot_unit(run, s, shot_render) for s in shots}
    ref = run.ref(
        ASSET, {"shots": [[s.id, units[s.id].version] for s in shots], "code": CODE_VERSION}
    )

    def build(stage: Path) -> dict:
        pending = [s for s in shots if not run.store.is_complete(units[s.id])]
        for shot in shots:
            if shot not in pending:
                run.log(f"shot {shot.id}: unchanged, reusing unit {units[shot.id].version}")
        if scene is not None and pending:
            rendered = _render_scene_unit(
                run, generator, model_dir, model, scene, scene_ref, units, shot_render, lora_file
            )
            pending = list(shots)  # the scene re-cuts every shot
        else:
            rendered = _render_units(
                run, generator, model_dir, model, pending, units, render, lora_file
            )
        for shot in shots:
            run.store.include(units[shot.id], stage, clip_folder(Path(), shot.id).as_posix())
        contact_sheet(
            [Image.open(clip_folder(stage, s.id) / POSTER) for s in shots],
            stage / POSTERS,
            labels=[s.id for s in shots],
        )
        return dict(
            code_version=CODE_VERSION,
            inputs={"character_lora": lora_ref.version},
            parameters={k: v for k, v in render.items() if k != "model"},
            models=[{**record, "licence": model.licence}],
            seeds={s.id: s.seed for s in shots},
            prompts={s.id: s.prompt for s in shots},
            timings={
                "wall_s": time.perf_counter() - start,
                **{f"shot_{r.id}_s": r.render_s for r in rendered},
            },
            extra={
                # What the cut reads, by name: each shot's clip, length and the unit it came from.
                "shots": [
                    {
                        **asdict(s),
                        "unit": units[s.id].version,
                        "rendered": s in pending,
                        "clip": (clip_folder(Path(), s.id) / CLIP).as_posix(),
                        "poster": (clip_folder(Path(), s.id) / POSTER).as_posix(),
                    }
                    for s in shots
                ],
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

    reused = build_or_reuse(run, ref, build)
    folder = run.store.path(ref)
    manifest = run.store.manifest(ref)
    checks, table = _clip_checks(folder, manifest, size.width, size.height, model.native_fps)
    return stage_result(
        run,
        ref,
        reused=reused,
        metadata={
            "shots": len(shots),
            "rendered": sum(1 for s in manifest["shots"] if s["rendered"]) if not reused else 0,
            "model": record["id"],
            "native_fps": model.native_fps,
            "size": f"{size.width}x{size.height}",
            "clips": table,
            "posters": Picture(folder / POSTERS, "posters"),
        },
        checks=checks,
    )


def _render_units(run, generator, model_dir, model, pending, units, render, lora_file):
    """Render the pending shots, each into its own unit's staging folder, and publish them."""
    if not pending:
        return []
    with ExitStack() as stack:
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


def _render_scene_unit(
    run, generator, model_dir, model, scene, scene_ref, units, render, lora_file
):
    """Render the scene once into its unit and cut it into every shot's unit; publish them all."""
    with ExitStack() as stack:
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
    folder: Path, manifest: dict, width: int, height: int, fps: int
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
        wrong = format_problems(
            report, width=width, height=height, fps=fps, frame_count=shot["num_frames"]
        )
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
