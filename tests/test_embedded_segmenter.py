"""EmbeddedSegmenter: click/box/mask prompts -> a usable mask, fast, with coded errors for bad input.

The floors below are regression guards set a margin under what the segmenter reaches today
(figures in the comments), measured on scenes whose true mask is known.
"""

from __future__ import annotations

import time

import cv2
import media
import numpy as np
import pytest

from bench.metrics import iou
from bench.synthetic import make_clip
from core.exceptions import EmptyMaskError, MaskSizeError, NoPromptError, PointOutOfFrameError, PromptError
from core.prompts import segment_by_steps
from models.base import FrameList, ObjectPrompt
from models.embedded.plate import still_background
from models.embedded.seg_candidates import box_touch, candidate_boxes
from models.embedded.seg_cut import Crop, clean_mask
from models.embedded.seg_motion import attached_parts, exposure_gain
from models.embedded.seg_saliency import saliency
from models.embedded_segmenter import EmbeddedSegmenter


@pytest.fixture(scope="module")
def scene():
    clip = make_clip("static", 640, 360, frames=60, seed=1)
    frame, alpha = clip.frame(0)
    return frame, alpha, clip.point


def test_single_click_finds_subject(scene):
    frame, alpha, point = scene
    seg = EmbeddedSegmenter()
    seg.set_image(frame)
    res = seg.segment(ObjectPrompt(points=[point], labels=[1]))
    assert res.mask.dtype == bool and res.mask.shape == alpha.shape
    assert iou(res.mask, alpha) >= 0.75  # 0.80 today: two background shapes touching the head join it
    assert 0.0 <= res.score <= 1.0


def test_mean_single_click_iou_on_synthetic_scenes():
    """Eight scenes (still and panning backgrounds), one click each where a person would click."""
    ious = []
    for seed in range(8):
        clip = make_clip("static" if seed % 2 == 0 else "pan", 640, 360, frames=30, seed=seed)
        frame, alpha = clip.frame(0)
        seg = EmbeddedSegmenter()
        seg.set_image(frame)
        ious.append(iou(seg.segment(ObjectPrompt(points=[clip.point], labels=[1])).mask, alpha))
    # Today: mean 0.89, worst 0.77 (the previous segmenter: 0.89 / 0.75 on these eight).
    assert np.mean(ious) >= 0.85, ious
    assert min(ious) >= 0.70, ious


def test_box_prompt_and_refining_click(scene):
    frame, alpha, point = scene
    ys, xs = np.nonzero(alpha > 0.5)
    box = (xs.min() - 8.0, ys.min() - 8.0, xs.max() + 8.0, float(alpha.shape[0] - 1))
    seg = EmbeddedSegmenter()
    seg.set_image(frame)
    res = seg.segment(ObjectPrompt(box=box))
    # Floor for regressions: box prompts reach ~0.75-0.93 IoU on these scenes (hair is the hard part).
    assert iou(res.mask, alpha) >= 0.7
    again = seg.segment(ObjectPrompt(points=[point, (5, 5)], labels=[1, 0]), previous=res)
    assert iou(again.mask, alpha) >= 0.7
    assert not again.mask[5, 5]


def test_mask_prompt_is_cleaned(scene):
    frame, alpha, _ = scene
    noisy = alpha > 0.5
    noisy[5:7, 5:7] = True  # a speck far away
    seg = EmbeddedSegmenter()
    seg.set_image(frame)
    res = seg.segment(ObjectPrompt(mask=noisy))
    assert not res.mask[5, 5] and iou(res.mask, alpha) > 0.98


def test_speed_at_720p():
    clip = make_clip("pan", 1280, 720, frames=1, seed=2)
    frame, _ = clip.frame(0)
    seg = EmbeddedSegmenter()
    t = time.perf_counter()
    seg.set_image(frame)
    res = seg.segment(ObjectPrompt(points=[clip.point], labels=[1]))
    first = time.perf_counter() - t
    t = time.perf_counter()
    seg.segment(ObjectPrompt(points=[clip.point, (10, 10)], labels=[1, 0]), previous=res)
    second = time.perf_counter() - t
    assert first < 2.0 and second < 2.0  # target 1 s; generous for a shared CI machine


