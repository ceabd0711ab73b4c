"""EmbeddedSegmenter: click/box/mask prompts -> a usable mask, fast, with coded errors for bad input."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.metrics import iou
from bench.synthetic import make_clip
from core.exceptions import EmptyMaskError, MaskSizeError, NoPromptError, PointOutOfFrameError, PromptError
from models.base import ObjectPrompt
from models.embedded_segmenter import EmbeddedSegmenter, clean_mask


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
    assert iou(res.mask, alpha) >= 0.85
    assert 0.0 <= res.score <= 1.0


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
