"""Burned-in subtitles: where and how big the text is drawn, accents, timing, exact bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from resources.domain.speech import Cue, cues_for
from resources.media.burn_in import (
    FONT_FILE,
    Burner,
    composite,
    render_cue,
    safe_area,
    text_box,
    undrawable,
)
from resources.media.video_io import read_video, write_video
from resources.tiny.realesrgan import build_tiny_realesrgan
from resources.upscale.final_cut import CutClip, cut
from resources.upscale.super_resolution import load_upscaler

# Two cue lines of 42 characters, in capitals (the widest letters), accents on top and below.
LONGEST = (
    "MÁQUINA MÉDICA: ATENÇÃO À DOSE DO PACIENTE",
    "MMMMMMMMMM ÇÃO ÊXITO MÃE ÓRGÃOS WWWWWWWWWW",
)


def _inside(layer, box) -> bool:
    h, w = layer.outline.shape
    return (
        box.left <= layer.left
        and layer.left + w <= box.right
        and box.top <= layer.top
        and layer.top + h <= box.bottom
    )


def test_two_lines_of_42_characters_fit_the_title_safe_area_at_1080p():
    assert all(len(line) <= 42 for line in LONGEST)
    layer = render_cue(LONGEST, 1920, 1080)
    box, safe = text_box(1920, 1080), safe_area(1920, 1080)
    assert safe == type(safe)(96, 54, 1824, 1026)
    assert _inside(layer, box) and box.bottom == safe.bottom and box.left >= safe.left
    # Readable at 1080p: the white letters stand about 40 px tall (cap height of a 54 px font).
    rows = np.flatnonzero(layer.text.max(axis=1) > 128)
    first_line = rows[rows < rows.min() + 60]
    assert 36 <= first_line.max() - first_line.min() + 1 <= 60
    # An outline around every letter: dark coverage where the text is not.
    assert (layer.outline.astype(int) - layer.text.astype(int) > 128).sum() > layer.text.size // 50


def test_a_vertical_frame_shrinks_the_text_to_the_safe_width():
    layer = render_cue(LONGEST, 1080, 1920)
    assert _inside(layer, text_box(1080, 1920))


def test_portuguese_accents_are_drawn_as_their_own_glyphs():
    font = ImageFont.truetype(str(FONT_FILE), 54)
    missing = bytes(font.getmask(chr(0x10FFFD)))  # a private-use character: the font's box
    for plain, accented in (("a", "ã"), ("a", "á"), ("e", "ê"), ("c", "ç"), ("o", "õ"), ("A", "À")):
        glyph = bytes(font.getmask(accented))
        assert glyph != bytes(font.getmask(plain))
        assert glyph != missing


def _textured(height: int, width: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_frames_outside_cues_pass_untouched_and_cue_frames_change_only_in_the_text_box():
    cues = cues_for("one", "Olá, eu sou a doutora Ana.", 0.3, 1.0)
    burner = Burner(cues, width=640, height=360, fps=24)
    frame = _textured(360, 640)
    box = text_box(640, 360)
    for index in range(30):
        drawn = burner.frame(index, frame)
        changed = np.argwhere((drawn != frame).any(axis=-1))
        if 0.3 <= index / 24 < 1.0:
            assert changed.size, index
            assert changed[:, 0].min() >= box.top and changed[:, 0].max() < box.bottom
            assert changed[:, 1].min() >= box.left and changed[:, 1].max() < box.right
        else:
            assert np.array_equal(drawn, frame), index


def test_cues_are_shown_from_their_start_to_their_end_frame():
    cues = [Cue(0.5, 1.0, ("um",)), Cue(1.0, 1.25, ("dois",))]
    burner = Burner(cues, width=64, height=36, fps=24)
    shown = [burner.cue_at(i) for i in range(36)]
    assert [i for i, c in enumerate(shown) if c and c.lines == ("um",)] == list(range(12, 24))
    assert [i for i, c in enumerate(shown) if c and c.lines == ("dois",)] == list(range(24, 30))


def test_compositing_is_exact_integer_arithmetic():
    layer = render_cue(("Até já",), 320, 180)
    frame = _textured(180, 320)
    one, two = composite(frame, layer), composite(frame.copy(), layer)
    assert hashlib.sha256(one.tobytes()).digest() == hashlib.sha256(two.tobytes()).digest()
    h, w = layer.outline.shape
    region = one[layer.top : layer.top + h, layer.left : layer.left + w]
    assert (region[layer.text == 255] == 255).all()  # full text coverage is white
    assert (region[(layer.outline == 255) & (layer.text == 0)] == 0).all()  # outline is black


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    """One textured shot cut twice with its subtitle burned in and once without, decoded."""
    folder = tmp_path_factory.mktemp("burn")
    weights = folder / "realesr-general-x4v3.pth"
    build_tiny_realesrgan(weights, scale=4, architecture="SRVGGNetCompact")
    x4 = load_upscaler(weights)
    yy, xx = np.mgrid[0:90, 0:160]
    source = np.stack(
        [np.stack([(xx * 2 + i) % 256, yy * 2, (xx + yy) % 256], -1) for i in range(24)]
    ).astype(np.uint8)
    write_video(folder / "shot.mp4", source, fps=24, preset="ultrafast")
    clips = [CutClip("one", folder / "shot.mp4", 1.0)]
    cues = [Cue(0.25, 0.75, ("Olá, não há ação às vezes", "é ótima"))]
    made = {}
    for name in ("plain", "burned", "again"):
        burner = None if name == "plain" else Burner(cues, width=640, height=360, fps=24)
        out = folder / f"{name}.mp4"
        overlay = burner.frame if burner else None
        cut(x4, clips, out, width=640, height=360, fps=24, overlay=overlay)
        made[name] = out
    return made, cues


def test_a_burned_master_is_the_same_bytes_twice(masters):
    made, _ = masters
    assert made["burned"].read_bytes() == made["again"].read_bytes()
    assert made["burned"].read_bytes() != made["plain"].read_bytes()


def _decoded(path: Path) -> np.ndarray:
    return np.concatenate(list(read_video(path))).astype(int)


def test_decoded_burned_master_differs_from_the_plain_one_in_the_text_box(masters):
    made, cues = masters
    plain, burned = _decoded(made["plain"]), _decoded(made["burned"])
    box = text_box(640, 360)
    inside = np.zeros((360, 640), bool)
    inside[box.top : box.bottom, box.left : box.right] = True
    layer = render_cue(cues[0].lines, 640, 360)
    h, w = layer.text.shape
    letters = np.zeros((360, 640), bool)
    letters[layer.top : layer.top + h, layer.left : layer.left + w] = layer.text == 255
    outline = np.zeros((360, 640), bool)
    outline[layer.top : layer.top + h, layer.left : layer.left + w] = (layer.outline == 255) & (
        layer.text == 0
    )
    shown = [i for i in range(len(plain)) if cues[0].start_s <= i / 24 < cues[0].end_s]
    assert shown == list(range(6, 18))
    for index in range(len(plain)):
        diff = np.abs(plain[index] - burned[index]).max(axis=-1)
        if index in shown:  # white letters in a black outline, as decoded
            assert burned[index][letters].mean() > 220 and burned[index][outline].mean() < 40
        else:
            assert burned[index][letters].mean() < 200, index
        # Outside the box (and outside the cue) only the encoder's noise: H.264 predicts frames
        # from their neighbours and sets each frame's quantiser from the recent frames'
        # complexity, so pixels the overlay never touched decode a few levels apart.
        assert diff[~inside].mean() < 3, index


def test_characters_the_font_cannot_draw_are_named():
    assert undrawable("Olá, ação! Até já — 10% «ótimo»") == []
    assert undrawable("Olá 你好, 你") == ["你", "好"]  # DejaVu has no Chinese


def test_a_line_the_font_cannot_draw_stops_a_burned_in_cut_naming_the_shot():
    from conftest import small_brief

    from assets.stages.deliverables import UndrawableSubtitle, burn_in_version
    from resources.domain.brief import parse_brief

    shots = [{"id": "fala", "prompt": "she talks", "duration_s": 3, "line": "Olá 你好"}]
    brief = parse_brief(small_brief(shots=shots, deliverable={"subtitles": "burn_in"}))
    with pytest.raises(UndrawableSubtitle) as refused:
        burn_in_version(brief)
    # Named by its place in the brief, as every other problem of a brief.
    assert str(refused.value).startswith("shots[0].line: the subtitle font (DejaVuSans-Bold")
    assert "'你 好'" in str(refused.value)
    fine = parse_brief(small_brief(shots=[{**shots[0], "line": "Olá, até já!"}]))
    font_sha256 = hashlib.sha256(FONT_FILE.read_bytes()).hexdigest()
    assert burn_in_version(fine)["font_sha256"] == font_sha256


def test_validate_and_the_inbox_refuse_a_line_the_font_cannot_draw_before_any_run(tmp_path, capsys):
    from conftest import small_brief, write_brief

    from pipeline.cli import main
    from resources.brief_files import read_entry

    shots = [
        {"id": "oi", "prompt": "she talks", "duration_s": 3, "line": "Olá!"},
        {"id": "emoji", "prompt": "she waves", "duration_s": 3, "line": "Tchau 👋"},
    ]
    path = write_brief(tmp_path, small_brief(shots=shots, deliverable={"subtitles": "burn_in"}))
    entry = read_entry(path, follow_symlinks=False)
    assert entry.brief is None
    assert entry.error.problems == [
        "shots[1].line: the subtitle font (DejaVuSans-Bold.ttf) has no glyph for '👋'; "
        "deliverable.subtitles: burn_in would draw empty boxes (use sidecar, or write the line "
        "without them)"
    ]
    assert entry.error.problems_pt[0].startswith(
        "shots[1].line: a fonte das legendas (DejaVuSans-Bold.ttf) não tem desenho para '👋'"
    )
    assert main(["validate", str(path)]) == 1
    assert f"{path}: shots[1].line: the subtitle font" in capsys.readouterr().err
    sidecar = write_brief(tmp_path / "b", small_brief(shots=shots))  # a sidecar shows it as is
    assert read_entry(sidecar, follow_symlinks=False).error is None


def test_each_format_lays_out_its_subtitles_from_its_short_side():
    cue = ("Olá, doutora.",)
    heights = {}
    for size in ((1920, 1080), (1080, 1920), (1080, 1080)):
        layer = render_cue(cue, *size)
        assert _inside(layer, text_box(*size))
        rows = np.flatnonzero(layer.text.max(axis=1) > 128)
        heights[size] = rows.max() - rows.min()
        # Bottom line on the format's own safe area, centred across its own width.
        assert layer.top + layer.text.shape[0] == safe_area(*size).bottom
        middle = layer.left + layer.text.shape[1] / 2
        assert abs(middle - size[0] / 2) <= 2
    assert len(set(heights.values())) == 1  # the same letters in a vertical and a square frame