def test_a_further_click_on_a_4k_frame_is_answered_in_well_under_a_second_or_two():
    """Each further click grows the mask shown by a click's reach (8 % of the short side) to tell a
    missed part from another thing; as a dilation by that disc it took 6 s on a 4K frame (0.1 s at
    720p), at every click. A distance transform gives the same pixels (within the disc's raster) in
    0.13 s."""
    clip = make_clip("pan", 1280, 720, frames=1, seed=2)
    frame, _ = clip.frame(0)
    big = cv2.resize(frame, (3840, 2160), interpolation=cv2.INTER_LINEAR)
    point = (clip.point[0] * 3, clip.point[1] * 3)
    seg = EmbeddedSegmenter()
    seg.set_image(big)
    res = seg.segment(ObjectPrompt(points=[point], labels=[1]))
    t = time.perf_counter()
    seg.segment(ObjectPrompt(points=[point, (30, 30)], labels=[1, 0]), previous=res)
    assert time.perf_counter() - t < 2.0  # 6.4 s before (a 4K dog.mp4: 0.4 s now)
    from models.embedded.seg_cut import grown

    mask = np.zeros((300, 400), bool)
    mask[100:180, 150:220] = True
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * 24 + 1,) * 2)
    dilated = cv2.dilate(mask.view(np.uint8), disc) > 0
    assert np.count_nonzero(grown(mask, 24) != dilated) <= 0.002 * np.count_nonzero(dilated)
    assert not grown(np.zeros((5, 5), bool), 3).any()


def test_bad_prompts_give_coded_errors(scene):
    frame, alpha, _ = scene
    seg = EmbeddedSegmenter()
    with pytest.raises(PromptError):
        seg.segment(ObjectPrompt(points=[(1, 1)], labels=[1]))  # no image yet
    seg.set_image(frame)
    with pytest.raises(PointOutOfFrameError):
        seg.segment(ObjectPrompt(points=[(9999, 1)], labels=[1]))
    with pytest.raises(NoPromptError):
        seg.segment(ObjectPrompt())
    with pytest.raises(NoPromptError):
        seg.segment(ObjectPrompt(points=[(10, 10)], labels=[0]))
    with pytest.raises(MaskSizeError):
        seg.segment(ObjectPrompt(mask=np.ones((10, 10), bool)))
    with pytest.raises(EmptyMaskError):
        seg.segment(ObjectPrompt(mask=np.zeros(alpha.shape, bool)))
    with pytest.raises(PromptError) as err:
        seg.segment(ObjectPrompt(box=(50, 50, 10, 10)))
    assert err.value.code.startswith("E2") and err.value.hint


def test_clean_mask_removes_specks_and_fills_holes():
    m = np.zeros((100, 100), bool)
    m[20:80, 20:80] = True
    m[50, 50] = False  # pin-hole
    m[2, 2] = True  # speck
    out = clean_mask(m)
    assert out[50, 50] and not out[2, 2] and out[30, 30]


