"""Several subjects, each tracked by a matter of its own; a frame's alpha is the union of theirs.

Why not one matter given the union of the subjects' masks: it tracks them as one thing. When one
of them is lost (a dog that ran across the frame, while the person stays), nothing looks lost as
long as the other is still there, so it is never searched for again; and a correction click on a
later frame for one subject restarted the tracking from that subject's mask alone, dropping every
other subject from that frame on. With a matter each, a lost subject is its own matter's business,
and a correction restarts only the subjects it names: from its matte less what 'not subject'
clicks alone select (a ``Removal``), or from its matte as the clicks refine it there (a
``Refinement``: the segmenter gets the carried matte as the mask its clicks refine).

One subject is the usual job: then its matter's alpha is returned as it is, at no extra cost. N
subjects cost N matters' steps a frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from core.prompts import TINY_SELECTION, Refinement, Removal
from core.subject_parts import SubjectParts, things_apart, union_of
from models.base import Matter, ObjectPrompt, SampleSource

logger = logging.getLogger(__name__)

LEFT_OVER = 0.02  # a removal leaving less of its subject's matte takes all of it (the rest is fringe);
# one taking less leaves the subject as it was

#: subject id -> its mask on one frame (bool or float), or what a correction does to its matte there
SubjectMasks = Mapping[int, np.ndarray | Removal | Refinement]
#: (clicks, the subject's mask carried to this frame or None) -> its mask as the clicks refine it
Refine = Callable[[ObjectPrompt, np.ndarray | None], np.ndarray]


class SubjectTracks:
    """The subjects of one pass (forwards or backwards from the prompt frame), each with its matter.

    A subject is tracked from the first frame that gives its mask (the prompt frame, or a later
    correction frame for a subject first marked there); before that it adds nothing to this pass
    (the pipeline mattes such a subject backwards from that frame in a pass of its own).
    """

    def __init__(self, matter_factory: Callable[[], Matter], subject_ids: Sequence[int]) -> None:
        self._factory = lambda: SubjectParts(matter_factory)  # things apart get a matter each
        self._waiting: dict[int, Matter] = {oid: self._factory() for oid in subject_ids}
        self._tracking: dict[int, Matter] = {}
        self.alphas: dict[int, np.ndarray] = {}  # the last frame's alpha of each subject tracked there
        self.restarted: dict[int, np.ndarray] = {}  # the last ``correct``'s restarts: subject -> its mask

    def prepare(self, samples: SampleSource) -> None:
        """Each matter's look at the clip; what they work out from it is worked out once
        (``SampleSource.memo``), so N subjects do not look N times."""
        for matter in self._waiting.values():
            matter.prepare(samples)

    def start(self, frame: np.ndarray, masks: SubjectMasks) -> np.ndarray:
        """The first frame of the pass: every subject with a mask starts here."""
        return self.correct(frame, masks)

    def correct(self, frame: np.ndarray, masks: SubjectMasks, refine: Refine | None = None) -> np.ndarray:
        """A frame with masks for some subjects: those restart from their mask (or start, if first
        marked here), from their matte less a ``Removal``, or from their matte as a ``Refinement``'s
        clicks refine it (``refine``: the segmenter); the others go on as on any frame."""
        removals = {oid: m.region for oid, m in masks.items() if isinstance(m, Removal) and oid in self._tracking}
        given = {oid: m for oid, m in masks.items() if isinstance(m, np.ndarray) and np.any(m)}
        alphas: dict[int, np.ndarray] = {}
        refined: dict[int, np.ndarray] = {}
        for oid, m in masks.items():
            if isinstance(m, Refinement):
                assert refine is not None, "a refinement needs the segmenter"
                carried = None
                if oid in self._tracking:
                    alphas[oid] = self._tracking[oid].step(frame)  # what it is, if the clicks select nothing
                    carried = alphas[oid] > 0.5
                    if np.count_nonzero(carried) < TINY_SELECTION * carried.size:
                        carried = None  # lost here: the clicks find it afresh
                refined[oid] = refine(m.prompt, carried)
                if np.any(refined[oid]):  # restarted from it even when the clicks add nothing: a click
                    given[oid] = refined[oid]  # on a see-through part says it is the subject (its colours
                    # are learnt again on this frame; carried on, it stayed see-through)
        if not given and not removals and not self._tracking:  # nothing selected: the matter says so
            oid, mask = next(iter(masks.items()))
            given = {oid: refined.get(oid, mask)}
        for oid, region in removals.items():
            alpha = self._tracking[oid].step(frame)
            tracked = alpha > 0.5
            area, kept = np.count_nonzero(tracked), tracked & ~region
            if np.count_nonzero(kept) >= (1 - LEFT_OVER) * area:  # the clicks select next to nothing of
                alphas[oid] = alpha  # its matte: it goes on as it was, not restarted from a hard mask
            elif np.count_nonzero(kept) > LEFT_OVER * area:
                given[oid] = kept
            else:  # all of it taken out (but a fringe of its outline): the subject is gone from here on
                self._tracking.pop(oid).close()
        self.restarted = {oid: mask for oid, mask in given.items() if oid in self._tracking}
        for oid, mask in given.items():
            if oid in self._tracking:
                alphas[oid] = self._tracking[oid].correct(frame, mask)
            else:
                matter = self._waiting.pop(oid, None) or self._factory()
                self._tracking[oid] = matter
                alphas[oid] = matter.start(frame, mask)
        alphas |= {oid: m.step(frame) for oid, m in self._tracking.items() if oid not in given | alphas.keys()}
        self.alphas = alphas
        return union_of(list(alphas.values()), frame.shape[:2])

    def step(self, frame: np.ndarray) -> np.ndarray:
        self.alphas = {oid: m.step(frame) for oid, m in self._tracking.items()}
        return union_of(list(self.alphas.values()), frame.shape[:2])

    def close(self) -> None:
        for matter in [*self._waiting.values(), *self._tracking.values()]:
            matter.close()
        self._waiting, self._tracking = {}, {}


def first_masks(masks: Mapping[int, SubjectMasks]) -> dict[int, dict[int, np.ndarray]]:
    """Frame -> the subjects first marked there (a mask that selects something), with their masks:
    the prompt frame's, and each subject first clicked on a later frame."""
    firsts: dict[int, dict[int, np.ndarray]] = {}
    seen: set[int] = set()
    for frame_index in sorted(masks):
        new = {oid: m for oid, m in masks[frame_index].items()
               if isinstance(m, np.ndarray) and m.any() and oid not in seen}
        seen |= masks[frame_index].keys()
        if new:
            firsts[frame_index] = new
    return firsts


def matters_made_later(masks: Mapping[int, SubjectMasks]) -> bool:
    """Whether a pass over these masks may make a matter after its start, which looks at the clip
    then (so what was worked out from it must stay: ``SampleSource.memo``): a subject of things
    apart (core/subject_parts.py), or a correction's refinement or removal, whose mask is known at
    its frame only (what a removal leaves may be things apart: a dog cut in two by a click on its
    middle; the job ended as an internal error there)."""
    return any(isinstance(m, (Refinement, Removal)) or (isinstance(m, np.ndarray) and len(things_apart(m)) > 1)
               for frame in masks.values() for m in frame.values())
