"""Other bodies: what already stands beside the subject at the prompt frame, kept out of its matte.

Why: with a still camera the plate's evidence takes in anything that is not the background, and
the subject may grow a band's width a frame into what the evidence calls subject. Something that
touches the subject at the prompt frame (a hand giving a dog its ball) is then annexed within a
few frames, and the matte follows the wrong body (../shared/media/dog.mp4: the woman instead of
the dog). The background movers (movers.py) cannot help: they start only far from the subject.

So at the prompt frame every solid body off the median that the prompt left out, that reaches
beyond the subject's edge zone, and that moves otherwise than the subject between the two first
looks at the clip (the prompt frame and one a few frames on), is marked as another body. Not
marked: strands of the subject's own hair that the prompt's cut left out (thin, or wholly near
it), and a part of the subject that a click missed (a dark hair cap: it moves with the subject,
and the matte is meant to grow back into it). The marks are carried along
the optical flow, spread onto neighbouring pixels that are also off the median (flow lags behind a
smooth body), never onto what the matte carries as subject, and end where the median shows again
or what the plate has learnt since (``learnt_here``); specks far from any body go (``bodies_only``).
A marked pixel cannot newly join the subject, and the tracking-resolution edge solve leaves it
alone: against the plate, a body of the subject's colours solves to alpha 1, and that soft alpha,
carried to the next frame, let the subject creep into it a few pixels a frame. Unlike a mover's
mark it leaves the plate's evidence and the full-resolution solve as they are (they say what is
not the background; a wrong mark must not let the subject spread over the background instead).
On bench.quality's still clips: IoU up (0.9799 -> 0.9835 on the 720p one), dtSSD unchanged.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.full_edges import distance_outside
from models.embedded.marks import FlowMarks, off_image
from models.embedded.motion import FlowTracker
from models.embedded.plate import BackgroundPlate

logger = logging.getLogger(__name__)

TOLERANCE = 30.0  # grey levels off the median (in any channel): another body, not the background
CLEAR = 2  # tracking-resolution px around the prompt's subject left unmarked (its own edge)
PUSH = 8.0  # logit taken off a marked pixel
BODY_BEYOND = 0.25  # x the carried subject's area: a body reaching that far beyond its reach is not the subject's
TOGETHER_PX = 1.5  # tracking px over the two first looks: a body closer to the subject's motion moves with it
TOGETHER_SHARE = 0.5  # ... or closer than this share of the subject's shift there (fast flow lags on flat parts)


class OtherBodies(FlowMarks):
    """Marks of other bodies (``map``: uint8 0/1, tracking resolution), for a still camera."""

    def __init__(self, median: np.ndarray, agree: np.ndarray, small: np.ndarray, subject: np.ndarray,
                 reach: float, motion: np.ndarray) -> None:
        super().__init__(median, TOLERANCE)
        d_out = distance_outside(subject)
        seed = cv2.bitwise_and(self.off(small, 1.0), cv2.compare(d_out, CLEAR, cv2.CMP_GT))
        # not where the median is unsure (it shows where the subject lingers, not the background)
        seed = cv2.bitwise_and(seed, cv2.compare(agree, 0.5, cv2.CMP_GE))
        # solid parts only: a cloud of strands (the subject's hair beyond the prompt's cut) opens away
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        # Only bodies that reach beyond ``reach`` px from the subject: what lies wholly closer is
        # the subject's own fringe (hair strands the prompt's cut at 0.5 left out).
        n, labels, stats, _ = cv2.connectedComponentsWithStats(seed, connectivity=8)
        far = np.zeros(n, bool)
        far[labels[d_out > reach]] = True
        far &= stats[:, cv2.CC_STAT_AREA] >= reach * reach  # a body, not a clump of strands
        far[0] = False
        far &= _moves_apart(labels, n, d_out > reach, subject, motion)
        self.map = far[labels].view(np.uint8)
        self.least, self.reach = reach * reach / 2, reach  # half the least body at the prompt: specks (``bodies_only``)
        logger.debug("other bodies at the prompt frame: %d px", int(self.map.sum()))

    def update(self, small: np.ndarray, plate: BackgroundPlate, flow: FlowTracker, field: np.ndarray,
               carried: np.ndarray) -> None:
        """Carry the marks along ``field`` (the backward flow) onto this frame (models/embedded/marks.py),
        ending where the frame shows what the plate has learnt (``learnt_here``), bodies only
        (``bodies_only``)."""
        if self.map.any():
            off = cv2.bitwise_and(self.off(small, plate.gain), cv2.bitwise_not(learnt_here(small, plate, self.tolerance)))
            marks = cv2.bitwise_and(self.carried(off, flow, field, carried), 1)
            self.map = bodies_only(marks, self.least, self.reach)


def learnt_here(small: np.ndarray, plate: BackgroundPlate, tolerance: float) -> np.ndarray:
    """Where the plate has learnt a colour since the median (``BackgroundPlate.from_median``) and the
    frame ``small`` shows it, within ``tolerance`` (uint8 255): there the marks end.

    Why: where the subject stood in most of the samples the median shows her (a ghost), and the
    background seen there once she has moved on is off the median; marks that came there stayed
    for good, beside her, and where she came back they went onto her and kept her parts out: on
    dog.mp4 played forward and back five times, her head and arm were lost in every later pass
    (her matte 0.72-0.74 of the first pass's IoU). The plate learns that background when it stays
    (``BackgroundPlate.update``); what shows it is not another body. The plate does not learn under
    the marks (``EmbeddedMatter._learn``): a dog that stood by her for a while was learnt as
    background, lost its marks and came into her matte (twice as much of it without that rule)."""
    if plate.from_median is None:
        return np.zeros(small.shape[:2], np.uint8)
    learnt = cv2.bitwise_not(plate.from_median.view(np.uint8) * np.uint8(255))
    return cv2.bitwise_and(cv2.bitwise_not(off_image(small, plate.image, plate.gain, tolerance)), learnt)


def bodies_only(marks: np.ndarray, least: float, reach: float) -> np.ndarray:
    """``marks`` (uint8 0/1) without the specks: groups of fewer than ``least`` px with no bigger group
    within ``reach`` px of their box (a body's own pieces, where it touches the subject or is half
    hidden, stay; so does a small body on its own, of ``least`` px or more).

    Why: the marks spread onto whatever is off the median beside them, and where a body left,
    specks of marks stayed behind on leaves in the wind and on the ghost the median shows where the
    subject lingered (she stood there in most of the samples). They hopped about there for a hundred
    frames and more and grew back into a body's worth beside her, and when her arm swung through
    them faster than the flow carries the matte, they spread onto the arm and went along with it
    (../shared/media/dog.mp4: her forearm and hand lost from frame 256 to the end, where she reaches
    for the dog, from a click at frame 0 or at frame 150)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(marks, connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < least
    small[0] = False
    if not small.any():
        return marks
    body = ~small
    body[0] = False
    r = int(np.ceil(reach))
    h, w = marks.shape
    for k in np.flatnonzero(small):  # a few specks a frame, each looked at in its own box only
        x, y, bw, bh = stats[k, :4]
        if body[labels[max(0, y - r):min(h, y + bh + r), max(0, x - r):min(w, x + bw + r)]].any():
            continue  # a body within reach of its box: a piece of it
        box = (slice(y, y + bh), slice(x, x + bw))
        marks[box][labels[box] == k] = 0
    return marks


def _moves_apart(labels: np.ndarray, n: int, far: np.ndarray, subject: np.ndarray,
                 motion: np.ndarray) -> np.ndarray:
    """Per body label: True when its far part (``far``) moves otherwise than the subject between the
    two first looks (``motion``: flow of the prompt frame). The subject's motion is an affine map
    fitted to its inner pixels, so a part of the subject that the prompt missed (a hair cap left
    out by a click), which turns and scales with it, counts as moving with it. When neither moves
    nothing tells them apart: no body is marked, as before this module."""
    apart = np.zeros(n, bool)
    inner = cv2.erode(subject.view(np.uint8), np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(inner[::2, ::2])
    if xs.size < 6:
        return apart
    pick = np.linspace(0, xs.size - 1, min(1500, xs.size)).astype(np.intp)
    ys, xs = ys[pick] * 2, xs[pick] * 2
    src = np.stack([xs, ys], axis=1).astype(np.float32)
    affine, _ = cv2.estimateAffine2D(src, src + motion[ys, xs], method=cv2.RANSAC,
                                     ransacReprojThreshold=1.0, maxIters=300, confidence=0.98)
    if affine is None:
        return apart
    ys, xs = np.nonzero(far & (labels > 0))
    owner = labels[ys, xs]
    pts = np.stack([xs, ys], axis=1).astype(np.float32)
    predicted = pts @ affine[:, :2].T.astype(np.float32) + affine[:, 2].astype(np.float32)
    stray = np.linalg.norm(pts + motion[ys, xs] - predicted, axis=1)
    shift = np.linalg.norm(predicted - pts, axis=1)
    for k in np.unique(owner):
        own = owner == k
        limit = max(TOGETHER_PX, TOGETHER_SHARE * float(np.median(shift[own])))
        apart[k] = float(np.median(stray[own])) > limit
        logger.debug("other body %d: strays %.2f px from the subject's motion (limit %.2f)",
                     k, float(np.median(stray[own])), limit)
    return apart


def growth(new: np.ndarray, off_plate: np.ndarray, core: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Pixels the subject would newly take this frame (``new``, bool) that belong to another body
    touching it, a body that was not beside it at the prompt frame (those are ``OtherBodies``').

    A body off the plate (``off_plate``: where the plate is known and differs) that a new pixel
    belongs to, and that reaches further outside the subject's reach (``reach``, around the carried
    ``core``) than inside it, by more than ``BODY_BEYOND`` of the subject's area, is another body:
    the subject's own parts that the carried matte missed lie within its reach (a leg that moved
    faster than the flow). ../shared/media/dog.mp4 clicked at frame 150, where the woman bends down
    to the dog: from frame 156 on the matte took her, arm first, then all of her.
    """
    if not new.any():
        return np.zeros_like(new)
    off = off_plate & ~core
    n, labels, stats, _ = cv2.connectedComponentsWithStats(off.view(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(new)
    area = stats[:, cv2.CC_STAT_AREA]
    least = BODY_BEYOND * max(1, np.count_nonzero(core))
    touched = np.unique(labels[new])
    if not np.any(area[touched[touched > 0]] > least):  # most frames: only specks touch the subject
        return np.zeros_like(new)
    inside = np.bincount(labels[reach], minlength=n)
    outside = area - inside
    big = (outside > least) & (outside > inside)
    big[0] = False
    big[np.setdiff1d(np.arange(n), touched)] = False
    return big[labels]
