"""The clicked thing as what differs from a still camera's background (background subtraction).

Why: colours alone cannot tell a white dog from a pale pavement, and the candidate cuts then pick
the one part that does stand out (a brown patch of its fur). In a clip shot with a still camera,
the temporal median of frames spread over it is the scene without whatever moves; what differs
from it on the prompt frame, cut into connected parts, gives the whole moving thing under a click,
whatever its colours. A subject that hardly moves is in the median itself: it differs nowhere,
and the candidate cuts decide as before (models/embedded_segmenter.py weighs the two).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from core.compositing import shrink
from models.embedded.motion import nearest_body
from models.embedded.plate import channel_max

logger = logging.getLogger(__name__)

DIFF_LEVELS = 30.0  # a pixel this far (grey levels, any channel) from the background differs
SNAP = 0.02  # a click this close (fraction of the short side) to a moving part lands on it
MIN_AREA, MAX_AREA = 0.0005, 0.6  # fractions of the frame a moving part may cover to be a subject
HOLE_FILL = 0.25  # holes smaller than this fraction of the part are filled (fur like the pavement)
BODY = 5  # px at the background's size: thinner parts are limbs or bridges between two things


def moving_region(image: np.ndarray, background: np.ndarray, points: list[tuple[float, float]]) -> np.ndarray | None:
    """Frame-sized bool mask of the moving parts under the clicks ``points`` (frame pixels), or
    None when a click is on nothing that moves, or the parts are specks or most of the frame."""
    h, w = image.shape[:2]
    bh, bw = background.shape[:2]
    small = shrink(image, (bw, bh)).astype(np.float32)
    gain = float(small.mean()) / max(float(background.mean()), 1e-3)  # the exposure of this frame
    differs = (channel_max(cv2.absdiff(small, background * np.float32(gain))) > DIFF_LEVELS).view(np.uint8)
    differs = cv2.morphologyEx(differs, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    differs = cv2.morphologyEx(differs, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    _, labels = cv2.connectedComponents(differs, connectivity=8)
    owner, _ = nearest_body(differs, BODY)
    r = max(1, round(SNAP * min(bh, bw)))

    def under(x: float, y: float) -> np.ndarray | None:
        """The moving body under (or next to) a click, or None."""
        sx, sy = min(bw - 1, int(x * bw / w)), min(bh - 1, int(y * bh / h))
        window = (slice(max(0, sy - r), sy + r + 1), slice(max(0, sx - r), sx + r + 1))
        hit = labels[window] > 0
        if not hit.any():
            return None
        part = int(np.bincount(labels[window][hit]).argmax())
        body = int(np.bincount(owner[window][hit & (labels[window] == part)]).argmax())
        return (labels == part) & (owner == body)

    region = np.zeros((bh, bw), bool)
    for x, y in points:
        body = under(x, y)
        if body is None:
            return None
        region |= body
    area = int(np.count_nonzero(region))
    if not MIN_AREA * bh * bw <= area <= MAX_AREA * bh * bw:
        return None
    region = fill_holes(region, HOLE_FILL * area)
    logger.debug("moving region under the clicks: %d px of %d at %dx%d", area, bh * bw, bw, bh)
    return cv2.resize(region.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def fill_holes(mask: np.ndarray, max_area: float) -> np.ndarray:
    """``mask`` (bool) with its enclosed holes smaller than ``max_area`` pixels filled."""
    holes = (~mask).view(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    h, w = mask.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    enclosed = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)  # not reaching the frame's edge
    fill = enclosed & (area < max_area)
    fill[0] = False  # label 0: the mask itself
    return mask | fill[labels]
