"""Embedded segmenter: clicks and/or a box -> subject mask, with no model weights.

How: a graph cut (cv2.grabCut) on a downscaled copy of the image. The cut is seeded from the
prompt: a box makes everything outside it background; clicks pin small discs; with clicks only,
the first guess of the subject is the region around the click whose colours look more like the
click's neighbourhood than like the frame border. The mask keeps only the parts connected to a
positive click, and is brought back to full resolution with a fast guided filter, so its edge
follows the real image edge instead of a blocky upscale. A further click restarts the cut from
the previous mask (``previous``), which is quicker and keeps what was already right.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from core.exceptions import EmptyMaskError, MaskSizeError, NoPromptError, PointOutOfFrameError, PromptError
from models.base import POSITIVE, ObjectPrompt, Segmenter, SegmentResult
from models.embedded.colour import ColourModel
from models.embedded.guided import gray_coefficients, upsample_apply

logger = logging.getLogger(__name__)

WORK_SIDE = 320  # long side of the graph cut: grabCut's cost grows fast with size (0.26 s here at 320)
GC_ITERATIONS = 3


def clean_mask(mask: np.ndarray, min_fraction: float = 0.002) -> np.ndarray:
    """Drop specks and fill pin-holes: components/holes smaller than ``min_fraction`` of the image."""
    m = mask.astype(np.uint8)
    min_area = max(4, int(min_fraction * m.size))
    for value in (1, 0):  # 1: remove small islands; 0: fill small holes
        target = (m == value).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(target, connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
        small = small[small != 0]
        if small.size:
            m[np.isin(labels, small)] = 1 - value
    return m.astype(bool)


class EmbeddedSegmenter(Segmenter):
    """Graph-cut segmenter seeded by clicks/box; ``set_image`` precomputes the small image."""

    name = "embedded"

    def __init__(self, work_side: int = WORK_SIDE) -> None:
        self.work_side = work_side
        self._image: np.ndarray | None = None
        self._small: np.ndarray | None = None
        self._scale = 1.0

    def set_image(self, image: np.ndarray) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise PromptError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}",
                              "decode the frame as RGB 8-bit before segmenting")
        h, w = image.shape[:2]
        self._scale = min(1.0, self.work_side / max(h, w))
        size = (max(8, round(w * self._scale)), max(8, round(h * self._scale)))
        self._image = image
        self._small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        sh, sw = self._small.shape[:2]
        self._sx, self._sy = sw / w, sh / h

    def close(self) -> None:
        self._image = self._small = None

    # --- prompt handling ----------------------------------------------------------------
    def _check(self, prompt: ObjectPrompt) -> None:
        if self._image is None:
            raise PromptError("no image to segment", "call set_image(frame) before segment()")
        h, w = self._image.shape[:2]
        if prompt.mask is not None:
            if prompt.mask.shape[:2] != (h, w):
                raise MaskSizeError(f"mask is {prompt.mask.shape[1]}x{prompt.mask.shape[0]}, frame is {w}x{h}")
            if not np.any(prompt.mask):
                raise EmptyMaskError("the prompt mask has no subject pixels")
            return
        if prompt.is_empty():
            raise NoPromptError("no clicks, box or mask for the subject")
        if len(prompt.labels) != len(prompt.points):
            raise PromptError(f"{len(prompt.points)} points but {len(prompt.labels)} labels",
                              "give one label (1 subject, 0 background) per point")
        for x, y in prompt.points:
            if not (0 <= x < w and 0 <= y < h):
                raise PointOutOfFrameError(f"point ({x:g}, {y:g}) is outside the {w}x{h} frame")
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            if not (x1 > x0 and y1 > y0):
                raise PromptError(f"box {prompt.box} is empty", "a box is x0, y0, x1, y1 with x1 > x0, y1 > y0")
        if not any(lab == POSITIVE for lab in prompt.labels) and prompt.box is None:
            raise NoPromptError("only background clicks: nothing marks the subject")

    def segment(self, prompt: ObjectPrompt, previous: SegmentResult | None = None) -> SegmentResult:
        self._check(prompt)
        if prompt.mask is not None:
            mask = clean_mask(prompt.mask.astype(bool))
            return SegmentResult(mask=mask, score=1.0, logits=None)
        small = self._small
        assert small is not None
        sh, sw = small.shape[:2]
        pts = [(int(min(sw - 1, x * self._sx)), int(min(sh - 1, y * self._sy))) for x, y in prompt.points]
        pos = [p for p, lab in zip(pts, prompt.labels, strict=True) if lab == POSITIVE]
        neg = [p for p, lab in zip(pts, prompt.labels, strict=True) if lab != POSITIVE]
        radius = max(2, round(0.015 * max(sh, sw)))
        gc = self._initial_labels(prompt, previous, pos, radius)
        for p in pos:
            cv2.circle(gc, p, radius, cv2.GC_FGD, -1)
        for p in neg:
            cv2.circle(gc, p, radius, cv2.GC_BGD, -1)
        if np.any((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)) and np.any((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)):
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            cv2.grabCut(small, gc, None, bgd, fgd, GC_ITERATIONS, cv2.GC_INIT_WITH_MASK)
        fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        fg = self._keep_prompted(fg, pos, prompt)
        fg = clean_mask(fg)
        soft = self._to_full(fg)
        mask = soft >= 0.5
        if not mask.any() and pos:  # never return nothing for a click on the subject
            mask = self._to_full(np.ones_like(fg)) >= 0.5
        return SegmentResult(mask=mask, score=self._score(fg), logits=fg.astype(np.float32))

    def _initial_labels(self, prompt: ObjectPrompt, previous: SegmentResult | None,
                        pos: list[tuple[int, int]], radius: int) -> np.ndarray:
        small = self._small
        assert small is not None
        sh, sw = small.shape[:2]
        if previous is not None and previous.mask.shape[:2] == self._image.shape[:2]:
            prev = cv2.resize(previous.mask.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST)
            return np.where(prev > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            gc[:] = cv2.GC_BGD
            gc[int(y0 * self._sy):int(np.ceil(y1 * self._sy)), int(x0 * self._sx):int(np.ceil(x1 * self._sx))] = cv2.GC_PR_FGD
            return gc
        # Clicks only: colours near the clicks vs colours along the frame border.
        near = np.zeros((sh, sw), np.uint8)
        for p in pos:
            cv2.circle(near, p, 4 * radius, 1, -1)
        border = np.zeros((sh, sw), np.uint8)
        b = max(2, round(0.04 * max(sh, sw)))
        # Top, left and right bands: a subject (a person) is often cut by the bottom edge, rarely elsewhere.
        border[:b], border[:, :b], border[:, -b:] = 1, 1, 1
        border &= 1 - near
        # A subject is rarely one colour (skin, clothes, hair): anything unlike the border is a
        # candidate, so the click's colours are mixed with a flat "any colour" model.
        model = ColourModel(small, near, border, fg_uniform=0.8)
        likely = (model.posterior(small) > 0.5).astype(np.uint8)
        likely = cv2.morphologyEx(likely, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        likely |= near
        n, labels = cv2.connectedComponents(likely, connectivity=8)
        keep = {int(labels[y, x]) for x, y in pos if likely[y, x]}
        region = np.isin(labels, list(keep)) if keep else near.astype(bool)
        gc[region] = cv2.GC_PR_FGD
        return gc

    def _keep_prompted(self, fg: np.ndarray, pos: list[tuple[int, int]], prompt: ObjectPrompt) -> np.ndarray:
        """Only the parts of the cut that a positive click (or, box-only, the biggest part) belongs to."""
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
        if n <= 2:
            return fg
        keep = {int(labels[y, x]) for x, y in pos if fg[y, x]}
        if not keep:
            keep = {1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))}
        return np.isin(labels, list(keep))

    def _to_full(self, fg: np.ndarray) -> np.ndarray:
        """Low-res mask -> full-res soft mask whose edges snap to the full image (fast guided filter)."""
        image, small = self._image, self._small
        assert image is not None and small is not None
        guide_small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        a, b = gray_coefficients(guide_small, fg.astype(np.float32), 2, 1e-3)
        guide_full = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        return upsample_apply(a, b, guide_full)

    def _score(self, fg: np.ndarray) -> float:
        """Confidence: how well the subject's colours separate from the background's (0..1)."""
        if not fg.any() or fg.all():
            return 0.0
        small = self._small
        assert small is not None
        model = ColourModel(small, fg, ~fg)
        post = model.posterior(small)
        agree = np.where(fg, post, 1.0 - post)
        return float(np.clip(agree.mean(), 0.0, 1.0))
