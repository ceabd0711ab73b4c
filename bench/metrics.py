"""Alpha-matte quality metrics, with the scales used in video-matting papers (RVM, MatAnyone).

Why these: IoU at 0.5 says whether the subject was found at all; MAD and MSE measure the soft
edge; dtSSD measures flicker (temporal coherence), which per-frame metrics cannot see.
All functions take float alphas in [0, 1] of equal shape; uint8 mattes are scaled by 1/255.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)


def as_alpha(a: np.ndarray) -> np.ndarray:
    """float64 alpha in [0, 1] from uint8 (0..255), uint16 (0..65535), bool or float input."""
    a = np.asarray(a)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    return a.astype(np.float64)


def _check(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, t = as_alpha(pred), as_alpha(true)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from ground truth {t.shape}")
    return p, t


def iou(pred: np.ndarray, true: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection over union of the two mattes binarised at ``threshold`` (1.0 when both empty)."""
    p, t = _check(pred, true)
    pb, tb = p >= threshold, t >= threshold
    union = np.count_nonzero(pb | tb)
    return 1.0 if union == 0 else np.count_nonzero(pb & tb) / union


def mad(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute difference, x1e3."""
    p, t = _check(pred, true)
    return float(np.abs(p - t).mean() * 1e3)


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean squared error, x1e3."""
    p, t = _check(pred, true)
    return float(((p - t) ** 2).mean() * 1e3)


def dtssd(pred_t: np.ndarray, pred_prev: np.ndarray, true_t: np.ndarray, true_prev: np.ndarray) -> float:
    """Temporal-derivative error of one frame, x1e2.

    The change of the predicted matte from the previous frame is compared with the change of the
    true matte; the root of the mean squared difference is the per-frame value (RVM's definition:
    sum of squares divided by the pixel count, then the square root).
    """
    p, pp = _check(pred_t, pred_prev)
    t, tp = _check(true_t, true_prev)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from ground truth {t.shape}")
    d = (p - pp) - (t - tp)
    return float(np.sqrt((d * d).sum() / d.size) * 1e2)


@dataclass
class ClipScore:
    """Running per-frame metrics of one clip; feed frames in order with ``add``."""

    ious: list[float] = field(default_factory=list)
    mads: list[float] = field(default_factory=list)
    mses: list[float] = field(default_factory=list)
    dtssds: list[float] = field(default_factory=list)
    _prev: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, pred: np.ndarray, true: np.ndarray) -> None:
        p, t = _check(pred, true)
        self.ious.append(iou(p, t))
        self.mads.append(mad(p, t))
        self.mses.append(mse(p, t))
        if self._prev is not None:
            self.dtssds.append(dtssd(p, self._prev[0], t, self._prev[1]))
        self._prev = (p, t)

    def summary(self) -> dict[str, float]:
        """Means over the clip (dtSSD over frames 1..n-1); NaN for an empty clip."""

        def m(v: list[float]) -> float:
            return float(np.mean(v)) if v else float("nan")

        return {
            "frames": len(self.ious),
            "iou": m(self.ious),
            "mad": m(self.mads),
            "mse": m(self.mses),
            "dtssd": m(self.dtssds),
            "min_iou": float(min(self.ious)) if self.ious else float("nan"),
        }
