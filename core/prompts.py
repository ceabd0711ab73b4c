"""Checking what a person clicked against the media, and turning it into each subject's mask on
each prompted frame: the clicks replayed one at a time, as the studio shows them; on a later frame,
'not subject' clicks alone are a ``Removal`` from that subject's matte, and clicks with a 'subject'
click among them a ``Refinement`` of it.

Validation happens before any heavy work, so a point outside the frame or a mask of the wrong size
fails in milliseconds with a coded error instead of after decoding the clip.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.exceptions import (
    EmptyMaskError,
    FrameOutOfRangeError,
    InputPathError,
    MaskSizeError,
    MaskUnreadableError,
    NoPromptError,
    PointOutOfFrameError,
    PromptError,
)
from models.base import POSITIVE, ObjectPrompt, Segmenter, SegmentResult

logger = logging.getLogger(__name__)

#: share of the frame under which what clicks selected is reported: a click that missed the subject
#: (on a plain wall, a gap between two things) gives a few pixels, not an error
TINY_SELECTION = 2e-4
#: ... and the pixels under which it is reported whatever the frame's size: the embedded segmenter's
#: answer when no cut held together is the click's own 13-pixel dot, which on a 320x180 GIF is over
#: the share above, and the job went on with it silently
TINY_SELECTION_PX = 32
#: a mask picture is read whole: a clip given as the mask by mistake is refused before that
MASK_MAX_BYTES = 256 * 2**20  # a lossless 8K grey mask is a few MB


def read_mask_file(path: str) -> np.ndarray:
    """A mask picture (nonzero = subject) as bool (H, W): the one reader of the command line, the
    studio and the API, so that one file gives one mask whichever of them it is given to.

    Which channel holds the mask: a picture with transparency is its alpha (a cutout, or a mask
    painted as transparency in an editor, may have black colour everywhere), unless the alpha is
    opaque throughout (a PNG saved with an alpha channel it does not use); otherwise any nonzero
    colour channel (a mask painted in pure blue is not lost to a grey conversion). Read from the
    file's bytes: OpenCV's own reader prints a warning of its own on stderr for a file it cannot
    read, a second line under the one coded error a user gets.
    """
    import cv2

    from core.video_io import check_input_path

    try:
        p = check_input_path(path)
    except InputPathError as exc:
        raise MaskUnreadableError(f"the mask {exc.message}", exc.hint) from None
    size = p.stat().st_size
    if size > MASK_MAX_BYTES:
        raise MaskUnreadableError(f"the mask {p.name!r} is {size / 2**20:.0f} MB, not a mask picture")
    image = cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim not in (2, 3):
        raise MaskUnreadableError(f"cannot read the mask {p.name!r} as a picture")
    if image.ndim == 2:
        return image > 0
    channels = image.shape[2]
    if channels in (2, 4):  # grey + alpha, colour + alpha
        alpha = image[..., -1]
        if alpha.min() < alpha.max() or alpha.max() == 0:
            return alpha > 0
        image = image[..., :-1]
    return image.max(axis=2) > 0


def without_empty(prompts: Mapping[int, list[ObjectPrompt]]) -> dict[int, list[ObjectPrompt]]:
    """``prompts`` less the subjects given nothing on a frame (no clicks, box or mask: one added and
    its clicks undone, which the API takes) and the frames left with none. Kept, an empty frame was
    the job's prompt frame with no mask on it, and a job ended as an internal error (E900)."""
    kept = {f: [o for o in objs if not o.is_empty()] for f, objs in prompts.items()}
    return {f: objs for f, objs in kept.items() if objs}


