"""Cards and logo through the chain: a client profile beside the brief puts a title card, an end
card and the logo into every format of the cut; the soundtrack covers the cards and the master
stays on its loudness target; the profile's bytes are part of the deliverable's version."""

from __future__ import annotations

import numpy as np
import pytest
from dagster import DagsterInstance
from quick_chain import quick_brief, run_quick_chain, shared_models
from sound_support import write_music
from test_client_profile import PROFILE, write_profile

from resources.domain.timing import frames_for
from resources.media.video_io import probe_video, read_video
from resources.sound.master import decode_audio
from resources.storage.artifact_store import ArtifactStore

pytestmark = pytest.mark.slow  # whole-chain materializations

KEY = ("acme-health", "dr-ana")


def _cut(instance, base, root, models, profile: dict | None):
    inbox = base / "inbox"
    write_music(inbox / "trilha.wav")
    if profile is not None:
        write_profile(inbox, profile)
    data = quick_brief(
        deliverable={"resolution": [320, 180], "formats": ["16:9", "9:16"]},
        audio={"music": {"file": "trilha.wav", "licence": "composed for the test, CC0"}},
    )
    run_quick_chain(instance, inbox, root, data, models=models)
    store = ArtifactStore(root=str(root))
    ref = store.current(*KEY, "deliverables")
    return ref.version, store.path(ref), store.manifest(ref)


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    base = tmp_path_factory.mktemp("branding")
    root, models = base / "artifacts", shared_models(tmp_path_factory)
    instance = DagsterInstance.ephemeral()
    plain = _cut(instance, base / "plain", root, models, None)
    branded = _cut(instance, base / "branded", root, models, PROFILE)
    changed = {**PROFILE, "end_card": {"text": "acme-health.com", "duration_s": 0.5}}
    other = _cut(instance, base / "other", root, models, changed)
    return {"plain": plain, "branded": branded, "other": other}


def test_the_cards_add_their_frames_before_and_after_the_shots_in_every_format(cuts):
    _, folder, manifest = cuts["branded"]
    title = frames_for(1.0, 24)
    end = frames_for(0.5, 24)
    for f in manifest["formats"]:
        frames = np.concatenate(list(read_video(folder / f["file"])))
        assert len(frames) == title + 12 + end
        # The title card's background is the profile's colour (away from text and logo).
        corner = frames[0, 2:6, 2:6].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - (0x0B, 0x3D, 0x5C)).max() < 12
        assert frames[title + 6].std() > frames[0].std() / 4  # a shot, not a card
    assert manifest["branding"]["title_card"]["frames"] == title
    assert manifest["branding"]["end_card"]["frames"] == end


def test_the_logo_is_drawn_in_its_corner_of_every_shot_frame(cuts):
    _, plain_folder, plain = cuts["plain"]
    _, folder, manifest = cuts["branded"]
    title = frames_for(1.0, 24)
    for f in manifest["formats"]:
        width, height = f["width"], f["height"]
        with_logo = np.concatenate(list(read_video(folder / f["file"])))[title : title + 12]
        without = np.concatenate(list(read_video(plain_folder / f["file"])))
        diff = np.abs(with_logo.astype(int) - without.astype(int)).sum(axis=3).mean(axis=0)
        rows, cols = np.nonzero(diff > 30)
        # Bottom-right, inside the 90% safe area (a few pixels of H.264 bleed allowed).
        assert rows.min() > height / 2 and cols.min() > width / 2
        assert rows.max() < height - round(0.05 * height) + 4
        assert cols.max() < width - round(0.05 * width) + 4
        assert probe_video(folder / f["file"]).height == height


def test_the_soundtrack_spans_the_cards_and_stays_on_target(cuts):
    _, folder, manifest = cuts["branded"]
    sound = manifest["sound"]
    seconds = (frames_for(1.0, 24) + 12 + frames_for(0.5, 24)) / 24
    assert abs(sound["picture_duration_s"] - seconds) < 1e-3
    assert abs(sound["audio_duration_s"] - seconds) <= 1 / 24
    assert abs(sound["lufs"] - sound["target_lufs"]) <= 1.0 and sound["true_peak_dbtp"] <= -1.0
    tracks = [decode_audio(folder / f["file"])[0] for f in manifest["formats"]]
    assert (tracks[0] == tracks[1]).all()


def test_the_profile_is_part_of_the_deliverables_version(cuts):
    versions = {name: cut[0] for name, cut in cuts.items()}
    assert len(set(versions.values())) == 3
    _, _, branded = cuts["branded"]
    assert branded["branding"]["logo"]["sha256"] and branded["branding"]["logo"]["opacity"] == 0.7