def person_with_ball(seed: int = 0, w: int = 640, h: int = 360) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A person (dark clothes, skin head) holding a white ball on textured grass: image, person, ball."""
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((h // 8, w // 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (70, 120, 50)
    img *= (0.7 + 0.6 * noise)[..., None]
    img += rng.normal(0, 4, img.shape)
    person, head, ball = (np.zeros((h, w), np.uint8) for _ in range(3))
    cv2.ellipse(person, (320, 250), (55, 110), 0, 0, 360, 1, -1)
    cv2.rectangle(person, (308, 125), (332, 150), 1, -1)
    cv2.circle(head, (320, 110), 32, 1, -1)
    cv2.circle(ball, (262, 230), 26, 1, -1)
    person |= head
    for region, colour in ((person, (40, 50, 110)), (head, (150, 100, 80)), (ball, (235, 235, 230))):
        img[region > 0] = np.array(colour, np.float32) + rng.normal(0, 5, (int(region.sum()), 3))
    img = cv2.GaussianBlur(np.clip(img, 0, 255), (3, 3), 0).astype(np.uint8)
    return img, person.astype(bool) & ~ball.astype(bool), ball.astype(bool)


def test_click_gets_whole_person_and_negative_click_removes_held_ball():
    img, person, ball = person_with_ball()
    seg = EmbeddedSegmenter()
    seg.set_image(img)
    res = seg.segment(ObjectPrompt(points=[(330, 260)], labels=[1]))
    assert iou(res.mask, person | ball) >= 0.9  # 0.99 today: head and body, not only the clicked clothes
    res = seg.segment(ObjectPrompt(points=[(330, 260), (262, 230)], labels=[1, 0]), previous=res)
    assert iou(res.mask, person) >= 0.9  # 0.99 today
    assert (res.mask & ball).sum() <= 0.15 * ball.sum()  # 0.05 today


def test_every_positive_click_is_kept():
    """Clicks on two separate things: both end up in the mask, even when a cut would drop one."""
    img, person, ball = person_with_ball(seed=3)
    far = np.zeros(person.shape, bool)
    cv2.circle(img, (560, 80), 20, (200, 40, 40), -1)  # a red disc far from the person
    cv2.circle(far.view(np.uint8), (560, 80), 20, 1, -1)
    seg = EmbeddedSegmenter()
    seg.set_image(img)
    clicks = [(330, 260), (560, 80)]
    res = seg.segment(ObjectPrompt(points=clicks, labels=[1, 1]))
    assert all(res.mask[y, x] for x, y in clicks)
    assert (res.mask & person).sum() >= 0.8 * person.sum()


def test_refining_click_keeps_the_subject_and_is_quick(scene):
    frame, alpha, point = scene
    seg = EmbeddedSegmenter()
    seg.set_image(frame)
    first = seg.segment(ObjectPrompt(points=[point], labels=[1]))
    t = time.perf_counter()
    ys, xs = np.nonzero(alpha > 0.9)
    extra = (int(xs[len(xs) // 3]), int(ys[len(ys) // 3]))
    again = seg.segment(ObjectPrompt(points=[point, extra], labels=[1, 1]), previous=first)
    took = time.perf_counter() - t
    assert again.mask[extra[1], extra[0]]
    assert iou(again.mask, alpha) >= iou(first.mask, alpha) - 0.05
    assert took < 1.0  # ~0.1 s on an idle core: it refines the last mask instead of starting again


def test_saliency_marks_enclosed_objects_not_background():
    img = np.full((90, 160, 3), (90, 140, 70), np.uint8)
    cv2.circle(img, (80, 45), 15, (220, 60, 60), -1)
    cv2.rectangle(img, (0, 70), (160, 90), (120, 120, 120), -1)  # a band joined to the frame's edges
    sal = saliency(img)
    assert sal[45, 80] > 0.8
    assert sal[10, 10] < 0.05 and sal[80, 50] < 0.3


def test_candidate_boxes_cover_clicks_and_touch_measures_cut_off_subjects():
    boxes = candidate_boxes([(600.0, 420.0)], 1280, 720)
    assert len(boxes) >= 8 and len(set(boxes)) == len(boxes)
    assert all(x0 <= 600 < x1 and y0 <= 420 < y1 for x0, y0, x1, y1 in boxes)
    assert any(b == (0, 0, 1280, 720) or (b[1] == 0 and b[3] == 720) for b in boxes)  # snapped to the edges
    frame = np.zeros((200, 200, 3), np.uint8)
    crop = Crop.of(frame, (0, 0, 200, 200), 200)
    box = (50, 50, 150, 150)
    inside = np.zeros((200, 200), bool)
    inside[80:120, 80:120] = True
    assert box_touch(inside, crop, box, (200, 200)) == 0.0
    cut_off = np.zeros((200, 200), bool)
    cut_off[60:150, 80:120] = True  # runs into the box's bottom edge
    assert box_touch(cut_off, crop, box, (200, 200)) > 0.05


def _click(frame: np.ndarray, point, clip_frames=None) -> np.ndarray:
    seg = EmbeddedSegmenter()
    seg.set_image(frame)
    seg.use_clip(None if clip_frames is None else FrameList(clip_frames))
    return seg.segment(ObjectPrompt(points=[point], labels=[1])).mask


def test_a_click_on_a_pale_dog_takes_the_whole_dog_that_moves():
    """White fur on a pale pavement: colours alone find only the brown patch under the click;
    with the clip (a still camera), the whole thing that moves against the background is taken."""
    frames, masks, click = media.pale_dog_frames()
    assert iou(_click(frames[0], click), masks[0]) < 0.3  # 0.12: the patch alone
    assert iou(_click(frames[0], click, frames[::2]), masks[0]) >= 0.95  # 1.0
    x, y = click  # later in the clip the dog has walked 144 px on
    assert iou(_click(frames[12], (x + 144, y), frames[::2]), masks[12]) >= 0.95


def test_a_click_on_a_grainy_picture_finds_the_subject():
    """An animated GIF's dither (64 colours, scattered at random) breaks every region up pixel by
    pixel: a click on the torso came back as the click's own 13-pixel dot. The segmenter cuts on the
    picture with its grain smoothed (core/grain.py)."""
    frames, masks, click = media.dithered_frames()
    assert iou(_click(frames[0], click), masks[0]) >= 0.9  # 0.002 before


def test_the_clip_leaves_a_click_alone_when_the_cut_found_a_whole_subject():
    """The synthetic scenes' subjects are found whole by the cut; where one lingered, the median
    shows it and the background it left differs too: that ghost must not be added, nor the pockets
    of background between the strands of hair that move (``seg_motion.moved_regions``). The clip
    may add a little where it shows more of the subject, nothing where the true alpha is low."""
    for seed in (0, 2, 4, 6, 11, 12):
        clip = make_clip("static", 640, 360, frames=60, seed=seed)
        frame, alpha = clip.frame(0)
        samples = [clip.frame(i)[0] for i in range(0, 60, 4)]
        alone, looked = _click(frame, clip.point), _click(frame, clip.point, samples)
        # 2704 px of seed 6 (12 %), 1362 of seed 12 (6 %), most of them background among the strands,
        # when a faint moving part's region could be small, 60 % moving or bigger than it; seed 11's
        # pockets between strands, 671 px (2.9 %), when it could be thin (now 266 px, 1.2 %)
        assert (looked & ~alone & (alpha < 0.5)).sum() <= 0.02 * alone.sum(), seed
        assert (alone & ~looked).sum() <= 0.001 * alone.sum(), seed  # an outline pixel here and there


def test_moving_parts_attached_to_the_cut_are_added_but_not_ghosts_shadows_or_other_bodies():
    """White shoes on a lawn, which the colour cut left out (../shared/media/juggle.mp4 from a click
    on the shirt), differ from a still camera's background and hang on to the cut: added. Not added:
    the subject's shadow, a "ghost" (the background shows a shoe where the person stood most of the
    time, the lawn shows there now), a strand of hair only half as unlike the background, and
    another person touching the subject."""
    rng = np.random.default_rng(2)
    h, w = 270, 480
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2)[..., None]
    lawn = np.float32([70, 110, 40]) + 20 * noise
    cv2.rectangle(lawn, (40, 229), (260, 270), (215, 220, 195), -1)  # a sunlit patch the shadow falls on
    background = lawn.copy()
    cv2.ellipse(background, (173, 214), (12, 5), 0, 0, 360, (235, 235, 230), -1)  # the ghost of a shoe
    frame = lawn.copy()
    body = np.zeros((h, w), np.uint8)
    cv2.rectangle(body, (120, 60), (160, 220), 1, -1)
    frame[body > 0] = (40, 45, 70)
    shadow = np.zeros((h, w), np.uint8)
    cv2.ellipse(shadow, (140, 240), (45, 10), 0, 0, 360, 1, -1)
    shadow &= 1 - body
    frame[shadow > 0] *= 0.5
    shoes = np.zeros((h, w), np.uint8)
    for x in (128, 152):
        cv2.ellipse(shoes, (x, 224), (11, 6), 0, 0, 360, 1, -1)
    shoes &= 1 - body
    frame[shoes > 0] = (240, 240, 236)
    hair = np.zeros((h, w), np.uint8)
    cv2.rectangle(hair, (125, 45), (155, 59), 1, -1)
    frame[hair > 0] = 0.55 * frame[hair > 0] + 0.45 * np.float32([200, 170, 60])
    other = np.zeros((h, w), np.uint8)
    cv2.rectangle(other, (161, 70), (200, 190), 1, -1)
    frame[other > 0] = (230, 225, 215)
    image = np.clip(frame, 0, 255).astype(np.uint8)
    cut = body > 0
    parts = attached_parts(image, background, cut)
    assert parts is not None
    assert np.count_nonzero(parts & (shoes > 0)) >= 0.8 * np.count_nonzero(shoes)
    for name, region in (("shadow", shadow), ("hair", hair), ("other body", other)):
        assert np.count_nonzero(parts & (region > 0)) <= 0.05 * np.count_nonzero(region), name
    assert not parts[210:219, 162:186].any()  # the ghost
    assert np.count_nonzero(parts & ~(shoes > 0)) <= 0.1 * np.count_nonzero(shoes)


def test_a_moving_camera_gives_no_background_to_compare_with():
    clip = make_clip("pan", 640, 360, frames=30, seed=1)
    frame, _ = clip.frame(0)
    samples = FrameList([clip.frame(i)[0] for i in range(0, 30, 3)])
    assert still_background(samples) is None
    assert np.array_equal(_click(frame, clip.point), _click(frame, clip.point, samples.frames))


def test_a_clip_that_fails_to_decode_further_on_still_gets_its_click_answered():
    from core.exceptions import TruncatedMediaError

    class Broken(FrameList):
        def spread(self):
            raise TruncatedMediaError("frame 200 cannot be decoded")

    frames, _, click = media.pale_dog_frames()
    seg = EmbeddedSegmenter()
    seg.set_image(frames[0])
    seg.use_clip(Broken(frames[:2]))
    assert np.array_equal(seg.segment(ObjectPrompt(points=[click], labels=[1])).mask, _click(frames[0], click))


def test_a_further_click_adds_and_takes_nothing_away():
    """The studio's example photo (assets/examples): a dog of white and brown fur on a pale
    pavement. The first click (brown fur) gives part of the back; a second on a white leg below it
    must keep that and add, not leave a few pixels (before: 42 px of 3092, the refining cut's
    colour model having taken in the pavement)."""
    from pathlib import Path

    photo = Path(__file__).resolve().parents[1] / "assets" / "examples" / "dog-photo.jpg"
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    seg = EmbeddedSegmenter()
    seg.set_image(image)
    back, leg = (1080, 430), (1100, 500)
    shown = seg.segment(ObjectPrompt(points=[back], labels=[1]))
    first = shown.mask
    second = seg.segment(ObjectPrompt(points=[back, leg], labels=[1, 1]), previous=shown).mask
    assert first.sum() >= 2000  # 3092
    assert (second & first).sum() >= 0.9 * first.sum()  # all of it today
    assert second[leg[1], leg[0]] and second.sum() <= 20 * first.sum()  # 4057: not the pavement


def _example_clip_segmenter(samples=None) -> EmbeddedSegmenter:
    """The embedded segmenter on the studio's example clip's first frame (assets/examples/dog.mp4),
    looking at the clip through ``samples`` when given (``_example_clip_samples``)."""
    import av

    with av.open(str(_example_clip())) as container:
        image = next(container.decode(video=0)).to_ndarray(format="rgb24")
    seg = EmbeddedSegmenter()
    seg.use_clip(samples)
    seg.set_image(image)
    return seg


def _example_clip():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "assets" / "examples" / "dog.mp4"


def _example_clip_samples():
    """The example clip's samples from frame 0, as the studio and a job look at it (close them after)."""
    from core.clip_samples import ClipSamples
    from core.video_io import probe

    info = probe(_example_clip())
    return ClipSamples(_example_clip(), info, 0, info.frame_count)


