"""What the studio draws over a frame: each subject's mask or matte in its own colour, its clicks.

Kept apart from core/preview.py (which works out the masks) because it is only pixels: a mask
preview tints the clicks' selection (``draw_overlay``); 'Matte here' tints the matte a job carries
to a frame as far as it is opaque (``draw_matte``).
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from models.base import NEGATIVE, ObjectPrompt

#: one colour per subject (RGB), reused cyclically
OBJECT_COLORS = [(30, 144, 255), (255, 99, 71), (50, 205, 50), (255, 215, 0), (186, 85, 211), (0, 206, 209)]


def subject_color(object_id: int) -> tuple[int, int, int]:
    """The colour subject ``object_id`` (from 1) is drawn in."""
    return OBJECT_COLORS[(object_id - 1) % len(OBJECT_COLORS)]


def draw_overlay(frame: np.ndarray, masks: dict[int, np.ndarray], objects: list[ObjectPrompt],
                 removed: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Tint each subject's mask in its colour, outline it, and draw its clicks and box; what a
    correction takes out of a subject (``removed``) is darkened and striped in its colour."""
    out = frame.copy()
    thickness = max(2, round(max(frame.shape[:2]) / 400))
    if removed:
        stripes = (np.add.outer(np.arange(frame.shape[0]), np.arange(frame.shape[1])) // (4 * thickness)) % 2 == 0
    for oid, region in (removed or {}).items():
        color = np.array(subject_color(oid), dtype=np.float32)
        out[region] = (0.5 * out[region]).astype(np.uint8)
        out[region & stripes] = (0.5 * out[region & stripes] + 0.5 * color).astype(np.uint8)
    for oid, mask in masks.items():
        color = np.array(subject_color(oid), dtype=np.float32)
        m = mask.astype(bool)
        out[m] = (0.55 * out[m] + 0.45 * color).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), thickness, cv2.LINE_AA)
    radius = max(5, round(max(frame.shape[:2]) / 120))
    for obj in objects:
        color = subject_color(obj.object_id)
        if obj.box is not None:
            x0, y0, x1, y1 = (round(v) for v in obj.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), color, thickness, cv2.LINE_AA)
        for (x, y), label in zip(obj.points, obj.labels, strict=True):
            center = (round(x), round(y))
            fill = (220, 40, 40) if label == NEGATIVE else (40, 200, 80)
            cv2.circle(out, center, radius + 2, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(out, center, radius, fill, -1, cv2.LINE_AA)
            if label == NEGATIVE:
                cv2.line(out, (center[0] - radius // 2, center[1]), (center[0] + radius // 2, center[1]),
                         (255, 255, 255), 2, cv2.LINE_AA)
    return out


def draw_matte(frame: np.ndarray, alphas: Mapping[int, np.ndarray]) -> np.ndarray:
    """Each subject tinted in its colour as far as its matte is opaque (a pale tint: see-through
    there), and outlined where it is half; the background darkened, so what is kept stands out."""
    out = frame.astype(np.float32) * 0.6
    for oid, alpha in alphas.items():
        tinted = 0.55 * frame + 0.45 * np.array(subject_color(oid), dtype=np.float32)
        out += alpha[..., None] * (tinted - out)
    out = np.clip(out, 0, 255).astype(np.uint8)
    thickness = max(2, round(max(frame.shape[:2]) / 400))
    for oid, alpha in alphas.items():
        color = subject_color(oid)
        contours, _ = cv2.findContours((alpha > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, color, thickness, cv2.LINE_AA)
    return out
