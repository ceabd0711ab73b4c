"""Interactive previews: mask overlay per subject and the composited prompt frame."""

from __future__ import annotations

import media
import numpy as np
import pytest

from core.device_manager import describe
from core.exceptions import PointOutOfFrameError
from core.job import EdgeOptions
from core.preview import MaskSession, checkerboard, media_info, read_frame
from models.base import ObjectPrompt


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return media.make_video(tmp_path_factory.mktemp("p") / "c.mp4", width=96, height=64, frames=12, fps=12)


def test_media_info_and_frames(clip):
    info = media_info(clip)
    assert (info.kind, info.width, info.height, info.frame_count) == ("video", 96, 64, 12)
    assert media.decode_index(read_frame(clip, 7)) == 7


def test_preview_two_subjects_each_in_its_colour(clip):
    session = MaskSession(engine="embedded")
    mask_a = np.zeros((64, 96), bool)
    mask_a[30:60, 5:40] = True
    mask_b = np.zeros((64, 96), bool)
    mask_b[30:60, 55:90] = True
    objs = [ObjectPrompt(object_id=1, mask=mask_a), ObjectPrompt(object_id=2, mask=mask_b)]
    result = session.preview(clip, 3, objs)
    assert set(result.masks) == {1, 2} and result.engine == "embedded"
    frame = read_frame(clip, 3)
    changed = np.abs(result.overlay.astype(int) - frame).sum(axis=2) > 0
    assert changed[45, 20] and changed[45, 70] and not changed[5, 48]
    # the two subjects are tinted differently
    assert not np.array_equal(result.overlay[45, 20], result.overlay[45, 70])
    assert result.alpha.dtype == np.float32 and result.alpha[45, 20] > 0.5 and result.alpha[10, 48] < 0.5


def test_preview_click_then_compose(clip):
    session = MaskSession(engine="embedded")
    obj = ObjectPrompt(points=[(20.0, 45.0)], labels=[1])
    result = session.preview(clip, 0, [obj])
    assert result.overlay.shape == (64, 96, 3)
    with pytest.raises(PointOutOfFrameError):
        session.preview(clip, 0, [ObjectPrompt(points=[(200.0, 5.0)], labels=[1])])
    composed = session.compose(clip, 0, result.alpha, "color:#ff0000", EdgeOptions())
    assert composed.shape == (64, 96, 3)
    transparent = session.compose(clip, 0, np.zeros((64, 96), np.float32), "transparent")
    assert np.array_equal(transparent, checkerboard(96, 64))


def test_device_description():
    info = describe("cpu")
    assert info["device"] == "cpu" and info["dtype"] == "float32"


def test_preview_click_on_a_pale_dog_uses_the_clip_and_keeps_no_frames(tmp_path):
    from bench.metrics import iou

    frames, masks, click = media.pale_dog_frames()
    clip = media.write_frames(tmp_path / "dog.mp4", frames)
    session = MaskSession(engine="embedded")
    try:
        first = session.preview(clip, 0, [ObjectPrompt(points=[click], labels=[1])])
        assert iou(first.masks[1], masks[0]) >= 0.9
        assert session._samples._spread is None  # what the segmenter needed is kept, not the frames
        x, y = click
        later = session.preview(clip, 12, [ObjectPrompt(points=[(x + 144, y)], labels=[1])])
        assert iou(later.masks[1], masks[12]) >= 0.9
    finally:
        session.close()


def test_preview_says_so_when_a_click_selects_next_to_nothing(tmp_path):
    """A click just beside the subject selects a few pixels of plain wall: the preview says what to do
    (the studio shows it under the frame, the API gives it in its details)."""
    import cv2

    img = np.full((400, 300, 3), (200, 180, 160), np.uint8)
    cv2.circle(img, (150, 100), 60, (20, 40, 200), -1)
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), img[..., ::-1])
    session = MaskSession(engine="embedded")
    beside = session.preview(photo, 0, [ObjectPrompt(points=[(100.0, 150.0)], labels=[1])])
    assert beside.notice and "click on the subject's middle" in beside.notice
    # The next click, on the subject, is not taken as a refinement of those few pixels.
    on = session.preview(photo, 0, [ObjectPrompt(points=[(100.0, 150.0), (150.0, 100.0)], labels=[1, 1])])
    assert on.notice is None and on.alpha[100, 150] > 0.5 and on.alpha[100, 200] > 0.5


