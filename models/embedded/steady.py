"""A hand-held "still" camera: frames that sway a few pixels, steadied onto the clip's median.

Why: the still camera's plate is the temporal median of frames spread over the clip, compared with
every frame pixel by pixel. A phone held by hand drifts a few pixels over seconds, a fraction of a
pixel a frame: the look at the clip still found a still camera, but the median was smeared and
every frame lay a little off it, so the edges of the whole background (foliage, a kerb) differed
from the plate and came into the matte (../shared/media/dog.mp4 swayed +-4 px: the woman's matte
spread over the hedge and the pavement). Followed as a moving camera instead, the plate lost what
makes a still camera's matte good, with the same result.

So the samples are aligned with the prompt frame before their median is taken, and when they
swayed, each frame is moved onto the median before it is matted and its matte moved back: the
matter sees a camera that does not move. The move is a shift and a turn (a hand rolls the phone
too: +-0.5 degrees moves a 720p frame's corners by 6 px), found by ECC (OpenCV's
``findTransformECC``) on the background, to a few hundredths of a tracking pixel; the subject and
whatever else moves is left out of the fit by a mask. A move is a 2x3 matrix ``w``: the image at
``w p`` shows what the reference shows at ``p``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

logger = logging.getLogger(__name__)

SWAY_PX = 0.3  # tracking px (at the frame's corners): samples this close to the reference are taken as they are
MOST_SWAY = 0.04  # x the long side: a fit further off is no hand's sway (a moving camera, or a wrong fit)
AGREE = 20.0  # grey levels: where an aligned sample agrees with the reference, the background (the fit's mask)
TEXTURE = 100.0  # Sobel magnitude (grey levels, 3x3): a pixel of the background a sway changes
TEXTURED_SHARE = 0.02  # of the frame: less texture than this, and a sway changes too little to matter
CLOSE = 8.0  # grey levels: a textured pixel this close to the reference is aligned with it
ALIGNS_BETTER = 0.05  # of the textured background: a sample's fit must make this much more of it agree
STEADY_PX = 0.05  # tracking px (at the corners): a frame's move under this is not worth making
SOFT = 2.0  # px (tracking size): the softening under which a hand's sway is no difference
_AROUND = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
_ECC_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
_ECC_FOLLOW = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 1e-3)  # frame to frame: from the last offset


Warp = np.ndarray  # 2x3 float32: the image at ``w p`` shows what the reference shows at ``p``
STILL: Warp = np.float32([[1, 0, 0], [0, 1, 0]])


def gray(image: np.ndarray) -> np.ndarray:
    """float32 grey of an RGB image (the registrations' input)."""
    return cv2.cvtColor(np.ascontiguousarray(image, np.uint8) if image.dtype != np.uint8 else image,
                        cv2.COLOR_RGB2GRAY).astype(np.float32)


def as_warp(offset: Warp | tuple[float, float]) -> Warp:
    """A move as a 2x3 matrix; an (x, y) pair is a shift by it."""
    if isinstance(offset, np.ndarray):
        return offset.astype(np.float32)
    return np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])


def scaled(warp: Warp, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> Warp:
    """``warp`` (at one size) for images ``scale`` times larger, read from ``origin`` (x, y) of them on:
    the matrix that gives, for a pixel ``q`` of that box, where to read the larger image."""
    out = warp.astype(np.float32).copy()
    out[:, 2] = warp[:, 2] * scale + warp[:, :2] @ np.float32(origin)
    return out


def reach(warp: Warp, shape: tuple[int, ...]) -> float:
    """How far ``warp`` moves the corners of an image of ``shape`` (px, the most of any corner and axis)."""
    h, w = shape[:2]
    corners = np.float32([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]])
    return float(np.abs(corners @ warp.T - corners[:, :2]).max())


