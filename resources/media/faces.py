"""OpenCV's frontal-face detector: the one face finder of lip sync and reframing.

The Viola-Jones cascade `haarcascade_frontalface_default.xml` that opencv-python ships in
`cv2.data` (the cascade's own header: the Intel License Agreement, BSD-style; OpenCV itself is
Apache-2.0). Deterministic: the same frame, the same boxes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"
DETECTOR = {
    "name": "OpenCV frontal-face cascade",
    "file": CASCADE,
    "package": f"opencv-python-headless {cv2.__version__}",
    "licence": "Intel License Agreement (BSD-style) for the cascade; Apache-2.0 for OpenCV",
}

Box = tuple[int, int, int, int]  # x, y, width, height


def face_detector() -> cv2.CascadeClassifier:
    """The loaded cascade, or a one-line error when opencv's data file is missing."""
    detector = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / CASCADE))
    if detector.empty():
        raise RuntimeError(f"OpenCV's face detector {CASCADE} did not load from cv2.data")
    return detector


def grey(frame: np.ndarray) -> np.ndarray:
    """An RGB uint8 frame in grey levels."""
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def largest_face(detector: cv2.CascadeClassifier, frame: np.ndarray) -> Box | None:
    """The largest face the detector finds in an RGB frame, or None."""
    found = detector.detectMultiScale(grey(frame), scaleFactor=1.1, minNeighbors=5)
    if not len(found):
        return None
    x, y, w, h = max(found, key=lambda b: b[2] * b[3])
    return int(x), int(y), int(w), int(h)
