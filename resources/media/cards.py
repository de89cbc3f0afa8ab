"""Title and end cards and the client's logo, drawn for each format of a cut.

A card is its text centred on a plain background, wrapped and sized to stay inside the frame's
title-safe area: the central 80% of its width and height (the graphics-safe area of EBU R 95 for
text; the outer 10% on each side may be lost on some screens). The font is the one subtitles use
(DejaVu Sans Bold, resources/media/burn_in.py: every Portuguese letter), 7% of the frame's short
side, made smaller until the lines fit; its colour is white on a dark background and black on a
light one.

The logo is scaled to `LOGO_SIZE` of the frame's short side (its longer edge) and placed in its
corner of the action-safe area (the central 90%), blended with its alpha times the opacity in
integer arithmetic: the same inputs, the same pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from resources.media.burn_in import FONT_FILE, _font, font_file, safe_area

TITLE_SAFE = 0.10  # text stays 10% in from each edge: the central 80%
CARD_TEXT = 0.07  # font size over the frame's short side
LINE_GAP = 0.25  # space between lines, over the font size
LOGO_SIZE = 0.12  # the logo's longer edge over the frame's short side


def title_safe(width: int, height: int) -> tuple[int, int, int, int]:
    """The title-safe area of a frame: (left, top, right, bottom)."""
    dx, dy = round(width * TITLE_SAFE), round(height * TITLE_SAFE)
    return dx, dy, width - dx, height - dy


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _wrapped(text: str, size: int, room: int) -> list[str]:
    """`text` in lines no wider than `room` pixels at `size` (a longer word stays whole)."""
    font = _font(FONT_FILE, size)
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if line and font.getlength(trial) > room:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def _layout(text: str, width: int, height: int) -> tuple[int, list[str]]:
    """The largest font size (from CARD_TEXT down) whose wrapped lines fit the title-safe area."""
    left, top, right, bottom = title_safe(width, height)
    size = max(8, round(min(width, height) * CARD_TEXT))
    while True:
        lines = _wrapped(text, size, right - left)
        font = _font(FONT_FILE, size)
        ascent, descent = font.getmetrics()
        tall = len(lines) * (ascent + descent) + (len(lines) - 1) * round(LINE_GAP * size)
        wide = max(font.getlength(line) for line in lines)
        if size <= 8 or (tall <= bottom - top and wide <= right - left):
            return size, lines
        size -= 1


def render_card(text: str, background: str, width: int, height: int) -> np.ndarray:
    """A card's frame: `text` centred inside the title-safe area on `background` (#RRGGBB)."""
    font_file()
    colour = _rgb(background)
    luma = sum(c * w for c, w in zip(colour, (299, 587, 114), strict=True))
    ink = (0, 0, 0) if luma > 128_000 else (255, 255, 255)
    size, lines = _layout(text, width, height)
    font = _font(FONT_FILE, size)
    ascent, descent = font.getmetrics()
    step = ascent + descent + round(LINE_GAP * size)
    tall = len(lines) * step - round(LINE_GAP * size)
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    top = (height - tall) // 2
    for row, line in enumerate(lines):
        draw.text((width / 2, top + row * step), line, font=font, fill=ink, anchor="ma")
    return np.asarray(image).copy()


@dataclass(frozen=True)
class LogoLayer:
    """A logo ready to blend: its colour and weight (alpha x opacity, 0..255) at (left, top)."""

    left: int
    top: int
    rgb: np.ndarray  # uint8 (h, w, 3)
    weight: np.ndarray  # uint32 (h, w, 1)


def logo_layer(path: Path, corner: str, opacity: float, width: int, height: int) -> LogoLayer:
    """The logo at `path` scaled and placed in `corner` of a `width` x `height` frame."""
    with Image.open(path) as source:
        image = source.convert("RGBA")
    longest = max(2, round(min(width, height) * LOGO_SIZE))
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    pixels = np.asarray(image)
    safe = safe_area(width, height)
    left = safe.left if corner.endswith("left") else safe.right - size[0]
    top = safe.top if corner.startswith("top") else safe.bottom - size[1]
    weight = (pixels[..., 3:4].astype(np.uint32) * round(opacity * 255) + 127) // 255
    return LogoLayer(left, top, pixels[..., :3].copy(), weight)


def blend_logo(frame: np.ndarray, layer: LogoLayer) -> np.ndarray:
    """`frame` with the logo blended over it."""
    out = np.array(frame, dtype=np.uint8, copy=True)
    h, w = layer.rgb.shape[:2]
    region = out[layer.top : layer.top + h, layer.left : layer.left + w].astype(np.uint32)
    ink = layer.rgb.astype(np.uint32)
    mixed = (region * (255 - layer.weight) + ink * layer.weight + 127) // 255
    out[layer.top : layer.top + h, layer.left : layer.left + w] = mixed.astype(np.uint8)
    return out


def frame_overlay(
    logo: LogoLayer | None, subtitles: Callable[[int, np.ndarray], np.ndarray] | None
) -> Callable[[int, np.ndarray], np.ndarray] | None:
    """What a cut draws on output frame `index`: the logo, then the subtitles (None: nothing)."""
    if logo is None:
        return subtitles

    def draw(index: int, frame: np.ndarray) -> np.ndarray:
        frame = blend_logo(frame, logo)
        return frame if subtitles is None else subtitles(index, frame)

    return draw
