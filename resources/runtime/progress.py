"""Progress of a long loop (training steps, denoising steps): rate and ETA, logged and recorded.

A stage's log may also carry a `progress(label, done, total, unit, rate, eta_s)` method (the
stage runtime's log does: it writes a progress record the review app shows); a plain print
or Dagster logger just gets the lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class StepProgress:
    """Call with the number of units done; logs every `every` units and at the end."""

    def __init__(
        self,
        log: Callable[[str], None],
        label: str,
        total: int,
        *,
        every: int = 1,
        unit: str = "steps",
        done: int = 0,
        item: tuple[int, int] | None = None,
    ):
        self.log, self.label, self.total, self.every, self.unit = log, label, total, every, unit
        self.item = item  # (which, of how many): shot 3 of 4
        self.start_done = done
        self.start = time.perf_counter()
        self.record = getattr(log, "progress", None)

    def __call__(self, done: int) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = (done - self.start_done) / elapsed
        eta = (self.total - done) / rate if rate > 0 else None
        if done % self.every == 0 or done == self.total:
            eta_text = f"ETA {eta:.0f} s" if eta is not None else "ETA unknown"
            self.log(
                f"{self.label}: {self.unit} {done}/{self.total}, "
                f"{rate:.2f} {self.unit}/s, {eta_text}"
            )
        if self.record is not None:
            if self.item is None:
                self.record(self.label, done, self.total, self.unit, rate, eta)
            else:
                self.record(self.label, done, self.total, self.unit, rate, eta, item=self.item)
