"""The original background, blurred: ``blur:RADIUS`` (a Gaussian sigma in pixels of the output).

The subject is cut out before blurring (a normalised convolution weighted by 1 - alpha), so its
colours do not smear into the background around it, a halo other tools show.
"""

from __future__ import annotations

import logging

import numpy as np

from core.compositing import background_fill
from core.exceptions import BackgroundSpecError
from models.backgrounds.base import BackgroundSource

logger = logging.getLogger(__name__)

MAX_RADIUS = 200.0


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

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return background_fill(original, alpha, self.radius)
