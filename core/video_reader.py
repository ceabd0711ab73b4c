"""Streaming the frames of a probed clip (``core.video_io.probe``) upright as RGB.

Why its own seeks and its own gaps: a demuxer's seek can land after the frame asked for (MPEG-TS
seeks by its clock), and a damaged packet must not end the decode of a long clip. So the reader
seeks again earlier when it lands late, decodes packet by packet, and puts the picture shown before
a frame that cannot be decoded in its place: every stage after it is indexed by frame, and the
frame counts, times and sound must stay the source's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import Colorspace

from core.deinterlace import deinterlaced
from core.exceptions import FrameOutOfRangeError, TruncatedMediaError
from core.grain import smoothed
from core.hdr import hdr_to_sdr
from core.video_io import HDR_TRANSFERS, VideoInfo, check_input_path, decoded_frames, open_input, probe

logger = logging.getLogger(__name__)

_UNSPECIFIED = 2  # AVCOL_SPC_UNSPECIFIED: the file does not say which matrix its YUV uses


@dataclass
class Frame:
    """One decoded frame: upright RGB, its source timestamp and its time from the first frame."""

    index: int
    rgb: np.ndarray
    pts: int | None
    time_s: float


def to_rgb(frame: av.VideoFrame, rotation: int = 0) -> np.ndarray:
    """Upright (H, W, 3) uint8 RGB of a decoded frame; 10/12-bit sources are scaled to 8 bits, HDR
    ones tone mapped to SDR. The frame's own colour range and matrix are honoured (``None`` lets
    swscale read them from the frame). A frame whose matrix is not said is read as browsers and
    players show it: BT.709 when it is HD, BT.601 (FFmpeg's convention) when SD; else the subject
    of an untagged HD clip came out a little off the colours the person sees in the original."""
    src_range = frame.color_range if frame.color_range in (1, 2) else None
    untagged_hd = frame.colorspace == _UNSPECIFIED and (frame.width >= 1280 or frame.height > 576)
    matrix = Colorspace.ITU709 if untagged_hd else None
    rgb = hdr_to_sdr(frame, src_range) if frame.color_trc in HDR_TRANSFERS else \
        frame.to_ndarray(format="rgb24", src_color_range=src_range, src_colorspace=matrix)
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


class VideoReader:
    """Streams frames of one video in presentation order. Use as a context manager.

    Memory stays flat: frames are decoded on demand and only the decoder's own few reference
    frames are held. Indexes are those of ``probe`` (``0 .. frame_count - 1``).
    """

    def __init__(self, path: str | Path, info: VideoInfo | None = None) -> None:
        self.info = info if info is not None else probe(path)
        self._path = check_input_path(path)
        self._skipping = "DEFAULT"
        self._open()
        self._index_of = {pts: i for i, pts in enumerate(self.info.frame_pts)}
        self.frames_decoded = 0  # all frames the decoder produced, wanted or not (seek cost)
        self.repeated: set[int] = set()  # frames the decoder did not give, shown as a neighbour
        self.resized: dict[tuple[int, int], int] = {}  # other picture sizes met -> the first frame of each

    def _open(self) -> None:
        self._container = open_input(self._path)
        self._stream = self._container.streams[self.info.stream_index]
        self._stream.thread_type = "AUTO"  # frame+slice threads: decoding must not be the bottleneck
        self._stream.codec_context.skip_frame = self._skipping

    def _skip_frame(self, which: str) -> None:
        """Which frames the decoder leaves out ("NONREF": those no other frame refers to), also after a
        reopening (``_seek``)."""
        self._skipping = self._stream.codec_context.skip_frame = which

    def _rgb(self, frame: av.VideoFrame, index: int) -> np.ndarray:
        """``to_rgb`` at the clip's size. A stream may change its picture size mid-way (a browser's or
        a video call's recording, streams joined without re-encoding); every stage after the reader
        works at one size, so such frames are scaled to the first one's, as a player shows them. A
        dithered GIF's frames are smoothed (``VideoInfo.smoothing_px``, core/grain.py)."""
        rgb = to_rgb(frame, self.info.rotation)
        size, other = (self.info.width, self.info.height), (rgb.shape[1], rgb.shape[0])
        if other != size:
            self.resized[other] = min(index, self.resized.get(other, index))
            smaller = other[0] > size[0]
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if smaller else cv2.INTER_LINEAR)
        return smoothed(rgb, self.info.smoothing_px) if self.info.smoothing_px else rgb

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(self, start: int = 0, stop: int | None = None, only: set[int] | None = None) -> Iterator[Frame]:
        """Frames ``start .. stop-1``; seeks to the keyframe before ``start`` and decodes forward.
        With ``only``, just those indexes are converted to RGB and yielded (the rest are decoded,
        as they must be, but not converted)."""
        count = self.info.frame_count
        stop = count if stop is None else min(stop, count)
        if not 0 <= start < count:
            raise FrameOutOfRangeError(f"frame {start} is outside 0..{count - 1}")
        if start >= stop:
            return
        yield from self._decode_from(start, stop, only=only)

    def _decoded_from(self, index: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) of every decoded frame with a known timestamp, from one at or before frame
        ``index`` on. A demuxer's seek can land after the frame asked for: MPEG-TS seeks by its
        clock and lands about a second late (past the only keyframe of a short clip: nothing at
        all). So when the first frame decoded comes after ``index``, it seeks again a second and
        then five seconds earlier, and last to the file's start (a seek that every format makes)."""
        target = self.info.frame_pts[index]
        second = max(1, round(1 / self.info.time_base))
        for back in (0, second, 5 * second, None):
            self._seek(None if back is None else target - back)
            decoded = self._decode_packets()
            head = next(decoded, None)
            if head is None:
                continue  # the seek landed past the last keyframe: nothing decoded
            first, frame = head
            if first <= index or back is None:
                yield first, frame
                yield from decoded
                return
            logger.debug("seek for frame %d landed on %d; seeking earlier", index, first)

    def _seek(self, ts: int | None) -> None:
        """Seek to the keyframe at or before ``ts`` (the stream's time), or to the file's start (None).

        The start is reached by opening the file again, not by a seek to 0: an FLV without a keyframe
        index (as some recorders and converters write it) refuses that seek ("operation not
        permitted"), and an MPEG-TS whose clock wraps round has frames at negative times, which a
        seek to 0 lands after. A seek that fails opens the file again too."""
        if ts is not None:
            try:
                self._container.seek(ts, stream=self._stream, backward=True)
                return
            except av.FFmpegError as exc:
                logger.debug("seek to %s failed (%s): opening %s again", ts, exc, self.info.path.name)
        self._container.close()
        self._open()

    def _decode_packets(self) -> Iterator[tuple[int, av.VideoFrame]]:
        """(index, frame) of the frames decoded from here on, packet by packet: a damaged packet
        (bad bytes in the middle of a file) is left out, where decoding the whole stream at once
        would stop there; the frames it loses are filled in by ``_decode_from``."""
        frames = decoded_frames(self._container, self._stream)
        in_order = self.info.frames_in_order
        last: int | None = None
        for frame in deinterlaced(frames) if self.info.interlaced else frames:
            self.frames_decoded += 1
            if in_order and last is not None:  # a decoder gives frames in the order they are shown:
                last += 1  # the one after the last (their guessed times are shuffled)
                if last < self.info.frame_count:
                    yield last, frame
            elif (i := self._index_of.get(frame.pts)) is not None:  # (in order: the keyframe a seek
                last = i  # lands on, the first given, has its own time)
                yield i, frame

    def _decode_from(self, start: int, stop: int, only: set[int] | None = None) -> Iterator[Frame]:
        """Frames ``start .. stop-1``. One the decoder does not give (a damaged packet) is the picture
        shown before it repeated (after it, at the start), so that frame counts, times and the sound
        stay as they are; ``repeated`` collects their indexes for the job's report."""
        info = self.info
        expected = start
        shown: av.VideoFrame | None = None
        for index, frame in self._decoded_from(start):
            if index < expected:
                continue  # decoding forward from the keyframe to the wanted frame
            for k in range(expected, min(index, stop)):  # frames the decoder did not give
                self.repeated.add(k)
                if only is None or k in only:
                    yield Frame(k, self._rgb(shown or frame, k), info.frame_pts[k], info.time_of(k))
            if index < stop and (only is None or index in only):  # (its time: the frame's own, or where
                yield Frame(index, self._rgb(frame, index), info.frame_pts[index], info.time_of(index))  # in order)
            shown, expected = frame, index + 1
            if expected >= stop:
                return
        if shown is None:
            raise TruncatedMediaError(f"{info.path.name}: frames {start}-{stop - 1} cannot be decoded")
        for k in range(expected, stop):  # the last frames could not be decoded
            self.repeated.add(k)
            if only is None or k in only:
                yield Frame(k, self._rgb(shown, k), info.frame_pts[k], info.time_of(k))

    def read_frame(self, index: int) -> np.ndarray:
        """RGB of one frame (a seek and a short decode)."""
        for frame in self.frames(index, index + 1):
            return frame.rgb
        raise FrameOutOfRangeError(f"frame {index} could not be decoded")

    def sample(self, n: int) -> list[np.ndarray]:
        """About ``n`` frames spread over the clip (for background plates and statistics).

        Exact spacing does not matter here, speed does: a target with a keyframe within half a
        spacing is replaced by that keyframe (one frame decoded); the rest are picked up in one
        forward pass each, never by decoding a group of pictures again for every sample."""
        count = self.info.frame_count
        n = max(1, min(n, count))
        spacing = (count - 1) / max(1, n - 1)
        targets = sorted({round(i * spacing) for i in range(n)})
        keys = np.asarray(self.info.keyframes or (0,))
        chosen: set[int] = set()
        exact: list[int] = []
        for t in targets:
            nearest = int(keys[np.abs(keys - t).argmin()])
            if abs(nearest - t) <= spacing / 2 and nearest not in chosen:
                chosen.add(nearest)
            else:
                exact.append(t)
        picked = {i: self.read_frame(i) for i in sorted(chosen)}
        if exact:
            picked.update(self._reference_frames_at(exact))
        return [picked[i] for i in sorted(picked)]

    def _reference_frames_at(self, targets: list[int]) -> dict[int, np.ndarray]:
        """For each target, the first frame at or after it that other frames refer to (a reference
        frame), in one forward pass with the other frames not decoded at all: no frame depends on
        them, and skipping them makes the pass about a third cheaper on a typical H.264 stream."""
        targets = sorted(targets)
        picked: dict[int, np.ndarray] = {}
        if not self.info.frames_in_order:  # numbered in order, every frame must come out
            self._skip_frame("NONREF")
        try:
            k = 0
            for index, frame in self._decoded_from(targets[0]):
                if index < targets[k]:
                    continue
                picked[index] = self._rgb(frame, index)
                while k < len(targets) and targets[k] <= index:
                    k += 1
                if k == len(targets):
                    break
        finally:
            self._skip_frame("DEFAULT")
        return picked
