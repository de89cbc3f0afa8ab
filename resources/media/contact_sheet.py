"""Contact sheets: many stills or frames on one labelled image a producer can scan at a glance."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from resources.storage.artifact_store import write_atomic


def contact_sheet(
    images: list[Image.Image],
    out_file: Path,
    *,
    labels: list[str] | None = None,
    columns: int = 4,
    cell: int = 256,
) -> Path:
    """Lay `images` out on a grid of `cell`-pixel squares with optional labels; PNG."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    label_h = 18 if labels else 0
    sheet = Image.new("RGB", (columns * cell, rows * (cell + label_h)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        # Scale up as well as down: 64-pixel tiny stills should fill their cell too.
        scale = cell / max(image.width, image.height)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        thumb = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        x, y = (i % columns) * cell, (i // columns) * (cell + label_h)
        sheet.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
        if labels:
            draw.text((x + 4, y + cell + 3), labels[i][:40], fill=(230, 230, 230))

    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_atomic(out_file, buffer.getvalue())
    return out_file


def frames_to_images(frames: np.ndarray, count: int) -> list[Image.Image]:
    """`count` frames evenly spaced through a (N,H,W,3) uint8 clip, as PIL images."""
    idx = np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int)
    return [Image.fromarray(frames[i]) for i in idx]
