"""bench/synthetic.py and bench/metrics.py: exact alpha, lazy frames, files, and the metric formulas."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from bench import metrics
from bench.synthetic import make_clip, read_alpha, write_clip


def test_metrics_on_hand_made_arrays():
    true = np.zeros((4, 5), np.float32)
    true[1:3, 1:3] = 1.0  # 4 pixels
    pred = true.copy()
    pred[1, 1] = 0.0  # one pixel wrong by 1
    pred[0, 0] = 0.5  # one pixel wrong by 0.5, at the threshold (counts as subject)
    assert metrics.iou(pred, true) == pytest.approx(3 / 5)
    assert metrics.mad(pred, true) == pytest.approx(1.5 / 20 * 1e3)
    assert metrics.mse(pred, true) == pytest.approx(1.25 / 20 * 1e3)
    assert metrics.iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    assert metrics.mad(true, true) == 0.0


def test_dtssd_measures_change_not_error():
    true_prev = np.zeros((10, 10))
    true_t = true_prev.copy()
    true_t[0, :] = 1.0  # the truth changes on 10 pixels
    # An offset that stays constant is not flicker: dtSSD 0 although MAD is not.
    assert metrics.dtssd(true_t + 0.2, true_prev + 0.2, true_t, true_prev) == pytest.approx(0.0)
    # A prediction that does not follow the change: sqrt(10 / 100) * 100.
    assert metrics.dtssd(true_prev, true_prev, true_t, true_prev) == pytest.approx(np.sqrt(0.1) * 100)
    uint8 = (true_t * 255).astype(np.uint8)
    assert metrics.mad(uint8, true_t) == pytest.approx(0.0)


def test_clip_score_summary():
    score = metrics.ClipScore()
    a = np.zeros((8, 8), np.float32)
    for _ in range(3):
        score.add(a, a)
    s = score.summary()
    assert s["frames"] == 3 and s["iou"] == 1.0 and s["mad"] == 0.0 and s["dtssd"] == 0.0
    with pytest.raises(ValueError):
        score.add(np.zeros((4, 4)), np.zeros((5, 5)))


@pytest.mark.parametrize("kind", ["static", "pan"])
def test_clip_has_soft_exact_alpha_and_motion(kind):
    clip = make_clip(kind, 320, 180, frames=12, seed=5)
    f0, a0 = clip.frame(0)
    f9, a9 = clip.frame(9)
    assert f0.shape == (180, 320, 3) and f0.dtype == np.uint8
    assert a0.shape == (180, 320) and a0.dtype == np.float32
    assert a0.min() >= 0.0 and a0.max() <= 1.0
    soft = (a0 > 0.02) & (a0 < 0.98)
    assert soft.sum() > 0.05 * (a0 > 0.5).sum()  # hair strands and blur: real partial alpha
    assert 0.04 < (a0 > 0.5).mean() < 0.5  # a subject, not the whole frame
    assert np.abs(a9 - a0).mean() > 0.005  # the subject moves
    x, y = clip.point
    assert a0[y, x] > 0.99
    # Rendering is deterministic (random access by index), and the background is not flat.
    assert np.array_equal(clip.frame(9)[0], f9)
    bg = f0[a0 < 0.01]
    assert bg.std() > 10
    if kind == "pan":  # the camera moves: far background pixels change
        assert np.abs(f9.astype(int) - f0.astype(int))[:40, :40].mean() > 3


def test_a_lingering_subject_stays_on_the_spot_with_a_ball_bouncing_beside_it():
    """``linger``: the subject covers much the same pixels all clip long (so a still camera's median
    shows it there), and a ball that is not part of it passes close beside it."""
    clip = make_clip("linger", 320, 180, frames=40, seed=21)
    alphas = np.stack([clip.frame(i)[1] > 0.5 for i in range(0, 40, 4)])
    mostly = alphas.mean(axis=0) >= 0.6  # what a median of these frames shows as the subject
    assert mostly.sum() > 0.7 * alphas[0].sum()
    ball = np.zeros((180, 320), bool)
    for i in range(0, 40, 4):
        f, a = clip.frame(i)
        white = (f.min(axis=2) > 190) & (a < 0.01)  # the ball is white; the subject's palette and the scene are not
        ball |= white
        if white.any():
            near = cv2.dilate((a > 0.5).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
            assert (white & near).any()  # within 20 px of the subject (the ball's diameter: 22 px)
    assert ball.sum() > 50


def test_composite_equation_holds():
    """Where alpha is 0 the frame is background; compositing is exact (up to noise and rounding)."""
    clip = make_clip("static", 160, 90, frames=3, seed=2)
    f1, a1 = clip.frame(1)
    f2, a2 = clip.frame(2)
    both_bg = (a1 == 0) & (a2 == 0)
    diff = np.abs(f1.astype(int) - f2.astype(int))[both_bg]
    assert np.median(diff) <= 8  # same background, only noise/flicker differ


def test_write_clip_roundtrip(tmp_path):
    import av

    clip = make_clip("pan", 160, 96, frames=6, seed=3)
    path = write_clip(clip, tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["frames"] == 6 and meta["width"] == 160
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 6
    f3, a3 = clip.frame(3)
    assert np.abs(frames[3].astype(int) - f3.astype(int)).mean() < 4  # high-quality encode
    assert np.abs(read_alpha(tmp_path, 3) - a3).max() < 1e-4  # 16-bit alpha


def test_a_kept_clip_is_scored_again_only_at_its_own_length(tmp_path):
    """bench.quality --out: a clip already there is reused (runs of two codes score the same
    pictures), but not for another --frames."""
    from bench.quality import _kept

    write_clip(make_clip("static", 160, 96, frames=6, seed=3), tmp_path)
    assert _kept(tmp_path, 6) and not _kept(tmp_path, 8) and not _kept(tmp_path / "none", 6)
