"""Progress of a long job: fraction done, stage, ETA and frames per second, plus cancellation.

The pipeline reports through a ``ProgressTracker``; front ends pass a plain callback (the CLI
prints a line, the studio feeds gr.Progress) and an optional ``threading.Event`` to cancel. The
event is checked between chunks, so cancelling stops a job within one chunk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from core.exceptions import JobCancelledError

logger = logging.getLogger(__name__)


@dataclass
class ProgressUpdate:
    fraction: float  # 0..1 over the whole job
    stage: str  # "segment", "matte backwards", "process", "audio", ...
    eta_s: float | None
    fps: float | None
    frame: int
    total: int
    message: str

    def line(self) -> str:
        """A one-line text form, for the CLI and logs."""
        parts = [f"{self.fraction * 100:5.1f}%", self.stage, f"{self.frame}/{self.total}"]
        if self.fps:
            parts.append(f"{self.fps:.1f} fps")
        if self.eta_s is not None:
            parts.append(f"ETA {self.eta_s:.0f}s")
        return "  ".join(parts)


ProgressCallback = Callable[[ProgressUpdate], None]


class ProgressTracker:
    """Counts frames through weighted stages and turns them into ``ProgressUpdate``s.

    ``stages`` maps a stage name to its share of the job in frames (a frame matted backwards and
    later composited counts twice), so the fraction and the ETA stay honest across passes.
    The rate (fps, and the ETA from it) is that of the last ``RATE_WINDOW_S`` seconds of frames
    of the current stage:
    a job's start (opening the clip, segmenting the clicks, a still camera's look at the whole
    clip) takes a while before the first frame, and an average since the start made the first
    ETAs many times too long (97 s shown for a job that took 6 s).
    """

    RATE_WINDOW_S = 3.0

    def __init__(
        self,
        stages: dict[str, int],
        callback: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        min_interval_s: float = 0.25,
    ) -> None:
        self.stages = dict(stages)
        self.total_units = max(1, sum(stages.values()))
        self.callback = callback
        self.cancel = cancel
        self.min_interval_s = min_interval_s
        self.units_done = 0
        self._stage_done: dict[str, int] = {name: 0 for name in stages}
        self._last_emit = 0.0
        self._last_stage: str | None = None
        self._history: deque[tuple[float, int]] = deque()  # (time, units done) at each advance
        self._rate_stage: str | None = None  # the stage whose advances are in _history

    def check_cancelled(self) -> None:
        """Raise ``JobCancelledError`` when the front end asked to stop."""
        if self.cancel is not None and self.cancel.is_set():
            raise JobCancelledError("job cancelled")

    def advance(self, stage: str, frames: int = 1, message: str = "") -> None:
        self._stage_done[stage] = self._stage_done.get(stage, 0) + frames
        self.units_done += frames
        if stage != self._rate_stage:  # a stage has its own pace (and may start after a pause)
            self._history.clear()
            self._rate_stage = stage
        self._history.append((time.perf_counter(), self.units_done))
        self._emit(stage, message)

    def announce(self, stage: str, message: str = "") -> None:
        """Report a stage without frames (loading models, muxing audio)."""
        self._emit(stage, message, force=True)

    def _emit(self, stage: str, message: str, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.perf_counter()
        done = self.units_done >= self.total_units
        new_stage = stage != self._last_stage  # a stage's start is always shown
        if not (force or done or new_stage) and now - self._last_emit < self.min_interval_s:
            return
        self._last_emit = now
        self._last_stage = stage
        rate = self._recent_rate(now)
        eta = (self.total_units - self.units_done) / rate if rate else None
        update = ProgressUpdate(
            fraction=min(1.0, self.units_done / self.total_units),
            stage=stage,
            eta_s=eta,
            fps=rate,
            frame=self._stage_done.get(stage, 0),
            total=self.stages.get(stage, 0),
            message=message,
        )
        try:
            self.callback(update)
        except Exception:  # a broken progress display must never kill a job
            logger.exception("progress callback failed")

    def _recent_rate(self, now: float) -> float | None:
        """Units per second over the last ``RATE_WINDOW_S`` (None until two advances are apart)."""
        history = self._history
        while len(history) > 2 and now - history[1][0] >= self.RATE_WINDOW_S:
            history.popleft()  # keeps one advance at or before the window's start
        if not history:
            return None
        t0, units0 = history[0]
        if now <= t0 or self.units_done <= units0:
            return None
        return (self.units_done - units0) / (now - t0)
