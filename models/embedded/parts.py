"""Which separate parts of a frame's subject mask are the subject's.

The fused evidence can split the subject's mask into parts. A part that overlaps the carried
subject and is sizeable (``SIZEABLE`` of the largest) is kept; a small one is usually a small thing
that wandered into the track (a passer-by), which would otherwise be carried for ever, and is
dropped. But a small part may also be the subject's own, shed because the flow lost its link:
../shared/media/dog.mp4, frame 244, the dog turns its head fast, its white neck matches the
concrete, and the head with the ball was dropped for good (nothing carried it after that);
juggle.mp4 lost the ball between the player's feet the same way. With a still camera the plate can
tell: a small part is kept when it lies near the sizeable ones, differs from the plate, has the
subject's own colours (not a fleck of sunlit bark beside a person, which differs from the plate as
the light moves) and does not touch another body (a piece of a person's hand the matte had taken,
now cut off from the dog). With a moving camera the plate cannot tell such a part from background
the matte had taken (a bench.quality pan clip kept a piece of a box beside the body), so only
sizeable parts are kept there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from models.embedded.full_edges import distance_outside
from models.embedded.palette import NEAR, palette_distance

logger = logging.getLogger(__name__)

SIZEABLE = 0.15  # x the largest part's area: a part at least this big that overlaps the carried subject stays
CARRIED = 0.7  # carried alpha that counts as the subject a frame ago
LOOSE_NEAR = 1.5  # x band_px: a small part this near the sizeable ones (still camera) ...
LOOSE_OFF_PLATE = 0.5  # ... this much of it off the plate ...
LOOSE_OWN_COLOURS = 0.5  # ... and this much of it in the subject's own colours is the subject's, however small


@dataclass
class LooseEvidence:
    """What tells a loose part of the subject from a stray one (a still camera's), on the ROI."""

    colours: np.ndarray  # the ROI's pixels (uint8 RGB)
    off_plate: np.ndarray  # bool: the plate is known there and differs
    palette: np.ndarray | None  # the subject's colours
    near_px: float  # how near the sizeable parts a loose part lies
    beside: np.ndarray | None  # bool: another body and a few pixels around it


def subject_parts(fg: np.ndarray, carried: np.ndarray,
                  loose: Callable[[], LooseEvidence] | None = None) -> np.ndarray:
    """``fg`` (bool) without the parts that are not the subject's (module docstring).

    ``loose`` gives the evidence for small parts (a still camera; None: only sizeable parts stay);
    it is asked for only on a frame with such a part, a few frames in a clip.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
    if n <= 2:
        return fg
    overlap = np.bincount(labels[carried > CARRIED], minlength=n)
    area = stats[:, cv2.CC_STAT_AREA].copy()
    area[0] = 0
    wanted = (overlap > 0) & (area >= SIZEABLE * area.max())
    wanted[0] = False
    if not wanted.any():
        return fg
    small = (overlap > 0) & ~wanted
    small[0] = False
    if loose is not None and small.any():
        wanted |= _loose_parts(labels, n, area, wanted, small, loose())
    return wanted[labels]


def _loose_parts(labels: np.ndarray, n: int, area: np.ndarray, wanted: np.ndarray, small: np.ndarray,
                 evidence: LooseEvidence) -> np.ndarray:
    """Per label: the small parts that are the subject's own, shed this frame."""
    near = distance_outside(wanted[labels]) <= evidence.near_px
    keep = small & (np.bincount(labels[near], minlength=n) > 0)
    keep &= np.bincount(labels[evidence.off_plate], minlength=n) >= LOOSE_OFF_PLATE * area
    if evidence.beside is not None:
        keep &= np.bincount(labels[evidence.beside], minlength=n) == 0
    if evidence.palette is not None and keep.any():
        ys, xs = np.nonzero(keep[labels])
        own = palette_distance(evidence.colours[ys, xs], evidence.palette) <= NEAR
        keep &= np.bincount(labels[ys[own], xs[own]], minlength=n) >= LOOSE_OWN_COLOURS * area
    if keep.any():
        logger.debug("kept %d small part(s) of the subject: %s px", int(keep.sum()), area[keep].tolist())
    return keep
