"""Streaming video encoder (PyAV) for every output kind of a job.

Kinds and why:

- ``h264``: libx264 yuv420p in MP4 with ``+faststart``: plays in every browser. Converted from
  RGB by OpenCV, whose 4:2:0 conversion is the BT.601 matrix in limited range, and tagged so
  (matrix SMPTE 170M; primaries and transfer BT.709), so decoders that read the tags, as browsers
  and FFmpeg do, get the colours back. OpenCV's is the fast path: swscale's RGB -> 4:2:0 cost
  about 2.3 ms of a 720p frame against 0.3 ms, on a job whose every millisecond counts.
- ``h264_gray``: the alpha matte as grey video. Full range: luma Y == alpha exactly (0..255),
  chroma neutral, tagged full range (decoders that honour the tag show the same greys).
- ``vp9_alpha``: libvpx-vp9 yuva420p in WebM: transparent video for browsers and editors.
  FFmpeg's own vp9 decoder ignores the alpha side channel; the libvpx-vp9 decoder returns it.
- ``prores4444``: prores_ks 4444 yuva444p10le in MOV: the editors' transparent format.
- ``webp_alpha``: libwebp's animated WebP, lossy colour over a lossless alpha, looping: a sticker
  for chats and web pages (browsers show it as an image, where a video needs a player).

Odd sizes: H.264 4:2:0 cannot code an odd width or height (its cropping works in steps of two
pixels, so x264 refuses ``crop-rect=0,0,1,1``), and 4:4:4 does not play in browsers. So the
H.264 kinds pad to the next even size by repeating the last column/row; the output is then one
pixel wider/taller than the input and ``warnings`` says so (the job report shows it). VP9 and
ProRes code odd sizes natively and keep the exact size.

Timestamps: without ``pts`` frame i gets ``i / fps``. With the source's ``pts`` and
``time_base`` the output keeps the source's exact timestamps (variable frame rate, 30000/1001)
and each frame's duration is the gap to the next one, so the output ends when the input ends.
Timestamps are shifted so the first frame written is at 0 (a trimmed job starts at 0, not at
the source time of its first frame: ``core.audio_processor.mux_audio`` cuts the sound to match).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from core.exceptions import FormatError, OutputNotWritableError
from core.pipelining import encoder_threads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Kind:
    codec: str
    pix_fmt: str
    suffixes: tuple[str, ...]
    even: bool  # the codec needs an even width and height
    channels: int  # what the encoder is fed: 3 = RGB, 4 = RGBA, 1 = grey


KINDS: dict[str, _Kind] = {
    "h264": _Kind("libx264", "yuv420p", (".mp4", ".mov", ".mkv"), True, 3),
    "h264_gray": _Kind("libx264", "yuv420p", (".mp4", ".mov", ".mkv"), True, 1),
    "vp9_alpha": _Kind("libvpx-vp9", "yuva420p", (".webm", ".mkv"), False, 4),
    "prores4444": _Kind("prores_ks", "yuva444p10le", (".mov",), False, 4),
    "webp_alpha": _Kind("libwebp_anim", "yuva420p", (".webp",), False, 4),
}
_FASTSTART = {"movflags": "+faststart"}
#: what the muxer of an output file is told, by its suffix: an MP4 or MOV with its index up front (a
#: browser plays it before the whole file is in), an animated WebP playing on and on (a sticker)
MUXER_OPTIONS: dict[str, dict[str, str]] = {".mp4": _FASTSTART, ".m4v": _FASTSTART, ".mov": _FASTSTART,
                                            ".webp": {"loop": "0"}}
_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".webp": "webp"}
_BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709
_SMPTE170M = 6  # AVCOL_SPC_SMPTE170M: the BT.601 matrix, what cv2.COLOR_RGB2YUV_I420 computes


class VideoWriter:
    """Encode frames one at a time to ``path`` (written to a temporary name, renamed on close)."""

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: Fraction,
        kind: str,
        time_base: Fraction | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        sample_aspect: Fraction = Fraction(1),
        timecode: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise FormatError(f"unknown video kind {kind!r}; one of {', '.join(KINDS)}")
        self.kind = KINDS[kind]
        self.kind_name = kind
        self.path = Path(path)
        if self.path.suffix.lower() not in self.kind.suffixes:
            raise FormatError(f"{kind} video goes in {'/'.join(self.kind.suffixes)}, not {self.path.name}")
        if width < 2 or height < 2:
            raise FormatError(f"video size {width}x{height} is too small")
        self.width, self.height = width, height
        self.fps = Fraction(fps)
        self.time_base = Fraction(time_base) if time_base else 1 / self.fps
        self.pad_w = width % 2 if self.kind.even else 0
        self.pad_h = height % 2 if self.kind.even else 0
        self.warnings: list[str] = []
        if self.pad_w or self.pad_h:
            self.warnings.append(
                f"{self.path.name}: H.264 needs even sizes, {width}x{height} was padded to "
                f"{width + self.pad_w}x{height + self.pad_h} by repeating the last column/row"
            )
        self.frames_written = 0
        self._last_pts: int | None = None
        self._last_duration: int | None = None
        self._prev_step = 0
        self._origin: int | None = None  # first source pts: the output starts at 0
        self._delay: int | None = None  # encoder reorder delay (pts - dts of the first packet)
        self._end = 0
        self._container = None
        self._durations: dict[int, int] = {}  # pts -> duration, known once the next frame arrives
        self._pending: deque[av.Packet] = deque()
        # RGB frames for H.264 are converted by OpenCV (BT.601); alpha and grey frames keep BT.709.
        self._matrix = _SMPTE170M if self.kind.channels == 3 and self.kind.pix_fmt == "yuv420p" else _BT709
        self._tmp = self.path.with_name(f".{self.path.stem}.{uuid.uuid4().hex[:8]}.part{self.path.suffix}")
        # WebM (Matroska takes the display size from the stream, which PyAV cannot set, and VP9 frames
        # carry none a player reads) and WebP (no pixel aspect at all) cannot say that pixels are not
        # square: an anamorphic source's frames are written at the size it is shown at instead (a
        # 720x576 PAL frame shown 1024x576 played squeezed to 5:4)
        sample_aspect = Fraction(sample_aspect)
        self._shown: tuple[int, int] | None = None
        if sample_aspect != 1 and self.kind.codec in ("libvpx-vp9", "libwebp_anim"):
            self._shown = (max(2, round(width * sample_aspect)), height)
        self._open(crf, preset, sample_aspect, timecode)
        self._container.metadata.update(tags or {})  # the source's own: when and where it was made

    # --- setup ----------------------------------------------------------------------------
    def _open(self, crf: int, preset: str, sample_aspect: Fraction, timecode: str | None) -> None:
        suffix = self.path.suffix.lower()
        options = dict(MUXER_OPTIONS.get(suffix, {}))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self._tmp), "w", format=_FORMATS[suffix], container_options=options)
        except (OSError, av.FFmpegError) as exc:
            raise OutputNotWritableError(f"cannot write {self.path}: {exc}") from None
        stream = self._container.add_stream(self.kind.codec, rate=self.fps)
        stream.width, stream.height = self._shown or (self.width + self.pad_w, self.height + self.pad_h)
        stream.pix_fmt = self.kind.pix_fmt
        stream.time_base = self.time_base
        ctx = stream.codec_context
        ctx.time_base = self.time_base
        # x264: one thread where the job's own stages fill the cores (core.pipelining), else auto
        ctx.thread_count = encoder_threads() if self.kind.codec == "libx264" else 0
        full = self.kind_name == "h264_gray"
        ctx.color_range = ColorRange.JPEG if full else ColorRange.MPEG
        ctx.colorspace, ctx.color_primaries, ctx.color_trc = self._matrix, _BT709, _BT709
        if self._shown:
            self.warnings.append(
                f"{self.path.name}: written {self._shown[0]}x{self._shown[1]} with square pixels, as the source "
                f"({self.width}x{self.height}, pixels {sample_aspect.numerator}:{sample_aspect.denominator}) is "
                "shown: the format cannot say its pixels are wide; foreground.mov keeps them as they are")
        elif sample_aspect != 1:  # anamorphic: players stretch it back as the source was shown
            ctx.sample_aspect_ratio = sample_aspect
        if timecode:  # the first frame's SMPTE timecode: MP4/MOV get a timecode track, WebM a tag
            stream.metadata["timecode"] = timecode
        stream.options = self._codec_options(crf, preset)
        self._stream = stream

    def _codec_options(self, crf: int, preset: str) -> dict[str, str]:
        codec = self.kind.codec
        if codec == "libx264":
            if self.kind.channels == 1:
                # A matte: x264's fastdecode (CAVLC, no deblocking) costs it 30 % less for 10 % more
                # bytes at the same error (dog.mp4's matte, 150 frames: 5.7 -> 4.0 ms a frame, mean
                # |error| 0.22 both); an editor decodes it faster too.
                return {"preset": preset, "crf": str(crf), "tune": "fastdecode"}
            return {"preset": preset, "crf": str(crf)}
        if codec == "libvpx-vp9":
            # realtime + cpu-used 8 + row-mt: VP9 is otherwise many times slower than x264 veryfast
            return {"crf": str(min(63, crf + 10)), "b": "0", "deadline": "realtime", "cpu-used": "8",
                    "row-mt": "1", "auto-alt-ref": "0", "lag-in-frames": "0"}
        if codec == "libwebp_anim":
            # libwebp's 0-100 quality from the preset's crf (fast 69, balanced 75, best 81); method 2 of
            # 0-6: 720p at about 14 ms a frame, where its default 4 takes twice as long for 3 % fewer bytes
            return {"quality": str(int(np.clip(115 - 2 * crf, 50, 95))), "lossless": "0", "compression_level": "2"}
        return {"profile": "4444", "vendor": "apl0"}  # prores_ks: alpha_bits defaults to 16

    # --- frames ---------------------------------------------------------------------------
    def _to_frame(self, image: np.ndarray) -> av.VideoFrame:
        """The encoder's input frame from RGB / RGBA / grey ``image`` (padded if needed)."""
        img = np.asarray(image)
        if img.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, not {img.dtype}")
        if img.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame is {img.shape[1]}x{img.shape[0]}, writer is {self.width}x{self.height}")
        img = _channels(img, self.kind.channels)
        if self._shown:
            img = cv2.resize(img, self._shown, interpolation=cv2.INTER_LINEAR if self._shown[0] > self.width
                             else cv2.INTER_AREA)
        if self.pad_w or self.pad_h:
            pad = ((0, self.pad_h), (0, self.pad_w)) + (((0, 0),) if img.ndim == 3 else ())
            img = np.pad(img, pad, mode="edge")
        if self.kind.channels == 1:
            # Y = alpha, neutral chroma: build the yuv420p planes directly (no RGB round trip)
            h, w = img.shape
            planes = np.full((h + h // 2, w), 128, np.uint8)
            planes[:h] = img
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.color_range = ColorRange.JPEG
            return frame
        if self._matrix == _SMPTE170M:
            yuv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2YUV_I420)
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.colorspace, frame.color_range = _SMPTE170M, ColorRange.MPEG
            return frame
        fmt = "rgb24" if self.kind.channels == 3 else "rgba"
        # wrap the caller's array without a copy when its memory layout allows (reformat copies anyway)
        make = av.VideoFrame.from_numpy_buffer if img.flags.c_contiguous else av.VideoFrame.from_ndarray
        frame = make(img, format=fmt)
        # WebP's lossy picture is BT.601 by definition (it carries no colour tags); the others say BT.709
        matrix = Colorspace.ITU601 if self.kind.codec == "libwebp_anim" else Colorspace.ITU709
        return frame.reformat(format=self.kind.pix_fmt, dst_colorspace=matrix, dst_color_range=ColorRange.MPEG)

    def write(self, image: np.ndarray, pts: int | None = None, duration: int | None = None) -> None:
        """Encode one frame. ``pts``/``duration`` are in the writer's ``time_base``.

        ``duration`` only matters for the last frame (the others end where the next begins);
        without it the last frame lasts as long as the one before it, or ``1 / fps``.
        """
        if pts is None:
            pts = round(self.frames_written / self.fps / self.time_base)
        elif self._origin is None:
            self._origin = pts
        pts -= self._origin or 0
        if self._last_pts is not None:
            if pts <= self._last_pts:
                raise ValueError(f"pts {pts} does not increase (last {self._last_pts})")
            self._prev_step = pts - self._last_pts
            self._durations[self._last_pts] = self._prev_step
        frame = self._to_frame(image)
        frame.pts, frame.time_base = pts, self.time_base
        self._last_pts, self._last_duration = pts, duration
        self.frames_written += 1
        self._mux(self._stream.encode(frame))

    def _mux(self, packets: list[av.Packet], final: bool = False) -> None:
        """Mux packets in encoder order, each once its duration is known.

        MP4 stores durations in decode order and ends the track at the last packet's
        ``dts + duration``; so the very last packet gets the duration that makes the track end
        where the last frame ends (``end - dts - reorder delay``), also with B-frames and VFR; when
        that packet is also the frame shown last, ``end - pts`` (its pts - dts need not be the
        first packet's delay with a variable frame rate: an animated WebP whose last frame lasts
        longer than the gap before it ended 50 ms early).
        """
        self._pending.extend(packets)
        while self._pending and self._pending[0].pts in self._durations:
            packet = self._pending.popleft()
            if self._delay is None and packet.dts is not None:
                self._delay = packet.pts - packet.dts
            packet.duration = self._durations.pop(packet.pts)
            if final and not self._pending and packet.dts is not None:
                # decoded last and shown last: it ends where the clip does; shown earlier (a B-frame):
                # the track ends at its dts + duration, less the reorder delay the edit list skips
                last_shown = packet.pts == self._last_pts
                packet.duration = max(1, self._end - packet.pts if last_shown else
                                      self._end - packet.dts - (self._delay or 0))
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder, finish the file and move it to ``path``."""
        if self._container is None:
            return
        if self._last_pts is not None:
            step = self._last_duration or self._prev_step or round(1 / self.fps / self.time_base)
            self._durations[self._last_pts] = max(1, step)
            self._end = self._last_pts + max(1, step)
        self._mux(self._stream.encode(None), final=True)
        for packet in self._pending:  # packets whose pts was never written (should not happen)
            self._container.mux(packet)
        self._container.close()
        self._container = None
        if self.kind.codec == "libwebp_anim" and self._last_pts is not None:
            _finish_animated_webp(self._tmp, round(1000 * self._end * self.time_base))
        os.replace(self._tmp, self.path)
        logger.debug("wrote %s: %d frames (%s)", self.path.name, self.frames_written, self.kind_name)

    def abort(self) -> None:
        """Drop the partial file (after an error or a cancelled job)."""
        if self._container is not None:
            with contextlib.suppress(av.FFmpegError):
                self._container.close()
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _channels(img: np.ndarray, channels: int) -> np.ndarray:
    """Grey, RGB or RGBA ``img`` as the ``channels`` the kind needs (alpha 255 when missing)."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    have = 1 if img.ndim == 2 else img.shape[2]
    if have == channels:
        return img
    if channels == 1:
        return img[..., 3] if have == 4 else img[..., :3].mean(axis=2).astype(np.uint8)
    if have == 1:
        img = np.repeat(img[..., None], 3, axis=2)
    if channels == 3:
        return img[..., :3]
    return np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])


