"""Embedded matter: carries the subject's matte through a clip with no model weights.

Per frame, at tracking resolution (``preset.embedded_scale_px`` on the long side):
1. dense optical flow (DIS) carries the previous matte onto the new frame (with a still camera, held
   where the flow is wrong: beside something fast, ``FlowTracker.carry``);
2. the camera's own motion is fitted to the background's flow and moves the background plate;
   a hand-held still camera's frames are first shifted onto the clip's median, and their mattes
   back (models/embedded/steady.py); each frame is compared at its own exposure (exposure.py);
3. three pieces of evidence are fused in log-odds: the carried matte, the subject/background
   colour models, and the difference from the background plate (where the plate is known);
   the carried matte limits where the subject can be (a band around it), so clutter far away
   never joins the subject; with a still camera, things moving in the background are marked
   while they are far from the subject and followed when they pass near it, and the plate is not
   trusted under them (models/embedded/movers.py); other bodies beside the subject at the prompt
   frame (a hand touching it) are followed too, and never annexed (models/embedded/others.py);
   where the subject's own colour already matched the plate a frame ago (a white dog over pale
   concrete), neither the plate nor the colour models can tell it from the background there, and
   the carried matte decides (``BackgroundPlate.blind_to``); the subject's shadow beside it (the plate darkened
   evenly and smoothly) is background (``BackgroundPlate.shadow``); with a still camera, once nothing is carried any
   more (the subject left the frame), what comes back in its size and colours is taken up again
   (``_find_if_lost``, models/embedded/reacquire.py);
4. the fused map is smoothed edge-aware (guided filter) and cut at 0.5 -> the subject this frame,
   less the parts that split off and are not the subject's (models/embedded/parts.py); the models
   (colours, plate) learn from the confident parts, which re-anchors the track;
5. the edge at full resolution (``embedded_refine``, models/embedded/full_edges.py): a band of
   tracking pixels (the mask's edge plus whatever a tracking-resolution compositing solve finds
   partly transparent, e.g. a cloud of hair strands) is solved pixel by pixel with
   I = a F + (1 - a) B, B from the plate (the full-resolution median for a still camera) or, where
   the plate does not know the background there, spread in from the background around, F spread
   from the subject's interior or, where another of the subject's colours explains the pixel
   clearly better (hair strands beside a face), that colour from a small palette of the subject's
   colours, if the subject shows it nearby (models/embedded/edges.py, palette.py); where that is
   ill-posed, a fast guided filter of the mask is used, never below the tracking matte; inside the
   mask a pixel of one of the subject's own colours stays opaque.
Where the cost goes: steps 3-5 run only inside the ROI, the subject's box grown by how far the
subject and its edge zone can reach this frame (everything outside it is background, alpha 0);
only flow, camera motion and the plate's warp see the whole tracking frame, and the plate is
refreshed outside the ROI every few frames only. At full resolution only the band's pixels are
touched, as flat arrays sampled with one set of remap maps: the cost follows the subject's edge,
not the frame (about 11-13 ms of one core per 720p frame for ``balanced``, bench/matter_speed.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from app_config import PRESETS, QualityPreset
from core.compositing import long_side_size, shrink
from core.exceptions import EmptyMaskError, MaskSizeError, PromptError
from core.grain import smoothed, smoothing_for
from models.base import Matter, SampleSource, as_sample_source
from models.embedded import others as other_bodies
from models.embedded.colour import ColourModel
from models.embedded.full_edges import FullResolutionEdges, disc, distance_outside
from models.embedded.guided import gray_coefficients
from models.embedded.motion import STILL_PX, FlowTracker, camera_motion, is_still
from models.embedded.movers import PUSH, BackgroundMovers
from models.embedded.palette import subject_palette
from models.embedded.parts import LOOSE_NEAR, LooseEvidence, subject_parts
from models.embedded.plate import BackgroundPlate
from models.embedded.reacquire import LostSubject
from models.embedded.steady import Steadier
from models.embedded.still_camera import StillCamera, look_at

logger = logging.getLogger(__name__)

STILL_CAMERA_PX = 0.75  # a clip whose samples looked still: smaller fitted motions are flow noise
_PLATE_EVERY = 4  # frames between updates of the whole plate (the ROI's part: every frame)
_PLATE_GAP = 0.5  # x band_px: the plate learns from pixels this far from the subject (swept 0.25-1: 0.5 best)
_PLATE_CLEAR = 0.05  # ... and where the carried matte is below this (strands reaching out)
_ROI_ALIGN = 16
LOST = 0.1  # x the subject's prompt-frame area: carrying less than this, the subject is looked for
_SHADOW_HELD = 0.7  # carried alpha under which the last frame's shadow stays shadow
_ROI_MARGIN = 8  # tracking-res px beyond the reach of the edge zone: the filters' support


def _first(source: SampleSource) -> np.ndarray | None:
    """The first of the source's two first looks (the prompt frame), or None."""
    pair = source.pair()
    return None if pair is None else pair[0]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.02, 0.98)
    return np.log(p / (1.0 - p))


