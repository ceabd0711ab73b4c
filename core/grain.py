"""How grainy a picture is, and the picture with its grain smoothed.

Why: the embedded engine judges "the same thing" by colour, pixel by pixel (the segmenter's cuts
and floods, the still camera's background subtraction, the edge solve). Grain breaks that up: a
low-light phone clip's sensor noise, and above all an animated GIF's dither (256 colours scattered
to fake the rest), where neighbouring pixels of one shirt differ by 30-60 levels. A click on such a
shirt came back as a 13-pixel dot (the click's own seed: no candidate held together), and the job
lost the subject at once; on a GIF with a still camera, the dither, scattered anew in every frame,
differed from the clip's background everywhere, and a click took half the frame as "what moves".
At 720p and above the cuts work on a crop shrunk by area, which averages most grain away; a small
GIF is cut at its own size or enlarged.

Three uses: the segmenter smooths the frame it cuts on in proportion to its grain, and the
embedded matter a grainy clip's frames at its tracking size (decided once for the clip), while the
outputs keep the clip's own pixels (its noise is its look); a dithered GIF is smoothed as it is
decoded (``gif_smoothing``, core/video_reader.py), so that every stage, the outputs too, sees the
colours the dots stand for, once and alike in every frame.

The grain is measured the way Immerkær's fast noise estimate does (the image filtered by a 3x3
kernel that cancels smooth shading and straight edges), with the median of the response instead
of its mean, so that texture and edges do not count as noise: a clean 720p clip of a lawn measures
3-5 grey levels, the same clip with sensor noise of sigma 12 about 8, dithered GIFs 13-18.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

GRAINY = 5.5  # grey levels of estimated grain above which the cuts see the picture smoothed
SMOOTH_PER_LEVEL = 0.1  # the smoothing's sigma (px) per grey level of grain ...
MAX_SMOOTH = 1.2  # ... and at most this: the cuts need the subject's outline, not its detail
GIF_SMOOTH = 0.8  # ... at most this for a GIF's own frames, which the outputs show

_KERNEL = np.float32([[1, -2, 1], [-2, 4, -2], [1, -2, 1]])
_TO_SIGMA = float(np.sqrt(np.pi / 2) / 6)  # |response| -> sigma of Gaussian noise


def pixel_noise(image: np.ndarray) -> float:
    """The grain of an RGB uint8 image, as the sigma (grey levels) of the noise it would be."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if min(grey.shape) < 3:
        return 0.0
    response = cv2.filter2D(grey, cv2.CV_16S, _KERNEL)[1:-1:2, 1:-1]  # every other row: enough
    return float(np.median(np.abs(response))) * _TO_SIGMA


def smoothing_for(image: np.ndarray, most: float = MAX_SMOOTH) -> float:
    """The sigma (px) that smooths the grain of ``image`` away: 0 when it is not grainy (``GRAINY``)."""
    noise = pixel_noise(image)
    sigma = 0.0 if noise <= GRAINY else min(most, SMOOTH_PER_LEVEL * noise)
    logger.debug("grain of %.1f grey levels: smoothing %.2f px", noise, sigma)
    return sigma


def without_grain(image: np.ndarray) -> np.ndarray:
    """``image`` itself when it is not grainy, else smoothed in proportion to its grain."""
    sigma = smoothing_for(image)
    return image if sigma == 0.0 else smoothed(image, sigma)


def smoothed(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` blurred by a Gaussian of ``sigma`` px."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def gif_smoothing(first_frame: np.ndarray) -> float:
    """The sigma (px) a GIF's frames are smoothed by as they are decoded, from its first frame: 0 for
    a GIF of flat colours (a cartoon, pixel art, text: nothing scattered, nothing to smooth), at most
    ``GIF_SMOOTH`` for a dithered photograph: enough for the engine, a softening hard to see."""
    return smoothing_for(first_frame, GIF_SMOOTH)
