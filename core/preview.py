"""Interactive previews: the mask over the prompt frame as a person clicks, and the composited
frame before processing. Used by the studio's events and by the /preview_mask API endpoint.

A ``MaskSession`` belongs to one browser session. It keeps the segmenter's per-image state for the
frame on screen, so a further click costs only the prompt decoding, not a new image embedding.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app_config import Settings, get_settings
from core.compositing import clean_foreground, composite, despill, refine_alpha
from core.exceptions import LimitExceededError, NoPromptError
from core.job import EdgeOptions
from core.lead_in import lead_in_windows
from core.overlay import draw_matte, draw_overlay
from core.prompts import (
    TINY_SELECTION,
    Removal,
    StepKey,
    click_steps,
    is_refinement,
    marked_before,
    segment_each,
    selection_warning,
    step_key,
    subject_masks,
    to_segment,
    union_mask,
    validate_prompts,
    without_empty,
)
from core.subject_parts import union_of
from models.backgrounds import OutputGeometry, make_background
from models.base import ObjectPrompt, SegmentResult
from models.engines import EngineChoice, resolve_engine

logger = logging.getLogger(__name__)

#: a correction's preview carries the matte from the first prompted frame (or from where the last
#: carry stopped) this far at most at 720p (the embedded engine: about 10 s on two cores), fewer for
#: bigger frames (decoding and the edges' work grow with the pixels) but never under CARRY_MIN;
#: further on it shows the clicks' own selection
CARRY_FRAMES = 600
CARRY_MIN = 150


def carry_limit(width: int, height: int) -> int:
    """How many frames a correction's preview carries the matte at most, for frames of this size."""
    return max(CARRY_MIN, round(CARRY_FRAMES * min(1.0, 1280 * 720 / max(1, width * height))))

@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "video" or "photo"
    width: int
    height: int
    frame_count: int
    fps: float
    duration_s: float
    has_audio: bool
    pixel_aspect: float = 1.0  # the width a stored pixel is shown at (anamorphic PAL: 64/45)


def media_info(path: Path | str) -> MediaInfo:
    """What the studio needs to lay out a clip or photo (coded errors for anything else)."""
    from core.image_io import is_image_path, read_image
    from core.video_io import probe

    if is_image_path(path):
        image = read_image(path)
        return MediaInfo("photo", image.shape[1], image.shape[0], 1, 0.0, 0.0, False)
    info = probe(path)
    return MediaInfo("video", info.width, info.height, info.frame_count, float(info.fps), info.duration_s,
                     info.has_audio, float(info.sample_aspect))


def read_frame(path: Path | str, index: int = 0) -> np.ndarray:
    """Frame ``index`` of a video, or the photo itself, as upright RGB uint8."""
    from core.image_io import is_image_path, read_image
    from core.video_reader import VideoReader

    if is_image_path(path):
        return read_image(path)
    with VideoReader(path) as reader:
        return reader.read_frame(index)


def _pixel_aspect(path: Path | str) -> float:
    """The sample aspect ratio the job's outputs will carry (1 for a photo)."""
    from core.image_io import is_image_path
    from core.video_io import probe

    return 1.0 if is_image_path(path) else float(probe(path).sample_aspect)


@dataclass
class PreviewResult:
    overlay: np.ndarray  # RGB: the frame with each subject tinted in its colour, outlined, points drawn
    alpha: np.ndarray  # float32 (H, W): all subjects, soft edges
    masks: dict[int, np.ndarray]
    engine: str
    reason: str
    notice: str | None = None  # clicks that selected nothing or next to nothing: what to do instead


def removal_notice(removed: dict[int, np.ndarray]) -> str | None:
    """What 'not subject' clicks alone on a frame do, said where the preview shows them."""
    if not removed:
        return None
    which = ", ".join(str(oid) for oid in sorted(removed))
    return (f"striped: taken out of subject {which}'s matte from this frame on (a correction: only "
            "'not subject' clicks here). On the first frame with clicks a subject needs a click on it.")


