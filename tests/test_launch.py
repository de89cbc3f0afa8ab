"""pipeline.launch.run_chain: the chain in this process, whatever instances came and went before.

A long-lived process (the review app, the CLI's `run`) creates and closes Dagster instances; the
definitions-state storage Dagster keeps in a context variable can outlive the instance that set
it, and resolving the job then failed with "Attempted to resolve undefined DagsterInstance
weakref" (seen under two pytest workers in test_promote_shot).
"""

from __future__ import annotations

import os

import pytest
from conftest import gone_pid, started_run, write_brief
from dagster import DagsterInstance, instance_for_test
from dagster._core.storage.defs_state.base import set_defs_state_storage
from quick_chain import quick_brief

from pipeline.launch import run_chain
from pipeline.settings import resource_defs
from resources.domain.chain import RUN_NAMES

pytestmark = pytest.mark.slow  # a whole chain on the tiny profile


def test_a_run_after_a_closed_instance_uses_its_own_instance(tmp_path):
    with instance_for_test() as closed:  # a persistent instance keeps definitions state
        stale = closed.defs_state_storage
    assert stale is not None
    brief = write_brief(tmp_path / "inbox", quick_brief())
    resources = resource_defs(root=tmp_path / "artifacts", profile="tiny", inbox=[str(brief)])
    # What a closed instance can leave behind: its storage as the current one.
    with DagsterInstance.ephemeral() as instance, set_defs_state_storage(stale):
        outcome = run_chain(brief, resources=resources, instance=instance, launched_by="test")
        assert outcome.success
        built = {e.asset_key.path[-1] for e in outcome.get_asset_materialization_events()}
        assert built == set(RUN_NAMES)


def test_a_run_whose_local_process_was_killed_is_marked_failed_not_counted_as_running():
    from dagster import DagsterRunStatus

    from pipeline.launch import active_runs

    key = "acme-health/dr-ana"
    with DagsterInstance.ephemeral() as instance:
        killed = started_run(instance, key, gone_pid())
        alive = started_run(instance, key, os.getpid())
        assert [r.run_id for r in active_runs(instance, key)] == [alive.run_id]
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED


def test_what_went_wrong_is_told_in_its_first_line_cut_to_the_detail_limit():
    """The one rule notifications, the run state and the home page share for a failure."""
    from resources.domain.chain import DETAIL_CHARS, detail_line

    assert detail_line("\n  CUDA out of memory\nTraceback (most recent call last):\n") == (
        "CUDA out of memory"
    )
    assert detail_line("   ", fallback="RuntimeError") == "RuntimeError"
    assert detail_line("x" * (DETAIL_CHARS + 7)) == "x" * DETAIL_CHARS
