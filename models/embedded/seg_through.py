"""The background seen through a subject's gaps, found in a click's cut with a still camera's background.

Why: a person bending over, arms out, frames pieces of the background between arm, body and legs.
The candidate cut for a click is made at low resolution, takes such a gap in with the body around
it, and the refining cut keeps it: its colours are in the subject's colour model, learnt from the
very region that holds the gap (../shared/media/dog.mp4 frame 0: the gabion wall and ferns between
her forearm and jeans, 2,000 px, carried through the clip as a brown patch floating beside her).

With a still camera's background (``plate.still_background``) such a gap stands out: the frame
there is the background, although the subject around it moved. But a subject that stands still is
in the background as well (a juggler's legs), so stillness alone says nothing; what tells them
apart is colour. A gap shows the background that lies just outside the cut around it (the same
wall, the same ferns); a still part of the subject looks like the subject nearby and unlike the
ground around it. So each still part of the cut is weighed by two colour histograms, the cut's
moving subject near it against the background just outside the cut near it, and taken out only
when its colours are clearly the background's.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.colour import bin_index, histogram
from models.embedded.seg_motion import differences

logger = logging.getLogger(__name__)

STILL_SHARE = 0.3  # a pixel is still where fewer than this share of a 5 x 5 window differs
MIN_PART = 0.005  # a still part smaller than this share of the cut is left to the refining cut
RING = 0.05  # fraction of the short side: the surroundings a still part is compared with
MOST_PIXELS = 0.75  # a part is the background when this share of its pixels are likelier background ...
MEAN_POSTERIOR = 0.3  # ... and its pixels' mean probability of being the subject is below this
# On ../shared/media/dog.mp4 frame 0: the gap between her arm and jeans 0.83 / 0.26 (a click on her
# shirt), a piece of the dog's fur that lay still 0.69 / 0.43 (a click on the dog), her hip where she
# hardly moved 0.13 / 0.89; the juggler's legs (juggle.mp4 frame 0) 0.01 / 0.98.
MIN_SAMPLES = 30  # pixels each histogram needs at the background's size
CLICK_PX = 2  # a still part this close to a positive click (px at the background's size), or around
# it (``encloses``), is the subject


def seen_through(image: np.ndarray, background: np.ndarray, cut: np.ndarray, moving: np.ndarray,
                 clicks: list[tuple[float, float]]) -> np.ndarray | None:
    """Frame-sized bool mask of the parts of ``cut`` (bool, the frame's size) where the still
    background shows through the subject, or None. ``moving``: the moving thing under the clicks
    (frame-sized bool); ``clicks``: the positive clicks (frame pixels), whose parts are the subject
    whatever their colours. Worked at the background's size: the cost does not grow with the frame."""
    h, w = image.shape[:2]
    bh, bw = background.shape[:2]
    small, _, _, differs = differences(image, background)
    small = np.clip(small, 0, 255).astype(np.uint8)
    inside = cv2.resize(cut.view(np.uint8), (bw, bh), interpolation=cv2.INTER_NEAREST) > 0
    core = cv2.resize(moving.view(np.uint8), (bw, bh), interpolation=cv2.INTER_NEAREST)
    core = cv2.morphologyEx(core, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))) > 0
    still = cv2.blur(differs.astype(np.float32), (5, 5)) < STILL_SHARE
    parts = (inside & still & ~core).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(parts, connectivity=8)
    area = np.count_nonzero(inside)
    ring_px = max(2.0, RING * min(bh, bw))
    outside = cv2.distanceTransform((~inside).view(np.uint8), cv2.DIST_L2, 3) >= 1.5  # not the outline
    subject = inside & core
    bins = bin_index(small)
    found = np.zeros((bh, bw), bool)
    spots = [(min(bw - 1, int(x * bw / w)), min(bh - 1, int(y * bh / h))) for x, y in clicks]
    clicked: set[int] = set()  # the parts at or beside a click (it may land on a speck that differs)
    for cx, cy in spots:
        clicked.update(np.unique(labels[max(0, cy - CLICK_PX):cy + CLICK_PX + 1,
                                        max(0, cx - CLICK_PX):cx + CLICK_PX + 1]).tolist())
    for k in range(1, count):
        if k in clicked or stats[k, cv2.CC_STAT_AREA] < MIN_PART * area:
            continue
        part = labels == k
        near = cv2.distanceTransform((~part).view(np.uint8), cv2.DIST_L2, 3)
        ring, own = outside & (near <= ring_px), subject & (near <= 2 * ring_px)
        if np.count_nonzero(ring) < MIN_SAMPLES or np.count_nonzero(own) < MIN_SAMPLES:
            continue
        fg, bg = histogram(small, own).reshape(-1), histogram(small, ring).reshape(-1)
        b = bins[part]
        posterior = fg[b] / (fg[b] + bg[b])
        likelier_bg, mean = float(np.mean(posterior < 0.5)), float(posterior.mean())
        logger.debug("still part of %d px at %s: %.2f likelier background, mean %.2f", b.size,
                     tuple(int(v) for v in stats[k, :4]), likelier_bg, mean)
        if likelier_bg >= MOST_PIXELS and mean < MEAN_POSTERIOR and not encloses(part, spots):
            found |= part
    if not found.any():
        return None
    return cv2.resize(found.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def encloses(part: np.ndarray, spots: list[tuple[int, int]]) -> bool:
    """Whether the bool mask ``part`` holds one of the points ``spots`` (x, y) in a hole of its own:
    a click on a planted white shoe lands on its logo, which differs from the background, and the
    still part of the shoe is the ring around it."""
    ys, xs = np.nonzero(part)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    inner = [(x - x0, y - y0) for x, y in spots if x0 < x < x1 - 1 and y0 < y < y1 - 1]
    if not inner:
        return False
    # the box with a free border, filled from outside: what the fill does not reach is the part or its holes
    free = np.pad((~part[y0:y1, x0:x1]).view(np.uint8), 1, constant_values=1)
    cv2.floodFill(free, None, (0, 0), 2)
    return any(free[y + 1, x + 1] == 1 for x, y in inner)


def either(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """The union of two optional masks (None: no mask)."""
    return b if a is None else a if b is None else a | b


def outside_of(mask: np.ndarray, background: np.ndarray | None) -> np.ndarray | None:
    """``background`` less ``mask``, or None when nothing is left (a result keeps no empty mask)."""
    if background is None:
        return None
    left = background & ~mask
    return left if left.any() else None


def kept_out_of(background: np.ndarray | None, clicks: list[tuple[float, float]]) -> np.ndarray | None:
    """What a previous click found to be background (``SegmentResult.background``), kept out at the
    next click but for the parts of it a positive click lands on: the person says it is the subject."""
    if background is None:
        return None
    kept = background.copy()
    for x, y in clicks:
        if kept[int(y), int(x)]:
            cv2.floodFill(kept.view(np.uint8), None, (int(x), int(y)), 0)
    return kept if kept.any() else None
