"""Frames of the clip that a matter looks at before it starts, decoded by a reader of their own.

Why a reader of their own: a still camera's clean plate is the temporal median of frames spread
over the whole clip, and on a clip with few keyframes that means decoding most of its reference
frames (about 0.5 s for 8 s of 720p on two cores) before the first frame can be matted. With its
own reader that decode can run beside the rest of a job's start (segmenting the clicks, the
forward pass's decoder filling its queue) instead of before it: ``core.pipelining.Background``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ClipSamples:
    """The ``SampleSource`` of a job (models.base): frames decoded on the matter's request, once.

    Safe to share between threads (the forward and the backward matter may ask at the same time):
    one lock around the reader, and what was decoded is kept for the next asker.
    """

    PAIR_GAP = 6  # frames between the two first looks: enough for a pan to show

    MAX_MB = 256  # the spread samples of a big frame size are fewer: 16 of 720p, 10 of 4K

    def __init__(self, path: Path | str, info, prompt_frame: int, stop: int, n: int | None = None) -> None:
        self._path, self._info = path, info
        if n is None:
            frame_mb = info.width * info.height * 3 / 2**20
            n = int(min(16, max(4, self.MAX_MB // max(frame_mb, 1e-3))))
        self._p, self._stop, self._n = prompt_frame, stop, n
        self._reader = None
        self._lock = threading.Lock()
        self._closed = False
        self._pair: tuple[np.ndarray, np.ndarray] | None = None
        self._spread: list[np.ndarray] | None = None
        self._memo: dict[Hashable, Any] = {}
        self._memo_lock = threading.RLock()  # its own: a computation asks for the frames, or memo again
        self.decode_s = 0.0  # time spent decoding samples (it may overlap other stages)

    def _open(self):
        from core.video_reader import VideoReader

        if self._closed:
            raise RuntimeError("the clip's samples are closed")
        if self._reader is None:
            self._reader = VideoReader(self._path, self._info)
        return self._reader

    def pair(self) -> tuple[np.ndarray, np.ndarray] | None:
        later = min(self._p + self.PAIR_GAP, self._stop - 1)
        if later <= self._p:
            return None
        with self._lock:
            if self._pair is None:
                started = time.perf_counter()
                frames = {f.index: f.rgb for f in self._open().frames(self._p, later + 1, only={self._p, later})}
                self.decode_s += time.perf_counter() - started
                self._pair = (frames[self._p], frames[later])
            return self._pair

    def spread(self) -> list[np.ndarray]:
        with self._lock:
            if self._spread is None:
                started = time.perf_counter()
                self._spread = self._open().sample(self._n)
                self.decode_s += time.perf_counter() - started
            return self._spread

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per key; a second asker waits for the first's answer instead of
        working it out again (the forward and the backward matter of one job)."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def drop_frames(self) -> None:
        """Free the decoded frames and the reader, keeping what was worked out from them (``memo``);
        frames asked for again are decoded again. For a studio session that keeps a clip open
        while a person clicks: what it needed from the frames is small. Never waits: while a
        decode is under way (a look that no click has waited for yet), the frames stay till next time."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._forget_frames()
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close the reader and drop the frames (call once nothing decodes from it any more)."""
        with self._lock:
            self._closed = True
            self._forget_frames()
        with self._memo_lock:
            self._memo.clear()

    def _forget_frames(self) -> None:
        """The decoded frames and the reader go (with ``_lock`` held)."""
        self._pair = self._spread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
