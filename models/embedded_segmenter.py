"""Embedded segmenter: clicks and/or a box -> subject mask, with no model weights.

How, for clicks: a click does not say how big the subject is, so graph cuts (cv2.grabCut) are
tried inside boxes of several sizes and shapes around it, each on a small crop, and scored on
how cleanly the result stands apart from its surroundings (models/embedded/seg_candidates.py),
the way SAM proposes several masks and keeps the best. The winner is then refined by one more
cut at a higher resolution on a crop around it (so a small subject gets as many pixels as a large
one), only the parts connected to a positive click are kept, and the mask is brought to full
resolution with a fast guided filter so that its edge follows the real image edge.

With a still camera the clip's background is known (``use_clip``: the temporal median of
frames spread over it), and a click on something that moves takes the whole moving thing, which
colours alone cannot always tell from the background (models/embedded/seg_motion.py); a cut that
found the subject but for a part in the background's colours (white shoes on a sunlit lawn) gets
the moving parts that hang on to it, and the regions of their own colour around fainter ones (dark
hair before dark foliage).

A box prompt is a classical GrabCut rectangle. Negative clicks are sure background. A further
click (``previous``) refines the last mask instead of starting again; a positive click outside
it adds the thing under it, so that every positive click ends up in the mask, and takes away
nothing but a piece of the outline; one well away from it selects another thing, as a first
click would (her, then her dog). Callers replay a person's clicks one at a time
(core.prompts.segment_by_steps), so a job gets the mask the studio showed.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from core.exceptions import NoPromptError, PromptError, StudioError
from core.grain import without_grain
from core.pipelining import Background
from core.prompts import TINY_SELECTION, check_object
from models.base import NEGATIVE, POSITIVE, ObjectPrompt, SampleSource, Segmenter, SegmentResult
from models.embedded.plate import still_background
from models.embedded.seg_candidates import best_candidate
from models.embedded.seg_clicks import Point, grown_by_reach, reach_px, reaches, split_clicks
from models.embedded.seg_cut import (
    FLOOD_TOLERANCE,
    REFINE_MARGIN,
    Crop,
    Rect,
    band_labels,
    clamp_rect,
    clean_mask,
    colour_separation,
    flood_region,
    grow_rect,
    keep_clicked,
    keep_connected,
    like_click_region,
    reaches_limit,
    refine_region,
    run_grabcut,
    to_frame_mask,
)
from models.embedded.seg_motion import AttachedCandidates, moved_regions, moving_region
from models.embedded.seg_through import either, kept_out_of, outside_of, seen_through

logger = logging.getLogger(__name__)

WORK_SIDE = 320  # long side of the refining cut's crop: grabCut's cost grows fast with size
GC_ITERATIONS = 2
ADDED_AREA = 2.0  # what a further click adds is at most this many times the mask with its "near"
KEEP_SHOWN = 0.7  # a refinement by positive clicks keeping less of the mask shown is cut again, holding it
TEXTURE_GAIN = 2.0  # a 'not subject' click's patch finds this many times its colour's region: texture
WHOLE_VS_PART = 2.0  # the moving thing under a click replaces a cut inside it this many times smaller


class EmbeddedSegmenter(Segmenter):
    """Graph-cut segmenter: candidate regions around the clicks, the best one refined."""

    name = "embedded"

    def __init__(self, work_side: int = WORK_SIDE) -> None:
        self.work_side = work_side
        self._image: np.ndarray | None = None
        self._clip: SampleSource | None = None
        self._look: Background | None = None
        self._background: np.ndarray | None = None  # the clip's, once looked at

    def use_clip(self, samples: SampleSource | None) -> None:
        """The clip's frames: with a still camera, its background is worked out on a thread of its own
        from now on (decoding frames spread over the clip takes about half a second at 720p), so
        that it is ready, or nearly, when the first click comes."""
        if self._look is not None:  # a look still decoding the clip let go ends first: a box needs
            # no look, so nothing waited for it, and it went on reading a clip its caller had done with
            self._look.join()
        self._clip, self._background = samples, None
        self._look = None if samples is None else Background(still_background, samples, name="segmenter-look")

    def _clip_background(self) -> np.ndarray | None:
        """The still camera's background of the clip in use (None: a moving camera, or no clip)."""
        if self._clip is not None:
            try:
                if self._look is not None:
                    self._look.wait()
                self._background = still_background(self._clip)  # the look's answer (``memo``)
            except StudioError as exc:  # a clip broken further on: the click is still answered from
                logger.warning("segmenter: no look at the clip (%s)", exc.user_line())  # this frame
                self._background = None
            self._clip = self._look = None  # kept what it needed: the clip's frames may go
        return self._background

    def keep_clip_look(self) -> None:
        self._clip_background()

    def set_image(self, image: np.ndarray) -> None:
        """Keep the frame (each cut crops it), its grain smoothed if any (core/grain.py)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise PromptError(f"expected an RGB uint8 image, got {image.dtype} {image.shape}",
                              "decode the frame as RGB 8-bit before segmenting")
        self._image = np.ascontiguousarray(without_grain(image))

    def close(self) -> None:
        self._image = None

    # --- prompt handling ----------------------------------------------------------------
    def _check(self, prompt: ObjectPrompt) -> None:
        if self._image is None:
            raise PromptError("no image to segment", "call set_image(frame) before segment()")
        check_object(prompt, self._image.shape[1], self._image.shape[0])
        if prompt.mask is None and prompt.is_empty():
            raise NoPromptError("no clicks, box or mask for the subject")
        if prompt.mask is None and prompt.box is None and POSITIVE not in prompt.labels:
            raise NoPromptError("only background clicks: nothing marks the subject")

    def segment(self, prompt: ObjectPrompt, previous: SegmentResult | None = None) -> SegmentResult:
        self._check(prompt)
        if prompt.mask is not None:
            mask = clean_mask(prompt.mask.astype(bool))
            return SegmentResult(mask=mask, score=1.0, logits=None)
        image = self._image
        assert image is not None
        h, w = image.shape[:2]
        pos, neg = split_clicks(prompt)
        apart = self._apart(previous, pos) if prompt.box is None else []
        if apart and len(apart) < len(pos):
            return self._with_apart(prompt, previous, apart)
        kept_out = None
        if prompt.box is not None:
            seed = np.zeros((h, w), bool)
            x0, y0, x1, y1 = clamp_rect(prompt.box, w, h)
            seed[y0:y1, x0:x1] = True
            region, hard_outside, removed, sure, held = (x0, y0, x1, y1), True, None, False, None
        else:
            seed, removed, sure, held = self._seed_from(previous, pos, neg)
            region, hard_outside = refine_region(seed, pos, (h, w)), False
            if previous is not None and previous.mask.shape == (h, w):
                kept_out = kept_out_of(previous.background, pos)
            if kept_out is not None:  # a click's added part (a candidate cut for it) may hold one again
                seed &= ~kept_out
        forbid = either(removed, kept_out)
        crop, fg = self._refine(seed, region, hard_outside, pos, neg, forbid, sure, held)
        if not fg.any() and pos:  # never return nothing for a click on the subject
            fg = crop.mask_from_frame(seed)
        mask = to_frame_mask(self._image, crop, fg)
        gaps = None if prompt.box is not None or sure else self._gaps(mask, pos)
        if gaps is not None:
            before = mask
            crop, fg, mask = self._cut_without(gaps, mask, region, pos, neg, forbid, held)
            gaps |= before & ~mask  # with what the cut let go around them: kept out at the next click
            forbid = either(forbid, gaps)
        if self._dropped_what_was_shown(previous, mask, prompt.box is None and removed is None and not sure):
            # A click that only adds must not take away: the refining cut's colour model took in a
            # look-alike background (white fur, a pale pavement) and lost most of the subject. Cut
            # again with what was shown held, but for its outline (and what the click added, held).
            crop, fg = self._refine(seed, region, hard_outside, pos, neg, forbid, sure=True, held=held)
            mask = to_frame_mask(self._image, crop, fg)
        return SegmentResult(mask=mask, score=colour_separation(crop.image, fg), logits=None,
                             background=outside_of(mask, either(kept_out, gaps)))

    def _cut_without(self, gaps: np.ndarray, mask: np.ndarray, region: Rect, pos: list[Point], neg: list[Point],
                     forbid: np.ndarray | None, held: np.ndarray | None) -> tuple[Crop, np.ndarray, np.ndarray]:
        """The refining cut again, ``gaps`` (the background seen through the subject) out and the rest
        of ``mask`` held but for its outline near them: left free, the cut dropped her forearm
        between the gap and the wall beside it. Returns the crop, the subject on it and as a mask."""
        near = cv2.dilate(gaps.view(np.uint8), np.ones((9, 9), np.uint8)) > 0
        keep = either(mask & ~near, held)
        core = cv2.erode(gaps.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
        crop, fg = self._refine(mask & ~gaps, region, False, pos, neg, either(forbid, core), False, keep)
        return crop, fg, to_frame_mask(self._image, crop, fg) if fg.any() else mask & ~gaps

    def _gaps(self, mask: np.ndarray, pos: list[Point]) -> np.ndarray | None:
        """The still background seen through gaps in the subject that ``mask`` took in
        (models/embedded/seg_through.py), or None: no still camera's background, or no click is on
        anything that moves (the subject is in the background: nothing to tell gaps by). Looked for
        at every click: a further click's cut takes such a gap in again as readily as the first."""
        background = self._clip_background() if pos else None
        if background is None:
            return None
        moving = moving_region(self._image, background, pos, any_click=True)
        if moving is None:
            return None
        return seen_through(self._image, background, mask, moving, pos)

    def _apart(self, previous: SegmentResult | None, pos: list[Point]) -> list[Point]:
        """The positive clicks beyond CLICK_REACH of a shown mask: on another thing, not a missed part."""
        if previous is None or np.count_nonzero(previous.mask) < TINY_SELECTION * previous.mask.size:
            return []
        return [p for p in pos if not reaches(previous.mask, p)]

    def _with_apart(self, prompt: ObjectPrompt, previous: SegmentResult | None, apart: list[Point]) -> SegmentResult:
        """The shown mask refined by the other clicks, and each click ``apart`` from it found as a
        first click finds its subject: one subject may be two things (her and her dog). Added to the
        shown mask as a further part, the dog was a patch of its fur, since a further click takes the
        same-coloured region around it, and one refining cut over both filled the floor between its
        legs (../shared/media/dog.mp4 frame 0)."""
        rest = [(p, lab) for p, lab in zip(prompt.points, prompt.labels, strict=True) if p not in apart]
        shown = self.segment(ObjectPrompt(prompt.object_id, [p for p, _ in rest], [lab for _, lab in rest]), previous)
        mask, score, background = shown.mask.copy(), shown.score, shown.background
        neg = split_clicks(prompt)[1]
        for click in apart:
            found = self._found_alone(click, neg)
            mask |= found.mask
            score = min(score, found.score)
            background = either(background, found.background)
        return SegmentResult(mask=mask, score=score, logits=None, background=outside_of(mask, background))

    def _found_alone(self, click: Point, neg: list[Point]) -> SegmentResult:
        """What ``click`` selects as a first click, with the 'not subject' clicks."""
        return self.segment(ObjectPrompt(1, [click, *neg], [POSITIVE] + [NEGATIVE] * len(neg)))

    def refine(self, prompt: ObjectPrompt, carried: np.ndarray) -> np.ndarray:
        """The carried matte plus what the positive clicks add beside it, less what the negative
        ones take out of it, as a further click does to a shown mask (``_seed_from``), without the
        refining cut over the rest: that cut is for a mask of its own making, and run over a
        tracked matte it fills the floor between a dog's legs and spreads up the wall behind a
        person's head (../shared/media/dog.mp4, frames 30 and 250)."""
        self._check(prompt)
        image = self._image
        assert image is not None
        if carried.shape != image.shape[:2] or np.count_nonzero(carried) < TINY_SELECTION * carried.size:
            return self.segment(prompt).mask  # nothing carried to refine: the clicks find it afresh
        seed = carried.astype(bool)
        for point, label in zip(prompt.points, prompt.labels, strict=True):  # in the order made: a
            # 'not subject' click takes out what a 'subject' click before it added (a patch of
            # foliage that came with dark hair), as the studio's clicks on the prompt frame do
            step = ([point], []) if label == POSITIVE else ([], [point])
            seed, removed, _, _ = self._seed_from(SegmentResult(mask=seed, score=1.0), *step)
            if removed is not None:  # with its outline: the pixels where its colour blends into the ground
                seed &= cv2.dilate(removed.view(np.uint8), np.ones((5, 5), np.uint8)) == 0
        return seed

    def _dropped_what_was_shown(self, previous: SegmentResult | None, mask: np.ndarray, adding: bool) -> bool:
        """Whether a refinement by positive clicks (``adding``) kept less than KEEP_SHOWN of the
        previous mask. Less than all of it may be right (the cut cleaning up a piece of background
        that the first answer took in); most of it gone is not."""
        if not adding or previous is None or previous.mask.shape != mask.shape:
            return False
        shown = np.count_nonzero(previous.mask)
        return shown >= TINY_SELECTION * mask.size and np.count_nonzero(mask & previous.mask) < KEEP_SHOWN * shown

    # --- stages -------------------------------------------------------------------------
    def _seed_from(self, previous: SegmentResult | None, pos: list[Point],
                   neg: list[Point]) -> tuple[np.ndarray, np.ndarray | None, bool, np.ndarray | None]:
        """First guess of the subject (frame-sized bool), what is surely not it (or None), whether
        the guess is sure away from its outline (the moving thing under the clicks), and parts of it
        the refining cut must keep although their colours are the background's (or None).

        With no previous mask: the best candidate region for the clicks. A further click refines
        the previous mask instead: a negative click inside it removes the plainly same-coloured
        region around the click (a held ball), a positive click outside it adds such a region
        near the mask (missed hair) or, where colour does not bound that region, the best
        candidate for the click alone (``_added_by_click``); what was shown and what was added
        are held (the refining cut may move their outline only), but near a removal. A fresh
        candidate search for all the clicks would often answer them with something much bigger
        (the person holding the ball, the hedge behind the hair), and would not be the mask the
        person saw grow.
        """
        image = self._image
        assert image is not None
        h, w = image.shape[:2]
        # A previous mask of next to nothing (a click that missed the subject) is no start for a
        # refinement: the next click, on the subject, searches afresh.
        if previous is None or previous.mask.shape != (h, w) or \
                np.count_nonzero(previous.mask) < TINY_SELECTION * h * w:
            seed, sure, held = self._candidate_mask(pos, neg)
            return seed, None, sure, held
        seed = previous.mask.astype(bool).copy()
        plain, textured = np.zeros((h, w), bool), np.zeros((h, w), bool)
        for x, y in neg:
            if seed[int(y), int(x)]:  # a plain thing (a held ball) by its colour, texture by its patch's
                click = (int(x), int(y))
                plain |= flood_region(image, click, seed, FLOOD_TOLERANCE)
                textured |= like_click_region(image, click, seed, reach_px((h, w)))
        removed = plain | textured
        seed &= ~removed
        near = grown_by_reach(seed)
        added = np.zeros((h, w), bool)
        for x, y in pos:
            if not seed[int(y), int(x)]:
                added |= self._added_by_click((int(x), int(y)), near & ~removed, removed, neg)
        # A click takes away nothing but what it removes: what was shown and what a click added are
        # held by the refining cut but for their outline, and away from a removal (the cut may
        # finish that off). An added part's colours are often the background's (her brown hair
        # before a brown wall, ../shared/media/dog.mp4 frame 0), which is why the first cut left it
        # out, and the cut would drop it again, at this click or the next.
        held = seed | added
        if removed.any():  # the cut may finish off a colour's region, which stops short of the thing's
            # edge where it is shaded; the region of a patch's colours (texture: TEXTURE_GAIN times
            # the colour's) holds the texture's spread, and letting go of what lay within reach of it
            # dropped her forearm beside the wall it took out
            texture = np.count_nonzero(textured) > TEXTURE_GAIN * np.count_nonzero(plain)
            if texture:
                held &= cv2.dilate(removed.view(np.uint8), np.ones((7, 7), np.uint8)) == 0
            else:
                held &= ~grown_by_reach(removed)
        return seed | added, (removed if removed.any() else None), False, held

    def _added_by_click(self, click: tuple[int, int], near: np.ndarray, removed: np.ndarray,
                        neg: list[Point]) -> np.ndarray:
        """What a positive click outside the mask adds (frame-sized bool).

        The plainly same-coloured region around the click, when it ends near the mask (missed
        hair). When that region runs on to the limit of "near" (white fur on a pale pavement: the
        colour does not stop it), the best candidate for that click alone, no bigger than
        ADDED_AREA. A click beyond "near" is on another thing: what it selects as a first click.
        """
        image = self._image
        assert image is not None
        if not near[click[1], click[0]]:  # beyond reach (a correction's click on a second thing)
            return self._found_alone(click, neg).mask & ~removed
        region = flood_region(image, click, near, FLOOD_TOLERANCE)
        if region.any() and not reaches_limit(region, near):
            return region
        # Not the whole background: a pale part of a pale subject's candidates include the pavement.
        best, _ = best_candidate(image, [click], neg, max_area=ADDED_AREA * np.count_nonzero(near))
        if best.area > ADDED_AREA * np.count_nonzero(near):
            return np.zeros(image.shape[:2], bool)
        return best.frame_mask(image.shape[:2]) & ~removed

    def _candidate_mask(self, pos: list[Point], neg: list[Point]) -> tuple[np.ndarray, bool, np.ndarray | None]:
        """The best-scoring candidate for these clicks, as a frame-sized bool mask; with a still
        camera's background, or the moving thing under the clicks when that is the bigger whole
        (then True: only its outline is left to the refining cut), or the candidate with the
        moving parts attached to it (then those parts, for the refining cut to keep)."""
        image = self._image
        assert image is not None
        best, _ = best_candidate(image, pos, neg)
        out = best.frame_mask(image.shape[:2])
        background = self._clip_background() if pos else None
        if background is None:
            return out, False, None
        moving = moving_region(image, background, pos)
        if moving is not None and not any(moving[int(y), int(x)] for x, y in neg):  # "not this", said of a part
            # Only where the cut is a small part of the moving thing (a patch of a white dog's fur) is
            # the whole moving thing taken. Otherwise the cut stands: a subject that partly stands
            # still (a man juggling: his legs are in the median) moves only in parts, a ball in
            # someone's hand moves as one with the hand, and where a subject lingered the median
            # shows it, so the background it left there differs too (a "ghost" beside a subject the
            # cut found whole).
            cut, inside = np.count_nonzero(out), np.count_nonzero(out & moving)
            if np.count_nonzero(moving) >= WHOLE_VS_PART * cut and inside >= 0.8 * cut:
                return moving, True, None
        # ... but with the moving parts that hang on to it (white shoes on a pale lawn)
        beside = AttachedCandidates.beside(image, background, out)
        parts = beside.pick()
        if parts is not None and any(parts[int(y), int(x)] for x, y in neg):
            parts = None
        # ... and the regions of their own colour around fainter moving parts that hang on to it
        moved = moved_regions(image, beside, out)
        if moved is not None and not any(moved[int(y), int(x)] for x, y in neg):
            parts = either(parts, moved)
        if parts is None:
            return out, False, None
        return out | parts, False, parts

    def _refine(self, seed: np.ndarray, region: Rect, hard_outside: bool, pos: list[Point],
                neg: list[Point], forbid: np.ndarray | None = None, sure: bool = False,
                held: np.ndarray | None = None) -> tuple[Crop, np.ndarray]:
        """GrabCut at ``work_side`` on ``region``, started from ``seed`` (``forbid``: sure background;
        ``sure``: the seed is the subject except near its outline; ``held``: parts of the subject
        whose colours are the background's, kept but for their outline pixel).

        Returns the crop and the subject on it."""
        image = self._image
        assert image is not None
        h, w = image.shape[:2]
        if hard_outside:  # a box prompt: outside the box is background, with some of it in view
            region = grow_rect(region, REFINE_MARGIN, w, h, minimum=8)
        crop = Crop.of(image, region, self.work_side)
        inside = crop.mask_from_frame(seed)
        radius = max(2, round(0.015 * max(crop.shape)))
        if hard_outside:
            gc = np.where(inside, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
        else:
            gc = band_labels(crop, inside, pos, sure)
        if held is not None:
            gc[cv2.erode(crop.mask_from_frame(held).view(np.uint8), np.ones((3, 3), np.uint8)) > 0] = cv2.GC_FGD
        if forbid is not None:
            gc[crop.mask_from_frame(forbid)] = cv2.GC_BGD
        for x, y in neg:
            cv2.circle(gc, crop.to_crop(x, y), radius, cv2.GC_BGD, -1)
        for x, y in pos:
            cv2.circle(gc, crop.to_crop(x, y), radius, cv2.GC_FGD, -1)
        fg = run_grabcut(crop.image, gc, GC_ITERATIONS)
        seeds = [crop.to_crop(x, y) for x, y in pos]
        fg = keep_connected(fg, seeds)
        return crop, keep_clicked(clean_mask(fg), fg, seeds)
