"""The code location loads and its graph is whole: the cheapest test there is."""

from __future__ import annotations

from dagster import AssetKey, Definitions

from pipeline.definitions import defs
from pipeline.domain.chain import CHAIN_NAMES as CHAIN


def test_code_location_loads_with_every_resource_bound():
    Definitions.validate_loadable(defs)


def test_chain_assets_depend_on_each_other_in_order():
    graph = defs.resolve_asset_graph()
    for upstream, downstream in zip(CHAIN, CHAIN[1:], strict=False):
        parents = graph.get(AssetKey(downstream)).parent_keys
        assert parents == {AssetKey(upstream)}, (downstream, parents)


def test_every_asset_is_partitioned_per_character():
    graph = defs.resolve_asset_graph()
    for name in CHAIN:
        node = graph.get(AssetKey(name))
        assert node.partitions_def is not None
        assert node.partitions_def.name == "characters"


def test_job_targets_the_whole_chain():
    job = defs.resolve_job_def("character_video")
    assert {key.path[-1] for key in job.asset_layer.selected_asset_keys} == set(CHAIN)


def test_asset_checks_are_declared():
    graph = defs.resolve_asset_graph()
    names = {key.name for key in graph.asset_check_keys}
    assert names == {
        "reference_count_met",
        "lora_loads_into_pipeline",
        "clips_match_shot_list",
        "deliverable_matches_brief",
        "clips_have_no_black_or_frozen_stretches",
        "deliverable_has_no_black_or_frozen_stretches",
    }
