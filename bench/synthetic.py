"""Synthetic clips whose alpha is known exactly, for the quality benchmark and for tests.

Why synthetic: real footage has no exact matte. Here a textured subject with hair-like strands
(thin, partially transparent) is rendered as a premultiplied sprite, moved, rotated and scaled
along a smooth path (with motion blur from sub-frame samples), and composited over a procedural
natural-looking background that is either still (static camera) or slides (panning camera).
The compositing equation is applied exactly, so the alpha returned is the true matte of the
frame. Frames are rendered on demand: memory stays bounded whatever the clip length.

``linger``: a still camera and a subject that stays where it is, swaying (a person talking, or
juggling on the spot: ../shared/media/juggle.mp4), so the clip's temporal median shows the subject
over most of its area, not the background; and a ball that bounces right beside it, behind it,
not part of it. Real still-camera footage is mostly like this; the other kinds walk the subject
across the frame, where the median is clean.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

KINDS = ("static", "pan", "linger")

# Natural-looking palettes (RGB) for backgrounds and subjects; picked by seed.
_BG_PALETTES = [
    [(46, 82, 40), (98, 128, 62), (150, 160, 110), (70, 60, 45)],  # foliage
    [(120, 150, 190), (180, 190, 200), (90, 90, 100), (150, 130, 110)],  # street, sky
    [(200, 190, 170), (150, 120, 90), (90, 100, 110), (230, 225, 215)],  # indoor wall, wood
]
_FG_PALETTES = [
    [(190, 60, 50), (230, 180, 150), (60, 40, 30)],  # red clothes, skin, dark hair
    [(240, 200, 60), (200, 150, 120), (140, 90, 40)],  # yellow clothes, skin, brown hair
    [(70, 40, 120), (225, 190, 170), (230, 200, 120)],  # purple clothes, skin, blond hair
]


def _noise(rng: np.random.Generator, h: int, w: int, octaves: int = 5, base: int = 4) -> np.ndarray:
    """Multi-octave value noise in [0, 1]: random grids upsampled smoothly and summed."""
    acc = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        cells = base * 2**k
        grid = rng.random((max(2, h * cells // max(h, w)), cells)).astype(np.float32)
        acc += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    acc /= total
    return cv2.normalize(acc, None, 0.0, 1.0, cv2.NORM_MINMAX)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float32 RGB canvas (0..255): palette-mapped noise, blurred shapes, a light gradient, grain."""
    pal = np.array(_BG_PALETTES[int(rng.integers(len(_BG_PALETTES)))], np.float32)
    n1, n2 = _noise(rng, h, w, base=3), _noise(rng, h, w, base=8)
    img = (pal[0] * (1 - n1)[..., None] + pal[1] * n1[..., None]) * (0.7 + 0.6 * n2)[..., None] * 0.8
    for _ in range(int(rng.integers(8, 16))):  # objects: discs, boxes, leaves
        layer = np.zeros((h, w), np.float32)
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        size = int(rng.integers(h // 20, h // 5))
        if rng.random() < 0.5:
            cv2.circle(layer, c, size, 1.0, -1, cv2.LINE_AA)
        else:
            box = cv2.boxPoints((c, (size * 2.0, size * rng.uniform(0.3, 1.5)), rng.uniform(0, 180)))
            cv2.fillPoly(layer, [box.astype(np.int32)], 1.0, cv2.LINE_AA)
        layer = cv2.GaussianBlur(layer, (0, 0), rng.uniform(0.8, 3.0))[..., None]
        colour = pal[int(rng.integers(len(pal)))] * rng.uniform(0.7, 1.2)
        shade = 0.85 + 0.3 * _noise(rng, h, w, octaves=3, base=6)[..., None]
        img = img * (1 - layer) + colour * shade * layer
    img *= np.linspace(1.1, 0.85, h, dtype=np.float32)[:, None, None]  # light from above
    img += rng.normal(0.0, 6.0, (h, w, 3)).astype(np.float32)  # fine grain, fixed in the scene
    return np.clip(img, 0, 255).astype(np.float32)


def _subject(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A head-and-shoulders sprite: premultiplied RGB (float32) and alpha, with hair strands."""
    s = size
    pal = np.array(_FG_PALETTES[int(rng.integers(len(_FG_PALETTES)))], np.float32)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    wobble = (_noise(rng, s, s, octaves=3, base=3) - 0.5) * 0.12
    head = ((xx - 0.5 * s) / (0.12 * s)) ** 2 + ((yy - 0.27 * s) / (0.15 * s)) ** 2 - 1 + wobble
    torso = ((xx - 0.5 * s) / (0.27 * s)) ** 2 + ((yy - 0.9 * s) / (0.38 * s)) ** 2 - 1 + wobble
    neck = np.clip(0.5 - (np.abs(xx - 0.5 * s) - 0.05 * s) / 1.2, 0, 1) * ((yy > 0.38 * s) & (yy < 0.55 * s))
    # Signed distance (approx., px) -> 1.2 px anti-aliased edge.
    sd_head = head * 0.12 * s / 2.0
    sd_torso = torso * 0.27 * s / 2.0
    body_a = np.clip(0.5 - np.minimum(sd_head, sd_torso) / 1.2, 0, 1)
    body_a = np.maximum(body_a, neck)
    is_head = (yy < 0.47 * s).astype(np.float32)[..., None]
    tex = _noise(rng, s, s, octaves=4, base=12)[..., None]
    stripes = (0.5 + 0.5 * np.sin(xx / s * 40 + 3 * tex[..., 0]))[..., None]
    cloth = pal[0] * (0.6 + 0.4 * stripes) * (0.8 + 0.4 * tex)
    skin = pal[1] * (0.85 + 0.3 * tex)
    colour = skin * is_head + cloth * (1 - is_head)
    # Hair: a cap on the head plus many thin strands fanning out, each partly transparent.
    hair_a = np.zeros((s, s), np.float32)
    cap = np.clip(0.5 - (sd_head + 0.05 * s * (yy > 0.24 * s)) / 1.5, 0, 1) * (yy < 0.27 * s)
    hair_a = np.maximum(hair_a, cap.astype(np.float32))
    cx, cy, rx, ry = 0.5 * s, 0.27 * s, 0.12 * s, 0.15 * s
    for _ in range(int(0.35 * s)):
        t = rng.uniform(math.pi * 0.95, math.pi * 2.05)
        x0, y0 = cx + rx * 0.95 * math.cos(t), cy + ry * 0.95 * math.sin(t)
        length = rng.uniform(0.03, 0.11) * s
        pts = []
        ang = t + rng.normal(0, 0.35)
        for k in range(6):
            pts.append((x0 + k / 5 * length * math.cos(ang), y0 + k / 5 * length * math.sin(ang)))
            ang += rng.normal(0, 0.15)
        strand = np.zeros((s, s), np.float32)
        cv2.polylines(strand, [np.round(np.array(pts) * 16).astype(np.int32)], False, 1.0, 1, cv2.LINE_AA, 4)
        hair_a = np.maximum(hair_a, strand * rng.uniform(0.35, 0.95))
    hair_col = pal[2] * (0.8 + 0.4 * tex)
    alpha = hair_a + body_a * (1 - hair_a)
    premult = hair_col * hair_a[..., None] + colour * (body_a * (1 - hair_a))[..., None]
    return premult.astype(np.float32), np.clip(alpha, 0, 1).astype(np.float32)


def _draw_ball(bg: np.ndarray, x: float, y: float, r: float, colour: tuple[int, int, int], shade) -> None:
    """A soft-edged ball of radius ``r`` at (x, y) painted into ``bg`` (float32, in place); its
    colour times ``shade(xx, yy, y0, y1)`` over the pixel grid of its box (rows y0..y1)."""
    h, w = bg.shape[:2]
    x0, x1 = max(int(x - 2 * r), 0), min(int(x + 2 * r), w)
    y0, y1 = max(int(y - 2 * r), 0), min(int(y + 2 * r), h)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    a = np.clip(r - np.hypot(xx - x, yy - y), 0, 1.5)[..., None] / 1.5
    paint = np.asarray(colour, np.float32) * shade(xx, yy, y0, y1)[..., None]
    bg[y0:y1, x0:x1] = bg[y0:y1, x0:x1] * (1 - a) + paint * a


@dataclass
class SyntheticClip:
    """A clip rendered on demand; ``frame(i)`` gives (RGB uint8 HxWx3, true alpha float32 HxW)."""

    kind: str
    width: int
    height: int
    n_frames: int
    seed: int
    fps: float = 30.0
    motion_blur: int = 3  # sub-frame samples of the subject's motion
    _bg: np.ndarray = field(init=False, repr=False)
    _sprite: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)
    _phase: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        rng = np.random.default_rng(self.seed)
        pad_w = int(self.width * 0.45) if self.kind == "pan" else 8
        self._bg = _background(rng, self.height + 16, self.width + pad_w)
        self._sprite = _subject(rng, int(self.height * 1.1))
        self._phase = rng.uniform(0, 2 * math.pi, 4)

    # --- motion -------------------------------------------------------------------------
    def _subject_matrix(self, t: float) -> np.ndarray:
        """Sprite -> frame affine at time ``t`` (in frames): moves, rotates and scales smoothly."""
        w, h, n = self.width, self.height, max(self.n_frames - 1, 1)
        u = t / n
        p = self._phase
        reach = 0.2 if self.kind != "linger" else 0.03  # lingering: it sways on the spot
        cx = w * (0.5 + reach * math.sin(2 * math.pi * 0.7 * u + p[0]))
        cy = h * (0.74 + 0.04 * math.sin(2 * math.pi * 1.1 * u + p[1]))
        angle = (14.0 if self.kind != "linger" else 6.0) * math.sin(2 * math.pi * 0.9 * u + p[2])
        scale = 1.0 + 0.12 * math.sin(2 * math.pi * 0.8 * u + p[3])
        s = self._sprite[1].shape[0]
        m = cv2.getRotationMatrix2D((s / 2, s / 2), angle, scale)
        m[:, 2] += (cx - s / 2, cy - s / 2)
        return m

    def _camera_offset(self, i: int) -> tuple[float, float]:
        if self.kind != "pan":
            return 4.0, 8.0
        u = i / max(self.n_frames - 1, 1)
        return self.width * 0.42 * u + 2.0, 8.0 + 5.0 * math.sin(2 * math.pi * u)

    def _draw_passer_by(self, bg: np.ndarray, i: int, ox: float) -> None:
        """Something moving in the background too (a slow soft-edged ball), so the scene is not frozen."""
        w, h = self.width, self.height
        u = i / max(self.n_frames - 1, 1)
        x = w * (0.1 + 0.25 * u) + ox * 0.5 - ox  # farther away: moves at half the camera's speed
        y = h * (0.25 + 0.05 * math.sin(6 * u + self._phase[0]))
        _draw_ball(bg, x, y, h * 0.06, (200, 80, 60), lambda xx, yy, y0, y1: 0.8 + 0.2 * (yy - y0) / (y1 - y0))

    def _draw_ball_beside(self, bg: np.ndarray, i: int, alpha: np.ndarray) -> None:
        """``linger`` only: a white ball bouncing just beside the subject (``alpha``), behind it, not
        part of it: from touching the subject's side to a few radii off, between its top and bottom."""
        h, w = self.height, self.width
        rows = np.flatnonzero((alpha > 0.5).any(axis=1))
        r = h * 0.06
        u = i / max(self.fps, 1.0)
        y = rows.max() - r - (rows.max() - rows.min() - 2 * r) * abs(math.sin(math.pi * 0.8 * u))
        side = np.flatnonzero(alpha[int(np.clip(y, 0, h - 1))] > 0.05)
        x = (side.max() if side.size else w / 2) + r * (1.0 + 1.5 * abs(math.sin(2 * math.pi * 0.3 * u)))
        _draw_ball(bg, x, y, r, (236, 234, 228), lambda xx, yy, y0, y1: 0.8 + 0.2 * np.cos((xx - x) * 0.3))  # panels

    # --- rendering ----------------------------------------------------------------------
    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``i``: RGB uint8 image and its exact alpha (float32 in [0, 1])."""
        w, h = self.width, self.height
        ox, oy = self._camera_offset(i)
        shift = np.float32([[1, 0, -ox], [0, 1, -oy]])
        bg = cv2.warpAffine(self._bg, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        self._draw_passer_by(bg, i, ox)
        premult, alpha = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
        k = max(1, self.motion_blur)
        for j in range(k):  # motion blur: the exact average of sub-frame composites
            m = self._subject_matrix(i + (j / k - 0.5) * 0.6)
            premult += cv2.warpAffine(self._sprite[0], m, (w, h), flags=cv2.INTER_LINEAR)
            alpha += cv2.warpAffine(self._sprite[1], m, (w, h), flags=cv2.INTER_LINEAR)
        premult /= k
        alpha = np.clip(alpha / k, 0.0, 1.0)
        if self.kind == "linger":
            self._draw_ball_beside(bg, i, alpha)
        img = premult + bg * (1.0 - alpha)[..., None]
        rng = np.random.default_rng(self.seed * 100003 + i)
        img *= 1.0 + 0.02 * math.sin(i * 0.3)  # slight exposure flicker
        img += rng.normal(0.0, 1.5, img.shape).astype(np.float32)  # sensor noise
        return np.clip(img + 0.5, 0, 255).astype(np.uint8), alpha

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(self.n_frames):
            yield self.frame(i)

    @property
    def first_alpha(self) -> np.ndarray:
        return self.frame(0)[1]

    @property
    def first_mask(self) -> np.ndarray:
        return self.first_alpha >= 0.5

    @property
    def point(self) -> tuple[int, int]:
        """(x, y) deep inside the subject on frame 0: where a person would click."""
        padded = np.pad(self.first_mask.astype(np.uint8), 1)  # the frame edge is not the subject's edge
        dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        return int(x), int(y)


def make_clip(kind: str = "static", width: int = 640, height: int = 360, frames: int = 60,
              seed: int = 0, fps: float = 30.0) -> SyntheticClip:
    """A synthetic clip (rendered lazily). ``kind`` is ``static`` or ``pan`` (camera motion)."""
    return SyntheticClip(kind, width, height, frames, seed, fps)


def write_clip(clip: SyntheticClip, out_dir: Path | str, crf: int = 14) -> Path:
    """Write ``clip.mp4`` (H.264 yuv420p, high quality) and the true alpha as 16-bit PNGs.

    Layout: out_dir/clip.mp4, out_dir/alpha/000000.png..., out_dir/meta.json (size, fps, point).
    Returns the path of the mp4.
    """
    import av

    out = Path(out_dir)
    (out / "alpha").mkdir(parents=True, exist_ok=True)
    path = out / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=round(clip.fps))
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        stream.codec_context.colorspace = 6  # PyAV converts RGB with the BT.601 matrix: say so
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for i, (rgb, alpha) in enumerate(clip.frames()):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(stream.encode(frame))
            cv2.imwrite(str(out / "alpha" / f"{i:06d}.png"), np.round(alpha * 65535).astype(np.uint16))
        container.mux(stream.encode(None))
    meta = {"kind": clip.kind, "width": clip.width, "height": clip.height, "frames": clip.n_frames,
            "fps": clip.fps, "seed": clip.seed, "point": list(clip.point)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return path


def read_alpha(out_dir: Path | str, i: int) -> np.ndarray:
    """True alpha of frame ``i`` written by ``write_clip`` (float32 in [0, 1])."""
    a = cv2.imread(str(Path(out_dir) / "alpha" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise FileNotFoundError(f"no alpha for frame {i} in {out_dir}")
    return a.astype(np.float32) / 65535.0
