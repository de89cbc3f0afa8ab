"""The render plan of a video_clips version: each shot, the settings of its tier, its unit.

Pure data and no torch: which units a brief (or an edit of it) renders is computed and tested
without loading a model (tests/test_clip_plan.py). A shot's unit is a hash of exactly what its
pixels depend on: the request (prompt, seed, frames) and its `RenderSettings`; for a scene model,
also the scene it is cut from. assets/stages/video_clips.py executes the plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief
from resources.domain.registry import VideoModel
from resources.domain.render import RenderSettings, ShotRequest
from resources.domain.scenes import SceneRequest, plan_scene
from resources.domain.tiers import shot_recipes

SHOT_UNITS = "shots"  # <client>/<character>/shots/<version>/: one rendered shot each
SHOT_CODE_VERSION = "3"  # what a shot's pixels depend on in code (3: encoder crf and preset)
# A scene model's whole shot list as one generation: <client>/<character>/scenes/<version>/.
SCENE_UNITS = "scenes"
SCENE_CODE_VERSION = "2"  # 2: the tier's adapters and cache, as for shots
# (asset, payload) -> the version that payload names for this partition (Run.ref).
RefOf = Callable[[str, Any], ArtifactRef]


def talking_lines(brief: Brief, model: VideoModel, units: dict[str, str]) -> dict[str, str]:
    """shot id -> narration unit of the shots whose picture follows their line: shots with a
    line on a model that takes audio (LTX-2). Others get their line as voice-over."""
    if not model.generates_audio:
        return {}
    return {s.id: units[s.id] for s in brief.shots if s.line and s.id in units}


def shot_requests(
    brief: Brief,
    model: VideoModel,
    lines: dict[str, str] | None = None,
    stills: dict[str, str] | None = None,
) -> list[ShotRequest]:
    """The brief's shots as the renderer takes them: trigger in the prompt, valid frame count,
    for a talking shot the narration unit it follows (`lines`: shot id -> unit), for a shot
    conditioned on the reference still that still's sha256 (`stills`: shot id -> sha256)."""
    lines, stills = lines or {}, stills or {}
    trigger = brief.character.trigger
    return [
        ShotRequest(
            id=shot.id,
            prompt=f"{trigger}, {shot.prompt}",
            negative_prompt=shot.negative_prompt or brief.video.negative_prompt,
            seed=shot.seed,
            num_frames=model.valid_frame_count(shot.duration_s),
            duration_s=shot.duration_s,
            line_unit=lines.get(shot.id),
            reference_still=stills.get(shot.id),
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


def shot_unit(ref_of: RefOf, shot: ShotRequest, render: dict[str, Any]) -> ArtifactRef:
    """The unit of one shot: a hash of the request and every render setting its pixels use."""
    fields = asdict(shot)
    # A shot without a followed line or a reference still keeps its version.
    for unset in ("line_unit", "reference_still"):
        if fields[unset] is None:
            del fields[unset]
    return ref_of(SHOT_UNITS, {"shot": fields, "render": render, "code": SHOT_CODE_VERSION})


@dataclass(frozen=True)
class ClipPlan:
    """What a video_clips version renders, as data: each shot, its settings and its unit.

    Built by `plan_clips` from the brief and each tier's settings alone (no model is loaded),
    so which units a brief edit renders again is known, and tested, before any work.
    """

    shots: list[ShotRequest]
    settings: dict[str, RenderSettings]  # by shot id: the tier each shot renders at
    tiers: dict[str, str]  # by shot id
    units: dict[str, ArtifactRef]  # by shot id: attempt 0's unit
    default: RenderSettings  # video.tier's: the version's parameters
    scene: SceneRequest | None = None  # a scene model: the one generation of every shot
    scene_ref: ArtifactRef | None = None

    def render_payload(self, shot_id: str) -> dict[str, Any]:
        """A shot unit's `render`: its settings, and for a scene model the scene it is cut from."""
        payload = self.settings[shot_id].payload()
        return payload if self.scene_ref is None else {**payload, "scene": self.scene_ref.version}

    def unit_of(self, ref_of: RefOf, request: ShotRequest) -> ArtifactRef:
        """The unit of `request` (any attempt's seed) at its shot's settings."""
        return shot_unit(ref_of, request, self.render_payload(request.id))

    def by_tier(self) -> dict[str, RenderSettings]:
        """One settings value per tier the shot list uses (the LoRA-only renders')."""
        return {self.tiers[s.id]: self.settings[s.id] for s in self.shots}

    def groups(self) -> dict[tuple[str, str], RenderSettings]:
        """One settings value per (tier, condition) the shot list uses: one pipeline load each."""
        return {(self.tiers[s.id], self.settings[s.id].condition): self.settings[s.id]
                for s in self.shots}  # fmt: skip


@dataclass(frozen=True)
class StillPlan:
    """The shots conditioned on the reference still: each one's still (sha256), and the render
    settings of each (tier, condition) they use (the model's image-to-video checkpoint)."""

    shas: dict[str, str]  # shot id -> the chosen still's sha256
    settings: dict[tuple[str, str], RenderSettings]  # (tier, condition) -> settings


def plan_clips(
    ref_of: RefOf,
    brief: Brief,
    model: VideoModel,
    tier_settings: dict[str, RenderSettings],
    lines: dict[str, str] | None = None,
    stills: StillPlan | None = None,
) -> ClipPlan:
    """Each shot of `brief` with the settings of its tier and its unit; the scene, if one.
    `lines`: the talking shots' narration units (`talking_lines`); `stills`: the shots whose
    identity comes from the reference still, with that still and the settings they render at."""
    tiers = {shot_id: r.tier for shot_id, r in shot_recipes(brief, model).items()}
    settings = {shot_id: tier_settings[tier] for shot_id, tier in tiers.items()}
    still_of = {}
    if stills is not None:
        for shot_id, sha256 in stills.shas.items():
            settings[shot_id] = stills.settings[(tiers[shot_id], brief.condition_of(shot_id))]
            still_of[shot_id] = sha256
    default = tier_settings[brief.video.tier]
    if not model.is_scene_model:
        requests = shot_requests(brief, model, lines, still_of)
        plan = ClipPlan(requests, settings, tiers, {}, default)
    else:
        # One unit for the scene (every shot's prompt, seed and duration plus the render
        # settings); each shot's unit is its cut of that scene.
        scene = scene_request(brief, model)
        render = default.payload()
        scene_ref = ref_of(
            SCENE_UNITS, {"scene": asdict(scene), "render": render, "code": SCENE_CODE_VERSION}
        )
        plan = ClipPlan(list(scene.shots), settings, tiers, {}, default, scene, scene_ref)
    plan.units.update({s.id: plan.unit_of(ref_of, s) for s in plan.shots})
    return plan
