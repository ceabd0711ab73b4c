"""A background video, looped to the clip's length and scaled to cover: ``video:PATH``.

Streamed like the input: one decoded frame at a time, reopened at its end to loop. Frames are
taken by output frame index, so the background plays at its own pace only as far as both clips
share a frame rate (the common case); a slower or faster background is not retimed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.compositing import fit_cover
from core.exceptions import BackgroundUnreadableError, StudioError
from models.backgrounds.base import BackgroundSource, OutputGeometry, ProgressFn

logger = logging.getLogger(__name__)


class VideoBackground(BackgroundSource):
    kind = "video"

    def __init__(self, argument: str = "") -> None:
        super().__init__(argument)
        self.path = Path(argument).expanduser()
        self._frames: Iterator | None = None
        self._reader = None

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:
        super().open(geometry)
        from core.video_io import probe

        try:
            self._info = probe(self.path)
        except StudioError as exc:
            raise BackgroundUnreadableError(f"background video {self.path.name!r}: {exc.message}") from None
        self._restart()

    def _restart(self) -> None:
        from core.video_reader import VideoReader

        self.close()
        self._reader = VideoReader(self.path, self._info)
        self._frames = self._reader.frames()

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        try:
            item = next(self._frames)
        except StopIteration:
            self._restart()
            item = next(self._frames)
        return fit_cover(item.rgb, self.geometry.width, self.geometry.height,
                         pixel_aspect=self.geometry.pixel_aspect / float(self._info.sample_aspect))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
