"""Clicks for the embedded segmenter: which are which, and which are about the mask shown.

Why a module of its own: the segmenter (models/embedded_segmenter.py) asks of every further click
whether it lies near the mask already shown (a missed part of the subject) or well away from it
(another thing), and splits the clicks by kind, in several places.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.base import POSITIVE, ObjectPrompt
from models.embedded.seg_cut import grown

Point = tuple[float, float]
CLICK_REACH = 0.08  # same-coloured pixels this far (fraction of the short side) from the mask: a click's reach


def split_clicks(prompt: ObjectPrompt) -> tuple[list[Point], list[Point]]:
    """(the 'subject' clicks, the 'not subject' clicks) of ``prompt``, each in the order made."""
    pos = [p for p, lab in zip(prompt.points, prompt.labels, strict=True) if lab == POSITIVE]
    neg = [p for p, lab in zip(prompt.points, prompt.labels, strict=True) if lab != POSITIVE]
    return pos, neg


def reach_px(shape: tuple[int, ...]) -> int:
    """CLICK_REACH in pixels for a frame of ``shape``: a further click this near a mask is about it."""
    return round(CLICK_REACH * min(shape[:2]))


def within_reach(shape: tuple[int, ...]) -> np.ndarray:
    """The disc of CLICK_REACH for a frame of ``shape``, as a structuring element."""
    reach = reach_px(shape)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)


def grown_by_reach(mask: np.ndarray) -> np.ndarray:
    """``mask`` (bool) grown by CLICK_REACH: what a further click near it is about."""
    return grown(mask, reach_px(mask.shape))


def reaches(mask: np.ndarray, point: Point) -> bool:
    """Whether ``point`` lies within CLICK_REACH of ``mask`` (bool): what the mask dilated by
    ``within_reach`` says there, looked up in the disc around the point alone (dilating a 720p frame
    by that disc takes about 60 ms)."""
    disc = within_reach(mask.shape) > 0
    r = disc.shape[0] // 2
    h, w = mask.shape
    x, y = int(point[0]), int(point[1])
    x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(w, x + r + 1), min(h, y + r + 1)
    around = disc[y0 - (y - r):y1 - (y - r), x0 - (x - r):x1 - (x - r)]
    return bool((mask[y0:y1, x0:x1].astype(bool) & around).any())
