"""Draws the example background images in assets/backgrounds/ (run once; the JPEGs are committed).

They are made here, procedurally, so that they carry no third-party rights: a sunset gradient,
out-of-focus city lights, a photo-studio backdrop and a simple landscape.
Usage: .venv/bin/python assets/make_backgrounds.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

W, H = 1280, 720
OUT = Path(__file__).resolve().parent / "backgrounds"


def vertical_gradient(stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """RGB image whose rows blend between (position 0..1, colour) stops."""
    ys = np.linspace(0.0, 1.0, H)
    pos = [p for p, _ in stops]
    column = np.stack([np.interp(ys, pos, [c[i] for _, c in stops]) for i in range(3)], axis=1)
    return np.repeat(column[:, None, :], W, axis=1).astype(np.float32)


def sunset() -> np.ndarray:
    img = vertical_gradient([(0.0, (38, 42, 110)), (0.45, (231, 111, 81)), (0.62, (250, 200, 110)),
                             (0.63, (40, 60, 80)), (1.0, (20, 30, 45))])
    cv2.circle(img, (W // 2, int(H * 0.62)), 90, (255, 225, 150), -1, cv2.LINE_AA)
    img[int(H * 0.63):] = vertical_gradient([(0.0, (40, 60, 80)), (1.0, (15, 22, 35))])[int(H * 0.63):]
    return img


def bokeh(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = vertical_gradient([(0.0, (12, 14, 30)), (1.0, (30, 20, 40))])
    layer = np.zeros_like(img)
    palette = [(255, 190, 90), (255, 120, 80), (120, 180, 255), (255, 240, 200), (200, 120, 255)]
    for _ in range(70):
        x, y, r = int(rng.integers(0, W)), int(rng.integers(0, H)), int(rng.integers(18, 70))
        colour = palette[int(rng.integers(len(palette)))]
        cv2.circle(layer, (x, y), r, tuple(float(c) * rng.uniform(0.25, 0.6) for c in colour), -1, cv2.LINE_AA)
    layer = cv2.GaussianBlur(layer, (0, 0), 6)
    return np.clip(img + layer, 0, 255)


def studio() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    d = np.sqrt(((xx - W / 2) / (W * 0.6)) ** 2 + ((yy - H * 0.4) / (H * 0.8)) ** 2)
    light = np.clip(1.0 - d, 0.0, 1.0)[..., None]
    return np.clip(np.array([70, 78, 92], np.float32) + light * np.array([120, 120, 118], np.float32), 0, 255)


def landscape(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = vertical_gradient([(0.0, (110, 170, 235)), (0.55, (200, 225, 245)), (1.0, (200, 225, 245))])
    xs = np.arange(W)
    for base, amp, colour in [(0.55, 60, (120, 140, 170)), (0.68, 45, (70, 120, 80)), (0.8, 30, (50, 95, 55))]:
        phase = rng.uniform(0, 6.28, 3)
        ridge = H * base + amp * (np.sin(xs / 170 + phase[0]) + 0.5 * np.sin(xs / 61 + phase[1])
                                  + 0.25 * np.sin(xs / 23 + phase[2]))
        mask = np.arange(H)[:, None] >= ridge[None, :]
        img[mask] = colour
    return cv2.GaussianBlur(img, (0, 0), 1.2)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in [("sunset", sunset), ("city-bokeh", bokeh), ("studio-grey", studio), ("hills", landscape)]:
        rgb = np.clip(draw(), 0, 255).astype(np.uint8)
        path = OUT / f"{name}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        logger.info("wrote %s (%d KB)", path, path.stat().st_size // 1024)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
