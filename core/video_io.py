"""Reading videos: probe the facts of a clip, then stream its frames upright as RGB.

Why counted and not read from the header: containers disagree about frame counts (Matroska and
WebM carry none, a cut-short MP4 announces frames it no longer has), and every later stage
(masks, mattes, the output's frame count) is indexed by frame. So ``probe`` demuxes the video
packets once (no decoding: fast) and the reader maps each decoded frame's timestamp to its
index, which makes seeking exact even with B-frames and variable frame rate.

The reader lives in ``core.video_reader``; the writer in ``core.video_writer``, re-exported here.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from core.exceptions import (
    EmptyVideoError,
    InputPathError,
    NotMediaError,
    NoVideoStreamError,
    TruncatedMediaError,
)
from core.grain import gif_smoothing
from core.hdr import HLG, PQ
from core.timecode import read_timecode
from core.video_writer import VideoWriter  # noqa: F401  (re-exported: the pipeline imports it from here)

logger = logging.getLogger(__name__)

HDR_TRANSFERS = {PQ: "PQ", HLG: "HLG"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# First bytes of containers we recognise: a file that starts like one but does not open is damaged
# (TruncatedMediaError), anything else is not media at all (NotMediaError).
_MAGIC_AT_0 = (b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"FLV", b"\x00\x00\x01\xba", b"GIF8")
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


@dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about a clip; sizes are the display size (after rotation)."""

    path: Path
    width: int
    height: int
    frame_count: int
    fps: Fraction
    duration_s: float
    time_base: Fraction
    rotation: int
    has_audio: bool
    pix_fmt: str
    bit_depth: int
    codec: str
    is_vfr: bool
    #: presentation timestamps of every frame in ``time_base``, sorted: index i <-> frame_pts[i]
    frame_pts: tuple[int, ...] = field(default=(), repr=False, compare=False)
    stream_index: int = 0
    audio_codec: str | None = None
    #: the last frame's duration in ``time_base`` (what a writer needs to end at the same time)
    last_duration: int = 0
    #: indexes of keyframes (cheap to seek to: nothing else needs decoding first)
    keyframes: tuple[int, ...] = field(default=(), repr=False, compare=False)
    hdr: str | None = None  # the HDR transfer the clip is tagged with ("PQ" or "HLG"), None for SDR
    #: the width a pixel is shown at over its height, upright (64/45: widescreen PAL; 1 for most)
    sample_aspect: Fraction = Fraction(1)
    #: frames at the start that cannot be decoded (a file cut in the middle of a group of pictures)
    #: and so are not counted among ``frame_count``
    undecodable_lead: int = 0
    timecode: str | None = None  # the camera's start timecode (core/timecode.py), if the file has one
    #: a dithered GIF's frames are smoothed this much (px) as they are decoded (core/grain.py)
    smoothing_px: float = 0.0
    #: the frames are interlaced (two fields each): deinterlaced as they are decoded (core/deinterlace.py)
    interlaced: bool = False
    #: the file's own tags (when it was made, where, its title...), which every output carries on
    tags: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: the length the file's header gives, where its data ends well before it (a file cut short)
    said_s: float | None = None
    #: the decoder's frames are numbered by the order it gives them, not by their times, which the
    #: container does not keep (an AVI with B-frames): see ``VideoReader._decode_packets``
    frames_in_order: bool = False

    def time_of(self, index: int) -> float:
        """Seconds from the first frame to frame ``index``."""
        return float((self.frame_pts[index] - self.frame_pts[0]) * self.time_base)

    def index_at(self, seconds: float) -> int:
        """The first frame shown at or after ``seconds`` from the start (for trimming)."""
        target = self.frame_pts[0] + seconds / self.time_base
        for i, pts in enumerate(self.frame_pts):
            if pts >= target - 1e-9:
                return i
        return self.frame_count

    def frame_at(self, seconds: float) -> int:
        """The frame on screen ``seconds`` after the first (the last one starting at or before then):
        what a player's clock shows, and what a background video shows at an output frame's time."""
        target = self.frame_pts[0] + (seconds + 1e-6) / self.time_base
        return max(0, bisect.bisect_right(self.frame_pts, target) - 1)


#: a container's tags that say how the file was written, not what it holds: never carried over
_WRITERS_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "duration"})


def file_tags(metadata: dict[str, str]) -> dict[str, str]:
    """A file's own tags, for the outputs to carry on: when it was made (``creation_time``, a
    phone's ``com.apple.quicktime.creationdate``), where (``location``), its title, its maker.
    Why: a clip's creation date is how editors and photo libraries sort it; an output without it
    lands on the day it was processed. Tags about the writing of the file (its brand, encoder,
    length) are the new file's own."""
    return {k: v for k, v in metadata.items() if k.lower() not in _WRITERS_TAGS and not k.startswith("_")}