def _finish_animated_webp(path: Path, total_ms: int) -> None:
    """Mend two things of an animated WebP as FFmpeg and libwebp write it, in place.

    libwebp crops each frame to the part that changed and, when every part it kept is opaque
    (a subject with hard edges, or none), leaves out the flag that says the picture has alpha:
    readers then show the uncovered canvas as opaque black, not as the transparency it is. And
    FFmpeg's muxer gives the last frame the duration of the one before it, not its own, so the
    sticker's length is set right (``total_ms``) by the last frame's. (libwebp also merges a frame
    into the one before when nothing changed: fewer frames, the same time.) Both are fixed-size
    fields of the RIFF chunks: the VP8X flags, and each ANMF's 24-bit duration in ms.
    """
    data = bytearray(path.read_bytes())
    last_frame, shown_ms = None, 0
    at = 12  # after "RIFF", the size and "WEBP"
    while at + 8 <= len(data):
        tag, size = bytes(data[at:at + 4]), int.from_bytes(data[at + 4:at + 8], "little")
        if tag == b"VP8X":
            data[at + 8] |= 0x10  # the alpha flag
        elif tag == b"ANMF":
            last_frame = at
            shown_ms += int.from_bytes(data[at + 20:at + 23], "little")
        at += 8 + size + (size & 1)
    if last_frame is not None:
        last_ms = int.from_bytes(data[last_frame + 20:last_frame + 23], "little") + total_ms - shown_ms
        if 0 < last_ms < 1 << 24:
            data[last_frame + 20:last_frame + 23] = last_ms.to_bytes(3, "little")
    path.write_bytes(bytes(data))