def refinement_notice(subjects: list[int], first: int, seconds: float | None, limit: int = CARRY_FRAMES) -> str:
    """What 'subject' clicks on a later frame show for subjects marked on an earlier one (``seconds``:
    how long carrying the matte here took; None: too far to carry for a preview, over ``limit``)."""
    names = ", ".join(str(oid) for oid in subjects)
    if seconds is None:
        return (f"a correction of subject {names}: the job adds what these clicks select to its matte as carried "
                f"here from frame {first}, too far to work out for a preview (over {limit} frames); "
                "shown: the clicks' own selection.")
    return (f"a correction of subject {names}: shown is its matte as the job carries it here from frame {first} "
            f"(tracked in {seconds:.1f} s), with what these clicks add or take out; the job restarts the subject "
            "from that, its colours learnt again here, and eases the second before into it.")


class MaskSession:
    """One person's interactive segmentation state (engine, cached image, last results)."""

    def __init__(self, engine: str = "auto", quality: str = "balanced", settings: Settings | None = None) -> None:
        self.settings = replace(settings or get_settings(), quality=quality)
        self.requested_engine = engine
        self._engine: EngineChoice | None = None
        self._image_key: tuple | None = None
        self._image: np.ndarray | None = None
        self._steps: dict[StepKey, SegmentResult] = {}  # answers to the clicks so far on the frame shown
        self._lock = threading.Lock()
        self._clip_path: str | None = None
        self._samples = None  # core.clip_samples.ClipSamples of the video on screen (None: a photo)
        self._carry = None  # core.carry.Carry of the clip on screen, kept where it stopped
        self._carry_s = 0.0  # how long the last carry took

    @property
    def engine(self) -> EngineChoice:
        if self._engine is None:
            self._engine = resolve_engine(self.requested_engine, self.settings)
        return self._engine

    @property
    def engine_name(self) -> str:
        return self.engine.name

    @property
    def engine_reason(self) -> str:
        return self.engine.reason

    def frame(self, path: Path | str, frame_index: int) -> np.ndarray:
        """The frame on screen; decoding it and the segmenter's embedding happen once per frame."""
        key = (str(path), int(frame_index))
        if key != self._image_key:
            self._image = read_frame(path, frame_index)
            self._use_clip(path, frame_index)
            self.engine.segmenter.set_image(self._image)
            self._image_key = key
            self._steps = {}
        return self._image

    def preview(self, path: Path | str, frame_index: int, objects: list[ObjectPrompt],
                earlier: Mapping[int, list[ObjectPrompt]] | None = None) -> PreviewResult:
        """``objects``' masks on one frame; with the prompts of the frames before it (``earlier``), a
        subject marked there and clicked here shows its carried matte as the clicks refine it."""
        earlier = without_empty(earlier or {})
        with self._lock:
            live = [o for o in objects if not o.is_empty()]
            marked = marked_before({**(earlier or {}), frame_index: live})[frame_index]
            refining = sorted(o.object_id for o in live if is_refinement(o) and o.object_id in marked)
            first = min((f for f, objs in (earlier or {}).items() if f < frame_index and objs), default=frame_index)
            if refining:  # the carry replays the frames before as the job would: checked as it checks them
                self._check_earlier(path, frame_index, earlier or {})
            limit = carry_limit(*self._size(path)) if refining else CARRY_FRAMES
            far = frame_index - self._carry_start(path, frame_index, earlier or {}, refining, first) > limit
            alphas = self._carried(path, frame_index, earlier or {}, refining) if refining and not far else {}
            # as the job does (core/subject_tracks.py): a subject lost by here is found afresh
            carried = {oid: m for oid, a in alphas.items()
                       if oid in refining and np.count_nonzero(m := a > 0.5) >= TINY_SELECTION * m.size}
            image = self.frame(path, frame_index)
            h, w = image.shape[:2]
            if live:
                validate_prompts({frame_index: live}, w, h, frame_index, frame_index + 1, one_frame=True)
            # the job replays the clicks in the same order (segment_objects): it gets the mask shown here
            fresh = [o for o in live if carried.get(o.object_id) is None]
            results = segment_each(self.engine.segmenter, fresh, self._steps)
            for obj in live:
                if (matte := carried.get(obj.object_id)) is not None:
                    results[obj.object_id] = SegmentResult(self.engine.segmenter.refine(obj, matte), 1.0)
            # Only the steps of the clicks now on screen are kept (an undo goes back along them).
            current = {step_key(s) for obj in live if obj.mask is None for s in click_steps(to_segment(obj))}
            self._steps = {k: v for k, v in self._steps.items() if k in current}
            if self._samples is not None:  # what the segmenter took from the clip is kept; its frames go
                self._samples.drop_frames()
            by_subject = subject_masks(live, results)
            masks = {oid: m for oid, m in by_subject.items() if not isinstance(m, Removal)}
            removed = {oid: m.region for oid, m in by_subject.items() if isinstance(m, Removal)}
            mask = union_mask(by_subject, (h, w))
            alpha = self._soft_alpha(image, mask)
            notice = removal_notice(removed) or selection_warning(mask, live)
            if refining:
                seconds = None if far or self._carry is None else self._carry_s
                notice = refinement_notice(refining, first, seconds, limit) + (f" {notice}" if notice else "")
            return PreviewResult(draw_overlay(image, masks, live, removed), alpha, masks, self.engine_name,
                                 self.engine_reason, notice)

    def matte_here(self, path: Path | str, frame_index: int,
                   earlier: Mapping[int, list[ObjectPrompt]]) -> PreviewResult:
        """The matte a job makes of ``frame_index`` from the prompts of the frames before it (this
        frame's own clicks left out), each subject tinted as far as it is opaque: where it is pale
        or missing, a correction click is wanted. Worked out as a correction's preview is."""
        from core.carry import prompts_before

        with self._lock:
            before = prompts_before(earlier, frame_index, sorted({o.object_id for objs in earlier.values() for o in objs}))
            if not before:
                raise NoPromptError("nothing is marked on a frame before this one",
                                    "click on the subject on an earlier frame (the prompt frame) first")
            self._check_earlier(path, frame_index, before)
            first = min(before)
            limit = carry_limit(*self._size(path))
            subjects = sorted({o.object_id for objs in before.values() for o in objs})
            start = self._carry_start(path, frame_index, before, subjects, first)
            if frame_index - start > limit:
                raise LimitExceededError(
                    f"frame {frame_index} is {frame_index - start} frames after "
                    f"{'the prompt frame' if start == first else 'the frame last looked at,'} {start}: a "
                    f"preview carries the matte {limit} frames at most", "look at a nearer frame first (the matte "
                    "is carried on from there), or process the clip and watch its alpha matte")
            alphas = self._carried(path, frame_index, before, subjects)
            image = self.frame(path, frame_index)
            notice = (f"the matte as the job carries it here from frame {first} (tracked in {self._carry_s:.1f} s), "
                      "before this frame's clicks: where a subject is pale (see-through) or missing, click on it "
                      "to correct it from here.")
            h, w = image.shape[:2]
            fps = media_info(path).fps or 25.0
            later = [end for end, (start, _) in lead_in_windows(earlier, fps, (h, w)).items() if start <= frame_index < end]
            if later:  # the job eases this frame into a correction after it, which is not shown here
                notice += f" In the job, the correction on frame {later[0]} eases into this frame too."
            return PreviewResult(draw_matte(image, alphas), union_of(list(alphas.values()), image.shape[:2]),
                                 {oid: a > 0.5 for oid, a in alphas.items()}, self.engine_name,
                                 self.engine_reason, notice)

    @staticmethod
    def _size(path: Path | str) -> tuple[int, int]:
        from core.video_io import probe

        info = probe(path)
        return info.width, info.height

    def _check_earlier(self, path: Path | str, frame_index: int, earlier: Mapping[int, list[ObjectPrompt]]) -> None:
        """A coded error for the frames before ``frame_index`` that the job would refuse (a subject's
        'not subject' clicks alone before any click on it): replayed by the carry, they ended as an
        internal error (a removal given to a subject's matter as its start)."""
        before = {f: [o for o in objs if not o.is_empty()] for f, objs in earlier.items() if f < frame_index}
        before = {f: objs for f, objs in before.items() if objs}
        if before:
            validate_prompts(before, *self._size(path), 0, frame_index)

    def _carries_on(self, path: Path | str, frame_index: int, earlier: Mapping[int, list[ObjectPrompt]],
                    subjects: list[int]) -> bool:
        """Whether the kept carry can carry on to ``frame_index`` (the same clip, subjects and prompts)."""
        carry = self._carry
        return carry is not None and carry.path == str(path) and carry.subjects == subjects and \
            carry.can_reach(frame_index, earlier)

    def _carry_start(self, path: Path | str, frame_index: int, earlier: Mapping[int, list[ObjectPrompt]],
                     subjects: list[int], first: int) -> int:
        """Where carrying the matte to ``frame_index`` would start (what a preview's limit counts
        from): where the kept carry stopped, when it can carry on from there, else ``first``."""
        return self._carry.reached if self._carries_on(path, frame_index, earlier, subjects) else first

    def _carried(self, path: Path | str, frame_index: int, earlier: Mapping[int, list[ObjectPrompt]],
                 subjects: list[int]) -> dict[int, np.ndarray]:
        """The ``subjects``' mattes (float alpha) as the job carries them to ``frame_index`` from the
        earlier frames' prompts (core/carry.py; each is tracked on its own, so the others need not
        be). The carry is kept: the same frame again (a further click) costs nothing, and a later
        frame with the same prompts before it carries on from there."""
        from core.carry import Carry, prompts_before
        from core.clip_samples import ClipSamples
        from core.video_io import probe

        started = time.perf_counter()
        carry = self._carry
        if not self._carries_on(path, frame_index, earlier, subjects):
            if carry is not None:
                carry.close()
            self._carry = None
            first = min(prompts_before(earlier, frame_index, subjects))
            self._use_clip(path, frame_index)  # the segmenter looks at the clip, as in a job
            info = probe(path)  # and the matters, from the prompt frame (their first looks are there)
            samples = ClipSamples(path, info, first, info.frame_count)
            try:
                carry = self._carry = Carry(path, self.engine, subjects, first, samples)
            except BaseException:
                samples.close()
                raise
        alphas = carry.reach(frame_index, earlier)
        self._carry_s = time.perf_counter() - started
        self._image_key = None  # the segmenter saw other frames: the one on screen is set again
        return alphas

    def _use_clip(self, path: Path | str, frame_index: int) -> None:
        """Let the segmenter look at the clip on screen (a new clip: new samples; a photo: none)."""
        from core.clip_samples import ClipSamples
        from core.image_io import is_image_path
        from core.video_io import probe

        if str(path) == self._clip_path:
            return
        if self._carry is not None and self._carry.path != str(path):  # another clip: its reader and matters go
            self._carry.close()
            self._carry = None
        if self._samples is not None:
            self._samples.close()
        self._clip_path, self._samples = str(path), None
        if not is_image_path(path):
            info = probe(path)
            self._samples = ClipSamples(path, info, frame_index, info.frame_count)
        self.engine.segmenter.use_clip(self._samples)

    def _soft_alpha(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The matter's alpha for this frame (soft edges), as the job will start with."""
        if not mask.any():
            return np.zeros(mask.shape, np.float32)
        matter = self.engine.matter_factory()
        try:
            return matter.start(image, mask)
        finally:
            matter.close()

    def compose(
        self,
        path: Path | str,
        frame_index: int,
        alpha: np.ndarray,
        background: str,
        edges: EdgeOptions | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """The prompt frame as the finished video will show it (transparent: over a checkerboard)."""
        edges = edges or EdgeOptions()
        image = read_frame(path, frame_index)
        h, w = image.shape[:2]
        alpha = refine_alpha(alpha, edges)
        source = make_background(background, seed=seed)
        if source is None:  # transparent: the clean edge colour an editor would get
            return composite(clean_foreground(image, alpha), alpha, checkerboard(w, h))
        foreground = despill(image, alpha, edges.despill)
        source.open(OutputGeometry(w, h, 1, 1.0, _pixel_aspect(path)))
        try:
            return composite(foreground, alpha, source.frame(0, image, alpha), edges.light_wrap)
        finally:
            source.close()

    def close(self) -> None:
        if self._carry is not None:
            self._carry.close()
            self._carry = None
        if self._engine is not None:
            self._engine.segmenter.use_clip(None)
            self._engine.segmenter.close()
        if self._samples is not None:
            self._samples.close()
        self._samples = self._clip_path = None
        self._image = None
        self._image_key = None


def checkerboard(width: int, height: int, cell: int = 16) -> np.ndarray:
    """The usual grey checkerboard that stands for 'transparent'."""
    yy, xx = np.mgrid[0:height, 0:width]
    light = ((xx // cell + yy // cell) % 2).astype(bool)
    board = np.full((height, width, 3), 153, np.uint8)
    board[light] = 204
    return board
