"""One generation for a whole shot list (HoloCine), cut at the shot boundaries into shot clips.

The scene is rendered once with the character LoRA, saved whole (`scene.mp4`, `scene.json`), and
each shot's frames are written to its own folder in the layout every other model uses
(`clip.mp4`, `poster.png`, `shot.json` last), so deliverables, checks and lineage read scenes
and single clips the same way.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from resources.domain.registry import MemoryPlan, VideoModel
from resources.domain.scenes import ScenePlan
from resources.media.video_io import write_video
from resources.runtime.interruption import StopCheck, stop_if_asked
from resources.storage.artifact_store import sha256_file, write_atomic, write_json
from resources.video.generator import (
    CLIP,
    POSTER,
    SHOT_MANIFEST,
    ShotRequest,
    _png_bytes,
    apply_lora,
    attention_backend,
    check_clip_request,
    choose_plan,
    load_video_pipeline,
    set_flow_shift,
)
from resources.video.holocine import scene_prompt

SCENE_CLIP = "scene.mp4"
SCENE_MANIFEST = "scene.json"


@dataclass(frozen=True)
class SceneRequest:
    """A scene: the global caption, each shot (its caption, frames in the scene) and one seed."""

    global_caption: str
    shots: tuple[ShotRequest, ...]
    negative_prompt: str
    seed: int
    num_frames: int
    cuts: tuple[int, ...]

    @property
    def prompt(self) -> str:
        return scene_prompt(self.global_caption, [s.prompt for s in self.shots])

    @property
    def plan(self) -> ScenePlan:
        return ScenePlan(self.num_frames, self.cuts)


def render_scene(
    model_dir: Path,
    model: VideoModel,
    scene: SceneRequest,
    scene_folder: Path,
    shot_folders: dict[str, Path],
    *,
    lora_file: Path | None,
    lora_strength: float,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    device: str,
    dtype: torch.dtype,
    crf: int,
    guidance_scale_2: float | None = None,
    flow_shift: float | None = None,
    preset: str,
    attention: str = "auto",
    plan: MemoryPlan | None = None,
    stop: StopCheck | None = None,
) -> dict[str, float]:
    """Render `scene` once, save it whole and cut it into its shots' folders; the timings."""
    check_clip_request(model, num_frames=scene.num_frames, width=width, height=height)
    if steps < 1:
        raise ValueError(f"steps={steps} for {model.name}: at least one denoising step is needed")
    start = time.perf_counter()
    plan = plan or choose_plan(model, device)
    pipe = load_video_pipeline(
        model_dir, model, device=device, dtype=dtype, plan=plan, attention=attention
    )
    if lora_file is not None:
        apply_lora(pipe, lora_file, lora_strength)
    set_flow_shift(pipe, flow_shift)
    load_s = time.perf_counter() - start
    stop_if_asked(stop, "scene")
    kwargs: dict[str, Any] = {
        "prompt": scene.prompt,
        "negative_prompt": scene.negative_prompt,
        "num_frames": scene.num_frames,
        "width": width,
        "height": height,
        "num_inference_steps": steps,
        "guidance_scale": guidance_scale,
        "generator": torch.Generator(device="cpu").manual_seed(scene.seed),
        "output_type": "np",
        "shot_cut_frames": list(scene.cuts),
        "sparse_attention": model.scene_attention == "sparse",
    }
    second = guidance_scale_2 if guidance_scale_2 is not None else model.guidance_scale_2
    if model.experts == 2 and second is not None:
        kwargs["guidance_scale_2"] = second  # the low-noise expert's guidance
    frames = np.asarray(pipe(**kwargs).frames[0], dtype=np.float32)
    if frames.shape != (scene.num_frames, height, width, 3):
        raise RuntimeError(f"{model.name} returned a scene of shape {frames.shape}")
    frames = (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    render_s = time.perf_counter() - start - load_s
    state = pipe._scene_state()
    setup = {
        "device": device,
        "memory_plan": asdict(plan),
        "attention": attention_backend(attention, device),
        "scene_attention": model.scene_attention,
        "shot_attention_calls": dict(state.calls),
    }
    scene_folder = Path(scene_folder)
    scene_folder.mkdir(parents=True, exist_ok=True)
    write_video(scene_folder / SCENE_CLIP, frames, fps=model.native_fps, crf=crf, preset=preset)
    lora = {
        "file": lora_file.name if lora_file else None,
        "sha256": sha256_file(lora_file) if lora_file else None,
        "strength": lora_strength,
    }
    common = {
        "steps": steps,
        "guidance_scale": guidance_scale,
        "width": width,
        "height": height,
        "fps": model.native_fps,
        "model": {"name": model.name, "repo_id": model.repo_id, "revision": model.revision},
        "licence": model.licence_record(),
        "lora": lora,
        **setup,
    }
    for shot, (first, end) in zip(scene.shots, scene.plan.shot_frames(), strict=True):
        folder = Path(shot_folders[shot.id])
        folder.mkdir(parents=True, exist_ok=True)
        clip = frames[first:end]
        write_video(folder / CLIP, clip, fps=model.native_fps, crf=crf, preset=preset)
        write_atomic(folder / POSTER, _png_bytes(Image.fromarray(clip[len(clip) // 2])))
        record = {**asdict(shot), **common, "scene_frames": [first, end]}
        write_json(folder / SHOT_MANIFEST, {**record, "timings": {"load_s": load_s}})
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
            **common,
            "timings": timings,
        },
    )
    return timings
