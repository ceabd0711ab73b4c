"""bench/speed_floor.py's cut-down matters still make a whole job (the bench must not rot)."""

from __future__ import annotations

import cv2
import media
import numpy as np
import pytest

from bench.speed_floor import run_mode


@pytest.mark.parametrize("mode", ["free-step", "free-all"])
def test_floor_modes_finish_a_job(tmp_path, mode):
    clip = media.make_video(tmp_path / "in.mp4", width=96, height=64, frames=12)
    mask = np.zeros((64, 96), np.uint8)
    mask[20:44, 30:60] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    fps = run_mode(mode, clip, tmp_path / "mask.png", tmp_path / "out")
    assert fps > 0
    assert (tmp_path / "out" / "composite.mp4").stat().st_size > 0
