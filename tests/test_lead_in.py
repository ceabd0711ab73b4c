"""A correction's lead-in (core/lead_in.py): which frames before a 'subject' correction wait for it,
and how its restart is eased into them."""

from __future__ import annotations

import numpy as np
from test_subject_tracks import Echo

from core.lead_in import HeldFrame, LeadIns, lead_in_steps, lead_in_windows
from models.base import ObjectPrompt


def _click(oid: int, label: int = 1) -> ObjectPrompt:
    return ObjectPrompt(object_id=oid, points=[(5.0, 5.0)], labels=[label])


def test_windows_reach_a_second_back_never_past_the_frame_prompted_before_and_not_for_removals():
    prompts = {
        0: [_click(1), _click(2)],
        40: [_click(1)],  # refines subject 1: reaches back 30 frames at 30 fps
        45: [_click(2, 0)],  # 'not subject' alone: from frame 45 on, no lead-in
        50: [_click(2)],  # refines subject 2: back to the frame after 45
        60: [_click(3)],  # subject 3 first marked here: matted backwards in a pass of its own
    }
    windows = lead_in_windows(prompts, 30.0, (72, 128))
    assert windows == {40: (10, {1}), 50: (46, {2})}
    assert lead_in_steps(windows) == 30 + 4
    assert lead_in_windows(prompts, 10.0, (72, 128))[40] == (30, {1})  # a second at 10 fps
    # a big frame: fewer frames held (256 MB of frames and alphas): 4K with three subjects, 158 MB a frame
    assert lead_in_windows(prompts, 30.0, (2160, 3840))[40] == (39, {1})


class Constant(Echo):
    """``Echo`` (its start mask on every frame) that also keeps what it was prepared with, counts
    its steps and knows it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.closed = False

    def prepare(self, samples) -> None:  # noqa: ANN001
        self.prepared = samples

    def step(self, frame: np.ndarray) -> np.ndarray:
        self.steps += 1
        return super().step(frame)

    def close(self) -> None:
        self.closed = True


def test_release_cross_fades_the_restarted_subject_from_its_correction_backwards():
    made: list[Constant] = []

    def factory() -> Constant:
        made.append(Constant())
        return made[-1]

    samples = object()
    lead_ins = LeadIns({10: (6, {1})}, factory, samples)
    assert [i for i in range(12) if lead_ins.holds(i)] == [6, 7, 8, 9]
    rgb = np.zeros((2, 3, 3), np.uint8)
    other = np.full((2, 3), 0.25, np.float32)
    for i in range(6, 10):
        forward = np.zeros((2, 3), np.float32)
        lead_ins.hold(HeldFrame(i, rgb, np.maximum(forward, other), {1: forward, 2: other}))
    steps = []
    released = lead_ins.release(10, rgb, {1: np.ones((2, 3), bool), 2: np.ones((2, 3), bool)},
                                lambda: steps.append(1))
    assert [f.index for f in released] == [6, 7, 8, 9]
    np.testing.assert_allclose([f.alphas[1][0, 0] for f in released], [0.2, 0.4, 0.6, 0.8], atol=1e-6)
    assert all(f.alphas[2] is other for f in released)  # subject 2 is not in the lead-in: as it was
    np.testing.assert_allclose([f.alpha[0, 0] for f in released], [0.25, 0.4, 0.6, 0.8], atol=1e-6)  # the union
    assert len(made) == 1 and made[0].prepared is samples and made[0].steps == 4 and made[0].closed
    assert len(steps) == 4
    assert lead_ins.release(10, rgb, {}, lambda: None) == []  # nothing held any more


def test_a_correction_that_restarts_nothing_releases_its_frames_as_they_were():
    lead_ins = LeadIns({5: (3, {1})}, Constant, None)
    rgb = np.zeros((2, 2, 3), np.uint8)
    frames = [HeldFrame(i, rgb, np.full((2, 2), 0.5, np.float32), {1: np.full((2, 2), 0.5, np.float32)})
              for i in (3, 4)]
    for frame in frames:
        lead_ins.hold(frame)
    steps = []
    released = lead_ins.release(5, rgb, {}, lambda: steps.append(1))  # clicks that selected nothing
    assert released == frames and all(f.alpha[0, 0] == 0.5 for f in released)
    assert len(steps) == 2  # its progress counted all the same


def test_frames_held_for_a_correction_never_reached_are_flushed_as_they_were():
    """A file that ends before its correction frame: the frames held for it still go out."""
    lead_ins = LeadIns({5: (3, {1})}, Constant, None)
    rgb = np.zeros((2, 2, 3), np.uint8)
    frame = HeldFrame(3, rgb, np.zeros((2, 2), np.float32), {1: np.zeros((2, 2), np.float32)}, pts=3003)
    lead_ins.hold(frame)
    assert lead_ins.flush() == [frame] and lead_ins.flush() == []
