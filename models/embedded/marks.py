"""Marks that follow things off a still camera's median through the clip (shared by the background
movers and the other bodies beside the subject: models/embedded/movers.py, others.py).

Why one mechanism: both mark something that is not the background and not the subject, and must
keep marking it while it moves. The marks are carried along the optical flow, spread onto
neighbouring pixels that are also off the median (a smooth object's flow lags behind it), never
onto what the matte carries as subject, and end where the median shows again.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.embedded.motion import FlowTracker
from models.embedded.plate import channel_max

GROW = 2  # tracking-resolution px a mark may spread in one frame


def off_image(small: np.ndarray, reference: np.ndarray, gain: float, tolerance: float) -> np.ndarray:
    """Pixels of ``small`` (uint8 255) more than ``tolerance`` off ``reference`` (float32 RGB, a median
    or a plate) in any channel, the reference seen with the frame's exposure ``gain``."""
    diff = channel_max(cv2.absdiff(small, cv2.convertScaleAbs(reference, alpha=gain)))
    return cv2.compare(diff, tolerance, cv2.CMP_GT)


class FlowMarks:
    """Marks (``map``: uint8 0/1, tracking resolution) of things off the median by more than ``tolerance``."""

    def __init__(self, median: np.ndarray, tolerance: float) -> None:
        self.median = median.astype(np.float32)  # a copy: the plate changes its own
        self.tolerance = tolerance
        self.map = np.zeros(median.shape[:2], np.uint8)
        self._grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * GROW + 1, 2 * GROW + 1))

    def off(self, small: np.ndarray, gain: float) -> np.ndarray:
        """Pixels of ``small`` (uint8 255) off the median, seen with the frame's exposure ``gain``."""
        return off_image(small, self.median, gain, self.tolerance)

    def weight(self, roi: tuple[slice, slice]) -> np.ndarray:
        """The marks of ``roi`` as float32 (1 = marked)."""
        return self.map[roi].astype(np.float32)

    def carried(self, off: np.ndarray, flow: FlowTracker, field: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """Last frame's marks moved along ``field`` (the backward flow) onto this frame, spread onto
        pixels ``off`` the median, never onto what the matte carries as subject (uint8 255)."""
        moved = flow.warp(self.map * np.uint8(255), field)
        kept = cv2.compare(moved, 76, cv2.CMP_GT)  # more than 0.3 of a mark
        marks = cv2.bitwise_and(cv2.dilate(kept, self._grow), off)
        return cv2.bitwise_and(marks, cv2.compare(carried, 0.5, cv2.CMP_LT))
