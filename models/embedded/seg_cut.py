"""Graph cuts on a crop of the frame, at a resolution chosen for the crop's size.

Why crops: cv2.grabCut's cost grows with the number of pixels (0.25 s for a 320x180 image on
one core), so trying several candidate regions around a click is only affordable when each cut
sees just its region plus a margin of surroundings, resampled to a small fixed size. A small
subject (a ball) then gets more pixels than it would in a downscaled whole frame, and a large one
(a standing person) no more than needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from models.embedded.colour import ColourModel
from models.embedded.guided import gray_coefficients, upsample_apply

logger = logging.getLogger(__name__)

RNG_SEED = 12345
FLOOD_TOLERANCE = 28  # colour difference (0..255 per channel) that still counts as "the same thing"
LEAK_OUTLINE = 0.1  # a flood whose outline lies this much on its limit was not stopped by colour
FLOOD_STEPS = tuple(range(8, 29, 2))  # tolerances a flood is grown through, up to the one asked for
FLOOD_JUMP = 6.0  # a step that multiplies the region by this much crossed into something else ...
FLOOD_JUMP_FROM = 64  # ... once the region holds this many pixels (a fill starting on a speck grows fast)
LIKE_FLOOR = 4.0  # least spread (grey levels) of a click's patch: a plain one still takes its own noise
LIKE_CHI2 = (7.8, 11.3)  # squared colour distances (3 channels: 95 %, 99 %) from a click's patch
LIKE_JUMP = 3.0  # the looser colour distance's region this many times the stricter's: it ran on
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-frame pixels, x1/y1 exclusive


@dataclass
class Crop:
    """A rectangle of the frame resampled so that its long side is at most ``side`` pixels."""

    rect: Rect
    image: np.ndarray  # RGB uint8 at crop resolution
    scale: float  # crop pixels per frame pixel

    @classmethod
    def of(cls, frame: np.ndarray, rect: Rect, side: int) -> Crop:
        x0, y0, x1, y1 = rect
        scale = min(1.0, side / max(x1 - x0, y1 - y0))
        size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
        image = cv2.resize(frame[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        return cls(rect, image, scale)

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    def to_crop(self, x: float, y: float) -> tuple[int, int]:
        """Frame point -> crop pixel (clamped inside the crop)."""
        h, w = self.shape
        cx = int((x - self.rect[0]) * self.scale)
        cy = int((y - self.rect[1]) * self.scale)
        return min(max(cx, 0), w - 1), min(max(cy, 0), h - 1)

    def rect_to_crop(self, rect: Rect) -> Rect:
        """Frame rectangle -> crop rectangle (clamped)."""
        h, w = self.shape
        x0, y0 = self.to_crop(rect[0], rect[1])
        x1 = min(w, max(x0 + 1, int(np.ceil((rect[2] - self.rect[0]) * self.scale))))
        y1 = min(h, max(y0 + 1, int(np.ceil((rect[3] - self.rect[1]) * self.scale))))
        return x0, y0, x1, y1

    def mask_from_frame(self, mask: np.ndarray) -> np.ndarray:
        """A full-frame bool mask cut and resized onto this crop."""
        x0, y0, x1, y1 = self.rect
        h, w = self.shape
        part = mask[y0:y1, x0:x1].astype(np.uint8)
        return cv2.resize(part, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)

    def mask_to_frame(self, mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """A crop-sized mask brought up onto the whole frame (bool, ``shape``): the other way."""
        x0, y0, x1, y1 = self.rect
        out = np.zeros(shape, bool)
        out[y0:y1, x0:x1] = cv2.resize(mask.astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST) > 0
        return out


def clamp_rect(rect: tuple[float, float, float, float], width: int, height: int) -> Rect:
    """Round a float rectangle outwards and keep it inside the frame (at least 2x2 pixels)."""
    x0 = int(max(0, np.floor(rect[0])))
    y0 = int(max(0, np.floor(rect[1])))
    x1 = int(min(width, max(x0 + 2, np.ceil(rect[2]))))
    y1 = int(min(height, max(y0 + 2, np.ceil(rect[3]))))
    return x0, y0, x1, y1


def grow_rect(rect: Rect, factor: float, width: int, height: int, minimum: int = 0) -> Rect:
    """``rect`` grown by ``factor`` of its size on every side (at least ``minimum`` px), in the frame."""
    x0, y0, x1, y1 = rect
    mx = max(minimum, factor * (x1 - x0))
    my = max(minimum, factor * (y1 - y0))
    return clamp_rect((x0 - mx, y0 - my, x1 + mx, y1 + my), width, height)


def run_grabcut(image: np.ndarray, labels: np.ndarray, iterations: int) -> np.ndarray:
    """GrabCut from a label map (cv2.GC_*); returns the subject as bool. Needs both kinds of label."""
    gc = labels.copy()
    has_fg = np.any((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD))
    has_bg = np.any((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD))
    if has_fg and has_bg:
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(RNG_SEED)  # grabCut's k-means draws from OpenCV's global RNG: same input, same cut
        try:
            cv2.grabCut(image, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error as exc:  # too few samples of one side for its colour model
            logger.debug("grabCut failed on a %s crop: %s", image.shape, exc)
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)


def flood_region(image: np.ndarray, point: tuple[int, int], allowed: np.ndarray, tolerance: int) -> np.ndarray:
    """Pixels connected to ``point`` whose colour is within ``tolerance`` of its colour, inside ``allowed``.

    What a click on "that thing" most plainly means (the ball, the hair), used to add or remove
    a region on a further click. The image is smoothed first so that texture does not stop the fill.
    The fill is grown through FLOOD_STEPS and stopped before a step that multiplies it FLOOD_JUMP
    times: there it crossed a faint edge into something else of a near colour. A click on her
    shaded forearm (../shared/media/dog.mp4 frame 0) filled 870 px of arm up to tolerance 22 and
    17,000 at 24, the pavement beside her and her shirt with it, and the pavement came into the
    mask; textured hair grows at most 3.1 times a step there, a shoe's leak on to a pale pavement 3.9.
    """
    h, w = image.shape[:2]
    x, y = point
    if not allowed[y, x]:
        return np.zeros((h, w), bool)
    smooth = cv2.GaussianBlur(image, (5, 5), 0)
    block = np.ones((h + 2, w + 2), np.uint8)
    block[1:-1, 1:-1] = ~allowed
    flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
    region, area = np.zeros((h, w), bool), 0
    for step in [t for t in FLOOD_STEPS if t < tolerance] + [tolerance]:
        fill = block.copy()
        grown = cv2.floodFill(smooth, fill, (x, y), 0, (step,) * 3, (step,) * 3, flags)[0]
        if area >= FLOOD_JUMP_FROM and grown > FLOOD_JUMP * area:
            break
        region, area = fill[1:-1, 1:-1] == 2, grown
    return region


def like_click_region(image: np.ndarray, point: tuple[int, int], allowed: np.ndarray, reach: int) -> np.ndarray:
    """Pixels connected to ``point``, inside ``allowed`` and within ``2 * reach`` of it, whose colour
    fits the patch around the click: its mean and spread, not one colour.

    What a 'not subject' click on texture means. The gabion wall that a first cut took in between
    her arm and body (../shared/media/dog.mp4 frame 0) is stones of many greys and browns: a flood
    of the click's colour took 200 px of it, and the click did nothing to be seen; the patch's
    spread takes the 2,900 px of stones and not her jeans or arm. The looser of the two distances is
    used unless it leaps (LIKE_JUMP times the stricter's region: it ran into something else).
    """
    h, w = image.shape[:2]
    x, y = point
    r = max(3, round(0.01 * min(h, w)))
    x0, y0, x1, y1 = max(0, x - 2 * reach), max(0, y - 2 * reach), min(w, x + 2 * reach + 1), min(h, y + 2 * reach + 1)
    smooth = cv2.GaussianBlur(image[y0:y1, x0:x1], (5, 5), 0).astype(np.float32)
    px, py = x - x0, y - y0
    patch = smooth[max(0, py - r):py + r + 1, max(0, px - r):px + r + 1].reshape(-1, 3)
    spread = np.cov(patch.T) + np.eye(3) * LIKE_FLOOR ** 2
    diff = smooth - patch.mean(axis=0)
    d2 = np.einsum("hwi,ij,hwj->hw", diff, np.linalg.inv(spread), diff)
    region, area = np.zeros((h, w), bool), 0
    for limit in LIKE_CHI2:
        like = ((d2 < limit) & allowed[y0:y1, x0:x1]).astype(np.uint8)
        like = cv2.morphologyEx(like, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # thin bridges
        if not like[py, px]:
            break
        part = cv2.connectedComponents(like, connectivity=8)[1]
        part = part == part[py, px]
        if area and np.count_nonzero(part) > LIKE_JUMP * area:
            break
        region[:] = False
        region[y0:y1, x0:x1] = part
        area = np.count_nonzero(part)
    return region


def grown(mask: np.ndarray, radius: float) -> np.ndarray:
    """``mask`` (bool) grown by a disc of ``radius`` px: the pixels at most that far from it. Measured
    with a distance transform, whose cost does not grow with the radius: dilating by a disc of a
    tenth of the frame as a kernel took 0.1 s at 720p and 6 s on a 4K frame."""
    if not mask.any():
        return np.zeros(mask.shape, bool)
    distance = cv2.distanceTransform((~mask.astype(bool)).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= radius + 0.5


def keep_connected(mask: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray:
    """Only the connected parts of ``mask`` that contain a seed (x, y); the largest part if none does."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    keep = {int(labels[y, x]) for x, y in seeds if mask[y, x]}
    if not keep:
        keep = {1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))}
    return np.isin(labels, list(keep))



