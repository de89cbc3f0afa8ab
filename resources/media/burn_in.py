"""Subtitles drawn into the picture (`deliverable.subtitles: burn_in`).

Each cue is white text with a dark outline, centred at the bottom of the title-safe area (the
central 90% of the frame's width and height, as EBU R 95 sets it for graphics). The font size is
a fixed share of the frame's short side (54 px at 1080p, and in a 1080x1920 or 1080x1080
format), made smaller only when a cue's longest line would not fit the safe width. The font is
DejaVu Sans Bold from Debian's fonts-dejavu-core (scripts/install_fonts.sh); it covers every
Portuguese letter. A frame shows the cue whose
[start, end) holds the frame's start time, the same cues the WebVTT and SRT files carry; frames
outside every cue are passed on untouched. Integer compositing: the same inputs, the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from resources.domain.brief import Brief
from resources.domain.brief_problems import Problem
from resources.domain.speech import Cue

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
FONT_PACKAGE = "fonts-dejavu-core"
FONT_LICENCE = "Bitstream Vera / DejaVu public-domain changes (free to embed and distribute)"
SAFE_MARGIN = 0.05  # title-safe area: 5% of width and height in from each edge
TEXT_SIZE = 0.05  # font size over the frame's short side (its height in 16:9)
OUTLINE = 0.08  # outline width over font size
LINE_GAP = 0.15  # space between a cue's two lines, over font size
MAX_LINES = 2


class MissingFont(FileNotFoundError):
    """The subtitle font is not installed."""


@dataclass(frozen=True)
class Box:
    """A rectangle of a frame: columns [left, right), rows [top, bottom)."""

    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class Layer:
    """A cue ready to composite: outline and text coverage (0..255) placed at (left, top)."""

    left: int
    top: int
    outline: np.ndarray  # uint8 (h, w)
    text: np.ndarray  # uint8 (h, w)


def safe_area(width: int, height: int) -> Box:
    """The title-safe area of a `width` x `height` frame."""
    dx, dy = round(width * SAFE_MARGIN), round(height * SAFE_MARGIN)
    return Box(dx, dy, width - dx, height - dy)


def text_box(width: int, height: int) -> Box:
    """Where subtitles may draw: the safe area's width, two lines high, on its bottom edge."""
    safe = safe_area(width, height)
    size = round(min(width, height) * TEXT_SIZE)
    ascent, descent = _font(FONT_FILE, size).getmetrics()
    stroke = _stroke(size)
    tall = MAX_LINES * (ascent + descent) + round(LINE_GAP * size) + 2 * stroke
    return Box(safe.left, max(safe.top, safe.bottom - tall), safe.right, safe.bottom)


def font_file() -> Path:
    """The subtitle font, or a one-line error saying how to install it."""
    if not FONT_FILE.is_file():
        raise MissingFont(
            f"subtitle font {FONT_FILE} is missing: run scripts/install_fonts.sh "
            f"(Debian package {FONT_PACKAGE}) to burn subtitles in"
        )
    return FONT_FILE


@lru_cache(maxsize=16)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def undrawable(text: str) -> list[str]:
    """The characters of `text` the font has no glyph for (it would draw its empty box)."""
    font = _font(font_file(), 32)
    missing = bytes(font.getmask(_NO_GLYPH))
    found = []
    for char in dict.fromkeys(text):
        if not char.isspace() and bytes(font.getmask(char)) == missing:
            found.append(char)
    return found


def undrawable_lines(brief: Brief) -> list[Problem]:
    """One problem per line to burn in that holds a character the font has no glyph for (an
    emoji): said when the brief is read, not after its clips are rendered. None while the font
    is not installed here (the cut says how to install it)."""
    if brief.subtitles != "burn_in" or not FONT_FILE.is_file():
        return []
    problems = []
    for index, shot in enumerate(brief.shots):
        if shot.line is None or not (missing := " ".join(undrawable(shot.line))):
            continue
        problems.append(
            Problem(
                f"shots[{index}].line",
                f"the subtitle font ({FONT_FILE.name}) has no glyph for {missing!r}; "
                "deliverable.subtitles: burn_in would draw empty boxes (use sidecar, or write the "
                "line without them)",
                f"a fonte das legendas ({FONT_FILE.name}) não tem desenho para {missing!r}; "
                "deliverable.subtitles: burn_in desenharia caixas vazias (use sidecar ou escreva a "
                "fala sem esses caracteres)",
            )
        )
    return problems


