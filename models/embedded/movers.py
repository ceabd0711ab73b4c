"""Background movers: what passes through a still camera's background, followed near the subject.

Why: a still camera's plate is the temporal median of frames spread over the clip, so something
moving in the background (a ball rolling by, a passer-by) differs from it wherever it is, just as
the subject does. Away from the subject that does no harm. Where it comes near the subject (behind
the hair), the plate evidence takes it in, the matte carries it to the next frame, and it stays
for the rest of the clip. So what differs from the median far from the subject is marked; the
marks are carried along the optical flow, and spread into neighbouring pixels that also differ
from the median (a smooth object's flow lags behind it), but never into what the matte carries as
subject. Where a mark is, the plate is not the background: the matter does not trust the plate's
evidence or the edge solve against it there, and such a pixel cannot newly join the subject.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.motion import FlowTracker

logger = logging.getLogger(__name__)

# Swept on bench.quality's still clips (30-80 levels, 1-3 px, 0-6): 60 / 2 / 4 gave the best
# IoU and dtSSD together; 30 held the passer-by of the 240-frame still clip better but cost dtSSD.
TOLERANCE = 60.0  # grey levels off the median (in any channel) that mark a pixel far from the subject
GROW = 2  # tracking-resolution px a mark may spread in one frame
PUSH = 4.0  # logit taken off a marked pixel that the matte does not carry as subject


class BackgroundMovers:
    """Marks of background things that move, for a still camera (``map``: uint8 0/1, tracking resolution)."""

    def __init__(self, median: np.ndarray) -> None:
        self.median = median.astype(np.float32)  # the plate as prepared: the still background
        self.map = np.zeros(median.shape[:2], np.uint8)
        self._grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * GROW + 1, 2 * GROW + 1))

    def weight(self, roi: tuple[slice, slice]) -> np.ndarray:
        """The marks of ``roi`` as float32 (1 = something passing in front of the plate)."""
        return self.map[roi].astype(np.float32)

    def update(self, small: np.ndarray, gain: float, flow: FlowTracker, field: np.ndarray,
               carried: np.ndarray, roi: tuple[slice, slice] | None) -> None:
        """Mark afresh outside ``roi`` (the box where the subject can be this frame, see
        ``EmbeddedMatter._roi``); inside it, carry last frame's marks along ``field`` (the backward
        flow) and let them spread onto pixels off the median that the matte does not carry."""
        d = cv2.split(cv2.absdiff(small, cv2.convertScaleAbs(self.median, alpha=gain)))
        marks = cv2.compare(cv2.max(cv2.max(d[0], d[1]), d[2]), TOLERANCE, cv2.CMP_GT)
        if roi is not None:
            off = marks[roi].copy()
            maps = flow.grid[roi] + field[roi]
            moved = cv2.remap(self.map * np.uint8(255), maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            kept = cv2.compare(moved, 76, cv2.CMP_GT)  # more than 0.3 of a mark
            grown = cv2.bitwise_and(cv2.dilate(kept, self._grow), off)
            grown = cv2.bitwise_and(grown, cv2.compare(carried[roi], 0.5, cv2.CMP_LT))  # never onto the subject
            marks[roi] = cv2.bitwise_or(kept, grown)
        self.map = cv2.bitwise_and(marks, 1)