def test_what_a_click_added_stays_through_the_next_clicks():
    """The studio's example clip (assets/examples/dog.mp4), frame 0: a click on the woman's shirt
    gives her without her head (her brown hair is the brown of the wall behind). A click on her hair
    added it to what the refining cut was given, and the cut dropped it again (5 % of a patch of
    her hair kept, then through two clicks on her shoes). A click takes away nothing but what it
    removes: what was shown and what the click added are held."""
    seg, memo = _example_clip_segmenter(), {}
    shirt, hair_click, shoes = (330, 300), (410, 260), [(280, 535), (395, 525)]
    hair = (slice(230, 290), slice(395, 425))  # a patch of her hair around the second click

    def mask(points: list) -> np.ndarray:
        return segment_by_steps(seg, ObjectPrompt(points=points, labels=[1] * len(points)), memo).mask

    first = mask([shirt])
    assert first[hair].mean() < 0.1  # the cut leaves her hair out
    for clicks in ([shirt, hair_click], [shirt, hair_click, *shoes]):
        later = mask(clicks)
        assert later[hair].mean() > 0.9, len(clicks)  # 0.05 when the cut dropped it
        assert (later & first).sum() >= 0.98 * first.sum()
    assert later.sum() < 1.5 * first.sum()  # not the wall: her head and shoes (1.32 x)