def validate_prompts(
    prompts: dict[int, list[ObjectPrompt]], width: int, height: int, first: int, stop: int,
    *, one_frame: bool = False,
) -> None:
    """Raise a coded ``PromptError`` for anything that cannot be applied to frames [first, stop).

    ``one_frame``: the clicks of the frame on screen, on their own (the studio's preview): 'not
    subject' clicks alone may be a correction there, which only the whole job can tell."""
    if not prompts or all(obj.is_empty() for objs in prompts.values() for obj in objs):
        raise NoPromptError("no subject given", "click on the subject (--point X,Y), or give a box (--box) or a mask "
                            "(--mask)")
    prompt_frame = min(prompts)  # the others are corrections
    marked = marked_before(prompts)
    for frame_index in sorted(prompts):
        if not first <= frame_index < stop:
            within = [f for f in prompts if first <= f < stop]
            if frame_index == prompt_frame and within:  # the earliest, but clicks on the part kept too:
                which, hint = ("frame", f"give clicks and corrections on the part kept, frames {first} to "
                               f"{stop - 1} (--frame, --correct N:X,Y)")  # a correction before a trim
            elif frame_index == prompt_frame:
                which, hint = ("prompt frame", f"choose a frame between {first} and {stop - 1} (--frame)")
            else:
                which, hint = ("correction frame", f"correct on a frame between {first} and {stop - 1} (--correct N:X,Y)")
            raise FrameOutOfRangeError(f"{which} {frame_index} is outside the clip (frames {first}..{stop - 1})", hint)
        for obj in prompts[frame_index]:
            check_object(obj, width, height)
            if is_removal(obj) and obj.object_id not in marked[frame_index] and not one_frame:
                later = [f for f in sorted(prompts) if f > frame_index and any(
                    o.object_id == obj.object_id and not is_removal(o) for o in prompts[f])]
                # a removal before the frame the person prompted on is the earliest, yet not their prompt
                which = "frame" if later else "prompt frame" if frame_index == prompt_frame else "correction frame"
                first_marked = f" (its first click on it is on frame {later[0]}, after)" if later else ""
                raise NoPromptError(
                    f"{which} {frame_index}: subject {obj.object_id} has only 'not subject' clicks, and no "
                    f"mask from an earlier frame to take them from{first_marked}",
                    "a 'not subject' click takes away from a matte made on an earlier frame; a subject's "
                    f"mask starts from a click on it or a box: add one on frame {frame_index}"
                    + (f", or make the correction on a frame after {later[0]}" if later else ""))


def marked_before(prompts: Mapping[int, list[ObjectPrompt]]) -> dict[int, set[int]]:
    """For each prompted frame, the subjects marked on an earlier one (by anything but 'not subject'
    clicks alone, or nothing: a subject added and its clicks undone, as the API may send it): those a
    'not subject' click may take from, and whose clicks refine their matte."""
    marked: set[int] = set()
    before: dict[int, set[int]] = {}
    for frame_index in sorted(prompts):
        before[frame_index] = set(marked)
        marked |= {obj.object_id for obj in prompts[frame_index] if not is_removal(obj) and not obj.is_empty()}
    return before


def check_object(obj: ObjectPrompt, width: int, height: int) -> None:
    """One subject's prompt on a width x height frame: its clicks and box inside it, its mask that size
    and not empty (a coded error for each, with a hint)."""
    if len(obj.points) != len(obj.labels):
        raise PromptError("every point needs a label (subject or not subject)")
    for x, y in obj.points:
        if not (0 <= x < width and 0 <= y < height) or not (np.isfinite(x) and np.isfinite(y)):
            raise PointOutOfFrameError(
                f"point ({x:g}, {y:g}) is outside the {width}x{height} frame",
                f"x must be in 0..{width - 1} and y in 0..{height - 1} (source pixels)",
            )
    if obj.box is not None:
        x0, y0, x1, y1 = obj.box
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise PointOutOfFrameError(
                f"box {obj.box} is not inside the {width}x{height} frame with x0 < x1 and y0 < y1",
                "give --box X0,Y0,X1,Y1 in source pixels",
            )
    if obj.mask is not None:
        if obj.mask.shape[:2] != (height, width):
            got = f"{obj.mask.shape[1]}x{obj.mask.shape[0]}"
            raise MaskSizeError(f"the mask is {got}, the video is {width}x{height}")
        if not np.any(obj.mask):
            raise EmptyMaskError("the mask has no subject pixels")


