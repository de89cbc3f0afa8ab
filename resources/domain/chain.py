"""The chain's order, defined once: jobs, selections, upstream links, cost sums derive from it."""

from __future__ import annotations

from dataclasses import dataclass

# The concurrency pool every GPU stage runs in: its limit is the number of GPUs in the fleet.
GPU_POOL = "gpu"


@dataclass(frozen=True)
class Stage:
    """One asset of the chain: its name, what it reads, and whether it runs on a GPU host."""

    name: str
    upstream: str | None
    gpu: bool
    renders: bool = False  # part of what one more video of an already trained character costs
    # Other assets it reads besides its upstream (a Dagster dependency and a manifest input).
    reads: tuple[str, ...] = ()

    @property
    def deps(self) -> list[str]:
        return [*([self.upstream] if self.upstream else []), *self.reads]


CHAIN: tuple[Stage, ...] = (
    Stage("character_brief", upstream=None, gpu=False),
    Stage("reference_images", upstream="character_brief", gpu=True),
    Stage("character_lora", upstream="reference_images", gpu=True),
    # The lines are spoken from the brief alone, before video_clips: a shot without duration_s
    # lasts as long as its line; the master mixes them.
    Stage("narration", upstream="character_brief", gpu=True, renders=True),
    Stage("video_clips", upstream="character_lora", gpu=True, renders=True, reads=("narration",)),
    Stage("deliverables", upstream="video_clips", gpu=True, renders=True, reads=("narration",)),
)
# The client's report follows the chain in every brief run; it reads, it does not render.
REPORT = Stage("client_report", upstream="deliverables", gpu=False)
# The client's zip of one deliverables version: made on demand (review app, CLI), not by a run.
PACKAGE_ASSET = "client_package"

STAGES: dict[str, Stage] = {s.name: s for s in (*CHAIN, REPORT)}
CHAIN_NAMES: tuple[str, ...] = tuple(s.name for s in CHAIN)
RUN_NAMES: tuple[str, ...] = (*CHAIN_NAMES, REPORT.name)  # what one brief's run materializes
FIRST_STAGE = CHAIN[0].name
FINAL_STAGE = CHAIN[-1].name
GPU_STAGES: tuple[str, ...] = tuple(s.name for s in CHAIN if s.gpu)
RENDER_STAGES: tuple[str, ...] = tuple(s.name for s in CHAIN if s.renders)


def stage(name: str) -> Stage:
    """The chain entry called `name`, or a KeyError listing the stages."""
    try:
        return STAGES[name]
    except KeyError:
        raise KeyError(f"no stage {name!r}; stages: {', '.join(STAGES)}") from None


DETAIL_CHARS = 500  # how much of what went wrong a notification or a run's state carries


def detail_line(text: str, fallback: str = "") -> str:
    """The first line of what went wrong (`fallback` when there is none), cut to DETAIL_CHARS:
    what a notification, the character's run state and the review app say of a failure."""
    lines = str(text).strip().splitlines()
    return (lines[0] if lines else fallback)[:DETAIL_CHARS]
