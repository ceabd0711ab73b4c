"""The embedded engine's full-resolution edge solve, colour spreading, subject palette, sparse sampling, plate and camera motion."""

from __future__ import annotations

import cv2
import media
import numpy as np

from models.embedded.edges import Sampler, gather, solve_alpha, spread_colours
from models.embedded.exposure import even_exposure
from models.embedded.full_edges import distance_outside
from models.embedded.median import temporal_median
from models.embedded.motion import camera_motion, is_still
from models.embedded.palette import (
    drop_far_picks,
    localise,
    nearest_colour,
    pick_from_palette,
    subject_palette,
)
from models.embedded.plate import JUMP_LOOKS, BackgroundPlate, channel_max, median_plate
from models.embedded_matter import EmbeddedMatter


def test_solve_alpha_inverts_the_compositing_equation():
    rng = np.random.default_rng(0)
    n = 500
    fg = rng.uniform(120, 255, (n, 3)).astype(np.float32)
    bg = rng.uniform(0, 100, (n, 3)).astype(np.float32)
    true = rng.uniform(0, 1, n).astype(np.float32)
    pixel = true[:, None] * fg + (1 - true[:, None]) * bg
    a, trust = solve_alpha(pixel, fg, bg)
    assert np.abs(a - true).max() < 1e-3
    assert trust.min() > 0.9  # far apart colours, pixels on the line: trusted
    # Same colour for subject and background: nothing to solve, no trust.
    _, none = solve_alpha(pixel, bg, bg)
    assert none.max() == 0.0
    # A pixel far off the line between B and F is not explained: trust drops.
    _, off = solve_alpha(np.float32([[0, 255, 0]]), np.float32([[255, 0, 0]]), np.float32([[0, 0, 0]]))
    assert off[0] < 0.5


def test_solve_alpha_with_a_noise_floor_does_not_count_a_background_a_little_off_its_estimate():
    """Subject 30 grey levels from the background along one channel: a pixel 5 levels off the
    background reads as 1/6 subject without a floor, none with 8; the subject colour stays 1 and
    the scale in between is stretched, not shifted."""
    fg, bg = np.float32([[130, 100, 100]]), np.float32([[100, 100, 100]])
    pixels = np.float32([[105, 100, 100], [130, 100, 100], [119, 100, 100]])
    plain, _ = solve_alpha(pixels, np.repeat(fg, 3, 0), np.repeat(bg, 3, 0))
    floored, _ = solve_alpha(pixels, np.repeat(fg, 3, 0), np.repeat(bg, 3, 0), noise=8.0)
    assert abs(plain[0] - 5 / 30) < 1e-4 and floored[0] == 0.0
    assert floored[1] == 1.0 and abs(floored[2] - (19 - 8) / (30 - 8)) < 1e-4


def test_spread_colours_fills_from_known_pixels():
    img = np.zeros((64, 64, 3), np.float32)
    img[:, :32] = (200, 50, 10)
    img[:, 32:] = (7, 7, 7)  # unknown: must be replaced
    weight = np.zeros((64, 64), np.float32)
    weight[20:44, 4:28] = 1.0
    out = spread_colours(img, weight)
    assert np.allclose(out[30, 10], (200, 50, 10), atol=1)
    assert np.allclose(out[5, 60], (200, 50, 10), atol=2)  # far away, still the known colour


def test_gather_is_bilinear_and_handles_long_lists():
    img = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    xs = np.tile(np.float32([1.5, 10.0]), 25000)  # 50000 points: over remap's 32767 limit
    ys = np.tile(np.float32([2.0, 3.5]), 25000)
    out = gather(img, xs, ys)
    assert out.shape == (50000,)
    assert out[0] == 2 * 30 + 1.5 and out[1] == 3.5 * 30 + 10
    rgb = np.dstack([img, img + 1, img + 2])
    assert gather(rgb, xs[:2], ys[:2]).shape == (2, 3)


