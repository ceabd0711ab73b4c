"""EmbeddedMatter on short synthetic clips: a floor on quality (so regressions fail), shapes, directions."""

from __future__ import annotations

import functools

import media
import numpy as np
import pytest

from app_config import PRESETS
from bench.metrics import ClipScore, iou
from bench.synthetic import make_clip
from core.exceptions import EmptyMaskError, MaskSizeError, PromptError
from models.base import ObjectPrompt
from models.embedded.motion import FlowTracker
from models.embedded_matter import EmbeddedMatter
from models.embedded_segmenter import EmbeddedSegmenter

N = 24


def _run(kind: str, seed: int, prompt: str, backwards: bool = False, preset: str = "balanced") -> dict:
    clip = make_clip(kind, 480, 270, frames=N, seed=seed)
    order = list(range(N))[::-1] if backwards else list(range(N))
    matter = EmbeddedMatter(PRESETS[preset])
    matter.prepare([clip.frame(i)[0] for i in range(0, N, 3)])
    score = ClipScore()
    for k, i in enumerate(order):
        frame, true = clip.frame(i)
        if k == 0:
            if prompt == "mask":
                mask = true >= 0.5
            else:
                seg = EmbeddedSegmenter()
                seg.set_image(frame)
                dist_pt = clip.point if i == 0 else _inside(true)
                mask = seg.segment(ObjectPrompt(points=[dist_pt], labels=[1])).mask
            alpha = matter.start(frame, mask)
        else:
            alpha = matter.step(frame)
        assert alpha.dtype == np.float32 and alpha.shape == true.shape
        assert alpha.min() >= 0.0 and alpha.max() <= 1.0
        score.add(alpha, true)
    return score.summary()