_NO_GLYPH = chr(0x10FFFD)  # a private-use character no font maps: its box is the font's .notdef


def _stroke(size: int) -> int:
    return max(1, round(size * OUTLINE))


def _fitting_size(lines: tuple[str, ...], width: int, height: int) -> int:
    """The frame's subtitle size, smaller where the longest line would pass the safe width."""
    safe = safe_area(width, height)
    room = safe.right - safe.left
    size = max(8, round(min(width, height) * TEXT_SIZE))
    while size > 8:
        widest = max(_font(FONT_FILE, size).getlength(line) for line in lines)
        if widest + 2 * _stroke(size) <= room:
            break
        size -= 1
    return size


def render_cue(lines: tuple[str, ...], width: int, height: int) -> Layer:
    """One cue's lines laid out centred, bottom line on the safe area's bottom edge."""
    font_file()
    size = _fitting_size(lines, width, height)
    font, stroke = _font(FONT_FILE, size), _stroke(size)
    ascent, descent = font.getmetrics()
    step = ascent + descent + round(LINE_GAP * size)
    safe = safe_area(width, height)
    tall = len(lines) * step - round(LINE_GAP * size) + 2 * stroke
    top = safe.bottom - tall
    outline = Image.new("L", (width, tall), 0)
    text = Image.new("L", (width, tall), 0)
    for row, line in enumerate(lines):
        at = (width / 2, stroke + row * step)
        for image, extra in ((outline, stroke), (text, 0)):
            ImageDraw.Draw(image).text(
                at, line, font=font, fill=255, anchor="ma", stroke_width=extra, stroke_fill=255
            )
    o, t = np.asarray(outline), np.asarray(text)
    columns = np.flatnonzero(o.any(axis=0))
    if columns.size == 0:
        return Layer(safe.left, top, o[:, :0], t[:, :0])
    left, right = int(columns[0]), int(columns[-1]) + 1
    return Layer(left, top, o[:, left:right].copy(), t[:, left:right].copy())


def composite(frame: np.ndarray, layer: Layer) -> np.ndarray:
    """`frame` (h, w, 3 uint8) with the layer's outline in black and text in white over it."""
    out = np.array(frame, dtype=np.uint8, copy=True)
    h, w = layer.outline.shape
    region = out[layer.top : layer.top + h, layer.left : layer.left + w].astype(np.uint32)
    dark = layer.outline.astype(np.uint32)[..., None]
    region = (region * (255 - dark) + 127) // 255  # black outline: only darkens
    light = layer.text.astype(np.uint32)[..., None]
    region = (region * (255 - light) + 255 * light + 127) // 255
    out[layer.top : layer.top + h, layer.left : layer.left + w] = region.astype(np.uint8)
    return out


class Burner:
    """Draws the cue showing at each output frame of a cut of `width` x `height` at `fps`."""

    def __init__(self, cues: list[Cue], *, width: int, height: int, fps: int) -> None:
        font_file()
        self._cues = sorted(cues, key=lambda c: c.start_s)
        self._size, self._fps = (width, height), fps
        self._layers: dict[tuple[str, ...], Layer] = {}

    def cue_at(self, index: int) -> Cue | None:
        """The cue showing at output frame `index` (its start time within [start, end))."""
        t = index / self._fps
        return next((c for c in self._cues if c.start_s <= t < c.end_s), None)

    def frame(self, index: int, frame: np.ndarray) -> np.ndarray:
        """Output frame `index` with its cue drawn, or `frame` itself when no cue shows."""
        cue = self.cue_at(index)
        if cue is None or not any(cue.lines):
            return frame
        if cue.lines not in self._layers:
            self._layers[cue.lines] = render_cue(cue.lines, *self._size)
        return composite(frame, self._layers[cue.lines])