def test_temporal_median_equals_numpy_for_every_sample_count():
    rng = np.random.default_rng(4)
    for n in range(2, 33):
        samples = [rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(n)]
        expected = np.median(np.stack(samples), axis=0).astype(np.float32)
        assert np.array_equal(temporal_median(samples), expected), n
    floats = [rng.uniform(0, 1, (5, 7)).astype(np.float32) for _ in range(5)]
    assert np.allclose(temporal_median(floats), np.median(np.stack(floats), axis=0))


def test_channel_max_is_the_largest_channel_of_each_pixel():
    rng = np.random.default_rng(5)
    for dtype in (np.uint8, np.float32):
        image = rng.uniform(0, 255, (9, 13, 3)).astype(dtype)
        assert np.array_equal(channel_max(image), image.max(axis=-1))


def test_median_plate_still_vs_moving_and_gain():
    rng = np.random.default_rng(1)
    bg = rng.integers(0, 255, (40, 60, 3)).astype(np.uint8)
    samples = []
    for i in range(8):
        s = bg.copy()
        s[10:30, 5 * i:5 * i + 10] = 255  # a subject walking across
        samples.append(s)
    med, agree = median_plate(samples)
    assert np.abs(med - bg).max() <= 1 and agree.min() >= 0.5
    assert np.array_equal(temporal_median(samples), med)
    pan = [np.roll(bg, 4 * i, axis=1) for i in range(8)]
    assert median_plate(pan) is None
    plate = BackgroundPlate(bg.astype(np.float32) + 1, np.ones((40, 60), bool))
    plate.fit_gain(np.clip(bg.astype(np.float32) * 1.1 + 1.1, 0, 255).astype(np.uint8), np.ones((40, 60), bool))
    assert 1.05 < plate.gain < 1.12


def test_sampler_matches_gather_for_several_images():
    rng = np.random.default_rng(2)
    img = rng.uniform(0, 255, (30, 40, 3)).astype(np.float32)
    coef = rng.uniform(0, 1, (30, 40)).astype(np.float32)
    xs = rng.uniform(0, 39, 40000).astype(np.float32)  # over remap's 32767 limit on a side
    ys = rng.uniform(0, 29, 40000).astype(np.float32)
    at = Sampler(xs, ys)
    assert np.allclose(at(img), gather(img, xs, ys)) and np.allclose(at(coef), gather(coef, xs, ys))
    # Bilinear to OpenCV's fixed-point precision (1/32 px): compare with an exact float interpolation.
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    exact = (coef[y0, x0] * (1 - fx) * (1 - fy) + coef[y0, x0 + 1] * fx * (1 - fy)
             + coef[y0 + 1, x0] * (1 - fx) * fy + coef[y0 + 1, x0 + 1] * fx * fy)
    assert np.abs(at(coef) - exact).max() < 0.04


def test_plate_works_on_a_box_exactly():
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (60, 80, 3)).astype(np.float32), (0, 0), 2)
    valid = np.ones((60, 80), np.float32)
    valid[:, :10] = 0.0
    plate = BackgroundPlate(image, valid)
    frame = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    roi = (slice(5, 40), slice(20, 70))
    # The box's tolerance and evidence are the whole frame's, cropped (the filters see the same pixels).
    whole_p, whole_t = plate.evidence(frame)
    p, t = plate.evidence(frame[roi], roi)
    assert np.allclose(p, whole_p[roi]) and np.allclose(t, whole_t[roi])
    assert np.allclose(plate.tolerance(roi), plate.tolerance()[roi])
    # A boxed update changes the plate in the box only; unknown pixels take the new colour whole.
    before = plate.image.copy()
    background = np.ones((60, 80), bool)
    plate.update(frame, background, region=(slice(0, 60), slice(0, 40)))
    assert np.array_equal(plate.image[:, 40:], before[:, 40:])
    assert np.allclose(plate.image[:, :10], frame[:, :10], atol=1e-3) and plate.valid[:, :10].min() == 1.0
    changed = np.abs(plate.image[:, 10:40] - before[:, 10:40])
    assert np.allclose(changed, 0.3 * np.abs(frame[:, 10:40] - before[:, 10:40]), atol=1e-3)


