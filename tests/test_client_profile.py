"""The client profile (clients/<client>/client.yaml beside the briefs): its cards and logo fill
what a brief leaves out, a brief's own fields win, and a bad profile is one line naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import small_brief, write_brief
from PIL import Image

from resources.brief_files import read_entry
from resources.domain.brief import BriefError
from resources.domain.client_profile import profile_path


def write_profile(inbox: Path, data: dict, client: str = "acme-health") -> Path:
    path = profile_path(inbox, client)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    logo = np.zeros((20, 40, 4), dtype=np.uint8)
    logo[..., 1], logo[..., 3] = 200, 255
    Image.fromarray(logo, "RGBA").save(path.parent / "logo.png")
    return path


PROFILE = {
    "title_card": {"text": "Introdução à Cardiologia", "duration_s": 1, "background": "#0B3D5C"},
    "end_card": {"text": "acme-health.com.br", "duration_s": 0.5},
    "logo": {"file": "logo.png", "corner": "bottom-right", "opacity": 0.7},
}


def test_every_brief_of_the_client_gets_the_profiles_cards_and_logo(tmp_path: Path):
    write_profile(tmp_path, PROFILE)
    entry = read_entry(write_brief(tmp_path, small_brief()), follow_symlinks=False)
    deliverable = entry.brief.deliverable
    assert deliverable.title_card.text == "Introdução à Cardiologia"
    assert deliverable.end_card.duration_s == 0.5
    assert deliverable.logo.file == "clients/acme-health/logo.png"
    assert (tmp_path / deliverable.logo.file).is_file()
    assert deliverable.logo.corner == "bottom-right" and deliverable.logo.opacity == 0.7


def test_a_briefs_own_card_wins_over_the_profile(tmp_path: Path):
    write_profile(tmp_path, PROFILE)
    own = {"resolution": [1920, 1080], "title_card": {"text": "Aula 2", "duration_s": 2}}
    entry = read_entry(write_brief(tmp_path, small_brief(deliverable=own)), follow_symlinks=False)
    assert entry.brief.deliverable.title_card.text == "Aula 2"
    assert entry.brief.deliverable.end_card.text == "acme-health.com.br"  # still the profile's


def test_another_clients_briefs_do_not_get_the_profile(tmp_path: Path):
    write_profile(tmp_path, PROFILE, client="other-client")
    entry = read_entry(write_brief(tmp_path, small_brief()), follow_symlinks=False)
    deliverable = entry.brief.deliverable
    assert deliverable.title_card is None and deliverable.logo is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"logo": {"file": "logo.png", "opacity": 2}}, "logo.opacity", "got 2"),
        ({"title_card": {"text": "x", "background": "blue"}}, "title_card.background", "blue"),
        ({"logo": {"file": "missing.png"}}, "logo.file", "missing.png is not a file"),
        ({"end_card": {"txt": "x"}}, "end_card.txt", "did you mean `text`"),
    ],
)
def test_a_bad_profile_is_one_line_naming_the_file_and_field(tmp_path, change, field, words):
    path = write_profile(tmp_path, {**PROFILE, **change})
    entry = read_entry(write_brief(tmp_path, small_brief()), follow_symlinks=False)
    assert entry.brief is None
    assert isinstance(entry.error, BriefError) and str(path) in str(entry.error)
    # One line a problem, each naming the profile's field ("did you mean" for a typo).
    assert any(line.startswith(field) and words in line for line in entry.error.problems)
    assert all("\n" not in line for line in entry.error.problems)


def test_a_logo_that_is_not_an_image_is_refused_by_name(tmp_path: Path):
    (tmp_path / "logo.png").write_text("not an image")
    data = small_brief(deliverable={"resolution": [1920, 1080], "logo": {"file": "logo.png"}})
    entry = read_entry(write_brief(tmp_path, data), follow_symlinks=False)
    assert entry.error.problems == ["deliverable.logo.file: logo.png is not a PNG or JPEG image"]


def test_an_edited_profile_or_logo_runs_that_clients_briefs_again_and_no_other(tmp_path: Path):
    from pipeline.sensors import scan_inbox

    quiet = {"log": lambda line: None}
    write_brief(tmp_path, small_brief(), name="ana.yaml")
    other = small_brief(client="sunny-foods", character={**small_brief()["character"], "id": "pip"})
    write_brief(tmp_path, other, name="pip.yaml")
    files = sorted(tmp_path.glob("*.yaml"))
    first = scan_inbox(files, {}, set(), **quiet)
    assert len(first.run_requests) == 2
    assert scan_inbox(files, first.state, set(), **quiet).run_requests == []

    profile = write_profile(tmp_path, PROFILE)  # acme-health gets cards and a logo
    second = scan_inbox(files, first.state, set(), **quiet)
    (request,) = second.run_requests
    assert request.partition_key == "acme-health/dr-ana"
    assert scan_inbox(files, second.state, set(), **quiet).run_requests == []

    profile.write_text(
        yaml.safe_dump({**PROFILE, "end_card": {"text": "acme.com", "duration_s": 1}})
    )
    third = scan_inbox(files, second.state, set(), **quiet)
    assert [r.partition_key for r in third.run_requests] == ["acme-health/dr-ana"]
    assert third.run_requests[0].run_key != request.run_key

    logo = np.zeros((20, 40, 4), dtype=np.uint8)
    logo[..., 0], logo[..., 3] = 255, 255  # the same file name, a red logo instead of green
    Image.fromarray(logo, "RGBA").save(profile.parent / "logo.png")
    fourth = scan_inbox(files, third.state, set(), **quiet)
    assert [r.partition_key for r in fourth.run_requests] == ["acme-health/dr-ana"]
    assert scan_inbox(files, fourth.state, set(), **quiet).run_requests == []