def check_input_path(path: str | Path) -> Path:
    """A local, existing, regular file, or an ``InputPathError`` saying what is wrong."""
    text = str(path)
    if _URL.match(text):
        raise InputPathError(f"{text!r} is a URL")
    p = Path(text).expanduser()
    if not p.exists():
        raise InputPathError(f"{text!r} does not exist")
    if p.is_dir():
        raise InputPathError(f"{text!r} is a folder, not a file")
    if not p.is_file():  # a device, a pipe, a socket: reading one may never end
        raise InputPathError(f"{text!r} is not a regular file (a device or a pipe)")
    return p


def _looks_like_container(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(16)
    return head.startswith(_MAGIC_AT_0) or head[4:8] in _MP4_BOXES


def open_input(path: Path) -> av.container.InputContainer:
    """``av.open`` with FFmpeg's errors turned into coded input errors."""
    from core.animated_webp import decodable

    if path.stat().st_size == 0:
        raise NotMediaError(f"{path.name} is empty (0 bytes)")
    try:
        return av.open(str(decodable(path)))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        if _looks_like_container(path):
            raise TruncatedMediaError(f"{path.name} cannot be opened: {exc}") from None
        raise NotMediaError(f"{path.name} is not a video or a photo") from None


def decoded_frames(container: av.container.InputContainer, stream) -> Iterator:
    """The frames of ``stream`` (video or audio) from where the container stands, packet by packet:
    a damaged packet (bad bytes in the middle of a file) is left out, where decoding the stream at
    once would stop there; the frames it loses leave a gap the caller fills."""
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:  # any error of one packet: that packet is damaged
            logger.debug("a damaged %s packet at pts %s left out: %s", stream.type, packet.pts, exc)
            continue
        yield from frames


def _video_stream(container: av.container.InputContainer, name: str) -> av.video.stream.VideoStream:
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        if container.streams.audio:
            raise NoVideoStreamError(f"{name} has sound but no picture")
        raise EmptyVideoError(f"{name} has no streams")
    return streams[0]


def _scan_packets(container, stream, path: Path) -> tuple[list[int], list[int], set[int], float]:
    """Demux (no decoding) every packet: each video packet's timestamp and duration, checking that its
    bytes exist. Also returns the timestamps of keyframes (where a seek lands without decoding others
    first) and the time the last packet of any stream ends (s from the file's start)."""
    size = Path(container.name).stat().st_size  # the file opened (an animated WebP's decodable copy)
    stamps: list[int] = []
    durations: list[int] = []
    keys: set[int] = set()
    demuxed = 0
    origin = (container.start_time or 0) / av.time_base
    data_ends = 0.0
    try:
        for packet in container.demux():
            ends = packet.pts if packet.pts is not None else packet.dts
            if ends is not None and packet.time_base is not None:
                data_ends = max(data_ends, float((ends + (packet.duration or 0)) * packet.time_base) - origin)
            if packet.stream is not stream or packet.size == 0:
                continue
            demuxed += 1
            if packet.is_discard:
                continue
            if packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > size:
                raise TruncatedMediaError(f"{path.name} ends in the middle of frame {len(stamps)}")
            ts = packet.pts if packet.pts is not None else packet.dts
            stamps.append(ts if ts is not None else len(stamps))
            durations.append(packet.duration or 0)
            if packet.is_keyframe:
                keys.add(stamps[-1])
    except av.FFmpegError as exc:
        raise TruncatedMediaError(f"{path.name} is damaged after {len(stamps)} frames: {exc}") from None
    # MP4/MOV index every frame up front: fewer packets than indexed means the data was cut off
    if stream.frames and demuxed < stream.frames and "mp4" in container.format.name:
        raise TruncatedMediaError(f"{path.name} has {demuxed} of the {stream.frames} frames it lists")
    return stamps, durations, keys, data_ends


def _said_longer(container, data_ends: float) -> float | None:
    """How long the file says it is, where its data ends well before that (else None): a WebM, MKV
    or FLV cut short (a download that stopped, a recording whose disk filled) plays up to the cut,
    but its header still gives the whole length. MP4 and MOV, which index every frame up front, are
    refused when cut (``_scan_packets``)."""
    said = (container.duration or 0) / av.time_base
    return said if said - data_ends > max(0.5, 0.05 * said) else None


def _first_frame(container, stream, path: Path) -> av.VideoFrame:
    """Decode the first frame (for pixel format and rotation); a failure means a damaged file.

    From the file opened afresh, not by a seek back to its start: an FLV without a keyframe index
    (as some recorders and converters write it) refuses that seek ("operation not permitted"), and
    in an MPEG-TS whose clock wraps round (a broadcast recorded across the 26.5-hour wrap) FFmpeg
    gives the frames before the wrap negative times, so a seek to 0 lands after every frame."""
    with open_input(path) as fresh:
        return _first_frame_here(fresh, fresh.streams[stream.index], path)


def _first_frame_here(container, stream, path: Path) -> av.VideoFrame:
    """The first frame decoded from where ``container`` stands (its start)."""
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as exc:
        raise TruncatedMediaError(f"{path.name}: the first frame cannot be decoded ({exc})") from None
    raise EmptyVideoError(f"{path.name} has a video track without decodable frames")


def _rate(stream, stamps: list[int], tb: Fraction) -> tuple[Fraction, bool]:
    """Exact average frame rate and whether the frame rate varies.

    CFR when every step is within one tick (or 0.5 %) of the median step: millisecond time bases
    (Matroska) store 29.97 fps as 33/34 ms steps and that is not variable. The exact rate is then
    the header's rate when it agrees with the timestamps, else the measured one with a small
    denominator (1001 covers the NTSC rates).
    """
    if len(stamps) < 2:
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        return Fraction(rate), False
    steps = np.diff(np.asarray(stamps, dtype=np.int64))
    median = float(np.median(steps))
    tolerance = max(1.0, 0.005 * median)
    is_vfr = bool(np.any(np.abs(steps - median) > tolerance))
    measured = Fraction(len(stamps) - 1) / ((stamps[-1] - stamps[0]) * tb)
    if is_vfr:
        return measured, True
    for candidate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if candidate and abs(float(candidate) / float(measured) - 1) < 0.002:
            return Fraction(candidate), False
    return measured.limit_denominator(1001), False


def probe(path: str | Path) -> VideoInfo:
    """Facts of the video at ``path``; raises a coded ``InputError`` for anything unusable. Remembered
    while the file is unchanged: it reads every packet (40 ms per 250 frames at 720p, so about 3 s
    for ten minutes), and the studio asks about one clip on upload, preview and job."""
    p = check_input_path(path)
    st = p.stat()
    return _probe(p, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _probe(p: Path, size: int, mtime_ns: int) -> VideoInfo:
    """``probe`` of a file as it is (``size``, ``mtime_ns``: a changed file is probed again)."""
    with open_input(p) as container:
        stream = _video_stream(container, p.name)
        tb = Fraction(stream.time_base)
        stamps, durations, key_stamps, data_ends = _scan_packets(container, stream, p)
        if not stamps:
            raise EmptyVideoError(f"{p.name} has a video track with 0 frames")
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        stamps = [stamps[i] for i in order]
        last = durations[order[-1]]
        first = _first_frame(container, stream, p)
        # A file cut in the middle of a group of pictures (a stream copy, a broadcast recording)
        # starts with frames whose references are gone: the decoder gives none of them, and
        # counting them would put every later frame at the wrong index.
        lead = stamps.index(first.pts) if first.pts in stamps else 0
        stamps = stamps[lead:]
        fps, is_vfr = _rate(stream, stamps, tb)
        last = last or (stamps[-1] - stamps[-2] if len(stamps) > 1 else round(1 / fps / tb))
        if stream.duration and stream.start_time is not None:
            # MP4 packet durations follow decode order; the track's own end time is the truth
            end = stream.start_time + stream.duration
            last = end - stamps[-1] if end > stamps[-1] else last
        rotation = round((first.rotation or 0) / 90) * 90 % 360
        fmt = first.format
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        audio = container.streams.audio
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        sar = Fraction(sar) if sar else Fraction(1)
        codec = stream.codec_context.codec.canonical_name if container.name == str(p) else "webp (animated)"
        smoothing = gif_smoothing(first.to_ndarray(format="rgb24")) if codec == "gif" else 0.0
        info = VideoInfo(
            path=p,
            width=width,
            height=height,
            frame_count=len(stamps),
            fps=fps,
            duration_s=float((stamps[-1] + last - stamps[0]) * tb),
            time_base=tb,
            rotation=rotation,
            has_audio=bool(audio),
            pix_fmt=fmt.name,
            bit_depth=max(c.bits for c in fmt.components),
            codec=codec,
            is_vfr=is_vfr,
            frame_pts=tuple(stamps),
            stream_index=stream.index,
            audio_codec=audio[0].codec_context.codec.canonical_name if audio else None,
            last_duration=int(last),
            keyframes=tuple(i for i, ts in enumerate(stamps) if ts in key_stamps),
            hdr=HDR_TRANSFERS.get(int(first.color_trc or 0)),
            sample_aspect=1 / sar if rotation in (90, 270) else sar,
            undecodable_lead=lead,
            timecode=read_timecode(container, stream),
            smoothing_px=smoothing,
            interlaced=bool(first.interlaced_frame),
            # AVI keeps no presentation times: FFmpeg guesses them from the decoding order, and with
            # B-frames (H.264 copied into an AVI, a dashcam's) the guesses come out shuffled
            frames_in_order="avi" in container.format.name.split(",")
            and bool(getattr(stream.codec_context, "has_b_frames", 0)),
            tags=file_tags(container.metadata),
            said_s=_said_longer(container, data_ends),
        )
    logger.debug("probe %s: %s", p.name, info)
    return info