class EmbeddedMatter(FullResolutionEdges, Matter):
    """Classical propagation + edge matting. One instance per direction of feeding."""

    name = "embedded"

    def __init__(self, preset: QualityPreset | None = None) -> None:
        self.preset = preset or PRESETS["balanced"]
        self.scale_px = int(self.preset.embedded_scale_px)
        self.refine = bool(self.preset.embedded_refine)
        self._still: StillCamera | None = None
        self._full_size: tuple[int, int] | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._kernel3 = np.ones((3, 3), np.uint8)
        # The ring around the mask's edge whose pixels get their own alpha at full resolution (the edge
        # solve adds the partly transparent pixels it finds beyond it). r = 2: a tracking mask a pixel
        # off the true edge still has the edge inside the ring, which steadies the matte over time
        # (bench.quality dtSSD 2.97 -> 2.94, for 40 % more band pixels than r = 1: 0.5 ms a 720p frame).
        self._band_kernel = disc(2)
        self.plate: BackgroundPlate | None = None
        self.movers: BackgroundMovers | None = None  # still camera only
        self.others: other_bodies.OtherBodies | None = None  # still camera only
        self.palette: np.ndarray | None = None
        self.lost: LostSubject | None = None
        self.shaded: np.ndarray | None = None  # float32 0/1: where the last frame had the subject's shadow
        self.frames_seen = 0
        self.grain_px: float | None = None  # the tracking frames' smoothing (core/grain.py), once decided
        self._steady: Steadier | None = None  # a hand-held still camera: frames shifted onto the median
        self.last_box: tuple[int, int, int, int] | None = None  # the edge solve's box, full size (``_finish``)

    # --- sizes --------------------------------------------------------------------------
    def _shrink(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self._full_size is not None and (w, h) != self._full_size:
            raise PromptError(f"frame is {w}x{h} but tracking started at {self._full_size[0]}x{self._full_size[1]}",
                              "feed frames of one size to one matter instance")
        return self._downscale(frame)

    def _downscale(self, frame: np.ndarray) -> np.ndarray:
        small = self._tracking_size(frame)
        if self.grain_px:
            return smoothed(small, self.grain_px)
        return small.copy() if small is frame else small  # the plate keeps and updates what this returns

    def _tracking_size(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        # halved while at least the tracking size (INTER_AREA is fast for halving only), then bilinear
        return shrink(frame, long_side_size(w, h, self.scale_px, 16), last=cv2.INTER_LINEAR)

    def _decide_grain(self, frame: np.ndarray | None) -> float:
        """The smoothing of the tracking frames, from one frame of the clip: 0 for a clean clip.

        Why: a dark phone clip's sensor noise, at tracking size still, reads to the plate and the
        colour models as the subject here and there: specks of background taken in around it, and a
        ragged edge (juggle.mp4 darkened, noise added: IoU 0.88 against the clean clip's matte from
        the same mask, 0.93 with the frames smoothed; MAD 3.0 -> 1.9). Decided once for the clip, so
        the plate's samples and every frame are smoothed alike; the edge's full-resolution pixels are
        left as they are."""
        return 0.0 if frame is None else smoothing_for(self._tracking_size(frame))

    # --- the Matter role ------------------------------------------------------------------
    def prepare(self, samples: SampleSource | Sequence[np.ndarray]) -> None:
        """A clean plate by temporal median of frames spread over the clip, if the camera is still
        (models/embedded/still_camera.py)."""
        source = as_sample_source(samples)
        self.grain_px = source.memo(("embedded grain", self.scale_px), lambda: self._decide_grain(_first(source)))
        # Worked out once per job (the forward and the backward matter share it); the plates are
        # changed in place later (``_initial_plate``), so each matter takes its own copy.
        still = source.memo(("embedded plates", self.scale_px), lambda: look_at(source, self._downscale))
        self._still = None if still is None else still.own_copy()

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
        if self.grain_px is None:  # not prepared (a photo, a preview): from this frame
            self.grain_px = self._decide_grain(frame)
        self._steady = Steadier(self._still.median) if self._still is not None and self._still.swayed else None
        small = self._shrink(frame)
        if self._fit_sway(frame, small, m):  # the start: whole frame and mask moved
            frame, m = self._steady.move_start(frame, m)
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
        self.palette = subject_palette(small, inner)
        self.lost = LostSubject(float(np.count_nonzero(fg)))
        # seen against the median as the samples gave it (the plate fills its holes from this frame)
        still = self._still if self._still is not None and self._still.median.shape == small.shape else None
        motion = None if still is None else still.prompt_motion(small, self.flow)
        others = None if motion is None else \
            other_bodies.OtherBodies(still.median, still.agree, small, fg, self.band_px, motion)
        self.plate = self._initial_plate(frame, small, fg, near)
        self.movers = BackgroundMovers(self.plate.image) if self.plate.full is not None else None
        self.others = others  # a still camera: the plate has its full median, and movers are on too
        self.prev_gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        self.prev_small = small.copy()
        self.prev_alpha = fg.astype(np.float32)
        self.shaded = np.zeros(fg.shape, np.float32)
        self.frames_seen = 1
        return self._unsteadied(self._finish(frame, small, fg, self._roi(fg), hard=m >= 0.5))

    def step(self, frame: np.ndarray) -> np.ndarray:
        if self.frames_seen == 0:
            raise PromptError("step() before start()", "give the first frame and its mask to start()")
        small = self._shrink(frame)
        if self._fit_sway(frame, small):  # as if shrunk from the moved frame
            small = self._steady.shifted_small(frame, self._shrink)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        flow = self.flow.backward(gray, self.prev_gray)
        carried = self.flow.carry(self.prev_alpha, flow, gray, self.prev_gray, still=self.plate.full is not None)
        self._follow_camera(flow, carried)
        self.plate.fit_gain(small, carried < 0.02)
        carried = self._find_if_lost(small, carried)
        roi = self._roi(carried > 0.3)
        if self.movers is not None:
            if self.plate.full is None:  # the camera moved after all: the median is no longer the background
                self.movers = None
            else:
                self.movers.update(small, self.plate.gain, self.flow, flow, carried, self.band_px)
        if self.others is not None:
            if self.plate.full is None:
                self.others = None
            else:
                self.others.update(small, self.plate, self.flow, flow, carried)
        fg = np.zeros(small.shape[:2], bool)
        blind = None
        if roi is not None:
            before = self.flow.warp(self.prev_small, flow, roi)  # the previous frame brought onto the ROI
            was_shaded = self.flow.warp(self.shaded, flow, roi) > 0.5 if cv2.countNonZero(self.shaded) else \
                np.zeros(carried[roi].shape, bool)
            fg[roi], blind, shade = self._decide(small[roi], carried[roi], roi, before, was_shaded)
            self.shaded[:] = 0.0
            self.shaded[roi] = shade
        # distance to this frame's subject in the ROI: both the plate's learning and the edge band use it
        d_out = distance_outside(fg[roi]) if roi is not None else None
        self._learn(small, fg, roi, carried, d_out)
        self.prev_gray = gray
        self.prev_small = small
        self.frames_seen += 1
        return self._unsteadied(self._finish(frame, small, fg, roi, d_out=d_out, carried=carried, blind=blind))

    def close(self) -> None:
        self.plate = None
        self.movers = None
        self.others = None
        self._still = None

    # --- steps ----------------------------------------------------------------------------
    def _fit_sway(self, frame: np.ndarray, small: np.ndarray, mask: np.ndarray | None = None) -> bool:
        """Whether ``frame`` (``small`` at tracking size) is to be moved onto a hand-held camera's
        median (models/embedded/steady.py), fitted away from the subject's last matte (the start's
        mask). The full-size frame is moved where the edge solve reads it only (``_frame_box``)."""
        if self._steady is None:
            return False
        if mask is None:
            return self._steady.fit(frame.shape, small, self.prev_alpha > 0.02, self.band_px)
        self._steady.shifted = None
        if self._still is not None and self._still.is_prompt(small):  # what the samples were aligned with
            return False
        subject = cv2.resize(mask, small.shape[1::-1], interpolation=cv2.INTER_AREA) > 0.02
        return self._steady.fit(frame.shape, small, subject, 0.04 * max(small.shape[:2]))

    def _frame_box(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        return None if self._steady is None else self._steady.crop(frame, box)

    def _unsteadied(self, alpha: np.ndarray) -> np.ndarray:
        return alpha if self._steady is None else self._steady.back(alpha, self.last_box)

    @staticmethod
    def _within(mask: np.ndarray, r: float) -> np.ndarray:
        """Pixels within ``r`` px of ``mask`` (a wide dilation; a distance transform is cheaper)."""
        return distance_outside(mask) <= r

    def _initial_plate(self, frame: np.ndarray, small: np.ndarray, fg: np.ndarray,
                       near: np.ndarray) -> BackgroundPlate:
        if self._still is not None and self._still.median.shape == small.shape:
            return self._still.plate(frame, small, fg, near, self._kernel, self.palette)
        return BackgroundPlate(small, ~near)

    def _follow_camera(self, flow: np.ndarray, carried: np.ndarray) -> None:
        background = (carried < 0.02) & (self.plate.valid > 0.5)
        m = camera_motion(flow, background)
        if m is None:
            self.plate.valid *= 0.5  # cannot follow the camera: trust the plate less
        elif not is_still(m, STILL_CAMERA_PX if self.plate.full is not None else STILL_PX):
            self.plate.move(m)

    def _find_if_lost(self, small: np.ndarray, carried: np.ndarray) -> np.ndarray:
        """``carried``, or where next to nothing is carried any more (``LOST``: a scrap of the leash
        is all that is left) and the camera is still, that and the subject found again as it comes
        back (models/embedded/reacquire.py), as if carried."""
        if self.lost is None or self.plate.full is None or self.palette is None:
            return carried
        if cv2.countNonZero(cv2.compare(carried, 0.3, cv2.CMP_GT)) >= LOST * self.lost.area:
            self.lost.forget()
            return carried
        others = self.others.map if self.others is not None else None
        found = self.lost.look(small, self.plate, self.palette, self.colours, others)
        return carried if found is None else np.maximum(carried, found.astype(np.float32))

    def _roi(self, subject: np.ndarray) -> tuple[slice, slice] | None:
        """The part of the tracking frame where anything about the subject can change this frame.

        The subject can only grow ``band_px`` beyond the carried core (``_decide``), and the edge
        zone reaches ``band_px`` beyond that (``_band``): with a few pixels more for the filters,
        everything outside the box is background, so the per-pixel work stays inside it.
        """
        x, y, w, h = cv2.boundingRect(subject.view(np.uint8))
        if w == 0 or h == 0:
            return None
        pad = 2 * self.band_px + _ROI_MARGIN
        sh, sw = subject.shape
        # The box starts on a multiple of _ROI_ALIGN so the colour pyramid (models/embedded/edges.py)
        # sees the same pixel grid as it would on the whole frame.
        y0, x0 = max(0, y - pad) // _ROI_ALIGN * _ROI_ALIGN, max(0, x - pad) // _ROI_ALIGN * _ROI_ALIGN
        return slice(y0, min(sh, y + h + pad)), slice(x0, min(sw, x + w + pad))

    def _decide(self, small: np.ndarray, carried: np.ndarray, roi: tuple[slice, slice],
                before: np.ndarray, was_shaded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fuse the evidence into this frame's subject mask (bool, the ROI of the tracking frame); also
        where the plate is blind to the subject (``BackgroundPlate.blind_to``), which the edge solve needs too, and
        the subject's shadow beside it (bool; ``was_shaded``: the last frame's, brought along the flow)."""
        sep = self.colours.separability()
        logit = 1.6 * _logit(carried)
        tolerance = self.plate.tolerance(roi)
        p_plate, trust = self.plate.evidence(small, roi, tolerance)
        blind = self.plate.blind_to(before, carried, roi, tolerance, self.palette)
        posterior = self.colours.posterior(small)
        logit += (0.4 + 1.0 * sep) * _logit(posterior) * (1.0 - blind)
        trust *= 1.0 - blind
        doubtful = self.plate.doubtful(posterior, p_plate, roi)
        if doubtful is not None:
            trust[doubtful] = 0.0
        if self.movers is not None:  # something passing behind: the plate is not the background there
            moving = self.movers.weight(roi)
            trust *= 1.0 - moving
            logit -= PUSH * moving * (1.0 - carried)
        if self.others is not None:  # another body that stood beside the subject: never newly annexed
            logit -= other_bodies.PUSH * self.others.weight(roi)
        # The subject's shadow, where nothing of the subject is carried or the last frame had it too
        # (else the matte's soft edge takes it a pixel a frame): the plate's "differs" is the
        # shadow's and says background. Where the subject is carried it is left alone: its own grey
        # fur in its shade looks like a shadow on a grey floor (dog.mp4: its face was lost).
        core = carried > 0.3
        reach = self._within(core, self.band_px)
        maybe = (p_plate > 0.05) & (trust > 0.05) & reach & (~core | (was_shaded & (carried < _SHADOW_HELD)))
        shade = self.plate.shadow(small, roi, maybe)
        p_plate[shade] = 0.04
        logit += 2.2 * trust * _logit(p_plate)
        prob = 1.0 / (1.0 + np.exp(-logit))
        guide = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        a, b = gray_coefficients(guide, prob.astype(np.float32), 1, 4e-3)
        prob = a * guide + b
        fg = (prob > 0.5) & reach
        off_plate = None
        if self.plate.full is not None:  # a still camera: the plate tells bodies from the background
            off_plate = (p_plate > 0.5) & (self.plate.valid[roi] > 0.5)
            body = other_bodies.growth(fg & ~core, off_plate, core, reach)
            fg &= ~body
            if self.others is not None and body.any():  # followed from now on, like those at the prompt
                self.others.map[roi] |= body.view(np.uint8)
        if doubtful is not None:  # nor can the edge solve trust the plate there (``blind`` is this frame's own)
            blind[doubtful] = 1.0
        shade &= ~fg
        blind[shade] = 1.0  # nor in the shadow: darker than the plate, it reads as partly subject

        def loose() -> LooseEvidence:  # what tells a part the subject shed (models/embedded/parts.py)
            beside = None if self.others is None or not self.others.map.any() else \
                cv2.dilate(self.others.map[roi], self._kernel) > 0
            return LooseEvidence(small, off_plate, self.palette, LOOSE_NEAR * self.band_px, beside)

        return subject_parts(fg, carried, loose if off_plate is not None else None), blind, shade

    def _learn(self, small: np.ndarray, fg: np.ndarray, roi: tuple[slice, slice] | None,
               carried: np.ndarray, d_out: np.ndarray | None) -> None:
        """Re-anchor: colours and plate learn from pixels that are clearly subject or background.

        The plate learns up to half a band from the subject, where the edge solve needs it most (on a
        pan that background is new), but not where the carried matte still sees any of the subject
        (a strand of hair reaching out): that would teach the plate the subject's colours.
        """
        far = np.ones(fg.shape, bool)
        if roi is not None:  # the ROI reaches 2 band_px beyond the subject: the distance is exact in it
            touched = cv2.dilate((carried[roi] > _PLATE_CLEAR).view(np.uint8), self._kernel) > 0
            far[roi] = ~((d_out <= _PLATE_GAP * self.band_px) | touched)
        if self.others is not None:  # nor under another body's marks: it is not the background, and a
            far &= self.others.map == 0  # colour learnt there would end its marks (others.learnt_here)
        # The plate matters where the subject is (evidence, edge solve): updated there every frame,
        # everywhere every few frames (new background, light changes).
        everywhere = roi is None or self.frames_seen % _PLATE_EVERY == 0
        self.plate.update(small, far, region=None if everywhere else roi)
        if self.frames_seen % 5 == 0:
            inner = cv2.erode(fg.view(np.uint8), self._kernel) > 0
            self.colours.update(small, inner, far, rate=0.1)
