"""Putting the subject over a new background, right at the edges.

Alpha everywhere is *straight* (colour not multiplied by alpha) and float32 in [0, 1]. The one
place colours are premultiplied is the blend itself (``composite``); transparent outputs (PNG,
VP9 alpha, ProRes 4444) carry straight alpha with the *estimated foreground colour*, not the
observed pixel, so an editor compositing them gets no fringe of the old background.

Heavy work runs on OpenCV (multi-threaded, releases the GIL) and at reduced resolution where the
result is smooth anyway (blurs, background plates).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from core.job import EdgeOptions

logger = logging.getLogger(__name__)

GREEN = (0, 177, 64)  # chroma-key green, a common broadcast value
#: background weight of a pixel by its alpha (0..255): 1 - 1.5 a, so 0 from a = 2/3 up
_CROSS3 = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_FILL_WEIGHT = np.clip(255.0 - 1.5 * np.arange(256), 0, 255).astype(np.uint8)
_FILL_EASE = 0.01  # weight of the subject's mean colour in ``hidden_fill`` (where the blur reaches little)


def fit_cover(image: np.ndarray, width: int, height: int, upscale: int = cv2.INTER_LINEAR,
              pixel_aspect: float = 1.0) -> np.ndarray:
    """Scale ``image`` to cover width x height without stretching, then centre-crop.

    ``pixel_aspect``: how much wider an output pixel is shown than one of ``image`` (the output's
    sample aspect ratio over the image's): the image is fitted to what the viewer sees and its
    width squeezed by that much, so a round thing stays round on an anamorphic clip."""
    h, w = image.shape[:2]
    if (w, h) == (width, height) and pixel_aspect == 1.0:
        return image
    scale = max(width * pixel_aspect / w, height / h)
    new_w, new_h = max(width, round(w * scale / pixel_aspect)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else upscale
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def refine_alpha(alpha: np.ndarray, edges: EdgeOptions) -> np.ndarray:
    """Choke (shrink/grow) then feather the matte, as asked in ``edges``."""
    out = alpha
    if edges.choke_px:
        radius = max(1, round(abs(edges.choke_px)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        out = cv2.erode(out, kernel) if edges.choke_px > 0 else cv2.dilate(out, kernel)
    if edges.feather_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), edges.feather_px)
    return np.clip(out, 0.0, 1.0, out=out if out is not alpha else None).astype(np.float32, copy=False)


def _smooth(image: np.ndarray, sigma: float, factor: int) -> np.ndarray:
    """Gaussian blur of ``sigma`` px computed at 1/``factor`` resolution (same result for large sigma)."""
    h, w = image.shape[:2]
    if factor > 1:
        small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / factor))
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(image, (0, 0), max(0.5, sigma))


def long_side_size(width: int, height: int, side: int, minimum: int = 1) -> tuple[int, int]:
    """(w, h) with the long side at most ``side`` px (never enlarged), each at least ``minimum``."""
    s = min(1.0, side / max(width, height))
    return max(minimum, round(width * s)), max(minimum, round(height * s))


def shrink(image: np.ndarray, size: tuple[int, int], last: int = cv2.INTER_AREA) -> np.ndarray:
    """Area-average ``image`` down to ``size`` (w, h): halved while it stays at least twice the size,
    then one ``last`` step. For a power-of-two factor these are the averages of one ``INTER_AREA``
    resize (up to rounding) at a third of its cost at /8, OpenCV's area resize being fast for exact
    halving only; other factors give a slightly smoother image, which a blur does not mind.
    Already at ``size``, ``image`` itself is returned (not a copy)."""
    w, h = size
    while image.shape[1] >= 2 * w and image.shape[0] >= 2 * h:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (image.shape[1], image.shape[0]) == (w, h):
        return image
    return cv2.resize(image, (w, h), interpolation=last)


def _wide_fill(num: np.ndarray, weight: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The wide pass of ``background_fill`` (numerator, weight), at a further quarter resolution:
    a blur this wide is smooth at that scale, and at full size it cost more than the rest."""
    h, w = weight.shape[:2]
    size = (max(1, w // 4), max(1, h // 4))
    s = max(0.5, sigma / 4)
    num_w = cv2.GaussianBlur(cv2.resize(num, size, interpolation=cv2.INTER_AREA), (0, 0), s)
    den_w = cv2.GaussianBlur(cv2.resize(weight, size, interpolation=cv2.INTER_AREA), (0, 0), s)
    return (cv2.resize(num_w, (w, h), interpolation=cv2.INTER_LINEAR),
            cv2.resize(den_w, (w, h), interpolation=cv2.INTER_LINEAR))


def background_fill(frame: np.ndarray, alpha: np.ndarray, sigma: float) -> np.ndarray:
    """The original frame blurred *without the subject*: a normalised convolution weighted by the
    background's share of each pixel, so the subject's colours do not bleed into the blurred
    background. Where the subject covers everything within reach, a wider pass fills in.

    Everything runs at reduced resolution (the result is smooth at the scale of ``sigma``): the
    frame and the alpha are shrunk once, the weight of a small pixel is taken from the *largest*
    alpha around it (a block that touches the subject gets no weight: no bleed across the edge),
    and only the finished fill is scaled back up."""
    return fill_full_size(small_background_fill(frame, alpha, sigma), frame.shape)


def small_background_fill(frame: np.ndarray, alpha: np.ndarray, sigma: float) -> np.ndarray:
    """``background_fill`` before it is scaled back up: uint8 at 1/``fill_factor(sigma)`` size."""
    h, w = frame.shape[:2]
    factor = fill_factor(sigma)
    size = (max(1, w // factor), max(1, h // factor))
    small = shrink(frame, size).astype(np.float32)
    a_small = cv2.dilate(shrink(alpha_to_u8(alpha), size), _CROSS3)
    weight = cv2.LUT(a_small, _FILL_WEIGHT).astype(np.float32) / 255.0
    num = small * weight[..., None]
    s = max(0.5, sigma / factor)
    num_b = cv2.GaussianBlur(num, (0, 0), s)
    den = cv2.GaussianBlur(weight, (0, 0), s)
    holes = den < 0.02
    if holes.any():
        num_w, den_w = _wide_fill(num, weight, 4 * s + 8)
        num_b[holes], den[holes] = num_w[holes], den_w[holes]
    # rounded and saturated (truncating darkened it by half a level)
    return cv2.convertScaleAbs(num_b / np.maximum(den, 1e-4)[..., None])


def fill_factor(sigma: float) -> int:
    """How much smaller than the frame a blur of ``sigma`` px is computed (1 to 8)."""
    return int(np.clip(sigma // 3, 1, 8))


def fill_full_size(fill: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A small fill scaled up to ``shape`` (H, W, ...): as uint8, which costs a fifth of a float
    upscale's memory traffic for steps of at most one level."""
    h, w = shape[:2]
    if fill.shape[:2] == (h, w):
        return fill
    return cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)


def estimate_foreground(frame: np.ndarray, alpha: np.ndarray, old_background: np.ndarray) -> np.ndarray:
    """Solve frame = a*F + (1-a)*B for F where the subject is semi-transparent: this removes the
    old background's colour from edges (a despill for any background colour, not only green).
    Opaque and empty pixels keep their colour; only the edge band is computed, found inside the
    subject's box and worked on as flat arrays (a third of the cost of boolean masks over the
    frame: it runs on every frame of a job with transparent outputs)."""
    out = frame.copy()
    x0, y0, x1, y1 = subject_box(alpha)
    if x1 <= x0:
        return out
    box = alpha[y0:y1, x0:x1]
    pts = cv2.findNonZero(cv2.bitwise_and(cv2.compare(box, 0.01, cv2.CMP_GT), cv2.compare(box, 0.99, cv2.CMP_LT)))
    if pts is None:
        return out
    u, v = pts.reshape(-1, 2).T
    idx = (v.astype(np.intp) + y0) * frame.shape[1] + (u.astype(np.intp) + x0)
    a = alpha.reshape(-1)[idx][:, None]
    pixels = np.take(frame.reshape(-1, 3), idx, axis=0).astype(np.float32)
    f = (pixels - (1.0 - a) * np.take(old_background.reshape(-1, 3), idx, axis=0)) / np.maximum(a, 0.05)
    out.reshape(-1, 3)[idx] = np.clip(f, 0, 255).astype(np.uint8)
    return out


def clean_foreground(frame: np.ndarray, alpha: np.ndarray, sigma: float = 12.0) -> np.ndarray:
    """The subject's colour with the old background solved out of its edges (``estimate_foreground``
    against the subject-free blur of the frame): what transparent files and despill use."""
    return estimate_foreground(frame, alpha, background_fill(frame, alpha, sigma))


def mix_despill(frame: np.ndarray, clean: np.ndarray, strength: float) -> np.ndarray:
    """``frame`` moved towards its ``clean`` foreground by ``strength`` (0 = as shot, 1 = clean)."""
    if strength <= 0:
        return frame
    return clean if strength >= 1 else cv2.addWeighted(clean, strength, frame, 1.0 - strength, 0)


def despill(frame: np.ndarray, alpha: np.ndarray, strength: float, sigma: float = 12.0) -> np.ndarray:
    """Foreground colour with the old background's cast removed, blended by ``strength`` (0..1)."""
    if strength <= 0:
        return frame
    return mix_despill(frame, clean_foreground(frame, alpha, sigma), strength)


def subject_box(alpha: np.ndarray, margin: int = 0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around every pixel with alpha > 0 (plus ``margin``); empty -> zero size."""
    x, y, w, h = cv2.boundingRect(alpha_to_u8(alpha))
    if w == 0 or h == 0:
        return 0, 0, 0, 0
    height, width = alpha.shape[:2]
    return max(0, x - margin), max(0, y - margin), min(width, x + w + margin), min(height, y + h + margin)


def composite(
    foreground: np.ndarray,
    alpha: np.ndarray,
    background: np.ndarray,
    light_wrap: float = 0.0,
) -> np.ndarray:
    """out = a*F + (1-a)*B, with optional light wrap (the new background's light spilling onto
    the subject's edge, so it sits in the scene instead of looking cut out).

    Only the subject's bounding box is blended; elsewhere the output is the background as is,
    which makes compositing cost follow the subject's size, not the frame's."""
    margin = 24 if light_wrap > 0 else 0
    x0, y0, x1, y1 = subject_box(alpha, margin)
    out = background.copy()
    if x1 <= x0:
        return out
    box = (slice(y0, y1), slice(x0, x1))
    a, fg, bg = alpha[box], foreground[box], background[box]
    if light_wrap > 0:
        edge = np.clip(_smooth(1.0 - a, 6.0, 2) * a * (2.0 * light_wrap), 0, 1)
        fg = cv2.blendLinear(_smooth(bg, 8.0, 4), fg, edge, 1.0 - edge)
    out[box] = cv2.blendLinear(fg, bg, a, 1.0 - a)  # OpenCV takes the crops as views: no copies
    return out


def solid(color: tuple[int, int, int], width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), color, dtype=np.uint8)


def to_rgba(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA uint8 (for PNG, VP9 alpha and ProRes 4444); OpenCV's merge, a tenth of
    ``np.dstack``'s cost on a 720p frame.

    Where the subject is not (alpha 0) the colour is not the frame's but the subject's own colours
    spread out (``hidden_fill``). Why: a straight-alpha file keeps colour under alpha 0, and with the
    frame's there the whole original background was in the transparent file for anyone who drops
    its alpha (dog.mp4: 94 % of each frame, the street and the hedge); that colour also cost the
    encoders (VP9 and ProRes code it like any picture), and an editor that scales the file blends
    it into the subject's edge. Rendered over any background the file looks the same."""
    a8 = alpha_to_u8(alpha)
    colour = hidden_fill(foreground, a8)
    cv2.copyTo(foreground, a8, colour)  # the subject's own pixels (alpha above 0) as they are
    return cv2.merge([*cv2.split(colour), a8])


def hidden_fill(foreground: np.ndarray, a8: np.ndarray, factor: int = 16) -> np.ndarray:
    """The subject's colours (``foreground`` weighted by its alpha ``a8``, uint8) spread over the whole
    frame, smooth: an alpha-weighted blur at 1/``factor`` size easing to the subject's mean colour
    where it reaches little; black when there is no subject. Only the subject's own pixels are
    averaged, so nothing of what lay behind it is in the result; only its box is read at full size."""
    h, w = a8.shape
    sw, sh = max(1, w // factor), max(1, h // factor)
    x, y, bw, bh = cv2.boundingRect(a8)
    if bw == 0:
        return np.zeros_like(foreground)
    # the box on the small grid, and the full-size pixels under it
    i0, j0 = x * sw // w, y * sh // h
    i1, j1 = min(sw, -(-(x + bw) * sw // w)), min(sh, -(-(y + bh) * sh // h))
    i1, j1 = max(i1, i0 + 1), max(j1, j0 + 1)
    fx0, fy0, fx1, fy1 = i0 * w // sw, j0 * h // sh, -(-i1 * w // sw), -(-j1 * h // sh)
    box_a8 = a8[fy0:fy1, fx0:fx1]
    premultiplied = cv2.multiply(foreground[fy0:fy1, fx0:fx1], cv2.cvtColor(box_a8, cv2.COLOR_GRAY2RGB), scale=1 / 255)
    num = np.zeros((sh, sw, 3), np.float32)
    weight = np.zeros((sh, sw), np.float32)
    num[j0:j1, i0:i1] = cv2.resize(premultiplied, (i1 - i0, j1 - j0), interpolation=cv2.INTER_AREA)
    weight[j0:j1, i0:i1] = cv2.resize(box_a8, (i1 - i0, j1 - j0), interpolation=cv2.INTER_AREA) * np.float32(1 / 255)
    total = float(weight.sum())
    if total <= 0.0:
        return np.zeros_like(foreground)
    sigma = max(1.0, max(sw, sh) / 16)
    num_b = cv2.GaussianBlur(num, (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    mean = num.reshape(-1, 3).sum(axis=0) / total
    fill = (num_b + _FILL_EASE * mean) / (den + _FILL_EASE)[..., None]  # to the mean colour, smoothly
    return cv2.resize(cv2.convertScaleAbs(fill), (w, h), interpolation=cv2.INTER_LINEAR)


def alpha_to_u8(alpha: np.ndarray) -> np.ndarray:
    """float alpha in [0, 1] -> uint8, rounded and saturated (OpenCV: fast, one pass)."""
    return cv2.convertScaleAbs(alpha, alpha=255.0)


def parse_color(text: str) -> tuple[int, int, int]:
    """'#RRGGBB', 'RRGGBB', '#RGB', a CSS colour name or 'rgb(r, g, b)' -> (r, g, b); 'green' and
    'blue' are the chroma-key colours. Raises ValueError."""
    from PIL import ImageColor

    keys = {"green": GREEN, "blue": (0, 71, 187)}
    t = text.strip().lower()
    if t in keys:
        return keys[t]
    bare = t.lstrip("#")
    if len(bare) in (3, 6) and all(c in "0123456789abcdef" for c in bare):
        t = "#" + bare
    try:
        return ImageColor.getrgb(t)[:3]
    except ValueError:
        raise ValueError(f"not a colour: {text!r}") from None
