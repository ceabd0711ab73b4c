"""Each subject's matte as a job carries it to a later frame: what the studio needs to show a
correction on that frame as the job will make it.

A correction's 'subject' clicks refine the matte carried to their frame (``core.prompts.Refinement``),
and that matte exists only once the frames before it are matted. So the preview of such clicks
mattes the clip from the prompt frame up to the frame on screen, the way the job's forward pass
does (the same segmentation, subject tracks and matters), without composing or encoding anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.prompt_segmenting import PromptSegmenting
from core.subject_tracks import SubjectTracks
from models.base import ObjectPrompt, SampleSource
from models.engines import EngineChoice

logger = logging.getLogger(__name__)


def carried_alphas(path: Path | str, prompts: Mapping[int, list[ObjectPrompt]], frame_index: int,
                   engine: EngineChoice, samples: SampleSource | None = None) -> dict[int, np.ndarray]:
    """Each subject's matte on ``frame_index`` (float alpha; a correction refines alpha > 0.5) as a
    job carries it there from the prompts of the frames before it; {} when none comes before.
    ``samples``: the clip's, for the matters' look at it (a still camera's plate), when the caller
    has them."""
    from core.video_io import VideoReader, probe

    before = {f: objects for f, objects in prompts.items() if f < frame_index and objects}
    if not before:
        return {}
    started = time.perf_counter()
    info = probe(path)
    segmenting = PromptSegmenting(engine.segmenter, before, (info.height, info.width))
    tracks = SubjectTracks(engine.matter_factory, sorted({o.object_id for objs in before.values() for o in objs}))
    try:
        if samples is not None:
            tracks.prepare(samples)
        with VideoReader(path, info) as reader:
            for frame in reader.frames(min(before), frame_index + 1):
                i = frame.index
                if i in before:  # the first prompted frame (the subjects start), or a correction
                    tracks.correct(frame.rgb, segmenting.masks_on(i, frame.rgb), segmenting.refiner(i, frame.rgb))
                else:
                    tracks.step(frame.rgb)
        logger.info("carried %d subject(s) from frame %d to %d in %.2f s", len(tracks.alphas), min(before),
                    frame_index, time.perf_counter() - started)
        return dict(tracks.alphas)
    finally:
        tracks.close()
