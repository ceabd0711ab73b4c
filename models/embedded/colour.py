"""Colour models of subject and background: 3-D histograms and their per-pixel posterior.

Why histograms: back-projection through a lookup table is a single cv2 call per frame (fast,
releases the GIL), and a histogram keeps multi-modal colours (skin + clothes + hair) that a
single Gaussian would blur together. Colours are quantised to ``BINS`` levels per channel.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

BINS = 16
_SHIFT = 4  # 256 / BINS = 2**4
_RANGES = [0, 256, 0, 256, 0, 256]


def histogram(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised (sum 1) 3-D colour histogram of the pixels where ``mask`` is set (+ a small prior)."""
    m = mask.astype(np.uint8)
    hist = cv2.calcHist([image], [0, 1, 2], m, [BINS, BINS, BINS], _RANGES)
    hist = cv2.GaussianBlur(hist.reshape(BINS, BINS * BINS), (3, 3), 0).reshape(BINS, BINS, BINS)
    hist += 1e-3 * max(float(hist.sum()), 1.0) / hist.size  # unseen colours are possible, not impossible
    return (hist / hist.sum()).astype(np.float32)


def bin_index(image: np.ndarray) -> np.ndarray:
    """Flat histogram-bin index of every pixel (int32 HxW), matching ``histogram``'s layout."""
    q = (image >> _SHIFT).astype(np.int32)
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


class ColourModel:
    """Subject/background histograms with slow updates; ``posterior`` gives P(subject | colour)."""

    def __init__(self, image: np.ndarray, fg: np.ndarray, bg: np.ndarray, fg_uniform: float = 0.0) -> None:
        """``fg_uniform`` in [0, 1) mixes a flat histogram into the subject's (colours not yet seen)."""
        self.fg = (1 - fg_uniform) * histogram(image, fg) + fg_uniform / BINS**3
        self.bg = histogram(image, bg)
        self._table = self._make_table()
        self._lut = np.round(self._table).astype(np.uint8).ravel()

    def _make_table(self) -> np.ndarray:
        return (255.0 * self.fg / (self.fg + self.bg)).astype(np.float32)

    def update(self, image: np.ndarray, fg: np.ndarray, bg: np.ndarray, rate: float = 0.1) -> None:
        """Blend in the colours of confidently labelled pixels (keeps up with lighting changes)."""
        if np.count_nonzero(fg) > 50:
            self.fg = (1 - rate) * self.fg + rate * histogram(image, fg)
        if np.count_nonzero(bg) > 50:
            self.bg = (1 - rate) * self.bg + rate * histogram(image, bg)
        self._table = self._make_table()
        self._lut = np.round(self._table).astype(np.uint8).ravel()

    def posterior(self, image: np.ndarray) -> np.ndarray:
        """P(subject) per pixel from its colour alone (float32 HxW in [0, 1])."""
        return self.posterior_u8(image).astype(np.float32) * (1.0 / 255.0)

    def posterior_u8(self, image: np.ndarray) -> np.ndarray:
        """``posterior`` scaled to 0..255 as uint8 (cheapest form): one table look-up per pixel."""
        return np.take(self._lut, bin_index(image))

    def separability(self) -> float:
        """How distinct the two colour sets are (1 - overlap of the histograms), in [0, 1]."""
        return float(1.0 - np.minimum(self.fg, self.bg).sum())
