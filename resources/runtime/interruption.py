"""Stopping long work cleanly at unit boundaries: a Spot notice, an operator's stop.

Every long loop (reference stills, training steps, shots, upscaled batches) takes a `stop`
callable and calls `stop_if_asked` between units, after the finished unit is saved. A stop then
costs only the unit in progress.
"""

from __future__ import annotations

from collections.abc import Callable

StopCheck = Callable[[], str | None]  # returns the reason to stop, or None to go on


class WorkInterrupted(RuntimeError):
    """Work stopped on request at a unit boundary; everything finished so far is saved."""

    def __init__(self, reason: str, where: str):
        self.reason = reason
        self.where = where
        super().__init__(f"stopped at {where}: {reason}; finished units are saved")


def stop_if_asked(stop: StopCheck | None, where: str) -> None:
    """Raise WorkInterrupted if `stop` reports a reason to stop."""
    reason = stop() if stop is not None else None
    if reason:
        raise WorkInterrupted(reason, where)