def test_a_still_cameras_plate_does_not_keep_what_passes_by():
    """Where the median is unknown (the subject stood there), what shows first (a white ball dropping
    by) is taken but only partly trusted, and what is seen again (the grass) is known; where the
    plate is known, a jump (the ball) moves it a tenth as far as a drift (light changing) does,
    unless the same new colour stays."""
    grass, ball = (60.0, 110.0, 40.0), (235.0, 235.0, 230.0)
    image = np.full((10, 20, 3), grass, np.float32)
    valid = np.ones((10, 20), np.float32)
    valid[:, :10] = 0.0  # where the subject stood in the samples
    full = np.zeros((40, 80, 3), np.float32)  # a full-size median: a still camera
    plate = BackgroundPlate(image.copy(), valid, full)
    everything = np.ones((10, 20), bool)
    frame = np.full((10, 20, 3), ball, np.uint8)
    plate.update(frame, everything)
    assert np.allclose(plate.image[:, :10], ball) and np.allclose(plate.valid[:, :10], 0.75)
    assert np.allclose(plate.image[:, 10:], np.add(grass, 0.03 * np.subtract(ball, grass)))  # the jump, slowly
    assert plate.valid[:, 10:].min() == 1.0
    # what the plate holds from the median, and what it learnt (the ball, first seen) since
    assert not plate.from_median[:, :10].any() and plate.from_median[:, 10:].all()
    frame[:] = grass
    plate.update(frame, everything)  # the ball has gone: the grass is new there, partly trusted
    assert np.allclose(plate.image[:, :10], grass) and np.allclose(plate.valid[:, :10], 0.75)
    plate.update(frame, everything)  # ... and seen again: known
    assert plate.valid.min() == 1.0
    frame[:] = np.add(grass, 8)  # a drift (the light): followed at the update's rate
    before = plate.image.copy()
    plate.update(frame, everything)
    assert np.allclose(plate.image[:, 10:] - before[:, 10:], 0.3 * (frame[:, 10:] - before[:, 10:]), atol=0.01)
    # The same new colour, again and again (a person who stood there in most samples walked off):
    # the scene changed, and the plate takes it after JUMP_LOOKS updates.
    frame[:] = (120, 90, 150)
    for _ in range(JUMP_LOOKS - 1):
        plate.update(frame, everything)
    assert np.abs(plate.image[:, 10:] - np.float32((120, 90, 150))).max(axis=-1).min() > 30  # not yet
    assert plate.from_median[:, 10:].all()
    plate.update(frame, everything)
    assert np.allclose(plate.image[:, 10:], (120, 90, 150))
    assert not plate.from_median.any()
    # A moving camera's plate knows new background at once.
    moving = BackgroundPlate(image.copy(), valid.copy())
    moving.update(np.full((10, 20, 3), ball, np.uint8), everything)
    assert moving.valid.min() == 1.0 and np.allclose(moving.image[:, :10], ball)
    assert moving.from_median is None


def test_camera_motion_follows_the_background_not_the_subject():
    h, w = 120, 200
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -1.5  # the camera: every background pixel moved the same way
    flow[30:90, 60:140] = (-6.0, 4.0)  # the subject moves on its own
    background = np.ones((h, w), bool)
    background[25:95, 55:145] = False
    m = camera_motion(flow, background)
    assert m is not None and np.allclose(m, [[1, 0, 3.0], [0, 1, -1.5]], atol=0.05)
    assert not is_still(m)
    still = camera_motion(np.zeros((h, w, 2), np.float32), background)
    assert is_still(still)
    assert camera_motion(flow, np.zeros((h, w), bool)) is None  # nothing to fit to


