"""Guided filtering (He et al.), the edge-aware smoother that turns a hard mask into a soft matte.

Why: a guided filter makes the output locally a linear function of the image, so a blocky or
low-resolution mask takes on the image's own edges (hair strands, blur) at no training cost.
The "fast" variant computes the linear coefficients at low resolution and applies them to the
full-resolution image: that is how the embedded engine gets full-resolution edges cheaply.
cv2.ximgproc (with its guidedFilter) is not in opencv-python-headless, so this is plain cv2/numpy.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def gray_coefficients(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean linear coefficients (a, b) so that src ~ a * guide + b in every window (gray guide)."""
    mean_i, mean_p = _box(guide, r), _box(src, r)
    cov_ip = _box(guide * src, r) - mean_i * mean_p
    var_i = _box(guide * guide, r) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, r), _box(b, r)


def colour_coefficients(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (a: HxWx3, b: HxW) with src ~ a . guide + b per window (colour guide, float32 0..1).

    The 3x3 window covariance is inverted in closed form (adjugate), vectorised over pixels.
    """
    mean_i = _box(guide, r)
    mean_p = _box(src, r)
    mean_ip = _box(guide * src[..., None], r)
    cov_ip = mean_ip - mean_i * mean_p[..., None]
    ii = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    var = {}
    for i, j in ii:
        var[i, j] = _box(guide[..., i] * guide[..., j], r) - mean_i[..., i] * mean_i[..., j] + (eps if i == j else 0)
    s00, s01, s02, s11, s12, s22 = (var[k] for k in ii)
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    cx, cy, cz = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.stack(
        [(c00 * cx + c01 * cy + c02 * cz) / det, (c01 * cx + c11 * cy + c12 * cz) / det,
         (c02 * cx + c12 * cy + c22 * cz) / det], axis=-1,
    ).astype(np.float32)
    b = mean_p - (a * mean_i).sum(axis=-1)
    return _box(a, r), _box(b, r)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Plain guided filter at one resolution (gray HxW or colour HxWx3 float32 guide)."""
    if guide.ndim == 2:
        a, b = gray_coefficients(guide, src, r, eps)
        return a * guide + b
    a, b = colour_coefficients(guide, src, r, eps)
    return (a * guide).sum(axis=-1) + b


def upsample_apply(a: np.ndarray, b: np.ndarray, guide_full: np.ndarray, guide_scale: float = 1.0) -> np.ndarray:
    """Fast guided filter's last step: coefficients resized to the full guide, then a . (s I) + b.

    ``guide_full`` may be uint8 (gray HxW or RGB HxWx3) with ``guide_scale`` = 1/255, which
    saves converting the full frame to float: the scale is folded into the coefficients.
    Everything at full resolution is a cv2 call (fast, multi-threaded, releases the GIL).
    """
    h, w = guide_full.shape[:2]
    b_full = cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    a_full = cv2.resize(a * np.float32(guide_scale), (w, h), interpolation=cv2.INTER_LINEAR)
    prod = cv2.multiply(guide_full, a_full, dtype=cv2.CV_32F)
    if prod.ndim == 3:
        prod = cv2.transform(prod, np.ones((1, 3), np.float32))  # sum of the three channels
    return cv2.add(prod, b_full)
