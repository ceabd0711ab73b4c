"""``video:PATH`` backgrounds: looped, fitted, and played at their own pace whatever the two rates."""

from __future__ import annotations

import json

import numpy as np
import pytest

import app
from core.video_reader import VideoReader
from models.backgrounds import make_background
from models.backgrounds.base import OutputGeometry
from tests import media


@pytest.mark.parametrize(("bg_fps", "bg_frames", "out_fps"), [(10, 5, 25), (50, 20, 25), (25, 7, 25)])
def test_each_output_frame_shows_the_background_frame_of_its_time_looped(tmp_path, bg_fps, bg_frames, out_fps):
    """A 10 fps background under a 25 fps clip used to run 2.5 times too fast (one frame each)."""
    bg = media.make_video(tmp_path / "bg.mp4", width=64, height=48, frames=bg_frames, fps=bg_fps, gop=3)
    source = make_background(f"video:{bg}")
    source.open(OutputGeometry(64, 48, 60, float(out_fps)))
    blank = np.zeros((48, 64, 3), np.uint8)
    try:
        shown = [media.decode_index(source.frame(k, blank, blank[..., 0].astype(np.float32))) for k in range(60)]
    finally:
        source.close()
    assert shown == [int(k * bg_fps / out_fps + 1e-9) % bg_frames for k in range(60)]


def test_a_video_background_behind_a_clip_end_to_end(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", width=96, height=64, frames=20, fps=20, audio="sine")
    bg = media.make_video(tmp_path / "bg.mp4", width=192, height=128, frames=4, fps=10)
    out = tmp_path / "out"
    assert app.main(["process", str(clip), "--out", str(out), "--point", "20,50", "--background", f"video:{bg}",
                     "--formats", "composite.mp4", "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 20 and report["background"].startswith("video:")
    with VideoReader(out / "composite.mp4") as reader:
        frames = [f.rgb for f in reader.frames()]
    assert len(frames) == 20
    # the background is scaled by half to cover: its top band shows its frame number, 2 frames each
    # of the clip's (10 fps under 20 fps), so the top row changes every other frame
    tops = [f[:4].astype(int) for f in frames]
    changes = [k for k in range(1, 20) if np.abs(tops[k] - tops[k - 1]).mean() > 8]
    assert changes == [2, 4, 6, 8, 10, 12, 14, 16, 18]
