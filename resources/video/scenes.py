"""One generation for a whole shot list (HoloCine), cut at the shot boundaries into shot clips.

The scene is rendered once with the character LoRA, saved whole (`scene.mp4`, `scene.json`), and
each shot's frames are written to its own folder in the layout every other model uses
(`clip.mp4`, `poster.png`, `shot.json` last), so deliverables, checks and lineage read scenes
and single clips the same way.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resources.domain.scenes import SceneRequest
from resources.media.video_io import write_video
from resources.runtime.interruption import StopCheck, stop_if_asked
from resources.storage.artifact_store import write_json
from resources.video.generator import (
    RenderJob,
    check_clip_request,
    clip_record,
    prepare_pipeline,
    save_clip,
    settings_record,
)

SCENE_CLIP = "scene.mp4"
SCENE_MANIFEST = "scene.json"


def render_scene(
    job: RenderJob,
    scene: SceneRequest,
    scene_folder: Path,
    device: str,
    *,
    stop: StopCheck | None = None,
) -> dict[str, float]:
    """Render `scene` once, save it whole and cut it into its shots' folders; the timings.

    The same load path as single shots (`prepare_pipeline`: plan, attention, cache, character
    LoRA, the tier's distillation adapter and flow shift) and the same encoder (`save_clip`);
    only the call differs: one generation with the shot cuts.
    """
    settings, model = job.settings, job.model
    check_clip_request(
        model, num_frames=scene.num_frames, width=settings.width, height=settings.height
    )
    if settings.steps < 1:
        raise ValueError(
            f"steps={settings.steps} for {model.name}: at least one denoising step is needed"
        )
    pipe, setup, load_s = prepare_pipeline(job, device)
    stop_if_asked(stop, "scene")
    start = time.perf_counter()
    kwargs: dict[str, Any] = {
        "prompt": scene.prompt,
        "negative_prompt": scene.negative_prompt,
        "num_frames": scene.num_frames,
        "width": settings.width,
        "height": settings.height,
        "num_inference_steps": settings.steps,
        "guidance_scale": settings.guidance_scale,
        "generator": torch.Generator(device="cpu").manual_seed(scene.seed),
        "output_type": "np",
        "shot_cut_frames": list(scene.cuts),
        "sparse_attention": model.scene_attention == "sparse",
    }
    second = settings.guidance_scale_2
    second = second if second is not None else model.guidance_scale_2
    if model.experts == 2 and second is not None:
        kwargs["guidance_scale_2"] = second  # the low-noise expert's guidance
    frames = np.asarray(pipe(**kwargs).frames[0], dtype=np.float32)
    if frames.shape != (scene.num_frames, settings.height, settings.width, 3):
        raise RuntimeError(f"{model.name} returned a scene of shape {frames.shape}")
    frames = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    render_s = time.perf_counter() - start
    state = pipe._scene_state()
    setup = {
        **setup,
        "scene_attention": model.scene_attention,
        "shot_attention_calls": dict(state.calls),
    }
    scene_folder = Path(scene_folder)
    scene_folder.mkdir(parents=True, exist_ok=True)
    write_video(
        scene_folder / SCENE_CLIP,
        frames,
        fps=model.native_fps,
        crf=settings.crf,
        preset=settings.preset,
    )
    for shot, (first, end) in zip(scene.shots, scene.plan.shot_frames(), strict=True):
        record = {
            **clip_record(job, shot, setup),
            "licence": model.licence_record(),
            "scene_frames": [first, end],
            "timings": {"load_s": load_s},
        }
        save_clip(job.folders[shot.id], frames[first:end], job, record)
    timings = {"load_s": load_s, "render_s": render_s}
    # Written last: the scene is finished once its record exists.
    write_json(
        scene_folder / SCENE_MANIFEST,
        {
            "prompt": scene.prompt,
            "negative_prompt": scene.negative_prompt,
            "seed": scene.seed,
            "num_frames": scene.num_frames,
            "cuts": list(scene.cuts),
            "shots": [s.id for s in scene.shots],
            **settings_record(job, setup),
            "licence": model.licence_record(),
            "timings": timings,
        },
    )
    return timings
