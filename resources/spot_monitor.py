"""Spot interruption notices, polled so that long loops can stop at a unit boundary."""

from __future__ import annotations

from dagster import ConfigurableResource


class SpotMonitor(ConfigurableResource):
    """Reports a pending Spot interruption; `check` is the `stop` callable long loops take.

    With no notice source configured (a laptop, CI) it never asks to stop.
    """

    def check(self) -> str | None:
        return None
