"""Where a character's run stands in a producer's words: the stage, shot, step and time left.

The stages write two kinds of records into the artifact store, whoever launched the run (the
CLI, the sensor, this app, the Dagster UI): the run's state (`assets/stages/base.py`
`record_run_state`: running in a stage, finished, failed, waiting for a person) and each long
loop's progress (`StageLog.progress`). This module reads them for one character and keeps only
the records of the latest run, so a page never shows a previous run's bars as current.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from assets.stages.base import PROGRESS, run_state_key
from pipeline.review.i18n import text
from resources.domain.chain import RUN_NAMES

# The chain's stages in the producer's words (pt-BR, en); Dagster's asset name is shown beside.
STAGE_NAMES: dict[str, tuple[str, str]] = {
    "character_brief": ("Briefing", "Brief"),
    "reference_images": ("Imagens de referência", "Reference images"),
    "character_lora": ("Treino do LoRA do personagem", "Character LoRA training"),
    "narration": ("Narração", "Narration"),
    "video_clips": ("Clipes de vídeo", "Video clips"),
    # No resolution in the name: a brief may ask for 720p, a vertical cut or several formats.
    "deliverables": ("Corte final (ampliado, com som)", "Final cut (upscaled, with sound)"),
    "client_report": ("Relatório ao cliente", "Client report"),
}
UNITS: dict[str, tuple[str, str]] = {
    "denoising steps": ("passo", "step"),
    "steps": ("passo", "step"),
    "frames": ("quadros", "frames"),
}
ITEMS: dict[str, tuple[str, str]] = {"shot": ("plano", "shot"), "cut": ("plano", "shot")}
# A running run whose records have not moved for this long is said to be silent (a killed
# process writes no "failed"): the page says so instead of showing a run that looks alive.
SILENT_AFTER_S = 600


def stage_name(asset: str, lang: str) -> str:
    pt, en = STAGE_NAMES.get(asset, (asset, asset))
    return en if lang == "en" else pt


@dataclass
class RunView:
    """The character's latest run and the progress of its loops (only that run's)."""

    run: dict[str, Any] | None
    loops: list[dict[str, Any]] = field(default_factory=list)
    queued: bool = False  # launched (app or instance) but no stage has started yet
    alive: bool = False  # a process of this app or a run on the instance is in flight

    @property
    def state(self) -> str:
        if self.run is None or (self.queued and self.run.get("state") != "running"):
            return "queued" if self.queued else "none"
        return self.run["state"]

    @property
    def in_flight(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def ended(self) -> tuple[str, str] | None:
        """(how, run id) of the latest run when the chain may be run again: it failed, was
        stopped, or says it runs but went silent (with no process or instance run behind it:
        `alive`, which also holds when another run is in flight)."""
        if self.run is None:
            return None
        if self.state in ("failed", "stopped"):
            return self.state, self.run["run_id"]
        silent = self.silent_s()
        if silent is not None and silent > SILENT_AFTER_S and not self.alive:
            return "silent", self.run["run_id"]
        return None

    def silent_s(self, now: dt.datetime | None = None) -> float | None:
        """Seconds since the run last said anything, while it claims to be running."""
        if self.state != "running":
            return None
        stamps = [self.run.get("updated_at")] + [p.get("updated_at") for p in self.loops]
        latest = max(_parse(s) for s in stamps if s)
        return ((now or dt.datetime.now(dt.UTC)) - latest).total_seconds()


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def run_view(store: Any, client: str, character: str, *, queued: bool = False) -> RunView:
    """The latest run's state and its loops, in chain order; `queued`: a launch is pending."""
    run = store.record(run_state_key(client, character))
    view = RunView(
        run, queued=queued and (run is None or run.get("state") != "running"), alive=queued
    )
    if run is None:
        return view
    keys = store.records(f"{client}/{character}/{PROGRESS}")
    loops = [r for r in (store.record(k) for k in keys) if r and r.get("run_id") == run["run_id"]]
    order = {name: i for i, name in enumerate(RUN_NAMES)}
    view.loops = sorted(loops, key=lambda r: order.get(r.get("asset", ""), len(order)))
    return view


def settled(view: RunView, state: str, detail: str) -> RunView:
    """`view` with its run, which its records still call running, ended as `state` ("finished"
    or "failed", with `detail`): how the Dagster instance says it ended."""
    run = {**(view.run or {}), "state": state, "detail": detail}
    return RunView(run, loops=view.loops, queued=False, alive=view.alive)


def loop_line(loop: dict[str, Any], lang: str) -> str:
    """ "Clipes de vídeo: plano 3 de 4 (ecg), passo 12/30, cerca de 40 s restantes"."""
    en = lang == "en"
    parts = [stage_name(loop.get("asset", ""), lang)]
    label = str(loop.get("label", ""))
    kind, _, name = label.partition(" ")
    item = loop.get("item")
    if kind in ITEMS and item:
        word = ITEMS[kind][1 if en else 0]
        of = "of" if en else "de"
        parts.append(f"{word} {item[0]} {of} {item[1]} ({name})")
    # Other loops (the LoRA's training steps) are one per stage: the stage's name says it.
    unit = UNITS.get(loop.get("unit", ""), (loop.get("unit", ""),) * 2)[1 if en else 0]
    step = f"{unit} {loop.get('done', 0)}/{loop.get('total', 0)}"
    eta = loop.get("eta_s")
    if loop.get("state") == "running" and eta is not None:
        left = f"about {eta:.0f} s left" if en else f"cerca de {eta:.0f} s restantes"
        return f"{parts[0]}: {', '.join([*parts[1:], step, left])}"
    done = text(lang, "loop_done")
    return f"{parts[0]}: {', '.join([*parts[1:], step, done])}"


def state_line(view: RunView, lang: str) -> str:
    """One sentence on the run: what it does now, or how it ended."""
    run = view.run or {}
    state = view.state
    if state == "none":
        return text(lang, "run_none")
    if state == "queued":
        return text(lang, "run_queued")
    head = text(lang, f"run_{state}")
    stage = stage_name(run.get("stage", ""), lang)
    if state == "running":
        line = f"{head}: {stage}"
        silent = view.silent_s()
        if silent is not None and silent > SILENT_AFTER_S:
            line += " · " + text(lang, "run_silent").format(minutes=int(silent // 60))
        return line
    if state == "failed":
        return f"{head} ({stage}): {run.get('detail', '')}".rstrip(": ")
    if state == "stopped":  # by a person, named in the detail (none when the instance says so)
        who = run.get("detail", "")
        by = " " + text(lang, "stopped_by").format(who=who) if who else ""
        return f"{head}{by}" + (f" ({stage})" if stage else "")
    if state == "waiting":
        gate = run.get("detail", "")
        return f"{head}: " + text(lang, "waiting_cut" if gate == "cut" else "waiting_approval")
    return head