def first_marked_frames(prompts: Mapping[int, list[ObjectPrompt]]) -> set[int]:
    """The frames where some subject is marked for the first time (the prompt frame, and a later
    frame where a new subject is clicked): each is matted backwards from, as well as forwards."""
    seen: set[int] = set()
    frames = set()
    for frame_index in sorted(prompts):
        new = {o.object_id for o in prompts[frame_index] if not is_removal(o) and not o.is_empty()} - seen
        if new:
            frames.add(frame_index)
        seen |= new
    return frames


def prompts_key(prompts: Mapping[int, list[ObjectPrompt]]) -> tuple:
    """What identifies these prompts (a cache key): every frame's clicks, boxes and masks."""
    def one(obj: ObjectPrompt) -> tuple:
        mask = None if obj.mask is None else hash(np.ascontiguousarray(obj.mask).tobytes())
        return (*step_key(obj), mask)

    return tuple((f, tuple(one(o) for o in prompts[f])) for f in sorted(prompts))


def is_removal(obj: ObjectPrompt) -> bool:
    """Only 'not subject' clicks: on a correction frame, "take this out of the subject's matte"."""
    return obj.mask is None and obj.box is None and bool(obj.points) and POSITIVE not in obj.labels


def removal_target(obj: ObjectPrompt) -> ObjectPrompt:
    """The things under a removal's clicks, as a prompt that selects them (each click on one)."""
    return ObjectPrompt(object_id=obj.object_id, points=list(obj.points), labels=[POSITIVE] * len(obj.points))


def to_segment(obj: ObjectPrompt) -> ObjectPrompt:
    """The clicks the segmenter is given for ``obj``: its own, or a removal's target."""
    return removal_target(obj) if is_removal(obj) else obj


def is_refinement(obj: ObjectPrompt) -> bool:
    """Clicks with a 'subject' click among them (no box, no mask): on a correction frame, "refine the
    subject's matte carried here" (``Refinement``)."""
    return obj.mask is None and obj.box is None and POSITIVE in obj.labels


@dataclass
class Refinement:
    """A correction by clicks with a 'subject' click among them, for its subject on a later frame.

    The clicks refine the matte carried to that frame, as they refine the studio's mask on the
    prompt frame: a click on a missed part adds it, a 'not subject' click takes out what it
    selects, and the rest stays. Why not a fresh mask from the clicks alone: a person clicks on
    what is wrong, the missed head say, and a fresh mask from that click is the head (or the
    planter beside it), which lost the rest of the subject from there on (dog.mp4, frame 250).
    Segmented when the forward pass reaches the frame: only then is the carried matte known.
    """

    prompt: ObjectPrompt


@dataclass
class Removal:
    """What a correction made only of 'not subject' clicks takes out of its subject's matte from its
    frame on (core/subject_tracks.py); the other kind of correction gives the subject's new mask."""

    region: np.ndarray  # bool (H, W)


def click_steps(prompt: ObjectPrompt) -> list[ObjectPrompt]:
    """The prompts a person makes on the way to ``prompt``: the box first (if any), then one click
    more each time, in the order of ``prompt.points``.

    Why: an interactive segmenter answers a click by refining its answer to the clicks before it
    (SAM's mask input, the embedded segmenter's previous mask), and the studio shows those answers
    one click at a time. Answering all the clicks at once can give another mask, so the job
    replays them in the same order and gets the mask the person saw.
    """
    first = 0 if prompt.box is not None else 1
    return [ObjectPrompt(object_id=prompt.object_id, points=list(prompt.points[:k]),
                         labels=list(prompt.labels[:k]), box=prompt.box)
            for k in range(first, len(prompt.points) + 1)]


