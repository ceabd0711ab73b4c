"""The original background, blurred: ``blur:RADIUS`` (a Gaussian sigma in pixels of the output).

The subject is cut out before blurring (a normalised convolution weighted by 1 - alpha), so its
colours do not smear into the background around it, a halo other tools show.

From one frame to the next the blurred background is *held* where it changed by no more than
``HOLD_LEVELS``: a still camera's blur otherwise shimmers with the sensor's noise and the exposure's
hunting (a phone's 1-2 %), which nobody wants to see, and which x264 then has to code in every
block of every frame. Held, those blocks are the same bytes as before and cost it next to nothing
(the speed benchmark's still clip: 9.2 -> 5.1 ms of x264 a 720p frame, the file 44 % smaller).
A real change (a passer-by, a change of light, a cut) moves the background at once, to within
``HOLD_LEVELS`` of the fresh blur, which a blur of this size does not show.
"""

from __future__ import annotations

import logging

import numpy as np

from core.compositing import fill_factor, fill_full_size, small_background_fill
from core.exceptions import BackgroundSpecError
from models.backgrounds.base import BackgroundSource

logger = logging.getLogger(__name__)

MAX_RADIUS = 200.0
#: how far (8-bit levels) the held blur may lag the fresh one before it follows
HOLD_LEVELS = 3


class BlurBackground(BackgroundSource):
    kind = "blur"
    needs_original = True

    def __init__(self, argument: str = "25") -> None:
        super().__init__(argument)
        try:
            self.radius = float(argument or 25)
        except ValueError:
            raise BackgroundSpecError(f"blur radius {argument!r} is not a number", "e.g. blur:25") from None
        if not 0 < self.radius <= MAX_RADIUS:
            raise BackgroundSpecError(f"blur radius {self.radius:g} is out of range", f"use 1..{MAX_RADIUS:g}")

        self._held: np.ndarray | None = None
        self._held_index = -1

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        fill = small_background_fill(original, alpha, self.radius)
        follows = index == self._held_index + 1 and self._held is not None and self._held.shape == fill.shape
        if follows and fill_factor(self.radius) > 1:  # a small blur keeps detail: not held
            fill = hold_within(self._held, fill, HOLD_LEVELS)
        self._held, self._held_index = fill, index
        return fill_full_size(fill, original.shape)


def hold_within(held: np.ndarray, fresh: np.ndarray, levels: int) -> np.ndarray:
    """``held`` moved only as far as it must to be within ``levels`` of ``fresh`` (uint8): the
    pixels that stay within it are ``held``'s own, unchanged."""
    fresh = fresh.astype(np.int16)
    return np.clip(held, fresh - levels, fresh + levels).astype(np.uint8)
