"""Scores a person reads (pipeline/review/catalog.py): one number, a light against the brief."""

from __future__ import annotations

import pytest
from conftest import small_brief

from pipeline.review.catalog import AMBER_MARGIN, Score, shot_scores
from resources.domain.brief import parse_brief


@pytest.mark.parametrize(
    ("value", "threshold", "higher", "light"),
    [
        (0.80, 0.50, True, "green"),
        (0.50 + AMBER_MARGIN / 2, 0.50, True, "amber"),
        (0.50, 0.50, True, "amber"),  # exactly at the limit passes, with no room
        (0.49, 0.50, True, "red"),
        (0.05, 0.15, False, "green"),  # a CER under its maximum
        (0.14, 0.15, False, "amber"),
        (0.20, 0.15, False, "red"),
        (0.20, None, True, "grey"),
    ],
)
def test_the_light_is_green_amber_red_against_the_threshold_or_grey_without_one(
    value, threshold, higher, light
):
    assert Score(value, threshold, higher).light == light


def test_shot_scores_hold_each_score_to_the_brief_s_own_limit():
    brief = parse_brief(small_brief(qc={"min_identity": 0.6, "max_cer": 0.1, "min_voice": 0.3}))
    found = shot_scores(brief, {"dinov2_base": 0.58, "clip_vit_large_patch14": 0.9}, 0.2, 0.8)
    assert found["identity"] == Score(0.58, 0.6) and found["identity"].light == "red"
    assert found["cer"] == Score(0.2, 0.1, False) and found["cer"].light == "red"
    assert found["voice"].light == "green"
    # Left at their defaults, the limits measure only.
    loose = shot_scores(parse_brief(small_brief()), {"dinov2_base": 0.1}, 0.4, -0.2)
    assert {k: s.light for k, s in loose.items()} == {
        "identity": "grey", "cer": "grey", "voice": "grey"}  # fmt: skip