StepKey = tuple[int, tuple, tuple, tuple | None]


def step_key(prompt: ObjectPrompt) -> StepKey:
    """What identifies one step of one subject's clicks on one image."""
    return (prompt.object_id, tuple(map(tuple, prompt.points)), tuple(prompt.labels),
            None if prompt.box is None else tuple(prompt.box))


def segment_by_steps(segmenter: Segmenter, prompt: ObjectPrompt,
                     memo: dict[StepKey, SegmentResult] | None = None) -> SegmentResult:
    """``prompt``'s mask on the segmenter's image, reached one click at a time (``click_steps``).

    ``memo`` keeps the answers to earlier steps on this image: the studio passes its own, so a
    further click costs one segmenter call and an undo none, and an undone click leaves no trace
    (the answer to the clicks left is the one given before that click was made).
    """
    memo = {} if memo is None else memo
    result: SegmentResult | None = None
    for step in click_steps(prompt):
        key = step_key(step)
        if key not in memo:
            memo[key] = segmenter.segment(step, result)
        result = memo[key]
    assert result is not None, "an empty prompt has no mask"
    return result


def segment_objects(
    segmenter: Segmenter, image: np.ndarray, objects: list[ObjectPrompt]
) -> dict[int, SegmentResult]:
    """One mask per subject on ``image`` (``segment_each``)."""
    segmenter.set_image(image)
    return segment_each(segmenter, objects)


def segment_each(segmenter: Segmenter, objects: list[ObjectPrompt],
                 memo: dict[StepKey, SegmentResult] | None = None) -> dict[int, SegmentResult]:
    """One mask per subject on the image the segmenter holds, each from its clicks in order
    (``segment_by_steps``, with ``memo``). A given mask is used as is (no model call)."""
    results: dict[int, SegmentResult] = {}
    for obj in objects:
        if obj.mask is not None:
            results[obj.object_id] = SegmentResult(mask=obj.mask.astype(bool), score=1.0)
        elif not obj.is_empty():
            results[obj.object_id] = segment_by_steps(segmenter, to_segment(obj), memo)
    return results


def subject_masks(objects: list[ObjectPrompt], results: dict[int, SegmentResult]) -> dict[int, np.ndarray | Removal]:
    """Each subject's mask on a frame, or what a removal takes out of it."""
    kinds = {obj.object_id: is_removal(obj) for obj in objects}
    return {oid: Removal(r.mask) if kinds.get(oid) else r.mask for oid, r in results.items()}


def union_mask(masks: Mapping[int, np.ndarray | Removal], shape: tuple[int, int]) -> np.ndarray:
    """All subjects together, what a frame's masks mark as subject: the matte of a job covers every
    prompted subject (a correction's ``Removal`` takes away: it marks nothing)."""
    mask = np.zeros(shape, dtype=bool)
    for m in masks.values():
        if not isinstance(m, Removal):
            mask |= m
    return mask


def selection_warning(mask: np.ndarray, objects: list[ObjectPrompt], frame_index: int | None = None) -> str | None:
    """What to tell a person whose clicks (or box) for ``objects`` selected nothing or next to
    nothing in ``mask``, else None; None too when every subject was given as a mask (their choice).

    Not an error: the job's result is still what was asked for, and a tiny subject may be meant.
    But a finished clip with nothing in it should say why, and what to do instead.
    """
    if all(o.mask is not None or is_removal(o) for o in objects):
        return None
    where = f"frame {frame_index}: " if frame_index is not None else ""
    hint = "click on the subject's middle, add a box around it, or give a mask"
    count = int(np.count_nonzero(mask))
    if count == 0:
        return f"{where}the clicks selected nothing: {hint}"
    if count < max(TINY_SELECTION * mask.size, TINY_SELECTION_PX):
        return f"{where}the clicks selected only {count} px ({100 * count / mask.size:.2f} % of the frame): {hint}"
    return None
