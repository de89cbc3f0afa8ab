"""Identity QC of rendered shots: scoring units, re-rolled attempts and verdicts.

Each attempt of a shot is its own shot unit (its seed is in the unit's payload); each attempt's
scores are their own small unit (`shot_scores/<version>/`, keyed by the shot unit, the reference
stills and the scoring backbones), so a rerun after an interruption neither renders nor scores
a finished attempt again. Definitions of the scores: resources/qc/identity.py, docs/identity.md.
A producer's acceptance of a shot below the threshold: resources/qc/acceptance.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from resources.domain.artifacts import ArtifactRef
from resources.domain.brief import Brief, Qc
from resources.domain.qc import ShotVerdict, attempt_seed
from resources.domain.render import ShotRequest
from resources.qc.acceptance import acceptance_ref
from resources.qc.identity import (
    FRAMES_PER_SHOT,
    PRIMARY,
    IdentityScorer,
    load_backbone,
    reference_set,
    scorer_models,
)
from resources.runtime.interruption import stop_if_asked
from resources.runtime.run import Run
from resources.storage.artifact_store import write_json
from resources.storage.publish import publish_one
from resources.video.generator import CLIP

SCORE_UNITS = "shot_scores"  # <client>/<character>/shot_scores/<version>/scores.json
SCORES = "scores.json"
CODE_VERSION = "1"  # what a score depends on in code: bump when a definition changes


class Scoring:
    """Identity scoring for one run: backbones loaded on first use, references embedded once."""

    def __init__(self, run: Run, stills: list[Path], references_version: str):
        self.run = run
        self.stills = stills
        self.references_version = references_version
        self.dirs = {m.name: run.models.vision_model_dir(m) for m in scorer_models()}
        self.records = [
            run.models.record(m.name, m.repo_id, m.revision, self.dirs[m.name])
            for m in scorer_models()
        ]
        self._scorer: IdentityScorer | None = None
        self._references = None

    @property
    def scorer(self) -> IdentityScorer:
        if self._scorer is None:
            run = self.run
            backbones = [
                load_backbone(self.dirs[m.name], m, run.device, run.dtype) for m in scorer_models()
            ]
            self._scorer = IdentityScorer(backbones, run.device)
        return self._scorer

    @property
    def references(self):
        if self._references is None:
            from PIL import Image

            self._references = self.scorer.embed(
                [Image.open(p).convert("RGB") for p in self.stills]
            )
        return self._references

    def payload(self) -> dict[str, Any]:
        """What every score of this run depends on, besides the clip itself."""
        return {
            "references": self.references_version,
            "scorers": self.records,
            "frames": FRAMES_PER_SHOT,
            "code": CODE_VERSION,
        }

    def score_unit(self, unit: ArtifactRef) -> dict[str, Any]:
        """The scores of a finished shot unit's clip: computed once (under its lock), then read."""
        run = self.run
        ref = run.ref(SCORE_UNITS, {"unit": unit.version, **self.payload()})

        def build(stage: Path) -> dict[str, Any]:
            scores = self.scorer.score_clip(run.store.path(unit) / CLIP, self.references).record()
            write_json(stage / SCORES, scores)
            return dict(
                code_version=CODE_VERSION,
                inputs={SCORE_UNITS: unit.version, "reference_images": self.references_version},
                parameters={"frames": FRAMES_PER_SHOT, "primary": PRIMARY},
                models=self.records,
                extra={"scores": scores},
            )

        publish_one(run.store, ref, build, log=run.log)
        return run.store.manifest(ref)["scores"]

    def reference_report(self, qc: Qc):
        """Pairwise similarity of the stills, outliers and near-duplicates (primary backbone)."""
        return reference_set(
            self.references[PRIMARY],
            outlier_gap=qc.outlier_gap,
            duplicate_above=qc.duplicate_above,
        )


# -- attempts -------------------------------------------------------------------------------


@dataclass
class Take:
    """One attempt at a shot: its request (seed), unit, whether this run rendered it, scores."""

    attempt: int
    request: ShotRequest
    unit: ArtifactRef
    rendered: bool
    scores: dict[str, Any]

    @property
    def identity(self) -> float:
        return float(self.scores["identity"][PRIMARY])

    def record(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "seed": self.request.seed,
            "unit": self.unit.version,
            "rendered": self.rendered,
            "identity": self.scores["identity"],
            "subject_consistency": self.scores["subject_consistency"],
        }


