"""Identity QC rules that need no model: re-roll seeds, pass/fail of a shot, acceptance records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SEED_LIMIT = 2**32  # seeds stay in the range every torch generator takes


def attempt_seed(shot_seed: int, attempt: int) -> int:
    """The seed of attempt `attempt` (0-based) of a shot: its own seed first, then derived ones.

    Derived by hashing, so attempts of neighbouring shots (seeds 7 and 8) never share a seed.
    """
    if attempt < 0:
        raise ValueError(f"attempt={attempt}: attempts count from 0")
    if attempt == 0:
        return shot_seed
    digest = hashlib.sha256(f"shot-seed:{shot_seed}:attempt:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_LIMIT


@dataclass(frozen=True)
class ShotVerdict:
    """Whether a shot may be cut: its best score against the threshold, or an acceptance."""

    shot: str
    best: float
    attempt: int  # 0-based index of the best attempt
    attempts: int
    threshold: float
    accepted_by: str | None = None
    accepted_at: str | None = None

    @property
    def on_model(self) -> bool:
        return self.best >= self.threshold

    @property
    def passed(self) -> bool:
        return self.on_model or self.accepted_by is not None

    def message(self, client: str, character: str) -> str:
        """One line a producer can act on."""
        where = f"best of {self.attempts} attempt(s), attempt {self.attempt + 1}"
        if self.on_model:
            return f"shot {self.shot}: identity {self.best:.3f} >= {self.threshold:.3f} ({where})"
        if self.accepted_by is not None:
            return (
                f"shot {self.shot}: identity {self.best:.3f} < {self.threshold:.3f} ({where}), "
                f"accepted by {self.accepted_by} at {self.accepted_at}"
            )
        return (
            f"shot {self.shot} is off-model: best identity {self.best:.3f} < min_identity "
            f"{self.threshold:.3f} ({where}); re-roll it, or accept it with `python -m pipeline "
            f"accept {client} {character} {self.shot} --by NAME` or qc.accept in the brief"
        )
