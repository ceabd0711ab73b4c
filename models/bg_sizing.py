"""Sizes for generated backgrounds: what the model draws, and what gets outpainted.

Diffusion models draw best near the area they were trained at and need sides in multiples of their
latent grid, so the picture is planned at the video's aspect near that area; beyond a 2:1 aspect
the model draws the centre and the canvas is widened for outpainting. The finished picture is then
scaled to cover the output (core.compositing.fit_cover): never stretched.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Widest (or tallest) aspect a model draws in one go; beyond it the sides are outpainted.
MAX_MODEL_ASPECT = 2.0


@dataclass(frozen=True)
class SizePlan:
    """What the model draws (``base``) and the canvas it is extended to (``canvas``), in pixels."""

    base_w: int
    base_h: int
    canvas_w: int
    canvas_h: int

    @property
    def outpaint(self) -> bool:
        return (self.base_w, self.base_h) != (self.canvas_w, self.canvas_h)


def _round_to(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def plan_size(width: int, height: int, native_px: int, multiple: int = 64) -> SizePlan:
    """Sides near ``native_px``² in area at the aspect of ``width``x``height``, multiples of ``multiple``.

    Beyond ``MAX_MODEL_ASPECT`` the base keeps the largest aspect the model handles well and the
    canvas is widened (or heightened) to the full aspect, to be outpainted.
    """
    aspect = width / height
    base_aspect = min(max(aspect, 1.0 / MAX_MODEL_ASPECT), MAX_MODEL_ASPECT)
    base_w = _round_to(native_px * math.sqrt(base_aspect), multiple)
    base_h = _round_to(native_px / math.sqrt(base_aspect), multiple)
    canvas_w, canvas_h = base_w, base_h
    if aspect > MAX_MODEL_ASPECT:
        canvas_w = _round_to(base_h * aspect, multiple)
    elif aspect < 1.0 / MAX_MODEL_ASPECT:
        canvas_h = _round_to(base_w / aspect, multiple)
    return SizePlan(base_w, base_h, canvas_w, canvas_h)
