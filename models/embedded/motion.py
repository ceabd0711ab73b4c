"""Motion between consecutive low-resolution frames: dense optical flow and the camera's motion.

Why both: the dense flow (DIS, fast enough at a few hundred pixels wide) carries the previous
matte onto the new frame, including the subject's own motion, rotation and scaling; the camera's
motion (a similarity transform fitted robustly to the flow of background pixels) moves the
background plate, so a panning shot can still be compared against its background.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

STILL_PX = 0.05  # below this the camera counts as still: no plate warp (it would only blur)
UNCHANGED = 8  # grey levels: a tracking pixel this close to the last frame's has not changed ...
MISSED = 8  # ... while the flow's prediction of it is further off than this: the flow is wrong there
HELD = 0.9  # ... and its last matte, if at least this, holds
_GRID = 4  # camera motion is fitted to background pixels on this grid
_MIN_SIDE = 16  # px: smaller frames are padded for the flow


class FlowTracker:
    """Backward dense flow: for each pixel of the current frame, where it was in the previous one."""

    def __init__(self, width: int, height: int) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._dis.setUseSpatialPropagation(True)
        xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.grid = np.dstack([xs, ys])

    def backward(self, gray: np.ndarray, prev_gray: np.ndarray) -> np.ndarray:
        """Flow (HxWx2) so that ``gray(x) ~ prev_gray(x + flow(x))``.

        DIS fails on a frame under about 10 px a side (a 2000 x 64 banner clip is 8 px high at a
        small working size): such frames are padded by their edge pixels and the flow cropped back."""
        h, w = gray.shape[:2]
        if h >= _MIN_SIDE and w >= _MIN_SIDE:
            return self._dis.calc(gray, prev_gray, None)
        pad = (0, max(0, _MIN_SIDE - h), 0, max(0, _MIN_SIDE - w))
        padded = [cv2.copyMakeBorder(g, *pad, cv2.BORDER_REPLICATE) for g in (gray, prev_gray)]
        return np.ascontiguousarray(self._dis.calc(padded[0], padded[1], None)[:h, :w])

    def carry(self, alpha: np.ndarray, flow: np.ndarray, gray: np.ndarray, prev_gray: np.ndarray,
              still: bool) -> np.ndarray:
        """The last frame's matte ``alpha`` brought onto this one along ``flow``; with a ``still``
        camera, held where the flow is wrong: the pixel has not changed since the last frame
        (``UNCHANGED``), the flow's prediction of it missed (``MISSED``), and it was subject (``HELD``).

        Why: beside something that moves fast (a ball bouncing past a shoulder), DIS gives the still
        edge of the subject that thing's motion, the matte carried there comes from where the thing
        was (background), and with the plate unknown there (someone on the spot) the colours cannot
        win it back: a chunk of the shoulder went for four frames (bench.synthetic's linger clips:
        2,337 px of the 720p clip's eroded interior at frame 40, about 650 at frame 4 of the 360p
        one; now 35 and 24-41). Where the flow is right the warped last frame predicts the pixel, and
        the subject's edge moving over a background of its own colour is carried as before (holding
        every unchanged pixel's matte, the top of a head kept the dark hair that took its place:
        bench.quality's still 720p clip, least IoU 0.9745 -> 0.9637). About 0.15 ms a frame: worked
        out in the box of the solid matte only.
        """
        carried = self.warp(alpha, flow)
        if not still:
            return carried
        solid = cv2.compare(alpha, HELD, cv2.CMP_GT)
        x, y, w, h = cv2.boundingRect(solid)  # what can hold: worked out in its box only
        if w == 0:
            return carried
        box = (slice(y, y + h), slice(x, x + w))
        unchanged = cv2.compare(cv2.absdiff(gray[box], prev_gray[box]), UNCHANGED, cv2.CMP_LT)
        missed = cv2.compare(cv2.absdiff(gray[box], self.warp(prev_gray, flow, box)), MISSED, cv2.CMP_GT)
        held = cv2.bitwise_and(cv2.bitwise_and(unchanged, missed), solid[box])
        part = carried[box]
        np.maximum(part, alpha[box], out=part, where=held > 0)
        return carried

    def warp(self, image: np.ndarray, flow: np.ndarray, roi: tuple[slice, slice] | None = None) -> np.ndarray:
        """Bring ``image`` (previous frame's geometry) onto the current frame along ``flow``; with
        ``roi``, only that part of the current frame (the whole ``image`` is still sampled from)."""
        maps = self.grid + flow if roi is None else self.grid[roi] + flow[roi]
        return cv2.remap(image, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def camera_motion(flow: np.ndarray, background: np.ndarray, samples: int = 400) -> np.ndarray | None:
    """2x3 similarity mapping current -> previous coordinates, fitted to background flow.

    ``background`` (bool HxW) marks pixels believed to be background. Returns None when there are
    too few of them to trust a fit (the subject fills the frame).
    """
    # Every 4th row and column is plenty for a 4-parameter fit and 16x cheaper to scan; the
    # samples are then spread evenly over what is left (no random draw over 100k pixels).
    ys, xs = np.nonzero(background[::_GRID, ::_GRID])
    if xs.size * _GRID * _GRID < 50:
        return None
    pick = np.linspace(0, xs.size - 1, min(samples, xs.size)).astype(np.intp)
    ys, xs = ys[pick] * _GRID, xs[pick] * _GRID
    x, y = xs.astype(np.float32), ys.astype(np.float32)
    f = flow[ys, xs]
    src = np.stack([x, y], axis=1)
    dst = src + f
    med = np.sort(f, axis=0)[len(f) // 2]  # the median (np.median costs 40x more here)
    if np.all(np.abs(f - med) < 0.15) and np.all(np.abs(med) < STILL_PX):
        return np.float32([[1, 0, 0], [0, 1, 0]])  # a still camera: skip the robust fit
    m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                             maxIters=200, confidence=0.98)
    if m is None or inliers is None or inliers.sum() < 0.3 * len(src):
        return None
    return m.astype(np.float32)


def is_still(m: np.ndarray | None, tolerance_px: float = STILL_PX) -> bool:
    """True when the camera transform is (almost) the identity: no point moves ``tolerance_px`` or more."""
    if m is None:
        return False
    corners = np.float32([[0, 0, 1], [500, 300, 1]])
    moved = corners @ m.T - corners[:, :2]
    return bool(np.abs(moved).max() < tolerance_px)


def camera_moves(first: np.ndarray, later: np.ndarray, moving_px: float) -> bool:
    """True when the background of ``later`` is clearly shifted from ``first`` (grey frames of one
    size): a fit of the dominant motion of the whole frame, so a subject covering less than two
    thirds of it does not sway it. Unsure (no fit) counts as not moving."""
    if first.shape != later.shape:
        return False
    flow = FlowTracker(first.shape[1], first.shape[0]).backward(later, first)
    m = camera_motion(flow, np.ones(first.shape, bool))
    return m is not None and not is_still(m, moving_px)


def nearest_body(moving: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, which "body" of the moving parts (uint8 0/1) is nearest (int32 labels; all 1 when
    nothing is left), and the bodies themselves (uint8 0/1).
    Bodies are what remains once parts thinner than ``size`` px are opened away:
    two things that touch through a thin bridge (a hand giving a dog a ball) are two bodies, and
    each moving pixel goes with the nearest one, so a dog's legs stay with the dog and the
    person's arm with the person."""
    bodies = cv2.morphologyEx(moving, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    if not bodies.any():
        return np.ones(moving.shape, np.int32), bodies
    _, owner = cv2.distanceTransformWithLabels(1 - bodies, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_CCOMP)
    return owner, bodies