def test_the_job_gets_the_mask_the_studio_showed_and_an_undo_goes_back(tmp_path):
    """Clicks one at a time in the studio, then the same clicks in a job: the same mask. A photo of
    a white "dog" with a brown patch on a pale pavement: the first click (the patch) gives the
    patch, the second (the white head) the whole dog; an undo gives the patch again."""
    import cv2

    from bench.metrics import iou
    from core.prompts import segment_objects
    from models.engines import resolve_engine

    frames, masks, click = media.pale_dog_frames()
    photo = tmp_path / "dog.png"
    cv2.imwrite(str(photo), frames[0][..., ::-1])
    x, y = click
    head = (x + 57, y - 17)
    one, two = [click], [click, head]
    session = MaskSession(engine="embedded")
    first = session.preview(photo, 0, [ObjectPrompt(points=one, labels=[1])]).masks[1]
    second = session.preview(photo, 0, [ObjectPrompt(points=two, labels=[1, 1])]).masks[1]
    undone = session.preview(photo, 0, [ObjectPrompt(points=one, labels=[1])]).masks[1]
    assert iou(first, masks[0]) < 0.3  # 0.12: colours find the patch only
    assert iou(second, masks[0]) >= 0.95  # 1.0 (0.12 before: the head added next to nothing)
    assert np.array_equal(undone, first)  # the undone click leaves no trace
    segmenter = resolve_engine("embedded", session.settings).segmenter
    job = segment_objects(segmenter, frames[0], [ObjectPrompt(points=two, labels=[1, 1])])[1].mask
    assert np.array_equal(job, second)  # before: 1.0 against the preview's 0.12


def test_not_subject_clicks_alone_preview_what_a_correction_takes_out(tmp_path):
    """On a later frame, 'not subject' clicks alone are a correction that takes the thing under them
    out of the subject's matte: the preview stripes it and says so, and marks nothing as subject."""
    import cv2

    frames, masks, click = media.pale_dog_frames(frames=2)
    photo = tmp_path / "dog.png"
    cv2.imwrite(str(photo), frames[0][..., ::-1])
    session = MaskSession(engine="embedded")
    shown = session.preview(photo, 0, [ObjectPrompt(points=[click], labels=[0])])
    assert shown.masks == {} and shown.alpha.max() == 0.0
    assert shown.notice.startswith("striped: taken out of subject 1's matte from this frame on")
    x, y = click
    assert not np.array_equal(shown.overlay[y, x + 6], frames[0][y, x + 6])  # the patch is drawn on


