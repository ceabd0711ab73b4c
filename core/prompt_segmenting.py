"""One job's segmentation: each prompted frame's clicks turned into each subject's mask.

The prompt frame, a subject's first frame and 'not subject' corrections are segmented before the
matting starts. A correction with a 'subject' click for a subject marked on an earlier frame
(``core.prompts.Refinement``) refines the matte carried to its frame, which is known only when the
forward pass gets there: for those the segmenter stays open until the pass is over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import numpy as np

from core.progress_tracker import ProgressTracker
from core.prompts import (
    Refinement,
    Removal,
    is_refinement,
    marked_before,
    segment_objects,
    selection_warning,
    subject_masks,
    union_mask,
)
from core.subject_tracks import Refine, SubjectMasks
from models.base import ObjectPrompt, SampleSource, Segmenter, SegmentResult

logger = logging.getLogger(__name__)


class PromptSegmenting:
    """The segmenter of one job over its prompted frames; ``timings["segment"]`` and ``warnings``
    are the job's own (report.json)."""

    def __init__(self, segmenter: Segmenter, prompts: Mapping[int, list[ObjectPrompt]], shape: tuple[int, int],
                 tracker: ProgressTracker | None = None, timings: dict[str, float] | None = None,
                 warnings: list[str] | None = None) -> None:
        self.segmenter = segmenter
        self.prompts = prompts
        self.shape = shape
        self.tracker = tracker
        self.timings = timings if timings is not None else {"segment": 0.0}
        self.warnings = warnings if warnings is not None else []
        self.pending = False  # refinements that the forward pass segments: the segmenter stays open
        self._marked_before = marked_before(prompts)

    def segment(self, reader, samples: SampleSource) -> dict[int, SubjectMasks]:
        """Each subject's mask, a correction's ``Removal`` or ``Refinement``, on each prompted frame.

        The segmenter may look at the clip (``samples``): the embedded one takes the whole moving
        thing under a click when the camera is still."""
        assert self.tracker is not None, "a job's segmentation reports its progress"
        masks: dict[int, SubjectMasks] = {}
        clicks = any(o.points and o.mask is None for objects in self.prompts.values() for o in objects)
        self.segmenter.use_clip(samples if clicks else None)  # a given mask needs no look
        for frame_index in sorted(self.prompts):
            self.tracker.check_cancelled()
            masks[frame_index] = self.masks_on(frame_index, lambda i=frame_index: reader.read_frame(i))
            self.tracker.advance("segment", 1, f"frame {frame_index}")
        self.pending = any(isinstance(m, Refinement) for frame in masks.values() for m in frame.values())
        if not self.pending:
            self.close()
        return masks

    def masks_on(self, frame_index: int, image: np.ndarray | Callable[[], np.ndarray]) -> SubjectMasks:
        """One prompted frame's masks: segmented now, or a ``Refinement`` for a subject marked on an
        earlier frame. ``image``: the frame, or what decodes it (only if something is segmented now)."""
        objects = self.prompts[frame_index]
        later = {o.object_id: Refinement(o) for o in objects
                 if o.object_id in self._marked_before[frame_index] and is_refinement(o)}
        now = [o for o in objects if o.object_id not in later]
        masks: dict[int, np.ndarray | Removal | Refinement] = dict(later)
        if now:
            masks |= self._segment_frame(image() if callable(image) else image, frame_index, now, {})
        return masks

    def refiner(self, frame_index: int, image: np.ndarray) -> Refine:
        """What refines a subject's carried mask by its clicks on this frame (``Refinement``)."""

        def refine(prompt: ObjectPrompt, carried: np.ndarray | None) -> np.ndarray:
            return self._segment_frame(image, frame_index, [prompt], {prompt.object_id: carried})[prompt.object_id]

        return refine

    def keep_clip_look(self) -> None:
        """The clip's sampled frames are about to go: a segmenter still to answer clicks keeps its look."""
        if self.pending:
            self.segmenter.keep_clip_look()

    def close(self) -> None:
        self.segmenter.use_clip(None)
        self.segmenter.close()

    def _segment_frame(self, image: np.ndarray, frame_index: int, objects: list[ObjectPrompt],
                       carried: dict[int, np.ndarray | None]) -> dict[int, np.ndarray | Removal]:
        """``objects``' masks on one frame; a subject with a ``carried`` mask gets it as its clicks
        refine it. Warns when the clicks select next to nothing."""
        started = time.perf_counter()
        results = segment_objects(self.segmenter, image, [o for o in objects if carried.get(o.object_id) is None])
        for obj in objects:
            if (mask := carried.get(obj.object_id)) is not None:
                results[obj.object_id] = SegmentResult(mask=self.segmenter.refine(obj, mask), score=1.0)
        masks = subject_masks(objects, results)
        self.timings["segment"] += time.perf_counter() - started
        if warning := selection_warning(union_mask(masks, self.shape), objects, frame_index):
            self.warnings.append(warning)
        return masks
