"""CPU cost of the embedded matter's ``step`` per frame, per preset (single-threaded, by thread CPU time).

Usage: python -m bench.matter_speed [--width 1280 --height 720] [--frames 30]

Why thread CPU time with cv2 on one thread: wall time on a shared machine is noisy, and with
OpenCV's worker threads ``process_time`` would charge other threads' work too (or miss it).
One thread and ``time.thread_time`` measure what a frame costs this process, whatever the load.
"""

from __future__ import annotations

import argparse
import logging
import time

import cv2
import numpy as np

from app_config import PRESETS
from bench.synthetic import make_clip

logger = logging.getLogger(__name__)


def measure(preset: str, frames: list[np.ndarray], mask: np.ndarray) -> float:
    """Median CPU ms of ``step`` over the frames after the first."""
    from models.embedded_matter import EmbeddedMatter

    matter = EmbeddedMatter(PRESETS[preset])
    matter.prepare(frames[:: max(1, len(frames) // 16)])
    matter.start(frames[0], mask)
    spent = []
    for frame in frames[1:]:
        t = time.thread_time()
        matter.step(frame)
        spent.append(time.thread_time() - t)
    return 1e3 * float(np.median(spent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--kind", default="pan", choices=("static", "pan"))
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    clip = make_clip(args.kind, args.width, args.height, args.frames, seed=7)
    frames = [clip.frame(i)[0] for i in range(args.frames)]
    mask = clip.first_mask
    for name in PRESETS:
        print(f"{name:<9} {args.kind} {args.width}x{args.height}: step {measure(name, frames, mask):6.1f} ms/frame CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