def test_matte_here_shows_the_soft_matte_the_job_makes_of_a_later_frame(tmp_path, monkeypatch):
    """'Matte here' on frame 12, the red disc clicked on frame 0: the alpha the job makes of frame 12
    (soft, as it is), the subject tinted as far as it is opaque and the background darkened; nothing
    marked before the frame, or a frame too far to carry for a preview: coded errors with a hint."""
    import cv2
    from test_subject_tracks import two_discs

    import core.preview
    from core.exceptions import LimitExceededError, NoPromptError
    from core.job import JobRequest
    from core.video_processor import run_job

    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    first = {0: [ObjectPrompt(points=[(50, 40)], labels=[1])]}
    session = MaskSession(engine="embedded", quality="fast")
    shown = session.matte_here(clip, 12, {**first, 12: [ObjectPrompt(points=[(140, 58)], labels=[1])]})
    assert shown.notice.startswith("the matte as the job carries it here from frame 0")
    run_job(JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded", quality="fast",
                       formats=("alpha.mp4",), matte_frames=True, prompts=first))
    job = cv2.imread(str(tmp_path / "out" / "alpha" / "000012.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    assert np.abs(shown.alpha - job).mean() < 0.01 and shown.alpha[52, 50] > 0.9 and shown.alpha[58, 140] < 0.1
    frame = core.preview.read_frame(clip, 12)
    assert shown.overlay[95, 100].sum() < frame[95, 100].sum()  # the background darkened
    assert abs(int(shown.overlay[52, 50].sum()) - int(frame[52, 50].sum())) > 20  # the subject tinted
    later = session.matte_here(clip, 12, {**first, 15: [ObjectPrompt(points=[(50, 55)], labels=[1])]})
    assert later.notice.endswith("In the job, the correction on frame 15 eases into this frame too.")
    with pytest.raises(NoPromptError):
        session.matte_here(clip, 0, first)  # nothing before frame 0
    monkeypatch.setattr(core.preview, "CARRY_FRAMES", 10)
    monkeypatch.setattr(core.preview, "CARRY_MIN", 10)
    near = MaskSession(engine="embedded", quality="fast")
    with pytest.raises(LimitExceededError, match="12 frames after the prompt frame 0"):
        near.matte_here(clip, 12, first)
    near.matte_here(clip, 8, first)  # within reach; and from there, 12 is within reach too
    assert near.matte_here(clip, 12, first).alpha[52, 50] > 0.9 and near._carry.reached == 12
    with pytest.raises(LimitExceededError, match="11 frames after the frame last looked at, 12"):
        near.matte_here(clip, 23, first)


def test_a_correction_previews_the_matte_the_job_carries_there_with_what_its_clicks_add(tmp_path, monkeypatch):
    """The red disc clicked on frame 0; on frame 12 a click on the blue one for the same subject. The
    preview of frame 12 shows what the job makes of it: the red disc as carried there plus the blue
    one (not the blue one alone), and says so; a second click there reuses the carried matte."""
    import cv2
    from test_subject_tracks import two_discs

    import core.preview
    from core.job import JobRequest
    from core.video_processor import run_job

    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    first = [ObjectPrompt(points=[(50, 40)], labels=[1])]
    here = [ObjectPrompt(points=[(140, 58)], labels=[1])]
    session = MaskSession(engine="embedded", quality="fast")
    shown = session.preview(clip, 12, here, {0: first, 12: here})
    assert shown.masks[1][52, 50] and shown.masks[1][58, 140] and not shown.masks[1][95, 100]
    assert shown.notice.startswith("a correction of subject 1: shown is its matte as the job carries it here from frame 0")
    alone = MaskSession(engine="embedded", quality="fast").preview(clip, 12, here)
    assert not alone.masks[1][52, 50] and alone.notice is None  # without the earlier frame: the click's own
    run_job(JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded", quality="fast",
                       formats=("alpha.mp4",), matte_frames=True, prompts={0: first, 12: here}))
    job = cv2.imread(str(tmp_path / "out" / "alpha" / "000012.png"), cv2.IMREAD_GRAYSCALE) > 127
    assert (job & shown.masks[1]).sum() >= 0.9 * (job | shown.masks[1]).sum()  # the job's matte there
    carried = session._carry
    again = session.preview(clip, 12, [ObjectPrompt(points=[(140, 58), (145, 60)], labels=[1, 1])],
                            {0: first, 12: here})
    assert session._carry is carried and carried.reached == 12 and again.masks[1][52, 50]
    other = [ObjectPrompt(object_id=2, points=[(140, 70)], labels=[1])]  # another subject: not carried
    session.preview(clip, 12, here, {0: first + other, 12: here})
    assert session._carry is carried and set(carried.alphas) == {1}
    # a later frame carries on from frame 12 (its clicks were not applied there, so not past a click
    # on frame 12 itself: then it starts again from the prompt frame)
    later = [ObjectPrompt(points=[(50, 58)], labels=[1])]
    session.preview(clip, 18, later, {0: first, 18: later})
    assert session._carry is carried and carried.reached == 18
    fresh = MaskSession(engine="embedded", quality="fast")  # carried on: the same matte as afresh
    fresh.preview(clip, 18, later, {0: first, 18: later})
    assert fresh._carry is not carried and fresh._carry.reached == 18
    np.testing.assert_array_equal(carried.alphas[1], fresh._carry.alphas[1])
    session.preview(clip, 20, later, {0: first, 12: here, 20: later})
    assert session._carry is not carried and session._carry.reached == 20
    assert core.preview.carry_limit(1280, 720) == 600 and core.preview.carry_limit(3840, 2160) == 150
    assert core.preview.carry_limit(1920, 1080) == 267 and core.preview.carry_limit(640, 360) == 600
    monkeypatch.setattr(core.preview, "CARRY_FRAMES", 10)  # too far to carry: the clicks' own, and said so
    monkeypatch.setattr(core.preview, "CARRY_MIN", 10)
    far = MaskSession(engine="embedded", quality="fast").preview(clip, 12, here, {0: first, 12: here})
    assert not far.masks[1][52, 50] and "too far to work out for a preview (over 10 frames)" in far.notice


def test_a_subject_with_nothing_on_an_earlier_frame_is_found_afresh_on_a_later_one(tmp_path):
    """A subject sent with no clicks on frame 0 (added, its clicks undone; the API takes it) counted
    as marked there, so its clicks on frame 8 were a correction of a matte that never was: the
    preview ended as an internal error (E900, 'min() arg is an empty sequence'), and the job took
    them as one too. Now they select it afresh, in the preview and in the job alike."""
    from test_subject_tracks import two_discs

    from core.prompts import first_marked_frames, marked_before

    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    earlier = {0: [ObjectPrompt(object_id=1, points=[(50, 40)], labels=[1]), ObjectPrompt(object_id=2)]}
    later = [ObjectPrompt(object_id=2, points=[(140, 58)], labels=[1])]
    assert marked_before({**earlier, 8: later})[8] == {1}
    assert first_marked_frames({**earlier, 8: later}) == {0, 8}
    session = MaskSession(engine="embedded", quality="fast")
    shown = session.preview(clip, 8, later, earlier)
    assert set(shown.masks) == {2} and shown.masks[2][58, 140]
    assert not (shown.notice or "").startswith("a correction")


def test_a_correction_after_not_subject_clicks_before_any_subject_click_gets_the_jobs_coded_error(tmp_path):
    """'Not subject' clicks on frame 2 for a subject first clicked on frame 5: the job refuses them
    (E205, naming frame 2). A correction's preview on frame 9 replayed them to carry the matte and
    ended as an internal error (a removal given to the subject's matter as its start); it says what
    the job says now."""
    from test_subject_tracks import two_discs

    from core.exceptions import NoPromptError

    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    earlier = {2: [ObjectPrompt(object_id=1, points=[(140, 58)], labels=[0])],
               5: [ObjectPrompt(object_id=1, points=[(50, 40)], labels=[1])]}
    session = MaskSession(engine="embedded", quality="fast")
    with pytest.raises(NoPromptError, match="frame 2: subject 1 has only 'not subject' clicks") as caught:
        session.preview(clip, 9, [ObjectPrompt(object_id=1, points=[(52, 42)], labels=[1])], earlier)
    assert caught.value.code == "E205" and "frame 5, after" in caught.value.message
    shown = session.preview(clip, 9, [ObjectPrompt(object_id=1, points=[(52, 42)], labels=[1])], {5: earlier[5]})
    assert shown.masks[1][40, 50]  # without them, the correction is carried as before


def test_frames_and_subjects_given_nothing_are_left_out_of_a_job_and_a_preview(tmp_path):
    """The API takes a subject with no clicks, box or mask (added, its clicks undone). A frame of
    such alone before the clicks was the job's prompt frame with nothing on it: the job ended as an
    internal error (StopIteration, E900). And 'Matte here' after 'not subject' clicks before any
    click on that subject was one too. Now the empty ones are left out, and the others coded."""
    from test_subject_tracks import two_discs

    from core.exceptions import NoPromptError
    from core.job import JobRequest
    from core.video_processor import run_job

    clip = media.write_frames(tmp_path / "two.mp4", two_discs())
    prompts = {1: [ObjectPrompt(object_id=1)], 4: [ObjectPrompt(object_id=1, points=[(50, 40)], labels=[1])],
               7: [ObjectPrompt(object_id=1), ObjectPrompt(object_id=2)]}
    result = run_job(JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded", quality="fast",
                                formats=("alpha.mp4",), prompts=prompts))
    assert result.report["prompt_frame"] == 4 and result.report["correction_frames"] == []
    session = MaskSession(engine="embedded", quality="fast")
    with pytest.raises(NoPromptError, match="frame 2: subject 1 has only 'not subject' clicks"):
        session.matte_here(clip, 9, {2: [ObjectPrompt(object_id=1, points=[(140, 58)], labels=[0])], 4: prompts[4]})
