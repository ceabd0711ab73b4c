"""The full-resolution half of the embedded matter: the edge band solved pixel by pixel.

Why a module of its own: the tracking half (models/embedded_matter.py) decides *where* the subject
is, at tracking resolution; this half decides *how much* of each edge pixel is subject, at the
frame's own resolution, touching only the band's pixels (step 5 of the matter's docstring).
``FullResolutionEdges`` is a base of ``EmbeddedMatter`` and reads the state the tracking half keeps:
``plate``, ``others``, ``movers``, ``palette``, ``refine``, ``band_px``, the kernels ``_kernel``,
``_kernel3``, ``_band_kernel``; it writes ``prev_alpha`` (the soft matte the next frame carries).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.edges import Sampler, gather, solve_alpha, spread_colours
from models.embedded.guided import gray_coefficients
from models.embedded.palette import drop_far_picks, localise, palette_distance, pick_from_palette

logger = logging.getLogger(__name__)

_EPS = 1e-3
_DEEP = 0.8  # subject colours come from pixels deeper than this x band_px (with the palette: 0.4-1.3 swept, 0.8 best)
_DEEP_OF_THICKNESS = 0.5  # ... or this x the subject's largest inner distance, if less (a small subject)
_GUIDED_R = 2  # tracking-res px of the guided filter that gives the fallback alpha
# A tracking pixel beside the edge that the low-resolution solve finds at least this much subject
# joins the band. Less is mostly the background's own texture against the plate (grass in the wind,
# a soft shadow): a haze of alpha 0.05-0.2 around the subject (juggle.mp4 and dog.mp4: half of it
# went from 0.02 to 0.1). Swept 0.02-0.3, bench.quality --via-pipeline (mask): MAD 3.72 / 3.56 /
# 3.53 / 3.55 / 3.64 / 4.00 at 0.02 / 0.06 / 0.1 / 0.15 / 0.2 / 0.3, dtSSD 2.87 / 2.86 / 2.86 /
# 2.90 / 2.99 / 3.36.
_MIXED_FROM = 0.1
# Grey levels of a pixel's way from the plate towards the subject colour that the low-resolution
# solve does not count. A background a few levels off its plate (compression, leaves stirring)
# against a subject colour 20-45 levels away read as 10-30 % subject, joined the band and, carried
# frame to frame, grew into a veil (dog.mp4: beside the woman's head at frames 120-135, mean alpha
# 0.09 -> 0.01 in a 50 x 90 px box; pixels of alpha 0.02-0.5 a frame -17 to -27 % on the two real
# clips). bench.quality --via-pipeline (mask) at 0 / 4 / 6 / 8 / 12: MAD 3.39 / 3.40 / 3.41 / 3.44 /
# 3.53, dtSSD 2.83 / 2.85 / 2.86 / 2.88 / 2.94, IoU 0.9749 / 0.9747 / 0.9748 / 0.9748 / 0.9747. The
# full-resolution solve keeps every level: there a floor thinned faint hair (MAD 3.71 at 8).
_BAND_NOISE = 8.0
_SOLID = 0.9  # carried alpha above which a pixel well inside the subject is not solved again (0.8-0.98 swept)
# Grey levels from the nearest colour of the subject's palette within which a pixel inside the
# tracking mask is not solved (trusted fully from twice this): the subject's own colour there.
_OWN_COLOUR = 15.0
# Where a still camera's plate does not know the background (the subject stood there in the samples
# and has not moved off since: someone talking on the spot, the juggler's legs), an edge pixel is solved against
# the background spread in from around the subject instead, as the subject's colour is spread out
# from its middle, and trusted this much. bench.quality --via-pipeline (mask), target clips / the
# linger clips (IoU, MAD) at 0 (no such solve) / 0.5 / 0.75 / 1: 0.9749, 3.44 / 0.9192, 10.25;
# 0.9749, 3.43 / 0.9206, 9.96; 0.9748, 3.43 / 0.9222, 9.86; 0.9747, 3.44 / 0.9229, 9.85 (dtSSD of the
# target clips 2.88 / 2.87 / 2.89 / 2.92).
_AROUND_TRUST = 0.5
# x band_px from the background it is spread from: used fully within half a band of it, not at all
# beyond this. Without a limit the pavement seen between her legs (dog.mp4, frames 124 and 256), far
# from any background around, took the colour spread from outside and read as pale patches of subject
# (the benchmarks a little better without it: target 0.9750 / 3.41 / 2.86, linger 0.9218 / 9.86).
_AROUND_REACH = 1.5
# x band_px: a palette colour is picked for an edge pixel only where the subject shows it this near
# (``palette.drop_far_picks``). bench.quality --via-pipeline (mask), target / linger MAD at 1 / 1.5 /
# 2 / 2.5 / 3, about (measured with the subject's interior, not its whole mask, showing it): 3.73 / 3.40 /
# 3.36 / 3.36 / 3.37, 8.36 / 7.63 / 7.56 / 7.69 / 7.73; without the check 3.42, 7.88.
_PICK_REACH = 2.0


def disc(r: int) -> np.ndarray:
    """A filled disc of radius ``r`` px, as a structuring element."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def lean_on(plate: np.ndarray, known: np.ndarray, local: np.ndarray, around: np.ndarray) -> np.ndarray:
    """The background colours ``plate`` (N x 3) moved towards ``around`` by the share ``local`` has
    of ``known + local``: the plate where it is known, the background around where it is not."""
    share = local / np.maximum(known + local, 1e-6)
    return plate + share[:, None] * (around - plate)


