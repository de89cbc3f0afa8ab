"""The identity engine on the tiny backbones: definitions, determinism, streaming, flags.

Tiny backbones have random weights: these tests check the mechanics (a clip of the stills
matches them, shifted stills match better than unrelated pictures, the VBench formula), not
whether a real character is recognised.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from quick_chain import shared_models

from resources.domain.brief import BriefError, parse_brief
from resources.domain.qc import ShotVerdict, attempt_seed
from resources.media.video_io import write_video
from resources.models.model_store import ModelStore
from resources.qc.identity import (
    PRIMARY,
    IdentityScorer,
    cross_shot,
    load_backbone,
    reference_set,
    sample_indices,
    scorer_models,
)

pytestmark = pytest.mark.slow  # whole-chain materializations with identity scoring


def _picture(seed: int, size: int = 64) -> np.ndarray:
    """A smooth random picture (8x8 colour cells, bicubic up): stand-in for a still."""
    cells = (np.random.default_rng(seed).random((8, 8, 3)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(cells).resize((size, size), Image.BICUBIC))


def _scorer(models: Path) -> IdentityScorer:
    store = ModelStore(profile="tiny", models_dir=str(models))
    return IdentityScorer([load_backbone(store.vision_model_dir(m), m) for m in scorer_models()])


def _clip(path: Path, frames: list[np.ndarray], repeat: int = 3) -> Path:
    write_video(path, np.stack([f for f in frames for _ in range(repeat)]), fps=24)
    return path


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("identity")
    scorer = _scorer(shared_models(tmp_path_factory))
    stills = [_picture(i) for i in range(4)]
    references = scorer.embed(stills)
    clips = {
        "stills": _clip(folder / "stills.mp4", stills),
        "shifted": _clip(folder / "shifted.mp4", [np.roll(s, 1, axis=1) for s in stills]),
        "unrelated": _clip(folder / "unrelated.mp4", [_picture(100 + i) for i in range(4)]),
    }
    scores = {name: scorer.score_clip(path, references) for name, path in clips.items()}
    return {
        "folder": folder,
        "scorer": scorer,
        "references": references,
        "clips": clips,
        "scores": scores,
        "models": shared_models(tmp_path_factory),
    }


def test_both_backbones_load_from_the_model_store_with_their_processors(scored):
    names = set(scored["scorer"].backbones)
    assert names == {"dinov2_base", "clip_vit_large_patch14"}
    dino = scored["scorer"].backbones["dinov2_base"]
    assert type(dino.module).__name__ == "Dinov2Model"
    assert type(dino.processor).__name__ == "BitImageProcessor"
    clip = scored["scorer"].backbones["clip_vit_large_patch14"]
    assert type(clip.module).__name__ == "CLIPVisionModelWithProjection"
    assert type(clip.processor).__name__ == "CLIPImageProcessor"


def test_the_model_record_names_the_tiny_build_and_its_weights(scored):
    store = ModelStore(profile="tiny", models_dir=str(scored["models"]))
    model = scorer_models()[0]
    record = store.record(model.name, model.repo_id, model.revision, store.vision_model_dir(model))
    assert record["id"] == "tiny/dinov2_base" and record["revision"] == "built-in"
    assert len(record["sha256"]) == 64


def test_a_clip_of_the_reference_stills_scores_at_least_099_against_them(scored):
    identity = scored["scores"]["stills"].identity
    assert identity["dinov2_base"] >= 0.99
    assert identity["clip_vit_large_patch14"] >= 0.99


def test_unrelated_content_scores_lower_than_lightly_shifted_stills(scored):
    shifted, unrelated = scored["scores"]["shifted"], scored["scores"]["unrelated"]
    for backbone in ("dinov2_base", "clip_vit_large_patch14"):
        assert unrelated.identity[backbone] < shifted.identity[backbone], backbone


def test_scores_are_deterministic_across_loads(scored):
    again = _scorer(scored["models"])
    references = again.embed([_picture(i) for i in range(4)])
    for name, path in scored["clips"].items():
        first, second = scored["scores"][name], again.score_clip(path, references)
        assert first.record() == second.record(), name


def test_identity_is_the_mean_over_sampled_frames_of_the_best_reference_cosine(scored):
    scores = scored["scores"]["shifted"]
    assert scores.frame_count == 12
    assert scores.frames == sample_indices(12) == [0, 2, 3, 5, 6, 8, 9, 11]
    for name, per_frame in scores.per_frame.items():
        best = (scores.samples[name] @ scored["references"][name].T).max(dim=1).values
        assert per_frame == pytest.approx(best.tolist(), abs=1e-6)
        assert scores.identity[name] == pytest.approx(np.mean(per_frame), abs=1e-9)


def test_subject_consistency_follows_vbench(scored):
    # VBench: mean over frames i >= 1 of (max(0, cos(f_i, f_i-1)) + max(0, cos(f_i, f_0))) / 2.
    stills = [_picture(i) for i in range(4)]
    path = _clip(scored["folder"] / "vbench.mp4", stills, repeat=2)
    scorer = scored["scorer"]
    from resources.media.video_io import read_video

    frames = np.concatenate(list(read_video(path)))
    f = F.normalize(scorer.vbench_features(frames), dim=-1)
    expected = np.mean(
        [
            (max(0.0, float(f[i] @ f[i - 1])) + max(0.0, float(f[i] @ f[0]))) / 2
            for i in range(1, len(f))
        ]
    )
    got = scorer.score_clip(path, scored["references"]).subject_consistency
    assert got == pytest.approx(expected, abs=1e-6)
    assert got < 0.999  # the pictures change: the score sees it
    still = _clip(scored["folder"] / "still.mp4", [stills[0]], repeat=6)
    assert scorer.score_clip(still, scored["references"]).subject_consistency > 0.999


def test_scoring_streams_frames_memory_does_not_grow_with_clip_length(scored):
    scorer, references = scored["scorer"], scored["references"]
    peaks = {}
    for frames in (48, 480):
        path = _clip(scored["folder"] / f"long{frames}.mp4", [_picture(7, 128)], repeat=frames)
        tracemalloc.start()
        scorer.score_clip(path, references)
        peaks[frames] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    decoded_480 = 480 * 128 * 128 * 3
    assert peaks[480] < decoded_480 / 4
    assert peaks[480] < 2 * peaks[48]


def test_reference_set_flags_an_outlier_and_a_near_duplicate():
    base = torch.tensor([1.0, 0.0, 0.0, 0.0])
    close = F.normalize(
        torch.stack(
            [
                base + torch.tensor([0.0, 0.30, 0.0, 0.0]),
                base + torch.tensor([0.0, 0.0, 0.30, 0.0]),
                base + torch.tensor([0.0, 0.0, 0.0, 0.30]),
                base + torch.tensor([0.0, 0.0, 0.0, 0.301]),  # all but the same as the third
                torch.tensor([0.0, 1.0, 1.0, 1.0]),  # another character
            ]
        ),
        dim=-1,
    )
    report = reference_set(close, outlier_gap=0.15, duplicate_above=0.99)
    assert report.outliers == [4]
    assert report.duplicates == [(2, 3)]
    assert len(report.similarity) == 5 and report.similarity[0][0] == pytest.approx(1.0)
    clean = reference_set(close[:3], outlier_gap=0.15, duplicate_above=0.99)
    assert clean.outliers == [] and clean.duplicates == []


def test_reference_set_of_real_pictures_flags_a_repeated_still(scored):
    stills = [_picture(i) for i in range(3)]
    embedded = scored["scorer"].embed([*stills, stills[1]])[PRIMARY]
    report = reference_set(embedded, outlier_gap=0.15, duplicate_above=0.99)
    assert (1, 3) in report.duplicates


def test_cross_shot_consistency_is_symmetric_best_match_identity(scored):
    scores = scored["scores"]
    samples = {name: s.samples for name, s in scores.items()}
    result = cross_shot(samples)
    assert [p["shots"] for p in result["pairs"]] == [
        ["stills", "shifted"],
        ["stills", "unrelated"],
        ["shifted", "unrelated"],
    ]
    pair = result["pairs"][0]["scores"][PRIMARY]
    a, b = samples["stills"][PRIMARY], samples["shifted"][PRIMARY]
    expected = ((a @ b.T).max(1).values.mean() + (b @ a.T).max(1).values.mean()) / 2
    assert pair == pytest.approx(float(expected), abs=1e-6)
    assert result["min"][PRIMARY] == min(p["scores"][PRIMARY] for p in result["pairs"])
    assert cross_shot({"only": samples["stills"]})["min"][PRIMARY] == 1.0


def test_attempt_seeds_start_at_the_shots_seed_and_differ_per_attempt_and_shot():
    assert attempt_seed(7, 0) == 7
    seeds = [attempt_seed(7, a) for a in range(5)]
    assert len(set(seeds)) == 5 and seeds == [attempt_seed(7, a) for a in range(5)]
    assert attempt_seed(8, 1) != attempt_seed(7, 1)
    assert all(0 <= s < 2**32 for s in seeds)


def test_a_verdict_names_the_shot_its_best_score_and_the_threshold():
    verdict = ShotVerdict("intro", best=0.412, attempt=2, attempts=3, threshold=0.6)
    assert not verdict.passed
    message = verdict.message("acme-health", "dr-ana")
    assert "shot intro" in message and "0.412" in message and "0.600" in message
    assert "python -m pipeline accept acme-health dr-ana intro" in message
    accepted = ShotVerdict("intro", 0.412, 2, 3, 0.6, accepted_by="maria", accepted_at="t")
    assert accepted.passed and "accepted by maria" in accepted.message("a", "b")


def test_the_brief_has_qc_defaults_that_do_not_block_and_refuses_unknown_accepts(brief_file):
    import yaml

    data = yaml.safe_load(brief_file.read_text())
    brief = parse_brief(data)
    # -1, the lowest cosine: a negative score (tiny Mochi) passes too.
    assert brief.qc.min_identity == brief.qc.min_cross_shot == -1.0 and brief.qc.max_attempts == 3
    assert brief.qc.accept == [] and brief.qc.measure_lora_effect is False
    data["qc"] = {"accept": ["nope"]}
    with pytest.raises(BriefError, match="qc.accept names shot"):
        parse_brief(data)
    data["qc"] = {"max_attempts": 0}
    with pytest.raises(BriefError, match="qc.max_attempts"):
        parse_brief(data)
