"""Formats, a title card and burned-in subtitles with a spoken line, through the chain: the line
starts after the title card (the soundtrack counts the card's frames), the master stays on its
loudness target, and each format draws the cue inside its own text box."""

from __future__ import annotations

import numpy as np
import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models
from sound_support import voiced_character

from resources.domain.speech import LEAD_IN_S
from resources.media.burn_in import text_box
from resources.media.video_io import read_video
from resources.sound.master import decode_audio
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # a whole chain with a voice

TITLE_S = 1.0


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    base = tmp_path_factory.mktemp("formats-sound")
    root, inbox = base / "artifacts", base / "inbox"
    data = quick_brief(
        shots=[
            {
                "id": "hello",
                "prompt": "she talks",
                "duration_s": 2.0,
                "seed": 1,
                "line": "Olá, doutora.",
            }
        ],  # fmt: skip
        character=voiced_character(inbox),
        deliverable={
            "resolution": [320, 180],
            "formats": ["16:9", "9:16"],
            "subtitles": "burn_in",
            "title_card": {"text": "Introdução à Cardiologia", "duration_s": TITLE_S},
        },
    )
    instance = DagsterInstance.ephemeral()
    run_quick_chain(instance, inbox, root, data, models=shared_models(tmp_path_factory))
    store = ArtifactStore(root=str(root))
    ref = store.current("acme-health", "dr-ana", "deliverables")
    return store.path(ref), store.manifest(ref)


def test_the_line_starts_after_the_title_card(cut):
    _, manifest = cut
    (placed,) = manifest["sound"]["lines"]
    assert placed["start_s"] == pytest.approx(TITLE_S + LEAD_IN_S, abs=1e-3)
    sound = manifest["sound"]
    assert abs(sound["lufs"] - sound["target_lufs"]) <= 1.0
    assert abs(sound["audio_duration_s"] - (TITLE_S + 2.0)) <= 1 / 24


def test_every_format_burns_the_cue_into_its_own_text_box(cut):
    folder, manifest = cut
    (placed,) = manifest["sound"]["lines"]
    for f in manifest["formats"]:
        frames = np.concatenate(list(read_video(folder / f["file"])))
        box = text_box(f["width"], f["height"])
        during = frames[round((placed["start_s"] + 0.2) * 24)]
        before = frames[round(TITLE_S * 24) + 2]  # a shot frame before the line starts
        region = (slice(box.top, box.bottom), slice(box.left, box.right))
        lit = [int((frame[region].min(axis=-1) > 235).sum()) for frame in (during, before)]
        assert lit[0] > lit[1] + 20, f["aspect"]
    tracks = [decode_audio(folder / f["file"])[0] for f in manifest["formats"]]
    assert (tracks[0] == tracks[1]).all()
