"""A background plate: what the scene looks like without the subject.

Why: comparing a frame against its clean background finds the subject wherever it differs,
whatever its colours, stops the carried matte from drifting, and gives the ``B`` of the
compositing equation that the edge solve needs (models/embedded/edges.py).
- Still camera: the temporal median of frames sampled over the whole clip is the exact
  background wherever the subject moved; it is kept at full resolution too (for the edge solve).
- Moving camera: the tracking-resolution plate is moved along with the camera each frame and
  refreshed with the pixels that are confidently background.
Exposure changes (auto exposure, flicker) are followed by one gain per frame, fitted on the
background, so the plate does not have to be relearnt when the light changes.
``still_background`` gives a still camera's median at a small size for other users of it (the
click segmenter tells a moving subject from a look-alike background with it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.compositing import long_side_size, shrink
from models.base import SampleSource
from models.embedded import steady
from models.embedded.exposure import brightness, even_exposure, exposure_ratio
from models.embedded.median import temporal_median
from models.embedded.motion import camera_moves
from models.embedded.palette import NEAR, palette_distance

logger = logging.getLogger(__name__)

STILL_TOLERANCE = 12.0  # grey levels: a sample agrees with the median within this
STILL_AGREEMENT = 0.6  # a still camera: in most samples, most pixels agree with the median
BACKGROUND_SIDE = 480  # long side of ``still_background``
MOVING_FRACTION = 2.0 / 384  # the two first looks shifted by this much of the long side: a moving camera
FIRST_LOOK = 0.75  # a still camera's unknown plate pixel: how far what shows there first is trusted
SAME_TOLERANCE = 16.0  # grey levels: seen again, or a drift, within this (a jump beyond it)
JUMP_RATE = 0.1  # x the update rate: a still camera's known plate pixel learns a jump this much slower
JUMP_LOOKS = 5  # ... unless it shows the same new colour this many updates running: then it takes it
SHADOW_DARKER = 0.97  # a shadow: every channel at most this x the plate's ...
SHADOW_LIGHT = 0.3  # ... and at least this (darker: something dark, not a shadow on the plate) ...
SHADOW_EVEN = 0.12  # ... darkened this evenly across the channels ...
SHADOW_SMOOTH = 0.03  # ... and smoothly: the grey ratio's Laplacian (4 neighbours) at most this ...
SHADOW_PLAIN = 30.0  # ... on a plate within this (grey levels) of its surroundings (SHADOW_AROUND px)
SHADOW_AROUND = 15
GAIN_STEP = 2  # a still camera's exposure is measured on every GAIN_STEP-th pixel of each row and column
FAR_FROM_PALETTE = 45.0  # grey levels from the palette: not the subject's colour (palette.NEAR: it is)
CLEARLY_BACKGROUND = 0.2  # P(subject) from colour under which a learnt colour's "not background" is doubted (0.1-0.3: the same)


def median_plate(samples: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(temporal median, fraction of samples agreeing with it per pixel) when the camera looks still.

    Still = in at least 80 % of the samples, at least 60 % of the pixels are within
    ``STILL_TOLERANCE`` of the median (a moving subject covers less than that; a pan moves all).
    Returns None for a moving camera.
    """
    if len(samples) < 5:
        return None
    med = temporal_median(samples)
    close = np.stack([channel_max(cv2.absdiff(s.astype(np.float32), med)) < STILL_TOLERANCE for s in samples])
    agree = close.reshape(len(samples), -1).mean(axis=1)
    logger.debug("plate: agreement per sample %s", np.round(agree, 2))
    if np.mean(agree >= STILL_AGREEMENT) < 0.8:
        return None
    return med, close.mean(axis=0).astype(np.float32)


def still_background(source: SampleSource, side: int = BACKGROUND_SIDE) -> np.ndarray | None:
    """A still camera's background: the temporal median (float32 RGB, ``side`` px on the long side)
    of frames spread over the clip. None when the camera moves (seen in the two first looks or in
    the samples) or there is nothing to look at. Worked out once per source (``memo``)."""
    return source.memo(("still background", side), lambda: _still_background(source, side))