def test_a_click_on_a_missed_forearm_adds_the_arm_not_the_pavement_beside_it():
    """The studio's example clip, frame 0: after clicks on her shirt and a shoe, a click on her shaded
    forearm (missed by the first cut) filled the region of its colour, which a faint edge away runs
    on over the pale pavement and her shirt: the pavement at her feet came into the mask (twice the
    area). The fill now stops before the step where it leaps (870 px of arm, then 17,000)."""
    seg, memo = _example_clip_segmenter(), {}
    clicks = [(330, 300), (285, 540), (420, 410)]
    before = segment_by_steps(seg, ObjectPrompt(points=clicks[:2], labels=[1, 1]), memo).mask
    after = segment_by_steps(seg, ObjectPrompt(points=clicks, labels=[1, 1, 1]), memo).mask
    arm = (slice(400, 420), slice(410, 430))
    pavement = [(slice(550, 600), slice(210, 260)), (slice(500, 530), slice(330, 380))]
    assert before[arm].mean() < 0.3 and after[arm].mean() > 0.5
    for patch in pavement:  # 1.0 each before the fix
        assert after[patch].mean() < 0.1, patch
    assert after.sum() < 1.2 * before.sum()  # 1.9 x before the fix


def test_a_not_subject_click_on_texture_takes_out_the_textured_region_and_not_the_arm_beside_it():
    """The studio's example clip, frame 0: the first cut takes in the gabion wall seen between her
    arm and body, stones of many greys and browns. A 'not subject' click there flooded the click's
    one colour (200 px of stones) and let the cut decide within reach of it: a third of the gap went,
    and in the studio's preview her forearm went with it. The region of the colours of the click's
    patch goes now, and only its outline is left to the cut."""
    seg, memo = _example_clip_segmenter(), {}
    clicks, labels = [(330, 300), (285, 540), (420, 410), (395, 525), (350, 385)], [1, 1, 1, 1, 0]
    before = segment_by_steps(seg, ObjectPrompt(points=clicks[:4], labels=labels[:4]), memo).mask
    after = segment_by_steps(seg, ObjectPrompt(points=clicks, labels=labels), memo).mask
    gap, arm = (slice(375, 395), slice(340, 360)), (slice(400, 420), slice(410, 430))
    assert before[gap].mean() > 0.9 and after[gap].mean() < 0.1  # 0.375 before the fix
    assert after[arm].mean() > 0.9 * before[arm].mean()
    for part in [(slice(400, 440), slice(280, 310)), (slice(280, 320), slice(310, 350))]:  # jeans, shirt
        assert after[part].mean() >= before[part].mean() - 0.01
    assert 0.8 * before.sum() < (after & before).sum() < 0.95 * before.sum()