def test_palette_colour_replaces_the_local_one_only_where_it_explains_the_pixel():
    bg = np.float32([[90, 110, 140]] * 3)  # blue-grey background
    skin = np.float32([230, 180, 150])  # what the interior spread gives at the edge
    hair = np.float32([60, 40, 25])
    local = np.stack([skin] * 3)
    pixel = np.stack([0.5 * hair + 0.5 * bg[0],  # a dark strand half over the background
                      0.5 * skin + 0.5 * bg[0],  # the face's own outline
                      bg[0] + 2.0])  # background (noise)
    palette = np.stack([skin, hair, np.float32([200, 30, 30])])
    fg, choice = pick_from_palette(pixel, local, bg, palette)
    assert np.array_equal(fg[0], hair) and choice[0] == 1  # the strand is explained by the hair colour
    assert list(choice[1:]) == [-1, -1]
    assert np.array_equal(fg[1], skin) and np.array_equal(fg[2], skin)  # already explained: kept
    a, _ = solve_alpha(pixel, fg, bg)
    assert abs(a[0] - 0.5) < 0.01 and abs(a[1] - 0.5) < 0.01 and a[2] < 0.05
    a_local, _ = solve_alpha(pixel[:1], local[:1], bg[:1])
    assert abs(a_local[0] - 0.5) > 0.1  # the interior colour alone gets the strand wrong


def test_subject_palette_finds_the_main_colours_deterministically():
    rng = np.random.default_rng(3)
    img = np.zeros((60, 90, 3), np.uint8)
    img[:, :30] = (230, 180, 150)
    img[:, 30:60] = (60, 40, 25)
    img[:, 60:] = (30, 60, 200)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    mask = np.ones(img.shape[:2], bool)
    pal = subject_palette(img, mask, k=3)
    assert pal.shape == (3, 3)
    for colour in ((230, 180, 150), (60, 40, 25), (30, 60, 200)):
        assert np.abs(pal - np.float32(colour)).sum(axis=1).min() < 6
    assert np.array_equal(pal, subject_palette(img, mask, k=3))
    assert subject_palette(img, np.zeros_like(mask), k=3) is None  # no subject pixels: no palette
    nearest = nearest_colour(img.astype(np.float32), pal)
    assert nearest.shape == mask.shape
    for x in (10, 40, 70):  # each band of colour maps to the one palette entry nearest its colour
        k = nearest[30, x]
        assert np.abs(pal[k] - img[30, x]).max() < 15 and (nearest[:, x] == k).all()


def test_spread_colours_in_groups_equals_one_group_at_a_time():
    rng = np.random.default_rng(5)
    img = rng.uniform(0, 255, (40, 56, 3)).astype(np.float32)
    weights = (rng.uniform(0, 1, (40, 56, 3)) > 0.9).astype(np.float32)
    together = spread_colours(img, weights)
    assert together.shape == (40, 56, 3, 3)
    for g in range(3):
        assert np.allclose(together[:, :, g], spread_colours(img, np.ascontiguousarray(weights[..., g])), atol=1e-3)


def test_localise_gives_a_pick_the_colour_of_its_palette_entry_nearby():
    half = np.zeros((64, 96, 3), np.float32)
    half[:, :48] = (50, 30, 20)  # darker hair on the left
    half[:, 48:] = (90, 60, 40)  # lighter hair on the right
    inner = np.zeros((64, 96), np.float32)
    inner[20:44, 8:88] = 1.0  # the subject's interior, both hair shades
    palette = np.float32([[70, 45, 30], [230, 180, 150]])  # one mean hair colour, and skin
    zone = np.flatnonzero(np.ones((64, 96), bool))[::7]  # every 7th pixel of the crop, as a zone
    choice = np.zeros(len(zone), np.intp)  # all took the hair colour
    choice[::5] = -1  # some kept their local colour
    picked = np.tile(palette[0], (len(zone), 1))
    picked[choice < 0] = (1, 2, 3)
    localise(picked, choice, zone, half, inner, palette)
    xs = zone % 96
    left, right = (choice == 0) & (xs < 30), (choice == 0) & (xs > 66)
    assert np.abs(picked[left] - (50, 30, 20)).max() < 8 and np.abs(picked[right] - (90, 60, 40)).max() < 8
    assert (picked[choice < 0] == (1, 2, 3)).all()  # rows that kept their own colour are untouched


