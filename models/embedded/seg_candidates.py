"""Several guesses of "the subject under this click", each scored, like SAM's multimask output.

Why: one click does not say how big the subject is. A ball, a dog and a standing person need
very different regions. So a graph cut is run inside boxes of a few sizes and shapes around the
click(s), each on a small crop (models/embedded/seg_cut.py), and every result is scored:

- ``touch``: how much of the mask runs into the box's own edges (not the frame's). A box too
  small for the subject cuts it off there; a right-sized one leaves a margin of background.
- ``separation``: how different the mask's colours are from those of a ring just around it. A
  whole subject stands out from its surroundings; half a subject (or subject plus a piece of the
  background) shares colours with its ring.
- ``edge``: how strong the image gradient is along the mask's outline compared with the crop's
  average. Real object outlines follow edges; cuts through the background or the subject do not.

The best-scoring candidate wins; the segmenter then refines it at a higher resolution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from models.embedded.colour import ColourModel
from models.embedded.seg_cut import Crop, Rect, clamp_rect, grow_rect, keep_connected, run_grabcut
from models.embedded.seg_saliency import saliency

logger = logging.getLogger(__name__)

# Box heights as a fraction of the frame's short side, each with its width / height ratios. They
# span a ball (0.15) to a standing person seen whole (1.05); tall boxes fit people, wide ones
# animals. Wide boxes of the largest sizes would nearly be the whole frame: left out.
BOX_SHAPES = ((0.15, (1.0,)), (0.3, (1.0, 0.6, 1.6)), (0.5, (1.0, 0.6, 1.6)), (0.75, (1.0, 0.6)),
              (1.05, (1.0, 0.6)))
CANDIDATE_SIDE = 160  # long side of each candidate's crop: cheap (~20 ms a cut) yet shape-faithful
MARGIN = 0.25  # surroundings added around each box, as a fraction of its size (background samples)
W_SEPARATION, W_EDGE, W_SALIENCY, W_TOUCH = 1.0, 0.35, 1.0, 2.5
SALIENT_MIN = 0.1  # below this saliency a pixel is background that the frame's edges reach cheaply
TIE = 0.05  # scores this close to the best count as equally good


@dataclass
class Candidate:
    """One guess: the box tried, the crop it was cut on, its mask on that crop and its score."""

    box: Rect
    crop: Crop
    mask: np.ndarray  # bool, crop resolution
    touch: float
    separation: float
    edge: float
    salient: float

    @property
    def area(self) -> float:
        """Mask area in frame pixels (crops differ in scale)."""
        return float(self.mask.sum()) / self.crop.scale**2

    def frame_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask on the whole frame (bool, ``shape``), brought up from the crop's resolution."""
        return self.crop.mask_to_frame(self.mask, shape)

    @property
    def score(self) -> float:
        return (W_SEPARATION * self.separation + W_EDGE * self.edge + W_SALIENCY * self.salient
                - W_TOUCH * self.touch)


def candidate_boxes(positives: list[tuple[float, float]], width: int, height: int) -> list[Rect]:
    """Boxes of every scale and aspect around the positive clicks' bounding box, without repeats."""
    xs = [p[0] for p in positives]
    ys = [p[1] for p in positives]
    base = min(width, height)
    boxes: list[Rect] = []
    for scale, aspects in BOX_SHAPES:
        for aspect in aspects:
            half_h = 0.5 * scale * base
            half_w = aspect * half_h
            box = snap_to_frame(clamp_rect((min(xs) - half_w, min(ys) - half_h, max(xs) + half_w,
                                            max(ys) + half_h), width, height), width, height)
            if box not in boxes:
                boxes.append(box)
    whole = (0, 0, width, height)  # the frame itself: background sampled along its top and sides
    if whole not in boxes:
        boxes.append(whole)
    return boxes


def snap_to_frame(box: Rect, width: int, height: int) -> Rect:
    """Extend box sides that end near the frame's edge to it.

    Otherwise a thin strip between box and frame edge is taken as sure background, and a subject
    cut by the frame (a person's body at the bottom) would lend its colours to the background.
    """
    x0, y0, x1, y1 = box
    mx, my = MARGIN * (x1 - x0), MARGIN * (y1 - y0)
    return (0 if x0 < mx else x0, 0 if y0 < my else y0,
            width if width - x1 < mx else x1, height if height - y1 < my else y1)


