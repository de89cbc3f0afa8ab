"""Scenes: a shot list rendered as one generation (HoloCine), and where its shots are cut.

HoloCine's inference script rounds the scene's frame count and every cut frame to the nearest
4t+1 (`enforce_4t_plus_1`); a cut at frame f starts latent frame (f-1)//4+1, so every shot must
keep at least one latent frame of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from resources.domain.render import ShotRequest
from resources.domain.timing import frames_for

VAE_TEMPORAL = 4  # Wan VAE: one latent frame per 4 pixel frames (after the first)
# HoloCine's prompt markers (its inference script's layout of one scene's captions).
GLOBAL_MARK = "[global caption]"
SHOTS_MARK = "[per shot caption]"
CUT_MARK = "[shot cut]"


def scene_prompt(global_caption: str, shot_captions: list[str]) -> str:
    """HoloCine's one-string prompt: global caption, shot count, then the shots between cuts."""
    caption = global_caption.strip()
    if "This scene contains" not in caption:
        caption += f" This scene contains {len(shot_captions)} shots."
    return f"{GLOBAL_MARK} {caption} {SHOTS_MARK} {f' {CUT_MARK} '.join(shot_captions)}"


def round_4t1(n: int) -> int:
    """The nearest 4t+1 frame count, as HoloCine rounds frame numbers."""
    return 4 * round((n - 1) / 4) + 1


@dataclass(frozen=True)
class ScenePlan:
    """A scene's frame count and each shot's [start, end) frames in it."""

    num_frames: int
    cuts: tuple[int, ...]  # first frame of each shot after the first

    def shot_frames(self) -> list[tuple[int, int]]:
        bounds = [0, *self.cuts, self.num_frames]
        return list(zip(bounds, bounds[1:], strict=False))


def plan_scene(durations_s: list[float], fps: float) -> ScenePlan:
    """The scene for shots of `durations_s` at `fps`; ValueError if a shot is too short."""
    frames = [frames_for(d, fps) for d in durations_s]
    total = round_4t1(sum(frames))
    cuts, start = [], 0
    for count in frames[:-1]:
        start += count
        cuts.append(round_4t1(start))
    latent = [(c - 1) // VAE_TEMPORAL + 1 for c in cuts]
    if len(set(latent)) != len(latent) or any(not 0 < c < total for c in cuts):
        raise ValueError(
            f"shots of {frames} frames give cut frames {cuts} in a {total}-frame scene: each "
            f"shot needs at least {VAE_TEMPORAL} frames ({VAE_TEMPORAL / fps:.2f} s) of its own"
        )
    return ScenePlan(num_frames=total, cuts=tuple(cuts))


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
