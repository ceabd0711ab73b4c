"""The backward pass of a job: the frames before each frame where subjects are first marked (the prompt
frame, a subject first clicked later), matted backwards from it.

Why a pass of its own: a video decodes forwards only, and the forward pass needs these alphas as its
frames go by. So each stretch before such a frame is decoded forwards, a segment (a group of
pictures, say) at a time, into a scratch file, fed to the matter in reverse, one frame in memory at a
time, and its alphas spilled to disk (1 byte a pixel, ``core.spill.AlphaSpill``) for the forward pass
to read: memory stays flat however long the clip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from app_config import Settings
from core.clip_samples import ClipSamples
from core.progress_tracker import ProgressTracker
from core.spill import AlphaSpill, RawSpill
from core.subject_tracks import SubjectMasks, SubjectTracks, first_masks
from models.base import Matter

logger = logging.getLogger(__name__)

#: most decoded frames (MB) the backward pass parks on disk at once (one segment)
BACKWARD_SPILL_MB = 2048


class BackwardPass:
    """One job's backward pass over the frames [first, f) before each first-marked frame f."""

    def __init__(self, info, settings: Settings, first: int, matter_factory: Callable[[], Matter],
                 tracker: ProgressTracker, timings: dict[str, float]) -> None:
        self.info, self.settings, self.first = info, settings, first
        self.matter_factory, self.tracker, self.timings = matter_factory, tracker, timings
        self.late_until = 0  # frames before this may hold subjects first marked later (in the spill)

    def _segment_start(self, end: int) -> int:
        """Where the backward segment ending at ``end`` starts: at the earliest keyframe that keeps
        the segment within BACKWARD_SPILL_MB of decoded frames, so each frame is decoded once. Only
        a group of pictures longer than that is cut, its frames before the cut decoded twice."""
        frame_mb = self.info.width * self.info.height * 3 / 2**20
        frames = max(self.settings.chunk_frames, int(BACKWARD_SPILL_MB / max(frame_mb, 1e-3)))
        start = max(self.first, end - frames)
        keys = [k for k in self.info.keyframes if start <= k < end]
        return keys[0] if keys else start

    def run(self, reader, masks: dict[int, SubjectMasks], samples: ClipSamples) -> AlphaSpill | None:
        """Alphas of frames [first, f) for each frame f where subjects are first marked (the prompt
        frame, and later ones), computed backwards from f: one spill holds their union. Frames from
        the prompt frame on take a later subject's alpha from it until that subject's first frame."""
        firsts = {f: new for f, new in first_masks(masks).items() if f > self.first}
        if not firsts:
            return None
        spill = AlphaSpill(self.settings.work_dir, self.info.height, self.info.width)
        try:
            for n, (frame_index, subjects) in enumerate(sorted(firsts.items())):
                self._back_from(reader, frame_index, subjects, samples, spill.add if n else spill.write)
        except BaseException:
            spill.close()
            raise
        self.late_until = max(firsts)
        return spill

    def _back_from(self, reader, end: int, masks: dict[int, np.ndarray], samples: ClipSamples,
                         put: Callable[[int, np.ndarray], None]) -> None:
        """``masks``' subjects from frame ``end`` back to the first frame, each alpha ``put`` in the
        spill (written by the first pass, joined to what is there by the later ones).

        A video decodes forwards only, so each segment (a group of pictures, say) is decoded
        forwards into a scratch file on disk and then fed to the matter in reverse, one frame in
        memory at a time."""
        first, shape = self.first, (self.info.height, self.info.width)
        matter = SubjectTracks(self.matter_factory, sorted(masks))
        frames = None
        try:
            matter.prepare(samples)
            started = time.perf_counter()
            matter.start(reader.read_frame(end), masks)
            self.timings["matte"] += time.perf_counter() - started
            while end > first:
                self.tracker.check_cancelled()
                start = self._segment_start(end)
                if frames is None:
                    frames = RawSpill(self.settings.work_dir, (*shape, 3), prefix="frames-spill-")
                t0 = time.perf_counter()
                for frame in reader.frames(start, end):
                    frames.write(frame.index - start, frame.rgb)
                self.timings["decode"] += time.perf_counter() - t0
                for i in range(end - 1, start - 1, -1):
                    if (end - i) % self.settings.chunk_frames == 0:
                        self.tracker.check_cancelled()
                    t0 = time.perf_counter()
                    put(i - first, matter.step(np.array(frames.read(i - start))))
                    self.timings["matte"] += time.perf_counter() - t0
                    self.tracker.advance("matte backwards", 1)
                end = start
        finally:
            matter.close()
            if frames is not None:
                frames.close()
