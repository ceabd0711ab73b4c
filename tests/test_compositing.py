"""Compositing: straight alpha, cover fit, subject-free blur, foreground estimation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core import compositing as c
from core.job import EdgeOptions


def _soft_disc(h: int = 120, w: int = 160) -> np.ndarray:
    a = np.zeros((h, w), np.float32)
    cv2.circle(a, (w // 2, h // 2), 35, 1.0, -1)
    return cv2.GaussianBlur(a, (0, 0), 3)


def test_composite_is_straight_alpha_blend():
    rng = np.random.default_rng(0)
    fg = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = rng.random((40, 50), dtype=np.float32)
    out = c.composite(fg, alpha, bg)
    expected = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    assert out.dtype == np.uint8
    assert np.abs(out.astype(np.float32) - expected).max() <= 1.0
    assert np.array_equal(c.composite(fg, np.ones((40, 50), np.float32), bg), fg)
    assert np.array_equal(c.composite(fg, np.zeros((40, 50), np.float32), bg), bg)


def test_fit_cover_keeps_aspect_and_size():
    img = np.zeros((100, 400, 3), np.uint8)
    img[:, 180:220] = 255  # a centred white band
    out = c.fit_cover(img, 200, 200)
    assert out.shape == (200, 200, 3)
    # covering a square from a 4:1 image crops the sides: the band, scaled x2, is the middle 80 px
    assert out[:, 100].min() > 200 and out[:, 50].max() < 50 and out[:, 150].max() < 50


def test_fit_cover_for_wide_pixels_fits_what_the_viewer_sees():
    """On an anamorphic output (a pixel shown twice as wide as tall) a 200x100 picture covers the
    100x100 stored frame whole, squeezed, instead of losing its sides; shown, it is undistorted."""
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, 200).astype(np.uint8)[None, :]  # red grows left to right
    square = c.fit_cover(image, 100, 100)
    wide = c.fit_cover(image, 100, 100, pixel_aspect=2.0)
    assert square.shape == wide.shape == (100, 100, 3)
    assert square[50, 0, 0] > 50 and wide[50, 0, 0] < 5 and wide[50, -1, 0] > 250
    assert c.fit_cover(image, 100, 100, pixel_aspect=1.0) is not image  # plain cover: cropped
    shown = cv2.resize(wide, (200, 100))  # how a player shows it
    assert np.abs(shown.astype(int) - image.astype(int)).mean() < 2


def test_background_fill_does_not_bleed_subject_colour():
    h, w = 120, 160
    frame = np.full((h, w, 3), (20, 60, 200), np.uint8)  # blue background
    alpha = _soft_disc(h, w)
    frame[alpha > 0.5] = (255, 0, 0)  # red subject
    fill = c.background_fill(frame, alpha, sigma=15)
    # around and under the subject, the blurred background stays blue: no red smear
    assert fill[..., 0].max() < 60
    assert np.abs(fill.astype(int) - (20, 60, 200)).max() < 15
    naive = cv2.GaussianBlur(frame, (0, 0), 15)
    assert naive[..., 0].max() > 150  # what a plain blur would have done


def test_estimate_foreground_removes_old_background():
    h, w = 120, 160
    alpha = _soft_disc(h, w)
    fg = np.full((h, w, 3), (230, 200, 40), np.float32)
    old_bg = np.full((h, w, 3), (0, 180, 60), np.float32)
    frame = (alpha[..., None] * fg + (1 - alpha[..., None]) * old_bg).round().astype(np.uint8)
    est = c.estimate_foreground(frame, alpha, old_bg.astype(np.uint8))
    edge = (alpha > 0.25) & (alpha < 0.95)
    assert edge.sum() > 100
    assert np.abs(est[edge].astype(float) - fg[edge]).mean() < 4
    assert np.abs(frame[edge].astype(float) - fg[edge]).mean() > 20  # the raw edge was green-tinted
    kept = (alpha <= 0.01) | (alpha >= 0.99)  # opaque and empty pixels keep their colour exactly
    assert kept.sum() > 1000 and np.array_equal(est[kept], frame[kept])


def test_refine_alpha_choke_and_feather():
    alpha = np.zeros((60, 60), np.float32)
    alpha[20:40, 20:40] = 1
    choked = c.refine_alpha(alpha, EdgeOptions(choke_px=3))
    grown = c.refine_alpha(alpha, EdgeOptions(choke_px=-3))
    feathered = c.refine_alpha(alpha, EdgeOptions(feather_px=2))
    assert choked.sum() < alpha.sum() < grown.sum()
    assert 0 < feathered[19, 30] < 1 and feathered.dtype == np.float32
    assert c.refine_alpha(alpha, EdgeOptions()) is alpha or np.array_equal(c.refine_alpha(alpha, EdgeOptions()), alpha)


def test_light_wrap_changes_only_edges():
    h, w = 120, 160
    alpha = _soft_disc(h, w)
    fg = np.full((h, w, 3), 40, np.uint8)
    bg = np.full((h, w, 3), 250, np.uint8)
    plain = c.composite(fg, alpha, bg)
    wrapped = c.composite(fg, alpha, bg, light_wrap=1.0)
    centre = (slice(55, 65), slice(75, 85))
    assert np.array_equal(plain[centre], wrapped[centre])
    edge = (alpha > 0.6) & (alpha < 0.99)
    assert wrapped[edge].mean() > plain[edge].mean() + 3


def test_rgba_and_colours():
    rgba = c.to_rgba(np.zeros((2, 2, 3), np.uint8), np.array([[0, 0.5], [1, 1]], np.float32))
    assert rgba.shape == (2, 2, 4) and rgba[0, 1, 3] == 128 and rgba[1, 1, 3] == 255
    assert c.parse_color("#1E90FF") == (30, 144, 255)
    assert c.parse_color("fff") == (255, 255, 255)
    assert c.parse_color("Tomato") == (255, 99, 71) and c.parse_color("rgb(10, 20, 30)") == (10, 20, 30)
    assert c.parse_color("green") == c.GREEN  # the chroma-key green, not CSS's (0, 128, 0)
    with pytest.raises(ValueError):
        c.parse_color("#12345G")


def test_shrink_matches_one_area_resize():
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8), (0, 0), 2)
    for size, max_diff, mean_diff in [((160, 90), 2, 0.5), ((1280, 720), 0, 0.0), ((213, 120), 12, 2.0)]:
        got = c.shrink(image, size)
        want = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        assert got.shape == want.shape
        diff = np.abs(got.astype(int) - want)
        assert diff.max() <= max_diff and diff.mean() <= mean_diff, (size, diff.max(), diff.mean())


def test_background_fill_keeps_a_flat_background_exact():
    # rounded, not truncated: a flat grey of 100 stays 100 (truncation gave 99 where the blur's
    # float sum came out a hair under 100), under and around the subject's hole alike
    frame = np.full((120, 160, 3), 100, np.uint8)
    alpha = _soft_disc(120, 160)
    fill = c.background_fill(frame, alpha, sigma=25)
    assert fill.dtype == np.uint8 and (fill == 100).all()


def test_a_still_cameras_blurred_background_is_held_through_noise_and_flicker_but_follows_a_real_change():
    from models.backgrounds.blur import HOLD_LEVELS, BlurBackground

    rng = np.random.default_rng(3)
    h, w = 180, 320
    scene = cv2.GaussianBlur(rng.random((h, w, 3), dtype=np.float32), (0, 0), 4)
    scene = 60 + 140 * (scene - scene.min()) / np.ptp(scene)
    blur = BlurBackground("25")
    fresh, held = [], []
    for i in range(20):
        alpha = np.zeros((h, w), np.float32)
        cv2.circle(alpha, (100 + 6 * i, 110), 30, 1.0, -1)
        light = (1.12 if i >= 10 else 1.0) * (1 + 0.02 * np.sin(1.3 * i))  # a phone's exposure, then a real change
        image = scene * light + rng.normal(0, 1.5, scene.shape)
        if i >= 14:
            cv2.rectangle(image, (10 + 5 * i, 10), (50 + 5 * i, 50), (30, 30, 30), -1)  # a passer-by
        frame = np.clip(image + 0.5, 0, 255).astype(np.uint8)
        fresh.append(c.background_fill(frame, alpha, 25))
        held.append(blur.frame(i, frame, alpha))
    for i in range(20):  # never far from the blur of the frame itself (the upscale may add a level)
        assert np.abs(held[i].astype(int) - fresh[i]).max() <= HOLD_LEVELS + 1, i
    right = (slice(None), slice(260, None))  # away from the subject and the passer-by
    steady = [np.mean(held[i][right] == held[i - 1][right]) for i in range(1, 10)]
    shimmer = [np.mean(fresh[i][right] == fresh[i - 1][right]) for i in range(1, 10)]
    assert min(steady) > 0.95 and np.mean(shimmer) < 0.5, (steady, shimmer)
    assert held[10][right].mean() - held[9][right].mean() > 10  # the change of light is followed at once
    assert held[16][:60, 80:140].mean() < held[13][:60, 80:140].mean() - 10  # and so is the passer-by
    # a frame that does not follow the last one (a preview, a seek) is not held; nor is a small blur
    alpha = np.zeros((h, w), np.float32)
    assert np.array_equal(blur.frame(3, frame, alpha), c.background_fill(frame, alpha, 25))
    sharp = BlurBackground("3")
    sharp.frame(0, frame, alpha)
    assert np.array_equal(sharp.frame(1, frame, alpha), c.background_fill(frame, alpha, 3))


def test_a_transparent_file_keeps_the_subject_and_none_of_the_background_under_alpha_zero():
    """Straight alpha keeps colour under alpha 0; it is the subject's own colours spread out, not the
    frame's background (which anyone dropping the alpha would see, and encoders pay for)."""
    rng = np.random.default_rng(5)
    h, w = 120, 160
    frame = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.5)  # a busy background
    alpha = _soft_disc(h, w)
    a8 = c.alpha_to_u8(alpha)
    frame[a8 > 0] = (200, 40, 30)  # a red subject
    rgba = c.to_rgba(frame, alpha)
    assert np.array_equal(rgba[..., 3], a8)
    shown = a8 > 0
    assert np.array_equal(rgba[..., :3][shown], frame[shown])  # the subject exactly as it was
    hidden = rgba[..., :3][~shown].astype(np.float32)
    behind = frame[~shown].astype(np.float32)
    assert np.abs(hidden - (200, 40, 30)).max() < 40  # the subject's colour, spread out
    assert abs(np.corrcoef(hidden.sum(axis=1), behind.sum(axis=1))[0, 1]) < 0.1
    nothing = c.to_rgba(frame, np.zeros((h, w), np.float32))
    assert not nothing.any()  # no subject: transparent black
