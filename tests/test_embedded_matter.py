"""EmbeddedMatter on short synthetic clips: a floor on quality (so regressions fail), shapes, directions."""

from __future__ import annotations

import numpy as np
import pytest

from app_config import PRESETS
from bench.metrics import ClipScore
from bench.synthetic import make_clip
from core.exceptions import EmptyMaskError, MaskSizeError, PromptError
from models.base import ObjectPrompt
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
    # Measured: IoU 0.95-0.96, MAD 7.0-7.4, dtSSD 4.6-5.0 (24 frames, 8 plate samples, 480x270).
    assert s["iou"] >= 0.93, s
    assert s["mad"] <= 10, s
    assert s["dtssd"] <= 6.5, s


def test_backwards_and_fast_preset():
    s = _run("static", 21, "mask", backwards=True, preset="fast")
    # "fast" skips the full-resolution edge solve: measured IoU 0.92, MAD 11.3.
    assert s["iou"] >= 0.9 and s["mad"] <= 15, s


def test_step_cpu_time_at_720p():
    """One core's CPU time per 720p frame (target ~20 ms, measured ~25 ms; loose for shared CI)."""
    import time

    import cv2

    clip = make_clip("pan", 1280, 720, frames=6, seed=7)
    frames = [clip.frame(i)[0] for i in range(6)]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        matter = EmbeddedMatter(PRESETS["balanced"])
        matter.start(frames[0], clip.first_mask)
        spent = []
        for frame in frames[1:]:
            t = time.thread_time()
            matter.step(frame)
            spent.append(time.thread_time() - t)
    finally:
        cv2.setNumThreads(threads)
    assert 1e3 * float(np.median(spent)) < 60


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
