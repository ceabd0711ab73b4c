"""Fixtures of the studio tests: a small clip with an obvious subject, and the studio served on a
free localhost port inside the test run (the same ``ui.studio.launch`` that ``python app.py`` uses).

Import the fixtures by name in a test module (``from studio_fixtures import studio, subject_clip``),
or register this module once in tests/conftest.py with ``pytest_plugins``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

logger = logging.getLogger(__name__)

CLIP_W, CLIP_H, CLIP_FRAMES, CLIP_FPS = 128, 96, 12, 12


def subject_frame(index: int, width: int = CLIP_W, height: int = CLIP_H) -> np.ndarray:
    """A bright orange disc (the subject) sliding right over a blue-green striped background."""
    yy, xx = np.mgrid[0:height, 0:width]
    stripes = ((xx + 2 * index) // 8 % 2).astype(np.uint8)
    img = np.stack([20 + 15 * stripes, 90 + 40 * stripes, 120 + 30 * stripes], axis=-1).astype(np.uint8)
    cx, cy = subject_center(index, width, height)
    cv2.circle(img, (cx, cy), height // 4, (250, 150, 30), -1, cv2.LINE_AA)
    return img


def subject_center(index: int, width: int = CLIP_W, height: int = CLIP_H) -> tuple[int, int]:
    return width // 3 + index * 2, height // 2


def write_subject_clip(path: Path, frames: int = CLIP_FRAMES, fps: int = CLIP_FPS, audio: bool = True) -> Path:
    """An H.264 MP4 (with a quiet AAC tone when ``audio``) of ``subject_frame``s."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = CLIP_W, CLIP_H, "yuv420p"
        stream.options = {"crf": "16", "preset": "ultrafast"}
        if audio:
            sound = out.add_stream("aac", rate=48000)
            sound.layout = "mono"
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(subject_frame(i), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if audio:
            total = int(48000 * frames / fps)
            tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(total) / 48000)).astype(np.float32)
            pts = 0
            for start in range(0, total, 1024):
                chunk = tone[start:start + 1024][None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, pts, Fraction(1, 48000)
                pts += chunk.shape[1]
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return path


def write_subject_photo(path: Path) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(subject_frame(0), cv2.COLOR_RGB2BGR))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str
    demo: object
    work_dir: Path


@pytest.fixture(scope="module")
def subject_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_subject_clip(tmp_path_factory.mktemp("studio-media") / "subject.mp4")


@pytest.fixture(scope="module")
def subject_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_subject_photo(tmp_path_factory.mktemp("studio-photo") / "subject.png")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The studio on 127.0.0.1:<free port>, embedded engine, small upload limit, its own work dir."""
    from app_config import load_settings
    from ui.studio import launch

    work = tmp_path_factory.mktemp("studio-work")
    settings = replace(load_settings(), engine="embedded", quality="fast", work_dir=work, max_upload_mb=20,
                       chunk_frames=4, port=free_port())
    demo = launch(settings, server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield Served(url=f"http://127.0.0.1:{settings.port}/", demo=demo, work_dir=work)
    finally:
        demo.close()
