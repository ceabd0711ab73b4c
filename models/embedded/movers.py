"""Background movers: what passes through a still camera's background, followed near the subject.

Why: a still camera's plate is the temporal median of frames spread over the clip, so something
moving in the background (a ball rolling by, a passer-by) differs from it wherever it is, just as
the subject does. Away from the subject that does no harm. Where it comes near the subject (behind
the hair), the plate evidence takes it in, the matte carries it to the next frame, and it stays
for the rest of the clip. So what differs from the median far from the subject is marked; the
marks are carried along the optical flow and spread onto neighbouring pixels that also differ
from the median (a smooth object's flow lags behind it), never onto what the matte carries as
subject, and they end where the median shows again. Where a mark is, the plate is not the
background: the matter does not trust the plate's evidence or the edge solve against it there,
and such a pixel cannot newly join the subject.

Marks start only *far* from the subject (FAR band widths, about a third of the frame): on a real
clip (a man juggling, clicked on his trousers) marks that started two to five band widths away
took his kicking legs and upper body for passers-by, and the matte lost them.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.marks import FlowMarks
from models.embedded.motion import FlowTracker

logger = logging.getLogger(__name__)

# Swept on bench.quality's still clips (30-80 levels, 1-3 px, 0-6): 60 / 2 / 4 gave the best IoU and
# dtSSD together; FAR from 2 to 8 (checked on ../shared/media/juggle.mp4 as well: 8 leaves it as it was).
TOLERANCE = 60.0  # grey levels off the median (in any channel) that mark a pixel far from the subject
FAR = 8.0  # x band_px (about a third of the frame): marks start only this far from the subject
PUSH = 4.0  # logit taken off a marked pixel that the matte does not carry as subject


class BackgroundMovers(FlowMarks):
    """Marks of background things that move, for a still camera (``map``: uint8 0/1, tracking resolution)."""

    def __init__(self, median: np.ndarray) -> None:
        super().__init__(median, TOLERANCE)  # the plate as prepared: the still background

    def update(self, small: np.ndarray, gain: float, flow: FlowTracker, field: np.ndarray,
               carried: np.ndarray, band_px: int) -> None:
        """Carry last frame's marks along ``field`` (the backward flow), spread them onto pixels off
        the median that the matte does not carry as subject, and mark afresh what is off the median
        more than FAR x ``band_px`` from the carried matte."""
        off = self.off(small, gain)
        marks = self.carried(off, flow, field, carried)
        # far from the subject, marked afresh (a distance this long is found on a quarter-size grid)
        h, w = carried.shape
        clear = cv2.compare(np.ascontiguousarray(carried[::4, ::4]), 0.05, cv2.CMP_LE)
        far = cv2.compare(cv2.distanceTransform(clear, cv2.DIST_L2, 3), FAR * band_px / 4, cv2.CMP_GT)
        cv2.copyTo(off, cv2.resize(far, (w, h), interpolation=cv2.INTER_NEAREST), marks)
        self.map = cv2.bitwise_and(marks, 1)