def retake_payload(qc: Qc) -> dict[str, Any]:
    """What decides which attempts a video_clips version renders (not acceptances)."""
    return {
        "min_identity": qc.min_identity,
        "max_attempts": qc.max_attempts,
        "measure_lora_effect": qc.measure_lora_effect,
    }


def attempt_request(shot: ShotRequest, attempt: int) -> ShotRequest:
    return replace(shot, seed=attempt_seed(shot.seed, attempt))


def best_take(takes: list[Take]) -> Take:
    """The attempt with the highest identity; the earliest on a tie."""
    return max(takes, key=lambda t: (t.identity, -t.attempt))


def render_takes(
    run: Run,
    shots: list[ShotRequest],
    qc: Qc,
    scoring: Scoring,
    unit_of: Callable[[ShotRequest], ArtifactRef],
    render: Callable[[list[ShotRequest], dict[str, ArtifactRef]], Any],
) -> dict[str, list[Take]]:
    """Render and score attempt 0 of every shot, then re-roll those below min_identity.

    A round renders one attempt of every shot still below the threshold; each attempt is
    published as its own unit as soon as it is rendered, and a stop request is honoured between
    rounds, so an interruption loses at most the attempts in flight.
    """
    takes: dict[str, list[Take]] = {s.id: [] for s in shots}
    for attempt in range(qc.max_attempts):
        todo = [
            s for s in shots if attempt == 0 or best_take(takes[s.id]).identity < qc.min_identity
        ]
        if not todo:
            break
        if attempt:
            stop_if_asked(run.stop, f"attempt {attempt + 1} of {qc.max_attempts}")
        requests = [attempt_request(s, attempt) for s in todo]
        units = {r.id: unit_of(r) for r in requests}
        pending = [r for r in requests if not run.store.reusable(units[r.id])]
        for r in requests:
            if attempt and r in pending:
                best = best_take(takes[r.id]).identity
                run.log(
                    f"shot {r.id}: attempt {attempt + 1} of {qc.max_attempts} (seed {r.seed}): "
                    f"best identity so far {best:.3f} < min_identity {qc.min_identity:.3f}"
                )
            elif attempt and r not in pending:
                run.log(f"shot {r.id}: attempt {attempt + 1} already rendered, reusing it")
        render(pending, units)
        for r in requests:
            scores = scoring.score_unit(units[r.id])
            takes[r.id].append(Take(attempt, r, units[r.id], r in pending, scores))
            run.log(
                f"shot {r.id}: attempt {attempt + 1} identity {scores['identity'][PRIMARY]:.3f} "
                f"({PRIMARY}), subject consistency {scores['subject_consistency']:.3f}"
            )
    return takes


# -- verdicts and acceptances ----------------------------------------------------------------


def verdicts(run: Run, brief: Brief, brief_ref: ArtifactRef, manifest: dict) -> list[ShotVerdict]:
    """Each shot of a video_clips version: best identity, threshold, and any acceptance."""
    return shot_verdicts(run.store, run.client, run.character, brief, brief_ref, manifest)


def shot_verdicts(
    store, client: str, character: str, brief: Brief, brief_ref: ArtifactRef, manifest: dict
) -> list[ShotVerdict]:
    """`verdicts` from the store alone (the review app's list of what waits for a person)."""
    qc = manifest.get("qc")
    if qc is None:  # a version from before identity scoring: nothing to judge
        return []
    brief_manifest = store.manifest(brief_ref)
    found = []
    for shot in manifest["shots"]:
        by = at = None
        ref = acceptance_ref(client, character, shot["id"], shot["unit"])
        if store.reusable(ref):
            accepted = store.manifest(ref)
            by, at = accepted["acceptance"]["by"], accepted["created_at"]
        elif shot["id"] in brief.qc.accept:
            by = f"brief qc.accept ({brief_manifest['parameters']['source']})"
            at = brief_manifest["created_at"]
        found.append(
            ShotVerdict(
                shot=shot["id"],
                best=float(shot["identity"][PRIMARY]),
                attempt=int(shot["attempt"]),
                attempts=len(shot["attempts"]),
                threshold=float(qc["min_identity"]),
                accepted_by=by,
                accepted_at=at,
            )
        )
    return found