def test_a_click_away_from_the_mask_takes_the_other_thing_whole():
    """One subject may be two things (her and her dog): a click on the second, well away from the
    mask shown, selects it as a first click would (the whole pale dog that moves), not the patch of
    its colour around the click that a click beside the mask adds (missed hair). The same for a
    correction's click beside a carried matte."""
    frames, masks, click = media.pale_dog_frames()
    person = np.zeros(masks[0].shape, bool)
    person[60:240, 400:440] = True  # a dark figure standing still, far from the dog
    frames = [np.where(person[..., None], np.uint8([40, 50, 120]), f) for f in frames]
    seg = EmbeddedSegmenter()
    seg.set_image(frames[0])
    seg.use_clip(FrameList(frames[::2]))
    first = seg.segment(ObjectPrompt(points=[(420, 150)], labels=[1]))
    assert iou(first.mask, person) >= 0.95
    both = seg.segment(ObjectPrompt(points=[(420, 150), click], labels=[1, 1]), first)
    assert iou(both.mask, person | masks[0]) >= 0.95  # 0.60 before: the dog's brown patch alone
    assert iou(seg.refine(ObjectPrompt(points=[click], labels=[1]), person), person | masks[0]) >= 0.95


def test_a_moving_head_in_the_backgrounds_colours_is_taken_and_the_wall_behind_is_not():
    """A click on the shirt: the cut on colours leaves out the head, whose brown is the wall's; with
    the clip (a still camera) the head differs from the background by 84 levels on average, less
    than a plainly moving part (100), and is taken as a click on it would take it, since the region
    of its colour around it is the part that moved. And the white shirt before the dark hedge does
    not make the frame look brighter than the background: gauged by the frame's mean, it did (x1.31),
    and the whole wall differed by 32 levels and came with the click (IoU 0.31)."""
    frames, masks, click = media.dark_head_frames()
    assert iou(_click(frames[0], click), masks[0]) < 0.85  # 0.80: the shirt alone
    assert iou(_click(frames[0], click, frames[::2]), masks[0]) >= 0.97  # 1.0
    background = frames[1].astype(np.float32)
    brighter = np.clip(background * 1.2, 0, 255)
    brighter[:, :200] = 240  # a white subject over 40 % of the frame
    assert exposure_gain(brighter, background) == pytest.approx(1.2, abs=0.02)