def seed_labels(crop: Crop, sal: np.ndarray, box: Rect, positives: list[tuple[float, float]],
                negatives: list[tuple[float, float]], radius: int) -> np.ndarray:
    """GrabCut labels: outside the box sure background, clicks sure subject, and inside the box
    "maybe subject" where the colour is unlike the surroundings' and the pixel is somewhat salient
    (``sal``: saliency on this crop), "maybe background" elsewhere."""
    gc = np.full(crop.shape, cv2.GC_BGD, np.uint8)
    bx0, by0, bx1, by1 = crop.rect_to_crop(box)
    inside = np.zeros(crop.shape, bool)
    inside[by0:by1, bx0:bx1] = True
    near = np.zeros(crop.shape, np.uint8)
    for x, y in positives:
        cv2.circle(near, crop.to_crop(x, y), 3 * radius, 1, -1)
    outside = ~inside
    if outside.sum() < 16:
        # The box is the whole frame: its top, left and right bands are the background sample (a
        # subject, a person, is often cut by the bottom edge, rarely by the others).
        b = max(2, round(0.04 * max(crop.shape)))
        outside = np.zeros(crop.shape, bool)
        outside[:b], outside[:, :b], outside[:, -b:] = True, True, True
    model = ColourModel(crop.image, near.astype(bool), outside, fg_uniform=0.8)
    likely = (model.posterior_u8(crop.image) > 127).astype(np.uint8)
    # Colours unlike the surroundings, but not where the frame's edges reach cheaply: a stretch of
    # background that merely looks like the subject (a grey path beside blue jeans) is dropped.
    likely &= (sal > SALIENT_MIN).astype(np.uint8)
    likely = cv2.morphologyEx(likely, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) | near
    likely = keep_connected(likely.astype(bool) & inside, [crop.to_crop(x, y) for x, y in positives])
    gc[inside] = cv2.GC_PR_BGD
    gc[likely] = cv2.GC_PR_FGD
    for x, y in negatives:
        cv2.circle(gc, crop.to_crop(x, y), radius, cv2.GC_BGD, -1)
    for x, y in positives:
        cv2.circle(gc, crop.to_crop(x, y), radius, cv2.GC_FGD, -1)
    return gc


def box_touch(mask: np.ndarray, crop: Crop, box: Rect, frame_size: tuple[int, int]) -> float:
    """Fraction of the box's inner edges (those not on the frame's border) covered by the mask."""
    width, height = frame_size
    bx0, by0, bx1, by1 = crop.rect_to_crop(box)
    sides = []
    if box[0] > 0:
        sides.append(mask[by0:by1, bx0:bx0 + 2])
    if box[2] < width:
        sides.append(mask[by0:by1, max(bx0, bx1 - 2):bx1])
    if box[1] > 0:
        sides.append(mask[by0:by0 + 2, bx0:bx1])
    if box[3] < height:
        sides.append(mask[max(by0, by1 - 2):by1, bx0:bx1])
    total = sum(s.size for s in sides)
    return float(sum(int(s.sum()) for s in sides) / total) if total else 0.0


def ring_of(mask: np.ndarray) -> np.ndarray:
    """The surroundings of a mask: a band around it as wide as ~15% of its size."""
    r = max(2, round(0.15 * np.sqrt(max(int(mask.sum()), 1))))
    ring = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    return ring.astype(bool) & ~mask


def separation(image: np.ndarray, mask: np.ndarray, ring: np.ndarray) -> float:
    """Colour separability (0..1) of the mask against its surroundings."""
    if mask.sum() < 4 or ring.sum() < 4:
        return 0.0
    return ColourModel(image, mask, ring).separability()


def salient_contrast(sal: np.ndarray, mask: np.ndarray, ring: np.ndarray) -> float:
    """1 - (mean saliency around the mask) / (mean saliency inside it), in 0..1.

    A whole subject sits in non-salient background; a part of a subject has the rest of the
    subject (salient too) around it; a subject with a piece of background taken in has less
    salient pixels inside.
    """
    if mask.sum() < 4 or ring.sum() < 4:
        return 0.0
    inside = float(sal[mask].mean())
    return float(np.clip(1.0 - float(sal[ring].mean()) / max(inside, 1e-3), 0.0, 1.0))


