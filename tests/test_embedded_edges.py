"""The embedded engine's full-resolution edge solve, colour spreading, sparse sampling and plate."""

from __future__ import annotations

import numpy as np

from models.embedded.edges import gather, solve_alpha, spread_colours
from models.embedded.plate import BackgroundPlate, full_median, median_plate


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
    assert np.array_equal(full_median(samples), med)
    pan = [np.roll(bg, 4 * i, axis=1) for i in range(8)]
    assert median_plate(pan) is None
    plate = BackgroundPlate(bg.astype(np.float32) + 1, np.ones((40, 60), bool))
    plate.fit_gain(np.clip(bg.astype(np.float32) * 1.1 + 1.1, 0, 255).astype(np.uint8), np.ones((40, 60), bool))
    assert 1.05 < plate.gain < 1.12
