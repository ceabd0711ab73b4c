"""A solid colour: ``color:#RRGGBB``."""

from __future__ import annotations

import logging

import numpy as np

from core.compositing import parse_color, solid
from core.exceptions import BackgroundSpecError
from models.backgrounds.base import BackgroundSource, OutputGeometry, ProgressFn

logger = logging.getLogger(__name__)


class ColorBackground(BackgroundSource):
    kind = "color"

    def __init__(self, argument: str = "#00B140") -> None:
        super().__init__(argument)
        try:
            self.color = parse_color(argument or "#00B140")
        except ValueError as exc:
            raise BackgroundSpecError(str(exc), "write a colour as color:#RRGGBB, e.g. color:#1E90FF") from None

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:
        super().open(geometry)
        self._image = solid(self.color, geometry.width, geometry.height)

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return self._image
