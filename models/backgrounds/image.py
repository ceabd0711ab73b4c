"""A still image, scaled to cover the frame (never stretched): ``image:PATH``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.compositing import fit_cover
from core.exceptions import NotMediaError, StudioError
from models.backgrounds.base import BackgroundSource, OutputGeometry, ProgressFn

logger = logging.getLogger(__name__)


class ImageBackground(BackgroundSource):
    kind = "image"

    def __init__(self, argument: str = "") -> None:
        super().__init__(argument)
        self.path = Path(argument).expanduser()

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:
        super().open(geometry)
        from core.image_io import is_image_path, read_image

        try:
            image = read_image(self.argument)
        except StudioError as exc:
            error = self.unreadable(exc)
            if not is_image_path(self.argument) and isinstance(exc, NotMediaError):
                error.hint = "that is a clip, not a picture: give it as a video background (video:PATH)"
            raise error from None
        self._image = fit_cover(image, geometry.width, geometry.height, pixel_aspect=geometry.pixel_aspect)

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return self._image
