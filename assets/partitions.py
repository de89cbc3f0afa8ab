"""Partitions: one per client's character, keyed `client/character`."""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition

CHARACTERS = "characters"

character_partitions = DynamicPartitionsDefinition(name=CHARACTERS)