def distance_outside(mask: np.ndarray) -> np.ndarray:
    """Per pixel, the distance (px) to the nearest pixel of ``mask`` (bool); 0 on it."""
    return cv2.distanceTransform(1 - mask.view(np.uint8), cv2.DIST_L2, 3)


class FullResolutionEdges:
    """The edge step of ``EmbeddedMatter`` (see the module's docstring for the state it shares)."""

    def _finish(self, frame: np.ndarray, small: np.ndarray, fg: np.ndarray, roi: tuple[slice, slice] | None,
                hard: np.ndarray | None = None, d_out: np.ndarray | None = None,
                carried: np.ndarray | None = None, blind: np.ndarray | None = None) -> np.ndarray:
        """Full-resolution alpha: the tracking mask upscaled, and the edge band solved at full resolution.

        Only the ROI is looked at: outside it the subject is absent, so the alpha is 0. ``d_out``: the
        distance to ``fg`` in the ROI, when the caller has it already. ``carried``: the previous
        frame's alpha carried onto this one; what it holds solid (above ``_SOLID``) and lies well
        inside the subject now is not solved again: there the solve only adds noise (a subject colour
        near the background's reads as partly transparent), bench.quality MAD 4.24 -> 3.73.
        """
        h, w = frame.shape[:2]
        sh, sw = small.shape[:2]
        alpha = np.zeros((h, w), np.float32)
        self.prev_alpha = np.zeros((sh, sw), np.float32)
        self.last_box = None
        if roi is None:
            return alpha
        fgb = fg[roi]
        crop = small[roi]
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1.0 / 255.0)
        a, b = gray_coefficients(gray, fgb.astype(np.float32), _GUIDED_R, _EPS)
        soft = np.clip(a * gray + b, 0.0, 1.0)
        plate_trust = self._plate_trust(roi)  # the same for the tracking-resolution and full solves
        # Where a solve against the plate or the background around is not to be believed at tracking
        # resolution (``free``: 1 where it is): another body beside the subject has the subject's look to
        # the solve (not the plate: alpha 1), and its soft alpha would be carried into the next frame's
        # subject, a few pixels a frame; a solid carried matte; a plate blind to the subject. (The same
        # vetoes on the full-resolution solve measured worse: bench/RESULTS.md, the median's ghost.)
        free = np.ones(fgb.shape, np.float32) if self.others is None else 1.0 - self.others.weight(roi)
        if carried is not None:
            solid = cv2.bitwise_and(cv2.erode(fgb.view(np.uint8), self._kernel),
                                    cv2.compare(carried[roi], _SOLID, cv2.CMP_GT))
            free = free * (1 - solid).astype(np.float32)
        if blind is not None:  # the plate cannot tell the subject there: nor can a solve against it
            free = free * (1.0 - blind)
        d_in = cv2.distanceTransform(fgb.view(np.uint8), cv2.DIST_L2, 3)
        inside = np.clip(d_in - 1.0, 0.0, 1.0)  # 0 on the mask's outline, 1 from a pixel further in
        band, colours, around = self._band(crop, fgb, soft, roi, free, plate_trust, d_out, d_in, inside)
        self.prev_alpha[roi] = soft
        (x0, y0, x1, y1), m = self._full_box(roi, (w, h), (sw, sh))
        self.last_box = (x0, y0, x1, y1)
        # One nearest-neighbour upscale of the ROI's labels (1 subject, 2 band): a full-resolution
        # pixel takes the tracking pixel holding its centre. Off the band the mask is flat (0 or 1),
        # so nearest is what bilinear would give there; every band pixel gets its own value below.
        labels = cv2.bitwise_or(fgb.view(np.uint8), band.view(np.uint8) << 1)
        box = cv2.warpAffine(labels, m, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
        alpha[y0:y1, x0:x1] = box == 1
        pts = cv2.findNonZero(cv2.compare(box, 2, cv2.CMP_GE))
        if pts is not None:
            u, v = pts.reshape(-1, 2).T
            idx = (v.astype(np.intp) + y0) * w + (u.astype(np.intp) + x0)
            # The same points in ROI coordinates: the pixel-centre mapping of the upscale above.
            xs, ys = u * np.float32(m[0, 0]) + m[0, 2], v * np.float32(m[1, 1]) + m[1, 2]
            at = Sampler(xs, ys)
            steadied = self._frame_box(frame, (x0, y0, x1, y1))  # a hand-held camera's frame, shifted
            pix = np.take(frame.reshape(-1, 3), idx, axis=0) if steadied is None else \
                np.take(steadied.reshape(-1, 3), v.astype(np.intp) * (x1 - x0) + u.astype(np.intp), axis=0)
            pix = pix.astype(np.float32)
            gray_pix = pix @ np.float32([0.299 / 255.0, 0.587 / 255.0, 0.114 / 255.0])
            coef = at(cv2.merge([a, b, plate_trust, inside, soft]))
            # Where the solve below is not trusted: the guided filter of the tracking mask, which
            # follows the frame's own edges, but never less than the tracking-resolution matte with
            # its own trusted solve (``soft``): strands beyond the mask, where the plate does not know
            # the background, came out well under their alpha (the linger clips' partly transparent
            # band pixels: 0.42 against 0.50 on average). bench.quality --via-pipeline
            # (mask), target / linger clips: 0.9748 / 3.44 / 2.88 -> 0.9751 / 3.41 / 2.86, 0.9387 /
            # 8.12 / 5.07 -> 0.9394 / 7.98 / 5.07 (``soft`` alone, blurrier: 0.9748 / 3.45 / 2.89).
            value = np.maximum(np.clip(coef[:, 0] * gray_pix + coef[:, 1], 0.0, 1.0), coef[:, 4])
            if colours is not None:
                fgc = at(colours)
                if self.plate.full is not None:
                    bgc = np.take(self.plate.full.reshape(-1, 3), idx, axis=0)
                else:
                    bgc = at(self.plate.image[roi])
                bgc = bgc * np.float32(self.plate.gain)
                known = np.clip(coef[:, 2] * 2.0 - 1.0, 0.0, 1.0)
                factor = known
                doubt = np.flatnonzero(known < 1.0) if around is not None else np.empty(0, np.intp)
                if doubt.size:  # where the plate does not know the background: the background around
                    sample = gather(around, xs[doubt], ys[doubt])
                    local = (1.0 - known[doubt]) * sample[:, 3]
                    bgc[doubt] = lean_on(bgc[doubt], known[doubt], local, sample[:, :3])
                    factor = known.copy()
                    factor[doubt] += _AROUND_TRUST * local
                solved, trust = solve_alpha(pix, fgc, bgc)
                trust *= factor
                self._own_colour_inside(solved, trust, pix, coef[:, 3])
                value += trust * (solved - value)
            alpha.reshape(-1)[idx] = value
        if hard is not None:  # the prompt frame: the person's own mask wins away from its edge
            alpha = self._respect_mask(alpha, hard)
        return alpha

    def _frame_box(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """The frame's pixels in ``box`` (x0, y0, x1, y1) as the matter sees them, when that is not the
        frame as it came (a hand-held camera's, steadied: ``EmbeddedMatter``); None: as it came."""
        return None

    @staticmethod
    def _full_box(roi: tuple[slice, slice], full: tuple[int, int],
                  small: tuple[int, int]) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The ROI's box at full resolution (x0, y0, x1, y1) and the 2x3 map box pixel -> ROI pixel.

        The map is the pixel-centre mapping of a whole-frame ``cv2.resize``
        (x_roi = (u + x0 + 0.5) * sw / w - 0.5 - roi.x), so results do not depend on the box.
        """
        (w, h), (sw, sh) = full, small
        ys, xs = roi
        fx, fy = sw / w, sh / h
        x0, x1 = int(xs.start / fx), min(w, int(np.ceil(xs.stop / fx)))
        y0, y1 = int(ys.start / fy), min(h, int(np.ceil(ys.stop / fy)))
        m = np.float32([[fx, 0, (x0 + 0.5) * fx - 0.5 - xs.start], [0, fy, (y0 + 0.5) * fy - 0.5 - ys.start]])
        return (x0, y0, x1, y1), m

    def _band(self, small: np.ndarray, fg: np.ndarray, soft: np.ndarray, roi: tuple[slice, slice],
              free: np.ndarray, plate_trust: np.ndarray, d_out: np.ndarray | None, d_in: np.ndarray,
              inside: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Pixels of the ROI whose alpha is solved at full resolution, the subject's colours there, and
        where the plate does not know the background, the background around (``_background_around``;
        None where it knows it all).

        The band is the mask's edge, plus every pixel near it that the same compositing solve,
        done at tracking resolution, finds partly transparent: a cloud of thin strands is subject
        at tracking resolution, but most of its full-resolution pixels are background.
        Also updates ``soft`` (in place) with that low-resolution solve where it is trusted.
        """
        fg8 = fg.view(np.uint8)
        band = cv2.dilate(fg8, self._band_kernel) > cv2.erode(fg8, self._band_kernel)
        if self.plate is None or not self.refine:
            return band, None, None
        if d_out is None:
            d_out = distance_outside(fg)
        # The subject's own colours come from well inside it: near the edge they may be mixed. A subject
        # thinner than twice that depth (a dog far off) has no such pixel, and its edge would be solved
        # against no colour (black, read as transparent): its colours come from its inner half then.
        deep = min(_DEEP * self.band_px, _DEEP_OF_THICKNESS * float(d_in.max()))
        inner = (d_in > deep).view(np.uint8)
        # Spread at half resolution (the colours are smooth at this scale), then back up.
        half, half_inner = cv2.pyrDown(small.astype(np.float32)), cv2.pyrDown(inner.astype(np.float32))
        zone_mask = (d_out <= self.band_px) & (d_in <= self.band_px)
        spread = spread_colours(half, half_inner)
        if self.palette is not None:  # edge pixels of another subject colour (hair by a face) get it
            # Chosen at half resolution, like the spread it corrects (pyrDown: half pixel j is over
            # tracking pixel 2j): a quarter of the pixels to look at, and smoother choices
            # (bench.quality: IoU 0.9715 -> 0.9720, MAD 4.58 -> 4.48, dtSSD 2.94 -> 2.95; 1.2 ms less).
            zone_half = np.flatnonzero(zone_mask[::2, ::2])
            plate_half = cv2.pyrDown(self.plate.image[roi]).reshape(-1, 3)[zone_half] * np.float32(self.plate.gain)
            flat_spread = spread.reshape(-1, 3)
            picked, choice = pick_from_palette(half.reshape(-1, 3)[zone_half], flat_spread[zone_half], plate_half,
                                               self.palette)
            drop_far_picks(picked, choice, zone_half, half, cv2.pyrDown(fg.astype(np.float32)), self.palette,
                           flat_spread[zone_half], _PICK_REACH * self.band_px / 2)
            localise(picked, choice, zone_half, half, half_inner, self.palette)
            flat_spread[zone_half] = picked
        colours = cv2.resize(spread, (fg.shape[1], fg.shape[0]), interpolation=cv2.INTER_LINEAR)
        zone = np.flatnonzero(zone_mask)
        pix = small.reshape(-1, 3)[zone].astype(np.float32)
        plate = self.plate.image[roi].reshape(-1, 3)[zone] * np.float32(self.plate.gain)
        plate_zone = plate_trust.reshape(-1)[zone]
        free_zone = free.reshape(-1)[zone]
        factor = np.clip(plate_zone * free_zone * 2.0 - 1.0, 0.0, 1.0)
        known = np.clip(plate_zone * 2.0 - 1.0, 0.0, 1.0)
        unsure = known < 1.0
        around = None
        # A still camera's only: a moving camera's plate does not know the background coming into view
        # on the side it pans to, and there the solve against the background around gained next to
        # nothing (bench.quality's pan clips, MAD 4.78 / 4.34 -> 4.76 / 4.31) for 2 ms more of a 720p
        # frame's step (the pan job 10 % slower).
        if self.plate.full is not None and unsure.any():
            unknown = np.zeros(fg.shape, np.uint8)
            unknown.reshape(-1)[zone[unsure]] = 1
            around = self._background_around(half, d_out, cv2.boundingRect(unknown))
            doubt = np.flatnonzero(unsure)
            near = around.reshape(-1, 4)[zone[doubt]]
            local = (1.0 - known[doubt]) * near[:, 3]
            plate[doubt] = lean_on(plate[doubt], known[doubt], local, near[:, :3])
            # the same vetoes as the plate's (another body, a solid carried matte, a blind plate)
            added = _AROUND_TRUST * local * np.clip(free_zone[doubt] * 2.0 - 1.0, 0.0, 1.0)
            finding = factor.copy()
            finding[doubt] += added
            # The carried matte takes the solve only where the plate saw the background at least once:
            # where it never did, it is left alone (with the solve there too, her shoe on dog.mp4 faded
            # sooner, frames 11-14); but the pixels the solve finds partly transparent there still join
            # the band, and get their own alpha at full resolution (strands beside someone on the spot:
            # bench.quality --clips linger, mask, MAD 7.98 -> 7.88, dtSSD 5.07 -> 5.02).
            seen = plate_zone[doubt] > 0.0
            factor[doubt[seen]] += added[seen]
        else:
            finding = factor
        solved, fit = solve_alpha(pix, colours.reshape(-1, 3)[zone], plate, _BAND_NOISE)
        trust, found = fit * factor, fit * finding
        self._own_colour_inside(solved, found, pix, inside.reshape(-1)[zone])
        mixed = np.zeros(fg.size, np.uint8)
        mixed[zone] = (found > 0.3) & (solved > _MIXED_FROM) & (solved < 0.97)
        band |= cv2.dilate(mixed.reshape(fg.shape), self._kernel3) > 0
        flat = soft.reshape(-1)
        flat[zone] = trust * solved + (1.0 - trust) * flat[zone]
        return band, colours, around

    def _background_around(self, half: np.ndarray, d_out: np.ndarray,
                           rect: tuple[int, int, int, int]) -> np.ndarray:
        """The background spread in from around the subject over the ROI (channels 0-2; ``half``: the
        ROI at half size; ``d_out``: the distance to the tracking mask), and how near each pixel is to
        where it was spread from (channel 3, 0..1, ``_AROUND_REACH``); one array, sampled in one go at
        full resolution. Zero outside ``rect`` (x, y, w, h: the pixels that need it) grown by twice the
        reach: on a still camera's clip a few percent of the edge zone need it (the plate knows the
        rest), and the whole ROI cost 0.7 ms a 720p frame against 0.4 for the box. Spread from what
        lies beyond the edge zone, which the edge step takes for background (alpha 0), at half
        resolution like the subject's colours."""
        h, w = d_out.shape
        x, y, bw, bh = rect
        pad = int(np.ceil(2 * _AROUND_REACH * self.band_px)) + 2
        x0, y0 = max(0, x - pad) // 2 * 2, max(0, y - pad) // 2 * 2  # even: the half-size crop matches
        x1, y1 = min(w, x + bw + pad), min(h, y + bh + pad)
        sure = d_out[y0:y1, x0:x1] > self.band_px
        weight = cv2.pyrDown(sure.astype(np.float32))
        spread = spread_colours(half[y0 // 2:y0 // 2 + weight.shape[0], x0 // 2:x0 // 2 + weight.shape[1]], weight)
        around = np.zeros((h, w, 4), np.float32)
        around[y0:y1, x0:x1, :3] = cv2.resize(spread, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        around[y0:y1, x0:x1, 3] = np.clip(_AROUND_REACH - distance_outside(sure) * np.float32(1.0 / self.band_px),
                                          0.0, 1.0)
        return around

    def _own_colour_inside(self, solved: np.ndarray, trust: np.ndarray, pix: np.ndarray, inside: np.ndarray) -> None:
        """Raise the ``solved`` alpha (in place) towards 1 for the pixels ``pix`` that have one of the
        subject's own colours (``_OWN_COLOUR``), as far as they lie inside the tracking mask
        (``inside``, 0..1: 0 on its outline, which may be a tracking pixel off).

        Why: inside the subject a pixel as like the plate as the subject's colour is ambiguous, and
        the solve reads it as partly transparent: white fur over pale concrete, or fur in its own
        shade (../shared/media/dog.mp4). That alpha is carried into the next frame, where the pixel
        is no longer held solid and is solved again: holes that spread a little every frame, until
        half the dog was see-through. A colour of the subject's own palette says "subject" as well
        as the mix does; the tracking mask says which to believe. Outside the mask (hair strands
        beyond it) the solve is left alone.
        """
        if self.palette is None:
            return
        # (only where it can change the alpha: solved partly transparent, and the solve trusted)
        idx = np.flatnonzero((inside > 0.0) & (solved < 0.99) & (trust > 0.0))
        if idx.size:
            own = palette_distance(pix[idx], self.palette)
            lift = inside[idx] * np.clip(2.0 - own * np.float32(1 / _OWN_COLOUR), 0.0, 1.0)
            solved[idx] += lift * (1.0 - solved[idx])

    def _plate_trust(self, roi: tuple[slice, slice]) -> np.ndarray:
        """How far the plate is the background in the ROI: known there, and nothing passing in front."""
        valid = self.plate.valid[roi]
        return valid if self.movers is None else valid * (1.0 - self.movers.weight(roi))

    def _respect_mask(self, alpha: np.ndarray, hard: np.ndarray) -> np.ndarray:
        inner = cv2.erode(hard.astype(np.uint8), disc(3)) > 0
        outer = cv2.dilate(hard.astype(np.uint8), disc(3)) == 0
        alpha[inner] = 1.0
        alpha[outer] = 0.0
        return alpha
