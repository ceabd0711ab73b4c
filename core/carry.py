"""Each subject's matte as a job carries it to a later frame: what the studio needs to show a
correction on that frame, or the matte there ('Matte here'), as the job will make it.

A correction's 'subject' clicks refine the matte carried to their frame (``core.prompts.Refinement``),
and that matte exists only once the frames before it are matted. So the preview of such clicks
mattes the clip from the prompt frame up to the frame on screen, the way the job's forward pass
does (the same segmentation, subject tracks and matters), without composing or encoding anything.
A ``Carry`` stays where it stopped: a person stepping through the clip to look at the matte has
each later frame carried on from the last one (a few frames' work), not from the prompt frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.clip_samples import ClipSamples
from core.prompt_segmenting import PromptSegmenting
from core.prompts import prompts_key
from core.subject_tracks import SubjectTracks
from models.base import ObjectPrompt
from models.engines import EngineChoice

logger = logging.getLogger(__name__)


class Carry:
    """The forward pass of a job over one clip for some ``subjects``, kept open where it stopped.

    ``reach(frame, prompts)`` gives each subject's alpha on ``frame``, the prompts of the frames
    before it applied as the job applies them. A later frame carries on from the last one when the
    prompts up to it are the same and none is on the frame it stopped at (that frame was matted
    without its own clicks, which a job applies there): ``can_reach`` says so. ``samples``, the
    clip's for the matters' look at it, become the carry's and are closed with it.
    """

    def __init__(self, path: Path | str, engine: EngineChoice, subjects: list[int], first: int,
                 samples: ClipSamples | None = None) -> None:
        from core.video_io import probe
        from core.video_reader import VideoReader

        self.path, self.subjects, self.first = str(path), list(subjects), first
        self._engine = engine
        self._info = probe(path)
        self._tracks = SubjectTracks(engine.matter_factory, self.subjects)
        self._samples = samples  # the carry's own: closed with it (a subject's further thing, met on
        if samples is not None:  # a later frame, gets a matter that looks at the clip then)
            self._tracks.prepare(samples)
            samples.drop_frames()  # what the matters worked out from the frames stays (``memo``)
        self._reader = VideoReader(path, self._info)
        self._frames = self._reader.frames(first, self._info.frame_count)
        self.reached: int | None = None  # the last frame matted
        self._applied: dict[int, list[ObjectPrompt]] = {}  # the prompts that the frames so far had
        self.alphas: dict[int, np.ndarray] = {}

    def can_reach(self, frame_index: int, prompts: Mapping[int, list[ObjectPrompt]]) -> bool:
        before = prompts_before(prompts, frame_index, self.subjects)
        if self.reached is None or frame_index < self.reached or min(before, default=None) != self.first:
            return False
        if frame_index == self.reached:
            return prompts_key(before) == prompts_key(self._applied)
        upto = {f: objs for f, objs in before.items() if f <= self.reached}
        return self.reached not in before and prompts_key(upto) == prompts_key(self._applied)

    def reach(self, frame_index: int, prompts: Mapping[int, list[ObjectPrompt]]) -> dict[int, np.ndarray]:
        """Each subject's alpha on ``frame_index`` (from where it stopped: ``can_reach`` first)."""
        before = prompts_before(prompts, frame_index, self.subjects)
        if self.reached == frame_index:
            return dict(self.alphas)
        started, done = time.perf_counter(), 0
        segmenting = PromptSegmenting(self._engine.segmenter, before, (self._info.height, self._info.width))
        for frame in self._frames:
            i = frame.index
            if i in before:  # the first prompted frame (the subjects start), or a correction
                self._tracks.correct(frame.rgb, segmenting.masks_on(i, frame.rgb), segmenting.refiner(i, frame.rgb))
            else:
                self._tracks.step(frame.rgb)
            done += 1
            if i >= frame_index:
                break
        self.reached, self._applied = frame_index, before
        self.alphas = dict(self._tracks.alphas)
        logger.info("carried %d subject(s) %d frame(s), to frame %d, in %.2f s", len(self.alphas), done,
                    frame_index, time.perf_counter() - started)
        return dict(self.alphas)

    def close(self) -> None:
        self._frames.close()
        self._reader.close()
        self._tracks.close()
        if self._samples is not None:
            self._samples.close()


def prompts_before(prompts: Mapping[int, list[ObjectPrompt]], frame_index: int,
                   subjects: list[int]) -> dict[int, list[ObjectPrompt]]:
    """The ``subjects``' prompts on the frames before ``frame_index`` (frames left with none dropped)."""
    return {f: kept for f, objs in prompts.items()
            if f < frame_index and (kept := [o for o in objs if o.object_id in subjects and not o.is_empty()])}

