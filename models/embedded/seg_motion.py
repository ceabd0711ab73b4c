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
from models.embedded.palette import NEAR, palette_distance, subject_palette
from models.embedded.plate import SHADOW_EVEN, channel_max

logger = logging.getLogger(__name__)

DIFF_LEVELS = 30.0  # a pixel this far (grey levels, any channel) from the background differs
SNAP = 0.02  # a click this close (fraction of the short side) to a moving part lands on it
MIN_AREA, MAX_AREA = 0.0005, 0.6  # fractions of the frame a moving part may cover to be a subject
HOLE_FILL = 0.25  # holes smaller than this fraction of the part are filled (fur like the pavement)
BODY = 5  # px at the background's size: thinner parts are limbs or bridges between two things
ATTACHED_MAX, ATTACHED_MIN = 0.15, 0.002  # a moving part beside the cut, as a fraction of the cut, to be its own
SHADOW_RATIO = 0.9  # a pixel at most this bright against the background in every channel, and
# darkened evenly across them (plate.SHADOW_EVEN, the matter's shadow test's), is a shadow
STANDS_OUT = 100.0  # grey levels (any channel) a part differs from the background by, on average, to be added
GHOST_SIDE = 31  # px at the background's size: the surroundings a "ghost" in the background stands out from


def _differs(image: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The frame at the background's size (float32), the background at this frame's exposure, how
    far apart they are (grey levels, the most in any channel) and where they differ (uint8 0/1,
    specks opened away)."""
    bh, bw = background.shape[:2]
    small = shrink(image, (bw, bh)).astype(np.float32)
    seen = background * np.float32(float(small.mean()) / max(float(background.mean()), 1e-3))
    apart = channel_max(cv2.absdiff(small, seen))
    differs = cv2.morphologyEx((apart > DIFF_LEVELS).view(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return small, seen, apart, differs


def moving_region(image: np.ndarray, background: np.ndarray, points: list[tuple[float, float]]) -> np.ndarray | None:
    """Frame-sized bool mask of the moving parts under the clicks ``points`` (frame pixels), or
    None when a click is on nothing that moves, or the parts are specks or most of the frame."""
    h, w = image.shape[:2]
    bh, bw = background.shape[:2]
    differs = _differs(image, background)[3]
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


def attached_parts(image: np.ndarray, background: np.ndarray, cut: np.ndarray) -> np.ndarray | None:
    """Frame-sized bool mask of the moving parts just outside ``cut`` (a frame-sized bool mask: the
    candidate cut for a click) that belong to the subject, or None when there are none.

    Why: the cut judges by colour, and a part of the subject in a colour of the background is left
    out: white shoes on a lawn with sunlit patches (../shared/media/juggle.mp4: the person without
    his shoes from a click on his shirt). With a still camera such a part differs from the
    background and touches the cut. Not taken: what is big beside the cut (ATTACHED_MAX: another
    body), where the background shows the subject's own colours (a "ghost": the median shows the
    subject where it lingered, so the ground it left there differs now), where the frame is the
    background darkened evenly in all channels (the subject's shadow), and a part that differs less
    than STANDS_OUT on average (partly the background: hair against the sky, a blurred edge; the
    matting finds its share).
    """
    h, w = image.shape[:2]
    bh, bw = background.shape[:2]
    small, seen, apart, differs = _differs(image, background)
    inside = cv2.resize(cut.view(np.uint8), (bw, bh), interpolation=cv2.INTER_NEAREST)
    area = int(np.count_nonzero(inside))
    candidates = differs & (1 - inside)
    palette = subject_palette(small, inside > 0)
    if palette is None or not candidates.any():
        return None
    around = cv2.blur(seen, (GHOST_SIDE, GHOST_SIDE))  # the background hereabouts
    idx = np.flatnonzero(candidates)
    now, there, near = (a.reshape(-1, 3)[idx] for a in (small, seen, around))
    odd = np.abs(there - near).max(axis=1)  # how unlike its surroundings the background is here
    # a ghost: the background here shows the subject's colours, or something unlike its
    # surroundings that the frame now is not (where the subject's shoes stood most of the time)
    ghost = (palette_distance(there, palette) < NEAR) | ((odd > DIFF_LEVELS) & (np.abs(now - near).max(axis=1) < odd))
    ratio = now / np.maximum(there, 1.0)
    shadow = (ratio.max(axis=1) < SHADOW_RATIO) & (ratio.max(axis=1) - ratio.min(axis=1) < SHADOW_EVEN)
    candidates.reshape(-1)[idx[ghost | shadow]] = 0
    candidates = cv2.morphologyEx(candidates, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
    touching = np.unique(labels[(cv2.dilate(inside, np.ones((3, 3), np.uint8)) > 0) & (candidates > 0)])
    sizes = stats[:, cv2.CC_STAT_AREA]
    contrast = np.zeros(n, np.float32)
    counted = np.bincount(labels.reshape(-1), apart.reshape(-1), minlength=n)
    contrast[1:] = counted[1:] / np.maximum(sizes[1:], 1)
    keep = touching[(touching > 0) & (sizes[touching] <= ATTACHED_MAX * area) & (sizes[touching] >= ATTACHED_MIN * area)
                    & (contrast[touching] >= STANDS_OUT)]
    if not keep.size:
        return None
    parts = np.isin(labels, keep)
    logger.debug("attached moving parts: %d of %d px beside a cut of %d", np.count_nonzero(parts), n, area)
    return cv2.resize(parts.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


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
