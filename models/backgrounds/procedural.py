"""Procedural backgrounds: a gradient, soft bokeh lights or a studio backdrop, drawn with numpy/OpenCV.

Why: they need no weights, so they are both a background kind of their own
(``procedural:gradient|bokeh|studio``, optionally ``procedural:STYLE:#RRGGBB,#RRGGBB``) and the
fallback of the generated (``prompt:``) background when no diffusion model can be loaded. For
the fallback the colours are read from the prompt (``palette_from_text``), so "blue ocean"
still gives a blue picture.

Everything slow happens once in ``open``; ``frame`` returns the prepared picture (static styles)
or a crop of a slightly larger prepared canvas that drifts slowly (bokeh), so a frame costs one
copy at most.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re

import cv2
import numpy as np

from core.exceptions import BackgroundSpecError
from models.backgrounds.base import BackgroundSource, OutputGeometry, ProgressFn

logger = logging.getLogger(__name__)

STYLES = ("gradient", "bokeh", "studio")
RGB = tuple[int, int, int]

#: Colour and scene words understood by ``palette_from_text``: word -> (main, second) colour.
_WORD_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "red": ((170, 30, 40), (60, 10, 20)),
    "orange": ((235, 130, 40), (120, 50, 30)),
    "yellow": ((240, 210, 80), (150, 110, 30)),
    "gold": ((220, 170, 60), (90, 60, 20)),
    "green": ((60, 150, 80), (15, 60, 35)),
    "forest": ((50, 110, 60), (15, 45, 25)),
    "teal": ((30, 140, 140), (10, 60, 70)),
    "blue": ((50, 100, 200), (15, 30, 80)),
    "ocean": ((30, 110, 170), (10, 40, 80)),
    "sky": ((120, 180, 235), (60, 110, 190)),
    "purple": ((120, 60, 170), (40, 20, 70)),
    "pink": ((235, 130, 170), (130, 50, 90)),
    "sunset": ((245, 140, 60), (90, 40, 110)),
    "night": ((30, 40, 90), (5, 8, 25)),
    "white": ((235, 235, 235), (190, 190, 195)),
    "grey": ((140, 140, 145), (60, 60, 65)),
    "gray": ((140, 140, 145), (60, 60, 65)),
    "black": ((40, 40, 45), (5, 5, 8)),
}
#: The look of each style when no colours are given.
DEFAULT_PALETTES: dict[str, tuple[RGB, RGB]] = {
    "gradient": ((70, 120, 190), (20, 30, 60)),
    "bokeh": ((245, 190, 110), (200, 90, 60)),
    "studio": ((150, 150, 155), (35, 35, 40)),
}
_BOKEH_WORDS = ("bokeh", "lights", "night", "city", "party", "christmas", "festival", "neon")
_STUDIO_WORDS = ("studio", "portrait", "backdrop", "plain", "office", "corporate", "headshot")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def _stable_int(text: str) -> int:
    """A hash that is the same in every process (Python's ``hash`` of a str is salted)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def palette_from_text(text: str, seed: int | None = None) -> tuple[RGB, RGB]:
    """Two colours (main, second) for a prompt: from its colour/scene words, else from its hash."""
    words = re.findall(r"[a-z]+", text.lower())
    for word in words:
        if word in _WORD_COLOURS:
            return _WORD_COLOURS[word]
    hue = _stable_int(f"{text}|{seed}") % 180  # OpenCV hue range
    pixels = np.array([[[hue, 150, 190], [(hue + 20) % 180, 200, 70]]], dtype=np.uint8)
    main, second = cv2.cvtColor(pixels, cv2.COLOR_HSV2RGB)[0]
    return tuple(int(v) for v in main), tuple(int(v) for v in second)


def style_for_text(text: str) -> str:
    """The procedural style that suits a prompt best (used by the generated-background fallback)."""
    lowered = text.lower()
    if any(word in lowered for word in _BOKEH_WORDS):
        return "bokeh"
    if any(word in lowered for word in _STUDIO_WORDS):
        return "studio"
    return "gradient"


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates: x in [0, 1] across, y in [0, 1] down, float32, broadcastable."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    return x, y


def _mix(a: RGB, b: RGB, t: np.ndarray) -> np.ndarray:
    """Blend colour ``a`` (t=0) into ``b`` (t=1) per pixel; returns float32 (H, W, 3) in 0..255."""
    a_arr = np.asarray(a, dtype=np.float32)
    b_arr = np.asarray(b, dtype=np.float32)
    return a_arr + (b_arr - a_arr) * t[..., None]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def render_gradient(width: int, height: int, palette: tuple[RGB, RGB]) -> np.ndarray:
    """A diagonal gradient from the main colour (top left) to the second one, with a soft glow."""
    x, y = _grid(width, height)
    t = np.clip(0.75 * y + 0.25 * x, 0.0, 1.0)
    image = _mix(palette[0], palette[1], t)
    glow = np.exp(-(((x - 0.3) / 0.45) ** 2 + ((y - 0.25) / 0.45) ** 2))
    image += 35.0 * glow[..., None]
    return _to_uint8(image)


def render_studio(width: int, height: int, palette: tuple[RGB, RGB]) -> np.ndarray:
    """A photographer's backdrop: a spotlight behind the subject, darker edges, a floor sweep."""
    x, y = _grid(width, height)
    aspect = width / max(height, 1)
    dist = np.sqrt(((x - 0.5) * aspect) ** 2 + ((y - 0.42) * 1.2) ** 2)
    light = np.clip(1.0 - dist / (0.9 * max(aspect, 1.0)), 0.0, 1.0) ** 1.5
    image = _mix(palette[1], palette[0], light)
    floor = np.clip((y - 0.72) / 0.28, 0.0, 1.0) ** 2  # the backdrop curving into the floor
    image *= (1.0 - 0.35 * floor)[..., None]
    return _to_uint8(image)


def render_bokeh(width: int, height: int, palette: tuple[RGB, RGB], seed: int = 0) -> np.ndarray:
    """Out-of-focus lights: soft discs of the palette's colours over a dark gradient.

    The discs are drawn at a quarter of the size and blurred there (they are soft anyway), which
    keeps a 4K canvas to a few tens of milliseconds.
    """
    rng = np.random.default_rng(seed)
    x, y = _grid(width, height)
    base = _mix(tuple(int(v * 0.35) for v in palette[1]), (4, 4, 8), np.clip(0.6 * y + 0.4 * (1 - x), 0, 1))
    small_w, small_h = max(width // 4, 8), max(height // 4, 8)
    lights = np.zeros((small_h, small_w, 3), dtype=np.float32)
    short = min(small_w, small_h)
    count = int(np.clip(small_w * small_h / 900, 12, 60))
    for _ in range(count):
        centre = (int(rng.uniform(0, small_w)), int(rng.uniform(0, small_h)))
        radius = max(int(rng.uniform(0.03, 0.12) * short), 1)
        colour = np.asarray(palette[int(rng.integers(0, 2))], dtype=np.float32)
        colour = np.clip(colour * rng.uniform(0.8, 1.3) + rng.uniform(-20, 20, 3), 0, 255)
        disc = np.zeros_like(lights)
        cv2.circle(disc, centre, radius, tuple(float(c) for c in colour), thickness=-1, lineType=cv2.LINE_AA)
        lights += disc * float(rng.uniform(0.25, 0.6))
    sigma = max(short / 80.0, 0.8)
    lights = cv2.GaussianBlur(lights, (0, 0), sigma)
    lights = cv2.resize(lights, (width, height), interpolation=cv2.INTER_LINEAR)
    return _to_uint8(base + lights)


def render(style: str, width: int, height: int, palette: tuple[RGB, RGB], seed: int = 0) -> np.ndarray:
    """One still picture of ``style`` at ``width`` x ``height`` (RGB uint8)."""
    if style == "gradient":
        return render_gradient(width, height, palette)
    if style == "studio":
        return render_studio(width, height, palette)
    if style == "bokeh":
        return render_bokeh(width, height, palette, seed)
    raise BackgroundSpecError(
        f"unknown procedural style {style!r}",
        f"use procedural:{'|'.join(STYLES)} (optionally :#RRGGBB,#RRGGBB)",
    )


def parse_argument(argument: str) -> tuple[str, tuple[RGB, RGB] | None]:
    """``STYLE`` or ``STYLE:#RRGGBB[,#RRGGBB]`` -> (style, palette or None)."""
    style, _, colours = argument.strip().partition(":")
    style = style.strip().lower() or "gradient"
    if style not in STYLES:
        raise BackgroundSpecError(
            f"unknown procedural style {style!r}",
            f"use procedural:{'|'.join(STYLES)} (optionally :#RRGGBB,#RRGGBB)",
        )
    if not colours.strip():
        return style, None
    parsed: list[RGB] = []
    for part in colours.split(","):
        match = _HEX.match(part.strip())
        if match is None:
            raise BackgroundSpecError(
                f"{part.strip()!r} is not a colour", "write colours as #RRGGBB, e.g. #1e3a5f"
            )
        value = int(match.group(1), 16)
        parsed.append(((value >> 16) & 255, (value >> 8) & 255, value & 255))
    if len(parsed) > 2:
        raise BackgroundSpecError("at most two colours", "use procedural:STYLE:#RRGGBB,#RRGGBB")
    main = parsed[0]
    second = parsed[1] if len(parsed) == 2 else tuple(int(c * 0.35) for c in main)
    return style, (main, second)


class ProceduralBackground(BackgroundSource):
    """``procedural:gradient|bokeh|studio``: a drawn background that needs no weights.

    ``palette`` and ``seed`` let the generated background reuse this class as its fallback with
    colours taken from the prompt; ``animate`` lets the bokeh lights drift slowly.
    """

    kind = "procedural"
    #: How far (fraction of the short side) and how slowly (seconds per cycle) the bokeh drifts.
    drift_fraction = 0.03
    drift_period_s = 12.0

    def __init__(
        self,
        argument: str = "gradient",
        palette: tuple[RGB, RGB] | None = None,
        seed: int | None = None,
        animate: bool = True,
    ) -> None:
        super().__init__(argument)
        self.style, spec_palette = parse_argument(argument)
        self.palette = spec_palette or palette or DEFAULT_PALETTES[self.style]
        self.seed = seed  # make_background may set it after construction; read in open
        self.animate = animate and self.style == "bokeh"
        self._still: np.ndarray | None = None
        self._canvas: np.ndarray | None = None
        self._margin = 0

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:
        """Draw the picture once (with a margin to drift in, for animated bokeh)."""
        super().open(geometry, progress)
        seed = 0 if self.seed is None else int(self.seed)
        if geometry.width <= 0 or geometry.height <= 0:
            raise BackgroundSpecError(f"bad output size {geometry.width}x{geometry.height}")
        if self.animate:
            self._margin = max(int(self.drift_fraction * min(geometry.width, geometry.height)), 1)
            wide = round(self._margin * geometry.pixel_aspect)  # the margin as shown
            canvas = render(self.style, geometry.display_width + 2 * wide, geometry.height + 2 * self._margin,
                            self.palette, seed)
            self._canvas = geometry.stored(canvas, geometry.width + 2 * self._margin)
            self._still = None
        else:
            self._still = geometry.stored(render(self.style, geometry.display_width, geometry.height, self.palette,
                                                 seed))
            self._still.flags.writeable = False  # shared by every frame: nobody may draw on it
        if progress is not None:
            progress(1.0, f"procedural {self.style} background ready")

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The still picture, or the drifting crop of the bokeh canvas for frame ``index``."""
        if self._still is not None:
            return self._still
        if self._canvas is None:
            raise RuntimeError("ProceduralBackground.frame called before open")
        geometry = self.geometry
        phase = 2.0 * math.pi * index / max(self.drift_period_s * max(geometry.fps, 1.0), 1.0)
        dx = self._margin + int(round(self._margin * math.sin(phase)))
        dy = self._margin + int(round(self._margin * 0.5 * math.sin(2.0 * phase)))
        return np.ascontiguousarray(self._canvas[dy : dy + geometry.height, dx : dx + geometry.width])

    def close(self) -> None:
        self._still = None
        self._canvas = None
