"""An animated WebP as the clip it is: decoded by Pillow into a lossless video FFmpeg reads.

Why: the FFmpeg libraries PyAV ships decode a WebP's first picture only (no decoder for its
animation), while Pillow reads every frame and its duration. So the first time the pipeline opens
an animated WebP (``core.video_io.open_input``) its frames are written once to an FFV1 file in
Matroska (lossless, any size, each frame's own timestamp kept: a variable frame rate stays exact),
remembered by the file's path, size and modification time; every reader after that (probe, the
forward and backward passes, the studio's previews) opens that file instead. Transparent pixels
are laid over black: the background they show is what the job replaces.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from core.exceptions import NotMediaError, TruncatedMediaError

logger = logging.getLogger(__name__)

DEFAULT_DURATION_MS = 100  # a frame without a duration (or 0 ms) shows this long, as browsers do
KEEP = 8  # decoded copies kept (the most recently used): a studio that runs for weeks does not fill its disk
_lock = threading.Lock()


def is_animated_webp(path: Path) -> bool:
    """A WebP file (by its first bytes) with more than one frame."""
    from core.image_io import animated_frames

    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP" and animated_frames(path) > 1


def decodable(path: Path) -> Path:
    """``path`` itself, or for an animated WebP its frames as a lossless video (written once)."""
    if not is_animated_webp(path):
        return path
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / "bgfx-animations"
    video = folder / f"{key}.mkv"
    with _lock:  # two readers of one job may ask at once: one writes, the other waits for it
        if video.exists():
            os.utime(video)  # used now: kept the longest
            return video
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{key}.{os.getpid()}.mkv"
        try:
            frames = _write_video(path, partial)
            os.replace(partial, video)
            logger.info("%s: an animated WebP of %d frames, decoded to %s", path.name, frames, video)
        finally:
            partial.unlink(missing_ok=True)
        for old in sorted(folder.glob("*.mkv"), key=lambda f: f.stat().st_mtime, reverse=True)[KEEP:]:
            old.unlink(missing_ok=True)
    return video


def _write_video(src: Path, dst: Path) -> int:
    """Every frame of the animation ``src`` into an FFV1/Matroska file; how many frames."""
    try:
        with Image.open(src) as img, av.open(str(dst), "w", format="matroska") as out:
            stream = out.add_stream("ffv1", rate=1000)
            stream.width, stream.height, stream.pix_fmt = img.width, img.height, "bgr0"
            stream.time_base = Fraction(1, 1000)
            durations: dict[int, int] = {}  # pts -> ms: the last frame's too, so the clip lasts as long

            def mux(packets: list[av.Packet]) -> None:
                for packet in packets:
                    packet.duration = durations[packet.pts]
                    out.mux(packet)

            ms = 0
            for index in range(img.n_frames):
                img.seek(index)
                rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
                rgb = (rgba[..., :3] * rgba[..., 3:] + 127) // 255  # over black
                frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
                frame.pts, frame.time_base = ms, stream.time_base
                durations[ms] = int(img.info.get("duration") or DEFAULT_DURATION_MS)
                ms += durations[ms]
                mux(stream.encode(frame))
            mux(stream.encode(None))
            return img.n_frames
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise NotMediaError(f"{src.name} is not a video or a photo") from None
        raise TruncatedMediaError(f"{src.name}: its animation cannot be read to the end ({exc})") from None