def _still_background(source: SampleSource, side: int) -> np.ndarray | None:
    def small(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return shrink(frame, long_side_size(w, h, side, 8))

    look = look_at_clip(source, small)
    return None if look is None else look.median


@dataclass(frozen=True)
class ClipLook:
    """A still camera's clip, looked at: its median at a small size and what it came from."""

    median: np.ndarray  # float32 RGB, at the size ``downscale`` gives
    agree: np.ndarray  # per pixel, the share of the samples that agree with the median
    samples: list[np.ndarray]  # the frames spread over the clip (one size), as decoded
    exposures: np.ndarray  # each sample's exposure relative to the median's (``even_exposure``)
    offsets: list[np.ndarray] | None  # a hand-held camera: each sample's move (``steady.Warp``, the median's size)
    looks: tuple[np.ndarray, np.ndarray] | None  # the two first looks, downscaled: the prompt frame first


def look_at_clip(source: SampleSource, downscale: Callable[[np.ndarray], np.ndarray],
                 moving_px: float | None = None) -> ClipLook | None:
    """The median of a still camera's clip (``downscale``: a frame to the size wanted), or None when
    the camera moves or there is nothing to look at. Two frames a few apart are looked at first: when
    the camera clearly moves between them (``moving_px`` at the downscaled size; None: a share
    ``MOVING_FRACTION`` of the long side) the frames spread over the clip are never decoded."""
    pair = source.pair()
    looks = None if pair is None else (downscale(pair[0]), downscale(pair[1]))
    if looks is not None:
        first, later = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in looks)
        if camera_moves(first, later, MOVING_FRACTION * max(first.shape) if moving_px is None else moving_px):
            logger.debug("look at the clip: moving camera (seen at the prompt frame)")
            return None
    samples = source.spread()
    if len(samples) == 0:
        return None
    shape = samples[0].shape[:2]
    same = [s for s in samples if s.shape[:2] == shape]
    evened, exposures = even_exposure([downscale(s) for s in same])
    offsets = steady.sample_offsets(evened, looks[0] if looks is not None else evened[0])
    swayed = steady.swayed(offsets, evened[0].shape)
    if swayed:  # a hand-held still camera: the samples aligned with the prompt frame (steady.py)
        evened = [steady.shift(e, o) for e, o in zip(evened, offsets, strict=True)]
    plate = median_plate(evened)
    logger.debug("look at the clip: %s camera in %d samples, exposures %s, sway (px) %s",
                 "still" if plate is not None else "moving", len(same), np.round(exposures, 3),
                 [round(steady.reach(o, evened[0].shape), 2) for o in offsets] if swayed else "none")
    return None if plate is None else ClipLook(plate[0], plate[1], same, exposures,
                                               offsets if swayed else None, looks)


def channel_max(image: np.ndarray) -> np.ndarray:
    """Largest of the three channels per pixel (HxWx3 -> HxW). Three planes and two ``cv2.max``:
    numpy's ``max(axis=-1)`` over the short last axis is about fifteen times slower."""
    d = cv2.split(image)
    return cv2.max(cv2.max(d[0], d[1]), d[2])


