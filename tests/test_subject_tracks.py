"""Several subjects: each tracked on its own, a correction restarts only the subjects it names, from
its matte as the correction's clicks refine it."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import media
import numpy as np
import pytest

import app
from core.job import JobRequest
from core.prompts import Refinement, Removal
from core.subject_tracks import SubjectTracks
from core.video_processor import run_job
from models.base import Matter, ObjectPrompt
from models.embedded_segmenter import EmbeddedSegmenter


class Echo(Matter):
    """A matter whose alpha is its last start mask."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None
        self.prepared = False

    def prepare(self, samples) -> None:  # noqa: ANN001
        self.prepared = True

    def start(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.mask = mask.astype(np.float32)
        return self.mask

    def step(self, frame: np.ndarray) -> np.ndarray:
        return self.mask



def _mask(x0: int, x1: int) -> np.ndarray:
    m = np.zeros((4, 8), bool)
    m[:, x0:x1] = True
    return m


def test_a_correction_restarts_only_its_subject_and_a_new_subject_starts_where_first_marked():
    frame = np.zeros((4, 8, 3), np.uint8)
    made: list[Echo] = []
    tracks = SubjectTracks(lambda: made.append(Echo()) or made[-1], [1, 2, 3])
    tracks.prepare(None)
    assert len(made) == 3 and all(m.prepared for m in made)
    alpha = tracks.start(frame, {1: _mask(0, 2), 2: _mask(4, 6)})
    assert alpha[:, [0, 1, 4, 5]].min() == 1.0 and alpha[:, [2, 3, 6, 7]].max() == 0.0  # the union
    assert np.array_equal(tracks.step(frame), alpha)
    # Subject 2 corrected, subject 3 first marked: subject 1 goes on (before: the matte restarted
    # from the correction's masks alone, and subject 1 was gone from that frame on).
    corrected = tracks.correct(frame, {2: _mask(5, 7), 3: _mask(3, 4)})
    assert np.array_equal(corrected > 0.5, _mask(0, 2) | _mask(5, 7) | _mask(3, 4))
    assert np.array_equal(tracks.alphas[2] > 0.5, _mask(5, 7)) and set(tracks.alphas) == {1, 2, 3}  # each one's
    one = SubjectTracks(lambda: made.append(Echo()) or made[-1], [1])
    single = one.start(frame, {1: _mask(0, 2)})
    assert single is made[-1].mask  # one subject of one thing: its matter's alpha as it is
    tracks.close()
    assert tracks._tracking == {} and tracks._waiting == {}


def test_a_removal_takes_its_region_out_of_its_subject_from_that_frame_on():
    """A correction of 'not subject' clicks alone: that subject restarts from its matte less what the
    clicks select; taking all of it out ends the subject; the other subjects go on."""
    frame = np.zeros((4, 8, 3), np.uint8)
    tracks = SubjectTracks(Echo, [1, 2])
    tracks.start(frame, {1: _mask(0, 4), 2: _mask(6, 8)})
    alpha = tracks.correct(frame, {1: Removal(_mask(2, 5))})
    assert np.array_equal(alpha > 0.5, _mask(0, 2) | _mask(6, 8))
    assert np.array_equal(tracks.step(frame) > 0.5, _mask(0, 2) | _mask(6, 8))  # and so on
    assert not tracks.correct(frame, {1: Removal(_mask(0, 3)), 2: Removal(_mask(5, 8))}).any()
    assert tracks._tracking == {} and not tracks.step(frame).any()
    big = np.zeros((100, 100, 3), np.uint8)
    fringe = SubjectTracks(Echo, [1])
    fringe.start(big, {1: np.ones((100, 100), bool)})
    region = np.ones((100, 100), bool)
    region[0, :50] = False  # all but a strip of 50 px of its 10,000 (its outline's fringe): all of it
    assert not fringe.correct(big, {1: Removal(region)}).any() and fringe._tracking == {}
    untouched = SubjectTracks(Echo, [1])
    untouched.start(big, {1: np.ones((100, 100), bool)})
    calls = []
    untouched._tracking[1].correct = lambda *a: calls.append(a)  # type: ignore[method-assign]
    elsewhere = np.zeros((100, 100), bool)
    elsewhere[0, :50] = True  # 50 px of its 10,000: next to nothing of it, no restart
    assert untouched.correct(big, {1: Removal(elsewhere)}).all() and calls == []


def test_a_subject_with_nothing_selected_is_left_out_not_an_error():
    frame = np.zeros((4, 8, 3), np.uint8)
    tracks = SubjectTracks(Echo, [1, 2])
    alpha = tracks.start(frame, {1: _mask(0, 2), 2: np.zeros((4, 8), bool)})
    assert np.array_equal(alpha > 0.5, _mask(0, 2)) and set(tracks._tracking) == {1}


def two_discs(frames: int = 24, width: int = 192, height: int = 108) -> list[np.ndarray]:
    """Two discs of their own colours, on a textured background, moving apart."""
    rng = np.random.default_rng(4)
    ground = cv2.GaussianBlur(rng.integers(60, 140, (height, width, 3)).astype(np.uint8), (0, 0), 2)
    out = []
    for i in range(frames):
        image = ground.copy()
        cv2.circle(image, (50, 40 + i), 16, (230, 60, 40), -1)
        cv2.circle(image, (140, 70 - i), 16, (40, 90, 230), -1)
        out.append(image)
    return out


def test_two_subjects_and_a_correction_for_one_of_them_keeps_the_other(tmp_path):
    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    out = tmp_path / "out"
    assert app.main(["process", str(clip), "--out", str(out), "--point", "50,40", "--point", "140,70@2",
                     "--correct", "12:140,58@2", "--formats", "alpha.mp4", "--matte-frames", "--engine", "embedded", "--quiet"]) == 0
    assert json.loads((out / "report.json").read_text())["correction_frames"] == [12]
    for i in (0, 11, 12, 20):
        alpha = cv2.imread(str(out / "alpha" / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE)
        assert alpha[40 + i, 50] > 200 and alpha[70 - i, 140] > 200, i  # subject 1 too, after frame 12
        assert alpha[95, 100] < 30 and alpha[10, 10] < 30, i


def test_not_subject_clicks_alone_on_a_later_frame_take_that_thing_out_from_there_on(tmp_path):
    """Both discs marked as one subject; on frame 12 a 'not subject' click on the blue one: it is
    gone from frame 12 on, the red one stays (before: error E205, only background clicks)."""
    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    out = tmp_path / "out"
    assert app.main(["process", str(clip), "--out", str(out), "--point", "50,40", "--point", "140,70",
                     "--correct", "12:-140,58", "--formats", "alpha.mp4", "--matte-frames", "--engine", "embedded", "--quiet"]) == 0
    for i in (0, 11, 12, 20):
        alpha = cv2.imread(str(out / "alpha" / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE)
        assert alpha[40 + i, 50] > 200, i
        assert (alpha[70 - i, 140] > 200) == (i < 12), i


def test_a_refinement_refines_the_carried_matte_and_a_subject_not_tracked_starts_from_its_clicks():
    """'Subject' clicks on a later frame (``Refinement``): the segmenter gets the subject's matte
    carried there and its answer is where the subject goes on from; a subject not tracked by then
    (first marked here) gets None and starts from the answer; an answer of nothing leaves the
    subject as carried."""
    frame = np.zeros((4, 8, 3), np.uint8)
    tracks = SubjectTracks(Echo, [1, 2])
    tracks.start(frame, {1: _mask(0, 2)})
    asked = []

    def refine(prompt, carried):  # noqa: ANN001, ANN202
        asked.append((prompt.object_id, None if carried is None else carried.copy()))
        return (carried | _mask(2, 3)) if carried is not None else _mask(6, 8)

    click = ObjectPrompt(points=[(2.0, 1.0)], labels=[1])
    alpha = tracks.correct(frame, {1: Refinement(click), 2: Refinement(replace(click, object_id=2))}, refine)
    assert np.array_equal(asked[0][1], _mask(0, 2)) and asked[1] == (2, None)
    assert np.array_equal(alpha > 0.5, _mask(0, 3) | _mask(6, 8))
    assert np.array_equal(tracks.step(frame) > 0.5, _mask(0, 3) | _mask(6, 8))  # and so on
    nothing = tracks.correct(frame, {1: Refinement(click)}, lambda prompt, carried: np.zeros((4, 8), bool))
    assert np.array_equal(nothing > 0.5, _mask(0, 3) | _mask(6, 8))
    see_through = _mask(0, 3).astype(np.float32)
    see_through[:, 1] = 0.6  # a part of the subject the matter carries half see-through
    tracks._tracking[1].mask = see_through
    same = tracks.correct(frame, {1: Refinement(click)}, lambda prompt, carried: carried.copy())
    assert np.array_equal(same, np.maximum(_mask(0, 3), _mask(6, 8)).astype(np.float32))  # restarted:
    # a click on what is there, where it is see-through, makes it the subject again (before: it went on)


def test_the_embedded_segmenter_refines_a_carried_matte_only_where_clicked():
    """A carried matte: the red disc and a ragged patch of ground that tracking took in beside it. A
    click on the blue disc adds the blue disc and leaves every carried pixel as it was (a refining
    cut over the whole matte would smooth the patch's outline, and on real clips filled the floor
    between a dog's legs); a click inside adds nothing; a 'not subject' click on the red disc takes
    it out and leaves the rest."""
    image = two_discs()[0]
    red = np.zeros(image.shape[:2], bool)
    cv2.circle(red.view(np.uint8), (50, 40), 16, 1, -1)
    blue = np.zeros_like(red)
    cv2.circle(blue.view(np.uint8), (140, 70), 16, 1, -1)
    patch = np.zeros_like(red)
    patch[56:64, 60:90:2] = True  # ragged: every other column
    carried = red | patch
    seg = EmbeddedSegmenter()
    seg.set_image(image)
    near_blue = cv2.dilate(blue.view(np.uint8), np.ones((7, 7), np.uint8)) > 0
    added = seg.refine(ObjectPrompt(points=[(140, 70)], labels=[1]), carried)
    assert np.array_equal(added & ~near_blue, carried)  # the carried matte as it was
    assert (added & blue).sum() >= 0.9 * blue.sum()
    assert np.array_equal(seg.refine(ObjectPrompt(points=[(45, 40)], labels=[1]), carried), carried)
    taken = seg.refine(ObjectPrompt(points=[(140, 70), (50, 40)], labels=[1, 0]), carried)
    assert (taken & red).sum() <= 0.1 * red.sum() and np.array_equal(taken & patch, patch)
    assert (taken & blue).sum() >= 0.9 * blue.sum() and not (taken & ~near_blue & ~carried).any()
    fresh = seg.refine(ObjectPrompt(points=[(140, 70)], labels=[1]), np.zeros_like(red))  # nothing carried
    assert (fresh & blue).sum() >= 0.9 * blue.sum() and not (fresh & red).any()
    # in the order made: a 'not subject' click after the click that added the blue disc takes it out
    # again (all the clicks at once took out nothing: the blue disc was not in the matte yet)
    undone = seg.refine(ObjectPrompt(points=[(140, 70), (140, 70)], labels=[1, 0]), carried)
    assert (undone & blue).sum() <= 0.1 * blue.sum() and np.array_equal(undone & ~near_blue, carried)


def test_a_subject_click_on_a_later_frame_adds_to_the_subject_and_keeps_the_rest(tmp_path):
    """The red disc marked on frame 0; on frame 12 a 'subject' click on the blue disc, for the same
    subject: from frame 12 on both are in its matte (before: the subject restarted from the click's
    mask alone, and the red disc was gone from frame 12 on), and the frames before it ease into
    that (``core.lead_in``: back to the frame after the prompt frame here, less than a second)."""
    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    out = tmp_path / "out"
    assert app.main(["process", str(clip), "--out", str(out), "--point", "50,40", "--correct", "12:140,58",
                     "--formats", "alpha.mp4", "--matte-frames", "--engine", "embedded", "--quiet"]) == 0
    blue = []
    for i in range(21):
        alpha = cv2.imread(str(out / "alpha" / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE)
        assert alpha[40 + i, 50] > 200, i
        assert alpha[95, 100] < 30 and alpha[10, 10] < 30, i
        blue.append(int(alpha[70 - i, 140]))
    assert blue[0] < 30 and all(b > 200 for b in blue[11:]), blue  # the prompt frame's matte, the correction's
    assert blue[1] < 40 and 100 < blue[6] < 160 and all(np.diff(blue[:13]) > 0), blue  # eased in: 1/12, 6/12, ...
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 24  # every frame written once, the held ones too


@pytest.mark.parametrize("prompt_frame", [0, 6])
def test_a_subject_first_clicked_on_a_later_frame_is_matted_backwards_from_there_too(tmp_path, prompt_frame):
    """The red disc clicked on the prompt frame (0, or 6: then it is matted backwards too), the blue
    one first on frame 12 as subject 2: the blue disc is in every frame, before frame 12 too (before:
    it started at frame 12), and the red one stays. Progress counts every backward pass."""
    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    out = tmp_path / "out"
    updates = []
    red = (50, 40 + prompt_frame)
    request = JobRequest(input_path=clip, out_dir=out, engine="embedded", formats=("alpha.mp4",), matte_frames=True,
                         prompts={prompt_frame: [ObjectPrompt(points=[red], labels=[1])],
                                  12: [ObjectPrompt(object_id=2, points=[(140, 58)], labels=[1])]})
    run_job(request, progress=updates.append)
    for i in (0, 5, 6, 11, 12, 20):
        alpha = cv2.imread(str(out / "alpha" / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE)
        assert alpha[40 + i, 50] > 200 and alpha[70 - i, 140] > 200, i
        assert alpha[95, 100] < 30 and alpha[10, 10] < 30, i
    backwards = [u for u in updates if u.stage == "matte backwards"]
    assert backwards and all(u.total == 12 + prompt_frame for u in backwards)
