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
from dataclasses import dataclass

import cv2
import numpy as np

from core.compositing import shrink
from models.embedded.exposure import exposure_ratio
from models.embedded.motion import nearest_body
from models.embedded.palette import NEAR, palette_distance, subject_palette
from models.embedded.plate import SHADOW_EVEN, channel_max
from models.embedded.seg_cut import FLOOD_TOLERANCE, flood_region, grown, reaches_limit

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
FAINT_STANDS_OUT, FAINT_MAX = 50.0, 0.3  # a fainter moving part beside the cut (grey levels; its size
FAINT_MOVING = 0.72  # against the cut's) is taken with its colour's region where this much of it moved,
FAINT_LEAST = 0.01  # that region is at least this fraction of the cut, ends within FAINT_MARGIN (of the
FAINT_MARGIN, FAINT_GROWTH = 0.02, 1.25  # frame's short side) of the part and is at most this x the part,
FAINT_BULK = 0.5  # ... and this much of it is more than 2 px from its outline (a solid part, not strands)


def differences(image: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The frame at the background's size (float32), the background at this frame's exposure, how
    far apart they are (grey levels, the most in any channel) and where they differ (uint8 0/1,
    specks opened away)."""
    bh, bw = background.shape[:2]
    small = shrink(image, (bw, bh)).astype(np.float32)
    seen = background * np.float32(exposure_gain(small, background))
    apart = channel_max(cv2.absdiff(small, seen))
    differs = cv2.morphologyEx((apart > DIFF_LEVELS).view(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return small, seen, apart, differs


def exposure_gain(frame: np.ndarray, background: np.ndarray) -> float:
    """How much brighter ``frame`` is than ``background`` (same size): the median of their pixels'
    brightness ratios, which the background that shows in most of the frame decides. Not the ratio
    of their means: a white shirt before a dark hedge raised that to 1.31 with no change of light,
    and the whole brown wall behind him then differed from the background by 32 levels and was
    taken for part of the moving thing under a click."""
    gain = exposure_ratio(frame, background, limits=(0.5, 2.0), least=1)
    return 1.0 if gain is None else gain


def moving_region(image: np.ndarray, background: np.ndarray, points: list[tuple[float, float]],
                  any_click: bool = False) -> np.ndarray | None:
    """Frame-sized bool mask of the moving parts under the clicks ``points`` (frame pixels), or
    None when a click is on nothing that moves (``any_click``: when none is), or the parts are
    specks or most of the frame."""
    h, w = image.shape[:2]
    bh, bw = background.shape[:2]
    differs = differences(image, background)[3]
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
            if any_click:
                continue
            return None
        region |= body
    area = int(np.count_nonzero(region))
    if not MIN_AREA * bh * bw <= area <= MAX_AREA * bh * bw:
        return None
    region = fill_holes(region, HOLE_FILL * area)
    logger.debug("moving region under the clicks: %d px of %d at %dx%d", area, bh * bw, bw, bh)
    return cv2.resize(region.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def attached_parts(image: np.ndarray, background: np.ndarray, cut: np.ndarray, stands_out: float = STANDS_OUT,
                   most: float = ATTACHED_MAX) -> np.ndarray | None:
    """Frame-sized bool mask of the moving parts just outside ``cut`` (a frame-sized bool mask: the
    candidate cut for a click) that belong to the subject, or None when there are none: the
    ``AttachedCandidates`` beside the cut, picked with these thresholds."""
    return AttachedCandidates.beside(image, background, cut).pick(stands_out, most)


@dataclass
class AttachedCandidates:
    """What moved just outside a click's cut, worked out once and picked from with a threshold each
    (``attached_parts`` and the fainter parts of ``moved_regions`` ask the same analysis, each with its
    own thresholds).

    Why: the cut judges by colour, and a part of the subject in a colour of the background is left
    out: white shoes on a lawn with sunlit patches (../shared/media/juggle.mp4: the person without
    his shoes from a click on his shirt). With a still camera such a part differs from the
    background and touches the cut. Not taken: what is bigger beside the cut than ``most`` of it
    (another body), where the background shows the subject's own colours (a "ghost": the median
    shows the subject where it lingered, so the ground it left there differs now), where the frame
    is the background darkened evenly in all channels (the subject's shadow), and a part that
    differs less than ``stands_out`` on average (partly the background: hair against the sky, a
    blurred edge; the matting finds its share).
    """

    labels: np.ndarray | None  # the candidate parts at the background's size (None: there are none)
    touching: np.ndarray  # labels of the parts that touch the cut
    sizes: np.ndarray  # pixels of each label
    contrast: np.ndarray  # each label's share of pixels that stand apart from the background
    area: int  # the cut's pixels at the background's size
    frame_size: tuple[int, int]  # (w, h) of the frame the masks are given at

    @classmethod
    def beside(cls, image: np.ndarray, background: np.ndarray, cut: np.ndarray) -> AttachedCandidates:
        h, w = image.shape[:2]
        bh, bw = background.shape[:2]
        small, seen, apart, differs = differences(image, background)
        inside = cv2.resize(cut.view(np.uint8), (bw, bh), interpolation=cv2.INTER_NEAREST)
        area = int(np.count_nonzero(inside))
        candidates = differs & (1 - inside)
        palette = subject_palette(small, inside > 0)
        none = np.zeros(0, np.int64)
        if palette is None or not candidates.any():
            return cls(None, none, none, np.zeros(0, np.float32), area, (w, h))
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
        return cls(labels, touching, sizes, contrast, area, (w, h))

    def pick(self, stands_out: float = STANDS_OUT, most: float = ATTACHED_MAX) -> np.ndarray | None:
        """Frame-sized bool mask of the parts touching the cut, no bigger than ``most`` of it, at
        least ``ATTACHED_MIN`` of it and standing out by ``stands_out``; None when there are none."""
        if self.labels is None:
            return None
        t = self.touching
        keep = t[(t > 0) & (self.sizes[t] <= most * self.area) & (self.sizes[t] >= ATTACHED_MIN * self.area)
                 & (self.contrast[t] >= stands_out)]
        if not keep.size:
            return None
        parts = np.isin(self.labels, keep)
        logger.debug("attached moving parts: %d of %d px beside a cut of %d", np.count_nonzero(parts),
                     len(self.sizes), self.area)
        return cv2.resize(parts.view(np.uint8), self.frame_size, interpolation=cv2.INTER_NEAREST) > 0


def moved_regions(image: np.ndarray, beside: AttachedCandidates, cut: np.ndarray) -> np.ndarray | None:
    """Frame-sized bool mask of what a further click on each fainter moving part beside ``cut``
    would add (the plainly same-coloured region around it), where that region is the part that
    moved; None when there is none.

    Why: a part of the subject in the background's colours that moves, but less unlike the
    background than ``attached_parts`` asks (dark hair before dark foliage, a forearm before a
    tree's shadow: 64-84 grey levels against 100), was left out by the cut, and the person had to
    click on it: the woman's head was missing after a click on her shirt (../shared/media/dog.mp4,
    the studio's own example). Such a part differs from the background in specks where its colour
    meets the background's, so the region of its colour is taken instead, but only where that
    region is the part: ending within FAINT_MARGIN of it, no more than FAINT_GROWTH times it,
    FAINT_MOVING of it moved, and solid (``bulk``): between strands of hair, a pocket of the
    background's colour is tinted by the strands and differs as much, but it is all outline.
    """
    faint = beside.pick(FAINT_STANDS_OUT, FAINT_MAX)
    if faint is None:
        return None
    moving = cv2.dilate(faint.view(np.uint8), np.ones((3, 3), np.uint8)) > 0  # pixel gaps closed
    least = FAINT_LEAST * np.count_nonzero(cut)
    margin = round(FAINT_MARGIN * min(cut.shape))
    count, labels = cv2.connectedComponents(faint.view(np.uint8), connectivity=8)
    added = np.zeros_like(cut)
    for k in range(1, count):
        part = (labels == k).view(np.uint8)
        if np.count_nonzero(part) * FAINT_GROWTH < least:  # its region could not be big enough
            continue
        around = grown(part.view(bool), margin)
        inner = cv2.distanceTransform(part, cv2.DIST_L2, 3)
        y, x = np.unravel_index(int(np.argmax(inner)), inner.shape)  # its innermost pixel: the click
        region = flood_region(image, (int(x), int(y)), around & ~cut, FLOOD_TOLERANCE)
        area = np.count_nonzero(region)
        if least <= area <= FAINT_GROWTH * np.count_nonzero(part) and not reaches_limit(region, around) \
                and np.count_nonzero(region & moving) >= FAINT_MOVING * area and bulk(region) >= FAINT_BULK:
            added |= region
    return added if added.any() else None


def bulk(region: np.ndarray) -> float:
    """The share of ``region`` (bool) more than 2 px inside its outline: a head or a forearm 0.70-0.83,
    the pockets of background between strands of hair 0.02-0.24 (bench.synthetic's clips)."""
    area = np.count_nonzero(region)
    inside = cv2.erode(region.view(np.uint8), np.ones((5, 5), np.uint8))
    return np.count_nonzero(inside) / area if area else 0.0


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
