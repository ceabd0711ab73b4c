"""Full-resolution alpha on the subject's edge: the compositing equation solved with a known background.

Why: a frame is ``I = a F + (1 - a) B``. Where the background ``B`` is known (the clean plate) and
the subject's colour ``F`` can be guessed from nearby sure-subject pixels, the alpha of a pixel is
the projection of ``I - B`` on ``F - B``. That recovers thin, partly transparent strands that no
low-resolution mask can hold. It is only done on the pixels of the unknown band (a few percent of
the frame), as flat arrays, so its cost follows the length of the subject's edge, not the frame size.
Where ``F`` and ``B`` are too alike (the equation is ill-posed) or the plate is unknown, the
caller's fallback alpha (a guided filter of the tracking mask) is kept.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

MIN_CONTRAST = 18.0  # |F - B| (grey levels) below which the solve is not trusted at all
FULL_CONTRAST = 45.0  # ... and above which it is trusted fully
_ROW = 4096


def spread_colours(image: np.ndarray, weight: np.ndarray, levels: int = 5) -> np.ndarray:
    """Fill every pixel with the colour of the nearest weighted pixels (push-pull pyramid).

    ``image`` float32 HxWx3, ``weight`` float32 HxW in [0, 1] (1 = a pixel whose colour is known).
    A pixel keeps its own colour where its weight is 1 and takes the smoothly spread colour of its
    neighbourhood elsewhere, however far the nearest known pixel is. ``weight`` may also be HxWxG:
    G groups of known pixels spread at once, in one pyramid of 3G channels (the result is then
    HxWxGx3), which costs little more than one group on the small crops this works on.
    """
    if weight.ndim == 3:
        h, w, g = weight.shape
        cw = (image[:, :, None, :] * weight[..., None]).reshape(h, w, 3 * g)
        return _push_pull(cw, np.repeat(weight, 3, axis=2), levels).reshape(h, w, g, 3)
    return _push_pull(image * weight[..., None], weight, levels)


def _push_pull(cw0: np.ndarray, w0: np.ndarray, levels: int) -> np.ndarray:
    """Weighted colours ``cw0`` and their weights ``w0`` (HxW, or one per channel) -> spread colours."""
    per_channel = w0.ndim == 3

    def ratio(c: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = np.maximum(w, 1e-6)
        return c / (w if per_channel else w[..., None])

    cw, ww = [cw0], [w0]
    for _ in range(levels):
        if min(ww[-1].shape[:2]) < 4:
            break
        cw.append(cv2.pyrDown(cw[-1]))
        ww.append(cv2.pyrDown(ww[-1]))
    out = ratio(cw[-1], ww[-1])
    for k in range(len(ww) - 2, -1, -1):
        h, w = ww[k].shape[:2]
        up = cv2.pyrUp(out, dstsize=(w, h))
        t = np.clip(ww[k] * 4.0, 0.0, 1.0)  # enough support here: own estimate wins
        if not per_channel:
            t = t[..., None]
        out = ratio(cw[k], ww[k]) * t + up * (1.0 - t)
    return out.astype(np.float32, copy=False)


def gather(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at float pixel coordinates (flat arrays) -> (N,) or (N, C)."""
    return Sampler(xs, ys)(image)


class Sampler:
    """Bilinear samples of several images at one list of float pixel coordinates.

    Why a class: the coordinate maps are laid out (and converted to OpenCV's fixed-point form)
    once, then every image (any number of channels) costs one ``cv2.remap`` over the list.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self.n = n = xs.size
        rows = max(1, -(-n // _ROW))  # remap's maps must stay under 32767 on a side: fold into rows
        mx = np.zeros(rows * _ROW, np.float32)
        my = np.zeros(rows * _ROW, np.float32)
        mx[:n], my[:n] = xs, ys
        self._maps = cv2.convertMaps(mx.reshape(rows, _ROW), my.reshape(rows, _ROW), cv2.CV_16SC2)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        out = cv2.remap(image, self._maps[0], self._maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(out.shape[0] * _ROW, -1)[:self.n] if out.ndim == 3 else out.reshape(-1)[:self.n]


def planar_dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel dot product of planar colour arrays (channel axis -2, pixels last)."""
    return x[..., 0, :] * y[..., 0, :] + x[..., 1, :] * y[..., 1, :] + x[..., 2, :] * y[..., 2, :]


def segment_projection(ee: np.ndarray, ed: np.ndarray, dd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A pixel B + e against the segment from B to a subject colour B + d, given e.e, e.d and d.d:
    (its alpha on the segment, clip(e.d / d.d, 0, 1); its squared distance |e - a d|^2 from the
    segment, computed without an (N, 3) temporary)."""
    a = np.clip(ed / np.maximum(dd, 1.0), 0.0, 1.0)
    return a, ee - a * (2.0 * ed - a * dd)


def solve_alpha(pixel: np.ndarray, fg: np.ndarray, bg: np.ndarray,
                noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel alpha from ``I = a F + (1 - a) B`` (all (N, 3) float32) and a trust weight in [0, 1].

    Trust grows with the contrast |F - B| and falls when the pixel is far from the line between
    B and F (it is then explained by neither: a colour of the subject that ``F`` did not predict).
    ``noise``: grey levels of the pixel's way from B towards F that are not counted (what B itself
    may be off by), so a background a little off its estimate does not read as a little subject.
    """
    # Planar (3, N) copies: three contiguous rows make the dot products plain vector arithmetic,
    # about 3x faster than reductions over the short last axis of (N, 3) arrays.
    d = np.ascontiguousarray((fg - bg).T)
    e = np.ascontiguousarray((pixel - bg).T)
    dd = planar_dot(d, d)
    a, off_sq = segment_projection(planar_dot(e, e), planar_dot(e, d), dd)
    contrast = np.sqrt(dd)
    if noise > 0.0:
        a = np.clip((a * contrast - noise) / np.maximum(contrast - noise, 1.0), 0.0, 1.0)
    trust = np.clip((contrast - MIN_CONTRAST) * (1.0 / (FULL_CONTRAST - MIN_CONTRAST)), 0.0, 1.0)
    off_line = np.sqrt(np.maximum(off_sq, 0.0))
    trust *= np.clip(1.5 - off_line / np.maximum(0.25 * contrast, 12.0), 0.0, 1.0)
    return a.astype(np.float32, copy=False), trust.astype(np.float32, copy=False)
