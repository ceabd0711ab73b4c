"""Exposure: how much brighter one picture is than another, and pictures brought to one exposure.

Why a module of its own: a phone's exposure follows the scene, so a still camera's samples, its
plate and each frame are compared at one exposure (models/embedded/plate.py, still_camera.py). The
measure is the median of the pixels' brightness ratios, which the background (most of the picture)
decides; the ratio of means is swayed by a white shirt or a dark passer-by.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from models.embedded.median import temporal_median

EXPOSURE_STEADY = 0.03  # a sample this close to the samples' exposure is taken as it is


def brightness(image: np.ndarray) -> np.ndarray:
    """Mean of the three channels, float32 (the ratio of two of these is an exposure ratio)."""
    return cv2.transform(np.ascontiguousarray(image, np.float32), np.full((1, 3), 1 / 3, np.float32))


def even_exposure(samples: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The samples brought to one exposure, and each one's exposure relative to their median.

    Why: a phone's exposure follows the scene (a white shirt walks in, the sun comes out). The
    samples of a still camera whose exposure changed halfway then agree with their median nowhere
    near enough, the camera was taken to be moving and the whole clip matted without a plate
    (../shared/media/dog.mp4 brightened 12 % from frame 120 on: IoU 0.73 against the same job on
    the clip as it was, before the change; 0.34 after it). Each sample's exposure is the median of
    its pixels' brightness ratios to the samples' median, which the background decides; samples
    within ``EXPOSURE_STEADY`` of it are left as they are.
    """
    if len(samples) < 2:
        return list(samples), np.ones(len(samples))
    step = (slice(None, None, 4), slice(None, None, 4))
    then = brightness(temporal_median(samples)[step])
    if not (then > 8.0).any():
        return list(samples), np.ones(len(samples))
    gains = np.array([exposure_ratio(s[step], then, limits=None, least=1) for s in samples])
    gains[np.abs(gains - 1.0) < EXPOSURE_STEADY] = 1.0
    return [at_exposure(s, g) for s, g in zip(samples, gains, strict=True)], gains


def exposure_ratio(now: np.ndarray, then: np.ndarray, where: np.ndarray | None = None,
                   limits: tuple[float, float] | None = (0.7, 1.4), least: int = 50) -> float | None:
    """How much brighter ``now`` (RGB) is than ``then`` (RGB, or its ``brightness`` already) at the
    pixels ``where`` (bool; None: all): the median of their brightness ratios, within ``limits``
    (None: as it is). None when fewer than ``least`` of them are lit enough to say."""
    then = then if then.ndim == 2 else brightness(then)
    sel = then > 8.0  # black pixels say nothing about the light
    if where is not None:
        sel &= where
    if np.count_nonzero(sel) < least:
        return None
    ratio = float(np.median(brightness(now)[sel] / then[sel]))
    return ratio if limits is None else float(np.clip(ratio, *limits))


def at_exposure(image: np.ndarray, gain: float) -> np.ndarray:
    """``image`` with its exposure divided by ``gain`` (same dtype; uint8 saturates)."""
    if gain == 1.0:
        return image
    if image.dtype == np.uint8:
        return cv2.convertScaleAbs(image, alpha=1.0 / gain)
    return (image / np.float32(gain)).astype(image.dtype)