def test_background_movers_are_marked_away_from_the_subject_and_followed_near_it():
    import cv2

    from models.embedded.motion import FlowTracker
    from models.embedded.movers import FAR, BackgroundMovers

    h, w = 120, 400
    band_px = 4  # marks start more than FAR x 4 = 32 px from the subject
    median = np.full((h, w, 3), 150, np.float32)
    movers = BackgroundMovers(median)
    flow = FlowTracker(w, h)
    still = np.zeros((h, w, 2), np.float32)  # no motion between the frames
    carried = np.zeros((h, w), np.float32)
    cv2.circle(carried, (330, 60), 25, 1.0, -1)  # the subject, on the right (x from 305)
    frame = np.full((h, w, 3), 150, np.uint8)
    frame[50:70, 20:40] = (220, 40, 40)  # a red thing far on the left
    frame[carried > 0] = (40, 30, 20)  # the subject differs from the median as much
    movers.update(frame, 1.0, flow, still, carried, band_px)
    assert movers.map[50:70, 20:40].all() and movers.map.sum() == 400  # the thing, not the subject
    # near the subject nothing is marked afresh (it could be a part of the subject): marks are carried
    near = np.full((h, w, 3), 150, np.uint8)
    near[50:70, 280:295] = (220, 40, 40)
    near[carried > 0] = (40, 30, 20)
    movers.map[:] = 0
    movers.map[50:70, 278:293] = 1  # where the thing was a frame ago
    movers.update(near, 1.0, flow, still, carried, band_px)
    assert movers.map[50:70, 280:295].all()  # followed, and spread onto its new pixels
    assert movers.map.sum() == 20 * 15  # nothing else, and nothing on the subject
    movers.map[:] = 0
    movers.update(near, 1.0, flow, still, carried, band_px)
    assert not movers.map.any()  # seen afresh this close, it is not marked
    assert FAR * band_px > 305 - 280  # (all of it is that close)
    # gone again: nothing marked
    movers.update(np.full((h, w, 3), 150, np.uint8), 1.0, flow, still, np.zeros((h, w), np.float32), band_px)
    assert not movers.map.any()



