"""The background role: gives the background frame for frame i at the output size.

A ``--background`` spec (``kind:argument``) names one class in ``models/backgrounds/__init__.py``'s
registry. ``open`` does the slow part once (read a file, generate an image); ``frame`` is called
for every output frame and must be cheap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.exceptions import BackgroundUnreadableError, StudioError


@dataclass(frozen=True)
class OutputGeometry:
    """What a background must fill: the output size, length and rate.

    ``pixel_aspect`` is the output's sample aspect ratio (the width a stored pixel is shown at:
    64/45 for widescreen PAL, 4/3 for HDV): a background is fitted to the size the viewer sees,
    ``display_width`` x ``height``, and then squeezed into the stored width, so that it is not
    shown stretched."""

    width: int
    height: int
    frame_count: int
    fps: float
    pixel_aspect: float = 1.0

    @property
    def display_width(self) -> int:
        return max(1, round(self.width * self.pixel_aspect))

    def stored(self, image: np.ndarray, width: int | None = None) -> np.ndarray:
        """``image`` drawn as wide as it is shown, squeezed to the stored ``width`` (the output's
        unless given: a canvas with a margin); itself when pixels are square."""
        if self.pixel_aspect == 1.0:
            return image
        return cv2.resize(image, (width or self.width, image.shape[0]), interpolation=cv2.INTER_AREA)


ProgressFn = Callable[[float, str], None]


class BackgroundSource(ABC):
    """One kind of background. ``argument`` is the text after ``kind:`` in the spec."""

    kind: str = "background"
    #: True when ``frame`` needs the original frame and alpha (e.g. blur of the original).
    needs_original: bool = False

    def __init__(self, argument: str = "") -> None:
        self.argument = argument
        self.seed: int | None = None  # set by make_background from the job (generated backgrounds)
        self.notice: str | None = None  # what ran and why, for the report (e.g. a fallback)

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:  # noqa: B027
        """Prepare for ``geometry``: read files, generate, scale to cover. Called once per job."""
        self.geometry = geometry

    def unreadable(self, exc: StudioError) -> BackgroundUnreadableError:
        """The error of a background file (``image:`` / ``video:``) that ``exc`` says cannot be used.

        Why its own hint where it has one: "use a PNG/JPEG/WebP image" says nothing to a person who
        gave a URL (fetch it first) or a folder; and the argument as typed is named, not the path
        made of it, which reads a URL's "//" as one "/"."""
        from core.exceptions import InputPathError

        if isinstance(exc, InputPathError):  # its message names the argument already
            return BackgroundUnreadableError(f"background {self.kind}: {exc.message}", exc.hint)
        name = Path(self.argument).name  # not the folder: a studio's upload lies in a server's temporary one
        return BackgroundUnreadableError(f"background {self.kind} {name!r}: {exc.message}")

    @abstractmethod
    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """RGB uint8 (H, W, 3) background for output frame ``index``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release decoders and buffers."""
