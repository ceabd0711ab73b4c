"""A still camera's look at the clip before the first frame is matted.

Why: with a still camera the temporal median of frames spread over the clip is a clean plate of
the background, behind the subject too, which the matter compares every frame against (but where
the subject stayed on the spot the median shows the subject, under it and beside it:
``StillCamera.plate``). The look starts with two frames a few apart (the prompt frame and one
shortly after): when the camera clearly moves between them no plate can come of it, and the frames
spread over the clip are never decoded. The same two looks say, at the prompt frame, which bodies
move with the subject (models/embedded/others.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from models.base import SampleSource
from models.embedded.exposure import EXPOSURE_STEADY, at_exposure, exposure_ratio
from models.embedded.median import temporal_median
from models.embedded.motion import FlowTracker
from models.embedded.palette import NEAR, palette_distance
from models.embedded.plate import BackgroundPlate, channel_max, look_at_clip
from models.embedded.steady import shift

logger = logging.getLogger(__name__)

MOVING_CAMERA_PX = 2.0  # tracking-res px between the two first looks: surely a moving camera


@dataclass(frozen=True)
class StillCamera:
    """What the look found: plates at tracking size and at full size, and the two first looks."""

    median: np.ndarray  # float32 RGB, tracking size
    agree: np.ndarray  # per pixel, the share of the samples that agree with the median
    full_median: np.ndarray  # float32 RGB, the clip's size
    looks: tuple[np.ndarray, np.ndarray] | None  # RGB at tracking size, the prompt frame first
    swayed: bool = False  # hand-held: each frame is shifted onto the median (models/embedded/steady.py)

    def own_copy(self) -> StillCamera:
        """A copy whose plates may be changed in place (the two matters of a job share the look)."""
        return replace(self, median=self.median.copy(), full_median=self.full_median.copy())

    def plate(self, frame: np.ndarray, small: np.ndarray, subject: np.ndarray, near: np.ndarray,
              kernel: np.ndarray, palette: np.ndarray | None = None) -> BackgroundPlate:
        """The matter's plate at its start (``frame`` and ``small``, the same at full and tracking size;
        ``subject``: its mask there, bool; ``near``: within the edge zone of it; ``palette``: the
        subject's colours): the median where it is the background, filled, away from the subject and
        where the median shows the subject's ghost beside it (``_ghost``), with what shows now.
        Changes the medians in place (an ``own_copy``'s)."""
        plate, agree = self.median, self.agree
        # Where the subject stood still in the samples the median shows the subject: not a plate.
        same = channel_max(cv2.absdiff(small.astype(np.float32), plate)) < 20
        unknown = (cv2.dilate((subject & same).astype(np.uint8), kernel) > 0) | (agree < 0.5)
        if palette is not None:
            unknown |= self._ghost(small, subject, near, same, palette)
        # Background seen now, away from the subject, fills the holes of the median, at the
        # median's exposure (the prompt frame's may differ: a phone's follows the scene).
        gain = exposure_ratio(small, plate, ~near & ~unknown) or 1.0
        gain = 1.0 if abs(gain - 1.0) < EXPOSURE_STEADY else gain
        fill = unknown & ~near
        plate[fill] = at_exposure(small, gain)[fill]
        unknown &= ~fill
        full = self.full_median
        h, w = full.shape[:2]
        fill_full = cv2.resize(fill.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        full[fill_full] = at_exposure(frame, gain)[fill_full]
        made = BackgroundPlate(plate, ~unknown, full)
        made.gain = gain
        return made

    def _ghost(self, small: np.ndarray, subject: np.ndarray, near: np.ndarray, same: np.ndarray,
               palette: np.ndarray) -> np.ndarray:
        """Where, beside the subject at the prompt frame (``near``, not ``subject``), the median shows
        the subject's own ghost: one of its colours (``palette``) where the frame differs from the
        median (not ``same``) and shows a colour that is not the subject's (bool, tracking size).

        Why: someone who stays on the spot sways, so just beside where they are at the prompt frame
        most samples show them, and the median agrees with itself there. Taken for the background,
        that plate matched the subject's hair when the head swayed back over it, and the hair was
        matted out: a hole in the head that grew frame by frame (bench.quality --clips linger, mask:
        IoU 0.9206 -> 0.9387, MAD 9.95 -> 8.12; the target's clips unchanged). There the plate is
        unknown, and learns what it sees there once the subject has moved off (``BackgroundPlate.update``).
        Filling it with the prompt frame's own colour measured the same on the linger clips but put
        that one frame's noise into the plate of a grainy clip (tests/test_embedded_matter.py, the
        grainy clip: least IoU 0.886 -> 0.864). Away from the subject a median in its colours is left
        alone: the background may well have them.
        """
        ghost = near & ~subject & ~same
        idx = np.flatnonzero(ghost)
        if idx.size:
            of_median = palette_distance(self.median.reshape(-1, 3)[idx], palette) < NEAR
            of_frame = palette_distance(small.reshape(-1, 3)[idx].astype(np.float32), palette) < NEAR
            ghost.reshape(-1)[idx] = of_median & ~of_frame
        return ghost

    def is_prompt(self, small: np.ndarray) -> bool:
        """True when ``small`` (tracking size) is the first look: the prompt frame."""
        return self.looks is not None and self.looks[0].shape == small.shape and \
            cv2.norm(self.looks[0], small, cv2.NORM_INF) <= 2

    def prompt_motion(self, small: np.ndarray, flow: FlowTracker) -> np.ndarray | None:
        """Where each pixel of the prompt frame ``small`` goes by the second look (flow), or None
        when the first look is not this frame (samples given as a list of frames)."""
        if not self.is_prompt(small):
            return None
        first, later = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in self.looks)
        return flow.backward(first, later)


def look_at(source: SampleSource, downscale: Callable[[np.ndarray], np.ndarray]) -> StillCamera | None:
    """The still camera's plates and looks (``downscale``: a frame to tracking size), or None when
    the camera moves (in the two first looks or in the samples) or there is nothing to look at."""
    look = look_at_clip(source, downscale, MOVING_CAMERA_PX)
    if look is None:
        logger.info("embedded matter: no still camera (a moving one, or nothing to look at): no plate")
        return None
    logger.info("embedded matter: still camera in %d samples", len(look.samples))
    evened = [at_exposure(s, g) for s, g in zip(look.samples, look.exposures, strict=True)]
    if look.offsets is not None:  # a hand-held camera: the full-size samples aligned as the small ones were
        scale = look.samples[0].shape[1] / look.median.shape[1]
        evened = [shift(s, o, scale) for s, o in zip(evened, look.offsets, strict=True)]
        logger.info("embedded matter: a hand-held still camera: frames steadied onto the median")
    return StillCamera(look.median, look.agree, temporal_median(evened), look.looks, look.offsets is not None)