def _passer_by_frames(frames: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``media.still_scene`` with a pale subject swaying on the left and a dark passer-by (not the
    subject) walking across the right: (RGB frame, subject mask) pairs."""
    out = []
    for i in range(frames):
        image = media.still_scene()
        walker = np.zeros(image.shape[:2], np.uint8)
        cv2.rectangle(walker, (200 + 2 * i, 30), (240 + 2 * i, 210), 1, -1)
        image[walker > 0] = (35, 30, 28)
        subject = np.zeros(image.shape[:2], np.uint8)
        cv2.ellipse(subject, (90 + i % 10, 110), (28, 45), 0, 0, 360, 1, -1)
        image[subject > 0] = (200, 170, 150)
        out.append((image, subject))
    return out


def test_a_still_cameras_exposure_gauge_stays_put_while_a_dark_passer_by_crosses():
    """The gauge was the ratio of means against the plate as it had learnt it, and the plate learns
    what it sees divided by the gauge: a dark passer-by lowered it, the plate learnt the error
    back, and it never came back (0.92 here, 0.87 over ../shared/media/dog.mp4 with no change of
    light). The full-resolution plate does not learn, so around the subject the background read
    as partly subject (here the ring beside it: mean alpha up to 0.019; on dog.mp4 leaves round
    her head)."""
    frames = _passer_by_frames(40)
    matter = EmbeddedMatter()
    matter.prepare([image for image, _ in frames])
    gains, rings = [], []
    for i, (image, subject) in enumerate(frames):
        alpha = matter.start(image, subject) if i == 0 else matter.step(image)
        ring = (cv2.dilate(subject, np.ones((13, 13), np.uint8)) > 0) & (subject == 0)
        gains.append(matter.plate.gain)
        rings.append(float(alpha[ring].mean()))
    assert max(abs(g - 1.0) for g in gains) < 0.01, gains
    assert max(rings) < 0.01, rings
    assert matter.plate.full is not None  # a still camera's plate throughout


def test_a_still_cameras_exposure_gauge_follows_a_change_of_light():
    """Measured against the median as prepared, the gauge still follows the light: the median of the
    pixels' brightness ratios where the plate is the median's, with a dark thing over a quarter of it."""
    rng = np.random.default_rng(3)
    median = cv2.GaussianBlur(rng.uniform(40, 200, (60, 80, 3)).astype(np.float32), (0, 0), 2)
    plate = BackgroundPlate(median.copy(), np.ones((60, 80), bool), full=median.copy())
    for light in (1.1, 0.85, 1.0):
        frame = np.clip(median * light, 0, 255).astype(np.uint8)
        frame[:, :20] = 20  # something dark in front, not known to be the subject
        plate.fit_gain(frame, np.ones((60, 80), bool))
        assert abs(plate.gain - light) < 0.015, (light, plate.gain)
        plate.update(frame, np.ones((60, 80), bool))  # what the plate learns does not move the yardstick


def test_even_exposure_brings_a_clip_lit_two_ways_to_one_exposure_and_leaves_a_steady_one_alone():
    rng = np.random.default_rng(2)
    scene = cv2.GaussianBlur(rng.uniform(30, 200, (54, 96, 3)).astype(np.float32), (0, 0), 2)
    samples = []
    for i in range(12):
        s = scene * (1.0 if i < 5 else 1.15)  # the light changed after the fifth sample
        s[20:40, 6 * i:6 * i + 12] = 250  # a subject walking across
        samples.append(np.clip(s, 0, 255).astype(np.uint8))
    assert median_plate(samples) is None  # taken for a moving camera
    evened, exposures = even_exposure(samples)
    assert np.allclose(exposures[:5], 1 / 1.15, atol=0.01) and np.all(exposures[5:] == 1.0)
    med, _ = median_plate(evened)
    assert np.abs(med - scene * 1.15).max() < 4  # the median's exposure: the most samples'
    steady = [np.clip(scene * (1 + 0.01 * (-1) ** i), 0, 255).astype(np.uint8) for i in range(8)]
    kept, gains = even_exposure(steady)
    assert np.all(gains == 1.0) and all(k is s for k, s in zip(kept, steady, strict=True))


def _strands_over_a_doubted_plate(seen: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray, EmbeddedMatter]:
    """One step of a still camera's matter on strands of hair beside a dark disc, where the plate is
    unsure of the background (``seen``: its trust there, 0.3 seen there once, then doubted; 0 never
    seen) and shows the subject's own colour, as the clip's median does behind someone who stays on
    the spot: (the alpha, the disc, the strands, the matter)."""
    h, w = 360, 640
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = np.dstack([40 + 60 * xs / w, 150 + 0 * xs, 70 + 40 * ys / h]).astype(np.uint8)
    subject = (60, 30, 20)
    disc = (xs - 320) ** 2 + (ys - 180) ** 2 < 70**2
    strands = np.zeros((h, w), np.uint8)
    for t in np.linspace(0, 2 * np.pi, 40, endpoint=False):
        c, s = np.cos(t), np.sin(t)
        cv2.line(strands, (round(320 + 68 * c), round(180 + 68 * s)), (round(320 + 82 * c), round(180 + 82 * s)), 1, 1)
    frame[disc | (strands > 0)] = subject
    matter = EmbeddedMatter()
    matter.prepare([frame] * 8)  # a still camera (the median shows the subject where it stands)
    matter.start(frame, disc)
    assert matter.plate.full is not None
    sh, sw = matter.plate.valid.shape
    small_disc = cv2.resize(disc.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA) > 0
    near = distance_outside(small_disc) <= matter.band_px
    matter.plate.valid[near] = seen  # 0.3: seen once, then doubted (a FIRST_LOOK halved by a camera it could not follow)
    matter.plate.image[near] = subject  # the subject's ghost
    return matter.step(frame), disc, strands, matter


def _ring_among_the_strands(disc: np.ndarray, strands: np.ndarray,
                            outer: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ring 5 to ``outer`` px outside the disc (beyond the edge's own ring, among the strands), the
    strands' pixels in it, and the background's between them (a pixel clear of every strand)."""
    d = distance_outside(disc)
    ring = (d > 5) & (d < outer)
    return ring, (strands > 0) & ring, ring & (cv2.dilate(strands, np.ones((3, 3), np.uint8)) == 0)


def test_where_the_plate_doubts_the_background_an_edge_is_solved_against_the_background_around():
    """Solved against the background spread in from around the subject, the strands beside it where
    the plate doubts the background come out and the background between them stays clear. Against
    the plate they were lost (alpha 0.01 on the strands before ``_AROUND_TRUST``)."""
    alpha, disc, strands, _ = _strands_over_a_doubted_plate()
    _, on, between = _ring_among_the_strands(disc, strands, 11)
    assert alpha[on].mean() > 0.3
    assert alpha[between].mean() < 0.05
    assert alpha[disc].mean() > 0.99


def test_where_the_edge_solve_is_not_trusted_a_strand_keeps_the_tracking_mattes_alpha():
    """Where the full-resolution solve is trusted only in part (the plate doubted, the background
    around used half), the rest of a band pixel's alpha came from the guided filter of the tracking
    mask alone, about 0 beyond the mask: the strands read at 0.46 of their alpha of 1 (now 0.52).
    That part now never falls below the tracking-resolution matte, which its own trusted solve gave
    the strands."""
    alpha, disc, strands, _ = _strands_over_a_doubted_plate()
    _, on, between = _ring_among_the_strands(disc, strands, 14)
    assert alpha[on].mean() > 0.5  # 0.46 on the code before
    assert alpha[between].mean() < 0.01


def test_where_the_plate_never_saw_the_background_strands_join_the_band_but_the_carried_matte_is_left_alone():
    """Where the plate never saw the background (someone who never left the spot), the strands beside
    the subject were never in the edge band, so at full resolution they were the mask's upscale, 0:
    alpha 0.08 on the strands on the code before (now 0.46). The solve against the background around
    now finds them for the band there too; the tracking matte the next frame carries is still left
    alone there (a subject's part in the ground's colours faded sooner when it took that solve: her
    shoes, dog.mp4)."""
    alpha, disc, strands, matter = _strands_over_a_doubted_plate(seen=0.0)
    ring, on, between = _ring_among_the_strands(disc, strands, 14)
    assert alpha[on].mean() > 0.35  # 0.08 on the code before
    assert alpha[between].mean() < 0.01
    sh, sw = matter.prev_alpha.shape
    small_ring = cv2.resize(ring.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    assert matter.prev_alpha[small_ring].mean() < 0.05  # the carried matte: the guided filter of the mask


def test_a_palette_colour_the_subject_does_not_show_nearby_is_not_picked():
    """A dark strand over dark foliage is as well explained by the jeans' dark blue as by the hair's
    brown, and the pick took whichever line passed closest, from anywhere on the subject (her crown
    on dog.mp4 solved against her jeans' blue, and read see-through). A pick stands only where the
    subject shows that colour within the reach; elsewhere the pixel takes back the colour spread
    from the interior."""
    brown, blue, green = np.float32([70, 45, 30]), np.float32([40, 50, 90]), np.float32([40, 70, 40])
    palette = np.stack([brown, blue])
    half = np.tile(green, (64, 128, 1))
    subject = np.zeros((64, 128), np.float32)
    half[8:40, 8:40] = brown  # the hair, on the left
    half[8:40, 96:120] = blue  # the jeans, far off on the right
    subject[8:40, 8:40] = subject[8:40, 96:120] = 1.0
    ys, xs = np.array([20, 24, 28]), np.array([44, 46, 48])  # edge pixels just right of the hair
    zone = ys * 128 + xs
    spread = np.tile(brown * 0.9, (3, 1))
    picked = np.stack([brown, blue, blue])
    choice = np.array([0, 1, 1])
    drop_far_picks(picked, choice, zone, half, subject, palette, spread, reach=16.0)
    assert choice.tolist() == [0, -1, -1]  # the hair's brown stands, the far jeans' blue does not
    assert np.allclose(picked[0], brown) and np.allclose(picked[1:], spread[1:])
    choice = np.array([1, 1, 1])
    picked = np.stack([blue, blue, blue])
    drop_far_picks(picked, choice, zone, half, subject, palette, spread, reach=200.0)  # within a long reach
    assert choice.tolist() == [1, 1, 1]