def shift(image: np.ndarray, offset: Warp | tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """``image`` moved onto the reference by ``offset`` (a warp, or an (x, y) shift), found at a size
    ``scale`` times smaller: what lay at ``w p`` is at ``p`` then. Edges are repeated into what opens."""
    h, w = image.shape[:2]
    return cv2.warpAffine(image, scaled(as_warp(offset), scale), (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def register(reference: np.ndarray, image: np.ndarray, where: np.ndarray | None = None,
             start: Warp = STILL, stop: tuple = _ECC_STOP) -> Warp | None:
    """The move of ``image`` from ``reference`` (float32 grey, one size), a shift and a turn.
    ``where``: the pixels to fit on (uint8, 1 = background). None when the fit fails (too little
    texture, or nothing alike)."""
    try:
        _, warp = cv2.findTransformECC(reference, image, start.astype(np.float32).copy(), cv2.MOTION_EUCLIDEAN,
                                       stop, where, 3)
    except cv2.error:
        return None
    return warp


def sample_offsets(samples: list[np.ndarray], reference: np.ndarray) -> list[Warp]:
    """Each sample's move from ``reference`` (RGB images of one size); none (``STILL``) where none is
    found that aligns it better (too little texture to hold on to, or a fit beyond ``MOST_SWAY``: a
    moving camera, which the median's agreement then tells).

    A first fit at half size on what stays alike once both are softened (a sway of a few px is
    smoothed over, a moving subject is not); a sample that swayed then gets a fit at full size on
    what agrees with the reference once aligned, kept if it makes clearly more of the textured
    background agree (``_aligns``). A still camera's samples stop after the first (about 1 ms each
    at 384 x 216).
    """
    ref = gray(reference)
    half_ref = cv2.pyrDown(ref)
    soft_ref = cv2.GaussianBlur(half_ref, (0, 0), SOFT / 2)
    most = MOST_SWAY * max(ref.shape)
    grad = cv2.magnitude(cv2.Sobel(ref, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(ref, cv2.CV_32F, 0, 1, ksize=3))
    textured = grad > TEXTURE  # where a sway of a pixel changes what is seen
    offsets: list[Warp] = []
    for sample in samples:
        image = gray(sample)
        half = cv2.pyrDown(image)
        unlike = (cv2.absdiff(cv2.GaussianBlur(half, (0, 0), SOFT / 2), soft_ref) >= AGREE).view(np.uint8)
        alike = 1 - cv2.dilate(unlike, _AROUND)  # and not right beside what moved (its softened edge)
        coarse = register(half_ref, half, alike)
        if coarse is None or reach(coarse, half.shape) * 2 > most:
            offsets.append(STILL)
            continue
        first = scaled(coarse, 2.0)
        if reach(first, image.shape) < SWAY_PX / 2:
            offsets.append(first)
            continue
        agree = (cv2.absdiff(shift(image, first), ref) < AGREE).view(np.uint8)
        fitted = register(ref, image, agree, first)
        fitted = first if fitted is None else fitted
        where = textured & (cv2.resize(alike, (ref.shape[1], ref.shape[0]), interpolation=cv2.INTER_NEAREST) > 0)
        kept = reach(fitted, image.shape) <= most and _aligns(ref, image, fitted, where)
        offsets.append(fitted if kept else STILL)
    return offsets


def _aligns(ref: np.ndarray, image: np.ndarray, warp: Warp, where: np.ndarray) -> bool:
    """True when moving ``image`` by ``warp`` makes clearly more of the textured background ``where``
    (bool) agree with ``ref``. A camera's sway does that; a fit that followed something large moving
    across a plain scene (a passer-by) does not: the background's texture disagrees after it. Too
    little texture to say: False (a plain scene needs no steadying either)."""
    count = np.count_nonzero(where)
    if count < TEXTURED_SHARE * where.size:
        return False
    before = np.count_nonzero((cv2.absdiff(image, ref) < CLOSE) & where)
    after = np.count_nonzero((cv2.absdiff(shift(image, warp), ref) < CLOSE) & where)
    return after - before > ALIGNS_BETTER * count


def swayed(offsets: list[Warp], shape: tuple[int, ...]) -> bool:
    """True when any sample (of images of ``shape``) lies ``SWAY_PX`` or more off the reference."""
    return any(reach(w, shape) >= SWAY_PX for w in offsets)


class Steadier:
    """Moves each frame of a hand-held still camera onto its median (tracking size), and its matte back."""

    def __init__(self, median: np.ndarray) -> None:
        self.reference = gray(np.clip(median, 0, 255).astype(np.uint8))
        self.offset: Warp = STILL  # the last frame's move (tracking px)
        self.shifted: Warp | None = None  # this frame's move, when it got one
        self.moved_whole = False  # this frame was moved whole (the start), not box by box
        self._scale = 1.0  # full-size px per tracking px
        self._most = MOST_SWAY * max(self.reference.shape)

    def fit(self, frame_shape: tuple[int, ...], small: np.ndarray, subject: np.ndarray, distance: float) -> bool:
        """Fit this frame's move onto the median (``small``: the frame at tracking size; the frame is
        ``frame_shape``); True when it is worth making (``shifted``). Fitted on the background further
        than ``distance`` tracking px from ``subject`` (bool, the median's geometry: the last matte).
        Not also where the frame agrees with the median, as the look does with the prompt frame: the
        median is softer than a frame, and that left out the textured background the fit needs
        (offsets 1 px off)."""
        background = cv2.distanceTransform(1 - subject.view(np.uint8), cv2.DIST_L2, 3) > distance
        warp = self.follow(small, background)
        self.shifted, self.moved_whole = None, False
        if reach(warp, small.shape) < STEADY_PX:
            return False
        self.shifted, self._scale = warp, frame_shape[1] / small.shape[1]
        return True

    def shifted_small(self, frame: np.ndarray, downscale: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The frame at tracking size (``downscale``) as moved: by whole full-size pixels before the
        downscale (a copy, no blur), by the rest (under half a full px, and the turn) after it."""
        full = scaled(self.shifted, self._scale)
        ix, iy = int(round(float(full[0, 2]))), int(round(float(full[1, 2])))
        h, w = frame.shape[:2]
        top, left = max(0, -iy), max(0, -ix)
        padded = cv2.copyMakeBorder(frame, top, max(0, iy), left, max(0, ix), cv2.BORDER_REPLICATE)
        moved = padded[top + iy:top + iy + h, left + ix:left + ix + w]  # what lay at p + (ix, iy) is at p
        rest = self.shifted.copy()
        rest[:, 2] -= np.float32([ix, iy]) / self._scale
        return shift(downscale(moved), rest)

    def move_start(self, frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The start's frame and mask moved whole by this frame's fit: the edge solve then reads the
        moved frame as it is (``crop`` gives None) and the matte goes back with ``back``."""
        self.moved_whole = True
        return self.whole(frame), self.whole(mask)

    def whole(self, image: np.ndarray) -> np.ndarray:
        """A full-size image of this frame (the frame, the start's mask) moved by this frame's fit."""
        return image if self.shifted is None else shift(image, self.shifted, self._scale)

    def crop(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """The box (x0, y0, x1, y1) of the moved frame, for the edge solve to read (about a quarter of
        the cost of moving the whole frame); None when the frame is not moved, or was moved whole."""
        if self.shifted is None or self.moved_whole:
            return None
        x0, y0, x1, y1 = box
        m = scaled(self.shifted, self._scale, (x0, y0))
        return cv2.warpAffine(frame, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def back(self, alpha: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
        """The matte of a steadied frame (full size), moved back onto the frame as it came; outside
        ``box`` (where the matter found the subject) it is 0 and stays 0."""
        if self.shifted is None or box is None:  # not moved, or nothing of the subject
            return alpha
        h, w = alpha.shape
        pad = int(np.ceil(reach(self.shifted, (h / self._scale, w / self._scale)) * self._scale)) + 2
        x0, y0, x1, y1 = max(0, box[0] - pad), max(0, box[1] - pad), min(w, box[2] + pad), min(h, box[3] + pad)
        out = np.zeros_like(alpha)
        m = scaled(cv2.invertAffineTransform(self.shifted), self._scale, (x0, y0))
        out[y0:y1, x0:x1] = cv2.warpAffine(alpha, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out

    def follow(self, small: np.ndarray, background: np.ndarray | None) -> Warp:
        """This frame's move (``small``: RGB at tracking size; ``background``: bool, where the subject
        is not, in the median's geometry), starting from the last one. A failed fit, or one beyond
        ``MOST_SWAY``, keeps the last move."""
        where = None if background is None else background.view(np.uint8)
        found = register(self.reference, gray(small), where, self.offset, _ECC_FOLLOW)
        if found is not None and reach(found, small.shape) <= self._most:
            self.offset = found
        else:
            logger.debug("steadying: no fit this frame, the last move kept")
        return self.offset
