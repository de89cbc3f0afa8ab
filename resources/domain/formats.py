"""Delivery formats: the aspect ratios one deliverables version is cut in, each with its size.

`deliverable.formats: [16:9, 9:16, 1:1]` asks for one file per aspect ratio, all cut from the
same shots in the same version. Every format keeps the short side of `deliverable.resolution`
(1080 for the default 1920x1080) and takes its long side from its ratio, rounded to an even
number (H.264 yuv420p): 16:9 is 1920x1080, 9:16 is 1080x1920, 1:1 is 1080x1080, 4:5 is
1080x1350. The primary format is the one whose ratio matches `deliverable.resolution` (else the
first listed): it keeps `deliverable.resolution` exactly, the file name final.mp4 and the fit,
so a brief without `formats` cuts the same single file as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

PRIMARY_FILE = "final.mp4"
ASPECTS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:5": (4, 5),
}


@dataclass(frozen=True)
class DeliveryFormat:
    """One format of a deliverables version: its aspect name, its size, its file names."""

    aspect: str
    width: int
    height: int
    primary: bool

    @property
    def file(self) -> str:
        return PRIMARY_FILE if self.primary else f"final-{self.tag}.mp4"

    @property
    def poster(self) -> str:
        return "poster.jpg" if self.primary else f"poster-{self.tag}.jpg"

    @property
    def tag(self) -> str:
        """The aspect in a file name: 9:16 -> 9x16."""
        return self.aspect.replace(":", "x")

    def record(self) -> dict[str, object]:
        return {
            "aspect": self.aspect,
            "width": self.width,
            "height": self.height,
            "file": self.file,
            "poster": self.poster,
            "primary": self.primary,
        }


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def aspect_of(width: int, height: int) -> str | None:
    """The named aspect `width` x `height` has (within 1%), or None."""
    for name, (w, h) in ASPECTS.items():
        if abs(Fraction(width, height) - Fraction(w, h)) <= Fraction(w, h) / 100:
            return name
    return None


def size_of(aspect: str, resolution: tuple[int, int]) -> tuple[int, int]:
    """The width and height of `aspect` keeping `resolution`'s short side."""
    w, h = ASPECTS[aspect]
    short = min(resolution)
    if w >= h:
        return _even(short * w / h), short
    return short, _even(short * h / w)


def delivery_formats(
    resolution: tuple[int, int], formats: list[str] | None
) -> list[DeliveryFormat]:
    """The formats a brief's deliverable is cut in, the primary first."""
    width, height = resolution
    if not formats:
        return [
            DeliveryFormat(aspect_of(width, height) or f"{width}x{height}", width, height, True)
        ]
    own = aspect_of(width, height)
    primary = own if own in formats else formats[0]
    found = []
    for aspect in [primary, *(a for a in formats if a != primary)]:
        if aspect == own:
            found.append(DeliveryFormat(aspect, width, height, aspect == primary))
        else:
            found.append(DeliveryFormat(aspect, *size_of(aspect, resolution), aspect == primary))
    return found
