"""Embedded matter: carries the subject's matte through a clip with no model weights.

Per frame, at tracking resolution (``preset.embedded_scale_px`` on the long side):
1. dense optical flow (DIS) carries the previous matte onto the new frame;
2. the camera's own motion is fitted to the background's flow and moves the background plate;
3. three pieces of evidence are fused in log-odds: the carried matte, the subject/background
   colour models, and the difference from the background plate (where the plate is known);
   the carried matte limits where the subject can be (a band around it), so clutter far away
   never joins the subject;
4. the fused map is smoothed edge-aware (guided filter) and cut at 0.5 -> the subject this frame;
   the models (colours, plate) learn from the confident parts, which re-anchors the track;
5. the edge at full resolution (``embedded_refine``): a band of tracking pixels (the mask's edge
   plus whatever a tracking-resolution compositing solve finds partly transparent, e.g. a cloud
   of hair strands) is solved pixel by pixel with I = a F + (1 - a) B, B from the plate (the
   full-resolution median for a still camera), F spread from the subject's interior
   (models/embedded/edges.py); where that is ill-posed, a fast guided filter of the mask is used.
Only the band's pixels are touched at full resolution, as flat arrays: the cost follows the
subject's edge, not the frame (about 25 ms of one core per 720p frame for ``balanced``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from app_config import PRESETS, QualityPreset
from core.exceptions import EmptyMaskError, MaskSizeError, PromptError
from models.base import Matter
from models.embedded.colour import ColourModel
from models.embedded.edges import gather, solve_alpha, spread_colours
from models.embedded.guided import gray_coefficients
from models.embedded.motion import STILL_PX, FlowTracker, camera_motion, is_still
from models.embedded.plate import BackgroundPlate, full_median, median_plate

logger = logging.getLogger(__name__)

_EPS = 1e-3
STILL_CAMERA_PX = 0.75  # a clip whose samples looked still: smaller fitted motions are flow noise
_DEEP = 0.6  # subject colours come from pixels deeper than this x band_px (swept 0.3-1.0: 0.6 best)
_GUIDED_R = 2  # tracking-res px of the guided filter that gives the fallback alpha


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.02, 0.98)
    return np.log(p / (1.0 - p))


class EmbeddedMatter(Matter):
    """Classical propagation + edge matting. One instance per direction of feeding."""

    name = "embedded"

    def __init__(self, preset: QualityPreset | None = None) -> None:
        self.preset = preset or PRESETS["balanced"]
        self.scale_px = int(self.preset.embedded_scale_px)
        self.refine = bool(self.preset.embedded_refine)
        self._prepared: np.ndarray | None = None
        self._full_size: tuple[int, int] | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._kernel3 = np.ones((3, 3), np.uint8)
        self._band_kernel = self._disc(2)
        self._full_plate: np.ndarray | None = None
        self._lowmap: tuple[np.ndarray, np.ndarray] | None = None
        self.plate: BackgroundPlate | None = None
        self.frames_seen = 0

    # --- sizes --------------------------------------------------------------------------
    def _small_size(self, w: int, h: int) -> tuple[int, int]:
        s = min(1.0, self.scale_px / max(w, h))
        return max(16, round(w * s)), max(16, round(h * s))

    def _shrink(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self._full_size is not None and (w, h) != self._full_size:
            raise PromptError(f"frame is {w}x{h} but tracking started at {self._full_size[0]}x{self._full_size[1]}",
                              "feed frames of one size to one matter instance")
        return self._downscale(frame)

    def _downscale(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        size = self._small_size(w, h)
        k = int(min(w / size[0], h / size[1]))
        if k >= 2:  # INTER_AREA is fast for whole factors only (8 ms vs 0.5 ms at 720p)
            frame = cv2.resize(frame, (w // k, h // k), interpolation=cv2.INTER_AREA)
        return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)

    # --- the Matter role ------------------------------------------------------------------
    def prepare(self, samples: Sequence[np.ndarray]) -> None:
        """Look at frames spread over the clip: a clean plate by temporal median if the camera is still."""
        if len(samples) == 0:
            return
        h, w = samples[0].shape[:2]
        same = [s for s in samples if s.shape[:2] == (h, w)]
        self._prepared = median_plate([self._downscale(s) for s in same])
        self._full_plate = full_median(same) if self._prepared is not None else None
        logger.info("embedded matter: %s camera in %d samples", "still" if self._prepared is not None else "moving",
                    len(same))

    def start(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise PromptError(f"expected an RGB frame, got shape {frame.shape}", "decode frames as RGB")
        if mask.shape[:2] != frame.shape[:2]:
            raise MaskSizeError(f"mask is {mask.shape[1]}x{mask.shape[0]}, frame is {frame.shape[1]}x{frame.shape[0]}")
        m = mask.astype(np.float32)
        if m.max() < 0.5:
            raise EmptyMaskError("the start mask has no subject pixels")
        h, w = frame.shape[:2]
        self._full_size = None
        small = self._shrink(frame)
        self._full_size = (w, h)
        sw, sh = small.shape[1], small.shape[0]
        self.flow = FlowTracker(sw, sh)
        alpha_small = cv2.resize(m, (sw, sh), interpolation=cv2.INTER_AREA)
        fg = alpha_small > 0.5
        self.band_px = max(3, round(0.04 * max(sw, sh)))
        near = self._within(fg, self.band_px)
        inner = cv2.erode(fg.astype(np.uint8), self._kernel) > 0
        self.colours = ColourModel(small, inner, ~near)
        self.plate = self._initial_plate(frame, small, fg, near)
        self.prev_gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        self.prev_alpha = fg.astype(np.float32)
        self.frames_seen = 1
        return self._finish(frame, small, fg.astype(np.float32), hard=mask.astype(np.float32) >= 0.5)

    def step(self, frame: np.ndarray) -> np.ndarray:
        if self.frames_seen == 0:
            raise PromptError("step() before start()", "give the first frame and its mask to start()")
        small = self._shrink(frame)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        flow = self.flow.backward(gray, self.prev_gray)
        carried = self.flow.warp(self.prev_alpha, flow)
        self._follow_camera(flow, carried)
        self.plate.fit_gain(small, carried < 0.02)
        fg = self._decide(small, carried)
        self._learn(small, fg)
        self.prev_gray = gray
        self.frames_seen += 1
        return self._finish(frame, small, fg.astype(np.float32))

    def close(self) -> None:
        self.plate = None
        self._prepared = None
        self._full_plate = None

    # --- steps ----------------------------------------------------------------------------
    @staticmethod
    def _disc(r: int) -> np.ndarray:
        return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))

    @staticmethod
    def _within(mask: np.ndarray, r: float) -> np.ndarray:
        """Pixels within ``r`` px of ``mask`` (a wide dilation; a distance transform is cheaper)."""
        dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        return dist <= r

    def _initial_plate(self, frame: np.ndarray, small: np.ndarray, fg: np.ndarray,
                       near: np.ndarray) -> BackgroundPlate:
        if self._prepared is not None and self._prepared[0].shape[:2] == small.shape[:2]:
            plate, agree = self._prepared
            # Where the subject stood still in the samples the median shows the subject: not a plate.
            same = cv2.absdiff(small.astype(np.float32), plate).max(axis=-1) < 20
            unknown = (cv2.dilate((fg & same).astype(np.uint8), self._kernel) > 0) | (agree < 0.5)
            # Background seen now, away from the subject, fills the holes of the median.
            fill = unknown & ~near
            plate[fill] = small[fill]
            unknown &= ~fill
            full = self._full_plate
            if full is not None:
                h, w = full.shape[:2]
                fill_full = cv2.resize(fill.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                full[fill_full] = frame[fill_full]
            return BackgroundPlate(plate, ~unknown, full)
        return BackgroundPlate(small, ~near)

    def _follow_camera(self, flow: np.ndarray, carried: np.ndarray) -> None:
        background = (carried < 0.02) & (self.plate.valid > 0.5)
        m = camera_motion(flow, background)
        if m is None:
            self.plate.valid *= 0.5  # cannot follow the camera: trust the plate less
        elif not is_still(m, STILL_CAMERA_PX if self.plate.full is not None else STILL_PX):
            self.plate.move(m)

    def _decide(self, small: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """Fuse the evidence into this frame's subject mask (bool, tracking resolution)."""
        sep = self.colours.separability()
        logit = 1.6 * _logit(carried)
        logit += (0.4 + 1.0 * sep) * _logit(self.colours.posterior(small))
        p_plate, trust = self.plate.evidence(small)
        logit += 2.2 * trust * _logit(p_plate)
        prob = 1.0 / (1.0 + np.exp(-logit))
        guide = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        a, b = gray_coefficients(guide, prob.astype(np.float32), 1, 4e-3)
        prob = a * guide + b
        reach = self._within(carried > 0.3, self.band_px)
        fg = (prob > 0.5) & reach
        return self._keep_tracked(fg, carried)

    def _keep_tracked(self, fg: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """Keep the parts that overlap the carried subject; drop islands that appeared from nowhere."""
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
        if n <= 2:
            return fg
        core = carried > 0.7
        overlap = np.bincount(labels[core], minlength=n)
        area = stats[:, cv2.CC_STAT_AREA].copy()
        area[0] = 0
        # A separate part must overlap the carried subject AND be sizeable: a small thing that
        # wandered into the track (a passer-by) would otherwise be carried forever.
        keep = np.flatnonzero((overlap > 0) & (area >= 0.15 * area.max()))
        keep = keep[keep != 0]
        return np.isin(labels, keep) if keep.size else fg

    def _learn(self, small: np.ndarray, fg: np.ndarray) -> None:
        """Re-anchor: colours and plate learn from pixels that are clearly subject or background."""
        fg8 = fg.astype(np.uint8)
        far = ~self._within(fg, self.band_px)
        self.plate.update(small, far)
        if self.frames_seen % 5 == 0:
            inner = cv2.erode(fg8, self._kernel) > 0
            self.colours.update(small, inner, far, rate=0.1)

    def _finish(self, frame: np.ndarray, small: np.ndarray, fg: np.ndarray, hard: np.ndarray | None = None) -> np.ndarray:
        """Full-resolution alpha: the tracking mask upscaled, and the edge band solved at full resolution."""
        fgb = fg > 0.5
        guide_small = small.astype(np.float32) * np.float32(1.0 / 255.0)
        gray = cv2.cvtColor(guide_small, cv2.COLOR_RGB2GRAY)
        a, b = gray_coefficients(gray, fgb.astype(np.float32), _GUIDED_R, _EPS)
        soft = a * gray + b
        soft = np.clip(soft, 0.0, 1.0)
        band, colours = self._band(small, fgb, soft)
        self.prev_alpha = soft
        h, w = frame.shape[:2]
        sh, sw = small.shape[:2]
        alpha = cv2.resize(fgb.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        idx = self._full_indices(band, w, h)
        if idx.size:
            ys, xs = np.divmod(idx, w)
            lx = (xs.astype(np.float32) + 0.5) * np.float32(sw / w) - 0.5
            ly = (ys.astype(np.float32) + 0.5) * np.float32(sh / h) - 0.5
            pix = frame.reshape(-1, 3)[idx].astype(np.float32)
            gray_pix = pix @ np.float32([0.299, 0.587, 0.114])
            fallback = gather(a, lx, ly) * gray_pix * np.float32(1.0 / 255.0) + gather(b, lx, ly)
            value = np.clip(fallback, 0.0, 1.0)
            if colours is not None:
                fgc = gather(colours, lx, ly)
                if self.plate.full is not None:
                    bgc = self.plate.full.reshape(-1, 3)[idx]
                else:
                    bgc = gather(self.plate.image, lx, ly)
                solved, trust = solve_alpha(pix, fgc, bgc * np.float32(self.plate.gain))
                trust *= np.clip(gather(self.plate.valid, lx, ly) * 2.0 - 1.0, 0.0, 1.0)
                value = trust * solved + (1.0 - trust) * value
            alpha.reshape(-1)[idx] = value
        alpha = np.clip(alpha, 0.0, 1.0, out=alpha)
        if hard is not None:  # the prompt frame: the person's own mask wins away from its edge
            alpha = self._respect_mask(alpha, hard)
        return alpha.astype(np.float32, copy=False)

    def _full_indices(self, band: np.ndarray, w: int, h: int) -> np.ndarray:
        """Flat full-resolution indices of the pixels whose tracking pixel is in ``band``.

        Only the band's bounding box is looked at, so the cost follows the subject, not the frame.
        """
        sh, sw = band.shape
        if self._lowmap is None or self._lowmap[0].size != w or self._lowmap[1].size != h:
            self._lowmap = (np.minimum((np.arange(w) + 0.5) * (sw / w), sw - 1).astype(np.intp),
                            np.minimum((np.arange(h) + 0.5) * (sh / h), sh - 1).astype(np.intp))
        x, y, bw, bh = cv2.boundingRect(band.view(np.uint8))
        if bw == 0 or bh == 0:
            return np.zeros(0, np.intp)
        lowx, lowy = self._lowmap
        x0, x1 = np.searchsorted(lowx, x), np.searchsorted(lowx, x + bw)
        y0, y1 = np.searchsorted(lowy, y), np.searchsorted(lowy, y + bh)
        crop = band[lowy[y0:y1, None], lowx[None, x0:x1]]
        cy, cx = np.divmod(np.flatnonzero(crop), x1 - x0)
        return (cy + y0) * w + (cx + x0)

    def _band(self, small: np.ndarray, fg: np.ndarray, soft: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Tracking-resolution pixels whose alpha is solved at full resolution, and the subject's colours.

        The band is the mask's edge, plus every pixel near it that the same compositing solve,
        done at tracking resolution, finds partly transparent: a cloud of thin strands is subject
        at tracking resolution, but most of its full-resolution pixels are background.
        Also updates ``soft`` (in place) with that low-resolution solve where it is trusted.
        """
        fg8 = fg.view(np.uint8)
        band = cv2.dilate(fg8, self._band_kernel) > cv2.erode(fg8, self._band_kernel)
        if self.plate is None or not self.refine:
            return band, None
        d_out = cv2.distanceTransform(1 - fg8, cv2.DIST_L2, 3)
        d_in = cv2.distanceTransform(fg8, cv2.DIST_L2, 3)
        # The subject's own colours come from well inside it: near the edge they may be mixed.
        inner = (d_in > _DEEP * self.band_px).view(np.uint8)
        # Spread at half resolution (the colours are smooth at this scale), then back up.
        half = spread_colours(cv2.pyrDown(small.astype(np.float32)), cv2.pyrDown(inner.astype(np.float32)))
        colours = cv2.resize(half, (fg.shape[1], fg.shape[0]), interpolation=cv2.INTER_LINEAR)
        zone = np.flatnonzero((d_out <= self.band_px) & (d_in <= self.band_px))
        pix = small.reshape(-1, 3)[zone].astype(np.float32)
        bgc = self.plate.image.reshape(-1, 3)[zone] * np.float32(self.plate.gain)
        solved, trust = solve_alpha(pix, colours.reshape(-1, 3)[zone], bgc)
        trust *= np.clip(self.plate.valid.reshape(-1)[zone] * 2.0 - 1.0, 0.0, 1.0)
        mixed = np.zeros(fg.size, np.uint8)
        mixed[zone] = (trust > 0.3) & (solved > 0.02) & (solved < 0.97)
        band |= cv2.dilate(mixed.reshape(fg.shape), self._kernel3) > 0
        flat = soft.reshape(-1)
        flat[zone] = trust * solved + (1.0 - trust) * flat[zone]
        return band, colours

    def _respect_mask(self, alpha: np.ndarray, hard: np.ndarray) -> np.ndarray:
        inner = cv2.erode(hard.astype(np.uint8), self._disc(3)) > 0
        outer = cv2.dilate(hard.astype(np.uint8), self._disc(3)) == 0
        alpha[inner] = 1.0
        alpha[outer] = 0.0
        return alpha
