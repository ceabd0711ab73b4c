"""A hand-held "still" camera: frames that sway a few pixels, steadied onto the clip's median.

Why: the still camera's plate is the temporal median of frames spread over the clip, compared with
every frame pixel by pixel. A phone held by hand drifts a few pixels over seconds, a fraction of a
pixel a frame: the look at the clip still found a still camera, but the median was smeared and
every frame lay a little off it, so the edges of the whole background (foliage, a kerb) differed
from the plate and came into the matte (../shared/media/dog.mp4 swayed +-4 px: the woman's matte
spread over the hedge and the pavement). Followed as a moving camera instead, the plate lost what
makes a still camera's matte good, with the same result.

So the samples are aligned with the prompt frame before their median is taken, and when they
swayed, each frame is shifted onto the median before it is matted and its matte shifted back:
the matter sees a camera that does not move. The shift is a translation found by ECC (OpenCV's
``findTransformECC``) on the background, to a few hundredths of a tracking pixel; the subject and
whatever else moves is left out of the fit by a mask.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

SWAY_PX = 0.3  # tracking px: samples this close to the reference are taken as they are (a still camera)
MOST_SWAY = 0.04  # x the long side: a fit further off is no hand's sway (a moving camera, or a wrong fit)
AGREE = 20.0  # grey levels: where an aligned sample agrees with the reference, the background (the fit's mask)
TEXTURE = 100.0  # Sobel magnitude (grey levels, 3x3): a pixel of the background a sway changes
TEXTURED_SHARE = 0.02  # of the frame: less texture than this, and a sway changes too little to matter
CLOSE = 8.0  # grey levels: a textured pixel this close to the reference is aligned with it
ALIGNS_BETTER = 0.05  # of the textured background: a sample's fit must make this much more of it agree
STEADY_PX = 0.05  # tracking px: a frame's offset under this is not worth a shift
SOFT = 2.0  # px (tracking size): the softening under which a hand's sway is no difference
_AROUND = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
_ECC_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
_ECC_FOLLOW = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 1e-3)  # frame to frame: from the last offset


def gray(image: np.ndarray) -> np.ndarray:
    """float32 grey of an RGB image (the registrations' input)."""
    return cv2.cvtColor(np.ascontiguousarray(image, np.uint8) if image.dtype != np.uint8 else image,
                        cv2.COLOR_RGB2GRAY).astype(np.float32)


def shift(image: np.ndarray, offset: tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """``image`` moved by ``-offset`` x ``scale`` px (x, y): what lay at ``p + offset`` is at ``p`` then.
    Edges are repeated into the strip that opens."""
    h, w = image.shape[:2]
    m = np.float32([[1, 0, offset[0] * scale], [0, 1, offset[1] * scale]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def unshift(image: np.ndarray, offset: tuple[float, float], scale: float = 1.0) -> np.ndarray:
    """The inverse of ``shift``: ``image`` moved by ``+offset`` x ``scale`` px."""
    return shift(image, (-offset[0], -offset[1]), scale)


def register(reference: np.ndarray, image: np.ndarray, where: np.ndarray | None = None,
             start: tuple[float, float] = (0.0, 0.0), stop: tuple = _ECC_STOP) -> tuple[float, float] | None:
    """Offset (x, y) of ``image`` from ``reference`` (float32 grey, one size): ``image(p + offset)``
    shows what ``reference(p)`` does. ``where``: the pixels to fit on (uint8, 1 = background).
    None when the fit fails (too little texture, or nothing alike)."""
    warp = np.float32([[1, 0, start[0]], [0, 1, start[1]]])
    try:
        _, warp = cv2.findTransformECC(reference, image, warp, cv2.MOTION_TRANSLATION, stop, where, 3)
    except cv2.error:
        return None
    return float(warp[0, 2]), float(warp[1, 2])


def sample_offsets(samples: list[np.ndarray], reference: np.ndarray) -> list[tuple[float, float]]:
    """Each sample's offset from ``reference`` (RGB images of one size); (0, 0) where none is found
    that aligns it better (too little texture to hold on to, or a fit beyond ``MOST_SWAY``: a
    moving camera, which the median's agreement then tells).

    A first fit at half size on what stays alike once both are softened (a sway of a few px is
    smoothed over, a moving subject is not); a sample that swayed then gets a fit at full size on
    what agrees with the reference once aligned, kept if it makes clearly more of the textured
    background agree (``_aligns``). A still camera's samples stop after the first (under 1 ms
    each at 384 x 216).
    """
    ref = gray(reference)
    half_ref = cv2.pyrDown(ref)
    soft_ref = cv2.GaussianBlur(half_ref, (0, 0), SOFT / 2)
    most = MOST_SWAY * max(ref.shape)
    grad = cv2.magnitude(cv2.Sobel(ref, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(ref, cv2.CV_32F, 0, 1, ksize=3))
    textured = grad > TEXTURE  # where a sway of a pixel changes what is seen
    offsets: list[tuple[float, float]] = []
    for sample in samples:
        image = gray(sample)
        half = cv2.pyrDown(image)
        unlike = (cv2.absdiff(cv2.GaussianBlur(half, (0, 0), SOFT / 2), soft_ref) >= AGREE).view(np.uint8)
        alike = 1 - cv2.dilate(unlike, _AROUND)  # and not right beside what moved (its softened edge)
        coarse = register(half_ref, half, alike)
        if coarse is None or max(abs(coarse[0]), abs(coarse[1])) * 2 > most:
            offsets.append((0.0, 0.0))
            continue
        first = (coarse[0] * 2, coarse[1] * 2)
        if max(abs(first[0]), abs(first[1])) < SWAY_PX / 2:
            offsets.append(first)
            continue
        agree = (cv2.absdiff(shift(image, first), ref) < AGREE).view(np.uint8)
        fitted = register(ref, image, agree, first) or first
        where = textured & (cv2.resize(alike, (ref.shape[1], ref.shape[0]), interpolation=cv2.INTER_NEAREST) > 0)
        kept = max(abs(fitted[0]), abs(fitted[1])) <= most and _aligns(ref, image, fitted, where)
        offsets.append(fitted if kept else (0.0, 0.0))
    return offsets


def _aligns(ref: np.ndarray, image: np.ndarray, offset: tuple[float, float], where: np.ndarray) -> bool:
    """True when shifting ``image`` by ``offset`` makes clearly more of the textured background
    ``where`` (bool) agree with ``ref``. A camera's sway does that; a fit that followed something
    large moving across a plain scene (a passer-by) does not: the background's texture disagrees
    after it. Too little texture to say: False (a plain scene needs no steadying either)."""
    count = np.count_nonzero(where)
    if count < TEXTURED_SHARE * where.size:
        return False
    before = np.count_nonzero((cv2.absdiff(image, ref) < CLOSE) & where)
    after = np.count_nonzero((cv2.absdiff(shift(image, offset), ref) < CLOSE) & where)
    return after - before > ALIGNS_BETTER * count


def swayed(offsets: list[tuple[float, float]]) -> bool:
    """True when any sample lies ``SWAY_PX`` or more off the reference."""
    return any(max(abs(x), abs(y)) >= SWAY_PX for x, y in offsets)


class Steadier:
    """Shifts each frame of a hand-held still camera onto its median (tracking size), and its matte back."""

    def __init__(self, median: np.ndarray) -> None:
        self.reference = gray(np.clip(median, 0, 255).astype(np.uint8))
        self.offset = (0.0, 0.0)  # the last frame's offset (tracking px)
        self.shifted: tuple[float, float] | None = None  # this frame's shift, when it got one
        self.frame_done = False  # the frame was shifted whole (the start), not box by box
        self._scale = 1.0  # full-size px per tracking px
        self._most = MOST_SWAY * max(self.reference.shape)

    def steadied(self, frame_shape: tuple[int, ...], small: np.ndarray, subject: np.ndarray,
                 reach: float) -> np.ndarray:
        """``small`` (the frame at tracking size; the frame is ``frame_shape``) shifted onto the median.
        Fitted on the background further than ``reach`` tracking px from ``subject`` (bool, the
        median's geometry: the last matte). Not also where the frame agrees with the median, as the
        look does with the prompt frame: the median is softer than a frame, and that left out the
        textured background the fit needs (offsets 1 px off)."""
        background = cv2.distanceTransform(1 - subject.view(np.uint8), cv2.DIST_L2, 3) > reach
        offset = self.follow(small, background)
        self.shifted, self.frame_done = None, False
        if max(abs(offset[0]), abs(offset[1])) < STEADY_PX:
            return small
        self.shifted, self._scale = offset, frame_shape[1] / small.shape[1]
        return shift(small, offset)

    def shifted_small(self, frame: np.ndarray, downscale) -> np.ndarray:
        """The frame at tracking size (``downscale``) as shifted: by whole full-size pixels before the
        downscale (a copy, no blur), by the rest after it (under 0.5 full px: little blur)."""
        fx, fy = self.shifted[0] * self._scale, self.shifted[1] * self._scale
        ix, iy = int(round(fx)), int(round(fy))
        h, w = frame.shape[:2]
        top, left = max(0, -iy), max(0, -ix)
        padded = cv2.copyMakeBorder(frame, top, max(0, iy), left, max(0, ix), cv2.BORDER_REPLICATE)
        moved = padded[top + iy:top + iy + h, left + ix:left + ix + w]  # what lay at p + (ix, iy) is at p
        return shift(downscale(moved), ((fx - ix) / self._scale, (fy - iy) / self._scale))

    def whole(self, image: np.ndarray) -> np.ndarray:
        """A full-size image of this frame (the frame, the start's mask) shifted as ``small`` was."""
        return image if self.shifted is None else shift(image, self.shifted, self._scale)

    def crop(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """The box (x0, y0, x1, y1) of the shifted frame, for the edge solve to read (about a quarter
        of the cost of shifting the whole frame); None when the frame is not shifted, or was whole."""
        if self.shifted is None or self.frame_done:
            return None
        x0, y0, x1, y1 = box
        m = np.float32([[1, 0, x0 + self.shifted[0] * self._scale], [0, 1, y0 + self.shifted[1] * self._scale]])
        return cv2.warpAffine(frame, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def back(self, alpha: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
        """The matte of a steadied frame (full size), shifted back onto the frame as it came; outside
        ``box`` (where the matter found the subject) it is 0 and stays 0."""
        if self.shifted is None or box is None:  # not shifted, or nothing of the subject
            return alpha
        h, w = alpha.shape
        pad = int(np.ceil(max(abs(self.shifted[0]), abs(self.shifted[1])) * self._scale)) + 2
        x0, y0, x1, y1 = max(0, box[0] - pad), max(0, box[1] - pad), min(w, box[2] + pad), min(h, box[3] + pad)
        out = np.zeros_like(alpha)
        m = np.float32([[1, 0, x0 - self.shifted[0] * self._scale], [0, 1, y0 - self.shifted[1] * self._scale]])
        out[y0:y1, x0:x1] = cv2.warpAffine(alpha, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out

    def follow(self, small: np.ndarray, background: np.ndarray | None) -> tuple[float, float]:
        """This frame's offset (``small``: RGB at tracking size; ``background``: bool, where the
        subject is not, in the median's geometry), starting from the last one. A failed fit, or one
        beyond ``MOST_SWAY``, keeps the last offset."""
        where = None if background is None else background.view(np.uint8)
        found = register(self.reference, gray(small), where, self.offset, _ECC_FOLLOW)
        if found is not None and max(abs(found[0]), abs(found[1])) <= self._most:
            self.offset = found
        else:
            logger.debug("steadying: no fit this frame (%s), the last offset kept", found)
        return self.offset
