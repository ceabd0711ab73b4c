"""A subject made of things apart (her and her dog, clicked as one subject): a matter for each thing.

Why: a matter tracks its mask as one thing. When one of two things apart leaves the frame (the dog
runs off while she stays), nothing looks lost as long as the other is there, so the matter never
searches for it again, and when the dog ran back it stayed out of the matte
(../shared/media/dog.mp4, clicked on both as one subject). Given a matter each, the dog is its own
matter's business, lost and found again as a subject of its own is (core/subject_tracks.py). The
subject's alpha is the union of its things'.

Things apart are the groups of the mask's pieces that lie more than APART of the frame's short side
from each other (her hand held the ball 56 px from the dog's muzzle at 720p), each at least
SMALLEST of the biggest (a speck of fringe is no thing to track on its own). A mask of one thing,
the usual case, goes to one matter as it is, at no extra cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from core.prompts import TINY_SELECTION
from models.base import Matter, SampleSource

logger = logging.getLogger(__name__)

APART = 0.04  # pieces of a mask further apart than this (fraction of the short side) are things apart
SMALLEST = 0.05  # ... when they are at least this fraction of the biggest thing
MAX_THINGS = 4  # a matter each for the biggest; the rest go with the biggest (each costs a matter's step)
LOOK_SIDE = 320  # the long side at which the pieces are grouped (their gaps are tens of pixels at 720p)


def things_apart(mask: np.ndarray) -> list[np.ndarray]:
    """``mask`` (bool or float, > 0.5 = subject) as its things apart, biggest first: one mask each,
    frame-sized bool. Pieces too small to be a thing (under SMALLEST of the biggest, or TINY_SELECTION
    of the frame) go with the biggest, as do all past MAX_THINGS; a mask of one thing comes back as
    it is, in a list."""
    solid = np.asarray(mask) > 0.5
    h, w = solid.shape
    scale = min(1.0, LOOK_SIDE / max(h, w))
    small = cv2.resize(solid.view(np.uint8), (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_NEAREST) if scale < 1 else solid.view(np.uint8)
    reach = max(1, round(APART * min(h, w) * scale / 2))  # each piece grown by half the gap
    grown = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    count, labels = cv2.connectedComponents(grown, connectivity=8)
    if count <= 2:  # background and one group
        return [solid]
    groups = cv2.resize(labels.astype(np.uint16), (w, h), interpolation=cv2.INTER_NEAREST) if scale < 1 else labels
    things = sorted((solid & (groups == k) for k in range(1, count)), key=np.count_nonzero, reverse=True)
    least = max(TINY_SELECTION * solid.size, SMALLEST * np.count_nonzero(things[0]))
    kept = things[:1] + [t for t in things[1:MAX_THINGS] if np.count_nonzero(t) >= least]
    if len(kept) == 1:
        return [solid]
    rest = solid.copy()  # the biggest, with what is too small to be a thing and any pixel the small
    for thing in kept[1:]:  # grid lost (in no group)
        rest &= ~thing
    return [rest, *kept[1:]]


class SubjectParts(Matter):
    """One subject's matter, made of a matter for each of its things apart (``things_apart``)."""

    name = "parts"

    def __init__(self, matter_factory: Callable[[], Matter]) -> None:
        self._factory = matter_factory
        self._samples: SampleSource | Sequence[np.ndarray] | None = None
        self._spare: Matter | None = None  # prepared before the first mask comes: the first thing's
        self._things: list[Matter] = []

    def prepare(self, samples: SampleSource | Sequence[np.ndarray]) -> None:
        """The look at the clip, for the first thing's matter now; a further thing's matter looks when
        it starts (what the look works out is worked out once a job: ``SampleSource.memo``)."""
        self._samples = samples
        self._spare = self._spare or self._factory()
        self._spare.prepare(samples)

    def start(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        things = things_apart(mask)
        if len(things) == 1 and len(self._things) == 1:  # one thing, as before: it restarts
            return self._things[0].correct(frame, mask)
        self._close_things()
        if len(things) > 1:
            logger.info("subject of %d things apart: a matter each", len(things))
        alphas = []
        for thing in things:
            matter = self._matter()
            self._things.append(matter)
            alphas.append(matter.start(frame, mask if len(things) == 1 else thing))
        return union_of(alphas, frame.shape[:2])

    def correct(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.start(frame, mask)

    def step(self, frame: np.ndarray) -> np.ndarray:
        return union_of([matter.step(frame) for matter in self._things], frame.shape[:2])

    def close(self) -> None:
        self._close_things()
        if self._spare is not None:
            self._spare.close()
            self._spare = None

    def _matter(self) -> Matter:
        if self._spare is not None:
            matter, self._spare = self._spare, None
            return matter
        matter = self._factory()
        if self._samples is not None:
            matter.prepare(self._samples)
        return matter

    def _close_things(self) -> None:
        for matter in self._things:
            matter.close()
        self._things = []


def union_of(alphas: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The frame's alpha: each pixel as opaque as the most opaque subject (or thing) there (one: as
    it is; none, every subject taken out by corrections: transparent)."""
    if len(alphas) == 1:
        return alphas[0]
    if not alphas:
        return np.zeros(shape, np.float32)
    out = np.array(alphas[0], dtype=np.float32, copy=True)
    for alpha in alphas[1:]:
        np.maximum(out, alpha, out=out)
    return out
