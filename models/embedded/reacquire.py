"""Finding a lost subject again, with a still camera: the dog that ran out of the frame comes back.

Why: the matter carries the subject from frame to frame along the optical flow. Once next to
nothing is carried any more (../shared/media/dog.mp4: the dog runs out of the frame at frame 75 and
comes back at frame 110), nothing can be carried back, and the matte stayed empty for the rest of
the clip, 74 % of it. With a still camera the plate is the scene without the subject, so what comes in stands out
from it. What stands out is taken for the subject again when it is about the subject's size at the
prompt frame, is made mostly of the subject's own colours (its palette, and the colour models'
subject side), is not another body followed since the prompt frame (a person beside the subject),
and is seen so in two frames running (one frame of noise or a passing look-alike is not enough).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.colour import ColourModel
from models.embedded.full_edges import disc
from models.embedded.palette import NEAR, palette_distance
from models.embedded.plate import BackgroundPlate

logger = logging.getLogger(__name__)

SIZE = (0.3, 3.0)  # x the subject's area at the prompt frame: a candidate's area within these
MIN_SHARE = 0.7  # a candidate is the subject when this share of its pixels is of its palette (palette.NEAR)
MIN_POSTERIOR = 0.5  # ... and the colour models hold it for the subject on average
SAME_PLACE = 0.2  # overlap (of the smaller) with the last frame's candidate: seen two frames running


class LostSubject:
    """Looks for the subject while next to nothing is carried (``look``), one frame at a time."""

    def __init__(self, area: float) -> None:
        self.area = area  # tracking px of the subject at the prompt frame
        self._last: np.ndarray | None = None  # the candidate of the frame before

    def look(self, small: np.ndarray, plate: BackgroundPlate, palette: np.ndarray, colours: ColourModel,
             others: np.ndarray | None) -> np.ndarray | None:
        """The subject found again in ``small`` (bool mask, tracking resolution), or None."""
        found = self._candidate(small, plate, palette, colours, others)
        last, self._last = self._last, found
        if found is None or last is None:
            return None
        shared = np.count_nonzero(found & last)
        if shared < SAME_PLACE * min(np.count_nonzero(found), np.count_nonzero(last)):
            return None
        self._last = None
        logger.debug("lost subject found again: %d px", int(found.sum()))
        return found

    def forget(self) -> None:
        """The subject is carried again: a later loss starts looking afresh."""
        self._last = None

    def _candidate(self, small: np.ndarray, plate: BackgroundPlate, palette: np.ndarray, colours: ColourModel,
                   others: np.ndarray | None) -> np.ndarray | None:
        out = cv2.compare(plate.stands_out(small), 0.5, cv2.CMP_GT)
        out = cv2.bitwise_and(out, cv2.compare(plate.valid, 0.5, cv2.CMP_GT))
        if others is not None:
            out[others > 0] = 0
        out = cv2.morphologyEx(cv2.morphologyEx(out, cv2.MORPH_OPEN, disc(2)), cv2.MORPH_CLOSE, disc(2))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(out, connectivity=8)
        area = stats[:, cv2.CC_STAT_AREA]
        sized = [k for k in range(1, n) if SIZE[0] * self.area <= area[k] <= SIZE[1] * self.area]
        if not sized:
            return None
        posterior = colours.posterior(small)
        best, best_share = None, MIN_SHARE
        for k in sized:
            blob = labels == k
            share = float(np.mean(palette_distance(small[blob], palette) < NEAR))
            if share >= best_share and float(posterior[blob].mean()) >= MIN_POSTERIOR:
                best, best_share = blob, share
        return best
