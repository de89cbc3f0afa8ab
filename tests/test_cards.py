"""Title and end cards and the client's logo (resources/media/cards.py): Portuguese text drawn
with its accents inside the title-safe area of every format, the logo in its safe corner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resources.media.burn_in import FONT_FILE, undrawable
from resources.media.cards import (
    blend_logo,
    frame_overlay,
    logo_layer,
    render_card,
    title_safe,
)

TITLE = "Introdução à Cardiologia"
FORMATS = [(1920, 1080), (1080, 1920), (1080, 1080)]
BACKGROUND = "#0B3D5C"


def _ink(frame: np.ndarray, background: str) -> np.ndarray:
    """Where a card's frame is not its background colour."""
    colour = np.array([int(background[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(frame.astype(int) - colour).sum(axis=2) > 0


def test_the_font_has_a_glyph_for_every_letter_of_the_title():
    assert FONT_FILE.is_file()
    assert undrawable(TITLE) == []


@pytest.mark.parametrize("size", FORMATS)
def test_a_card_stays_inside_the_title_safe_area_of_every_format(size):
    width, height = size
    frame = render_card(TITLE, BACKGROUND, width, height)
    assert frame.shape == (height, width, 3)
    rows, cols = np.nonzero(_ink(frame, BACKGROUND))
    left, top, right, bottom = title_safe(width, height)
    assert rows.size > 0
    assert left <= cols.min() and cols.max() < right and top <= rows.min() and rows.max() < bottom
    assert (frame[0, 0] == (0x0B, 0x3D, 0x5C)).all()


def test_accents_are_drawn_the_accented_title_differs_from_the_plain_one_only_in_its_letters():
    accented = render_card(TITLE, BACKGROUND, 1920, 1080)
    plain = render_card("Introducao a Cardiologia", BACKGROUND, 1920, 1080)
    changed = np.abs(accented.astype(int) - plain.astype(int)).sum(axis=2) > 0
    assert changed.sum() > 200  # the tilde, the cedilla and the grave accent at least
    rows = np.flatnonzero(changed.any(axis=1))
    text_rows = np.flatnonzero(_ink(accented, BACKGROUND).any(axis=1))
    assert text_rows.min() <= rows.min() and rows.max() <= text_rows.max()


def test_a_long_text_wraps_and_shrinks_into_a_vertical_frame():
    text = "Introdução à Cardiologia: o que todo paciente deve saber sobre o coração"
    frame = render_card(text, "#FFFFFF", 1080, 1920)
    rows, cols = np.nonzero(_ink(frame, "#FFFFFF"))
    left, top, right, bottom = title_safe(1080, 1920)
    assert left <= cols.min() and cols.max() < right and top <= rows.min() and rows.max() < bottom
    assert (frame[rows, cols] < 128).all(axis=1).mean() > 0.5  # dark ink on a light card


def test_the_same_card_is_the_same_pixels():
    first = render_card(TITLE, BACKGROUND, 1080, 1080)
    assert (first == render_card(TITLE, BACKGROUND, 1080, 1080)).all()


@pytest.fixture
def logo(tmp_path: Path) -> Path:
    image = np.zeros((40, 80, 4), dtype=np.uint8)
    image[..., 0] = 250  # red, opaque in its left half, transparent in its right half
    image[:, :40, 3] = 255
    path = tmp_path / "logo.png"
    Image.fromarray(image, "RGBA").save(path)
    return path


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_the_logo_sits_in_its_corner_of_the_safe_area(logo: Path, corner: str):
    frame = np.full((1080, 1920, 3), 100, dtype=np.uint8)
    layer = logo_layer(logo, corner, 1.0, 1920, 1080)
    out = blend_logo(frame, layer)
    rows, cols = np.nonzero(np.abs(out.astype(int) - frame).sum(axis=2))
    assert max(layer.rgb.shape[:2]) == round(1080 * 0.12)
    assert 96 <= cols.min() and cols.max() < 1824 and 54 <= rows.min() and rows.max() < 1026
    assert (cols.min() < 960) == corner.endswith("left")
    assert (rows.min() < 540) == corner.startswith("top")
    # Its transparent half leaves the picture as it was.
    assert (out[layer.top, layer.left + layer.rgb.shape[1] - 1] == 100).all()


def test_opacity_blends_the_logo_over_the_picture(logo: Path):
    frame = np.full((360, 640, 3), 100, dtype=np.uint8)
    half = frame_overlay(logo_layer(logo, "top-left", 0.5, 640, 360), None)(0, frame)
    full = frame_overlay(logo_layer(logo, "top-left", 1.0, 640, 360), None)(0, frame)
    left, top = round(640 * 0.05), round(360 * 0.05)
    assert full[top + 2, left + 2, 0] >= 245
    assert 170 <= half[top + 2, left + 2, 0] <= 180  # about half way from 100 to 250
