"""A background video, looped to the clip's length and scaled to cover: ``video:PATH``.

Streamed like the input: one decoded frame at a time, reopened at its end to loop. Each output
frame shows the background frame of its own time, so the background plays at its own pace
whatever the two rates: a 24 fps background under a 60 fps clip has each of its frames shown two
or three times (fitted once), a 60 fps one under 24 fps skips the frames between.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.compositing import fit_cover
from core.exceptions import StudioError
from models.backgrounds.base import BackgroundSource, OutputGeometry, ProgressFn

logger = logging.getLogger(__name__)


class VideoBackground(BackgroundSource):
    kind = "video"

    def __init__(self, argument: str = "") -> None:
        super().__init__(argument)
        self.path = Path(argument).expanduser()
        self._frames: Iterator | None = None
        self._reader = None
        self._shown: tuple[int, np.ndarray] | None = None  # (background index, fitted picture)
        self._decoded = -1  # the background frame the reader gave last

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:
        super().open(geometry)
        from core.video_io import probe

        try:
            self._info = probe(self.argument)
        except StudioError as exc:
            raise self.unreadable(exc) from None
        self._restart()

    def _restart(self) -> None:
        from core.video_reader import VideoReader

        self.close()
        self._reader = VideoReader(self.path, self._info)
        self._frames = self._reader.frames()
        self._decoded = -1

    def _index_at(self, index: int) -> int:
        """The background frame shown at output frame ``index``'s time, looped."""
        seconds, length = index / max(self.geometry.fps, 1e-6), max(self._info.duration_s, 1e-6)
        seconds -= length * math.floor(seconds / length + 1e-9)  # a float % would put 1.2 s of 0.4 at its end
        return self._info.frame_at(seconds)

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        wanted = self._index_at(index)
        if self._shown is not None and self._shown[0] == wanted:
            return self._shown[1]
        if wanted <= self._decoded:  # looped round
            self._restart()
        item = None
        while self._decoded < wanted:
            item = next(self._frames)
            self._decoded = item.index
        picture = fit_cover(item.rgb, self.geometry.width, self.geometry.height,
                            pixel_aspect=self.geometry.pixel_aspect / float(self._info.sample_aspect))
        picture.flags.writeable = False  # shown on several output frames: nobody may draw on it
        self._shown = (wanted, picture)
        return picture

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