def edge_strength(gradient: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient along the mask's outline over the crop's mean gradient, squashed to 0..1."""
    m = mask.astype(np.uint8)
    outline = (cv2.dilate(m, None) != cv2.erode(m, None))
    outline[[0, -1], :] = outline[:, [0, -1]] = False  # crop borders are not object outlines
    if not outline.any():
        return 0.0
    ratio = float(gradient[outline].mean()) / (float(gradient.mean()) + 1e-6)
    return ratio / (1.0 + ratio)


def gradient_of(image: np.ndarray) -> np.ndarray:
    """Colour gradient magnitude (max over channels of Sobel magnitude), float32."""
    g = np.zeros(image.shape[:2], np.float32)
    for c in range(3):
        ch = image[..., c].astype(np.float32)
        mag = cv2.magnitude(cv2.Sobel(ch, cv2.CV_32F, 1, 0), cv2.Sobel(ch, cv2.CV_32F, 0, 1))
        np.maximum(g, mag, out=g)
    return g


def cut_candidate(frame: np.ndarray, sal: np.ndarray, box: Rect, positives: list[tuple[float, float]],
                  negatives: list[tuple[float, float]], iterations: int = 2) -> Candidate:
    """Graph cut inside ``box`` (plus a margin of surroundings) on a small crop, and its scores."""
    height, width = frame.shape[:2]
    rect = grow_rect(box, MARGIN, width, height, minimum=8)
    crop = Crop.of(frame, rect, CANDIDATE_SIDE)
    radius = max(1, round(0.02 * max(crop.shape)))
    sal_crop = saliency_on(crop, sal, (width, height))
    labels = seed_labels(crop, sal_crop, box, positives, negatives, radius)
    mask = run_grabcut(crop.image, labels, iterations)
    mask = keep_connected(mask, [crop.to_crop(x, y) for x, y in positives])
    ring = ring_of(mask)
    return Candidate(box, crop, mask, box_touch(mask, crop, box, (width, height)),
                     separation(crop.image, mask, ring), edge_strength(gradient_of(crop.image), mask),
                     salient_contrast(sal_crop, mask, ring))


def saliency_on(crop: Crop, sal: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The frame's (small) saliency map cut and resized onto a crop."""
    width, height = frame_size
    sh, sw = sal.shape
    x0, y0, x1, y1 = crop.rect
    sx0, sx1 = int(x0 * sw / width), max(int(x0 * sw / width) + 1, int(np.ceil(x1 * sw / width)))
    sy0, sy1 = int(y0 * sh / height), max(int(y0 * sh / height) + 1, int(np.ceil(y1 * sh / height)))
    h, w = crop.shape
    return cv2.resize(sal[sy0:sy1, sx0:sx1], (w, h), interpolation=cv2.INTER_LINEAR)


def best_candidate(frame: np.ndarray, positives: list[tuple[float, float]], negatives: list[tuple[float, float]],
                   sal: np.ndarray | None = None, max_area: float | None = None) -> tuple[Candidate, list[Candidate]]:
    """Cut every candidate box; return the best one and all of them (for inspection and tests).

    ``sal`` is the frame's saliency (models/embedded/seg_saliency.py), computed here if not given.
    ``max_area`` (frame pixels): only candidates up to that size may win, when any is that small.
    """
    height, width = frame.shape[:2]
    if sal is None:
        sal = saliency(frame)
    found = [cut_candidate(frame, sal, box, positives, negatives)
             for box in candidate_boxes(positives, width, height)]
    for c in found:
        logger.debug("candidate %s: touch %.2f sep %.2f edge %.2f sal %.2f -> %.2f", c.box, c.touch,
                     c.separation, c.edge, c.salient, c.score)
    allowed = [c for c in found if max_area is None or c.area <= max_area] or found
    top = max(c.score for c in allowed)
    # Near-ties go to the biggest mask: a part of a subject (a shirt) scores as well as the whole
    # subject, and a person clicking "the subject" means the whole of it.
    close = [c for c in allowed if c.score >= top - TIE]
    return max(close, key=lambda c: c.area), found