def _inside(alpha: np.ndarray) -> tuple[int, int]:
    import cv2

    d = cv2.distanceTransform(np.pad((alpha >= 0.5).astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(x), int(y)


@pytest.mark.parametrize("kind,seed", [("static", 21), ("pan", 23)])
@pytest.mark.parametrize("prompt", ["mask", "point"])
def test_quality_floor(kind, seed, prompt):
    s = _run(kind, seed, prompt)
    if prompt == "mask":
        # Measured: IoU 0.975-0.976, MAD 5.2-5.7, dtSSD 3.2-3.7 (24 frames, 8 plate samples, 480x270;
        # before the subject palette of the edge solve: IoU 0.950-0.956, MAD 7.0-7.6, dtSSD 4.6-5.2).
        assert s["iou"] >= 0.96, s
        assert s["mad"] <= 7.5, s
        assert s["dtssd"] <= 5.0, s
    else:
        # A single click: on these two small scenes the click segmenter leaves out the subject's
        # dark hair cap on the first frame (a known limit, see README), which the matter only
        # partly recovers. Measured IoU 0.89-0.91, MAD 11.6-14.5. The benchmark's clips
        # (bench/quality.py) score the same from a click as from the exact mask.
        assert s["iou"] >= 0.87, s
        assert s["mad"] <= 16.5, s
        assert s["dtssd"] <= 6.5, s


def test_backwards_and_fast_preset():
    s = _run("static", 21, "mask", backwards=True, preset="fast")
    # "fast" tracks at 256 px and solves the edge at full resolution: measured IoU 0.969, MAD 4.9,
    # dtSSD 3.5 (without the edge solve, the preset of the first twelve sessions: 0.92, 11.2).
    assert s["iou"] >= 0.95 and s["mad"] <= 7.0 and s["dtssd"] <= 5.0, s


def test_errors_and_misuse():
    clip = make_clip("static", 160, 90, frames=2, seed=1)
    frame, alpha = clip.frame(0)
    m = EmbeddedMatter()
    with pytest.raises(PromptError):
        m.step(frame)
    with pytest.raises(MaskSizeError):
        m.start(frame, np.ones((10, 10), bool))
    with pytest.raises(EmptyMaskError):
        m.start(frame, np.zeros(alpha.shape, bool))
    m.start(frame, alpha >= 0.5)
    with pytest.raises(PromptError):
        m.step(np.zeros((50, 60, 3), np.uint8))


def test_start_respects_prompt_mask():
    clip = make_clip("pan", 320, 180, frames=1, seed=4)
    frame, alpha = clip.frame(0)
    out = EmbeddedMatter().start(frame, alpha >= 0.5)
    assert ClipScore().add(out, alpha) is None
    inner = alpha >= 0.999
    assert out[inner].mean() > 0.97 and out[alpha == 0].mean() < 0.02


def test_roi_gives_the_whole_frame_result():
    """Working only in the subject's box must not change the matte (beyond a few flipped edge pixels)."""
    # 8 frames of a 30-frame clip: a clip of 8 frames sways its subject so far per frame that the
    # track breaks (IoU 0.48 against the truth at frame 4), and the two runs then differ chaotically.
    clip = make_clip("pan", 480, 270, frames=30, seed=23)
    boxed, whole = EmbeddedMatter(), EmbeddedMatter()
    whole._roi = lambda s: (slice(0, s.shape[0]), slice(0, s.shape[1])) if s.any() else None
    for i in range(8):
        frame, true = clip.frame(i)
        a = boxed.start(frame, clip.first_mask) if i == 0 else boxed.step(frame)
        b = whole.start(frame, clip.first_mask) if i == 0 else whole.step(frame)
        assert np.abs(a - b).mean() < 0.002, i
        assert iou(a, b) > 0.995, i
    # Measured mean |a - b| <= 0.0005, IoU >= 0.997: the plate, refreshed outside the box every 4th
    # frame, and the colour pyramids at the box's border differ.


def test_a_ball_passing_behind_the_hair_is_not_taken_in():
    """bench.quality's 720p still clip: from frame 40 its red ball passes behind the hair. The plate
    (a median) never holds it, so it read as subject there and was carried: IoU 0.949 over the last
    third before background movers were followed (models/embedded/movers.py), 0.978 with them."""
    n = 60
    clip = make_clip("static", 1280, 720, frames=n, seed=12)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([clip.frame(i)[0] for i in np.linspace(0, n - 1, 16).round().astype(int)])
    late = []
    for i in range(n):
        frame, true = clip.frame(i)
        alpha = matter.start(frame, true >= 0.5) if i == 0 else matter.step(frame)
        if i >= 2 * n // 3:
            late.append(iou(alpha, true))
    assert matter.movers is not None and matter.movers.map.any()  # the ball is marked
    assert np.mean(late) > 0.965


def test_subject_at_the_frame_edge_and_leaving():
    """A box clipped by the frame edge works; a subject that is lost gives an empty matte, not an error."""
    import cv2

    clip = make_clip("static", 320, 180, frames=3, seed=5)
    frame, true = clip.frame(0)
    shift = np.float32([[1, 0, 110], [0, 1, 0]])  # push the subject over the right edge
    moved = cv2.warpAffine(frame, shift, (320, 180), borderMode=cv2.BORDER_REFLECT)
    mask = cv2.warpAffine(true, shift, (320, 180)) >= 0.5
    m = EmbeddedMatter()
    a = m.start(moved, mask)
    assert a[:, -1].max() > 0.9 and a[mask].mean() > 0.95
    a = m.step(moved)
    assert (a >= 0.5).sum() > 0.9 * mask.sum()
    m.prev_alpha[:] = 0.0  # the track is lost: nothing is carried
    a = m.step(moved)
    assert a.shape == mask.shape and a.max() == 0.0


class _CountingSamples:
    """A SampleSource that records what the matter asked for."""

    def __init__(self, clip, prompt_frame: int = 0) -> None:
        self.clip, self.p, self.asked = clip, prompt_frame, []

    def pair(self):
        self.asked.append("pair")
        return self.clip.frame(self.p)[0], self.clip.frame(self.p + 6)[0]

    def spread(self):
        self.asked.append("spread")
        return [self.clip.frame(i)[0] for i in range(0, N, 3)]

    def memo(self, key, compute):
        return compute()  # one matter per source here


@pytest.mark.parametrize("kind", ["static", "pan"])
def test_prepare_decodes_spread_samples_only_for_a_still_camera(kind):
    clip = make_clip(kind, 480, 270, frames=N, seed=4)
    samples = _CountingSamples(clip)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare(samples)
    asked = list(dict.fromkeys(samples.asked))  # the pair is asked for twice (grain, then the look): decoded once
    if kind == "pan":  # the first look shows the camera moving: no plate, nothing more decoded
        assert asked == ["pair"] and matter._still is None
    else:
        assert asked == ["pair", "spread"] and matter._still is not None


def test_a_body_touching_the_subject_at_the_prompt_frame_stays_out_of_its_matte():
    """A pale person's hand at a pale dog's head (../shared/media/dog.mp4, the ball given): the
    dog's matte used to climb the arm and hold the person by the end (IoU 0.39 with the dog, 95 %
    of the person in the matte). The person is marked as another body at the prompt frame."""
    import media

    frames, dogs, people = media.dog_and_hand_frames()
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare(frames[::2])
    alpha = matter.start(frames[0], dogs[0])
    for i in range(1, len(frames)):
        alpha = matter.step(frames[i])
        assert ((alpha > 0.5) & people[i]).sum() <= 0.1 * people[i].sum(), f"frame {i}"
    assert iou(alpha, dogs[-1]) >= 0.9
    assert ((alpha > 0.5) & people[-1]).sum() <= 0.02 * people[-1].sum()


def test_the_plate_is_blind_only_to_subject_colours_it_cannot_tell_from_the_background():
    """A white dog over pale concrete (../shared/media/dog.mp4, frames 30-40): where the carried
    subject's colour one frame ago already matched the plate and is one of the subject's colours, a
    match with the plate says nothing (blind). Not blind: where the subject stood out from the plate,
    where nothing was carried, and where the carried colour matches the plate but is none of the
    subject's (background that got into the matte: the plate must stay free to take it out)."""
    background = np.full((216, 384, 3), (210, 208, 200), np.uint8)
    frame = background.copy()
    frame[60:160, 100:180] = (150, 90, 50)  # a brown patch: stands out
    frame[60:160, 180:260] = (214, 212, 204)  # white fur: the concrete's colour
    mask = np.zeros((216, 384), np.uint8)
    mask[60:160, 100:260] = 1
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.start(frame, mask)  # tracking at the frame's own size: 384 px
    grass = (90, 140, 60)
    matter.plate.image[:] = background  # the clean plate a still camera's median gives
    matter.plate.image[170:200, 20:80] = grass
    matter.plate.valid[:] = 1.0
    before = frame.copy()
    before[170:200, 20:80] = grass  # ... and background that got into the matte last frame
    carried = mask.astype(np.float32)
    carried[170:200, 20:80] = 1.0
    roi = (slice(0, 216), slice(0, 384))
    blind = matter.plate.blind_to(before, carried, roi, matter.plate.tolerance(roi), matter.palette)
    assert blind[65:155, 185:255].min() > 0.95  # the fur
    assert blind[65:155, 105:175].max() < 0.05  # the patch
    assert blind[172:198, 22:78].max() < 0.05  # the grass
    assert blind[:50].max() == 0.0 and blind[:, 300:].max() == 0.0  # nothing carried there


def test_other_bodies_are_solid_reach_beyond_the_edge_zone_and_move_otherwise():
    """Marked at the prompt frame: a body off the median that touches the subject, reaches far and
    moves otherwise than the subject between the two first looks.
    Not marked: a thin cloud of strands beside the subject (its own hair, left out by the prompt's
    cut), a small clump, and the pixels right at the subject's edge."""
    from models.embedded.others import OtherBodies

    median = np.full((120, 200, 3), 100, np.float32)
    frame = np.full((120, 200, 3), 100, np.uint8)
    subject = np.zeros((120, 200), bool)
    subject[40:80, 90:130] = True
    frame[subject] = 220
    frame[50:60, 20:91] = 220  # an arm reaching the subject from far away
    frame[82:84, 95:125:3] = 220  # strands below it
    frame[20:25, 140:145] = 220  # a small clump, beyond the edge zone
    motion = np.zeros((120, 200, 2), np.float32)
    motion[subject] = (6, 1)  # the subject walks right between the two first looks; the arm stays
    others = OtherBodies(median, np.ones((120, 200), np.float32), frame, subject, 15, motion)
    assert others.map[51:59, 24:86].all()  # the arm, up to the subject's edge
    assert not others.map[subject].any() and not others.map[50:60, 88:90].any()
    assert not others.map[80:90].any() and not others.map[15:30, 135:150].any()
    # The same arm moving with the subject is the subject's own (a part the prompt missed).
    motion[50:60, 20:91] = (6, 1)
    assert not OtherBodies(median, np.ones((120, 200), np.float32), frame, subject, 15, motion).map.any()
    # Nothing moves: nothing tells the two apart, and nothing is marked.
    motion[:] = 0
    assert not OtherBodies(median, np.ones((120, 200), np.float32), frame, subject, 15, motion).map.any()


def test_other_bodies_marks_end_where_the_frame_shows_what_the_plate_has_learnt():
    """Where the subject stood in most of the samples the median shows her (a ghost); once she has
    moved on, the background there is off the median, but the plate learns it (``from_median``
    False). Marks there end where the frame shows what the plate learnt; a body off both keeps its
    marks. Judged against the median alone the marks stayed in the ghost for good."""
    from models.embedded.motion import FlowTracker
    from models.embedded.others import OtherBodies
    from models.embedded.plate import BackgroundPlate

    h, w = 120, 200
    median = np.full((h, w, 3), 100, np.float32)
    median[40:80, 20:60] = 200  # her ghost
    frame = np.full((h, w, 3), 100, np.uint8)
    frame[40:80, 20:60] = 60  # the background there, now that she has gone
    frame[40:80, 140:180] = 220  # another body
    still = np.zeros((h, w, 2), np.float32)

    def marks_after_a_frame(learnt: bool) -> np.ndarray:
        plate = BackgroundPlate(median.copy(), np.ones((h, w), np.float32), np.zeros((2 * h, 2 * w, 3), np.float32))
        if learnt:
            plate.image[40:80, 20:60] = 60
            plate.from_median[40:80, 20:60] = False
        others = OtherBodies(median, np.ones((h, w), np.float32), median.astype(np.uint8), np.zeros((h, w), bool),
                             15, still)
        others.map[40:80, 20:60] = 1
        others.map[40:80, 140:180] = 1
        others.update(frame, plate, FlowTracker(w, h), still, np.zeros((h, w), np.float32))
        return others.map

    learnt = marks_after_a_frame(learnt=True)
    assert not learnt[40:80, 20:60].any() and learnt[40:80, 140:180].all()
    assert marks_after_a_frame(learnt=False)[40:80, 20:60].all()  # the median alone keeps them


def test_the_plate_does_not_learn_under_another_bodys_marks():
    """A body that stands still beside the subject must not become the plate's background: its
    marks would end where the frame shows it (``learnt_here``) and it would join the subject."""
    import media

    frames, dogs, _ = media.dog_and_hand_frames()
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare(frames[::2])
    matter.start(frames[0], dogs[0])
    assert matter.others is not None and matter.others.map.any()
    marked = matter.others.map > 0
    before = matter.plate.image[marked].copy()
    for _ in range(12):  # the same frame again and again: everything in it stands still
        matter.step(frames[0])
    still_marked = marked & (matter.others.map > 0)
    assert still_marked.sum() > 0.5 * marked.sum()
    assert np.abs(matter.plate.image[still_marked] - before[still_marked[marked]]).max() < 1.0


def test_other_bodies_keep_bodies_and_drop_specks_far_from_them():
    """Specks of marks left on leaves in the wind or on a ghost of the subject, far from any body, go;
    a body keeps its marks, and so do the small pieces of one (where it touches the subject or is
    half hidden), as does a lone body of at least ``least`` px."""
    from models.embedded.others import bodies_only

    marks = np.zeros((120, 200), np.uint8)
    marks[20:60, 20:60] = 1  # a body: 1600 px
    marks[62:66, 30:40] = 1  # a piece of it, 2 px below it
    marks[30:33, 150:153] = 1  # specks far from it
    marks[90:95, 100:110] = 1
    marks[100:112, 160:172] = 1  # a lone body of 144 px
    kept = bodies_only(marks.copy(), least=112, reach=15)
    assert kept[20:60, 20:60].all() and kept[62:66, 30:40].all() and kept[100:112, 160:172].all()
    assert not kept[30:33, 150:153].any() and not kept[90:95, 100:110].any()
    assert kept.sum() == 1600 + 40 + 144


def test_the_two_first_looks_tell_motion_only_at_their_own_frame():
    """Who moves with the subject is read from the clip's two first looks, which begin at the
    prompt frame; started on another frame (samples given as a list, a backward pass from the
    end) the matter marks no other bodies rather than read a motion of another moment."""
    import media

    frames, dogs, _ = media.dog_and_hand_frames()
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare(frames[::2])
    still = matter._still
    assert still is not None and still.looks is not None
    small = matter._downscale(frames[0])
    motion = still.prompt_motion(small, FlowTracker(small.shape[1], small.shape[0]))
    assert motion is not None and motion.shape == small.shape[:2] + (2,)
    assert still.prompt_motion(matter._downscale(frames[-1]), FlowTracker(small.shape[1], small.shape[0])) is None
    matter.start(frames[-1], dogs[-1])
    assert matter.others is None
    matter.start(frames[0], dogs[0])
    assert matter.others is not None and matter.others.map.any()


def test_a_small_subject_takes_its_colours_from_its_own_middle():
    """A subject thinner than the edge zone (a white dog far off on pale concrete: ../shared/media/dog.mp4,
    frames 30-50) has no pixel as deep inside it as a big subject's colours come from; its colours
    then come from its inner half. Before, the edge solve read its fur against no colour at all
    (black), found its edge transparent, and the dog faded a little more each frame."""
    import cv2

    background = np.full((216, 384, 3), (200, 198, 190), np.uint8)
    background[::8] = (190, 188, 180)  # some texture for the optical flow
    matter = EmbeddedMatter(PRESETS["balanced"])

    def frame_at(x: int) -> tuple[np.ndarray, np.ndarray]:
        frame, mask = background.copy(), np.zeros((216, 384), np.uint8)
        cv2.ellipse(mask, (x, 108), (10, 16), 0, 0, 360, 1, -1)  # 20 px wide: thinner than 2 x 0.8 x band_px
        frame[mask > 0] = (216, 214, 206)  # white fur, 28 levels from the concrete
        frame[96:106, x - 4 : x + 4] = (150, 90, 50)  # a brown patch
        return frame, mask

    frame, mask = frame_at(150)
    matter.start(frame, mask)
    assert 0.8 * matter.band_px > 10  # no pixel of the subject is that deep inside it
    matter.plate.image[:] = background  # the clean plate a still camera's median gives
    matter.plate.valid[:] = 1.0
    for i in range(1, 8):
        frame, mask = frame_at(150 + 6 * i)
        alpha = matter.step(frame)
        assert alpha[mask > 0].mean() > 0.85, (i, alpha[mask > 0].mean())  # 0.71-0.73 before: its edge faded
        assert alpha[cv2.dilate(mask, np.ones((9, 9), np.uint8)) == 0].max() < 0.1


def test_a_subject_that_leaves_the_frame_is_found_again_when_it_comes_back():
    """../shared/media/dog.mp4: the dog runs out of the frame at frame 75 and back in at 110; the
    matte used to stay empty from then on (60 % of the clip). With a still camera what comes back
    in, stands out from the plate and is made of the subject's colours is the subject again."""
    frames = [media.leaves_and_comes_back(i) for i in range(30)]
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([f for f, _ in frames[::2]])
    alpha = matter.start(*frames[0])
    for i in range(1, 30):
        frame, mask = frames[i]
        alpha = matter.step(frame)
        if 12 <= i < 18:
            assert alpha.max() < 0.5  # nothing there
    assert iou(alpha, mask.astype(np.float32)) > 0.8  # back, and followed again


def test_only_a_blob_of_the_subjects_size_and_colours_seen_twice_is_the_lost_subject():
    from models.embedded.colour import ColourModel
    from models.embedded.plate import BackgroundPlate
    from models.embedded.reacquire import LostSubject

    scene = np.full((100, 160, 3), (90, 120, 70), np.uint8)
    subject = np.zeros((100, 160), bool)
    subject[40:60, 20:50] = True  # 600 px
    first = scene.copy()
    first[subject] = (225, 222, 215)
    palette = np.float32([[225, 222, 215], [150, 85, 40]])
    colours = ColourModel(first, subject, ~subject)
    plate = BackgroundPlate(scene, np.ones((100, 160), np.float32), np.zeros((400, 640, 3), np.float32))

    def frame_with(box: tuple[slice, slice], colour) -> np.ndarray:
        frame = scene.copy()
        frame[box] = colour
        return frame

    lost = LostSubject(area=600.0)
    back = (slice(40, 62), slice(100, 128))
    assert lost.look(frame_with(back, (225, 222, 215)), plate, palette, colours, None) is None  # once: not yet
    found = lost.look(frame_with((slice(41, 63), slice(98, 126)), (225, 222, 215)), plate, palette, colours, None)
    assert found is not None and found[50, 110] and not found[50, 30]
    lost.forget()
    for box, colour in [(back, (40, 40, 200)),  # not the subject's colours
                        ((slice(45, 50), slice(100, 110)), (225, 222, 215)),  # far too small
                        (back, (225, 222, 215))]:  # ... the subject's, but where another body is followed
        others = np.zeros((100, 160), np.uint8)
        if box is back and colour == (225, 222, 215):
            others[30:70, 90:140] = 1
        for _ in range(2):
            assert lost.look(frame_with(box, colour), plate, palette, colours, others) is None


def test_a_scrap_left_behind_does_not_stop_the_search_for_the_subject():
    """Lost is "next to nothing carried", not "nothing at all": a scrap of the matte left behind (a
    bit of the leash) must not keep the subject from being found again."""
    frames = [media.leaves_and_comes_back(i) for i in range(30)]
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([f for f, _ in frames[::2]])
    matter.start(*frames[0])
    scrap = np.zeros((216, 384), np.float32)
    scrap[10:14, 10:14] = 1.0  # 16 px: under a tenth of the subject
    for i in (24, 25):
        carried = matter._find_if_lost(matter._shrink(frames[i][0]), scrap)
    assert carried[10:14, 10:14].min() == 1.0  # the scrap is kept as it was
    assert iou(carried, frames[25][1].astype(np.float32)) > 0.7  # and the subject is found


def test_a_body_that_comes_to_touch_the_subject_later_stays_out_of_its_matte():
    """../shared/media/dog.mp4 clicked at frame 150: the woman bends down and hands the dog its
    ball; the matte took her arm, then all of her. A body off the plate that reaches far beyond the
    subject's reach is another body, and is followed as one from then on."""
    import cv2

    scene = media.still_scene()

    def frame_at(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame, subject, body = scene.copy(), np.zeros((216, 384), np.uint8), np.zeros((216, 384), np.uint8)
        cv2.ellipse(subject, (230 + i % 4, 150), (32, 22), 0, 0, 360, 1, -1)
        frame[subject > 0] = (225, 222, 215)
        if 10 <= i < 20:  # a person in a pale top, right beside it, an arm reaching it
            cv2.rectangle(body, (140, 30), (185, 210), 1, -1)
            cv2.rectangle(body, (185, 140), (200, 152), 1, -1)
            frame[body > 0] = (215, 212, 205)
        return frame, subject, body

    frames = [frame_at(i) for i in range(24)]
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([f for f, _, _ in frames[::2]])
    matter.start(frames[0][0], frames[0][1])
    for i in range(1, 24):
        frame, subject, body = frames[i]
        alpha = matter.step(frame)
        if body.any():
            assert (alpha[body > 0] > 0.5).mean() < 0.05, i  # 0.97 of her by frame 18 before
        assert iou(alpha, subject.astype(np.float32)) > 0.9, i


def test_the_backgrounds_own_shimmer_beside_the_subject_stays_out_of_its_matte():
    """Grass in the wind differs from the still camera's plate by a few levels, frame after frame.
    Against a dark subject the edge solve reads that as 3-8 % subject; where it joined the band
    beside the edge, a haze of alpha 0.05-0.2 ringed the subject (../shared/media/juggle.mp4 and
    dog.mp4, up to 40 px out at 720p). Only what is clearly part subject at tracking size joins it."""
    import cv2

    scene = media.still_scene()
    subject = np.zeros((216, 384), np.uint8)
    cv2.ellipse(subject, (190, 110), (26, 60), 0, 0, 360, 1, -1)

    def frame_at(i: int) -> np.ndarray:
        wind = cv2.GaussianBlur(np.random.default_rng(100 + i).normal(0, 1, (216, 384)).astype(np.float32), (0, 0), 1.5)
        frame = scene + (wind * (4.0 / wind.std()))[..., None]
        frame[subject > 0] = (47, 51, 64)  # navy trousers
        return np.clip(frame, 0, 255).astype(np.uint8)

    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([scene] * 8)  # a still camera whose plate is the scene itself
    matter.start(frame_at(0), subject)
    beside = (cv2.dilate(subject, np.ones((7, 7), np.uint8)) == 0) & (cv2.dilate(subject, np.ones((61, 61), np.uint8)) > 0)
    for i in range(1, 8):
        alpha = matter.step(frame_at(i))
        assert iou(alpha, subject.astype(np.float32)) > 0.95, i
    assert alpha[beside].mean() < 0.001, alpha[beside].mean()  # 0.0031 before, 0.0004 now


def test_a_background_a_few_levels_off_its_plate_is_no_veil_beside_a_subject_of_a_near_colour():
    """A subject only about 30 grey levels from its background (a face before foliage), the
    background a few levels off its plate each frame (noise, compression): the low-resolution solve
    read those levels as 10-30 % subject, they joined the band, and carried frame to frame they
    grew into a veil (../shared/media/dog.mp4, beside the woman's head at frames 120-135). Those
    first levels are not counted there (``full_edges._BAND_NOISE``)."""
    import cv2

    rng = np.random.default_rng(1)
    base = np.full((180, 320, 3), (95, 110, 80), np.float32)
    base += cv2.GaussianBlur(rng.normal(0, 12, base.shape).astype(np.float32), (0, 0), 1.2)
    frames, masks = [], []
    for i in range(40):
        mask = np.zeros((180, 320), np.uint8)
        cv2.circle(mask, (110 + i, 90), 40, 1, -1)  # moving slowly right
        frame = base + rng.normal(0, 5.0, base.shape).astype(np.float32)
        frame[mask > 0] = np.float32((120, 125, 100)) + rng.normal(0, 2, (np.count_nonzero(mask), 3))
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        masks.append(mask > 0)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare(frames[::2])
    matter.start(frames[0], masks[0])
    veiled = []
    for frame, mask in zip(frames[1:], masks[1:], strict=True):
        alpha = matter.step(frame)
        out = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        veiled.append(np.mean(alpha[(out > 4) & (out < 30)] > 0.05))
        assert iou(alpha, mask.astype(np.float32)) > 0.9
    assert max(veiled) < 0.03, max(veiled)  # 0.073 before, 0.008 now: share of a ring 4-30 px out


def test_grass_uncovered_where_the_plate_learnt_a_passing_thing_is_not_the_subject():
    """../shared/media/juggle.mp4 clicked on his shirt: his white shoes and the ball are not the
    subject, and where his ghost made the median unknown the plate learnt them as background. When a
    shoe moved off, the grass it uncovered differed from that plate; beside his legs, where the
    matte had spilt, it was taken in and carried to the end. A learnt plate colour's "subject" is
    doubted where the colours clearly say background; the median's is not."""
    import cv2

    scene = media.still_scene()
    frame, subject = scene.copy(), np.zeros((216, 384), np.uint8)
    cv2.rectangle(subject, (130, 50), (170, 200), 1, -1)
    frame[subject > 0] = (40, 45, 70)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([scene] * 8)
    matter.start(frame, subject)
    spot = (slice(120, 140), slice(171, 191))  # beside the subject
    median = matter.plate.from_median.copy()
    median[spot] = False  # the white shoe, learnt there
    for from_median, most in ((median, 0.1), (np.ones_like(median), 1.0)):
        matter.start(frame, subject)
        matter.plate.image[spot] = matter.plate.full[spot] = (235, 235, 235)
        matter.plate.from_median = from_median
        matter.prev_alpha[spot] = 0.6  # the matte spilt there a frame ago (a leg that moved off)
        for _ in range(3):
            alpha = matter.step(frame)
            assert alpha[subject > 0].min() > 0.99
        assert alpha[spot].mean() < most, (most, alpha[spot].mean())  # 0.68 when the plate is believed
    assert alpha[spot].mean() > 0.5  # ... the median's colour is believed (the same spot, a median plate)


def test_subject_colours_inside_the_mask_are_not_read_as_the_plate():
    """../shared/media/dog.mp4: white legs over pale concrete. Where the carried matte came partly
    transparent (fast legs, motion blur), a leg's pixel matches the plate as well as it matches the
    subject's white, and the solve against the plate read it as background; carried on, the holes
    spread each frame until half the dog was see-through. Inside the tracking mask a colour of the
    subject's own palette is taken as the subject."""
    import cv2

    rng = np.random.default_rng(3)
    concrete = np.float32((225, 223, 217))
    mask = np.zeros((360, 640), np.uint8)
    cv2.ellipse(mask, (320, 180), (110, 60), 0, 0, 360, 1, -1)
    legs = np.zeros_like(mask)
    for x in (250, 290, 350, 390):
        legs[200:300, x - 8:x + 8] = 1
    mask |= legs
    frame = concrete + rng.normal(0, 2, (360, 640, 3))
    frame[mask > 0] = (185, 165, 140)  # a tan body ...
    frame[legs > 0] = concrete + 8  # ... on white legs, a shade off the concrete
    frame = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([np.clip(concrete + rng.normal(0, 2, (360, 640, 3)), 0, 255).astype(np.uint8)] * 8)
    matter.start(frame, mask)
    matter.plate.valid[:] = 1.0  # the concrete under the dog was seen in other frames
    fg = cv2.resize(mask, (384, 216), interpolation=cv2.INTER_NEAREST) > 0
    alpha = matter._finish(frame, matter._shrink(frame), fg, matter._roi(fg), carried=fg * np.float32(0.7))
    leg_middles = cv2.erode(legs, np.ones((5, 5), np.uint8))
    leg_middles[:240] = 0
    assert alpha[leg_middles > 0].mean() > 0.85  # 0.70 when the solve was believed
    assert alpha[(cv2.erode(mask, np.ones((9, 9), np.uint8)) > 0) & (legs == 0)].min() > 0.95
    assert alpha[cv2.dilate(mask, np.ones((9, 9), np.uint8)) == 0].max() < 0.15


def _floor_and_dog(x: int, grey_front: bool = False, texture: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pale floor 640x360 (a still camera; ``texture``: its grain) and a four-legged subject centred at ``x``,
    brown, or with its front half a smooth neutral grey (the floor darkened evenly, as a shadow
    is): the frame without the shadow, the subject's mask, and the soft shadow under it (0..1)."""
    import cv2

    rng = np.random.default_rng(4)
    floor = np.float32((200, 198, 192)) + cv2.GaussianBlur(rng.normal(0, texture, (360, 640, 3)).astype(np.float32), (0, 0), 2)
    mask = np.zeros((360, 640), np.uint8)
    cv2.ellipse(mask, (x, 170), (80, 45), 0, 0, 360, 1, -1)
    for leg in (x - 50, x - 20, x + 25, x + 55):
        mask[180:262, leg - 7:leg + 7] = 1
    frame = floor.copy()
    frame[mask > 0] = (np.float32((150, 95, 60)) + rng.normal(0, 12, (360, 640, 3)).astype(np.float32))[mask > 0]
    if grey_front:
        front = (mask > 0) & (np.arange(640) > x)[None]
        frame[front] = (120, 119, 116)
    shadow = np.zeros((360, 640), np.uint8)
    cv2.ellipse(shadow, (x + 30, 262), (110, 18), 0, 0, 360, 1, -1)
    return np.clip(frame, 0, 255).astype(np.uint8), mask, cv2.GaussianBlur(shadow.astype(np.float32), (0, 0), 4)


def test_the_subjects_shadow_stays_out_of_its_matte_but_its_own_grey_does_not():
    """../shared/media/dog.mp4: the dog's shadow on the concrete differs from the plate as clearly
    as the dog does, and beside its feet it was taken in: a grey haze of concrete under the dog in
    every frame. A shadow is the plate darkened evenly and smoothly; where nothing of the subject is
    carried (or the last frame had the shadow there), it is background. A smooth grey part of the
    subject looks the same on a grey floor, and is kept: it is carried."""
    import cv2

    frame, mask, soft = _floor_and_dog(320)
    shaded = np.clip(frame * (1.0 - 0.45 * soft)[..., None], 0, 255).astype(np.uint8)
    shaded[mask > 0] = frame[mask > 0]
    beside = (soft > 0.5) & (cv2.dilate(mask, np.ones((11, 11), np.uint8)) == 0)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([frame] * 8)
    matter.start(frame, mask)
    for _ in range(8):  # the sun comes out: the subject's shadow falls beside its feet
        alpha = matter.step(shaded)
        assert alpha[beside].mean() < 0.45  # 0.84-0.88 when the plate's "differs" was believed
        assert alpha[cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0].mean() > 0.99

    frames = [_floor_and_dog(200 + 6 * i, grey_front=True, texture=0.0) for i in range(12)]  # a smooth floor
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([_floor_and_dog(2000, texture=0.0)[0]] * 8)  # the floor (the subject out of the frame)
    matter.start(frames[0][0], frames[0][1])
    for frame, mask, _ in frames[1:]:
        alpha = matter.step(frame)
        assert alpha[cv2.erode(mask, np.ones((7, 7), np.uint8)) > 0].mean() > 0.97
    front = cv2.resize((frame == (120, 119, 116)).all(axis=2).astype(np.float32), (384, 216),
                       interpolation=cv2.INTER_AREA) > 0.99
    whole = (slice(0, 216), slice(0, 384))
    small = matter._shrink(frame)
    looks = matter.plate.shadow(small, whole, matter.plate.stands_out(small, whole) > 0)
    assert looks[front].mean() > 0.8  # it does look like one


def _body_and_head(x: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The still scene at 640x360 and a subject centred at ``x``: a tan body, and a small head with
    a red ball beside it, joined by a neck of the background's own colour (a white neck over pale
    concrete); on its other side a fleck of sunlight on the ground that the mask took in too: the
    frame, the subject's mask (neck and fleck included), the head's and the fleck's masks."""
    import cv2

    frame = cv2.resize(media.still_scene(), (640, 360), interpolation=cv2.INTER_LINEAR)
    body, head, neck = (np.zeros((360, 640), np.uint8) for _ in range(3))
    cv2.ellipse(body, (x, 200), (90, 50), 0, 0, 360, 1, -1)
    cv2.circle(head, (x - 120, 150), 17, 1, -1)
    cv2.line(neck, (x - 105, 160), (x - 80, 175), 1, 9)
    rng = np.random.default_rng(6)  # a coat of many browns: the palette's colours are the coat's
    coat = np.float32((170, 130, 95)) + rng.normal(0, 22, (360, 640, 1)) + rng.normal(0, 8, (360, 640, 3))
    frame[body > 0] = np.clip(coat, 0, 255).astype(np.uint8)[body > 0]
    frame[head > 0] = (225, 220, 210)
    ball = np.zeros_like(head)
    cv2.circle(ball, (x - 128, 156), 7, 1, -1)
    frame[ball > 0] = (200, 40, 30)
    fleck = np.zeros_like(head)  # a fleck of sunlight on the ground beside it, taken into the mask
    cv2.circle(fleck, (x + 112, 232), 11, 1, -1)
    cv2.line(neck, (x + 100, 228), (x + 85, 222), 1, 7)
    frame[fleck > 0] = np.clip(frame[fleck > 0].astype(np.int16) + (70, 70, 20), 0, 255).astype(np.uint8)
    return frame, body | head | neck | fleck, head, fleck


def test_a_small_part_the_subject_sheds_near_it_stays_with_a_still_camera():
    """../shared/media/dog.mp4, frame 244: the dog turns its head fast; its white neck matches the
    concrete, the matte's link to the head broke, and the head with the ball, a separate part under
    15 % of the body's size, was dropped for good as an island. With a still camera a small part
    near the subject that the plate says is not the background, and of the subject's colours, is
    the subject's; a fleck of light beside it, unlike any of them, is not (juggle.mp4: sunlit bark
    kept beside the player)."""
    import cv2

    frames = [_body_and_head(300 + 4 * i) for i in range(10)]
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([cv2.resize(media.still_scene(), (640, 360), interpolation=cv2.INTER_LINEAR)] * 8)
    matter.start(*frames[0][:2])
    for frame, mask, head, fleck in frames[1:]:
        alpha = matter.step(frame)
        assert alpha[head > 0].mean() > 0.8, alpha[head > 0].mean()  # 0.0 when dropped as an island
        assert alpha[fleck > 0].mean() < 0.1, alpha[fleck > 0].mean()
        assert alpha[mask == 0].mean() < 0.01


def test_a_grainy_clip_is_tracked_on_smoothed_frames():
    """A dark phone clip's sensor noise reads, at tracking size still, as the subject here and there:
    specks of background taken in and a ragged edge (../shared/media/juggle.mp4 darkened, noise added:
    IoU 0.88 against the clean clip's matte from the same mask). A grainy clip's tracking frames are
    smoothed (the plate's samples alike); a clean one's are left as they are."""
    rng = np.random.default_rng(0)
    clip = make_clip("static", 640, 360, 30, seed=21)
    frames, alphas = [], []
    for rgb, alpha in clip.frames():
        frames.append(np.clip(rgb + rng.normal(0, 25, (360, 640, 1)), 0, 255).astype(np.uint8))  # in brightness
        alphas.append(alpha)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare(frames[::3])
    out = [matter.start(frames[0], alphas[0] > 0.5)] + [matter.step(f) for f in frames[1:]]
    assert matter.grain_px > 1.0
    scores = [iou(o, a) for o, a in zip(out, alphas, strict=True)]
    mad = np.mean([np.abs(o - a).mean() for o, a in zip(out, alphas, strict=True)]) * 1000
    assert min(scores) > 0.87 and mad < 13.5, (min(scores), mad)  # 0.853 and 14.6 unsmoothed; 0.886, 12.4
    clean = EmbeddedMatter(PRESETS["balanced"])
    clean.prepare([rgb for rgb, _ in make_clip("static", 640, 360, 6, seed=21).frames()])
    assert clean.grain_px == 0.0


@functools.lru_cache(maxsize=1)
def _holes_in_someone_on_the_spot() -> tuple[int, ...]:
    """bench.synthetic's ``linger`` clip (someone who stays on the spot, swaying, a white ball
    bouncing just beside them), matted from the first frame's mask: per frame of the first 32, the
    pixels of the 9-px-eroded subject that the matte has under 0.5."""
    import cv2

    clip = make_clip("linger", 640, 360, frames=60, seed=21)
    matter = EmbeddedMatter(PRESETS["balanced"])
    matter.prepare([clip.frame(i)[0] for i in range(0, 60, 4)])
    holes = []
    for i in range(32):
        frame, true = clip.frame(i)
        alpha = matter.start(frame, true >= 0.5) if i == 0 else matter.step(frame)
        inner = cv2.erode((true >= 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        holes.append(int(np.count_nonzero(alpha[inner] < 0.5)))
    return tuple(holes)


def test_the_medians_ghost_of_a_subject_on_the_spot_is_not_taken_for_the_background_beside_it():
    """Someone who stays on the spot: in most of the clip's samples the head sways a little off where
    it is at the prompt frame, so beside it there the median shows the head's own dark hair. Taken
    for the background, the plate matched the hair when the head swayed back over it, and the hair
    there was matted out: a hole in the head from frame 10 that grew to 250 px by frame 30 on the
    code before. Beside the subject at the prompt frame, a median of the subject's own colours where
    the frame shows another colour is the subject's ghost, not the background."""
    holes = _holes_in_someone_on_the_spot()
    assert max(holes[12:]) <= 10, holes


def test_a_ball_bouncing_past_a_still_shoulder_does_not_drag_it_off():
    """The white ball bounces up past the same subject's shoulder at frames 2-8: the flow gave the
    shoulder's still edge the ball's motion, the matte carried there came from where the ball had
    been, and with the plate unknown beside someone on the spot the colours could not win it back
    (11-650 px of the interior lost a frame on the code before, now at most 41). Where a pixel has
    not changed since the last frame but the flow's prediction of it missed, the flow is wrong
    there, and its matte holds."""
    holes = _holes_in_someone_on_the_spot()
    assert max(holes[1:12]) <= 60, holes