def keep_clicked(cleaned: np.ndarray, raw: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray:
    """``cleaned`` plus the parts of ``raw`` under a positive click: a click is never dropped as a speck."""
    missing = [(x, y) for x, y in seeds if raw[y, x] and not cleaned[y, x]]
    if not missing:
        return cleaned
    _, labels = cv2.connectedComponents(raw.astype(np.uint8), connectivity=8)
    return cleaned | np.isin(labels, [int(labels[y, x]) for x, y in missing])


def reaches_limit(region: np.ndarray, allowed: np.ndarray) -> bool:
    """Whether a flood fill ran on to the edge of where it was allowed to go along more than
    LEAK_OUTLINE of its outline: then colour did not stop it, the limit did."""
    ones = np.ones((3, 3), np.uint8)
    outline = region & ~(cv2.erode(region.view(np.uint8), ones) > 0)
    limit = allowed & ~(cv2.erode(allowed.view(np.uint8), ones) > 0)
    return np.count_nonzero(outline & limit) > LEAK_OUTLINE * max(1, np.count_nonzero(outline))


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


def to_frame_mask(image: np.ndarray, crop: Crop, fg: np.ndarray) -> np.ndarray:
    """A cut on ``crop`` (of ``image``) -> frame-sized bool mask whose edges snap to the image's (a
    fast guided filter): the cut ran at a few hundred pixels, the frame may have thousands."""
    x0, y0, x1, y1 = crop.rect
    guide_small = cv2.cvtColor(crop.image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    a, b = gray_coefficients(guide_small, fg.astype(np.float32), 2, 1e-3)
    guide_full = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    soft = upsample_apply(a, b, guide_full, 1.0 / 255.0)
    mask = np.zeros(image.shape[:2], bool)
    mask[y0:y1, x0:x1] = soft >= 0.5
    if fg.any() and not mask.any():  # a subject too thin for the filter: plain upscale
        return crop.mask_to_frame(fg, mask.shape)
    return mask


def colour_separation(small: np.ndarray, fg: np.ndarray) -> float:
    """A cut's confidence: how well the subject's colours separate from the background's (0..1)."""
    if not fg.any() or fg.all():
        return 0.0
    model = ColourModel(small, fg, ~fg)
    post = model.posterior(small)
    agree = np.where(fg, post, 1.0 - post)
    return float(np.clip(agree.mean(), 0.0, 1.0))


REFINE_MARGIN = 0.12  # surroundings around the first guess that the refining cut sees
REFINE_BAND = 0.03  # how far (fraction of the crop's long side) the refining cut may move the outline
CLICK_REACH_BANDS = 3  # a further positive click may add what lies within this many bands of it


def refine_region(seed: np.ndarray, clicks: list[tuple[float, float]], shape: tuple[int, int]) -> Rect:
    """The crop the refining cut looks at: the seed's bounding box and the clicks, plus a margin
    (``shape``: the frame's (h, w))."""
    h, w = shape
    ys, xs = np.nonzero(seed)
    px = [p[0] for p in clicks] + ([int(xs.min()), int(xs.max())] if xs.size else [])
    py = [p[1] for p in clicks] + ([int(ys.min()), int(ys.max())] if ys.size else [])
    if not px:
        return 0, 0, w, h
    rect = clamp_rect((min(px), min(py), max(px) + 1, max(py) + 1), w, h)
    return grow_rect(rect, REFINE_MARGIN, w, h, minimum=16)


def band_labels(crop: Crop, inside: np.ndarray, clicks: list[tuple[float, float]], sure: bool = False) -> np.ndarray:
    """GrabCut labels that let the refining cut move the seed's outline (``inside``, on ``crop``)
    only within a band around it.

    The seed is already the right object; the refining cut is there for its outline. Left free
    over the whole crop, it would also claim look-alike background (a pavement the colour of
    a shirt). New positive clicks get a band of their own, so that a click on missed hair can
    add the hair but not the hedge behind it. ``sure``: a moving thing found against the still
    background, whose colours may be the background's: its inside away from the band is held.
    """
    band = max(2, round(REFINE_BAND * max(crop.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    reach = inside.astype(np.uint8)
    for x, y in clicks:
        cv2.circle(reach, crop.to_crop(x, y), CLICK_REACH_BANDS * band, 1, -1)
    reach = cv2.dilate(reach, kernel) > 0
    gc = np.full(crop.shape, cv2.GC_BGD, np.uint8)
    gc[reach] = cv2.GC_PR_BGD
    gc[inside] = cv2.GC_PR_FGD
    if sure:
        gc[cv2.erode(inside.view(np.uint8), kernel) > 0] = cv2.GC_FGD
    return gc
