"""A correction's lead-in: the frames just before a correction frame ease into its restart.

A 'subject' correction on frame N (clicks that refine the subject's matte there, or a box or mask
for it) restarts that subject from the corrected matte, and so used to fix the matte from N on
only. What a person corrects has mostly gone wrong a little earlier (a face turning to the camera
read see-through from frame 122 of ../shared/media/dog.mp4; the click was on 130), and SAM2's own
video predictor lets a click on one frame reach the frames on both sides. So the forward pass holds
back the frames of up to a second before each such correction (never past the frame prompted
before it); at the correction each restarted subject is matted backwards over them by a matter of
its own, from the corrected matte, and the two mattes are cross-faded: the backward one's weight
grows linearly from the first held frame to 1 at the correction.

'Not subject' clicks alone (a removal) keep their meaning, "from this frame on": someone who
leaves a group at frame N must not fade out during the second before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from core.prompts import is_removal, marked_before
from core.subject_parts import SubjectParts, union_of
from models.base import Matter, ObjectPrompt, SampleSource

logger = logging.getLogger(__name__)

LEAD_IN_S = 1.0  # how far back a correction reaches
LEAD_IN_MB = 256  # most memory the held frames take (frames and alphas): fewer frames of a big size


@dataclass
class HeldFrame:
    """A matted frame on its way to the compositor."""

    index: int
    rgb: np.ndarray
    alpha: np.ndarray  # the union of the subjects' alphas (what the frame gets)
    alphas: dict[int, np.ndarray]  # each subject's alpha
    pts: int | None = None  # its timestamp in the output (source time base)


def lead_in_windows(prompts: Mapping[int, list[ObjectPrompt]], fps: float,
                    shape: tuple[int, int]) -> dict[int, tuple[int, set[int]]]:
    """Correction frame -> (the first frame it reaches back to, the subjects whose restart there
    reaches back): the subjects marked before it that it does not only take from."""
    h, w = shape
    subjects = max(1, len({o.object_id for objects in prompts.values() for o in objects}))
    per_pixel = 3 + 4 * (subjects + (subjects > 1))  # the frame, each subject's alpha and (several) their union
    reach = max(0, min(round(LEAD_IN_S * fps), int(LEAD_IN_MB * 2**20 // (h * w * per_pixel))))
    before = marked_before(prompts)
    keyed = sorted(prompts)
    windows: dict[int, tuple[int, set[int]]] = {}
    for earlier, frame_index in zip(keyed, keyed[1:], strict=False):
        reaching = {o.object_id for o in prompts[frame_index]
                    if o.object_id in before[frame_index] and not is_removal(o)}
        start = max(frame_index - reach, earlier + 1)
        if reaching and start < frame_index:
            windows[frame_index] = (start, reaching)
    return windows


def lead_in_steps(windows: Mapping[int, tuple[int, set[int]]]) -> int:
    """The backward steps of all the lead-ins (the progress total)."""
    return sum((end - start) * len(subjects) for end, (start, subjects) in windows.items())


class LeadIns:
    """The lead-ins of one job's forward pass: which frames to hold back, and the eased mattes."""

    def __init__(self, windows: Mapping[int, tuple[int, set[int]]], matter_factory: Callable[[], Matter],
                 samples: SampleSource) -> None:
        self.windows = dict(windows)  # see ``lead_in_windows``
        self._factory = lambda: SubjectParts(matter_factory)  # things apart: a matter each
        self._samples = samples  # what each lead-in's matter looks at (worked out once: ``memo``)
        self._held: list[HeldFrame] = []

    def holds(self, index: int) -> bool:
        """Whether frame ``index`` waits for a correction after it."""
        return any(start <= index < end for end, (start, _) in self.windows.items())

    def hold(self, frame: HeldFrame) -> None:
        self._held.append(frame)

    def release(self, index: int, rgb: np.ndarray, restarted: Mapping[int, np.ndarray],
                step_done: Callable[[], None]) -> list[HeldFrame]:
        """At correction frame ``index`` (``restarted``: the subjects its correction restarted, with
        the masks they restarted from): the held frames, in order, each restarted subject eased in."""
        held, self._held = self._held, []
        _, subjects = self.windows.get(index, (index, set()))
        eased = subjects & restarted.keys()
        for oid in sorted(eased):
            matter = self._factory()
            try:
                matter.prepare(self._samples)
                matter.start(rgb, restarted[oid])
                for k in range(len(held) - 1, -1, -1):
                    frame = held[k]
                    backward = matter.step(frame.rgb)
                    weight = np.float32((k + 1) / (len(held) + 1))
                    carried = frame.alphas.get(oid)
                    frame.alphas[oid] = backward * weight if carried is None else \
                        carried + weight * (backward - carried)
                    step_done()
            finally:
                matter.close()
        for _ in range(len(held) * len(subjects - eased)):  # not restarted: its steps count as done
            step_done()
        if eased:
            for frame in held:
                frame.alpha = union_of(list(frame.alphas.values()), frame.rgb.shape[:2])
        logger.debug("lead-in to frame %d: %d frame(s), subject(s) %s", index, len(held), sorted(eased))
        return held

    def flush(self) -> list[HeldFrame]:
        """What is still held when the frames end before a correction (a file cut short): as it was."""
        held, self._held = self._held, []
        return held

    def close(self) -> None:
        self._held = []