class BackgroundPlate:
    """Plate image (float32 RGB, tracking resolution) plus where it is known (``valid``)."""

    def __init__(self, image: np.ndarray, valid: np.ndarray, full: np.ndarray | None = None) -> None:
        self.image = image.astype(np.float32)
        self.valid = valid.astype(np.float32)
        self.full = full  # full-resolution plate (still camera only), float32 RGB
        # still camera: where the plate is still the clip's median (False where it learnt a colour since)
        self.from_median: np.ndarray | None = None if full is None else self.valid >= 1.0
        # still camera: per pixel, updates running that showed one new colour, and that colour (``update``)
        self._jumps = None if full is None else np.zeros(self.valid.shape, np.uint8)
        self._jump_colour = None if full is None else np.zeros(self.image.shape, np.float32)
        # still camera: the plate's brightness as prepared, the fixed yardstick of the exposure (``fit_gain``)
        self._anchor = None if full is None else brightness(self.image[::GAIN_STEP, ::GAIN_STEP])
        self.gain = 1.0

    def tolerance(self, roi: tuple[slice, slice] | None = None) -> np.ndarray:
        """Per-pixel tolerance (of the ROI): sensor noise plus what a sub-pixel misalignment does on an edge.

        Computed on the ROI plus a 3-pixel margin (the filters' reach), so a crop gives exactly
        the whole frame's values there at a fraction of the cost.
        """
        h, w = self.valid.shape
        ys, xs = roi if roi is not None else (slice(0, h), slice(0, w))
        y0, x0 = max(0, ys.start - 3), max(0, xs.start - 3)
        gray = cv2.cvtColor(self.image[y0:min(h, ys.stop + 3), x0:min(w, xs.stop + 3)], cv2.COLOR_RGB2GRAY)
        grad = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3),
                             cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
        tol = 12.0 + (0.35 / 4.0) * cv2.GaussianBlur(grad, (5, 5), 0)
        return tol[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]

    def move(self, m: np.ndarray) -> None:
        """Follow the camera: ``m`` maps current -> previous coordinates. The full plate is dropped."""
        h, w = self.valid.shape
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        self.image = cv2.warpAffine(self.image, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        self.valid = cv2.warpAffine(self.valid, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self.full = self.from_median = self._jumps = self._jump_colour = self._anchor = None

    def doubtful(self, posterior: np.ndarray, p_plate: np.ndarray, roi: tuple[slice, slice]) -> np.ndarray | None:
        """Where a still camera's plate says "subject" (``p_plate`` > 0.5) from a colour it learnt
        during the clip, not from the median, while the colours (``posterior``: P(subject) from
        colour) clearly say "background" (bool, the ROI); None with a moving camera.

        Why: a thing the clicks left out (his white shoes, the ball) that stood where the subject's
        own ghost made the median unknown is learnt as background there; when it moves off, the
        grass it uncovers differs from the plate, and beside the subject it was taken in and
        carried for good (../shared/media/juggle.mp4: grass beside his legs from frame 30 to the end,
        5000-7000 px at 720p). The median's own colours are left to speak: they were seen most.
        """
        if self.from_median is None:
            return None
        return ~self.from_median[roi] & (posterior < CLEARLY_BACKGROUND) & (p_plate > 0.5)

    def fit_gain(self, small: np.ndarray, background: np.ndarray) -> None:
        """Exposure of this frame relative to the plate, from pixels believed to be background.

        A still camera's gain is measured against the plate as it was prepared (the clip's median),
        as the median of the pixels' brightness ratios, where the plate is still the median. Why:
        the plate learns ``seen / gain``, so measured against the plate as it now is, a gain a little
        off is learnt back into the plate and never corrected; with the mean ratio a little low in
        most frames (her shadow, the dark dog passing), it drifted down by itself, 1.0 -> 0.87 over
        ../shared/media/dog.mp4 with no change of light. The tracking plate learnt it along, but the
        full-resolution plate of the edge solve does not learn: the background around the subject
        read 13 % brighter than the plate, partly subject, and the leaves round her head came in.
        """
        if self._anchor is not None:
            self._fit_still_gain(small, background)
            return
        sel = (background & (self.valid > 0.9)).view(np.uint8)
        if cv2.countNonZero(sel) < 200:
            return
        num = sum(cv2.mean(small, sel)[:3])
        den = sum(cv2.mean(self.image, sel)[:3])
        if den > 0:
            self.gain = float(np.clip(num / den, 0.7, 1.4))

    def _fit_still_gain(self, small: np.ndarray, background: np.ndarray) -> None:
        step = (slice(None, None, GAIN_STEP), slice(None, None, GAIN_STEP))
        sel = background[step] & self.from_median[step] & (self.valid[step] > 0.9)
        gain = exposure_ratio(small[step], self._anchor, sel)
        if gain is not None:
            self.gain = gain

    def evidence(self, small: np.ndarray, roi: tuple[slice, slice] | None = None,
                 tolerance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(P(subject) from the difference, how much to trust it) per pixel, float32.

        With ``roi``, ``small`` is that crop of the frame and the answer covers the crop only.
        """
        valid = self.valid if roi is None else self.valid[roi]
        return 0.04 + 0.92 * self.stands_out(small, roi, tolerance), np.clip(valid * 2.0 - 1.0, 0.0, 1.0)

    def stands_out(self, small: np.ndarray, roi: tuple[slice, slice] | None = None,
                   tolerance: np.ndarray | None = None) -> np.ndarray:
        """How clearly each pixel of ``small`` (the ROI's crop with ``roi``) differs from the plate:
        0 within 0.8x the tolerance (it could be the background), 1 beyond 2.2x (it is not), float32.
        ``tolerance``: this plate's ``tolerance(roi)``, when the caller has it already."""
        image = self.image if roi is None else self.image[roi]
        diff = channel_max(cv2.absdiff(small.astype(np.float32), image * np.float32(self.gain)))
        tolerance = self.tolerance(roi) if tolerance is None else tolerance
        return np.clip((diff / tolerance - 0.8) * np.float32(1 / 1.4), 0.0, 1.0)

    def blind_to(self, before: np.ndarray, carried: np.ndarray, roi: tuple[slice, slice],
                 tolerance: np.ndarray, palette: np.ndarray | None) -> np.ndarray:
        """How far the plate is blind to the subject in the ROI (0..1): the ``carried`` subject, where
        its colour one frame ago (``before``, brought along the flow) matched the plate and is one of
        the subject's own colours (``palette``; ``tolerance``: this plate's ``tolerance(roi)``).

        There a pixel that matches the plate says nothing: a white dog over pale concrete matches it
        as well as the concrete does. Without this the plate's "background" wins over the carried
        matte, and the edge solve reads the fur as partly transparent, a little more each frame.
        Background that got into the matte matches the plate too, but its colours are not the
        subject's: the plate stays free to take it out.
        """
        blind = carried * (1.0 - self.stands_out(before, roi, tolerance))
        if palette is None:
            return blind
        flat = blind.reshape(-1)
        idx = np.flatnonzero(flat > 0.01)
        dist = palette_distance(before.reshape(-1, 3)[idx], palette)
        flat[idx] *= np.clip((FAR_FROM_PALETTE - dist) * np.float32(1 / (FAR_FROM_PALETTE - NEAR)), 0.0, 1.0)
        flat[flat <= 0.01] = 0.0
        return blind

    def shadow(self, small: np.ndarray, roi: tuple[slice, slice], candidates: np.ndarray) -> np.ndarray:
        """Which of the ``candidates`` (bool, the ROI: pixels that stand out from the plate) of the
        ROI's crop ``small`` are the plate in shadow (bool, the ROI): darker in every channel, by one
        and the same factor in all three, and smoothly so.

        Why: a subject's shadow on the ground differs from the plate as clearly as the subject does,
        and beside its feet it was taken in (../shared/media/dog.mp4: a grey haze of concrete under
        the dog in every frame). Darkening alone is not enough on a grey floor: the white fur in its
        own shade is the floor darkened evenly too, but its texture is its own, while a shadow keeps
        the floor's (the ratio to the plate changes smoothly). And a plate that stands out from its
        surroundings may show something that stood there in the samples (a person's ghost): the
        floor uncovered there is darker evenly too, but it is no shadow, and the edge solve needs it.
        """
        out = np.zeros(candidates.shape, bool)
        ys, xs = np.nonzero(candidates)
        if not ys.size:
            return out
        gain = np.float32(self.gain)
        plate = self.image[roi]
        ratio = small[ys, xs].astype(np.float32) / np.maximum(plate[ys, xs] * gain, 1.0)
        hi, lo = ratio.max(axis=1), ratio.min(axis=1)
        keep = (hi < SHADOW_DARKER) & (lo > SHADOW_LIGHT) & (hi - lo < SHADOW_EVEN)
        ys, xs = ys[keep], xs[keep]
        if ys.size:  # smoothly (the grey ratio's Laplacian: ~0 on a soft shadow's ramp), on a plain plate
            # Both over the box of these pixels with the filters' reach only (the same values as on
            # the whole ROI and frame): a few hundred pixels, not the ROI's tens of thousands.
            m = SHADOW_AROUND // 2 + 1
            (rh, rw), (h, w) = small.shape[:2], self.valid.shape
            y0, x0 = max(0, ys.min() - m), max(0, xs.min() - m)
            near = (slice(y0, min(rh, ys.max() + m + 1)), slice(x0, min(rw, xs.max() + m + 1)))
            grey = cv2.cvtColor(small[near], cv2.COLOR_RGB2GRAY).astype(np.float32)
            ratio = grey / np.maximum(cv2.cvtColor(plate[near], cv2.COLOR_RGB2GRAY) * gain, 1.0)
            keep = np.abs(cv2.Laplacian(ratio, cv2.CV_32F, ksize=1)[ys - y0, xs - x0]) < SHADOW_SMOOTH
            fy, fx = ys + roi[0].start, xs + roi[1].start  # frame coordinates, for the plate's surroundings
            y0, x0 = max(0, fy.min() - m), max(0, fx.min() - m)
            box = self.image[y0:min(h, fy.max() + m + 1), x0:min(w, fx.max() + m + 1)]
            around = cv2.blur(box, (SHADOW_AROUND, SHADOW_AROUND))[fy - y0, fx - x0]
            keep &= np.abs(plate[ys, xs] - around).max(axis=1) < SHADOW_PLAIN
            out[ys[keep], xs[keep]] = True
        return out

    def update(self, small: np.ndarray, background: np.ndarray, rate: float = 0.3,
               region: tuple[slice, slice] | None = None) -> None:
        """Blend confidently-background pixels into the plate; unknown pixels take them whole.

        A pixel's weight is ``max(rate, 1 - valid)``, so a pixel never seen takes the new colour whole.
        With a moving camera it is known at once: new background keeps coming in at the edges.
        ``region`` limits the update to that box (the plate is changed in place through views).

        With a still camera the plate is the clip's median, and things passing by must not stay in
        it (../shared/media/juggle.mp4: the ball dropping past the juggler's legs). Where the median
        is unknown (the subject stood there in the samples), what shows first is taken whole but
        only partly trusted (``FIRST_LOOK``) until it is seen again: known at once, the white ball
        stayed there for good, the grass then differed from the plate and joined the subject, and
        his white shoes matched it and went. Where the plate is known, a jump off it is learnt
        ``JUMP_RATE`` times slower than a drift (at ``rate`` the ball left a trail), unless the
        same new colour stays for ``JUMP_LOOKS`` updates: then the scene itself changed (a person
        who stood there in most of the samples, so the median showed her, has walked off).
        bench.quality --clips linger (mask): IoU 0.891 -> 0.916, MAD 14.1 -> 10.5. Whatever it
        learns that way is no longer the median's (``from_median``): a learnt colour's word that
        something is not the background is doubted against clear colours (``doubtful``).
        """
        region = region or (slice(None), slice(None))
        image, valid, bg = self.image[region], self.valid[region], background[region]
        weight = cv2.max(1.0 - valid, rate)
        weight[~bg] = 0.0
        seen = cv2.multiply(small[region], 1.0 / self.gain, dtype=cv2.CV_32F)
        if self.full is None:  # a moving camera
            image += cv2.subtract(seen, image) * weight[..., None]
            np.maximum(valid, bg, out=valid)
            return
        same = channel_max(cv2.absdiff(seen, image)) < SAME_TOLERANCE
        known = valid >= 1.0
        unsure = bg & ~known
        if unsure.any():
            again = unsure & same  # what it took last time, seen again: known now
            weight[again] = 0.5
            valid[again] = 1.0
            anew = unsure & ~same  # a new colour: taken whole, partly trusted
            weight[anew] = 1.0
            valid[anew] = FIRST_LOOK
            self.from_median[region][unsure] = False
        jump = bg & known & ~same
        weight[jump] *= JUMP_RATE
        image += cv2.subtract(seen, image) * weight[..., None]
        count, colour = self._jumps[region], self._jump_colour[region]
        count[bg & known & same] = 0  # the plate's own colour again: whatever passed has gone
        x, y, w, h = cv2.boundingRect(jump.view(np.uint8))
        if w:  # the jumps are few (a ball, someone walking off): counted in their box only
            box = (slice(y, y + h), slice(x, x + w))
            taken = self._count_jumps(seen[box], jump[box], image[box], count[box], colour[box])
            self.from_median[region][box][taken] = False

    @staticmethod
    def _count_jumps(seen: np.ndarray, jump: np.ndarray, image: np.ndarray, count: np.ndarray,
                     colour: np.ndarray) -> np.ndarray:
        """Per known pixel that jumped, how many updates running it has shown one and the same new
        colour (``count``, ``colour``); at ``JUMP_LOOKS`` the plate (``image``) takes it."""
        again = jump & (channel_max(cv2.absdiff(seen, colour)) < SAME_TOLERANCE)
        count[again] += 1
        anew = jump & ~again
        count[anew] = 1
        colour[anew] = seen[anew]
        taken = count >= JUMP_LOOKS
        if taken.any():
            image[taken] = seen[taken]
            count[taken] = 0
        return taken