def test_a_change_of_light_halfway_through_the_clip_still_gives_the_still_cameras_background():
    """A phone's exposure follows the scene: here the second half of the clip is 12 % brighter. Its
    samples then agreed with their median too little, the camera was taken to be moving, and the
    click had no background to tell the head by (0.80, the shirt alone). Each sample is now brought
    to one exposure before the median (``plate.even_exposure``)."""
    frames, masks, click = media.dark_head_frames()
    lit = [f if i < 12 else np.clip(f.astype(np.float32) * 1.12, 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    assert iou(_click(lit[0], click, lit[::2]), masks[0]) >= 0.97  # 1.0
    assert iou(_click(lit[20], (click[0] + 160, click[1]), lit[::2]), masks[20]) >= 0.97  # 1.0, at the new light


def test_a_look_at_the_clip_still_running_is_ended_before_the_clip_is_let_go():
    """A box prompt needs no look at the clip, so nothing waited for the one started with it: it went
    on decoding a clip its caller had let go of (a script of the preview API that ended then was
    aborted by the C++ runtime under the decode, exit 134). Letting go of the clip (or taking
    another) now ends the look first."""
    import threading

    frame = np.full((72, 128, 3), 90, np.uint8)
    decoded = threading.Event()

    class SlowClip(FrameList):
        def spread(self):
            time.sleep(0.5)  # decoding frames spread over a clip
            decoded.set()
            return super().spread()

    seg = EmbeddedSegmenter()
    seg.set_image(frame)
    seg.use_clip(SlowClip([frame] * 6))
    seg.segment(ObjectPrompt(points=[], labels=[], box=(30, 20, 90, 60)))  # a box: no look waited for
    seg.use_clip(None)
    assert decoded.is_set()  # the look had finished when the clip was let go
    assert not any(t.name == "segmenter-look" and t.is_alive() for t in threading.enumerate())


def test_background_seen_through_a_moving_subject_is_found_and_a_still_part_of_the_subject_is_not():
    """models/embedded/seg_through.py on a made scene: a pale body that moved bends round a patch of
    the wall behind (the gap a click's cut takes in), and dark legs stand still (they are in the
    clip's background too). Both are still; only the gap has the colours of the wall around the cut."""
    from models.embedded.seg_through import seen_through

    rng = np.random.default_rng(3)
    bh, bw = 135, 240
    wall = np.clip(np.float32([120, 90, 60]) + rng.normal(0, 18, (bh, bw, 3)), 0, 255).astype(np.float32)
    legs = np.zeros((bh, bw), bool)
    legs[80:130, 100:110] = legs[80:130, 125:135] = True
    background = wall.copy()
    background[legs] = (40, 50, 110)  # standing still all through the clip: in its background
    body = np.zeros((bh, bw), bool)
    body[20:80, 90:150] = True
    gap = np.zeros((bh, bw), bool)
    gap[35:65, 115:150] = True  # the body's bay, open to the right: the wall shows through it
    body &= ~gap
    frame = background.copy()
    frame[body] = (225, 220, 210)
    up = (2 * bw, 2 * bh)
    image = cv2.resize(frame.astype(np.uint8), up, interpolation=cv2.INTER_NEAREST)

    def big(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.view(np.uint8), up, interpolation=cv2.INTER_NEAREST) > 0

    cut, moving = big(body | gap | legs), big(body)
    found = seen_through(image, background, cut, moving, [(200, 50)])
    assert found is not None
    assert found[big(gap)].mean() > 0.8
    assert not found[big(legs)].any() and not found[big(body)].any()
    # a click on the gap says it is the subject
    assert seen_through(image, background, cut, moving, [(200, 50), (260, 100)]) is None


def test_the_wall_seen_between_her_arm_and_jeans_stays_out_of_the_mask_click_after_click():
    """The studio's example clip, frame 0, with the clip's look (as the studio and a job have it): a
    click on her shirt took in the gabion wall seen between her forearm and jeans, and it stayed
    through her shoes and forearm (1.0 of the patches below at every click), carried through the clip
    as a brown patch floating beside her. It is found as the still background seen through her now,
    and kept out at the next clicks; the click on a planted shoe (still, pale on a pale pavement)
    still takes the shoe, and a click on the gap brings it back."""
    samples = _example_clip_samples()
    seg, memo = _example_clip_segmenter(samples), {}
    clicks = [(330, 300), (285, 540), (395, 525), (420, 410)]  # shirt, shoes, forearm
    gap = [(slice(380, 395), slice(352, 364)), (slice(365, 380), slice(345, 360)), (slice(395, 410), slice(365, 378))]
    shoes, arm = [(slice(525, 545), slice(265, 300)), (slice(515, 535), slice(380, 405))], (slice(400, 420), slice(410, 430))
    try:
        for k in range(1, len(clicks) + 1):
            mask = segment_by_steps(seg, ObjectPrompt(points=clicks[:k], labels=[1] * k), memo).mask
            for patch in gap:
                assert mask[patch].mean() < 0.2, (k, patch)
            assert mask[280:320, 310:350].mean() == 1.0 and mask[400:440, 280:310].mean() > 0.95, k  # shirt, jeans
        assert all(mask[shoe].mean() > 0.9 for shoe in shoes) and mask[arm].mean() > 0.5
        # a click on the gap itself says it is the subject: it comes back
        clicks.append((352, 388))
        mask = segment_by_steps(seg, ObjectPrompt(points=clicks, labels=[1] * len(clicks)), memo).mask
        assert mask[gap[0]].mean() > 0.9
    finally:
        seg.use_clip(None)
        samples.close()


def test_what_a_click_found_to_be_background_stays_out_but_where_a_later_click_lands():
    """``seg_through.kept_out_of``: the background a click found (two gaps) is kept out at the next
    click but for the gap a positive click lands on; ``encloses``: a click inside a ring-shaped still
    part (a shoe's logo inside the shoe's still outline) is the ring's."""
    from models.embedded.seg_through import encloses, kept_out_of

    background = np.zeros((60, 80), bool)
    background[10:20, 10:20] = background[30:50, 40:70] = True
    kept = kept_out_of(background, [(15, 15)])
    assert kept is not None and not kept[10:20, 10:20].any() and kept[30:50, 40:70].all()
    assert (kept_out_of(background, [(0, 0)]) == background).all()
    assert kept_out_of(background, [(15, 15), (50, 40)]) is None
    assert kept_out_of(None, [(15, 15)]) is None
    ring = np.zeros((40, 40), bool)
    ring[10:30, 10:30] = True
    ring[15:25, 15:25] = False
    assert encloses(ring, [(20, 20)]) and not encloses(ring, [(35, 35)]) and not encloses(ring, [(12, 12)])
    open_ring = ring.copy()
    open_ring[18:22, 25:30] = False  # a C: its middle is open to the outside
    assert not encloses(open_ring, [(20, 20)])
